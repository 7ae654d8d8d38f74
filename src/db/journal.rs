//! The journal: append-only entries on a ticket. Each insert also announces
//! itself with `pg_notify` in the same transaction, so every instance's
//! live pages hear of it once it commits, and queues the notifications and
//! webhook calls it causes (`db::deliveries`) in that transaction too.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::deliveries::Subscribers;
use crate::db::outbox::{self, Entity};
use crate::db::schema::{journal_entries, users};
use crate::domain::account::UserId;
use crate::domain::policy::{EntryScope, Visibility};
use crate::domain::ticket::{EntryKind, TicketId};

/// The channel live pages listen on; the payload is `ticket_id:entry_id`.
pub const CHANNEL: &str = "casebook_journal";

diesel::define_sql_function! {
    /// PostgreSQL's `pg_notify`. It answers `void`, which has no SQL type
    /// here: only ever executed, its answer is never read.
    fn pg_notify(channel: diesel::sql_types::Text, payload: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = journal_entries)]
pub struct Entry {
    pub id: i64,
    pub ticket_id: i64,
    pub author_id: Option<i64>,
    pub kind: String,
    #[diesel(deserialize_as = crate::db::columns::VisibilityColumn)]
    pub visibility: Visibility,
    pub body: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl Entry {
    pub fn is_public(&self) -> bool {
        self.visibility == Visibility::Public
    }
}

/// An entry with its author's name, as pages and the API show it.
#[derive(Debug, Clone, Queryable)]
pub struct EntryRow {
    #[diesel(embed)]
    pub entry: Entry,
    pub author: Option<String>,
    pub author_role: Option<String>,
}

pub struct NewEntry<'a> {
    pub ticket: TicketId,
    pub author: Option<UserId>,
    pub kind: EntryKind,
    pub visibility: Visibility,
    pub body: &'a str,
    pub data: serde_json::Value,
}

pub fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Internal => "internal",
        Visibility::Public => "public",
    }
}

pub async fn add(conn: &mut AsyncPgConnection, new: NewEntry<'_>) -> QueryResult<Entry> {
    let entry = insert(conn, new).await?;
    // Notifications and webhook events, committed with the entry or not at all.
    crate::db::deliveries::for_entry(conn, &entry).await?;
    Ok(entry)
}

/// [`add`] on a ticket the caller has locked in this transaction and holds
/// as read after the lock, with the webhook subscriptions looked up ahead
/// ([`Subscribers::ahead`]): its notifications and webhook calls are made
/// from that row, with no look-up between the entry and the commit.
pub async fn add_on(
    conn: &mut AsyncPgConnection,
    ticket: &crate::db::tickets::Ticket,
    new: NewEntry<'_>,
    subscribers: &mut Subscribers,
) -> QueryResult<Entry> {
    debug_assert_eq!(ticket.id, new.ticket);
    let entry = insert(conn, new).await?;
    crate::db::deliveries::for_entry_on(conn, &entry, ticket, subscribers).await?;
    Ok(entry)
}

/// The entry, its live announcement and (for a text) its search outbox row.
async fn insert(conn: &mut AsyncPgConnection, new: NewEntry<'_>) -> QueryResult<Entry> {
    let entry: Entry = diesel::insert_into(journal_entries::table)
        .values((
            journal_entries::ticket_id.eq(new.ticket.0),
            journal_entries::author_id.eq(new.author.map(|a| a.0)),
            journal_entries::kind.eq(new.kind.as_str()),
            journal_entries::visibility.eq(visibility_str(new.visibility)),
            journal_entries::body.eq(new.body),
            journal_entries::data.eq(new.data),
        ))
        .returning(Entry::as_returning())
        .get_result(conn)
        .await?;
    // A typed statement, so it is prepared once per connection (a raw SQL
    // query is prepared on every call: a round trip more).
    diesel::select(pg_notify(
        CHANNEL,
        format!("{}:{}", entry.ticket_id, entry.id),
    ))
    .execute(conn)
    .await?;
    if !entry.body.is_empty() {
        outbox::enqueue(conn, Entity::Ticket, entry.ticket_id).await?;
    }
    Ok(entry)
}

