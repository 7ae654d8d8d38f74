-- Models list the alert names they cover (the `alerts:` header of the
-- plain-text form); an alert with that name gets the model first among
-- its triage suggestions.
ALTER TABLE incident_models ADD COLUMN alerts TEXT[] NOT NULL DEFAULT '{}';
ALTER TABLE model_revisions ADD COLUMN alerts TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX incident_models_alerts_idx ON incident_models USING gin (alerts);
