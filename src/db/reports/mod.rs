//! The managers' measures as SQL aggregates (their definitions are in
//! `domain::report`; the tests hold these queries to its plain-Rust
//! reference), the raw facts that reference reads, and the list of tickets
//! excluded from metrics.
//!
//! Every query takes the same parameters: `$1`/`$2` the period `[from,
//! to)`, `$3` the viewer's zone (an IANA name), `$4`–`$7` the
//! filters (category, priority, organization, assignee; NULL for all) and
//! `$8` the verify-by interval in seconds.

mod exclusions;
mod facts;
mod rows;

pub use exclusions::{Exclusion, exclude, exclusion_of, exclusions, include, is_excluded};
pub use facts::facts;

/// An open "write a new model" item the draft page offers to resolve.
#[derive(Debug, Clone, QueryableByName)]
pub struct NewModelItem {
    #[diesel(sql_type = Int8)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub from_ticket: bool,
}

/// Open "write a new model" items with no model yet: those filed from
/// `ticket` first, then by priority (at most 50).
pub async fn new_model_items(
    conn: &mut AsyncPgConnection,
    ticket: i64,
) -> QueryResult<Vec<NewModelItem>> {
    diesel::sql_query(
        "SELECT id, title, ticket_id IS NOT DISTINCT FROM $1 AS from_ticket FROM improvements
         WHERE kind = 'new_model' AND model_id IS NULL AND status IN ('open', 'in_progress')
         ORDER BY from_ticket DESC, priority, id LIMIT 50",
    )
    .bind::<Int8, _>(ticket)
    .load(conn)
    .await
}

use rows::*;

use diesel::prelude::*;
use diesel::sql_types::{Int2, Int8, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::domain::report::{
    GAP_ROWS, GapRow, Headline, LinkRow, MixRow, ModelRow, Part, RETIRE_AFTER_DAYS, Report,
    ReportQuery, ResolutionRow, SearchRow, Totals, TriageReviewRow, TriageRotaRow, TriageRow,
    VolumeRow, WORD_ROWS, WordRow,
};

/// Counted tickets (alias `f`, a row of `ticket_report_facts`): not
/// excluded, matching the filters.
const COUNTED: &str = "NOT f.excluded
    AND ($4::text IS NULL OR f.category = $4)
    AND ($5::int2 IS NULL OR f.priority = $5)
    AND ($6::int8 IS NULL OR f.organization_id = $6)
    AND ($7::int8 IS NULL OR f.assignee_id = $7)";

/// `wk`: the weeks of the period in the viewer's zone, as the instants
/// they start (`report_weeks`, checked against the definition below); a
/// query that calls [`week`] starts its `WITH` with it.
const WEEKS: &str = "wk AS (SELECT * FROM report_weeks($1, $2, $3))";

/// The Monday of the date, in the viewer's zone, of a time in the period:
/// by definition `date_trunc('week', t AT TIME ZONE $3)` (a `timestamptz`
/// `AT TIME ZONE` a name is its local time there, daylight saving
/// included), found by a binary search in the bounds of `wk` (converting
/// every row to local time cost 0.7 µs a row), or by the definition when
/// `report_weeks` could not vouch for its bounds.
fn week(expr: &str) -> String {
    format!(
        "COALESCE((SELECT weeks FROM wk)[width_bucket({expr}, (SELECT bounds FROM wk))],
                  (date_trunc('week', {expr} AT TIME ZONE $3))::date)"
    )
}

/// `rb`: counted tickets resolved in the period (their last move to
/// resolved lies in it), with the whole seconds it took and the best
/// outcome of their links (3 resolved, 2 partly, 1 no fit, NULL no link),
/// read from the per-ticket facts.
fn resolved_ctes() -> String {
    format!(
        "rb AS (
            SELECT f.ticket_id AS id, f.title_key, f.category, f.priority, f.resolved_at,
                   f.resolve_secs AS secs, NULLIF(f.best_outcome, 0) AS best, f.triaged_by,
                   f.escalations, f.reopens
            FROM ticket_report_facts f
            WHERE f.resolved_at >= $1 AND f.resolved_at < $2 AND {COUNTED}
        )"
    )
}

/// `o`: counted tickets opened in the period, from the per-ticket facts.
fn opened_cte() -> String {
    format!(
        "o AS (
            SELECT f.* FROM ticket_report_facts f
            WHERE f.opened_at >= $1 AND f.opened_at < $2 AND {COUNTED}
        )"
    )
}

/// Binds the shared parameters and loads the rows.
macro_rules! run {
    ($conn:expr, $sql:expr, $q:expr, $row:ty) => {{
        let q: &ReportQuery = $q;
        diesel::sql_query($sql)
            .bind::<Timestamptz, _>(q.period.from)
            .bind::<Timestamptz, _>(q.period.to)
            .bind::<Text, _>(q.period.zone())
            .bind::<Nullable<Text>, _>(q.filters.category.clone())
            .bind::<Nullable<Int2>, _>(q.filters.priority)
            .bind::<Nullable<Int8>, _>(q.filters.organization)
            .bind::<Nullable<Int8>, _>(q.filters.assignee)
            .bind::<Int8, _>(q.verify_by_days.saturating_mul(86_400))
            .load::<$row>($conn)
            .await
    }};
}

