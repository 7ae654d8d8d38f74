//! How journal entries and tickets are shown: one view type used by the
//! ticket page, the live stream and the JSON API.

use askama::Template;
use serde_json::{Value, json};

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
                (Some(of), _) => format!("closed this ticket as a duplicate of #{of}"),
                (_, Some(dup)) => format!(
                    "marked #{dup} ({}) as a duplicate of this ticket",
                    text("title")
                ),
                _ => String::new(),
            },
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
            body: markdown::render(&e.body),
            event,
        }
    }

    pub fn json(row: &EntryRow) -> Value {
        let e = &row.entry;
        json!({
            "id": e.id,
            "ticket_id": e.ticket_id,
            "kind": e.kind,
            "visibility": crate::db::journal::visibility_str(e.visibility),
            "author": row.author,
            "body": e.body,
            "data": e.data,
            "created_at": e.created_at.to_rfc3339(),
        })
    }
}

pub fn outcome_label(outcome: &str) -> &'static str {
    outcome
        .parse::<crate::domain::ticket::Outcome>()
        .map(|o| o.label())
        .unwrap_or("")
}
