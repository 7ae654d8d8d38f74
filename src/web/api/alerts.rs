//! The alert intake: Alertmanager's webhook (payload version 4) and a
//! generic JSON alert, both authenticated by an integration token. The
//! bodies are read here into `domain::alert::Incoming`; what they do to
//! tickets is the intake service's (`tickets::intake`).
//!
//! Alertmanager's deliveries go through the durable inbox
//! (`tickets::inbox`): checked, stored and answered `202 Accepted` with a
//! status URL, applied moments later by the one applier. Alertmanager only
//! needs a 2xx. The generic intake applies the alert in the request and
//! answers its receipt, because scripts want the ticket id at once.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::FieldError;
use crate::domain::alert::{AlertStatus, Decision, Incoming};
use crate::tickets::inbox::{self, ReceiptLine};
use crate::tickets::intake::{self, Receipt};
use crate::web::auth::IntegrationCaller;
use crate::web::error::{ApiError, AppError};

/// Alertmanager's webhook payload, version 4 (as Alertmanager sends it to
/// a `webhook_configs` receiver).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerPayload {
    /// Must be "4".
    pub version: String,
    /// Identifies the alert group; kept with each alert.
    #[serde(default)]
    pub group_key: String,
    /// How many alerts Alertmanager left out (its `max_alerts`).
    #[serde(default)]
    pub truncated_alerts: u64,
    /// "firing" or "resolved": the group's status.
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub group_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub common_annotations: BTreeMap<String, String>,
    /// The Alertmanager's own address, shown on the ticket.
    #[serde(rename = "externalURL", default)]
    pub external_url: String,
    pub alerts: Vec<AlertmanagerAlert>,
}

/// One alert of an Alertmanager payload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertmanagerAlert {
    /// "firing" or "resolved".
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: String,
    /// Identifies the alert (with the integration): its ticket is found
    /// again by it.
    pub fingerprint: String,
}

/// A generic alert, for sources other than Alertmanager (Grafana, Zabbix,
/// a script).
#[derive(Debug, Deserialize, ToSchema)]
pub struct GenericAlert {
    /// The ticket's title; required while firing.
    #[serde(default)]
    pub title: String,
    /// Plain text (shown as text, not Markdown).
    #[serde(default)]
    pub description: String,
    /// "P1" … "P4"; the integration's default when absent.
    #[serde(default)]
    pub priority: Option<String>,
    /// The integration's category label or default when absent.
    #[serde(default)]
    pub category: Option<String>,
    /// Identifies the alert: the same key finds the same ticket again.
    pub dedup_key: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// "firing" (the default) or "resolved".
    #[serde(default = "firing")]
    pub status: String,
    /// When this firing started. Optional: a firing with the same start
    /// (or none) as the one already counted is a repeat, so retries are
    /// harmless; a new start while the ticket is open counts as fired
    /// again.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
}

fn firing() -> String {
    "firing".to_owned()
}

/// What a delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeReceipt {
    /// Alerts in the delivery (after merging repeats of one fingerprint).
    pub received: usize,
    pub opened: usize,
    pub fired_again: usize,
    pub reopened: usize,
    pub resolved: usize,
    /// Retries, repeat notifications, stale or unknown resolutions.
    pub unchanged: usize,
    pub alerts: Vec<AlertOutcome>,
}

/// What one alert did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOutcome {
    pub fingerprint: String,
    pub ticket_id: Option<i64>,
    /// opened, fired_again, reopened, resolved or unchanged.
    pub outcome: String,
}

impl From<Receipt> for IntakeReceipt {
    fn from(r: Receipt) -> Self {
        IntakeReceipt {
            received: r.alerts.len(),
            opened: r.count(Decision::Open),
            fired_again: r.count(Decision::FiredAgain),
            reopened: r.count(Decision::Reopen),
            resolved: r.count(Decision::Resolved),
            unchanged: r.count(Decision::Unchanged),
            alerts: r
                .alerts
                .into_iter()
                .map(|a| AlertOutcome {
                    fingerprint: a.fingerprint,
                    ticket_id: a.ticket.map(|t| t.0),
                    outcome: a.decision.as_str().to_owned(),
                })
                .collect(),
        }
    }
}

impl From<Vec<ReceiptLine>> for IntakeReceipt {
    fn from(lines: Vec<ReceiptLine>) -> Self {
        let count = |outcome: Decision| {
            lines
                .iter()
                .filter(|l| l.outcome == outcome.as_str())
                .count()
        };
        IntakeReceipt {
            received: lines.len(),
            opened: count(Decision::Open),
            fired_again: count(Decision::FiredAgain),
            reopened: count(Decision::Reopen),
            resolved: count(Decision::Resolved),
            unchanged: count(Decision::Unchanged),
            alerts: lines
                .into_iter()
                .map(|l| AlertOutcome {
                    fingerprint: l.fingerprint,
                    ticket_id: l.ticket_id,
                    outcome: l.outcome,
                })
                .collect(),
        }
    }
}

