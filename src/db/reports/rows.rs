//! The rows of the report queries, as PostgreSQL returns them.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, Bool, Date, Int2, Int8, Nullable, Text, Timestamptz};

use crate::domain::report::LinkRow;

#[derive(QueryableByName)]
pub(super) struct VolumeSql {
    #[diesel(sql_type = Date)]
    pub(super) week: NaiveDate,
    #[diesel(sql_type = Int8)]
    pub(super) opened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) resolved: i64,
}

#[derive(QueryableByName)]
pub(super) struct MixSql {
    #[diesel(sql_type = Int2)]
    pub(super) priority: i16,
    #[diesel(sql_type = Text)]
    pub(super) category: String,
    #[diesel(sql_type = Int8)]
    pub(super) opened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) resolved: i64,
}

#[derive(QueryableByName)]
pub(super) struct LinkSql {
    #[diesel(sql_type = Text)]
    pub(super) grp: String,
    #[diesel(sql_type = Int8)]
    pub(super) resolved: i64,
    #[diesel(sql_type = Int8)]
    pub(super) by_model: i64,
    #[diesel(sql_type = Int8)]
    pub(super) partly: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_fit: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_link: i64,
}

impl From<LinkSql> for LinkRow {
    fn from(r: LinkSql) -> Self {
        LinkRow {
            group: r.grp,
            resolved: r.resolved,
            by_model: r.by_model,
            partly: r.partly,
            no_fit: r.no_fit,
            no_link: r.no_link,
        }
    }
}

#[derive(QueryableByName)]
pub(super) struct GapSql {
    #[diesel(sql_type = Text)]
    pub(super) category: String,
    #[diesel(sql_type = Text)]
    pub(super) title: String,
    #[diesel(sql_type = Int8)]
    pub(super) tickets: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_fit: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_link: i64,
    #[diesel(sql_type = Array<Int8>)]
    pub(super) examples: Vec<i64>,
}

#[derive(QueryableByName)]
pub(super) struct ModelSql {
    #[diesel(sql_type = Text)]
    pub(super) key: String,
    #[diesel(sql_type = Text)]
    pub(super) title: String,
    #[diesel(sql_type = Text)]
    pub(super) category: String,
    #[diesel(sql_type = Text)]
    pub(super) status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) owner: Option<String>,
    #[diesel(sql_type = Int8)]
    pub(super) uses_period: i64,
    #[diesel(sql_type = Int8)]
    pub(super) uses_all: i64,
    #[diesel(sql_type = Int8)]
    pub(super) resolved_period: i64,
    #[diesel(sql_type = Int8)]
    pub(super) partial_period: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(super) last_used: Option<DateTime<Utc>>,
    #[diesel(sql_type = Int8)]
    pub(super) escalations_after: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) days_since_verified: Option<i64>,
    #[diesel(sql_type = Bool)]
    pub(super) stale: bool,
    #[diesel(sql_type = Bool)]
    pub(super) retire_candidate: bool,
    #[diesel(sql_type = Int8)]
    pub(super) attention: i64,
    #[diesel(sql_type = Int8)]
    pub(super) open_items: i64,
}

/// A median of model health: `kind` "model" (`name` its key) or
/// "category" (`name` the category).
#[derive(QueryableByName)]
pub(super) struct MedianSql {
    #[diesel(sql_type = Text)]
    pub(super) kind: String,
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) med: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct ResolutionSql {
    #[diesel(sql_type = Text)]
    pub(super) dimension: String,
    #[diesel(sql_type = Text)]
    pub(super) value: String,
    #[diesel(sql_type = Bool)]
    pub(super) with_model: bool,
    #[diesel(sql_type = Int8)]
    pub(super) tickets: i64,
    #[diesel(sql_type = Int8)]
    pub(super) escalated: i64,
    #[diesel(sql_type = Int8)]
    pub(super) reopened: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) median_secs: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) p90_secs: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct TriageSql {
    #[diesel(sql_type = Date)]
    pub(super) week: NaiveDate,
    #[diesel(sql_type = Int8)]
    pub(super) opened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) triaged: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) triage_median_secs: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) triage_p90_secs: Option<i64>,
    #[diesel(sql_type = Int8)]
    pub(super) replied: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) reply_median_secs: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) reply_p90_secs: Option<i64>,
    #[diesel(sql_type = Int8)]
    pub(super) duplicates: i64,
    #[diesel(sql_type = Int8)]
    pub(super) searches: i64,
}

