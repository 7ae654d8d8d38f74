//! Every report table as CSV and JSON: the same rows the pages show, with
//! times in whole seconds and rates as fractions, so a spreadsheet or a
//! script gets exact numbers.

use serde_json::{Value, json};

use crate::domain::report::{Part, Report, ReportQuery, ratio};

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

/// The JSON document of one part: the query it answers and its rows.
pub fn json(report: &Report, part: Part, query: &ReportQuery) -> Value {
    let rows = match part {
        Part::Volume => json!(report.volume),
        Part::Mix => json!(report.mix),
        Part::Links => json!([report.links_total]),
        Part::LinksByCategory => json!(report.links_by_category),
        Part::LinksByWeek => json!(report.links_by_week),
        Part::LinksByTriager => json!(report.links_by_triager),
        Part::Gaps => json!(report.gaps),
        Part::Models => json!(report.models),
        Part::Resolution => json!(report.resolution),
        Part::Triage => json!(report.triage),
        Part::Searches => json!([report.searches]),
        Part::TriageByRota => json!(report.triage_by_rota),
        Part::TriageReviews => json!(report.triage_reviews),
        Part::SearchWords => json!(report.empty_words),
    };
    json!({
        "table": part.name(),
        "period": {
            "from": query.period.from.to_rfc3339(),
            "to": query.period.to.to_rfc3339(),
            "first_day": query.period.first_day.to_string(),
            "last_day": query.period.last_day.to_string(),
            "zone": query.period.zone(),
        },
        "filters": query.filters,
        "verify_by_days": query.verify_by_days,
        "rows": rows,
    })
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
