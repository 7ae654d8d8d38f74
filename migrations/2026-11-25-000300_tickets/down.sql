DROP TABLE escalations;
DROP TABLE ticket_models;
DROP TABLE journal_entries;
DROP TABLE ticket_transitions;
DROP TABLE tickets;
