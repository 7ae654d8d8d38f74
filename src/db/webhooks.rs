//! Webhook subscriptions (admin only) and the delivery log they show.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{deliveries, delivery_attempts, organizations, webhook_subscriptions};
use crate::domain::notice::Event;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    pub events: Vec<Option<String>>,
    pub secret: String,
    pub customer_visible_only: bool,
    pub format: String,
    pub organization_id: Option<i64>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Subscription {
    pub fn event_names(&self) -> String {
        self.events
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct NewSubscription<'a> {
    pub url: &'a str,
    pub events: Vec<String>,
    pub secret: &'a str,
    pub customer_visible_only: bool,
    pub format: &'a str,
    pub organization: Option<i64>,
    pub created_by: i64,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    new: NewSubscription<'_>,
) -> QueryResult<Subscription> {
    diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::url.eq(new.url),
            webhook_subscriptions::events.eq(new.events.into_iter().map(Some).collect::<Vec<_>>()),
            webhook_subscriptions::secret.eq(new.secret),
            webhook_subscriptions::customer_visible_only.eq(new.customer_visible_only),
            webhook_subscriptions::format.eq(new.format),
            webhook_subscriptions::organization_id.eq(new.organization),
            webhook_subscriptions::created_by.eq(new.created_by),
        ))
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await
}

/// Every subscription with its organization's name, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Subscription, Option<String>)>> {
    webhook_subscriptions::table
        .left_join(organizations::table)
        .select((Subscription::as_select(), organizations::name.nullable()))
        .order(webhook_subscriptions::id.desc())
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Subscription>> {
    webhook_subscriptions::table
        .find(id)
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()
}

/// Stops a subscription; its queued deliveries are dropped when their turn
/// comes.
pub async fn deactivate(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    let n = diesel::update(webhook_subscriptions::table.find(id))
        .set(webhook_subscriptions::active.eq(false))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Active subscriptions to `event` that a ticket of `org` concerns.
pub async fn subscribed(
    conn: &mut AsyncPgConnection,
    event: Event,
    org: Option<i64>,
) -> QueryResult<Vec<Subscription>> {
    let mut query = webhook_subscriptions::table
        .filter(webhook_subscriptions::active.eq(true))
        .filter(webhook_subscriptions::events.contains(vec![Some(event.as_str().to_owned())]))
        .into_boxed();
    query = match org {
        Some(org) => query.filter(
            webhook_subscriptions::organization_id
                .is_null()
                .or(webhook_subscriptions::organization_id.eq(org)),
        ),
        None => query.filter(webhook_subscriptions::organization_id.is_null()),
    };
    query
        .select(Subscription::as_select())
        .order(webhook_subscriptions::id.asc())
        .load(conn)
        .await
}

/// One line of the delivery log: the delivery, its tries (when, ok, what).
pub type LogLine = (
    crate::db::deliveries::Delivery,
    Vec<(DateTime<Utc>, bool, String)>,
);

/// The newest webhook deliveries with their tries.
pub async fn log(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<LogLine>> {
    let rows = crate::db::deliveries::recent(conn, "webhook", limit).await?;
    let ids: Vec<i64> = rows.iter().map(|d| d.id).collect();
    let tries: Vec<(i64, DateTime<Utc>, bool, String)> = delivery_attempts::table
        .filter(delivery_attempts::delivery_id.eq_any(ids))
        .select((
            delivery_attempts::delivery_id,
            delivery_attempts::at,
            delivery_attempts::ok,
            delivery_attempts::detail,
        ))
        .order(delivery_attempts::id.asc())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|d| {
            let mine = tries
                .iter()
                .filter(|t| t.0 == d.id)
                .map(|t| (t.1, t.2, t.3.clone()))
                .collect();
            (d, mine)
        })
        .collect())
}

/// Deliveries of one subscription by status, for tests and the page.
pub async fn status_counts(
    conn: &mut AsyncPgConnection,
    subscription: i64,
) -> QueryResult<Vec<(String, i64)>> {
    deliveries::table
        .filter(deliveries::recipient.eq(format!("webhook:{subscription}")))
        .group_by(deliveries::status)
        .select((deliveries::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}