/// Tickets opened and resolved per week: each week's two counts read as
/// index ranges ([`RANGES`]), or by the week of each row when the bounds
/// are not vouched for.
pub async fn volume(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<VolumeRow>> {
    let sql = format!(
        "WITH {WEEKS}, {RANGES}, {r},
         {o},
         ow AS (SELECT {wo} AS w, count(*) AS n FROM o WHERE {UNVOUCHED} GROUP BY 1),
         rw AS (SELECT {wr} AS w, count(*) AS n FROM rb WHERE {UNVOUCHED} GROUP BY 1)
         SELECT * FROM (
            SELECT rg.week,
                   (SELECT count(*) FROM ticket_report_facts f
                    WHERE f.opened_at >= rg.lo AND f.opened_at < rg.hi AND {COUNTED}) AS opened,
                   (SELECT count(*) FROM ticket_report_facts f
                    WHERE f.resolved_at >= rg.lo AND f.resolved_at < rg.hi AND {COUNTED}) AS resolved
            FROM rg
            UNION ALL
            SELECT COALESCE(ow.w, rw.w), COALESCE(ow.n, 0), COALESCE(rw.n, 0)
            FROM ow FULL JOIN rw ON ow.w = rw.w
         ) x WHERE opened > 0 OR resolved > 0 ORDER BY week",
        r = resolved_ctes(),
        o = opened_cte(),
        wo = week("o.opened_at"),
        wr = week("rb.resolved_at"),
    );
    let rows = run!(conn, sql, q, VolumeSql)?;
    Ok(rows
        .into_iter()
        .map(|r| VolumeRow {
            week: r.week,
            opened: r.opened,
            resolved: r.resolved,
        })
        .collect())
}

pub async fn mix(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<MixRow>> {
    let sql = format!(
        "WITH {r},
         {o},
         ow AS (SELECT priority, category, count(*) AS n FROM o GROUP BY 1, 2),
         rw AS (SELECT priority, category, count(*) AS n FROM rb GROUP BY 1, 2)
         SELECT * FROM (
            SELECT COALESCE(ow.priority, rw.priority) AS priority, COALESCE(ow.category, rw.category) AS category,
                   COALESCE(ow.n, 0) AS opened, COALESCE(rw.n, 0) AS resolved
            FROM ow FULL JOIN rw ON ow.priority = rw.priority AND ow.category = rw.category
         ) x ORDER BY priority, category COLLATE \"C\"",
        r = resolved_ctes(),
        o = opened_cte(),
    );
    let rows = run!(conn, sql, q, MixSql)?;
    Ok(rows
        .into_iter()
        .map(|r| MixRow {
            priority: r.priority,
            category: r.category,
            opened: r.opened,
            resolved: r.resolved,
        })
        .collect())
}

/// The link table by week: each week's resolved tickets read as one index
/// range ([`RANGES`]), or grouped by the week of each row when the bounds
/// are not vouched for.
async fn links_by_week(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<LinkRow>> {
    let counts = "count(*) AS resolved,
                  count(*) FILTER (WHERE f.best_outcome = 3) AS by_model,
                  count(*) FILTER (WHERE f.best_outcome = 2) AS partly,
                  count(*) FILTER (WHERE f.best_outcome = 1) AS no_fit,
                  count(*) FILTER (WHERE f.best_outcome = 0) AS no_link";
    let sql = format!(
        "WITH {WEEKS}, {RANGES}
         SELECT * FROM (
            SELECT to_char(rg.week, 'YYYY-MM-DD') AS grp, a.* FROM rg CROSS JOIN LATERAL (
                SELECT {counts} FROM ticket_report_facts f
                WHERE f.resolved_at >= rg.lo AND f.resolved_at < rg.hi AND {COUNTED}
            ) a WHERE a.resolved > 0
            UNION ALL
            SELECT to_char({wk}, 'YYYY-MM-DD'), {counts}
            FROM ticket_report_facts f
            WHERE {UNVOUCHED} AND f.resolved_at >= $1 AND f.resolved_at < $2 AND {COUNTED}
            GROUP BY 1
         ) x ORDER BY grp COLLATE \"C\"",
        wk = week("f.resolved_at"),
    );
    let rows = run!(conn, sql, q, LinkSql)?;
    Ok(rows.into_iter().map(LinkRow::from).collect())
}

/// How resolved tickets are grouped in a link table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkGroup {
    Total,
    Category,
    Week,
    Triager,
}

pub async fn links(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    by: LinkGroup,
) -> QueryResult<Vec<LinkRow>> {
    let (group, tail) = match by {
        LinkGroup::Total => ("''::text".to_owned(), ""),
        LinkGroup::Category => ("rb.category".to_owned(), "GROUP BY 1"),
        // Read by `links_by_week`.
        LinkGroup::Week => (String::new(), ""),
        LinkGroup::Triager => (
            "COALESCE(us.display_name, '(not triaged)')".to_owned(),
            "GROUP BY 1",
        ),
    };
    if by == LinkGroup::Triager {
        // Counted per triager first, then named: one join per triager
        // instead of one per ticket (two people may share a name, so the
        // names are summed).
        let sql = format!(
            "WITH {r},
             t AS (
                SELECT rb.triaged_by, count(*) AS resolved,
                       count(*) FILTER (WHERE best = 3) AS by_model,
                       count(*) FILTER (WHERE best = 2) AS partly,
                       count(*) FILTER (WHERE best = 1) AS no_fit,
                       count(*) FILTER (WHERE best IS NULL) AS no_link
                FROM rb GROUP BY rb.triaged_by
             )
             SELECT * FROM (
                SELECT {group} AS grp, sum(resolved)::int8 AS resolved,
                       sum(by_model)::int8 AS by_model, sum(partly)::int8 AS partly,
                       sum(no_fit)::int8 AS no_fit, sum(no_link)::int8 AS no_link
                FROM t LEFT JOIN users us ON us.id = t.triaged_by {tail}
             ) x ORDER BY grp COLLATE \"C\"",
            r = resolved_ctes(),
        );
        let rows = run!(conn, sql, q, LinkSql)?;
        return Ok(rows.into_iter().map(LinkRow::from).collect());
    }
    if by == LinkGroup::Week {
        return links_by_week(conn, q).await;
    }
    let sql = format!(
        "WITH {r}
         SELECT * FROM (
            SELECT {group} AS grp, count(*) AS resolved,
                   count(*) FILTER (WHERE best = 3) AS by_model,
                   count(*) FILTER (WHERE best = 2) AS partly,
                   count(*) FILTER (WHERE best = 1) AS no_fit,
                   count(*) FILTER (WHERE best IS NULL) AS no_link
            FROM rb LEFT JOIN users us ON us.id = rb.triaged_by {tail}
         ) x ORDER BY grp COLLATE \"C\"",
        r = resolved_ctes(),
    );
    let rows = run!(conn, sql, q, LinkSql)?;
    Ok(rows.into_iter().map(LinkRow::from).collect())
}

pub async fn gaps(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<GapRow>> {
    let sql = format!(
        "SELECT * FROM (
            SELECT category, title_key AS title, count(*) AS tickets,
                   count(*) FILTER (WHERE f.best_outcome = 1) AS no_fit,
                   count(*) FILTER (WHERE f.best_outcome = 0) AS no_link,
                   (array_agg(f.ticket_id ORDER BY f.ticket_id))[1:{examples}] AS examples
            -- The resolved tickets with no link or \"no model fits\" (best
            -- outcome 0 or 1), read from their own index.
            FROM ticket_report_facts f
            WHERE f.resolved_at >= $1 AND f.resolved_at < $2 AND f.best_outcome <= 1 AND {COUNTED}
            GROUP BY 1, 2
         ) x ORDER BY tickets DESC, category COLLATE \"C\", title COLLATE \"C\" LIMIT {GAP_ROWS}",
        examples = crate::domain::report::EXAMPLES,
    );
    let rows = run!(conn, sql, q, GapSql)?;
    Ok(rows
        .into_iter()
        .map(|r| GapRow {
            category: r.category,
            title: r.title,
            tickets: r.tickets,
            no_fit: r.no_fit,
            no_link: r.no_link,
            examples: r.examples,
        })
        .collect())
}

/// Uses before the end of the period and the last use, per model. Without
/// an organization or assignee filter, from the monthly counts (whole UTC
/// months before the end) plus the link facts of the end's month, so any
/// end instant is served exactly; with one, from the link facts (those
/// filters leave few).
fn model_history(q: &ReportQuery) -> String {
    if q.filters.organization.is_none() && q.filters.assignee.is_none() {
        format!(
            "SELECT model_id, sum(uses)::int8 AS uses_all, max(last_at) AS last_used FROM (
                SELECT u.model_id, u.uses, u.last_at FROM model_use_months u
                WHERE u.month < date_trunc('month', $2, 'UTC')
                  AND ($4::text IS NULL OR u.category = $4) AND ($5::int2 IS NULL OR u.priority = $5)
                UNION ALL
                SELECT f.model_id, 1, f.created_at FROM ticket_link_facts f
                WHERE f.created_at >= date_trunc('month', $2, 'UTC') AND f.created_at < $2
                  AND {COUNTED}
             ) x GROUP BY model_id"
        )
    } else {
        format!(
            "SELECT f.model_id, count(*) AS uses_all, max(f.created_at) AS last_used
             FROM ticket_link_facts f WHERE f.created_at < $2 AND {COUNTED} GROUP BY f.model_id"
        )
    }
}

