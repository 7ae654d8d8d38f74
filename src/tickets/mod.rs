//! The ticket service: every action on a ticket, one function each, for
//! pages and the JSON API alike. Each takes the viewer and typed input,
//! authorises through `domain::policy`, checks the domain rules, runs one
//! transaction (the writes, the journal entry that records them, the search
//! outbox row and the live notification) and answers with its own
//! [`TicketError`]; `web/` maps that to HTTP.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::db::journal::{self, Entry, NewEntry};
use crate::db::models;
use crate::db::outbox::{self, Entity};
use crate::db::tickets::{self, NewEscalation, NewTicket, Ticket};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::ticket::{EntryKind, Followed, Outcome, Status, TicketId};

pub mod arrival;
mod attach;
mod checklist;
pub mod edit;
pub mod inbox;
pub mod intake;

pub use attach::{Upload, attach};
pub use checklist::{Checklist, ChecklistStep, checklists, tick_step};
pub use edit::{EditTicket, categories, edit};

/// Why a ticket action was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// No such ticket, or one the viewer may not see (the same answer, so
    /// a ticket's existence is not revealed).
    #[error("there is no such ticket")]
    NotFound,
    #[error("only the team may do this")]
    Forbidden,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("the search failed: {0}")]
    Search(#[from] crate::search::SearchError),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 100_000;

/// The ticket, locked, if the viewer may see it; otherwise "not found".
pub(crate) async fn load(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
) -> Result<Ticket, TicketError> {
    let ticket = tickets::find_for_update(conn, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    if !viewer.may_view_ticket(ticket.organization_id.map(crate::domain::account::OrgId)) {
        return Err(TicketError::NotFound);
    }
    Ok(ticket)
}

/// A text field PostgreSQL can store: no NUL character.
pub(crate) fn no_nul(field: &'static str, text: &str) -> Result<(), FieldError> {
    if text.contains('\0') {
        return Err(FieldError::new(field, "must not contain the NUL character"));
    }
    Ok(())
}

pub(crate) fn staff_only(viewer: &Viewer) -> Result<(), TicketError> {
    if viewer.role.is_staff() {
        Ok(())
    } else {
        Err(TicketError::Forbidden)
    }
}

fn body_text(field: &'static str, input: &str) -> Result<String, FieldError> {
    no_nul(field, input)?;
    let body = input.trim();
    if body.is_empty() {
        return Err(FieldError::new(field, "write something first"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(body.to_owned())
}

pub struct OpenTicket<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub priority: &'a str,
    pub category: &'a str,
    /// Staff may open a ticket for an organization; a customer's ticket is
    /// always their own organization's.
    pub organization: Option<i64>,
}

pub async fn open(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    form: OpenTicket<'_>,
) -> Result<Ticket, TicketError> {
    let (title, description, priority, category) =
        edit::checked(form.title, form.description, form.priority, form.category)?;
    let organization = if viewer.role.is_staff() {
        form.organization
    } else {
        Some(viewer.org.ok_or(TicketError::Forbidden)?.0)
    };
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let category = edit::listed_spelling(conn, category).await?;
        if let Some(org) = organization {
            tickets::organization_name(conn, org)
                .await
                .map_err(|_| FieldError::new("organization", "does not exist"))?;
        }
        Ok(tickets::create(
            conn,
            NewTicket {
                title: &title,
                description: &description,
                requester: viewer.user,
                organization,
                priority,
                category: &category,
            },
        )
        .await?)
    })
    .await
}

/// A reply (public) or note (internal). Customers write public replies
/// only; a customer's reply to a ticket waiting on them, or to a resolved
/// one (as in RT: the customer says it is not fixed), puts it back in
/// progress. A closed ticket takes no more entries.
pub async fn write(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    body: &str,
    visibility: Visibility,
) -> Result<Entry, TicketError> {
    let body = body_text("body", body)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        add_entry(conn, &viewer, id, &body, visibility, json!({})).await
    })
    .await
}

