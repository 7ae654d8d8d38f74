//! `/healthz`: the process is up. `/readyz`: the database answers and every
//! migration this binary carries has been applied.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::app::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let not_ready = |reason: String| {
        HttpResponse::ServiceUnavailable().json(json!({ "status": "not ready", "reason": reason }))
    };
    let mut conn = match state.pool.get().await {
        Ok(conn) => conn,
        Err(e) => return not_ready(format!("database unreachable: {e}")),
    };
    match crate::db::applied_versions(&mut conn).await {
        Ok(applied) => {
            let missing: Vec<&String> = state.migrations.difference(&applied).collect();
            if missing.is_empty() {
                // How far this process's search index is behind: committed
                // outbox rows it has not applied.
                let position = state.search.position();
                let pending = match crate::db::outbox::pending(&mut conn, position).await {
                    Ok(n) => json!(n),
                    Err(e) => json!(format!("unknown: {e}")),
                };
                HttpResponse::Ok().json(json!({
                    "status": "ready",
                    "search": { "position": position.to_string(), "pending": pending },
                    "live": { "listening": state.hub.is_listening() },
                }))
            } else {
                not_ready(format!("migrations pending: {missing:?}"))
            }
        }
        Err(e) => not_ready(format!("cannot read applied migrations: {e}")),
    }
}