/// The medians of model health: per model, the time to resolve of its
/// tickets resolved in the period (`kind` 'model', `name` its key), and per
/// category, that of the tickets resolved without a model link (best
/// outcome 0 or 1, from the gap report's index; `kind` 'category'). Each
/// group's times are gathered in an array by a hash and sorted alone (no
/// sort of the period's rows by group).
async fn model_medians(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<MedianSql>> {
    let sql = format!(
        "SELECT 'model'::text AS kind, m.key AS name, p.med
         FROM (
            SELECT f.model_id, array_agg(f.resolve_secs) AS secs
            FROM ticket_link_facts f
            WHERE f.resolved_at >= $1 AND f.resolved_at < $2 AND {COUNTED}
            GROUP BY f.model_id
         ) g JOIN incident_models m ON m.id = g.model_id
         CROSS JOIN LATERAL ({med}) p
         UNION ALL
         SELECT 'category', g.category, p.med
         FROM (
            SELECT f.category, array_agg(f.resolve_secs) AS secs
            FROM ticket_report_facts f
            WHERE f.resolved_at >= $1 AND f.resolved_at < $2 AND f.best_outcome <= 1 AND {COUNTED}
            GROUP BY f.category
         ) g CROSS JOIN LATERAL ({med}) p",
        med = "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY s) AS med FROM unnest(g.secs) s",
    );
    run!(conn, sql, q, MedianSql)
}

/// Fills in the medians of model health's rows (the rows of [`models_main`]).
fn with_medians(rows: &mut [ModelRow], medians: Vec<MedianSql>) {
    use std::collections::HashMap;
    let (mut by_model, mut by_category) = (HashMap::new(), HashMap::new());
    for m in medians {
        match m.kind.as_str() {
            "model" => by_model.insert(m.name, m.med),
            _ => by_category.insert(m.name, m.med),
        };
    }
    for r in rows {
        r.median_secs = by_model.get(&r.key).copied().flatten();
        r.category_median_secs = by_category.get(&r.category).copied().flatten();
    }
}

/// Model health, from the link facts (one row per ticket and model, which
/// `ticket_models_once_idx` guarantees, so uses need no DISTINCT), the
/// monthly use counts and [`model_medians`].
pub async fn models(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<ModelRow>> {
    let mut rows = models_main(conn, q).await?;
    with_medians(&mut rows, model_medians(conn, q).await?);
    Ok(rows)
}

/// Model health without its medians (they are left empty, for
/// [`with_medians`]): everything else, in its order.
async fn models_main(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<ModelRow>> {
    let retire = RETIRE_AFTER_DAYS * 86_400;
    let sql = format!(
        "WITH per_model AS (
            SELECT f.model_id, count(*) AS uses_period,
                   count(*) FILTER (WHERE f.outcome = 'resolved') AS resolved_period,
                   count(*) FILTER (WHERE f.outcome = 'partial') AS partial_period
            FROM ticket_link_facts f
            WHERE f.created_at >= $1 AND f.created_at < $2 AND {COUNTED}
            GROUP BY f.model_id
         ),
         hist AS ({hist}),
         esc AS (
            -- Per escalation, its ticket's links: a nested loop on the
            -- ticket (OFFSET 0 keeps the planner from turning it into a
            -- hash join that reads every link).
            SELECT l.model_id, count(*) AS n
            FROM escalations e
            CROSS JOIN LATERAL (
                SELECT f.model_id FROM ticket_link_facts f
                WHERE f.ticket_id = e.ticket_id AND f.created_at <= e.created_at AND {COUNTED}
                OFFSET 0
            ) l
            WHERE e.followed_model = 'yes' AND e.created_at >= $1 AND e.created_at < $2
            GROUP BY l.model_id
         ),
         u AS (
            SELECT m.key, m.title, m.category, m.status, ow.display_name AS owner,
                   m.verified_at, m.created_at,
                   COALESCE(pm.uses_period, 0) AS uses_period,
                   COALESCE(h.uses_all, 0) AS uses_all,
                   COALESCE(pm.resolved_period, 0) AS resolved_period,
                   COALESCE(pm.partial_period, 0) AS partial_period,
                   h.last_used,
                   COALESCE(esc.n, 0) AS escalations_after,
                   COALESCE(oi.n, 0) AS open_items
            FROM incident_models m
            LEFT JOIN users ow ON ow.id = m.owner_id
            LEFT JOIN per_model pm ON pm.model_id = m.id
            LEFT JOIN hist h ON h.model_id = m.id
            LEFT JOIN esc ON esc.model_id = m.id
            LEFT JOIN (SELECT model_id, count(*) AS n FROM improvements
                       WHERE model_id IS NOT NULL AND status IN ('open', 'in_progress')
                       GROUP BY model_id) oi ON oi.model_id = m.id
         ),
         s AS (
            SELECT u.*,
                   u.status <> 'retired' AND (u.verified_at IS NULL
                       OR u.verified_at < $2 - make_interval(secs => $8::float8)) AS stale,
                   u.status <> 'retired' AND u.created_at <= $2 - make_interval(secs => {retire})
                       AND (u.last_used IS NULL OR u.last_used < $2 - make_interval(secs => {retire}))
                       AS retire_candidate
            FROM u
         )
         SELECT key, title, category, status, owner, uses_period, uses_all, resolved_period,
                partial_period, last_used, escalations_after,
                floor(extract(epoch FROM $2 - verified_at) / 86400)::int8 AS days_since_verified,
                stale, retire_candidate,
                partial_period + escalations_after + CASE WHEN stale THEN uses_period ELSE 0 END AS attention,
                open_items
         FROM s ORDER BY attention DESC, uses_period DESC, key COLLATE \"C\"",
        hist = model_history(q),
    );
    let rows = run!(conn, sql, q, ModelSql)?;
    Ok(rows
        .into_iter()
        .map(|r| ModelRow {
            key: r.key,
            title: r.title,
            category: r.category,
            status: r.status,
            owner: r.owner,
            uses_period: r.uses_period,
            uses_all: r.uses_all,
            resolved_period: r.resolved_period,
            partial_period: r.partial_period,
            last_used: r.last_used,
            median_secs: None,
            category_median_secs: None,
            escalations_after: r.escalations_after,
            days_since_verified: r.days_since_verified,
            stale: r.stale,
            retire_candidate: r.retire_candidate,
            attention: r.attention,
            open_items: r.open_items,
        })
        .collect())
}

/// How the resolution table groups its rows: its two halves, read by two
/// queries (on two connections when a page has them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolutionBy {
    Category,
    Priority,
}

/// The discrete median and p90 of `secs` (an array), as `p[1]` and
/// `p[2]`: one sort of the group's values for both.
const MEDIAN_P90: &str = "percentile_disc(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY s) AS p FROM unnest(g.secs) s";

/// One half of the resolution table, in its order (category rows sort
/// before priority rows, so the halves are concatenated). The groups are
/// hashed with each group's times gathered in an array, and each array is
/// sorted alone for its percentiles: sorting the period's rows by group
/// first (what a grouped `percentile_disc` needs) cost more than the rest
/// of the query.
pub async fn resolution_by(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    by: ResolutionBy,
) -> QueryResult<Vec<ResolutionRow>> {
    let (dimension, value) = match by {
        ResolutionBy::Category => ("category", "rb.category COLLATE \"C\""),
        ResolutionBy::Priority => ("priority", "'P' || rb.priority"),
    };
    let sql = format!(
        "WITH {r}
         SELECT '{dimension}'::text AS dimension, g.value, g.with_model, g.tickets, g.escalated,
                g.reopened, p.p[1] AS median_secs, p.p[2] AS p90_secs
         FROM (
            SELECT {value} AS value, COALESCE(rb.best, 0) >= 2 AS with_model, count(*) AS tickets,
                   count(*) FILTER (WHERE rb.escalations > 0) AS escalated,
                   count(*) FILTER (WHERE rb.reopens > 0) AS reopened,
                   array_agg(rb.secs) AS secs
            FROM rb GROUP BY 1, 2
         ) g CROSS JOIN LATERAL (SELECT {MEDIAN_P90}) p
         ORDER BY g.value COLLATE \"C\", g.with_model",
        r = resolved_ctes(),
    );
    let rows = run!(conn, sql, q, ResolutionSql)?;
    Ok(rows
        .into_iter()
        .map(|r| ResolutionRow {
            dimension: r.dimension,
            value: r.value,
            with_model: r.with_model,
            tickets: r.tickets,
            escalated: r.escalated,
            reopened: r.reopened,
            median_secs: r.median_secs,
            p90_secs: r.p90_secs,
        })
        .collect())
}

/// Resolution with and without a model, by category then by priority.
pub async fn resolution(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<ResolutionRow>> {
    let mut rows = resolution_by(conn, q, ResolutionBy::Category).await?;
    rows.extend(resolution_by(conn, q, ResolutionBy::Priority).await?);
    Ok(rows)
}

/// `rg`: the weeks of the period (after [`WEEKS`]) as ranges of time,
/// `[lo, hi)` within `[$1, $2)`, so a query reads each week's rows as one
/// index range and never computes the week of a row; none when
/// `report_weeks` could not vouch for its bounds (the queries then group
/// by [`week`] of each row, guarded by [`UNVOUCHED`]).
const RANGES: &str = "rg AS (
    SELECT w.week, greatest(w.lo, $1) AS lo, least(w.hi, $2) AS hi
    FROM wk, unnest(wk.weeks, wk.bounds, wk.bounds[2:] || 'infinity'::timestamptz) AS w(week, lo, hi)
    WHERE wk.bounds IS NOT NULL AND w.lo < $2 AND w.hi > $1
)";

/// True when the weeks must be found row by row (see [`RANGES`]): a
/// one-time filter, so the other branch of a query is never run.
const UNVOUCHED: &str = "(SELECT bounds FROM wk) IS NULL";

/// The triage table's and the rota table's measures over `f`, the rows of
/// one group.
const TRIAGE_TIMES: &str = "count(f.triage_secs) AS triaged,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY f.triage_secs) AS triage_median_secs,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY f.triage_secs) AS triage_p90_secs,
    count(f.reply_secs) AS replied,
    percentile_disc(0.5) WITHIN GROUP (ORDER BY f.reply_secs) AS reply_median_secs,
    percentile_disc(0.9) WITHIN GROUP (ORDER BY f.reply_secs) AS reply_p90_secs";

/// Triage by the week a ticket was opened: each week is its own index
/// range of the opened tickets, aggregated alone (no sort or hash of the
/// period's rows by week; only each week's percentile sorts), in week
/// order.
pub async fn triage(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<TriageRow>> {
    let cols = "opened, triaged, triage_median_secs, triage_p90_secs, replied, reply_median_secs,
                reply_p90_secs, duplicates, searches";
    // The measures of one week's rows, read by range or grouped by row.
    let measures = format!(
        "count(*) AS opened, {TRIAGE_TIMES},
         count(*) FILTER (WHERE f.duplicate) AS duplicates,
         COALESCE(sum(f.searches), 0)::int8 AS searches"
    );
    let sql = format!(
        "WITH {WEEKS}, {RANGES}
         SELECT week, {cols} FROM (
            SELECT rg.week, a.* FROM rg CROSS JOIN LATERAL (
                SELECT {measures}
                FROM ticket_report_facts f
                WHERE f.opened_at >= rg.lo AND f.opened_at < rg.hi AND {COUNTED}
            ) a WHERE a.opened > 0
            UNION ALL
            SELECT week, {cols} FROM (
                SELECT {wk} AS week, {measures}
                FROM ticket_report_facts f
                WHERE {UNVOUCHED} AND f.opened_at >= $1 AND f.opened_at < $2 AND {COUNTED}
                GROUP BY 1
            ) b
         ) x ORDER BY week",
        wk = week("f.opened_at"),
    );
    let rows = run!(conn, sql, q, TriageSql)?;
    Ok(rows
        .into_iter()
        .map(|r| TriageRow {
            week: r.week,
            opened: r.opened,
            triaged: r.triaged,
            triage_median_secs: r.triage_median_secs,
            triage_p90_secs: r.triage_p90_secs,
            replied: r.replied,
            reply_median_secs: r.reply_median_secs,
            reply_p90_secs: r.reply_p90_secs,
            duplicates: r.duplicates,
            searches: r.searches,
        })
        .collect())
}

/// Triage by who held the rota in the week a ticket was opened: the
/// weeks are grouped by holder first (a dozen rows), then each holder's
/// weeks are read as index ranges and aggregated together, so no row is
/// joined to the rota, hashed or sorted by holder.
pub async fn triage_by_rota(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<TriageRotaRow>> {
    let cols =
        "triager, triager_id, opened, triaged, by_holder, triage_median_secs, triage_p90_secs,
                replied, reply_median_secs, reply_p90_secs";
    let name = |holder: &str| {
        format!(
            "CASE WHEN {holder} IS NULL THEN '(no rota)'
                  ELSE COALESCE((SELECT us.display_name FROM users us WHERE us.id = {holder}), '') END"
        )
    };
    let sql = format!(
        "WITH {WEEKS}, {RANGES},
         hr AS (
            SELECT rw.triager_id AS holder, array_agg(rg.lo) AS los, array_agg(rg.hi) AS his
            FROM rg LEFT JOIN rota_weeks rw ON rw.week_start = rg.week
            GROUP BY rw.triager_id
         )
         SELECT {cols} FROM (
            SELECT {by_range} AS triager, hr.holder AS triager_id, a.* FROM hr CROSS JOIN LATERAL (
                SELECT count(*) AS opened, {TRIAGE_TIMES},
                       count(*) FILTER (WHERE f.triaged_by = hr.holder) AS by_holder
                FROM unnest(hr.los, hr.his) AS r(lo, hi) CROSS JOIN LATERAL (
                    -- OFFSET 0: each week one index range. Pulled up, the
                    -- ranges became a join filter, and with a selective
                    -- filter the planner read the whole facts table once
                    -- instead (7 days, a category and a priority: 208 ms
                    -- against 3 ms; 90 days, no filter: 220 against 97 ms).
                    SELECT f.triage_secs, f.reply_secs, f.triaged_by FROM ticket_report_facts f
                    WHERE f.opened_at >= r.lo AND f.opened_at < r.hi AND {COUNTED}
                    OFFSET 0
                ) f
            ) a WHERE a.opened > 0
            UNION ALL
            SELECT {by_row} AS triager, f.holder AS triager_id, count(*) AS opened,
                   {TRIAGE_TIMES},
                   count(*) FILTER (WHERE f.triaged_by = f.holder) AS by_holder
            FROM (
                SELECT f.triage_secs, f.reply_secs, f.triaged_by, rw.triager_id AS holder
                FROM ticket_report_facts f LEFT JOIN rota_weeks rw ON rw.week_start = {wk}
                WHERE {UNVOUCHED} AND f.opened_at >= $1 AND f.opened_at < $2 AND {COUNTED}
            ) f
            GROUP BY f.holder
         ) y ORDER BY triager COLLATE \"C\", COALESCE(triager_id, 0)",
        by_range = name("hr.holder"),
        by_row = name("f.holder"),
        wk = week("f.opened_at"),
    );
    let rows = run!(conn, sql, q, TriageRotaSql)?;
    Ok(rows
        .into_iter()
        .map(|r| TriageRotaRow {
            triager: r.triager,
            triager_id: r.triager_id,
            opened: r.opened,
            triaged: r.triaged,
            by_holder: r.by_holder,
            triage_median_secs: r.triage_median_secs,
            triage_p90_secs: r.triage_p90_secs,
            replied: r.replied,
            reply_median_secs: r.reply_median_secs,
            reply_p90_secs: r.reply_p90_secs,
        })
        .collect())
}

pub async fn triage_reviews(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<TriageReviewRow>> {
    // Per review, its ticket's facts (a nested loop on the ticket: a few
    // thousand reviews, instead of hashing every ticket opened in the
    // period; OFFSET 0 keeps the planner from turning it around).
    let sql = format!(
        "SELECT * FROM (
            SELECT tr.week_start AS week, COALESCE(us.display_name, '') AS triager, count(*) AS reviews,
                   (sum(tr.score) * 2 + count(tr.score)) / NULLIF(2 * count(tr.score), 0) AS score
            FROM triage_reviews tr
            CROSS JOIN LATERAL (
                SELECT 1 FROM ticket_report_facts f
                WHERE f.ticket_id = tr.ticket_id AND f.opened_at >= $1 AND f.opened_at < $2
                  AND {COUNTED}
                OFFSET 0
            ) o
            LEFT JOIN users us ON us.id = tr.triager_id
            GROUP BY 1, 2
         ) y ORDER BY week, triager COLLATE \"C\""
    );
    let rows = run!(conn, sql, q, TriageReviewSql)?;
    Ok(rows
        .into_iter()
        .map(|r| TriageReviewRow {
            week: r.week,
            triager: r.triager,
            reviews: r.reviews,
            score: r.score,
        })
        .collect())
}

/// Recorded searches of counted tickets made in the period: the search
/// facts (alias `f`, so [`COUNTED`] applies as it is) at the edges of the
/// period's whole UTC days, the day counts (`report_day_searches`) for
/// those days ([`PIECES`]).
pub async fn searches(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<SearchRow> {
    let sql = format!(
        "WITH {WHOLE}, {PIECES},
         s AS (
            SELECT a.* FROM pc CROSS JOIN LATERAL (
                SELECT count(*) AS searches, count(*) FILTER (WHERE f.empty) AS empty,
                       count(*) FILTER (WHERE f.picked) AS picked,
                       count(*) FILTER (WHERE f.rank = 1) AS rank_1,
                       count(*) FILTER (WHERE f.rank BETWEEN 2 AND 3) AS rank_2_3,
                       count(*) FILTER (WHERE f.rank >= 4) AS rank_4_plus,
                       count(*) FILTER (WHERE f.picked AND f.rank IS NULL) AS not_listed
                FROM triage_search_facts f
                WHERE f.created_at >= pc.lo AND f.created_at < pc.hi AND {COUNTED}
            ) a
            WHERE NOT pc.daily
            UNION ALL
            SELECT sum(d.searches), sum(d.empty), sum(d.picked), sum(d.rank_1), sum(d.rank_2_3),
                   sum(d.rank_4_plus), sum(d.not_listed)
            FROM pc JOIN report_day_searches d ON d.day >= pc.lo AND d.day < pc.hi
            WHERE pc.daily AND {DAY_FILTERS}
         )
         SELECT COALESCE(sum(searches), 0)::int8 AS searches, COALESCE(sum(empty), 0)::int8 AS empty,
                COALESCE(sum(picked), 0)::int8 AS picked, COALESCE(sum(rank_1), 0)::int8 AS rank_1,
                COALESCE(sum(rank_2_3), 0)::int8 AS rank_2_3,
                COALESCE(sum(rank_4_plus), 0)::int8 AS rank_4_plus,
                COALESCE(sum(not_listed), 0)::int8 AS not_listed
         FROM s"
    );
    let rows = run!(conn, sql, q, SearchSql)?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| SearchRow {
            searches: r.searches,
            empty: r.empty,
            picked: r.picked,
            rank_1: r.rank_1,
            rank_2_3: r.rank_2_3,
            rank_4_plus: r.rank_4_plus,
            not_listed: r.not_listed,
        })
        .unwrap_or_default())
}

pub async fn empty_words(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<WordRow>> {
    let sql = format!(
        "SELECT * FROM (
            SELECT w AS word, count(*) AS count
            FROM triage_search_facts f, unnest(f.words) AS w
            WHERE f.empty AND f.created_at >= $1 AND f.created_at < $2 AND {COUNTED}
            GROUP BY w
         ) x ORDER BY count DESC, word COLLATE \"C\" LIMIT {WORD_ROWS}"
    );
    let rows = run!(conn, sql, q, WordSql)?;
    Ok(rows
        .into_iter()
        .map(|r| WordRow {
            word: r.word,
            count: r.count,
        })
        .collect())
}

/// The overview's headline numbers ([`Headline::of`] the link, resolution
/// and triage tables): one pass over the resolved tickets and one over the
/// opened ones ([`headline_side`]).
pub async fn headline(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Headline> {
    let mut head = headline_side(conn, q, Side::Resolved).await?;
    head.add_side(headline_side(conn, q, Side::Opened).await?, Side::Opened);
    Ok(head)
}

/// One side of [`headline`]: the link, resolution and escalation counts of
/// the tickets resolved in the period, or the opened, duplicate and search
/// counts of those opened in it (the other side's numbers 0). The overview
/// reads the period before's two sides on its two connections.
async fn headline_side(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    side: Side,
) -> QueryResult<Headline> {
    let sql = format!(
        "WITH {c} SELECT {head} FROM c",
        c = side_counts(side, Span::Whole),
        head = headline_of_c(side),
    );
    let rows = run!(conn, sql, q, HeadlineSql)?;
    Ok(rows
        .into_iter()
        .next()
        .map(Headline::from)
        .unwrap_or_default())
}

impl Headline {
    /// Takes `side`'s numbers from `other` (see [`headline_side`]).
    fn add_side(&mut self, other: Headline, side: Side) {
        match side {
            Side::Resolved => {
                self.links = other.links;
                self.with_model = other.with_model;
                self.without_model = other.without_model;
            }
            Side::Opened => {
                self.opened = other.opened;
                self.duplicates = other.duplicates;
                self.searches = other.searches;
            }
        }
    }
}

impl From<HeadlineSql> for Headline {
    fn from(r: HeadlineSql) -> Self {
        Headline {
            links: LinkRow {
                group: String::new(),
                resolved: r.resolved,
                by_model: r.by_model,
                partly: r.partly,
                no_fit: r.no_fit,
                no_link: r.no_link,
            },
            with_model: Totals {
                tickets: r.with_tickets,
                escalated: r.with_escalated,
                reopened: r.with_reopened,
            },
            without_model: Totals {
                tickets: r.without_tickets,
                escalated: r.without_escalated,
                reopened: r.without_reopened,
            },
            opened: r.opened,
            duplicates: r.duplicates,
            searches: r.searches,
        }
    }
}

/// Which tickets a part of the overview counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Resolved,
    Opened,
}

/// What the counts of a side are read over: the weeks of the period
/// (each week's range, [`RANGES`]) or the whole period as one range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Weeks,
    Whole,
}

/// `rg` of [`Span::Whole`]: the period as one range, of no week.
const WHOLE: &str =
    "rg AS (SELECT NULL::date AS week, $1::timestamptz AS lo, $2::timestamptz AS hi)";

/// `pc`: the ranges of `rg` cut into pieces: whole UTC days (`daily`),
/// read from the day counts, and the edges before and after them (less
/// than a day each), read from the facts; one piece of facts when the
/// range holds no whole UTC day or a filter the day counts do not carry
/// (an organization or an assignee) is set.
const PIECES: &str = "pc AS (
    SELECT rg.week, p.lo, p.hi, p.daily
    FROM rg
    CROSS JOIN LATERAL (
        SELECT date_trunc('day', rg.lo - interval '1 microsecond', 'UTC') + interval '24 hours' AS lo,
               date_trunc('day', rg.hi, 'UTC') AS hi
    ) d
    CROSS JOIN LATERAL (
        SELECT rg.lo, rg.hi, false
        WHERE NOT ($6::int8 IS NULL AND $7::int8 IS NULL AND d.lo < d.hi)
        UNION ALL
        SELECT v.* FROM (VALUES (rg.lo, d.lo, false), (d.lo, d.hi, true), (d.hi, rg.hi, false)) v
        WHERE $6::int8 IS NULL AND $7::int8 IS NULL AND d.lo < d.hi
    ) p(lo, hi, daily)
    WHERE p.lo < p.hi
)";

