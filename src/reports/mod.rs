//! The reports service: reading the measures of a query, leaving a ticket
//! out of them (and back in), and drafting a model from a ticket of the
//! gap report. Writes authorise through `domain::policy`, run one
//! transaction and record themselves in the ticket's journal; refusals are
//! the ticket service's [`TicketError`] (they are all about a ticket).

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::db::improvements::{self, ImprovementError};
use crate::db::journal::{self, NewEntry};
use crate::db::models::{self as model_db, Model, Save, SaveError};
use crate::db::tickets::{self, Ticket};
use crate::domain::FieldError;
use crate::domain::account::OrgId;
use crate::domain::policy::{EntryScope, Viewer, Visibility};
use crate::domain::report::draft::{self, Step};
use crate::domain::report::{Part, Report, ReportQuery};
use crate::domain::ticket::{EntryKind, TicketId};
use crate::tickets::TicketError;

pub const MAX_REASON_CHARS: usize = 200;

fn staff_only(viewer: &Viewer) -> Result<(), TicketError> {
    if viewer.role.is_staff() {
        Ok(())
    } else {
        Err(TicketError::Forbidden)
    }
}

/// The ticket, locked, if the viewer may see it.
async fn load(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Ticket, TicketError> {
    let ticket = tickets::find_for_update(conn, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if !viewer.may_view_ticket(ticket.organization_id.map(OrgId)) {
        return Err(TicketError::NotFound);
    }
    Ok(ticket)
}

/// The parts of the report asked for. Only the team reads reports.
pub async fn report(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    query: &ReportQuery,
    parts: &[Part],
) -> Result<Report, TicketError> {
    staff_only(viewer)?;
    Ok(crate::db::reports::report_parts(conn, query, parts).await?)
}

/// The same, shared between `conn` and a second connection when the pool
/// had one free (a page's tables at the same time, in one snapshot).
pub async fn report_on(
    conn: &mut AsyncPgConnection,
    other: Option<&mut AsyncPgConnection>,
    viewer: &Viewer,
    query: &ReportQuery,
    parts: &[Part],
) -> Result<Report, TicketError> {
    staff_only(viewer)?;
    Ok(crate::db::reports::report_parts_on(conn, other, query, parts).await?)
}

/// The overview's tables and headline numbers, now and in the period
/// `before` (for the trends).
pub async fn overview(
    conn: &mut AsyncPgConnection,
    other: Option<&mut AsyncPgConnection>,
    viewer: &Viewer,
    query: &ReportQuery,
    before: &ReportQuery,
) -> Result<crate::db::reports::Overview, TicketError> {
    staff_only(viewer)?;
    Ok(crate::db::reports::overview(conn, other, query, before).await?)
}

/// "#42" or "42" → the ticket number, or a message for the field.
pub fn ticket_number(input: &str) -> Result<TicketId, FieldError> {
    input
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(TicketId)
        .ok_or_else(|| FieldError::new("ticket", "give the number of a ticket, like 42"))
}

/// Leaves the ticket out of every measure (game days, tests), with the
/// reason in its journal.
pub async fn exclude(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    reason: &str,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let reason = reason.trim().to_owned();
    if reason.is_empty()
        || reason.chars().count() > MAX_REASON_CHARS
        || reason.chars().any(char::is_control)
    {
        return Err(FieldError::new(
            "reason",
            format!("say in one line (at most {MAX_REASON_CHARS} characters) why it is left out, like \"game day\""),
        )
        .into());
    }
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        if crate::db::reports::is_excluded(conn, id).await? {
            return Err(FieldError::new(
                "ticket",
                format!("#{id} is already excluded from metrics"),
            )
            .into());
        }
        crate::db::reports::exclude(conn, id, &reason, viewer.user).await?;
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::System,
                visibility: Visibility::Internal,
                body: &format!("Excluded this ticket from metrics: {reason}"),
                data: json!({ "metrics": "excluded", "reason": reason }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Counts the ticket in the measures again.
pub async fn include(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        if !crate::db::reports::is_excluded(conn, id).await? {
            return Err(
                FieldError::new("ticket", format!("#{id} is not excluded from metrics")).into(),
            );
        }
        crate::db::reports::include(conn, id).await?;
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::System,
                visibility: Visibility::Internal,
                body: "Counted this ticket in metrics again.",
                data: json!({ "metrics": "included" }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// The first text of a model drafted from the ticket: its title,
/// description, and its replies and notes in order as the steps.
pub async fn draft_text(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<String, TicketError> {
    staff_only(viewer)?;
    // A read: no lock.
    let ticket = tickets::find_visible(conn, id, viewer.ticket_scope())
        .await?
        .ok_or(TicketError::NotFound)?;
    let entries = journal::list(conn, id, EntryScope::All, None).await?;
    let steps: Vec<Step<'_>> = entries
        .iter()
        .filter(|e| matches!(e.entry.kind.as_str(), "reply" | "note"))
        .map(|e| Step {
            body: &e.entry.body,
        })
        .collect();
    Ok(draft::model_text(
        id.0,
        &ticket.title,
        &ticket.category,
        &ticket.description,
        &steps,
    ))
}

/// Saves the drafted model, marks the "write a new model" improvement
/// items it answers done (as a model save from the backlog does), and
/// notes both in the ticket's journal, in one transaction: a text that does
/// not parse, a key in use, a link to a missing model or an item that is
/// not open leaves nothing.
pub async fn save_draft(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    text: &str,
    resolves: &[i64],
) -> Result<Model, TicketError> {
    staff_only(viewer)?;
    let model =
        crate::domain::model::parse(text).map_err(|e| FieldError::new("text", e.to_string()))?;
    let viewer = *viewer;
    let resolves = resolves.to_vec();
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let summary = format!("Drafted from ticket #{id}");
        let saved = model_db::save(
            conn,
            None,
            0,
            &model,
            &Save {
                author: Some(viewer.user),
                summary: &summary,
            },
        )
        .await
        .map_err(|e| match e {
            SaveError::Database(d) => TicketError::Database(d),
            other => FieldError::new("text", other.to_string()).into(),
        })?;
        improvements::resolve_by_revision(conn, &viewer, &saved, saved.revision, &resolves)
            .await
            .map_err(|e| match e {
                ImprovementError::NotFound => TicketError::NotFound,
                ImprovementError::Forbidden => TicketError::Forbidden,
                ImprovementError::Invalid(e) => TicketError::Invalid(e),
                ImprovementError::Database(d) => TicketError::Database(d),
            })?;
        let items: Vec<String> = resolves.iter().map(|i| format!("#{i}")).collect();
        let done = if items.is_empty() {
            String::new()
        } else {
            format!(
                " It answers improvement item {}, now done.",
                items.join(", ")
            )
        };
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::System,
                visibility: Visibility::Internal,
                body: &format!(
                    "Drafted the incident model [{}](/models/{}) from this ticket.{done}",
                    saved.key, saved.key
                ),
                data: json!({ "drafted_model": saved.key, "resolved_items": resolves }),
            },
        )
        .await?;
        Ok(saved)
    })
    .await
}