/// The entry of [`write`] (and of [`attach`]), in the caller's
/// transaction: the ticket locked and checked, the entry, and the reopening
/// a customer's reply causes.
pub(crate) async fn add_entry(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    body: &str,
    visibility: Visibility,
    data: serde_json::Value,
) -> Result<Entry, TicketError> {
    if !viewer.role.is_staff() && visibility == Visibility::Internal {
        return Err(TicketError::Forbidden);
    }
    let ticket = load(conn, viewer, id).await?;
    if ticket.status() == Status::Closed {
        return Err(FieldError::new("body", "the ticket is closed; open a new one").into());
    }
    let kind = if visibility == Visibility::Public {
        EntryKind::Reply
    } else {
        EntryKind::Note
    };
    let entry = journal::add(
        conn,
        NewEntry {
            ticket: id,
            author: Some(viewer.user),
            kind,
            visibility,
            body,
            data,
        },
    )
    .await?;
    let from = ticket.status();
    if !viewer.role.is_staff() && matches!(from, Status::WaitingOnCustomer | Status::Resolved) {
        tickets::set_status(conn, &ticket, Status::InProgress, Some(viewer.user)).await?;
        status_entry(conn, id, viewer.user, from, Status::InProgress).await?;
    }
    Ok(entry)
}

async fn status_entry(
    conn: &mut AsyncPgConnection,
    id: TicketId,
    by: UserId,
    from: Status,
    to: Status,
) -> Result<Entry, TicketError> {
    status_entry_with(conn, id, by, from, to, "").await
}

async fn status_entry_with(
    conn: &mut AsyncPgConnection,
    id: TicketId,
    by: UserId,
    from: Status,
    to: Status,
    reason: &str,
) -> Result<Entry, TicketError> {
    Ok(journal::add(conn, new_status_entry(id, by, from, to, reason)).await?)
}

/// The journal entry of a status move, to be added.
fn new_status_entry(
    id: TicketId,
    by: UserId,
    from: Status,
    to: Status,
    reason: &str,
) -> NewEntry<'_> {
    NewEntry {
        ticket: id,
        author: Some(by),
        kind: EntryKind::StatusChange,
        // The customer sees where their ticket stands, and why a false
        // alarm was closed.
        visibility: Visibility::Public,
        body: reason,
        data: json!({ "from": from.as_str(), "to": to.as_str() }),
    }
}

/// Moves the ticket to another status. `reason` is the resolution of a
/// false alarm (new → resolved needs one; it is public, with the move).
pub async fn change_status(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    to: &str,
    reason: &str,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let to: Status = to.parse()?;
    no_nul("resolution", reason)?;
    let reason = reason.trim().to_owned();
    if reason.len() > MAX_BODY_BYTES {
        return Err(FieldError::new(
            "resolution",
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        )
        .into());
    }
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let ticket = load(conn, &viewer, id).await?;
        let from = ticket.status();
        from.transition(to, &reason)?;
        tickets::set_status(conn, &ticket, to, Some(viewer.user)).await?;
        status_entry_with(conn, id, viewer.user, from, to, &reason).await?;
        Ok(())
    })
    .await
}