/// The day counts' rows (alias `d`) that match the category and priority
/// filters (the only ones they carry, see [`PIECES`]).
const DAY_FILTERS: &str =
    "($4::text IS NULL OR d.category = $4) AND ($5::int2 IS NULL OR d.priority = $5)";

/// `c`, after the `WITH` of a query: one side's counts per week (a range;
/// NULL for [`Span::Whole`]), priority and category (about a thousand
/// rows for 90 days) — by best outcome and escalated or reopened with or
/// without a model for the resolved tickets, duplicates and searches for
/// the opened ones — as filtered counts of the facts at the pieces' edges
/// (hashing every row by six columns was most of the query) plus sums of
/// the day counts (`report_day_tickets`, kept in the writers'
/// transactions) for their whole UTC days. Rows of [`OverviewSql`] with
/// the other side's columns 0.
fn side_counts(side: Side, span: Span) -> String {
    let (at, number, counts) = match side {
        Side::Resolved => (
            "resolved_at",
            1,
            "count(*)::int8 AS n,
             count(*) FILTER (WHERE f.best_outcome = 3)::int8 AS b3,
             count(*) FILTER (WHERE f.best_outcome = 2)::int8 AS b2,
             count(*) FILTER (WHERE f.best_outcome = 1)::int8 AS b1,
             count(*) FILTER (WHERE f.best_outcome >= 2 AND f.escalations > 0)::int8 AS w_esc,
             count(*) FILTER (WHERE f.best_outcome >= 2 AND f.reopens > 0)::int8 AS w_back,
             count(*) FILTER (WHERE f.best_outcome < 2 AND f.escalations > 0)::int8 AS o_esc,
             count(*) FILTER (WHERE f.best_outcome < 2 AND f.reopens > 0)::int8 AS o_back,
             0::int8 AS dups, 0::int8 AS searches",
        ),
        Side::Opened => (
            "opened_at",
            0,
            "count(*)::int8 AS n, 0::int8 AS b3, 0::int8 AS b2, 0::int8 AS b1,
             0::int8 AS w_esc, 0::int8 AS w_back, 0::int8 AS o_esc, 0::int8 AS o_back,
             count(*) FILTER (WHERE f.duplicate)::int8 AS dups,
             COALESCE(sum(f.searches), 0)::int8 AS searches",
        ),
    };
    let (ranges, unvouched) = match span {
        Span::Weeks => (
            format!("{WEEKS}, {RANGES}"),
            format!(
                "UNION ALL
                 SELECT {wk} AS w, f.priority, f.category, {counts}
                 FROM ticket_report_facts f
                 WHERE {UNVOUCHED} AND f.{at} >= $1 AND f.{at} < $2 AND {COUNTED}
                 GROUP BY 1, 2, 3",
                wk = week(&format!("f.{at}")),
            ),
        ),
        Span::Whole => (WHOLE.to_string(), String::new()),
    };
    format!(
        "{ranges}, {PIECES},
         c AS MATERIALIZED (
            SELECT pc.week AS w, a.* FROM pc CROSS JOIN LATERAL (
                SELECT f.priority, f.category, {counts}
                FROM ticket_report_facts f
                WHERE f.{at} >= pc.lo AND f.{at} < pc.hi AND {COUNTED}
                GROUP BY 1, 2
            ) a
            WHERE NOT pc.daily
            UNION ALL
            SELECT pc.week, d.priority, d.category, sum(d.n)::int8, sum(d.b3)::int8,
                   sum(d.b2)::int8, sum(d.b1)::int8, sum(d.w_esc)::int8, sum(d.w_back)::int8,
                   sum(d.o_esc)::int8, sum(d.o_back)::int8, sum(d.dups)::int8,
                   sum(d.searches)::int8
            FROM pc JOIN report_day_tickets d
                 ON d.side = {number} AND d.day >= pc.lo AND d.day < pc.hi
            -- A row that fell to zero is no group (as no ticket is).
            WHERE pc.daily AND d.n <> 0 AND {DAY_FILTERS}
            GROUP BY 1, 2, 3
            {unvouched}
         )"
    )
}

