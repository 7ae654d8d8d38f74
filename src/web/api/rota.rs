//! `/api/v1/rota`: the plan with each week's triage score, assigning a week
//! (managers and admins) and swapping two weeks.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::rota;
use crate::domain::rota::week_of;
use crate::web::auth::SignedIn;
use crate::web::error::ApiError;

pub async fn list(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let today = Utc::now().date_naive();
    let mut conn = state.pool.get().await?;
    let weeks = rota::weeks(&mut conn, &viewer, week_of(today) - Duration::weeks(4), 16).await?;
    let current = rota::current_triager(&mut conn, &viewer, today).await?;
    Ok(HttpResponse::Ok().json(json!({
        "current_triager": current,
        "weeks": weeks.iter().map(|w| json!({
            "week_start": w.week.to_string(),
            "triager_id": w.triager.as_ref().map(|t| t.0),
            "triager": w.triager.as_ref().map(|t| &t.1),
            "triage_score": w.score,
            "triage_reviews": w.reviewed,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
pub struct AssignJson {
    #[serde(default)]
    week: String,
    triager_id: Option<i64>,
}

pub async fn assign(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<AssignJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let week = rota::assign(
        &mut conn,
        &who.0.user.viewer(),
        &body.week,
        body.triager_id,
        Utc::now().date_naive(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .json(json!({ "week_start": week.to_string(), "triager_id": body.triager_id })))
}

#[derive(Deserialize)]
pub struct SwapJson {
    #[serde(default)]
    week_a: String,
    #[serde(default)]
    week_b: String,
    #[serde(default)]
    agreed: bool,
}

pub async fn swap(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<SwapJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    rota::swap(
        &mut conn,
        &who.0.user.viewer(),
        &body.week_a,
        &body.week_b,
        body.agreed,
        Utc::now().date_naive(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "swapped": [body.week_a, body.week_b] })))
}