/// A delivery taken into the inbox (`202 Accepted`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAccepted {
    pub id: i64,
    /// Always "pending" here: the applier applies it moments later.
    pub state: String,
    /// Alerts in the delivery (after merging repeats of one fingerprint).
    pub alerts: usize,
    /// Where to read what it did (with the same integration token).
    pub status_url: String,
}

/// An accepted delivery, as its status URL shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryStatus {
    pub id: i64,
    /// pending (not applied yet, or failed and to be tried again), applied,
    /// or failed (parked after its last attempt; an admin sees it on the
    /// integration's page).
    pub state: String,
    pub alerts: i32,
    pub received_at: DateTime<Utc>,
    /// Attempts to apply it so far.
    pub attempts: i32,
    /// The last attempt's error, if it failed.
    pub error: Option<String>,
    /// When it was applied or parked.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it did, once applied.
    pub receipt: Option<IntakeReceipt>,
}

/// The body as JSON, or a problem saying why not: malformed JSON is 400,
/// JSON of the wrong shape 422 naming what is wrong.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<(T, serde_json::Value), AppError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let typed = serde_json::from_value(value.clone())
        .map_err(|e| AppError::Invalid(FieldError::new("body", e.to_string())))?;
    Ok((typed, value))
}

/// Why an Alertmanager body did not read as a payload: it is not JSON
/// (400), it has no version or another one than "4", or it is of the wrong
/// shape (422).
fn refusal(body: &[u8], typed: serde_json::Error) -> ApiError {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return AppError::BadRequest(format!("the body is not valid JSON: {e}")).into(),
    };
    match value.get("version") {
        Some(serde_json::Value::String(v)) if v == "4" => {
            AppError::Invalid(FieldError::new("body", typed.to_string())).into()
        }
        Some(v) => unsupported_version(v).into(),
        None => FieldError::new(
            "version",
            "the payload has no version; Alertmanager's webhook sends version \"4\"",
        )
        .into(),
    }
}

fn unsupported_version(v: &serde_json::Value) -> FieldError {
    FieldError::new(
        "version",
        format!("unsupported webhook payload version {v}; this receiver reads version \"4\""),
    )
}

