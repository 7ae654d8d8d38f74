//! Integrations (alert sources with their own tokens) and the state of the
//! alerts they report.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::upsert::on_constraint;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{alerts, incident_models, integrations, organizations, ticket_transitions};
use crate::domain::alert::{AlertStatus, Mapping, PriorityMap};
use crate::domain::ticket::Priority;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = integrations)]
pub struct Integration {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub user_id: i64,
    pub organization_id: Option<i64>,
    pub default_priority: i16,
    pub default_category: String,
    pub priority_label: String,
    pub priority_map: serde_json::Value,
    pub category_label: String,
    pub resolve_on_resolved: bool,
    pub reopen_window_minutes: i32,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Integration {
    pub fn mapping(&self) -> Mapping {
        Mapping {
            default_priority: Priority::new(self.default_priority).unwrap_or(Priority::ALL[2]),
            default_category: self.default_category.clone(),
            priority_label: self.priority_label.clone(),
            priority_map: PriorityMap::from_json(&self.priority_map),
            category_label: self.category_label.clone(),
        }
    }

    pub fn priority_map_text(&self) -> String {
        PriorityMap::from_json(&self.priority_map).to_string()
    }

    pub fn default_priority_label(&self) -> String {
        format!("P{}", self.default_priority)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    pub fn reopen_window_hours(&self) -> String {
        let minutes = self.reopen_window_minutes;
        if minutes % 60 == 0 {
            (minutes / 60).to_string()
        } else {
            format!("{:.2}", f64::from(minutes) / 60.0)
        }
    }
}

/// What an admin sets on an integration.
pub struct Settings<'a> {
    pub name: &'a str,
    pub organization: Option<i64>,
    pub default_priority: Priority,
    pub default_category: &'a str,
    pub priority_label: &'a str,
    pub priority_map: &'a PriorityMap,
    pub category_label: &'a str,
    pub resolve_on_resolved: bool,
    pub reopen_window_minutes: i32,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    settings: &Settings<'_>,
    token_hash: &str,
    prefix: &str,
    user: i64,
) -> QueryResult<Integration> {
    diesel::insert_into(integrations::table)
        .values((
            integrations::name.eq(settings.name),
            integrations::token_hash.eq(token_hash),
            integrations::prefix.eq(prefix),
            integrations::user_id.eq(user),
            integrations::organization_id.eq(settings.organization),
            integrations::default_priority.eq(settings.default_priority.level()),
            integrations::default_category.eq(settings.default_category),
            integrations::priority_label.eq(settings.priority_label),
            integrations::priority_map.eq(settings.priority_map.to_json()),
            integrations::category_label.eq(settings.category_label),
            integrations::resolve_on_resolved.eq(settings.resolve_on_resolved),
            integrations::reopen_window_minutes.eq(settings.reopen_window_minutes),
        ))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    settings: &Settings<'_>,
) -> QueryResult<Option<Integration>> {
    diesel::update(integrations::table.find(id))
        .set((
            integrations::name.eq(settings.name),
            integrations::organization_id.eq(settings.organization),
            integrations::default_priority.eq(settings.default_priority.level()),
            integrations::default_category.eq(settings.default_category),
            integrations::priority_label.eq(settings.priority_label),
            integrations::priority_map.eq(settings.priority_map.to_json()),
            integrations::category_label.eq(settings.category_label),
            integrations::resolve_on_resolved.eq(settings.resolve_on_resolved),
            integrations::reopen_window_minutes.eq(settings.reopen_window_minutes),
        ))
        .returning(Integration::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Every integration, live ones first, with its organization's name and
/// how many alerts it has reported.
pub async fn list(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(Integration, Option<String>, i64)>> {
    let rows: Vec<(Integration, Option<String>)> = integrations::table
        .left_join(organizations::table)
        .select((Integration::as_select(), organizations::name.nullable()))
        .order((
            integrations::revoked_at.is_not_null(),
            integrations::name.asc(),
        ))
        .load(conn)
        .await?;
    let counts: Vec<(i64, i64)> = alerts::table
        .group_by(alerts::integration_id)
        .select((alerts::integration_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(i, org)| {
            let n = counts
                .iter()
                .find(|(id, _)| *id == i.id)
                .map_or(0, |(_, n)| *n);
            (i, org, n)
        })
        .collect())
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Integration>> {
    integrations::table
        .find(id)
        .select(Integration::as_select())
        .first(conn)
        .await
        .optional()
}

/// The live integration a token belongs to.
pub async fn find_by_token(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<Integration>> {
    integrations::table
        .filter(integrations::token_hash.eq(token_hash))
        .filter(integrations::revoked_at.is_null())
        .select(Integration::as_select())
        .first(conn)
        .await
        .optional()
}

/// Whether a use was noted less than [`crate::db::NOTE_USE_EVERY_SECS`] before `now`:
/// then [`touch`] would change nothing and need not be sent.
pub fn used_lately(integration: &Integration, now: DateTime<Utc>) -> bool {
    crate::db::used_lately(integration.last_used_at, now)
}

/// Notes a use, at most once a minute: under a burst of deliveries the
/// integration's row is not written (and locked) by every one of them.
/// A delivery that finds the row locked by another one noting the same use
/// skips it (`SKIP LOCKED`) instead of queueing behind that commit: the
/// first deliveries of a burst would otherwise wait on each other, one
/// commit after the other.
pub async fn touch(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE integrations SET last_used_at = now() WHERE id = ( \
            SELECT id FROM integrations WHERE id = $1 \
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)) \
            FOR NO KEY UPDATE SKIP LOCKED)",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .bind::<diesel::sql_types::Double, _>(crate::db::NOTE_USE_EVERY_SECS as f64)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn revoke(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Integration>> {
    diesel::update(
        integrations::table
            .filter(integrations::id.eq(id))
            .filter(integrations::revoked_at.is_null()),
    )
    .set(integrations::revoked_at.eq(diesel::dsl::now))
    .returning(Integration::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The state of one alert, as locked for a delivery.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alerts)]
pub struct AlertRow {
    pub id: i64,
    pub fingerprint: String,
    pub ticket_id: Option<i64>,
    pub status: String,
    pub fire_count: i32,
    pub starts_at: Option<DateTime<Utc>>,
}

impl AlertRow {
    pub fn status(&self) -> AlertStatus {
        if self.status == "resolved" {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        }
    }
}

/// Makes sure a row exists for each firing fingerprint (`fingerprints`
/// sorted), then locks the rows of all `wanted` fingerprints in that same
/// order. Concurrent deliveries of the same alerts meet here: an insert of
/// a row another transaction is inserting waits for it to finish, and the
/// row locks make the rest of the delivery run one at a time per alert.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    integration: i64,
    firing: &[&str],
    wanted: &[&str],
) -> QueryResult<Vec<AlertRow>> {
    if !firing.is_empty() {
        let rows: Vec<_> = firing
            .iter()
            .map(|fp| {
                (
                    alerts::integration_id.eq(integration),
                    alerts::fingerprint.eq(*fp),
                )
            })
            .collect();
        diesel::insert_into(alerts::table)
            .values(rows)
            .on_conflict(on_constraint("alerts_integration_id_fingerprint_key"))
            .do_nothing()
            .execute(conn)
            .await?;
    }
    alerts::table
        .filter(alerts::integration_id.eq(integration))
        .filter(alerts::fingerprint.eq_any(wanted))
        .order(alerts::fingerprint.asc())
        .select(AlertRow::as_select())
        .for_update()
        .load(conn)
        .await
}

/// The rows of `wanted` fingerprints as committed now, without locking
/// them: what the intake answers repeats from.
pub async fn peek(
    conn: &mut AsyncPgConnection,
    integration: i64,
    wanted: &[&str],
) -> QueryResult<Vec<AlertRow>> {
    alerts::table
        .filter(alerts::integration_id.eq(integration))
        .filter(alerts::fingerprint.eq_any(wanted))
        .filter(alerts::ticket_id.is_not_null())
        .select(AlertRow::as_select())
        .load(conn)
        .await
}

/// The new state of an alert after a delivery.
pub struct AlertUpdate<'a> {
    pub id: i64,
    pub ticket: i64,
    pub status: AlertStatus,
    pub fire_count: i32,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub group_key: &'a str,
    pub alertname: &'a str,
    /// Notifications that changed it since the last save.
    pub received: i64,
}

pub async fn save(conn: &mut AsyncPgConnection, u: AlertUpdate<'_>) -> QueryResult<()> {
    diesel::update(alerts::table.find(u.id))
        .set((
            alerts::ticket_id.eq(u.ticket),
            alerts::status.eq(u.status.as_str()),
            alerts::fire_count.eq(u.fire_count),
            alerts::starts_at.eq(u.starts_at),
            alerts::ends_at.eq(u.ends_at),
            alerts::group_key.eq(u.group_key),
            alerts::alertname.eq(u.alertname),
            alerts::received.eq(alerts::received + u.received),
            alerts::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Saves the new state of several alerts in one statement.
pub async fn save_many(
    conn: &mut AsyncPgConnection,
    updates: &[AlertUpdate<'_>],
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};
    if updates.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = updates.iter().map(|u| u.id).collect();
    let tickets: Vec<i64> = updates.iter().map(|u| u.ticket).collect();
    let statuses: Vec<&str> = updates.iter().map(|u| u.status.as_str()).collect();
    let counts: Vec<i32> = updates.iter().map(|u| u.fire_count).collect();
    let starts: Vec<Option<DateTime<Utc>>> = updates.iter().map(|u| u.starts_at).collect();
    let ends: Vec<Option<DateTime<Utc>>> = updates.iter().map(|u| u.ends_at).collect();
    let groups: Vec<&str> = updates.iter().map(|u| u.group_key).collect();
    let names: Vec<&str> = updates.iter().map(|u| u.alertname).collect();
    let received: Vec<i64> = updates.iter().map(|u| u.received).collect();
    diesel::sql_query(
        "UPDATE alerts AS a SET ticket_id = u.ticket, status = u.status, \
            fire_count = u.fire_count, starts_at = u.starts_at, ends_at = u.ends_at, \
            group_key = u.group_key, alertname = u.alertname, \
            received = a.received + u.received, updated_at = now() \
         FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9) \
            AS u(id, ticket, status, fire_count, starts_at, ends_at, group_key, alertname, received) \
         WHERE a.id = u.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<BigInt>, _>(tickets)
    .bind::<Array<Text>, _>(statuses)
    .bind::<Array<Integer>, _>(counts)
    .bind::<Array<Nullable<Timestamptz>>, _>(starts)
    .bind::<Array<Nullable<Timestamptz>>, _>(ends)
    .bind::<Array<Text>, _>(groups)
    .bind::<Array<Text>, _>(names)
    .bind::<Array<BigInt>, _>(received)
    .execute(conn)
    .await?;
    Ok(())
}

/// When each of `tickets` was last resolved.
pub async fn resolved_at(
    conn: &mut AsyncPgConnection,
    tickets: &[i64],
) -> QueryResult<Vec<(i64, Option<DateTime<Utc>>)>> {
    if tickets.is_empty() {
        return Ok(Vec::new());
    }
    ticket_transitions::table
        .filter(ticket_transitions::ticket_id.eq_any(tickets))
        .filter(ticket_transitions::to_status.eq("resolved"))
        .group_by(ticket_transitions::ticket_id)
        .select((
            ticket_transitions::ticket_id,
            diesel::dsl::max(ticket_transitions::at),
        ))
        .load(conn)
        .await
}

/// The models, not retired, that declare one of `alertnames` or have one
/// of `keys`: (key, title, declared alert names).
pub async fn declared_models(
    conn: &mut AsyncPgConnection,
    alertnames: &[String],
    keys: &[String],
) -> QueryResult<Vec<(String, String, Vec<Option<String>>)>> {
    if alertnames.is_empty() && keys.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<Option<String>> = alertnames.iter().cloned().map(Some).collect();
    incident_models::table
        .filter(incident_models::status.ne("retired"))
        .filter(
            incident_models::alerts
                .overlaps_with(names)
                .or(incident_models::key.eq_any(keys)),
        )
        .select((
            incident_models::key,
            incident_models::title,
            incident_models::alerts,
        ))
        .order(incident_models::key.asc())
        .load(conn)
        .await
}

/// The ticket an alert of an integration opened, if any (for tests and the
/// admin page).
pub async fn ticket_of(
    conn: &mut AsyncPgConnection,
    integration: i64,
    fingerprint: &str,
) -> QueryResult<Option<(Option<i64>, String, i32)>> {
    alerts::table
        .filter(alerts::integration_id.eq(integration))
        .filter(alerts::fingerprint.eq(fingerprint))
        .select((alerts::ticket_id, alerts::status, alerts::fire_count))
        .first(conn)
        .await
        .optional()
}
