//! Webhook calls: the body queued with the event, signed at each try with
//! the subscription's secret, POSTed to a target that must pass the
//! allow-list, within the delivery timeout.

use diesel_async::AsyncPgConnection;

use super::Tried;
use crate::config::Delivery as Settings;
use crate::db::deliveries::Delivery;
use crate::domain::webhook::{EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use crate::http_client::{self, HttpError};

pub async fn deliver(
    conn: &mut AsyncPgConnection,
    settings: &Settings,
    delivery: &Delivery,
) -> diesel::QueryResult<Tried> {
    let Some(id) = delivery.payload["subscription_id"].as_i64() else {
        return Ok(Tried::Dropped(
            "the delivery names no subscription".to_owned(),
        ));
    };
    let Some(sub) = crate::db::webhooks::find(conn, id).await? else {
        return Ok(Tried::Dropped("the subscription was removed".to_owned()));
    };
    if !sub.active {
        return Ok(Tried::Dropped("the subscription was stopped".to_owned()));
    }
    let body = delivery.payload["body"].as_str().unwrap_or("{}").to_owned();
    let timestamp = chrono::Utc::now().timestamp();
    let headers = [
        ("Content-Type", "application/json".to_owned()),
        (EVENT_HEADER, delivery.event.clone()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, signature(&sub.secret, timestamp, &body)),
        ("X-Casebook-Delivery", delivery.id.to_string()),
    ];
    let sent = http_client::post(
        &sub.url,
        &headers,
        body.into_bytes(),
        settings.timeout,
        Some(&settings.webhook_allow),
    )
    .await;
    Ok(match sent {
        Ok(response) if (200..300).contains(&response.status) => {
            Tried::Sent(format!("HTTP {}", response.status))
        }
        Ok(response) => Tried::Transient(format!(
            "HTTP {}: {}",
            response.status,
            response.body.chars().take(200).collect::<String>()
        )),
        Err(e @ (HttpError::Refused(_) | HttpError::Url(_))) => Tried::Permanent(e.to_string()),
        Err(e) => Tried::Transient(e.to_string()),
    })
}
