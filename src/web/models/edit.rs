//! Writing models: new, edit (the whole model as one plain-text document),
//! preview, save with conflict detection, verify, retire.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::improvements::{self, ImprovementError, Item};
use crate::db::models::{self, Model, Save, SaveError};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::model::diff::{self, DiffLine};
use crate::domain::model::{self as text, ModelText, Status};
use crate::domain::policy::Viewer;
use crate::markdown::{self, SafeHtml};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

const MAX_SUMMARY_CHARS: usize = 200;

/// What a new model's text area starts with.
const SKELETON: &str = "# Title of the problem
key: short-unique-key
category: 
tags: 
status: draft

## Statement
What is wrong, how it shows, and what it affects.

## Steps
1. The first thing to check, with the exact command.
2. What to do next; link related models like [[other-model-key]].
3. When to escalate, and to whom.

## Discussion
Why this happens, how to prevent it, related models.
";

pub struct Preview {
    pub title: String,
    pub statement: SafeHtml,
    pub steps: Vec<SafeHtml>,
    pub discussion: SafeHtml,
}

impl Preview {
    fn of(model: &ModelText) -> Self {
        Self {
            title: model.title.clone(),
            statement: markdown::render(&model.statement),
            steps: model.steps.iter().map(|s| markdown::render(s)).collect(),
            discussion: markdown::render(&model.discussion),
        }
    }
}

#[derive(Template)]
#[template(path = "models/edit.html")]
struct EditPage {
    ctx: Ctx,
    /// `None` for a new model.
    key: Option<String>,
    text: String,
    base_revision: i32,
    summary: String,
    error: Option<String>,
    preview: Option<Preview>,
    /// Open improvement items this save can mark done, and those ticked.
    items: Vec<Item>,
    resolves: Vec<i64>,
}

#[derive(Template)]
#[template(path = "models/conflict.html")]
struct ConflictPage {
    ctx: Ctx,
    key: String,
    base_revision: i32,
    current_revision: i32,
    /// What others changed between the revision the edit started from and
    /// the current one.
    meanwhile: Vec<DiffLine>,
    /// The editor's text against the current revision.
    yours: Vec<DiffLine>,
    text: String,
    summary: String,
}

#[derive(Deserialize, Default)]
pub struct ModelForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    base_revision: i32,
    #[serde(default)]
    action: String,
    /// Improvement items the save resolves (repeated `resolves` fields).
    #[serde(skip)]
    resolves: Vec<i64>,
}

impl ModelForm {
    /// From the posted pairs: `resolves` is a checkbox that repeats.
    fn read(pairs: Vec<(String, String)>) -> Result<Self, AppError> {
        let mut form = ModelForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "text" => form.text = value,
                "summary" => form.summary = value,
                "action" => form.action = value,
                "base_revision" => {
                    form.base_revision = value.trim().parse().map_err(|_| {
                        AppError::BadRequest("base_revision must be a number".to_owned())
                    })?
                }
                "resolves" => form.resolves.push(value.trim().parse().map_err(|_| {
                    AppError::BadRequest(
                        "resolves must name improvement items by number".to_owned(),
                    )
                })?),
                _ => {}
            }
        }
        Ok(form)
    }
}

