DROP TABLE alerts;
DROP TABLE integrations;
