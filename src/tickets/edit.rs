//! Correcting a ticket: title, description, priority and category, by the
//! team. Every changed field is its own journal entry with the value before
//! and after; the customer sees the entries for what they can see on the
//! ticket (title, description, priority), the category is the team's.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{MAX_BODY_BYTES, MAX_TITLE_CHARS, TicketError, load, no_nul, staff_only};
use crate::db::journal::{self, NewEntry};
use crate::db::{categories as category_list, tickets};
use crate::domain::FieldError;
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::ticket::{EntryKind, Priority, TicketId};

pub const MAX_CATEGORY_CHARS: usize = 80;

/// The four fields of a ticket as a form or the API sends them; a field
/// left out (`None`) keeps its value.
pub struct EditTicket<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// The fields checked, as stored: (title, description, priority, category).
pub(super) fn checked(
    title: &str,
    description: &str,
    priority: &str,
    category: &str,
) -> Result<(String, String, Priority, String), FieldError> {
    no_nul("title", title)?;
    no_nul("description", description)?;
    no_nul("category", category)?;
    let title = crate::domain::account::validate_name("title", title, MAX_TITLE_CHARS)?;
    if description.len() > MAX_BODY_BYTES {
        return Err(FieldError::new(
            "description",
            format!("must be at most {MAX_BODY_BYTES} bytes"),
        ));
    }
    let priority: Priority = if priority.trim().is_empty() {
        Priority::ALL[2]
    } else {
        priority.parse()?
    };
    let category = category.trim();
    if category.chars().count() > MAX_CATEGORY_CHARS || category.chars().any(char::is_control) {
        return Err(FieldError::new(
            "category",
            format!("must be one line of at most {MAX_CATEGORY_CHARS} characters"),
        ));
    }
    Ok((
        title,
        description.trim().to_owned(),
        priority,
        category.to_owned(),
    ))
}

/// The managed list's spelling of a typed category, or the text as typed.
pub(super) async fn listed_spelling(
    conn: &mut AsyncPgConnection,
    category: String,
) -> Result<String, TicketError> {
    if category.is_empty() {
        return Ok(category);
    }
    Ok(category_list::canonical(conn, &category)
        .await?
        .unwrap_or(category))
}

/// The managed category names, for the forms' suggestions.
pub async fn categories(conn: &mut AsyncPgConnection) -> Result<Vec<String>, TicketError> {
    Ok(category_list::names(conn).await?)
}

/// Applies the corrections; answers how many fields changed (0: nothing
/// was written).
pub async fn edit(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    id: TicketId,
    form: EditTicket<'_>,
) -> Result<usize, TicketError> {
    staff_only(viewer)?;
    let viewer = *viewer;
    conn.transaction(async move |conn| {
        let ticket = load(conn, &viewer, id).await?;
        if ticket.is_closed() {
            return Err(FieldError::new("title", "a closed ticket stays as it was closed").into());
        }
        let level = ticket.priority().level().to_string();
        let (title, description, priority, category) = checked(
            form.title.unwrap_or(&ticket.title),
            form.description.unwrap_or(&ticket.description),
            form.priority.unwrap_or(&level),
            form.category.unwrap_or(&ticket.category),
        )?;
        let category = listed_spelling(conn, category).await?;
        let old_priority = ticket.priority().to_string();
        let new_priority = priority.to_string();
        let changes: Vec<(&str, &str, &str, Visibility)> = [
            (
                "title",
                ticket.title.as_str(),
                title.as_str(),
                Visibility::Public,
            ),
            (
                "description",
                ticket.description.as_str(),
                description.as_str(),
                Visibility::Public,
            ),
            (
                "priority",
                old_priority.as_str(),
                new_priority.as_str(),
                Visibility::Public,
            ),
            (
                "category",
                ticket.category.as_str(),
                category.as_str(),
                Visibility::Internal,
            ),
        ]
        .into_iter()
        .filter(|(_, before, after, _)| before != after)
        .collect();
        if changes.is_empty() {
            return Ok(0);
        }
        tickets::set_fields(
            conn,
            id,
            tickets::Fields {
                title: &title,
                description: &description,
                priority,
                category: &category,
            },
        )
        .await?;
        for (field, before, after, visibility) in &changes {
            journal::add(
                conn,
                NewEntry {
                    ticket: id,
                    author: Some(viewer.user),
                    kind: EntryKind::Edit,
                    visibility: *visibility,
                    body: "",
                    data: json!({ "field": field, "from": before, "to": after }),
                },
            )
            .await?;
        }
        Ok(changes.len())
    })
    .await
}