/// The opened and resolved counts of a side's rows of `c` (the other
/// side's 0).
fn side_sums(side: Side) -> (&'static str, &'static str) {
    match side {
        Side::Resolved => ("0::int8", "sum(n)::int8"),
        Side::Opened => ("sum(n)::int8", "0::int8"),
    }
}

/// The headline's columns ([`HeadlineSql`]) summed over all of `c`, in
/// the order of the overview's other tables' columns (a `UNION` matches
/// them by position).
fn headline_of_c(side: Side) -> String {
    let (opened, resolved) = side_sums(side);
    format!(
        "COALESCE({opened}, 0)::int8 AS opened,
         COALESCE({resolved}, 0)::int8 AS resolved,
         COALESCE(sum(b3), 0)::int8 AS by_model,
         COALESCE(sum(b2), 0)::int8 AS partly,
         COALESCE(sum(b1), 0)::int8 AS no_fit,
         COALESCE(sum(n - b3 - b2 - b1), 0)::int8 AS no_link,
         COALESCE(sum(b3 + b2), 0)::int8 AS with_tickets,
         COALESCE(sum(w_esc), 0)::int8 AS with_escalated,
         COALESCE(sum(w_back), 0)::int8 AS with_reopened,
         COALESCE(sum(n - b3 - b2), 0)::int8 AS without_tickets,
         COALESCE(sum(o_esc), 0)::int8 AS without_escalated,
         COALESCE(sum(o_back), 0)::int8 AS without_reopened,
         COALESCE(sum(dups), 0)::int8 AS duplicates,
         COALESCE(sum(searches), 0)::int8 AS searches"
    )
}

