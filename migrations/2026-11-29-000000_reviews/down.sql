DROP TABLE debt_weeks;
DROP TABLE improvement_events;
DROP TABLE improvements;
DROP INDEX tickets_review_queue_idx;
ALTER TABLE tickets DROP COLUMN reviewed_at;
DROP TABLE reviews;
