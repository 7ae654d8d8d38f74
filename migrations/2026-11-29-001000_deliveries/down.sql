DROP TABLE notification_preferences;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
