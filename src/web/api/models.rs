//! `/api/v1/models`: list, get, create, update with the expected revision
//! (409 on conflict), history, one revision, and one plain-text document.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::models::{self, Model, Revision, RevisionMeta, SaveError};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::model::{self as text, ModelText, Status};
use crate::web::api::Located;
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::models::edit::save_text;
use crate::web::models::load_visible;
use crate::web::models::pages::{ListQuery, PAGE_SIZE};

/// An incident model's current state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelJson {
    pub key: String,
    pub title: String,
    pub category: String,
    pub tags: Vec<String>,
    /// draft, published or retired.
    pub status: String,
    /// Whether customers may read it.
    pub public: bool,
    /// The current revision's number.
    pub revision: i32,
    pub updated_at: String,
    pub verified_at: Option<String>,
}

impl From<&Model> for ModelJson {
    fn from(m: &Model) -> Self {
        Self {
            key: m.key.clone(),
            title: m.title.clone(),
            category: m.category.clone(),
            tags: m.tag_list().into_iter().map(str::to_owned).collect(),
            status: m.status.clone(),
            public: m.public,
            revision: m.revision,
            updated_at: m.updated_at.to_rfc3339(),
            verified_at: m.verified_at.map(|t| t.to_rfc3339()),
        }
    }
}

/// One revision of a model: its three parts and the whole text.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionJson {
    pub number: i32,
    pub title: String,
    pub status: String,
    pub statement: String,
    pub steps: Vec<String>,
    pub discussion: String,
    /// The canonical plain-text document.
    pub text: String,
    /// Why it was saved.
    pub summary: String,
    pub created_at: String,
}

impl From<&Revision> for RevisionJson {
    fn from(r: &Revision) -> Self {
        Self {
            number: r.number,
            title: r.title.clone(),
            status: r.status.clone(),
            statement: r.statement.clone(),
            steps: r.step_list().into_iter().map(str::to_owned).collect(),
            discussion: r.discussion.clone(),
            text: r.body.clone(),
            summary: r.summary.clone(),
            created_at: r.created_at.to_rfc3339(),
        }
    }
}

/// One page of models.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A model with its current revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelDetail {
    #[serde(flatten)]
    pub model: ModelJson,
    pub current: RevisionJson,
}

/// A line of a model's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionSummary {
    pub number: i32,
    pub summary: String,
    pub author: Option<String>,
    pub created_at: String,
    pub status: String,
}

impl From<RevisionMeta> for RevisionSummary {
    fn from(r: RevisionMeta) -> Self {
        Self {
            number: r.number,
            summary: r.summary,
            author: r.author,
            created_at: r.created_at.to_rfc3339(),
            status: r.status,
        }
    }
}

/// A model's revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelHistory {
    pub key: String,
    pub revisions: Vec<RevisionSummary>,
}