#[derive(QueryableByName)]
pub(super) struct SearchSql {
    #[diesel(sql_type = Int8)]
    pub(super) searches: i64,
    #[diesel(sql_type = Int8)]
    pub(super) empty: i64,
    #[diesel(sql_type = Int8)]
    pub(super) picked: i64,
    #[diesel(sql_type = Int8)]
    pub(super) rank_1: i64,
    #[diesel(sql_type = Int8)]
    pub(super) rank_2_3: i64,
    #[diesel(sql_type = Int8)]
    pub(super) rank_4_plus: i64,
    #[diesel(sql_type = Int8)]
    pub(super) not_listed: i64,
}

#[derive(QueryableByName)]
pub(super) struct WordSql {
    #[diesel(sql_type = Text)]
    pub(super) word: String,
    #[diesel(sql_type = Int8)]
    pub(super) count: i64,
}

#[derive(QueryableByName)]
pub(super) struct TriageRotaSql {
    #[diesel(sql_type = Text)]
    pub(super) triager: String,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) triager_id: Option<i64>,
    #[diesel(sql_type = Int8)]
    pub(super) opened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) triaged: i64,
    #[diesel(sql_type = Int8)]
    pub(super) by_holder: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) triage_median_secs: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) triage_p90_secs: Option<i64>,
    #[diesel(sql_type = Int8)]
    pub(super) replied: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) reply_median_secs: Option<i64>,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) reply_p90_secs: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct TriageReviewSql {
    #[diesel(sql_type = Date)]
    pub(super) week: NaiveDate,
    #[diesel(sql_type = Text)]
    pub(super) triager: String,
    #[diesel(sql_type = Int8)]
    pub(super) reviews: i64,
    #[diesel(sql_type = Nullable<Int8>)]
    pub(super) score: Option<i64>,
}

#[derive(QueryableByName)]
pub(super) struct HeadlineSql {
    #[diesel(sql_type = Int8)]
    pub(super) resolved: i64,
    #[diesel(sql_type = Int8)]
    pub(super) by_model: i64,
    #[diesel(sql_type = Int8)]
    pub(super) partly: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_fit: i64,
    #[diesel(sql_type = Int8)]
    pub(super) no_link: i64,
    #[diesel(sql_type = Int8)]
    pub(super) with_tickets: i64,
    #[diesel(sql_type = Int8)]
    pub(super) with_escalated: i64,
    #[diesel(sql_type = Int8)]
    pub(super) with_reopened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) without_tickets: i64,
    #[diesel(sql_type = Int8)]
    pub(super) without_escalated: i64,
    #[diesel(sql_type = Int8)]
    pub(super) without_reopened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) opened: i64,
    #[diesel(sql_type = Int8)]
    pub(super) duplicates: i64,
    #[diesel(sql_type = Int8)]
    pub(super) searches: i64,
}

/// A row of the overview's tables read in one query (`tbl` says which:
/// volume, mix, links by week, or the headline's one row); the columns a
/// table does not use are NULL or 0.
#[derive(QueryableByName)]
pub(super) struct OverviewSql {
    #[diesel(sql_type = Text)]
    pub(super) tbl: String,
    #[diesel(sql_type = Nullable<Date>)]
    pub(super) week: Option<NaiveDate>,
    #[diesel(sql_type = Nullable<Int2>)]
    pub(super) priority: Option<i16>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(super) category: Option<String>,
    /// The counts, named as the headline's (a table reads those it has).
    #[diesel(embed)]
    pub(super) n: HeadlineSql,
}
