//! `/api/v1/models`: list, get, create, update with the expected revision
//! (409 on conflict), history, one revision, and one plain-text document.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::db::models::{self, Model, Revision, SaveError};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::model::{self as text, ModelText, Status};
use crate::web::auth::{SignedIn, problem};
use crate::web::error::{ApiError, AppError};
use crate::web::models::edit::save_text;
use crate::web::models::load_visible;
use crate::web::models::pages::{ListQuery, PAGE_SIZE};

#[derive(Serialize)]
struct ModelJson<'a> {
    key: &'a str,
    title: &'a str,
    category: &'a str,
    tags: Vec<&'a str>,
    status: &'a str,
    public: bool,
    revision: i32,
    updated_at: String,
    verified_at: Option<String>,
}

impl<'a> From<&'a Model> for ModelJson<'a> {
    fn from(m: &'a Model) -> Self {
        Self {
            key: &m.key,
            title: &m.title,
            category: &m.category,
            tags: m.tag_list(),
            status: &m.status,
            public: m.public,
            revision: m.revision,
            updated_at: m.updated_at.to_rfc3339(),
            verified_at: m.verified_at.map(|t| t.to_rfc3339()),
        }
    }
}

fn revision_json(r: &Revision) -> serde_json::Value {
    json!({
        "number": r.number,
        "title": r.title,
        "status": r.status,
        "statement": r.statement,
        "steps": r.step_list(),
        "discussion": r.discussion,
        "text": r.body,
        "summary": r.summary,
        "created_at": r.created_at.to_rfc3339(),
    })
}

pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let public_only = !viewer.role.is_staff();
    let filter = query.filter(public_only);
    let page = query.page;
    let mut conn = state.pool.get().await?;
    let (rows, total) = models::list(&mut conn, &filter, page.offset(PAGE_SIZE), PAGE_SIZE).await?;
    let items: Vec<ModelJson> = rows.iter().map(|(m, _)| m.into()).collect();
    Ok(HttpResponse::Ok().json(json!({
        "models": items,
        "total": total,
        "page": page.number(),
        "per_page": PAGE_SIZE,
    })))
}

pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let (model, revision) = load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    let mut body = serde_json::to_value(ModelJson::from(&model))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    body["current"] = revision_json(&revision);
    Ok(HttpResponse::Ok().json(body))
}

/// A model as JSON fields, for create and update.
#[derive(Deserialize)]
pub struct ModelInput {
    key: String,
    title: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    tags: Vec<String>,
    /// The alert names the model covers (`alerts:` in the plain text).
    #[serde(default)]
    alerts: Vec<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    public: bool,
    statement: String,
    steps: Vec<String>,
    #[serde(default)]
    discussion: String,
    #[serde(default)]
    summary: String,
    /// Required to update: the revision the change was made against.
    expected_revision: Option<i32>,
}

impl ModelInput {
    fn into_text(self) -> Result<(ModelText, String, Option<i32>), ApiError> {
        let status = match self.status.as_deref() {
            None => Status::Draft,
            Some(s) => s
                .parse::<Status>()
                .map_err(|e| AppError::Invalid(FieldError::new("status", e)))?,
        };
        let model = ModelText {
            title: self.title,
            key: self.key,
            category: self.category,
            tags: self.tags,
            alerts: self.alerts,
            status,
            public: self.public,
            statement: self.statement,
            steps: self.steps,
            discussion: self.discussion,
        };
        text::validate(&model)
            .map_err(|e| AppError::Invalid(FieldError::new(e.field, e.message)))?;
        Ok((model, self.summary, self.expected_revision))
    }
}

fn save_error(e: SaveError) -> HttpResponse {
    match e {
        SaveError::Conflict { expected, current } => {
            let mut res = problem(
                StatusCode::CONFLICT,
                "Edit conflict",
                &format!(
                    "revision {expected} is no longer current; revision {current} is. Fetch it, merge, and send expected_revision {current}."
                ),
                Some("expected_revision"),
            );
            res.headers_mut().insert(
                header::HeaderName::from_static("x-current-revision"),
                header::HeaderValue::from(current),
            );
            res
        }
        SaveError::Database(e) => AppError::Database(e).response_for(true),
        SaveError::Items(e) => AppError::Invalid(e).response_for(true),
        SaveError::KeyExists(_) | SaveError::KeyChanged(_) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid input",
            &e.to_string(),
            Some("key"),
        ),
        SaveError::UnknownLinks(_) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid input",
            &e.to_string(),
            Some("links"),
        ),
    }
}

