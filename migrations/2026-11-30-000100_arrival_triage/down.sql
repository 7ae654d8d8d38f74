DROP TABLE arrival_triage;