#[utoipa::path(
    get,
    path = "/api/v1/models",
    tag = "models",
    params(
        ("category" = Option<String>, Query),
        ("tag" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "draft, published or retired"),
        ("owner" = Option<String>, Query),
        ("sort" = Option<String>, Query),
        ("page" = Option<i64>, Query, description = "from 1; clamped to the list"),
    ),
    responses((status = 200, description = "One page of the models the token's owner may read", body = ModelList))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<web::Json<ModelList>, ApiError> {
    let viewer = who.0.user.viewer();
    let public_only = !viewer.role.is_staff();
    let filter = query.filter(public_only);
    let page = query.page;
    let mut conn = state.pool.get().await?;
    let (rows, total) = models::list(&mut conn, &filter, page.offset(PAGE_SIZE), PAGE_SIZE).await?;
    Ok(web::Json(ModelList {
        models: rows.iter().map(|(m, _)| ModelJson::from(m)).collect(),
        total,
        page: page.number(),
        per_page: PAGE_SIZE,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{key}",
    tag = "models",
    params(("key" = String, Path, description = "The model's key")),
    responses((status = 200, description = "The model and its current revision", body = ModelDetail))
)]
pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<ModelDetail>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (model, revision) = load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    Ok(web::Json(ModelDetail {
        model: ModelJson::from(&model),
        current: RevisionJson::from(&revision),
    }))
}

/// A model as JSON fields, for create and update.
#[derive(Deserialize, ToSchema)]
pub struct ModelInput {
    /// Lowercase letters, digits and dashes; never changes.
    key: String,
    title: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    tags: Vec<String>,
    /// The alert names the model covers (`alerts:` in the plain text).
    #[serde(default)]
    alerts: Vec<String>,
    /// draft (the default), published or retired.
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

fn save_error(e: SaveError) -> ApiError {
    match e {
        SaveError::Conflict { expected, current } => AppError::Conflict {
            title: "Edit conflict",
            detail: format!(
                "revision {expected} is no longer current; revision {current} is. Fetch it, merge, and send expected_revision {current}."
            ),
            field: "expected_revision",
            current_revision: Some(current),
        },
        SaveError::Database(e) => AppError::Database(e),
        SaveError::Items(e) => AppError::Invalid(e),
        SaveError::KeyExists(_) | SaveError::KeyChanged(_) => {
            AppError::Invalid(FieldError::new("key", e.to_string()))
        }
        SaveError::UnknownLinks(_) => AppError::Invalid(FieldError::new("links", e.to_string())),
    }
    .into()
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
) -> Result<Located<ModelJson>, ApiError> {
    let mut conn = state.pool.get().await?;
    let current = models::find_by_key(&mut conn, must_exist.unwrap_or(&model.key)).await?;
    if must_exist.is_some() && current.is_none() {
        return Err(AppError::NotFound.into());
    }
    let (expected, created) = match (&current, expected) {
        (None, _) => (0, true),
        (Some(_), Some(n)) => (n, false),
        (Some(m), None) => {
            return Err(AppError::Conflict {
                title: "Model exists",
                detail: format!(
                    "the model {:?} exists at revision {}; send expected_revision to update it",
                    m.key, m.revision
                ),
                field: "expected_revision",
                current_revision: None,
            }
            .into());
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
            Ok(Located {
                status,
                location: format!("/api/v1/models/{}", saved.key),
                body: ModelJson::from(&saved),
            })
        }
        Err(e) => Err(save_error(e)),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/models",
    tag = "models",
    request_body = ModelInput,
    responses(
        (status = 201, description = "Created; Location names it", body = ModelJson),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    input: web::Json<ModelInput>,
) -> Result<Located<ModelJson>, ApiError> {
    let (model, summary, _) = input.into_inner().into_text()?;
    let mut conn = state.pool.get().await?;
    if models::find_by_key(&mut conn, &model.key).await?.is_some() {
        return Err(save_error(SaveError::KeyExists(model.key)));
    }
    write(&state, &who, model, summary, None, None).await
}

#[utoipa::path(
    put,
    path = "/api/v1/models/{key}",
    tag = "models",
    params(("key" = String, Path)),
    request_body = ModelInput,
    responses(
        (status = 200, description = "Saved as a new revision", body = ModelJson),
        (status = 409, description = "expected_revision is not the current revision (the X-Current-Revision header and current_revision say which is)", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    input: web::Json<ModelInput>,
) -> Result<Located<ModelJson>, ApiError> {
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TextQuery {
    /// Required to update an existing model: the revision the text was
    /// edited from.
    expected_revision: Option<i32>,
    /// Why it is saved (one line).
    #[serde(default)]
    summary: String,
}

/// One plain-text document (`text/plain` or `text/markdown`): creates the
/// model, or updates it when `expected_revision` is given.
#[utoipa::path(
    post,
    path = "/api/v1/models/text",
    tag = "models",
    params(TextQuery),
    request_body(content = String, description = "The model in the plain-text format", content_type = "text/markdown"),
    responses(
        (status = 201, description = "Created", body = ModelJson),
        (status = 200, description = "Updated (expected_revision was given)", body = ModelJson),
        (status = 409, description = "The model exists and expected_revision was not given, or is not current", body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn post_text(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<TextQuery>,
    body: web::Bytes,
) -> Result<Located<ModelJson>, ApiError> {
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

#[utoipa::path(
    get,
    path = "/api/v1/models/{key}/revisions",
    tag = "models",
    params(("key" = String, Path)),
    responses((status = 200, description = "The revisions the token's owner may see", body = ModelHistory))
)]
pub async fn history(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<ModelHistory>, ApiError> {
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    let (model, _) = load_visible(&mut conn, &viewer, &path).await?;
    let revisions = models::history(&mut conn, model.id, !viewer.role.is_staff())
        .await?
        .into_iter()
        .map(RevisionSummary::from)
        .collect();
    Ok(web::Json(ModelHistory {
        key: model.key,
        revisions,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/models/{key}/revisions/{number}",
    tag = "models",
    params(("key" = String, Path), ("number" = i32, Path, description = "From 1")),
    responses((status = 200, description = "That revision", body = RevisionJson))
)]
pub async fn revision(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(String, i32)>,
) -> Result<web::Json<RevisionJson>, ApiError> {
    let (key, number) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    let (model, _) = load_visible(&mut conn, &viewer, &key).await?;
    let revision = crate::web::models::load_revision(&mut conn, &viewer, &model, number).await?;
    Ok(web::Json(RevisionJson::from(&revision)))
}
