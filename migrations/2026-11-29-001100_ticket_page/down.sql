DROP INDEX escalations_to_user_idx;
DROP TABLE form_flashes;
