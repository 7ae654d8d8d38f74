ALTER FUNCTION report_facts_refresh(BIGINT[]) RESET plan_cache_mode;
