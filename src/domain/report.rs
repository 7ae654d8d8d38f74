//! The managers' measures, defined once in words here and computed twice:
//! by SQL aggregates in `db::reports` (what the pages use) and by the plain
//! Rust reference in [`reference`] (what the tests hold the SQL to). Both
//! answer with the same row types, so a test compares them with `==`.
//!
//! The words every measure shares:
//!
//! - **Counted tickets**: not excluded from metrics, and matching the
//!   filters (category, priority, organization, assignee).
//! - **Opened in the period**: created at or after `from`, before `to`.
//! - **Resolved in the period**: not a duplicate, now resolved or closed, and
//!   its *last* move to "resolved" lies in the period (a reopened ticket
//!   counts once, when it was finally resolved; one still open again does
//!   not count).
//! - **Best outcome** of a ticket: over all its links, resolved by a model >
//!   helped partly > no model fits > no link at all. A ticket linked twice
//!   counts once. **Linked**: its best outcome names a model (resolved or
//!   partly), whether or not the model is retired since.
//! - **Period** and **week**: in the viewer's zone, an IANA name
//!   (timestamps are stored in UTC): a day starts at local midnight (23 or
//!   25 hours across a daylight-saving change), a week is Monday to Sunday
//!   local time and is named by its Monday.
//! - **Median / p90**: the discrete percentile (PostgreSQL's
//!   `percentile_disc`): the first value whose cumulative share reaches p.

pub mod draft;
pub mod period;
pub mod reference;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use period::{Filters, Period, ReportQuery};

/// Models not used for this long are candidates to retire.
pub const RETIRE_AFTER_DAYS: i64 = 180;
/// A model not verified within this many days is stale (configurable per
/// request as `verify_by`).
pub const DEFAULT_VERIFY_BY_DAYS: i64 = 180;
/// How many rows of the gap report and of the search words are kept.
pub const GAP_ROWS: i64 = 100;
pub const WORD_ROWS: i64 = 20;
pub const EXAMPLES: usize = 3;

/// Opened and resolved tickets in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VolumeRow {
    pub week: NaiveDate,
    pub opened: i64,
    pub resolved: i64,
}

/// Opened and resolved tickets of one priority and category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MixRow {
    pub priority: i16,
    pub category: String,
    pub opened: i64,
    pub resolved: i64,
}

/// Resolved tickets of one group by their best outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Default)]
pub struct LinkRow {
    pub group: String,
    pub resolved: i64,
    pub by_model: i64,
    pub partly: i64,
    pub no_fit: i64,
    pub no_link: i64,
}

impl LinkRow {
    /// Share of resolved tickets with at least one model link.
    pub fn link_rate(&self) -> Option<f64> {
        ratio(self.by_model + self.partly, self.resolved)
    }
}

/// Resolved tickets of one category and (case-insensitive) title whose
/// best outcome is "no model fits" or no link at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GapRow {
    pub category: String,
    pub title: String,
    pub tickets: i64,
    pub no_fit: i64,
    pub no_link: i64,
    /// The lowest ticket numbers, at most [`EXAMPLES`].
    pub examples: Vec<i64>,
}

/// One incident model's use and health. Uses count distinct counted
/// tickets with a link to the model made before the end of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ModelRow {
    pub key: String,
    pub title: String,
    pub category: String,
    pub status: String,
    pub owner: Option<String>,
    pub uses_period: i64,
    pub uses_all: i64,
    pub resolved_period: i64,
    pub partial_period: i64,
    pub last_used: Option<DateTime<Utc>>,
    /// Median time to resolve of its tickets resolved in the period.
    pub median_secs: Option<i64>,
    /// The same for tickets of its category resolved in the period
    /// without any model link.
    pub category_median_secs: Option<i64>,
    /// Escalations in the period, answered "followed the model: yes", on a
    /// ticket after it was linked to this model.
    pub escalations_after: i64,
    pub days_since_verified: Option<i64>,
    /// Not retired, and not verified within `verify_by` days of the end.
    pub stale: bool,
    /// Not retired, at least 180 days old and unused for 180 days.
    pub retire_candidate: bool,
    /// partly-helped uses + escalations after it + (if stale) its uses in
    /// the period: failing and stale models that are used a lot first.
    pub attention: i64,
    /// Its improvement items open now (open or in progress), whatever the
    /// period.
    pub open_items: i64,
}