/// Receives an Alertmanager webhook notification.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/alertmanager",
    tag = "alerts",
    request_body(content = AlertmanagerPayload, content_type = "application/json"),
    responses(
        (status = 202, description = "The delivery was checked and stored; it is applied moments later, in the order deliveries came (see its status URL, also in `Location`)", body = DeliveryAccepted),
        (status = 400, description = "The body is not JSON", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No integration token, or an unknown or revoked one", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 2 MiB", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown payload version, or a payload of the wrong shape", body = crate::web::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn alertmanager(
    state: web::Data<AppState>,
    caller: IntegrationCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Read once, straight into the payload; only a body that does not
    // read is looked at again, to say why (not JSON, no or another
    // version, or the wrong shape).
    let payload: AlertmanagerPayload =
        serde_json::from_slice(&body).map_err(|e| refusal(&body, e))?;
    if payload.version != "4" {
        return Err(unsupported_version(&serde_json::Value::String(payload.version)).into());
    }
    AlertStatus::parse("status", &payload.status)?;
    let mut alerts = Vec::with_capacity(payload.alerts.len());
    for (n, a) in payload.alerts.into_iter().enumerate() {
        let status = AlertStatus::parse("alerts", &a.status).map_err(|e| {
            FieldError::new("alerts", format!("alert {}: status: {}", n + 1, e.message))
        })?;
        alerts.push(Incoming {
            fingerprint: a.fingerprint,
            group_key: payload.group_key.clone(),
            status,
            labels: a.labels,
            annotations: a.annotations,
            // Alertmanager writes the zero time for "not set".
            starts_at: a.starts_at.filter(|t| t.timestamp() > 0),
            ends_at: a.ends_at.filter(|t| t.timestamp() > 0),
            generator_url: a.generator_url,
            title: None,
            description: None,
            priority: None,
            category: None,
        });
    }
    let mut conn = state.pool.get().await?;
    let accepted = inbox::accept(&mut conn, &caller.0, &payload.external_url, alerts).await?;
    state.metrics.alerts_received(accepted.alerts as u64);
    state.hub.inbox.notify_one();
    let status_url = format!("/api/v1/alerts/deliveries/{}", accepted.id);
    Ok(HttpResponse::Accepted()
        .insert_header((actix_web::http::header::LOCATION, status_url.clone()))
        .json(DeliveryAccepted {
            id: accepted.id,
            state: "pending".to_owned(),
            alerts: accepted.alerts,
            status_url,
        }))
}

/// What an accepted Alertmanager delivery did, or that it is still pending.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/deliveries/{id}",
    tag = "alerts",
    params(("id" = i64, Path, description = "The id answered with 202 Accepted")),
    responses(
        (status = 200, description = "The delivery: pending, applied (with its receipt) or failed", body = DeliveryStatus),
        (status = 401, description = "No integration token, or an unknown or revoked one", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery of this integration", body = crate::web::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delivery(
    state: web::Data<AppState>,
    caller: IntegrationCaller,
    path: web::Path<i64>,
) -> Result<web::Json<DeliveryStatus>, ApiError> {
    let mut conn = state.pool.get().await?;
    let row = crate::db::alert_inbox::find(&mut conn, caller.0.id, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(web::Json(DeliveryStatus {
        id: row.id,
        state: row.state,
        alerts: row.alert_count,
        received_at: row.received_at,
        attempts: row.attempts,
        error: row.last_error,
        finished_at: row.finished_at,
        receipt: row
            .receipt
            .as_ref()
            .map(|r| IntakeReceipt::from(inbox::read_receipt(r))),
    }))
}

/// Receives one alert in the generic format.
#[utoipa::path(
    post,
    path = "/api/v1/alerts/generic",
    tag = "alerts",
    request_body(content = GenericAlert, content_type = "application/json"),
    responses(
        (status = 200, description = "The alert was applied (or was a harmless repeat)", body = IntakeReceipt),
        (status = 400, description = "The body is not JSON", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No integration token, or an unknown or revoked one", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 2 MiB", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or wrong", body = crate::web::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn generic(
    state: web::Data<AppState>,
    caller: IntegrationCaller,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (alert, _): (GenericAlert, _) = read(&body)?;
    let status = AlertStatus::parse("status", &alert.status)?;
    if status == AlertStatus::Firing && alert.title.trim().is_empty() {
        return Err(FieldError::new("title", "a firing alert needs a title").into());
    }
    let priority = match alert.priority.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(p.parse()?),
    };
    let incoming = Incoming {
        fingerprint: alert.dedup_key,
        group_key: String::new(),
        status,
        labels: alert.labels,
        annotations: BTreeMap::new(),
        starts_at: alert.started_at,
        ends_at: None,
        generator_url: String::new(),
        title: Some(alert.title),
        description: Some(alert.description),
        priority,
        category: alert.category,
    };
    if incoming.fingerprint.trim().is_empty() {
        return Err(FieldError::new("dedup_key", "must not be empty").into());
    }
    let mut conn = state.pool.get().await?;
    let receipt = intake::receive(&mut conn, &caller.0, "", vec![incoming]).await?;
    state.metrics.alerts_received(receipt.alerts.len() as u64);
    receipt.count_in(&state.metrics);
    Ok(HttpResponse::Ok().json(IntakeReceipt::from(receipt)))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi;

    use super::*;

    #[derive(OpenApi)]
    #[openapi(paths(alertmanager, generic, delivery))]
    struct AlertsDoc;

    /// The handlers' own annotations describe both routes with their
    /// request and response types (the document itself is assembled with
    /// the rest of the API's).
    #[test]
    fn the_intake_describes_itself() {
        let doc = serde_json::to_value(AlertsDoc::openapi()).unwrap();
        for (path, schema) in [
            ("/api/v1/alerts/alertmanager", "AlertmanagerPayload"),
            ("/api/v1/alerts/generic", "GenericAlert"),
        ] {
            let post = &doc["paths"][path]["post"];
            let body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap();
            assert!(body.ends_with(schema), "{body}");
            assert!(post["responses"]["401"].is_object(), "{post}");
        }
        // Alertmanager's deliveries are accepted into the inbox; the
        // generic alert is applied in the request.
        let am = &doc["paths"]["/api/v1/alerts/alertmanager"]["post"]["responses"];
        assert!(am["202"].is_object() && am["200"].is_null(), "{am}");
        let generic = &doc["paths"]["/api/v1/alerts/generic"]["post"]["responses"];
        assert!(generic["200"].is_object(), "{generic}");
        let status = &doc["paths"]["/api/v1/alerts/deliveries/{id}"]["get"]["responses"];
        assert!(
            status["200"].is_object() && status["404"].is_object(),
            "{status}"
        );
        let schemas = &doc["components"]["schemas"];
        for name in [
            "AlertmanagerPayload",
            "AlertmanagerAlert",
            "GenericAlert",
            "IntakeReceipt",
            "AlertOutcome",
            "DeliveryAccepted",
            "DeliveryStatus",
        ] {
            assert!(schemas[name].is_object(), "{name} in {schemas}");
        }
        // Alertmanager's field names, as it sends them.
        let payload = &schemas["AlertmanagerPayload"]["properties"];
        for field in ["groupKey", "externalURL", "commonLabels", "alerts"] {
            assert!(payload[field].is_object(), "{field} in {payload}");
        }
    }
}