pub async fn assign(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    assignee: Option<i64>,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let name = match assignee {
            Some(user) => {
                let staff = tickets::staff(conn).await?;
                let (_, name) =
                    staff
                        .into_iter()
                        .find(|(uid, _)| *uid == user)
                        .ok_or_else(|| {
                            FieldError::new("assignee", "choose an active member of the team")
                        })?;
                Some(name)
            }
            None => None,
        };
        tickets::set_assignee(conn, id, assignee.map(UserId)).await?;
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::Assignment,
                visibility: Visibility::Internal,
                body: "",
                data: json!({ "assignee_id": assignee, "assignee": name }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Links a model pinned to its current revision, or records that no model
/// fits and what was missing. When the model was picked from a recorded
/// triage search (`from_search`), the pick is recorded in the same
/// transaction.
pub async fn link_model(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    key: &str,
    outcome: &str,
    missing: &str,
    from_search: Option<i64>,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let outcome: Outcome = outcome.parse()?;
    no_nul("missing", missing)?;
    no_nul("model", key)?;
    let missing = missing.trim().to_owned();
    if outcome == Outcome::NoFit && missing.is_empty() {
        return Err(
            FieldError::new("missing", "say what a model for this would need to cover").into(),
        );
    }
    let key = key.trim().to_owned();
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let model = if outcome == Outcome::NoFit {
            None
        } else {
            let model = models::find_by_key(conn, &key).await?.ok_or_else(|| {
                FieldError::new("model", format!("no incident model has the key {key:?}"))
            })?;
            Some(model)
        };
        let linked = tickets::link_model(
            conn,
            id,
            model.as_ref().map(|m| (m.id, m.revision)),
            outcome,
            &missing,
            viewer.user,
        )
        .await?;
        let (was, revision) = match linked {
            tickets::Linked::New => (None, model.as_ref().map(|m| m.revision)),
            tickets::Linked::Updated { was, revision } => (Some(was.as_str()), revision),
        };
        if let (Some(search), Some(model)) = (from_search, &model) {
            crate::db::triage::picked(conn, id, search, &model.key).await?;
        }
        if let Some(model) = &model {
            // The ticket's words join (or change in) the model's "seen as".
            outbox::enqueue(conn, Entity::Model, model.id).await?;
        }
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::ModelLink,
                visibility: Visibility::Internal,
                body: &missing,
                data: json!({
                    "model": model.as_ref().map(|m| &m.key),
                    "title": model.as_ref().map(|m| &m.title),
                    "revision": revision,
                    "outcome": outcome.as_str(),
                    "previous_outcome": was,
                }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Removes the link between the ticket and the model `key`: a link made
/// by mistake, or a model that turned out not to fit. The ticket's words
/// leave the model's "seen as" text.
pub async fn unlink_model(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    key: &str,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    no_nul("model", key)?;
    let key = key.trim().to_owned();
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let model = models::find_by_key(conn, &key).await?.ok_or_else(|| {
            FieldError::new("model", format!("no incident model has the key {key:?}"))
        })?;
        let Some(was) = tickets::unlink_model(conn, id, model.id).await? else {
            return Err(FieldError::new(
                "model",
                format!("model {key} is not linked to this ticket"),
            )
            .into());
        };
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::ModelLink,
                visibility: Visibility::Internal,
                body: "",
                data: json!({
                    "model": model.key,
                    "title": model.title,
                    "unlinked": true,
                    "previous_outcome": was.as_str(),
                }),
            },
        )
        .await?;
        outbox::enqueue(conn, Entity::Model, model.id).await?;
        Ok(())
    })
    .await
}

pub struct Escalation<'a> {
    pub to_user: Option<i64>,
    pub to_team: &'a str,
    pub followed: &'a str,
    pub step_reached: &'a str,
    pub reason: &'a str,
}

pub async fn escalate(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    form: Escalation<'_>,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let followed = Followed::from_form(form.followed, form.step_reached, form.reason)?;
    no_nul("to_team", form.to_team)?;
    let team = form.to_team.trim().to_owned();
    if form.to_user.is_none() && team.is_empty() {
        return Err(FieldError::new("to", "escalate to a person or name a team").into());
    }
    if team.chars().count() > 80 {
        return Err(FieldError::new("to_team", "must be at most 80 characters").into());
    }
    let to_user = form.to_user;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        load(conn, &viewer, id).await?;
        let to_name = match to_user {
            Some(user) => Some(
                tickets::staff(conn)
                    .await?
                    .into_iter()
                    .find(|(uid, _)| *uid == user)
                    .map(|(_, name)| name)
                    .ok_or_else(|| FieldError::new("to_user", "choose an active member of the team"))?,
            ),
            None => None,
        };
        tickets::escalate(
            conn,
            NewEscalation { ticket: id, from: viewer.user, to_user: to_user.map(UserId), to_team: &team, followed: &followed },
        )
        .await?;
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::Escalation,
                visibility: Visibility::Internal,
                body: &followed.describe(),
                data: json!({ "to_user_id": to_user, "to": to_name.unwrap_or_else(|| team.clone()), "followed_model": followed.as_str() }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Closes the ticket as a duplicate of another, with an entry on both.
pub async fn mark_duplicate(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    of: &str,
) -> Result<(), TicketError> {
    staff_only(viewer)?;
    let of = TicketId(
        of.trim()
            .trim_start_matches('#')
            .parse()
            .map_err(|_| FieldError::new("duplicate_of", "give the number of the other ticket"))?,
    );
    if of == id {
        return Err(FieldError::new("duplicate_of", "a ticket cannot duplicate itself").into());
    }
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        // Both rows are locked, the lower id first: two people marking
        // A and B duplicates of each other at once wait for each other
        // instead of deadlocking, and the second is told why not.
        let other = async |conn: &mut AsyncPgConnection| match load(conn, &viewer, of).await {
            Err(TicketError::NotFound) => {
                Err(FieldError::new("duplicate_of", format!("there is no ticket #{of}")).into())
            }
            other => other,
        };
        let (ticket, original) = if id.0 < of.0 {
            let ticket = load(conn, &viewer, id).await?;
            (ticket, other(conn).await?)
        } else {
            let original = other(conn).await?;
            (load(conn, &viewer, id).await?, original)
        };
        if original.duplicate_of == Some(id.0) {
            return Err(FieldError::new(
                "duplicate_of",
                format!("#{of} is already a duplicate of this ticket"),
            )
            .into());
        }
        if ticket.status() == Status::Closed {
            return Err(FieldError::new("duplicate_of", "the ticket is already closed").into());
        }
        tickets::set_duplicate_of(conn, id, of).await?;
        tickets::set_status(conn, &ticket, Status::Closed, Some(viewer.user)).await?;
        journal::add(
            conn,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::System,
                visibility: Visibility::Public,
                body: "",
                data: json!({ "duplicate_of": of.0, "from": ticket.status, "to": "closed" }),
            },
        )
        .await?;
        journal::add(
            conn,
            NewEntry {
                ticket: of,
                author: Some(viewer.user),
                kind: EntryKind::System,
                visibility: Visibility::Internal,
                body: "",
                data: json!({ "duplicate": id.0, "title": ticket.title }),
            },
        )
        .await?;
        Ok(())
    })
    .await
}

