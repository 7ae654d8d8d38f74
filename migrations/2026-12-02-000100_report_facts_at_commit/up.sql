-- The report facts of a transaction's tickets are refreshed once, at its
-- commit, instead of after every statement that touches them. A delivery
-- of alerts writes its tickets, their first transitions, reopens and
-- journal entries in several statements, and the alert applier applies
-- dozens of deliveries per transaction: each statement's refresh cost
-- 1-3 ms (mostly planning the source view again), several times over on
-- the same tickets. The statement triggers now only note the tickets in
-- `report_facts_dirty`; one deferred constraint trigger per transaction
-- refreshes them all at commit, in the same transaction as the writes,
-- whoever writes (`SET CONSTRAINTS ALL IMMEDIATE` brings it forward).
-- The refresh itself is unchanged: it locks the tickets (lowest id first)
-- and computes from what is committed by then, so two writers of one
-- ticket or one model's month still take turns.

-- The tickets each open transaction has touched, and one row with ticket
-- 0 per transaction that carries the commit-time trigger. Rows live only
-- inside their transaction (the flush deletes them), so the table is not
-- WAL-logged; keyed by the transaction, so writers never wait on each
-- other's rows here.
CREATE UNLOGGED TABLE report_facts_dirty (
    xact      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ticket_id BIGINT NOT NULL,
    PRIMARY KEY (xact, ticket_id)
);

-- Notes tickets for this transaction's commit-time refresh.
CREATE FUNCTION report_facts_later(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO report_facts_dirty (ticket_id)
    SELECT DISTINCT unnest(ids || 0::int8)
    ON CONFLICT DO NOTHING;
END $$;

-- At commit: the transaction's noted tickets, refreshed at once.
CREATE FUNCTION report_facts_flush() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[];
BEGIN
    WITH done AS (
        DELETE FROM report_facts_dirty WHERE xact = pg_current_xact_id() RETURNING ticket_id
    )
    SELECT array_agg(ticket_id ORDER BY ticket_id) FILTER (WHERE ticket_id <> 0) INTO ids
    FROM done;
    PERFORM report_facts_refresh(COALESCE(ids, '{}'));
    RETURN NULL;
END $$;

-- Fires once per transaction: only the ticket-0 row queues it, and a
-- transaction inserts that row once (until the flush deletes it).
CREATE CONSTRAINT TRIGGER report_facts_at_commit AFTER INSERT ON report_facts_dirty
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.ticket_id = 0) EXECUTE FUNCTION report_facts_flush();

-- The statement triggers of the source tables (unchanged) call this.
CREATE OR REPLACE FUNCTION report_facts_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tickets' THEN
        PERFORM report_facts_later(ARRAY(SELECT id FROM changed));
    ELSIF TG_TABLE_NAME = 'journal_entries' THEN
        -- Only the team's public replies are facts.
        PERFORM report_facts_later(ARRAY(
            SELECT DISTINCT ticket_id FROM changed WHERE kind = 'reply' AND visibility = 'public'));
    ELSE
        PERFORM report_facts_later(ARRAY(SELECT DISTINCT ticket_id FROM changed));
    END IF;
    RETURN NULL;
END $$;