/// Adds several entries in one statement (the alert intake, triage on
/// arrival), with what [`add`] does for each: the live announcement, the
/// search outbox row for a text, the notifications and webhook calls.
/// Entries of one ticket keep their order. Answers them in id order.
pub async fn add_many(
    conn: &mut AsyncPgConnection,
    news: Vec<NewEntry<'_>>,
) -> QueryResult<Vec<Entry>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<_> = news
        .into_iter()
        .map(|new| {
            (
                journal_entries::ticket_id.eq(new.ticket.0),
                journal_entries::author_id.eq(new.author.map(|a| a.0)),
                journal_entries::kind.eq(new.kind.as_str()),
                journal_entries::visibility.eq(visibility_str(new.visibility)),
                journal_entries::body.eq(new.body),
                journal_entries::data.eq(new.data),
            )
        })
        .collect();
    let mut entries: Vec<Entry> = diesel::insert_into(journal_entries::table)
        .values(values)
        .returning(Entry::as_returning())
        .get_results(conn)
        .await?;
    entries.sort_by_key(|e| e.id);
    let payloads: Vec<String> = entries
        .iter()
        .map(|e| format!("{}:{}", e.ticket_id, e.id))
        .collect();
    diesel::sql_query("SELECT pg_notify($1, p) FROM unnest($2) AS p")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(payloads)
        .execute(conn)
        .await?;
    let mut texts: Vec<i64> = entries
        .iter()
        .filter(|e| !e.body.is_empty())
        .map(|e| e.ticket_id)
        .collect();
    texts.sort_unstable();
    texts.dedup();
    outbox::enqueue_many(conn, Entity::Ticket, &texts).await?;
    crate::db::deliveries::for_entries(conn, &entries).await?;
    Ok(entries)
}

/// A ticket's entries the scope allows, oldest first, after `after` when
/// given (for catching up a live page).
pub async fn list(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    scope: EntryScope,
    after: Option<i64>,
) -> QueryResult<Vec<EntryRow>> {
    let mut query = journal_entries::table
        .left_join(users::table)
        .filter(journal_entries::ticket_id.eq(ticket.0))
        .into_boxed();
    if scope == EntryScope::PublicOnly {
        query = query.filter(journal_entries::visibility.eq("public"));
    }
    if let Some(after) = after {
        query = query.filter(journal_entries::id.gt(after));
    }
    query
        .select((
            Entry::as_select(),
            users::display_name.nullable(),
            users::role.nullable(),
        ))
        .order(journal_entries::id.asc())
        .load(conn)
        .await
}

/// One entry, if the scope allows it.
pub async fn find(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    id: i64,
    scope: EntryScope,
) -> QueryResult<Option<EntryRow>> {
    let mut query = journal_entries::table
        .left_join(users::table)
        .filter(journal_entries::ticket_id.eq(ticket.0))
        .filter(journal_entries::id.eq(id))
        .into_boxed();
    if scope == EntryScope::PublicOnly {
        query = query.filter(journal_entries::visibility.eq("public"));
    }
    query
        .select((
            Entry::as_select(),
            users::display_name.nullable(),
            users::role.nullable(),
        ))
        .first(conn)
        .await
        .optional()
}

/// Entry texts of these tickets for the search index: (ticket id, public,
/// body), in order.
pub async fn bodies_for(
    conn: &mut AsyncPgConnection,
    tickets: &[i64],
) -> QueryResult<Vec<(i64, bool, String)>> {
    let rows: Vec<(i64, String, String)> = journal_entries::table
        .filter(journal_entries::ticket_id.eq_any(tickets.to_vec()))
        .filter(journal_entries::body.ne(""))
        .select((
            journal_entries::ticket_id,
            journal_entries::visibility,
            journal_entries::body,
        ))
        .order(journal_entries::id.asc())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(t, v, b)| (t, v == "public", b))
        .collect())
}

/// The newest entry id of a ticket (0 when it has none).
pub async fn newest_id(conn: &mut AsyncPgConnection, ticket: TicketId) -> QueryResult<i64> {
    journal_entries::table
        .filter(journal_entries::ticket_id.eq(ticket.0))
        .select(diesel::dsl::max(journal_entries::id))
        .first::<Option<i64>>(conn)
        .await
        .map(|id| id.unwrap_or(0))
}

/// The `data` of a ticket's entries of one kind, oldest first (the ticks
/// of the model checklist are folded from these).
pub async fn data_of_kind(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    kind: EntryKind,
) -> QueryResult<Vec<serde_json::Value>> {
    journal_entries::table
        .filter(journal_entries::ticket_id.eq(ticket.0))
        .filter(journal_entries::kind.eq(kind.as_str()))
        .select(journal_entries::data)
        .order(journal_entries::id.asc())
        .load(conn)
        .await
}
