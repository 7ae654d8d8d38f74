DROP TABLE alert_inbox;
