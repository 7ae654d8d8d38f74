//! `/api/v1/rota`: the plan with each week's triage score, assigning a week
//! (managers and admins) and swapping two weeks.

use actix_web::web;
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::rota;
use crate::domain::rota::week_of;
use crate::web::auth::SignedIn;
use crate::web::error::ApiError;

/// A week of the rota.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotaWeek {
    /// The Monday, YYYY-MM-DD.
    pub week_start: String,
    pub triager_id: Option<i64>,
    pub triager: Option<String>,
    /// The week's triage-quality score: the percentage of "yes" among the
    /// applicable triage-review answers.
    pub triage_score: Option<i16>,
    /// How many of the week's tickets had their triage reviewed.
    pub triage_reviews: usize,
}

/// Sixteen weeks of the rota and this week's triager.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotaPlan {
    pub current_triager: Option<String>,
    pub weeks: Vec<RotaWeek>,
}

/// A week given its triager.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    pub week_start: String,
    pub triager_id: Option<i64>,
}

/// Two weeks swapped.
#[derive(Debug, Serialize, ToSchema)]
pub struct Swapped {
    /// The two weeks, as sent.
    pub swapped: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/rota",
    tag = "rota",
    responses((status = 200, description = "The plan from four weeks back", body = RotaPlan))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<web::Json<RotaPlan>, ApiError> {
    let viewer = who.0.user.viewer();
    let today = Utc::now().date_naive();
    let mut conn = state.pool.get().await?;
    let weeks = rota::weeks(&mut conn, &viewer, week_of(today) - Duration::weeks(4), 16).await?;
    let current = rota::current_triager(&mut conn, &viewer, today).await?;
    Ok(web::Json(RotaPlan {
        current_triager: current,
        weeks: weeks
            .iter()
            .map(|w| RotaWeek {
                week_start: w.week.to_string(),
                triager_id: w.triager.as_ref().map(|t| t.0),
                triager: w.triager.as_ref().map(|t| t.1.clone()),
                triage_score: w.score,
                triage_reviews: w.reviewed,
            })
            .collect(),
    }))
}

/// A week and its triager.
#[derive(Deserialize, ToSchema)]
pub struct AssignJson {
    /// A date in the week (YYYY-MM-DD).
    #[serde(default)]
    week: String,
    triager_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/rota",
    tag = "rota",
    request_body = AssignJson,
    responses((status = 200, description = "Assigned", body = Assigned))
)]
pub async fn assign(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<AssignJson>,
) -> Result<web::Json<Assigned>, ApiError> {
    let mut conn = state.pool.get().await?;
    let week = rota::assign(
        &mut conn,
        &who.0.user.viewer(),
        &body.week,
        body.triager_id,
        Utc::now().date_naive(),
    )
    .await?;
    Ok(web::Json(Assigned {
        week_start: week.to_string(),
        triager_id: body.triager_id,
    }))
}

/// Two weeks to swap, and whether the other triager agreed.
#[derive(Deserialize, ToSchema)]
pub struct SwapJson {
    #[serde(default)]
    week_a: String,
    #[serde(default)]
    week_b: String,
    #[serde(default)]
    agreed: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/rota/swaps",
    tag = "rota",
    request_body = SwapJson,
    responses((status = 200, description = "Swapped", body = Swapped))
)]
pub async fn swap(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<SwapJson>,
) -> Result<web::Json<Swapped>, ApiError> {
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
    Ok(web::Json(Swapped {
        swapped: vec![body.week_a.clone(), body.week_b.clone()],
    }))
}
