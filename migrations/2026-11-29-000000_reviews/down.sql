DROP TABLE improvement_events;
DROP TABLE improvements;
DROP INDEX tickets_review_queue_idx;
DROP TABLE reviews;
