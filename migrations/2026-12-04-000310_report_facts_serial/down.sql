ALTER FUNCTION report_facts_refresh_searches(BIGINT[]) RESET jit;
ALTER FUNCTION report_facts_refresh_searches(BIGINT[]) RESET max_parallel_workers_per_gather;
ALTER FUNCTION report_facts_refresh(BIGINT[]) RESET jit;
ALTER FUNCTION report_facts_refresh(BIGINT[]) RESET max_parallel_workers_per_gather;
