DROP TABLE search_outbox;
DROP TABLE model_links;
DROP TABLE model_revisions;
DROP TABLE incident_models;