/// Resolved tickets with or without a model link, per priority or category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ResolutionRow {
    /// "category" or "priority".
    pub dimension: String,
    pub value: String,
    pub with_model: bool,
    pub tickets: i64,
    /// Tickets with at least one escalation.
    pub escalated: i64,
    /// Tickets that went from resolved back to in progress.
    pub reopened: i64,
    pub median_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

/// Triage of the tickets opened in one week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TriageRow {
    pub week: NaiveDate,
    pub opened: i64,
    /// Tickets with a move to "triaged"; times to the first such move.
    pub triaged: i64,
    pub triage_median_secs: Option<i64>,
    pub triage_p90_secs: Option<i64>,
    /// Tickets with a public reply by the team; times to the first.
    pub replied: i64,
    pub reply_median_secs: Option<i64>,
    pub reply_p90_secs: Option<i64>,
    pub duplicates: i64,
    /// Recorded triage searches on these tickets.
    pub searches: i64,
}

/// Triage of the tickets opened in the period, by the rota holder of the
/// week each was opened in (the Monday of its day in the viewer's zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TriageRotaRow {
    /// "(no rota)" for weeks nobody held.
    pub triager: String,
    pub triager_id: Option<i64>,
    pub opened: i64,
    pub triaged: i64,
    /// Tickets whose first move to triaged the rota holder made.
    pub by_holder: i64,
    pub triage_median_secs: Option<i64>,
    pub triage_p90_secs: Option<i64>,
    pub replied: i64,
    pub reply_median_secs: Option<i64>,
    pub reply_p90_secs: Option<i64>,
}

/// Sampled triage reviews of counted tickets opened in the period, by rota
/// week and triager: the week's score is the mean of its reviews' scores,
/// rounded (`domain::rota::week_score`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TriageReviewRow {
    pub week: NaiveDate,
    pub triager: String,
    pub reviews: i64,
    pub score: Option<i64>,
}

/// Recorded triage searches made in the period on counted tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, Default)]
pub struct SearchRow {
    pub searches: i64,
    /// Searches that returned nothing.
    pub empty: i64,
    /// Searches a model was linked from, by the rank of the picked result.
    pub picked: i64,
    pub rank_1: i64,
    pub rank_2_3: i64,
    pub rank_4_plus: i64,
    pub not_listed: i64,
}

/// A word of searches that found nothing, and how often it was searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WordRow {
    pub word: String,
    pub count: i64,
}

/// Every measure of one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Report {
    pub volume: Vec<VolumeRow>,
    pub mix: Vec<MixRow>,
    pub links_total: LinkRow,
    pub links_by_category: Vec<LinkRow>,
    pub links_by_week: Vec<LinkRow>,
    pub links_by_triager: Vec<LinkRow>,
    pub gaps: Vec<GapRow>,
    pub models: Vec<ModelRow>,
    pub resolution: Vec<ResolutionRow>,
    pub triage: Vec<TriageRow>,
    pub triage_by_rota: Vec<TriageRotaRow>,
    pub triage_reviews: Vec<TriageReviewRow>,
    pub searches: SearchRow,
    pub empty_words: Vec<WordRow>,
}

/// Resolved tickets of one side (with or without a model): how many, how
/// many were escalated, how many reopened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub tickets: i64,
    pub escalated: i64,
    pub reopened: i64,
}

/// What the overview shows of the link, resolution and triage tables:
/// their totals. Defined by [`Headline::of`] from the full tables; the SQL
/// reads them in one pass, without the tables' percentiles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headline {
    /// The link table's total row.
    pub links: LinkRow,
    pub with_model: Totals,
    pub without_model: Totals,
    /// Tickets opened in the period, those closed as duplicates, and the
    /// searches recorded on them (sums of the triage table).
    pub opened: i64,
    pub duplicates: i64,
    pub searches: i64,
}

