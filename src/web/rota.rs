//! The weekly triage rota: the plan (weeks × person) with each week's
//! triage-quality score, assigning (managers and admins), swaps, the
//! per-person calendar feed behind a secret URL, and the sampled triage
//! review. The actions are in `db::rota`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{Duration, NaiveDate, Utc};
use icalendar::{Calendar, Component, EventLike};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::rota::{self, RotaError, SampleRow, SwapRow, WeekRow};
use crate::domain::FieldError;
use crate::domain::policy::Viewer;
use crate::domain::rota::{QUESTIONS, week_of};
use crate::secrets::{hash_token, new_token};
use crate::web::auth::SignedIn;
use crate::web::error::{AppError, NotAppError};
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

/// Weeks shown before this one, and in all.
const PAST_WEEKS: i64 = 4;
const WEEKS: usize = 16;

impl From<RotaError> for AppError {
    fn from(e: RotaError) -> Self {
        match e {
            RotaError::Forbidden => AppError::Forbidden,
            RotaError::Invalid(f) => AppError::Invalid(f),
            RotaError::Database(d) => AppError::Database(d),
        }
    }
}

impl NotAppError for RotaError {}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[derive(Template)]
#[template(path = "rota/show.html")]
struct RotaPage {
    ctx: Ctx,
    weeks: Vec<WeekRow>,
    this_week: NaiveDate,
    people: Vec<(i64, String)>,
    swaps: Vec<SwapRow>,
    may_assign: bool,
    me: i64,
    error: Option<FieldError>,
    /// A calendar URL just made, shown once.
    calendar_url: Option<String>,
}

impl RotaPage {
    fn unplanned(weeks: &[WeekRow]) -> bool {
        weeks.iter().all(|w| w.triager.is_none())
    }
}

async fn rota_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    error: Option<FieldError>,
    calendar_url: Option<String>,
) -> Result<RotaPage, AppError> {
    let mut conn = state.pool.get().await?;
    let this_week = week_of(today());
    let weeks = rota::weeks(
        &mut conn,
        viewer,
        this_week - Duration::weeks(PAST_WEEKS),
        WEEKS,
    )
    .await?;
    Ok(RotaPage {
        ctx,
        weeks,
        this_week,
        people: crate::db::tickets::staff(&mut conn).await?,
        swaps: rota::swaps(&mut conn, viewer, 20).await?,
        may_assign: rota::may_assign(viewer),
        me: viewer.user.0,
        error,
        calendar_url,
    })
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    render_status(
        &rota_page(&state, ctx, &viewer, None, None).await?,
        StatusCode::OK,
    )
}