/// One side of the overview's tables of the current period, from the
/// week's counts of [`side_counts`].
fn overview_side_sql(side: Side) -> String {
    let (opened, resolved) = side_sums(side);
    format!(
        "WITH {c}
         SELECT * FROM (
            SELECT 'volume'::text AS tbl, w AS week, NULL::int2 AS priority, NULL::text AS category,
                   {opened} AS opened, {resolved} AS resolved, 0::int8 AS by_model,
                   0::int8 AS partly, 0::int8 AS no_fit, 0::int8 AS no_link, 0::int8 AS with_tickets,
                   0::int8 AS with_escalated, 0::int8 AS with_reopened, 0::int8 AS without_tickets,
                   0::int8 AS without_escalated, 0::int8 AS without_reopened,
                   0::int8 AS duplicates, 0::int8 AS searches
            FROM c GROUP BY w
            UNION ALL
            SELECT 'mix', NULL, priority, category, {opened}, {resolved}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            FROM c GROUP BY priority, category
            UNION ALL
            SELECT 'links', w, NULL, NULL, 0, sum(n)::int8, sum(b3)::int8, sum(b2)::int8,
                   sum(b1)::int8, sum(n - b3 - b2 - b1)::int8, 0, 0, 0, 0, 0, 0, 0, 0
            FROM c WHERE {resolved_side} GROUP BY w
            UNION ALL
            SELECT 'headline', NULL, NULL, NULL, {head} FROM c
         ) x ORDER BY tbl, week, priority, category COLLATE \"C\"",
        c = side_counts(side, Span::Weeks),
        head = headline_of_c(side),
        resolved_side = side == Side::Resolved,
    )
}

