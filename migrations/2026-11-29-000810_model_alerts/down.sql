DROP INDEX incident_models_alerts_idx;
ALTER TABLE model_revisions DROP COLUMN alerts;
ALTER TABLE incident_models DROP COLUMN alerts;