async fn refused(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    e: RotaError,
) -> Result<HttpResponse, AppError> {
    match e {
        RotaError::Invalid(f) => {
            let page = rota_page(state, ctx, viewer, Some(f), None).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        e => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    week: String,
    #[serde(default)]
    triager: String,
}

pub async fn assign(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let result = rota::assign(
        &mut conn,
        &viewer,
        &form.week,
        form.triager.trim().parse().ok(),
        today(),
    )
    .await;
    drop(conn);
    match result {
        Ok(_) => Ok(see_other("/rota?notice=rota-assigned")),
        Err(e) => refused(&state, ctx, &viewer, e).await,
    }
}

#[derive(Deserialize)]
pub struct SwapForm {
    #[serde(default)]
    week_a: String,
    #[serde(default)]
    week_b: String,
    #[serde(default)]
    agreed: String,
}

pub async fn swap(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<SwapForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let result = rota::swap(
        &mut conn,
        &viewer,
        &form.week_a,
        &form.week_b,
        form.agreed == "on",
        today(),
    )
    .await;
    drop(conn);
    match result {
        Ok(()) => Ok(see_other("/rota?notice=rota-swapped")),
        Err(e) => refused(&state, ctx, &viewer, e).await,
    }
}

/// Makes a new secret calendar URL for the signed-in person and shows it
/// once; an earlier URL stops working.
pub async fn create_calendar(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let token = new_token("cal_")?;
    let mut conn = state.pool.get().await?;
    rota::set_calendar_feed(&mut conn, &viewer, &hash_token(&token)).await?;
    drop(conn);
    let url = format!("/rota/calendar/{token}.ics");
    render_status(
        &rota_page(&state, ctx, &viewer, None, Some(url)).await?,
        StatusCode::OK,
    )
}

/// The iCalendar feed: one all-day event per rota week, from four weeks
/// ago on. The secret in the URL is the only credential.
pub async fn calendar(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let token = path.into_inner();
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let well_formed = token.len() == 68
        && token.starts_with("cal_")
        && token[4..].bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(AppError::NotFound);
    }
    let mut conn = state.pool.get().await?;
    let (name, weeks) = rota::calendar(
        &mut conn,
        &hash_token(token),
        week_of(today()) - Duration::weeks(PAST_WEEKS),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .body(calendar_text(&name, &weeks)))
}

/// The feed's text: RFC 5545 through the `icalendar` crate.
pub fn calendar_text(name: &str, weeks: &[NaiveDate]) -> String {
    let mut calendar = Calendar::new();
    calendar.name(&format!("Casebook triage rota: {name}"));
    for week in weeks {
        calendar.push(
            icalendar::Event::new()
                .uid(&format!("casebook-rota-{week}@casebook"))
                .summary("Triage rota: you triage new tickets this week")
                .starts(*week)
                .ends(*week + Duration::weeks(1))
                .done(),
        );
    }
    calendar.done().to_string()
}

#[derive(Deserialize)]
pub struct SampleQuery {
    week: Option<String>,
}

#[derive(Template)]
#[template(path = "rota/triage_reviews.html")]
struct SamplePage {
    ctx: Ctx,
    week: NaiveDate,
    triager: Option<(i64, String)>,
    rows: Vec<SampleRow>,
    questions: [(&'static str, &'static str); 5],
    size: usize,
    error: Option<FieldError>,
}

impl SamplePage {
    fn previous(&self) -> NaiveDate {
        self.week - Duration::weeks(1)
    }

    fn next(&self) -> NaiveDate {
        self.week + Duration::weeks(1)
    }
}

async fn sample_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    week: NaiveDate,
    error: Option<FieldError>,
) -> Result<SamplePage, AppError> {
    let size = state.config.triage_sample;
    let mut conn = state.pool.get().await?;
    let (triager, rows) = rota::sample(&mut conn, viewer, week, size).await?;
    Ok(SamplePage {
        ctx,
        week: week_of(week),
        triager,
        rows,
        questions: QUESTIONS,
        size,
        error,
    })
}

/// The sample of a week (by default last week) offered to reviewers.
pub async fn triage_reviews(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SampleQuery>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let week = match query
        .week
        .as_deref()
        .map(|w| crate::domain::rota::parse_week("week", w))
    {
        Some(Ok(week)) => week,
        Some(Err(e)) => return Err(e.into()),
        None => week_of(today()) - Duration::weeks(1),
    };
    render_status(
        &sample_page(&state, ctx, &viewer, week, None).await?,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct TriageReviewForm {
    #[serde(default)]
    week: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    right_model: String,
    #[serde(default)]
    duplicates_checked: String,
    #[serde(default)]
    searches_good: String,
    #[serde(default)]
    reply_fast: String,
    #[serde(default)]
    escalated_right: String,
    #[serde(default)]
    comment: String,
}

pub async fn review_triage(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<TriageReviewForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let f = form.into_inner();
    let week = crate::domain::rota::parse_week("week", &f.week)?;
    let ticket: i64 = f
        .ticket
        .trim()
        .parse()
        .map_err(|_| FieldError::new("ticket", "choose a ticket of the sample"))?;
    let mut conn = state.pool.get().await?;
    let result = rota::review_triage(
        &mut conn,
        &viewer,
        &f.week,
        ticket,
        [
            &f.right_model,
            &f.duplicates_checked,
            &f.searches_good,
            &f.reply_fast,
            &f.escalated_right,
        ],
        &f.comment,
        state.config.triage_sample,
    )
    .await;
    drop(conn);
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/rota/triage-reviews?week={week}&notice=triage-reviewed"
        ))),
        Err(RotaError::Invalid(e)) => {
            let page = sample_page(&state, ctx, &viewer, week, Some(e)).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