/// What the overview reads of the current period — volume, mix, links by
/// week and the headline — summed as they are read from both sides (each
/// side's query gives the other side's columns as 0): the same measures as
/// [`volume`], [`mix`], [`links`] by week and [`headline`]; the tests hold
/// both to the reference.
#[derive(Default)]
struct OverviewSum {
    volume: std::collections::BTreeMap<chrono::NaiveDate, (i64, i64)>,
    mix: std::collections::BTreeMap<(i16, String), (i64, i64)>,
    links: Vec<LinkRow>,
    head: Headline,
}

impl OverviewSum {
    fn add(&mut self, rows: Vec<OverviewSql>, side: Side) {
        for r in rows {
            match r.tbl.as_str() {
                "volume" => {
                    let v = self.volume.entry(r.week.unwrap_or_default()).or_default();
                    v.0 += r.n.opened;
                    v.1 += r.n.resolved;
                }
                "mix" => {
                    let key = (
                        r.priority.unwrap_or_default(),
                        r.category.unwrap_or_default(),
                    );
                    let v = self.mix.entry(key).or_default();
                    v.0 += r.n.opened;
                    v.1 += r.n.resolved;
                }
                "links" => self.links.push(LinkRow {
                    group: r
                        .week
                        .map(|w| w.format("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    resolved: r.n.resolved,
                    by_model: r.n.by_model,
                    partly: r.n.partly,
                    no_fit: r.n.no_fit,
                    no_link: r.n.no_link,
                }),
                _ => self.head.add_side(Headline::from(r.n), side),
            }
        }
    }

    fn tables(self) -> (Vec<VolumeRow>, Vec<MixRow>, Vec<LinkRow>, Headline) {
        let volume = self
            .volume
            .into_iter()
            .map(|(week, (opened, resolved))| VolumeRow {
                week,
                opened,
                resolved,
            })
            .collect();
        let mix = self
            .mix
            .into_iter()
            .map(|((priority, category), (opened, resolved))| MixRow {
                priority,
                category,
                opened,
                resolved,
            })
            .collect();
        (volume, mix, self.links, self.head)
    }
}

async fn overview_side(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    side: Side,
) -> QueryResult<Vec<OverviewSql>> {
    run!(conn, overview_side_sql(side), q, OverviewSql)
}

/// The settings of a report transaction: read-only, one snapshot (so a
/// page's numbers add up), no JIT (the planner's estimates for these joins
/// are far too high, and compiling the plan took 0.8 s of a 0.85 s query),
/// and memory enough to sort a period's rows without spilling to disk.
async fn read_only(conn: &mut AsyncPgConnection, snapshot: Option<&str>) -> QueryResult<()> {
    diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(conn)
        .await?;
    if let Some(id) = snapshot {
        // An id PostgreSQL made (hex digits and dashes); refuse anything else.
        if !id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("unexpected snapshot id {id:?}").into(),
            ));
        }
        diesel::sql_query(format!("SET TRANSACTION SNAPSHOT '{id}'"))
            .execute(conn)
            .await?;
    }
    diesel::sql_query("SET LOCAL jit = off")
        .execute(conn)
        .await?;
    diesel::sql_query("SET LOCAL work_mem = '32MB'")
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct SnapshotSql {
    #[diesel(sql_type = Text)]
    id: String,
}

/// What one connection of a page computes.
enum Job<'a> {
    Parts(&'a ReportQuery, Vec<Piece>),
    /// The overview's counts of the tickets resolved now, and the
    /// resolved side of the headline of the period before.
    Overview(&'a ReportQuery, &'a ReportQuery),
    /// The overview's counts of the tickets opened now, the opened side of
    /// the headline before, and the searches now and in the period before.
    Trends(&'a ReportQuery, &'a ReportQuery),
}

enum Done {
    Parts(Box<Read>),
    Overview(Vec<OverviewSql>, Headline),
    Trends(Vec<OverviewSql>, Headline, SearchRow, SearchRow),
}

async fn run_job(conn: &mut AsyncPgConnection, job: Job<'_>) -> QueryResult<Done> {
    Ok(match job {
        Job::Parts(q, pieces) => Done::Parts(Box::new(pieces_in(conn, q, &pieces).await?)),
        Job::Overview(q, before) => Done::Overview(
            overview_side(conn, q, Side::Resolved).await?,
            headline_side(conn, before, Side::Resolved).await?,
        ),
        Job::Trends(q, before) => Done::Trends(
            overview_side(conn, q, Side::Opened).await?,
            headline_side(conn, before, Side::Opened).await?,
            searches(conn, q).await?,
            searches(conn, before).await?,
        ),
    })
}

/// Runs `first` on `conn` and `second` on `other` at the same time, in one
/// read-only snapshot (`other` imports the one `conn` exports), so a page
/// gets two cores and numbers that still add up; without `other` (the pool
/// had none free), one after the other on `conn`.
async fn in_one_snapshot(
    conn: &mut AsyncPgConnection,
    other: Option<&mut AsyncPgConnection>,
    first: Job<'_>,
    second: Job<'_>,
) -> QueryResult<(Done, Done)> {
    conn.transaction(async move |conn| {
        read_only(conn, None).await?;
        let Some(other) = other else {
            let a = run_job(conn, first).await?;
            let b = run_job(conn, second).await?;
            return Ok((a, b));
        };
        let snapshot = diesel::sql_query("SELECT pg_export_snapshot() AS id")
            .get_result::<SnapshotSql>(conn)
            .await?
            .id;
        let theirs = other.transaction(async move |other| {
            read_only(other, Some(&snapshot)).await?;
            run_job(other, second).await
        });
        let (a, b) = tokio::join!(run_job(conn, first), theirs);
        Ok((a?, b?))
    })
    .await
}

fn unexpected() -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError("a report job answered out of turn".into())
}

/// What one query of a page reads: a part, or a share of a part that costs
/// enough to be worth splitting between the two connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Part(Part),
    /// One half of the resolution table.
    Resolution(ResolutionBy),
    /// Model health without its medians.
    Models,
    /// Model health's medians.
    ModelMedians,
}

/// The pieces that read `parts`.
fn pieces_of(parts: &[Part]) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for part in parts {
        match part {
            Part::Resolution => pieces.extend([
                Piece::Resolution(ResolutionBy::Category),
                Piece::Resolution(ResolutionBy::Priority),
            ]),
            Part::Models => pieces.extend([Piece::Models, Piece::ModelMedians]),
            part => pieces.push(Piece::Part(*part)),
        }
    }
    pieces
}

