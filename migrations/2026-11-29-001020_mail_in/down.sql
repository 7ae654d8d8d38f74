DROP TABLE attachments;
DROP TABLE inbound_messages;
DROP TABLE mail_domains;
ALTER TABLE api_tokens DROP COLUMN kind;