/// Runs a triage search for a ticket and records it: the query, what came
/// back, and a journal entry, in one transaction.
pub async fn triage(
    conn: &mut AsyncPgConnection,
    index: &crate::search::SearchIndex,
    viewer: &Viewer,
    id: TicketId,
    q: &str,
) -> Result<(i64, Vec<crate::search::triage::Ranked>), TicketError> {
    staff_only(viewer)?;
    no_nul("q", q)?;
    let q = q.trim().to_owned();
    if q.is_empty() || q.len() > 1000 {
        return Err(FieldError::new("q", "search for 1 to 1000 characters of text").into());
    }
    // The search is CPU work (milliseconds over 100,000 models): on a
    // blocking thread, so that it does not hold up the other requests of
    // this async worker. It runs while the transaction begins and reads the
    // ticket (the viewer's scope, and the lock every action on the ticket
    // takes), so those round trips cost no time of their own; the ticket
    // stays locked for the rest of the search, and the webhook subscriptions
    // the entry is delivered to are looked up meanwhile too (two round
    // trips: the look-up is not a cached statement), so that after the
    // search only the two inserts and the commit remain. Only what is
    // recorded is made (keys, titles and scores: no snippets, see
    // `triage::rank_models`).
    let search = {
        let (index, q) = (index.clone(), q.clone());
        tokio::task::spawn_blocking(move || crate::search::triage::rank_models(&index, &q, 10))
    };
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let ticket = load(conn, &viewer, id).await?;
        let mut subscribers = crate::db::deliveries::Subscribers::ahead(
            conn,
            EntryKind::Triage,
            Visibility::Internal,
            &ticket,
        )
        .await?;
        let found = search.await.map_err(|e| {
            crate::search::SearchError::Index(tantivy::TantivyError::SystemError(format!(
                "the triage search task failed: {e}"
            )))
        })??;
        let results: Vec<serde_json::Value> = found
            .iter()
            .map(|s| json!({ "key": s.key, "title": s.title, "score": s.score }))
            .collect();
        let count = results.len();
        let search_id =
            crate::db::triage::record(conn, id, viewer.user, &q, serde_json::Value::Array(results))
                .await?;
        journal::add_on(
            conn,
            &ticket,
            NewEntry {
                ticket: id,
                author: Some(viewer.user),
                kind: EntryKind::Triage,
                visibility: Visibility::Internal,
                body: "",
                data: json!({ "query": q, "results": count, "search_id": search_id }),
            },
            &mut subscribers,
        )
        .await?;
        Ok::<_, TicketError>((search_id, found))
    })
    .await
}
