//! Mail in: senders by address, organizations by mail domain, messages
//! already taken in, and attachments.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{attachments, inbound_messages, mail_domains, organizations, users};
use crate::db::users::User;
use crate::domain::policy::{EntryScope, TicketScope};

/// The enabled user with this address (any case).
pub async fn user_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(email.to_ascii_lowercase()),
        )
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether any account, enabled or not, has this address.
pub async fn email_taken(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(email.to_ascii_lowercase()),
        ),
    ))
    .get_result(conn)
    .await
}

/// The organization mail from `domain` belongs to, if an admin said so.
pub async fn organization_of_domain(
    conn: &mut AsyncPgConnection,
    domain: &str,
) -> QueryResult<Option<i64>> {
    mail_domains::table
        .find(domain.to_ascii_lowercase())
        .select(mail_domains::organization_id)
        .first(conn)
        .await
        .optional()
}

pub async fn domains(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, String)>> {
    mail_domains::table
        .inner_join(organizations::table)
        .select((mail_domains::domain, organizations::name))
        .order(mail_domains::domain.asc())
        .load(conn)
        .await
}

/// Maps a domain to an organization (or moves it to another).
pub async fn set_domain(
    conn: &mut AsyncPgConnection,
    domain: &str,
    organization: i64,
) -> QueryResult<()> {
    diesel::insert_into(mail_domains::table)
        .values((
            mail_domains::domain.eq(domain),
            mail_domains::organization_id.eq(organization),
        ))
        .on_conflict(mail_domains::domain)
        .do_update()
        .set(mail_domains::organization_id.eq(organization))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn remove_domain(conn: &mut AsyncPgConnection, domain: &str) -> QueryResult<bool> {
    Ok(diesel::delete(mail_domains::table.find(domain))
        .execute(conn)
        .await?
        == 1)
}

/// The ticket a message was already taken into, if it was.
pub async fn seen(
    conn: &mut AsyncPgConnection,
    message_id: &str,
) -> QueryResult<Option<(Option<i64>, Option<i64>)>> {
    inbound_messages::table
        .find(message_id)
        .select((inbound_messages::ticket_id, inbound_messages::entry_id))
        .first(conn)
        .await
        .optional()
}

pub async fn record_seen(
    conn: &mut AsyncPgConnection,
    message_id: &str,
    ticket: i64,
    entry: Option<i64>,
) -> QueryResult<()> {
    diesel::insert_into(inbound_messages::table)
        .values((
            inbound_messages::message_id.eq(message_id),
            inbound_messages::ticket_id.eq(ticket),
            inbound_messages::entry_id.eq(entry),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub struct NewAttachment<'a> {
    /// An id taken beforehand with [`reserve_attachment_ids`] (so the
    /// entry that carries the file can name it), or `None` for the next.
    pub id: Option<i64>,
    pub ticket: i64,
    pub entry: Option<i64>,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
    pub by: i64,
}

pub async fn add_attachment(
    conn: &mut AsyncPgConnection,
    new: NewAttachment<'_>,
) -> QueryResult<i64> {
    diesel::insert_into(attachments::table)
        .values((
            new.id.map(|id| attachments::id.eq(id)),
            attachments::ticket_id.eq(new.ticket),
            attachments::entry_id.eq(new.entry),
            attachments::filename.eq(new.filename),
            attachments::content_type.eq(new.content_type),
            attachments::size.eq(i32::try_from(new.data.len()).unwrap_or(i32::MAX)),
            attachments::data.eq(new.data),
            attachments::created_by.eq(new.by),
        ))
        .returning(attachments::id)
        .get_result(conn)
        .await
}

/// `n` attachment ids, taken from the table's sequence: the journal entry
/// an upload makes lists its files (with links) before they are inserted.
pub async fn reserve_attachment_ids(
    conn: &mut AsyncPgConnection,
    n: usize,
) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let ids: Vec<Id> = diesel::sql_query(
        "SELECT nextval(pg_get_serial_sequence('attachments', 'id')) AS id \
         FROM generate_series(1, $1)",
    )
    .bind::<diesel::sql_types::Integer, _>(i32::try_from(n).unwrap_or(i32::MAX))
    .load(conn)
    .await?;
    Ok(ids.into_iter().map(|i| i.id).collect())
}

#[derive(Debug, Clone, Queryable)]
pub struct AttachmentInfo {
    pub id: i64,
    pub entry_id: Option<i64>,
    pub filename: String,
    pub content_type: String,
    pub size: i32,
    pub created_at: DateTime<Utc>,
}

/// Attachments of a ticket the scope allows: those of entries the viewer
/// may see, and those of the ticket itself (its opening message).
pub async fn attachments_of(
    conn: &mut AsyncPgConnection,
    ticket: i64,
    scope: EntryScope,
) -> QueryResult<Vec<AttachmentInfo>> {
    use crate::db::schema::journal_entries;
    let mut query = attachments::table
        .left_join(journal_entries::table)
        .filter(attachments::ticket_id.eq(ticket))
        .into_boxed();
    if scope == EntryScope::PublicOnly {
        query = query.filter(
            attachments::entry_id
                .is_null()
                .or(journal_entries::visibility.eq("public")),
        );
    }
    query
        .select((
            attachments::id,
            attachments::entry_id,
            attachments::filename,
            attachments::content_type,
            attachments::size,
            attachments::created_at,
        ))
        .order(attachments::id.asc())
        .load(conn)
        .await
}

/// One attachment's name, type and bytes, if the viewer's scopes allow it.
pub async fn attachment(
    conn: &mut AsyncPgConnection,
    ticket: i64,
    id: i64,
    tickets: TicketScope,
    entries: EntryScope,
) -> QueryResult<Option<(String, String, Vec<u8>)>> {
    use crate::db::schema::{journal_entries, tickets as t};
    let mut query = attachments::table
        .inner_join(t::table)
        .left_join(journal_entries::table)
        .filter(attachments::id.eq(id))
        .filter(attachments::ticket_id.eq(ticket))
        .into_boxed();
    query = match tickets {
        TicketScope::All => query,
        TicketScope::Organization(org) => query.filter(t::organization_id.eq(org.0)),
        TicketScope::Nothing => query.filter(attachments::id.eq(-1)),
    };
    if entries == EntryScope::PublicOnly {
        query = query.filter(
            attachments::entry_id
                .is_null()
                .or(journal_entries::visibility.eq("public")),
        );
    }
    query
        .select((
            attachments::filename,
            attachments::content_type,
            attachments::data,
        ))
        .first(conn)
        .await
        .optional()
}