fn edit_page(
    ctx: Ctx,
    key: Option<String>,
    form: &ModelForm,
    error: Option<String>,
    preview: Option<Preview>,
    status: StatusCode,
    items: Vec<Item>,
) -> Result<HttpResponse, AppError> {
    render_status(
        &EditPage {
            ctx,
            key,
            text: form.text.clone(),
            base_revision: form.base_revision,
            summary: form.summary.clone(),
            error,
            preview,
            items,
            resolves: form.resolves.clone(),
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct NewQuery {
    /// A "write a new model" item the new model is written for.
    improvement: Option<i64>,
}

/// The items a model save can resolve (not monitoring, automation, …).
fn resolvable(items: Vec<Item>) -> Vec<Item> {
    items
        .into_iter()
        .filter(|i| i.kind().resolvable_by_model())
        .collect()
}

/// The open "write a new model" items named by `ids`.
async fn new_model_items(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<Item>, AppError> {
    let mut items = Vec::new();
    for &id in ids {
        if let Some(item) = improvements::find_new_model_item(conn, viewer, id).await? {
            items.push(item);
        }
    }
    Ok(items)
}

pub async fn new(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<NewQuery>,
) -> Result<HttpResponse, AppError> {
    let (items, resolves) = match query.improvement {
        Some(id) => {
            let mut conn = state.pool.get().await?;
            let items = new_model_items(&mut conn, &who.0.user.viewer(), &[id]).await?;
            let ids = items.iter().map(|i| i.id).collect();
            (items, ids)
        }
        None => Default::default(),
    };
    let text = match items.first() {
        Some(item) => SKELETON.replacen("Title of the problem", &item.title, 1),
        None => SKELETON.to_owned(),
    };
    render_status(
        &EditPage {
            ctx,
            key: None,
            text,
            base_revision: 0,
            summary: String::new(),
            error: None,
            preview: None,
            items,
            resolves,
        },
        StatusCode::OK,
    )
}

pub async fn edit(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    let (model, revision) = super::load_visible(&mut conn, &viewer, &path).await?;
    let items = resolvable(improvements::open_for_model(&mut conn, &viewer, model.id).await?);
    render_status(
        &EditPage {
            ctx,
            key: Some(model.key),
            text: revision.body,
            base_revision: revision.number,
            summary: String::new(),
            error: None,
            preview: None,
            items,
            resolves: Vec::new(),
        },
        StatusCode::OK,
    )
}

/// The summary as stored: one line, with a default.
fn summary(input: &str, default: &str) -> Result<String, String> {
    let line = input.trim();
    if line.chars().any(char::is_control) {
        return Err("The summary must be one line.".to_owned());
    }
    if line.chars().count() > MAX_SUMMARY_CHARS {
        return Err(format!(
            "The summary must be at most {MAX_SUMMARY_CHARS} characters."
        ));
    }
    Ok(if line.is_empty() {
        default.to_owned()
    } else {
        line.to_owned()
    })
}

/// Saves in one transaction; an unknown link or a conflict leaves nothing.
pub async fn save_text(
    conn: &mut AsyncPgConnection,
    current: Option<&Model>,
    expected: i32,
    model: &ModelText,
    author: UserId,
    summary: &str,
) -> Result<Model, SaveError> {
    save_resolving(conn, current, expected, model, author, summary, None).await
}

fn item_error(e: ImprovementError) -> SaveError {
    match e {
        ImprovementError::Database(d) => SaveError::Database(d),
        ImprovementError::Invalid(f) => SaveError::Items(f),
        other => SaveError::Items(FieldError::new("resolves", other.to_string())),
    }
}

/// Saves, and marks the given improvement items done by the new revision,
/// in one transaction: an item that cannot be resolved undoes the save.
pub async fn save_resolving(
    conn: &mut AsyncPgConnection,
    current: Option<&Model>,
    expected: i32,
    model: &ModelText,
    author: UserId,
    summary: &str,
    resolves: Option<(&Viewer, &[i64])>,
) -> Result<Model, SaveError> {
    conn.transaction(async move |conn| {
        let saved = models::save(
            conn,
            current,
            expected,
            model,
            &Save {
                author: Some(author),
                summary,
            },
        )
        .await?;
        if let Some((viewer, ids)) = resolves {
            improvements::resolve_by_revision(conn, viewer, &saved, saved.revision, ids)
                .await
                .map_err(item_error)?;
        }
        Ok(saved)
    })
    .await
}

pub async fn create(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = ModelForm::read(form.into_inner())?;
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let items = new_model_items(&mut conn, &viewer, &form.resolves).await?;
    let parsed = text::parse(&form.text).map_err(|e| e.to_string());
    let summary = summary(&form.summary, "Created");
    let (model, summary) = match (parsed, summary) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(e), _) | (_, Err(e)) => {
            return edit_page(
                ctx,
                None,
                &form,
                Some(e),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                items,
            );
        }
    };
    if form.action == "preview" {
        let preview = Preview::of(&model);
        return edit_page(ctx, None, &form, None, Some(preview), StatusCode::OK, items);
    }
    match save_resolving(
        &mut conn,
        None,
        0,
        &model,
        UserId(who.0.user.id),
        &summary,
        Some((&viewer, &form.resolves)),
    )
    .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/models/{}?notice=model-saved",
            saved.key
        ))),
        Err(SaveError::Database(e)) => Err(e.into()),
        Err(e) => edit_page(
            ctx,
            None,
            &form,
            Some(e.to_string()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            items,
        ),
    }
}

