-- The commit-time refresh of report facts never plans parallel workers
-- and is never JIT-compiled. Its statements run on a generic plan
-- (migration 2026-12-03-000400), which estimates `ticket_id = ANY (ids)`
-- without the array: once `triage_searches` held 15,000 rows (for 5,000
-- tickets) on the bench database, that estimate was 7,600-8,900 rows per
-- call, so the search facts' statements planned a Gather over a parallel
-- bitmap scan and crossed `jit_above_cost`. Launching workers and
-- compiling 33 functions for the zero to few rows of one ticket made a
-- one-ticket refresh 15-200 ms instead of about 1 ms (loaded machine), at
-- the commit of every write that touches a ticket. One ticket's rows, or
-- a batch's, are read through the indexes; neither helps there.
ALTER FUNCTION report_facts_refresh(BIGINT[]) SET max_parallel_workers_per_gather = 0;
ALTER FUNCTION report_facts_refresh(BIGINT[]) SET jit = off;
ALTER FUNCTION report_facts_refresh_searches(BIGINT[]) SET max_parallel_workers_per_gather = 0;
ALTER FUNCTION report_facts_refresh_searches(BIGINT[]) SET jit = off;