impl Headline {
    /// The totals of a report's tables: each resolved ticket is in exactly
    /// one priority row of the resolution table, each opened ticket in
    /// exactly one week of the triage table.
    pub fn of(r: &Report) -> Self {
        let side = |with: bool| {
            r.resolution
                .iter()
                .filter(|x| x.dimension == "priority" && x.with_model == with)
                .fold(Totals::default(), |t, x| Totals {
                    tickets: t.tickets + x.tickets,
                    escalated: t.escalated + x.escalated,
                    reopened: t.reopened + x.reopened,
                })
        };
        let (opened, duplicates, searches) = r.triage.iter().fold((0, 0, 0), |(o, d, s), w| {
            (o + w.opened, d + w.duplicates, s + w.searches)
        });
        Self {
            links: LinkRow {
                group: String::new(),
                ..r.links_total.clone()
            },
            with_model: side(true),
            without_model: side(false),
            opened,
            duplicates,
            searches,
        }
    }
}

/// One table of the report: what a page shows, CSV and JSON export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Volume,
    Mix,
    Links,
    LinksByCategory,
    LinksByWeek,
    LinksByTriager,
    Gaps,
    Models,
    Resolution,
    Triage,
    TriageByRota,
    TriageReviews,
    Searches,
    SearchWords,
}

impl Part {
    pub const ALL: [Part; 14] = [
        Part::Volume,
        Part::Mix,
        Part::Links,
        Part::LinksByCategory,
        Part::LinksByWeek,
        Part::LinksByTriager,
        Part::Gaps,
        Part::Models,
        Part::Resolution,
        Part::Triage,
        Part::TriageByRota,
        Part::TriageReviews,
        Part::Searches,
        Part::SearchWords,
    ];

    /// The name in export paths: `/api/v1/reports/{name}`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Volume => "volume",
            Part::Mix => "mix",
            Part::Links => "links",
            Part::LinksByCategory => "links-by-category",
            Part::LinksByWeek => "links-by-week",
            Part::LinksByTriager => "links-by-triager",
            Part::Gaps => "gaps",
            Part::Models => "models",
            Part::Resolution => "resolution",
            Part::Triage => "triage",
            Part::TriageByRota => "triage-by-rota",
            Part::TriageReviews => "triage-reviews",
            Part::Searches => "searches",
            Part::SearchWords => "search-words",
        }
    }

    pub fn from_name(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }
}

pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The discrete percentile, as PostgreSQL's `percentile_disc(p)`: the
/// value at position ceil(p × n) of the sorted values.
pub fn percentile_disc(values: &mut [i64], p: f64) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    let rank = (p * n as f64).ceil() as usize;
    Some(values[rank.clamp(1, n) - 1])
}

/// Whole seconds from `a` to `b` (floored, as the SQL does).
pub fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    (b - a)
        .num_microseconds()
        .map_or(i64::MAX, |us| us.div_euclid(1_000_000))
}

/// "3 h 20 min", "2 d 4 h", "45 s": a duration for people.
pub fn human_secs(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min")
    } else {
        format!("{secs} s")
    }
}

pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{:.0}%", r * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_discrete() {
        assert_eq!(percentile_disc(&mut [], 0.5), None);
        assert_eq!(percentile_disc(&mut [7], 0.9), Some(7));
        assert_eq!(percentile_disc(&mut [4, 1, 3, 2], 0.5), Some(2));
        let mut ten: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(percentile_disc(&mut ten, 0.9), Some(9));
        let mut eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile_disc(&mut eleven, 0.9), Some(10));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human_secs(45), "45 s");
        assert_eq!(human_secs(3 * 3600 + 20 * 60), "3 h 20 min");
        assert_eq!(human_secs(2 * 86_400 + 4 * 3600), "2 d 4 h");
    }
}
