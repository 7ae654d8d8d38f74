DROP INDEX tickets_created_idx;
DROP INDEX ticket_transitions_to_status_idx;
DROP TABLE metric_exclusions;