pub async fn update(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = ModelForm::read(form.into_inner())?;
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let (current, current_revision) = super::load_visible(&mut conn, &viewer, &path).await?;
    let items = resolvable(improvements::open_for_model(&mut conn, &viewer, current.id).await?);
    let key = Some(current.key.clone());
    let parsed = text::parse(&form.text).map_err(|e| e.to_string());
    let summary = summary(&form.summary, "Edited");
    let (model, summary) = match (parsed, summary) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(e), _) | (_, Err(e)) => {
            return edit_page(
                ctx,
                key,
                &form,
                Some(e),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                items,
            );
        }
    };
    if form.action == "preview" {
        let preview = Preview::of(&model);
        return edit_page(ctx, key, &form, None, Some(preview), StatusCode::OK, items);
    }
    if form.base_revision == current.revision
        && text::render(&model) == current_revision.body
        && form.resolves.is_empty()
    {
        return Ok(see_other(&format!(
            "/models/{}?notice=model-unchanged",
            current.key
        )));
    }
    let author = UserId(who.0.user.id);
    match save_resolving(
        &mut conn,
        Some(&current),
        form.base_revision,
        &model,
        author,
        &summary,
        Some((&viewer, &form.resolves)),
    )
    .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/models/{}?notice=model-saved",
            saved.key
        ))),
        Err(SaveError::Conflict {
            expected,
            current: now,
        }) => {
            let base = models::revision(&mut conn, current.id, expected).await?;
            let latest = models::revision(&mut conn, current.id, now)
                .await?
                .ok_or(AppError::NotFound)?;
            let base_body = base.map(|b| b.body).unwrap_or_default();
            // Compared in the canonical form, as revisions are stored: the
            // browser sends CRLF line ends (every line would differ) and the
            // steps may be numbered loosely.
            let yours = text::render(&model);
            let (meanwhile, yours) = crate::web::cpu(&state, move || {
                (
                    diff::lines(&base_body, &latest.body),
                    diff::lines(&latest.body, &yours),
                )
            })
            .await?;
            render_status(
                &ConflictPage {
                    ctx,
                    key: current.key.clone(),
                    base_revision: expected,
                    current_revision: now,
                    meanwhile,
                    yours,
                    text: form.text.clone(),
                    summary,
                },
                StatusCode::CONFLICT,
            )
        }
        Err(SaveError::Database(e)) => Err(e.into()),
        Err(e) => edit_page(
            ctx,
            key,
            &form,
            Some(e.to_string()),
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
            items,
        ),
    }
}

pub async fn verify(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (model, _) = super::load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    models::mark_verified(&mut conn, model.id, UserId(who.0.user.id)).await?;
    Ok(see_other(&format!(
        "/models/{}?notice=model-verified",
        model.key
    )))
}

pub async fn retire(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (model, revision) = super::load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    let mut retired = text::parse(&revision.body).map_err(|e| {
        tracing::error!(model = %model.key, "stored revision does not parse: {e}");
        AppError::NotFound
    })?;
    if retired.status == Status::Retired {
        return Ok(see_other(&format!("/models/{}", model.key)));
    }
    retired.status = Status::Retired;
    let author = UserId(who.0.user.id);
    match save_text(
        &mut conn,
        Some(&model),
        model.revision,
        &retired,
        author,
        "Retired",
    )
    .await
    {
        Ok(saved) => Ok(see_other(&format!(
            "/models/{}?notice=model-retired",
            saved.key
        ))),
        Err(SaveError::Database(e)) => Err(e.into()),
        Err(e) => Err(AppError::BadRequest(e.to_string())),
    }
}