/// A rough cost of each piece at scale, to share a page's pieces between
/// two connections.
fn cost(piece: Piece) -> u32 {
    match piece {
        Piece::Models => 5,
        Piece::ModelMedians => 4,
        Piece::Resolution(_) => 2,
        Piece::Part(part) => match part {
            Part::Models => 9,
            Part::Resolution => 4,
            Part::Triage | Part::TriageByRota => 3,
            Part::Volume | Part::Mix | Part::Gaps => 2,
            Part::Links | Part::LinksByCategory | Part::LinksByWeek | Part::LinksByTriager => 2,
            Part::Searches | Part::SearchWords | Part::TriageReviews => 1,
        },
    }
}

/// What one connection read: the tables of its parts, and its share of
/// the split ones (resolution rows are added to `report.resolution`,
/// model health's rows come without their medians).
#[derive(Default)]
struct Read {
    report: Report,
    medians: Vec<MedianSql>,
}

impl Read {
    /// Adds what `from` read of `piece`.
    fn take(&mut self, from: &mut Read, piece: Piece) {
        use std::mem::take as t;
        let (into, from_report) = (&mut self.report, &mut from.report);
        match piece {
            Piece::Resolution(_) => into.resolution.append(&mut from_report.resolution),
            Piece::Models => into.models = t(&mut from_report.models),
            Piece::ModelMedians => self.medians.append(&mut from.medians),
            Piece::Part(part) => match part {
                Part::Volume => into.volume = t(&mut from_report.volume),
                Part::Mix => into.mix = t(&mut from_report.mix),
                Part::Links => into.links_total = t(&mut from_report.links_total),
                Part::LinksByCategory => {
                    into.links_by_category = t(&mut from_report.links_by_category)
                }
                Part::LinksByWeek => into.links_by_week = t(&mut from_report.links_by_week),
                Part::LinksByTriager => {
                    into.links_by_triager = t(&mut from_report.links_by_triager)
                }
                Part::Gaps => into.gaps = t(&mut from_report.gaps),
                Part::Models => into.models = t(&mut from_report.models),
                Part::Resolution => into.resolution = t(&mut from_report.resolution),
                Part::Triage => into.triage = t(&mut from_report.triage),
                Part::TriageByRota => into.triage_by_rota = t(&mut from_report.triage_by_rota),
                Part::TriageReviews => into.triage_reviews = t(&mut from_report.triage_reviews),
                Part::Searches => into.searches = t(&mut from_report.searches),
                Part::SearchWords => into.empty_words = t(&mut from_report.empty_words),
            },
        }
    }

    /// The report, its split parts put together: the resolution halves in
    /// the table's order (dimension, value, without before with — as the
    /// SQL orders each half, by bytes), the medians in model health.
    fn finish(self, parts: &[Part]) -> Report {
        let mut report = self.report;
        report.resolution.sort_by(|a, b| {
            (&a.dimension, &a.value, a.with_model).cmp(&(&b.dimension, &b.value, b.with_model))
        });
        if parts.contains(&Part::Models) {
            with_medians(&mut report.models, self.medians);
        }
        report
    }
}

/// The parts of the report asked for (the others stay empty), in one
/// snapshot, shared between `conn` and `other` when there is one.
pub async fn report_parts_on(
    conn: &mut AsyncPgConnection,
    other: Option<&mut AsyncPgConnection>,
    q: &ReportQuery,
    parts: &[Part],
) -> QueryResult<Report> {
    let mut sorted = pieces_of(parts);
    sorted.sort_by_key(|p| std::cmp::Reverse(cost(*p)));
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (0, 0);
    for piece in sorted {
        if other.is_some() && b < a {
            b += cost(piece);
            theirs.push(piece);
        } else {
            a += cost(piece);
            mine.push(piece);
        }
    }
    // A single piece needs no second transaction.
    let other = if theirs.is_empty() { None } else { other };
    let (Done::Parts(mut r), Done::Parts(mut s)) = in_one_snapshot(
        conn,
        other,
        Job::Parts(q, mine),
        Job::Parts(q, theirs.clone()),
    )
    .await?
    else {
        return Err(unexpected());
    };
    for piece in &theirs {
        r.take(&mut s, *piece);
    }
    Ok(r.finish(parts))
}

/// The parts of the report asked for (the others stay empty).
pub async fn report_parts(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    parts: &[Part],
) -> QueryResult<Report> {
    report_parts_on(conn, None, q, parts).await
}

/// What the overview reads: its tables, the headline numbers now and in
/// the period before (`before`), and the searches of both.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// Volume, mix, links by week, the link total and the searches.
    pub report: Report,
    pub headline: Headline,
    pub previous: Headline,
    pub previous_searches: SearchRow,
}

pub async fn overview(
    conn: &mut AsyncPgConnection,
    other: Option<&mut AsyncPgConnection>,
    q: &ReportQuery,
    before: &ReportQuery,
) -> QueryResult<Overview> {
    // The resolved tickets' counts, now and before, on one connection;
    // the opened tickets' counts, now and before, and both periods'
    // searches on the other: about half of the work each.
    let (
        Done::Overview(resolved, mut previous),
        Done::Trends(opened, previous_opened, searches, previous_searches),
    ) = in_one_snapshot(
        conn,
        other,
        Job::Overview(q, before),
        Job::Trends(q, before),
    )
    .await?
    else {
        return Err(unexpected());
    };
    previous.add_side(previous_opened, Side::Opened);
    let mut sum = OverviewSum::default();
    sum.add(resolved, Side::Resolved);
    sum.add(opened, Side::Opened);
    let (volume, mix, links_by_week, headline) = sum.tables();
    let report = Report {
        volume,
        mix,
        links_by_week,
        links_total: headline.links.clone(),
        searches,
        ..Report::default()
    };
    Ok(Overview {
        report,
        headline,
        previous,
        previous_searches,
    })
}

async fn pieces_in(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    pieces: &[Piece],
) -> QueryResult<Read> {
    let mut read = Read::default();
    for piece in pieces {
        let part = match piece {
            Piece::Resolution(by) => {
                let rows = resolution_by(conn, q, *by).await?;
                read.report.resolution.extend(rows);
                continue;
            }
            Piece::Models => {
                read.report.models = models_main(conn, q).await?;
                continue;
            }
            Piece::ModelMedians => {
                read.medians = model_medians(conn, q).await?;
                continue;
            }
            Piece::Part(part) => part,
        };
        let r = &mut read.report;
        match part {
            Part::Volume => r.volume = volume(conn, q).await?,
            Part::Mix => r.mix = mix(conn, q).await?,
            Part::Links => {
                r.links_total = links(conn, q, LinkGroup::Total)
                    .await?
                    .into_iter()
                    .next()
                    .unwrap_or_default();
            }
            Part::LinksByCategory => {
                r.links_by_category = links(conn, q, LinkGroup::Category).await?
            }
            Part::LinksByWeek => r.links_by_week = links(conn, q, LinkGroup::Week).await?,
            Part::LinksByTriager => r.links_by_triager = links(conn, q, LinkGroup::Triager).await?,
            Part::Gaps => r.gaps = gaps(conn, q).await?,
            Part::Models => r.models = models(conn, q).await?,
            Part::Resolution => r.resolution = resolution(conn, q).await?,
            Part::Triage => r.triage = triage(conn, q).await?,
            Part::TriageByRota => r.triage_by_rota = triage_by_rota(conn, q).await?,
            Part::TriageReviews => r.triage_reviews = triage_reviews(conn, q).await?,
            Part::Searches => r.searches = searches(conn, q).await?,
            Part::SearchWords => r.empty_words = empty_words(conn, q).await?,
        }
    }
    Ok(read)
}

/// Every measure of one query.
pub async fn report(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Report> {
    report_parts(conn, q, &Part::ALL).await
}
