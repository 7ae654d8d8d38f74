DROP INDEX ticket_models_once_idx;
DROP INDEX ticket_models_no_fit_once_idx;
DROP TABLE ticket_categories;
DELETE FROM journal_entries WHERE kind IN ('edit', 'step');
ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('reply', 'note', 'status_change', 'assignment', 'model_link', 'escalation',
                    'triage', 'system'));
