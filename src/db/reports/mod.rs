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

pub use exclusions::{Exclusion, exclude, exclusions, include, is_excluded};
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
    GAP_ROWS, GapRow, LinkRow, MixRow, ModelRow, Part, RETIRE_AFTER_DAYS, Report, ReportQuery,
    ResolutionRow, SearchRow, TriageReviewRow, TriageRotaRow, TriageRow, VolumeRow, WORD_ROWS,
    WordRow,
};

/// Counted tickets (alias `f`, a row of `ticket_report_facts`): not
/// excluded, matching the filters.
const COUNTED: &str = "NOT f.excluded
    AND ($4::text IS NULL OR f.category = $4)
    AND ($5::int2 IS NULL OR f.priority = $5)
    AND ($6::int8 IS NULL OR f.organization_id = $6)
    AND ($7::int8 IS NULL OR f.assignee_id = $7)";

/// The Monday of a time's date in the viewer's zone (a `timestamptz` `AT
/// TIME ZONE` a name is its local time there, daylight saving included).
fn week(expr: &str) -> String {
    format!("(date_trunc('week', {expr} AT TIME ZONE $3))::date")
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

pub async fn volume(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<VolumeRow>> {
    let sql = format!(
        "WITH {r},
         {o},
         ow AS (SELECT {wo} AS wk, count(*) AS n FROM o GROUP BY 1),
         rw AS (SELECT {wr} AS wk, count(*) AS n FROM rb GROUP BY 1)
         SELECT COALESCE(ow.wk, rw.wk) AS week, COALESCE(ow.n, 0) AS opened, COALESCE(rw.n, 0) AS resolved
         FROM ow FULL JOIN rw ON ow.wk = rw.wk ORDER BY 1",
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
        LinkGroup::Week => (
            format!("to_char({}, 'YYYY-MM-DD')", week("rb.resolved_at")),
            "GROUP BY 1",
        ),
        LinkGroup::Triager => (
            "COALESCE(us.display_name, '(not triaged)')".to_owned(),
            "GROUP BY 1",
        ),
    };
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
        "WITH {r}
         SELECT * FROM (
            SELECT category, title_key AS title, count(*) AS tickets,
                   count(*) FILTER (WHERE best = 1) AS no_fit,
                   count(*) FILTER (WHERE best IS NULL) AS no_link,
                   (array_agg(id ORDER BY id))[1:{examples}] AS examples
            FROM rb WHERE best IS NULL OR best = 1
            GROUP BY 1, 2
         ) x ORDER BY tickets DESC, category COLLATE \"C\", title COLLATE \"C\" LIMIT {GAP_ROWS}",
        r = resolved_ctes(),
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

pub async fn models(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<ModelRow>> {
    let retire = RETIRE_AFTER_DAYS * 86_400;
    let sql = format!(
        "WITH ml AS (
            SELECT tm.model_id, tm.ticket_id, tm.outcome, tm.created_at
            FROM ticket_models tm JOIN ticket_report_facts f ON f.ticket_id = tm.ticket_id
            WHERE tm.model_id IS NOT NULL AND tm.created_at < $2 AND {COUNTED}
         ),
         {r},
         nolink AS (
            SELECT rb.category, percentile_disc(0.5) WITHIN GROUP (ORDER BY rb.secs) AS med
            FROM rb WHERE COALESCE(rb.best, 0) < 2 GROUP BY rb.category
         ),
         per_model AS (
            SELECT model_id,
                   count(DISTINCT ticket_id) FILTER (WHERE created_at >= $1) AS uses_period,
                   count(DISTINCT ticket_id) AS uses_all,
                   count(DISTINCT ticket_id) FILTER (WHERE created_at >= $1 AND outcome = 'resolved') AS resolved_period,
                   count(DISTINCT ticket_id) FILTER (WHERE created_at >= $1 AND outcome = 'partial') AS partial_period,
                   max(created_at) AS last_used
            FROM ml GROUP BY model_id
         ),
         first_link AS (
            SELECT model_id, ticket_id, min(created_at) AS first_at FROM ml GROUP BY model_id, ticket_id
         ),
         esc AS (
            SELECT fl.model_id, count(*) AS n
            FROM escalations e JOIN first_link fl ON fl.ticket_id = e.ticket_id
            WHERE e.followed_model = 'yes' AND e.created_at >= $1 AND e.created_at < $2
              AND e.created_at >= fl.first_at
            GROUP BY fl.model_id
         ),
         med AS (
            SELECT x.model_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY rb.secs) AS med
            FROM rb JOIN (SELECT DISTINCT tm.ticket_id, tm.model_id FROM ticket_models tm
                          WHERE tm.model_id IS NOT NULL AND tm.ticket_id IN (SELECT id FROM rb)) x
                 ON x.ticket_id = rb.id
            GROUP BY x.model_id
         ),
         u AS (
            SELECT m.key, m.title, m.category, m.status, ow.display_name AS owner,
                   m.verified_at, m.created_at,
                   COALESCE(pm.uses_period, 0) AS uses_period,
                   COALESCE(pm.uses_all, 0) AS uses_all,
                   COALESCE(pm.resolved_period, 0) AS resolved_period,
                   COALESCE(pm.partial_period, 0) AS partial_period,
                   pm.last_used,
                   med.med AS median_secs,
                   nolink.med AS category_median_secs,
                   COALESCE(esc.n, 0) AS escalations_after,
                   COALESCE(oi.n, 0) AS open_items
            FROM incident_models m
            LEFT JOIN users ow ON ow.id = m.owner_id
            LEFT JOIN per_model pm ON pm.model_id = m.id
            LEFT JOIN med ON med.model_id = m.id
            LEFT JOIN nolink ON nolink.category = m.category
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
                partial_period, last_used, median_secs, category_median_secs, escalations_after,
                floor(extract(epoch FROM $2 - verified_at) / 86400)::int8 AS days_since_verified,
                stale, retire_candidate,
                partial_period + escalations_after + CASE WHEN stale THEN uses_period ELSE 0 END AS attention,
                open_items
         FROM s ORDER BY attention DESC, uses_period DESC, key COLLATE \"C\"",
        r = resolved_ctes(),
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
            median_secs: r.median_secs,
            category_median_secs: r.category_median_secs,
            escalations_after: r.escalations_after,
            days_since_verified: r.days_since_verified,
            stale: r.stale,
            retire_candidate: r.retire_candidate,
            attention: r.attention,
            open_items: r.open_items,
        })
        .collect())
}

pub async fn resolution(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<ResolutionRow>> {
    let agg = "with_model, count(*) AS tickets,
               count(*) FILTER (WHERE esc) AS escalated,
               count(*) FILTER (WHERE back) AS reopened,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY secs) AS median_secs,
               percentile_disc(0.9) WITHIN GROUP (ORDER BY secs) AS p90_secs";
    let sql = format!(
        "WITH {r},
         f AS (
            SELECT rb.*, COALESCE(rb.best, 0) >= 2 AS with_model,
                   rb.escalations > 0 AS esc, rb.reopens > 0 AS back
            FROM rb
         )
         SELECT * FROM (
            SELECT 'category'::text AS dimension, category AS value, {agg} FROM f GROUP BY category, with_model
            UNION ALL
            SELECT 'priority'::text, 'P' || priority, {agg} FROM f GROUP BY priority, with_model
         ) x ORDER BY dimension COLLATE \"C\", value COLLATE \"C\", with_model",
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

pub async fn triage(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Vec<TriageRow>> {
    let sql = format!(
        "WITH {o},
         x AS (SELECT o.*, {wk} AS wk FROM o)
         SELECT wk AS week, count(*) AS opened,
                count(triage_secs) AS triaged,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY triage_secs) AS triage_median_secs,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY triage_secs) AS triage_p90_secs,
                count(reply_secs) AS replied,
                percentile_disc(0.5) WITHIN GROUP (ORDER BY reply_secs) AS reply_median_secs,
                percentile_disc(0.9) WITHIN GROUP (ORDER BY reply_secs) AS reply_p90_secs,
                count(*) FILTER (WHERE duplicate) AS duplicates,
                sum(searches)::int8 AS searches
         FROM x GROUP BY wk ORDER BY wk",
        o = opened_cte(),
        wk = week("o.opened_at"),
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

pub async fn triage_by_rota(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
) -> QueryResult<Vec<TriageRotaRow>> {
    let sql = format!(
        "WITH {o},
         x AS (SELECT o.*, rw.triager_id AS holder FROM o
               LEFT JOIN rota_weeks rw ON rw.week_start = {wk})
         SELECT * FROM (
            SELECT CASE WHEN x.holder IS NULL THEN '(no rota)' ELSE COALESCE(min(us.display_name), '') END AS triager,
                   x.holder AS triager_id, count(*) AS opened,
                   count(x.triage_secs) AS triaged,
                   count(*) FILTER (WHERE x.triaged_by = x.holder) AS by_holder,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY x.triage_secs) AS triage_median_secs,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY x.triage_secs) AS triage_p90_secs,
                   count(x.reply_secs) AS replied,
                   percentile_disc(0.5) WITHIN GROUP (ORDER BY x.reply_secs) AS reply_median_secs,
                   percentile_disc(0.9) WITHIN GROUP (ORDER BY x.reply_secs) AS reply_p90_secs
            FROM x LEFT JOIN users us ON us.id = x.holder
            GROUP BY x.holder
         ) y ORDER BY triager COLLATE \"C\", COALESCE(triager_id, 0)",
        o = opened_cte(),
        wk = week("o.opened_at"),
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
    let sql = format!(
        "WITH {o}
         SELECT * FROM (
            SELECT tr.week_start AS week, COALESCE(us.display_name, '') AS triager, count(*) AS reviews,
                   (sum(tr.score) * 2 + count(tr.score)) / NULLIF(2 * count(tr.score), 0) AS score
            FROM triage_reviews tr JOIN o ON o.ticket_id = tr.ticket_id
            LEFT JOIN users us ON us.id = tr.triager_id
            GROUP BY 1, 2
         ) y ORDER BY week, triager COLLATE \"C\"",
        o = opened_cte(),
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

/// Recorded searches of counted tickets made in the period.
const SEARCHES: &str = "s AS (
    SELECT s.query, s.picked,
           CASE WHEN jsonb_typeof(s.results) = 'array' THEN s.results ELSE '[]'::jsonb END AS results
    FROM triage_searches s JOIN ticket_report_facts f ON f.ticket_id = s.ticket_id
    WHERE s.created_at >= $1 AND s.created_at < $2 AND ";

pub async fn searches(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<SearchRow> {
    let sql = format!(
        "WITH {SEARCHES}{COUNTED}),
         k AS (
            SELECT s.picked, jsonb_array_length(s.results) AS n,
                   (SELECT min(e.ord) FROM jsonb_array_elements(s.results) WITH ORDINALITY AS e(v, ord)
                    WHERE e.v ->> 'key' = s.picked) AS rank
            FROM s
         )
         SELECT count(*) AS searches, count(*) FILTER (WHERE n = 0) AS empty,
                count(picked) AS picked,
                count(*) FILTER (WHERE rank = 1) AS rank_1,
                count(*) FILTER (WHERE rank BETWEEN 2 AND 3) AS rank_2_3,
                count(*) FILTER (WHERE rank >= 4) AS rank_4_plus,
                count(*) FILTER (WHERE picked IS NOT NULL AND rank IS NULL) AS not_listed
         FROM k"
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
        "WITH {SEARCHES}{COUNTED})
         SELECT * FROM (
            SELECT w AS word, count(*) AS count
            FROM s, regexp_split_to_table(lower(s.query), '[^a-z0-9]+') AS w
            WHERE jsonb_array_length(s.results) = 0 AND length(w) >= 3
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

/// The parts of the report asked for (the others stay empty).
pub async fn report_parts(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    parts: &[Part],
) -> QueryResult<Report> {
    let q = q.clone();
    let parts = parts.to_vec();
    conn.transaction(async move |conn| {
        // One snapshot for every table of a page, so its numbers add up;
        // and no JIT: the planner's estimates for these joins are far too
        // high, and compiling the plan took 0.8 s of a 0.85 s query.
        diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(conn)
            .await?;
        diesel::sql_query("SET LOCAL jit = off")
            .execute(conn)
            .await?;
        parts_in(conn, &q, &parts).await
    })
    .await
}

async fn parts_in(
    conn: &mut AsyncPgConnection,
    q: &ReportQuery,
    parts: &[Part],
) -> QueryResult<Report> {
    let mut r = Report::default();
    for part in parts {
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
    Ok(r)
}

/// Every measure of one query.
pub async fn report(conn: &mut AsyncPgConnection, q: &ReportQuery) -> QueryResult<Report> {
    report_parts(conn, q, &Part::ALL).await
}
