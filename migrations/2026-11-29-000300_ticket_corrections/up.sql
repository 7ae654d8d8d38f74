-- Tickets can be corrected (field edits are journal entries of kind 'edit'),
-- the linked model's steps are a checklist (ticks are entries of kind
-- 'step'), categories come from a managed list, and a ticket links each
-- model at most once (re-linking updates the outcome).

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check
    CHECK (kind IN ('reply', 'note', 'status_change', 'assignment', 'model_link', 'escalation',
                    'triage', 'system', 'edit', 'step'));

CREATE TABLE ticket_categories (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 80),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ticket_categories_name_idx ON ticket_categories (lower(name));

-- Earlier versions added a second row when a model was linked again; the
-- newest row holds the outcome the team meant, and the journal keeps the
-- history of every link.
DELETE FROM ticket_models a
 USING ticket_models b
 WHERE a.ticket_id = b.ticket_id
   AND a.model_id IS NOT DISTINCT FROM b.model_id
   AND a.id < b.id;
CREATE UNIQUE INDEX ticket_models_once_idx ON ticket_models (ticket_id, model_id) WHERE model_id IS NOT NULL;
CREATE UNIQUE INDEX ticket_models_no_fit_once_idx ON ticket_models (ticket_id) WHERE model_id IS NULL;
