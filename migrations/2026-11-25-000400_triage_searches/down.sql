DROP TABLE triage_searches;
