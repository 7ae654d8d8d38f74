//! Every report table as CSV and JSON: the same rows the pages show, with
//! times in whole seconds and rates as fractions, so a spreadsheet or a
//! script gets exact numbers.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};

use crate::domain::report::period::Filters;
use crate::domain::report::{
    GapRow, LinkRow, MixRow, ModelRow, Part, Report, ReportQuery, ResolutionRow, SearchRow,
    TriageReviewRow, TriageRotaRow, TriageRow, VolumeRow, WordRow, ratio,
};

pub struct Table {
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn rate(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.4}")).unwrap_or_default()
}

/// The rows of one part as text cells.
pub fn table(report: &Report, part: Part) -> Table {
    let link_cols = vec![
        "group",
        "resolved",
        "by_model",
        "partly",
        "no_fit",
        "no_link",
        "link_rate",
    ];
    let link_rows = |rows: &[crate::domain::report::LinkRow]| {
        rows.iter()
            .map(|r| {
                vec![
                    r.group.clone(),
                    r.resolved.to_string(),
                    r.by_model.to_string(),
                    r.partly.to_string(),
                    r.no_fit.to_string(),
                    r.no_link.to_string(),
                    rate(r.link_rate()),
                ]
            })
            .collect()
    };
    match part {
        Part::Volume => Table {
            columns: vec!["week", "opened", "resolved"],
            rows: report
                .volume
                .iter()
                .map(|r| {
                    vec![
                        r.week.to_string(),
                        r.opened.to_string(),
                        r.resolved.to_string(),
                    ]
                })
                .collect(),
        },
        Part::Mix => Table {
            columns: vec!["priority", "category", "opened", "resolved"],
            rows: report
                .mix
                .iter()
                .map(|r| {
                    vec![
                        format!("P{}", r.priority),
                        r.category.clone(),
                        r.opened.to_string(),
                        r.resolved.to_string(),
                    ]
                })
                .collect(),
        },
        Part::Links => Table {
            columns: link_cols,
            rows: link_rows(std::slice::from_ref(&report.links_total)),
        },
        Part::LinksByCategory => Table {
            columns: link_cols,
            rows: link_rows(&report.links_by_category),
        },
        Part::LinksByWeek => Table {
            columns: link_cols,
            rows: link_rows(&report.links_by_week),
        },
        Part::LinksByTriager => Table {
            columns: link_cols,
            rows: link_rows(&report.links_by_triager),
        },
        Part::Gaps => Table {
            columns: vec![
                "category", "title", "tickets", "no_fit", "no_link", "examples",
            ],
            rows: report
                .gaps
                .iter()
                .map(|r| {
                    vec![
                        r.category.clone(),
                        r.title.clone(),
                        r.tickets.to_string(),
                        r.no_fit.to_string(),
                        r.no_link.to_string(),
                        r.examples
                            .iter()
                            .map(|e| format!("#{e}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect(),
        },
        Part::Models => Table {
            columns: vec![
                "key",
                "title",
                "category",
                "status",
                "owner",
                "uses_period",
                "uses_all",
                "resolved_period",
                "partial_period",
                "last_used",
                "median_secs",
                "category_median_secs",
                "escalations_after",
                "days_since_verified",
                "stale",
                "retire_candidate",
                "attention",
                "open_items",
            ],
            rows: report
                .models
                .iter()
                .map(|r| {
                    vec![
                        r.key.clone(),
                        r.title.clone(),
                        r.category.clone(),
                        r.status.clone(),
                        opt(r.owner.clone()),
                        r.uses_period.to_string(),
                        r.uses_all.to_string(),
                        r.resolved_period.to_string(),
                        r.partial_period.to_string(),
                        opt(r.last_used.map(|t| t.to_rfc3339())),
                        opt(r.median_secs),
                        opt(r.category_median_secs),
                        r.escalations_after.to_string(),
                        opt(r.days_since_verified),
                        r.stale.to_string(),
                        r.retire_candidate.to_string(),
                        r.attention.to_string(),
                        r.open_items.to_string(),
                    ]
                })
                .collect(),
        },
        Part::Resolution => Table {
            columns: vec![
                "dimension",
                "value",
                "with_model",
                "tickets",
                "escalated",
                "reopened",
                "escalation_rate",
                "reopen_rate",
                "median_secs",
                "p90_secs",
            ],
            rows: report
                .resolution
                .iter()
                .map(|r| {
                    vec![
                        r.dimension.clone(),
                        r.value.clone(),
                        r.with_model.to_string(),
                        r.tickets.to_string(),
                        r.escalated.to_string(),
                        r.reopened.to_string(),
                        rate(ratio(r.escalated, r.tickets)),
                        rate(ratio(r.reopened, r.tickets)),
                        opt(r.median_secs),
                        opt(r.p90_secs),
                    ]
                })
                .collect(),
        },
        Part::Triage => Table {
            columns: vec![
                "week",
                "opened",
                "triaged",
                "triage_median_secs",
                "triage_p90_secs",
                "replied",
                "reply_median_secs",
                "reply_p90_secs",
                "duplicates",
                "duplicate_rate",
                "searches",
                "searches_per_ticket",
            ],
            rows: report
                .triage
                .iter()
                .map(|r| {
                    vec![
                        r.week.to_string(),
                        r.opened.to_string(),
                        r.triaged.to_string(),
                        opt(r.triage_median_secs),
                        opt(r.triage_p90_secs),
                        r.replied.to_string(),
                        opt(r.reply_median_secs),
                        opt(r.reply_p90_secs),
                        r.duplicates.to_string(),
                        rate(ratio(r.duplicates, r.opened)),
                        r.searches.to_string(),
                        rate(ratio(r.searches, r.opened)),
                    ]
                })
                .collect(),
        },
        Part::Searches => {
            let s = &report.searches;
            Table {
                columns: vec![
                    "searches",
                    "empty",
                    "picked",
                    "rank_1",
                    "rank_2_3",
                    "rank_4_plus",
                    "not_listed",
                ],
                rows: vec![vec![
                    s.searches.to_string(),
                    s.empty.to_string(),
                    s.picked.to_string(),
                    s.rank_1.to_string(),
                    s.rank_2_3.to_string(),
                    s.rank_4_plus.to_string(),
                    s.not_listed.to_string(),
                ]],
            }
        }
        Part::TriageByRota => Table {
            columns: vec![
                "triager",
                "opened",
                "triaged",
                "by_holder",
                "triage_median_secs",
                "triage_p90_secs",
                "replied",
                "reply_median_secs",
                "reply_p90_secs",
            ],
            rows: report
                .triage_by_rota
                .iter()
                .map(|r| {
                    vec![
                        r.triager.clone(),
                        r.opened.to_string(),
                        r.triaged.to_string(),
                        r.by_holder.to_string(),
                        opt(r.triage_median_secs),
                        opt(r.triage_p90_secs),
                        r.replied.to_string(),
                        opt(r.reply_median_secs),
                        opt(r.reply_p90_secs),
                    ]
                })
                .collect(),
        },
        Part::TriageReviews => Table {
            columns: vec!["week", "triager", "reviews", "score"],
            rows: report
                .triage_reviews
                .iter()
                .map(|r| {
                    vec![
                        r.week.to_string(),
                        r.triager.clone(),
                        r.reviews.to_string(),
                        opt(r.score),
                    ]
                })
                .collect(),
        },
        Part::SearchWords => Table {
            columns: vec!["word", "count"],
            rows: report
                .empty_words
                .iter()
                .map(|r| vec![r.word.clone(), r.count.to_string()])
                .collect(),
        },
    }
}

/// One cell: quoted when it holds a separator, a quote or a line break;
/// a text starting with `=`, `+`, `-` or `@` gets a leading `'` so a
/// spreadsheet does not run it as a formula (numbers are never negative).
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn csv(table: &Table) -> String {
    let mut out = table.columns.join(",");
    out.push_str("\r\n");
    for row in &table.rows {
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The period a report covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodJson {
    /// The first instant counted (RFC 3339).
    pub from: String,
    /// The first instant not counted.
    pub to: String,
    pub first_day: String,
    pub last_day: String,
    /// The zone the days and weeks are in (an IANA name, e.g.
    /// Europe/Berlin).
    pub zone: String,
}

/// One report table as JSON: the query it answers and its rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTable {
    /// The table's name (as in the path).
    pub table: String,
    pub period: PeriodJson,
    pub filters: Filters,
    pub verify_by_days: i64,
    /// The rows; their shape depends on the table.
    pub rows: ReportRows,
}

/// The rows of one table (each table has its own row shape).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ReportRows {
    Volume(Vec<VolumeRow>),
    Mix(Vec<MixRow>),
    Links(Vec<LinkRow>),
    Gaps(Vec<GapRow>),
    Models(Vec<ModelRow>),
    Resolution(Vec<ResolutionRow>),
    Triage(Vec<TriageRow>),
    TriageByRota(Vec<TriageRotaRow>),
    TriageReviews(Vec<TriageReviewRow>),
    Searches(Vec<SearchRow>),
    Words(Vec<WordRow>),
}

/// `anyOf` (not `oneOf`): an empty list is a list of any of the row kinds.
impl utoipa::PartialSchema for ReportRows {
    fn schema() -> RefOr<Schema> {
        let array_of = |name: &str| ArrayBuilder::new().items(Ref::from_schema_name(name));
        AnyOfBuilder::new()
            .item(array_of("VolumeRow"))
            .item(array_of("MixRow"))
            .item(array_of("LinkRow"))
            .item(array_of("GapRow"))
            .item(array_of("ModelRow"))
            .item(array_of("ResolutionRow"))
            .item(array_of("TriageRow"))
            .item(array_of("TriageRotaRow"))
            .item(array_of("TriageReviewRow"))
            .item(array_of("SearchRow"))
            .item(array_of("WordRow"))
            .into()
    }
}

impl ToSchema for ReportRows {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((T::name().into_owned(), T::schema()));
            T::schemas(schemas);
        }
        add::<VolumeRow>(schemas);
        add::<MixRow>(schemas);
        add::<LinkRow>(schemas);
        add::<GapRow>(schemas);
        add::<ModelRow>(schemas);
        add::<ResolutionRow>(schemas);
        add::<TriageRow>(schemas);
        add::<TriageRotaRow>(schemas);
        add::<TriageReviewRow>(schemas);
        add::<SearchRow>(schemas);
        add::<WordRow>(schemas);
    }
}

/// The JSON document of one part.
pub fn json(report: &Report, part: Part, query: &ReportQuery) -> ReportTable {
    let rows = match part {
        Part::Volume => ReportRows::Volume(report.volume.clone()),
        Part::Mix => ReportRows::Mix(report.mix.clone()),
        Part::Links => ReportRows::Links(vec![report.links_total.clone()]),
        Part::LinksByCategory => ReportRows::Links(report.links_by_category.clone()),
        Part::LinksByWeek => ReportRows::Links(report.links_by_week.clone()),
        Part::LinksByTriager => ReportRows::Links(report.links_by_triager.clone()),
        Part::Gaps => ReportRows::Gaps(report.gaps.clone()),
        Part::Models => ReportRows::Models(report.models.clone()),
        Part::Resolution => ReportRows::Resolution(report.resolution.clone()),
        Part::Triage => ReportRows::Triage(report.triage.clone()),
        Part::Searches => ReportRows::Searches(vec![report.searches.clone()]),
        Part::TriageByRota => ReportRows::TriageByRota(report.triage_by_rota.clone()),
        Part::TriageReviews => ReportRows::TriageReviews(report.triage_reviews.clone()),
        Part::SearchWords => ReportRows::Words(report.empty_words.clone()),
    };
    ReportTable {
        table: part.name().to_owned(),
        period: PeriodJson {
            from: query.period.from.to_rfc3339(),
            to: query.period.to.to_rfc3339(),
            first_day: query.period.first_day.to_string(),
            last_day: query.period.last_day.to_string(),
            zone: query.period.zone().to_owned(),
        },
        filters: query.filters.clone(),
        verify_by_days: query.verify_by_days,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=1+1"), "'=1+1");
    }
}