fn summary_or(summary: &str, default: &str) -> Result<String, ApiError> {
    let line = summary.trim();
    if line.chars().any(char::is_control) || line.chars().count() > 200 {
        return Err(AppError::Invalid(FieldError::new(
            "summary",
            "must be one line of at most 200 characters",
        ))
        .into());
    }
    Ok(if line.is_empty() {
        default.to_owned()
    } else {
        line.to_owned()
    })
}

async fn write(
    state: &AppState,
    who: &SignedIn,
    model: ModelText,
    summary: String,
    expected: Option<i32>,
    must_exist: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let current = models::find_by_key(&mut conn, must_exist.unwrap_or(&model.key)).await?;
    if must_exist.is_some() && current.is_none() {
        return Err(AppError::NotFound.into());
    }
    let (expected, created) = match (&current, expected) {
        (None, _) => (0, true),
        (Some(_), Some(n)) => (n, false),
        (Some(m), None) => {
            return Ok(problem(
                StatusCode::CONFLICT,
                "Model exists",
                &format!(
                    "the model {:?} exists at revision {}; send expected_revision to update it",
                    m.key, m.revision
                ),
                Some("expected_revision"),
            ));
        }
    };
    let default = if created { "Created" } else { "Edited" };
    let summary = summary_or(&summary, default)?;
    match save_text(
        &mut conn,
        current.as_ref(),
        expected,
        &model,
        UserId(who.0.user.id),
        &summary,
    )
    .await
    {
        Ok(saved) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(HttpResponse::build(status)
                .insert_header((header::LOCATION, format!("/api/v1/models/{}", saved.key)))
                .json(ModelJson::from(&saved)))
        }
        Err(e) => Ok(save_error(e)),
    }
}

pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    input: web::Json<ModelInput>,
) -> Result<HttpResponse, ApiError> {
    let (model, summary, _) = input.into_inner().into_text()?;
    let mut conn = state.pool.get().await?;
    if models::find_by_key(&mut conn, &model.key).await?.is_some() {
        return Ok(save_error(SaveError::KeyExists(model.key)));
    }
    write(&state, &who, model, summary, None, None).await
}

pub async fn update(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    input: web::Json<ModelInput>,
) -> Result<HttpResponse, ApiError> {
    let (model, summary, expected) = input.into_inner().into_text()?;
    let Some(expected) = expected else {
        return Err(AppError::Invalid(FieldError::new(
            "expected_revision",
            "is required to update a model",
        ))
        .into());
    };
    write(&state, &who, model, summary, Some(expected), Some(&path)).await
}

#[derive(Deserialize)]
pub struct TextQuery {
    expected_revision: Option<i32>,
    #[serde(default)]
    summary: String,
}

/// One plain-text document (`text/plain` or `text/markdown`): creates the
/// model, or updates it when `expected_revision` is given.
pub async fn post_text(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<TextQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !(content_type.starts_with("text/plain") || content_type.starts_with("text/markdown")) {
        return Err(AppError::UnsupportedMediaType(
            "send the model as text/plain or text/markdown",
        )
        .into());
    }
    let document = std::str::from_utf8(&body)
        .map_err(|_| AppError::Invalid(FieldError::new("text", "is not valid UTF-8")))?;
    let model = text::parse(document)
        .map_err(|e| AppError::Invalid(FieldError::new("text", e.to_string())))?;
    let query = query.into_inner();
    write(
        &state,
        &who,
        model,
        query.summary,
        query.expected_revision,
        None,
    )
    .await
}

pub async fn history(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    let (model, _) = load_visible(&mut conn, &viewer, &path).await?;
    let revisions: Vec<serde_json::Value> = models::history(&mut conn, model.id, !viewer.role.is_staff())
        .await?
        .into_iter()
        .map(|r| json!({ "number": r.number, "summary": r.summary, "author": r.author, "created_at": r.created_at.to_rfc3339(), "status": r.status }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "key": model.key, "revisions": revisions })))
}

pub async fn revision(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (key, number) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    let (model, _) = load_visible(&mut conn, &viewer, &key).await?;
    let revision = crate::web::models::load_revision(&mut conn, &viewer, &model, number).await?;
    Ok(HttpResponse::Ok().json(revision_json(&revision)))
}
