//! The linked model's steps as a checklist on the ticket, pinned to the
//! revision the link recorded. A tick is a journal entry (kind `step`,
//! internal); the checklist's state is folded from those entries, so the
//! journal is the only record.

use std::collections::BTreeMap;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::{Value, json};

use super::{TicketError, load, staff_only};
use crate::db::journal::{self, NewEntry};
use crate::db::{models, tickets};
use crate::domain::FieldError;
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::ticket::{EntryKind, TicketId};

pub struct ChecklistStep {
    pub number: usize,
    pub text: String,
    pub done: bool,
}

/// One linked model's steps at the pinned revision, with their ticks.
pub struct Checklist {
    pub key: String,
    pub title: String,
    pub revision: i32,
    pub steps: Vec<ChecklistStep>,
}

impl Checklist {
    /// The last step ticked done, if any: what "followed up to step N"
    /// means.
    pub fn reached(&self) -> Option<usize> {
        self.steps.iter().filter(|s| s.done).map(|s| s.number).max()
    }
}

/// (key, revision, step) → done, from the tick entries in order.
fn ticks(entries: &[Value]) -> BTreeMap<(String, i64, u64), bool> {
    let mut state = BTreeMap::new();
    for d in entries {
        if let (Some(key), Some(rev), Some(step), Some(done)) = (
            d.get("model").and_then(Value::as_str),
            d.get("revision").and_then(Value::as_i64),
            d.get("step").and_then(Value::as_u64),
            d.get("done").and_then(Value::as_bool),
        ) {
            state.insert((key.to_owned(), rev, step), done);
        }
    }
    state
}

/// The checklists of the ticket's linked models (team only).
pub async fn checklists(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Vec<Checklist>, TicketError> {
    if !viewer.role.is_staff() {
        return Ok(Vec::new());
    }
    let ticked = ticks(&journal::data_of_kind(conn, id, EntryKind::Step).await?);
    let mut out = Vec::new();
    for (model_id, key, title, revision, _, _) in tickets::linked_models(conn, id).await? {
        let (Some(model_id), Some(key), Some(revision)) = (model_id, key, revision) else {
            continue;
        };
        let Some(rev) = models::revision(conn, model_id, revision).await? else {
            continue;
        };
        let steps = rev
            .step_list()
            .into_iter()
            .enumerate()
            .map(|(i, text)| ChecklistStep {
                number: i + 1,
                text: text.to_owned(),
                done: ticked
                    .get(&(key.clone(), i64::from(revision), (i + 1) as u64))
                    .copied()
                    .unwrap_or(false),
            })
            .collect();
        out.push(Checklist {
            key,
            title: title.unwrap_or_default(),
            revision,
            steps,
        });
    }
    Ok(out)
}

/// Ticks (or unticks) step `step` of the linked model `key`. Ticking a
/// step that is already in that state writes nothing (a double click is
/// not two entries).
pub async fn tick_step(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    key: &str,
    step: &str,
    done: bool,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let key = key.trim().to_owned();
    let step: usize = step
        .trim()
        .parse()
        .map_err(|_| FieldError::new("step", "choose a step of the checklist"))?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let (model_id, revision) = tickets::pinned_revision(conn, id, &key)
            .await?
            .ok_or_else(|| FieldError::new("step", "link the model to the ticket first"))?;
        let rev = models::revision(conn, model_id, revision)
            .await?
            .ok_or_else(|| FieldError::new("step", "the linked revision no longer exists"))?;
        let steps = rev.step_list();
        let text = steps
            .get(step.wrapping_sub(1))
            .ok_or_else(|| FieldError::new("step", format!("the model has no step {step}")))?;
        let state = ticks(&journal::data_of_kind(conn, id, EntryKind::Step).await?);
        let now = state
            .get(&(key.clone(), i64::from(revision), step as u64))
            .copied()
            .unwrap_or(false);
        if now == done {
            return Ok(());
        }
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::Step,
                visibility: Visibility::Internal,
                body: "",
                data: json!({
                    "model": key,
                    "revision": revision,
                    "step": step,
                    "done": done,
                    "text": text.chars().take(200).collect::<String>(),
                }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}
