//! How journal entries and tickets are shown: one view type used by the
//! ticket page, the live stream and the JSON API.

use askama::Template;
use serde_json::Value;

use crate::db::journal::EntryRow;
use crate::domain::ticket::Status;
use crate::markdown::{self, SafeHtml};

#[derive(Template)]
#[template(path = "tickets/_entry.html")]
pub struct EntryView {
    pub id: i64,
    pub kind: String,
    pub public: bool,
    pub author: String,
    pub staff_author: bool,
    pub at: String,
    pub body: SafeHtml,
    /// What an event entry says happened ("changed the status to …").
    pub event: String,
    pub ticket_id: i64,
    /// Files attached with this entry (on the ticket page or the API).
    pub files: Vec<FileLink>,
}

/// A file an entry carries, linked to its download.
pub struct FileLink {
    pub id: i64,
    pub name: String,
    pub size: String,
}

/// The files an upload's entry lists in its `data`.
fn files_of(data: &Value) -> Vec<FileLink> {
    data.get("attachments")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| {
                    Some(FileLink {
                        id: f.get("id")?.as_i64()?,
                        name: f.get("filename")?.as_str()?.to_owned(),
                        size: crate::domain::attachment::human_size(
                            f.get("size").and_then(Value::as_u64).unwrap_or(0),
                        ),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

fn status_label(value: &Value) -> String {
    value
        .as_str()
        .and_then(|s| s.parse::<Status>().ok())
        .map(|s| s.label().to_owned())
        .unwrap_or_default()
}

impl EntryView {
    pub fn of(row: &EntryRow) -> Self {
        let e = &row.entry;
        let d = &e.data;
        let text = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let event = match e.kind.as_str() {
            "status_change" => format!(
                "changed the status from {} to {}",
                status_label(&d["from"]),
                status_label(&d["to"])
            ),
            "assignment" => match d.get("assignee").and_then(Value::as_str) {
                Some(name) => format!("assigned the ticket to {name}"),
                None => "unassigned the ticket".to_owned(),
            },
            "model_link" => match d.get("model").and_then(Value::as_str) {
                Some(key) if d.get("unlinked").is_some() => format!(
                    "unlinked model {key} ({}), which was “{}”",
                    text("title"),
                    outcome_label(&text("previous_outcome"))
                ),
                Some(key) if d.get("previous_outcome").is_some_and(|v| !v.is_null()) => format!(
                    "changed the outcome of model {key} (revision {}) from “{}” to “{}”",
                    d["revision"],
                    outcome_label(&text("previous_outcome")),
                    outcome_label(&text("outcome"))
                ),
                Some(key) => format!(
                    "linked model {key} ({}) at revision {}: {}",
                    text("title"),
                    d["revision"],
                    outcome_label(&text("outcome"))
                ),
                None => "recorded that no model fits".to_owned(),
            },
            "escalation" => format!("escalated to {}", text("to")),
            "system" => match (d.get("duplicate_of"), d.get("duplicate")) {
                _ if d.get("alert").is_some() => alert_event(d),
                (Some(of), _) => format!("closed this ticket as a duplicate of #{of}"),
                (_, Some(dup)) => format!(
                    "marked #{dup} ({}) as a duplicate of this ticket",
                    text("title")
                ),
                _ => String::new(),
            },
            "edit" => edit_event(&text("field"), &text("from"), &text("to")),
            "step" => format!(
                "{} step {} of {}: {}",
                if d["done"].as_bool() == Some(true) {
                    "ticked"
                } else {
                    "unticked"
                },
                d["step"],
                text("model"),
                text("text")
            ),
            "triage" if d["on_arrival"].as_bool() == Some(true) => format!(
                "suggested models on arrival for “{}” ({} results)",
                text("query"),
                d["results"]
            ),
            "triage" => format!(
                "searched the models for “{}” ({} results)",
                text("query"),
                d["results"]
            ),
            _ => String::new(),
        };
        Self {
            id: e.id,
            kind: e.kind.clone(),
            public: e.is_public(),
            author: row.author.clone().unwrap_or_else(|| "Casebook".to_owned()),
            staff_author: row.author_role.as_deref().is_some_and(|r| r != "customer"),
            at: e.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            body: markdown::render_entry(&e.body),
            event,
            ticket_id: e.ticket_id,
            files: files_of(d),
        }
    }
}

/// What an alert did to its ticket (entries of the alert intake).
fn alert_event(d: &Value) -> String {
    let fingerprint = d["fingerprint"].as_str().unwrap_or_default();
    match d["alert"].as_str().unwrap_or_default() {
        "opened" => format!(
            "opened this ticket from alert {fingerprint} ({})",
            d["integration"].as_str().unwrap_or_default()
        ),
        "fired_again" => format!("alert {fingerprint} fired again (count {})", d["count"]),
        "resolved" => format!("alert {fingerprint} resolved"),
        other => format!("alert {fingerprint}: {other}"),
    }
}

/// "changed the priority from P3 to P1"; a description is long, so only
/// the start of the earlier text is quoted.
fn edit_event(field: &str, from: &str, to: &str) -> String {
    let short = |t: &str| {
        let mut s: String = t.chars().take(120).collect();
        if t.chars().count() > 120 {
            s.push('…');
        }
        if s.is_empty() {
            "(empty)".to_owned()
        } else {
            format!("“{s}”")
        }
    };
    if field == "description" {
        return format!("edited the description (it was {})", short(from));
    }
    format!("changed the {field} from {} to {}", short(from), short(to))
}

pub fn outcome_label(outcome: &str) -> &'static str {
    outcome
        .parse::<crate::domain::ticket::Outcome>()
        .map(|o| o.label())
        .unwrap_or("")
}
