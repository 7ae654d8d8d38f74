//! `/api/v1/tickets/{id}/attachments`: files on a ticket, as the viewer may
//! see them (a file goes with its entry: one on an internal note is the
//! team's only), and uploads as `multipart/form-data` with the page's rules
//! and limits (`web::tickets::upload`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::journal;
use crate::db::mail::{self as store, AttachmentInfo};
use crate::domain::FieldError;
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::tickets as service;
use crate::web::api::tickets::EntryJson;
use crate::web::auth::{SignedIn, problem};
use crate::web::error::{ApiError, AppError};
use crate::web::tickets::upload::{self, Body, Refused};

/// A file kept with a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentJson {
    pub id: i64,
    /// The entry it came with (`null`: the ticket's opening message).
    pub entry_id: Option<i64>,
    pub filename: String,
    /// As recognised from the bytes, or as declared when well-formed.
    pub content_type: String,
    pub size: i32,
    pub created_at: String,
    /// Where to download it (with the same token).
    pub url: String,
}

impl AttachmentJson {
    fn of(ticket: i64, a: &AttachmentInfo) -> Self {
        Self {
            id: a.id,
            entry_id: a.entry_id,
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.size,
            created_at: a.created_at.to_rfc3339(),
            url: format!("/api/v1/tickets/{ticket}/attachments/{}", a.id),
        }
    }
}

/// The entry an upload wrote and the files it carries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attached {
    pub entry: EntryJson,
    pub attachments: Vec<AttachmentJson>,
}

/// The upload form (`multipart/form-data`).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "documents the multipart form for the OpenAPI document; the handler reads the parts as they stream"
)]
pub struct UploadDoc {
    /// One or more files (each part with a file name is a file).
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
    /// internal or public; a customer's files are public, the team's
    /// internal unless said.
    visibility: Option<String>,
    /// A note for the entry (Markdown); without one the entry names the
    /// files.
    body: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/attachments",
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    responses((status = 200, description = "The files the token's owner may see", body = Vec<AttachmentJson>))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<web::Json<Vec<AttachmentJson>>, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    crate::db::tickets::find_visible(&mut conn, id, viewer.ticket_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    let files = store::attachments_of(&mut conn, id.0, viewer.entry_scope()).await?;
    Ok(web::Json(
        files.iter().map(|a| AttachmentJson::of(id.0, a)).collect(),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/attachments/{attachment}",
    tag = "tickets",
    params(
        ("id" = i64, Path, description = "The ticket's number"),
        ("attachment" = i64, Path, description = "The file's id"),
    ),
    responses((status = 200, description = "The file's bytes, as a download", content_type = "application/octet-stream", body = String))
)]
pub async fn download(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (ticket, id) = path.into_inner();
    Ok(crate::web::tickets::download(&state, &who, ticket, id).await?)
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/attachments",
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    request_body(content = UploadDoc, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Attached: the entry written and its files", body = Attached),
        (status = 413, description = "A file is larger than the attachment limit, or the upload larger than the message limit (the limits of mail); nothing was attached", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not multipart/form-data", body = crate::web::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if !upload::is_multipart(req.headers()) {
        return Err(AppError::UnsupportedMediaType("send the files as multipart/form-data").into());
    }
    let limits = &state.config.delivery;
    let form = match upload::read(&req, Body::new(payload), None, limits).await {
        Ok(form) => form,
        Err(Refused::TooLarge(e)) => {
            return Ok(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                &e.message,
                Some(e.field),
            ));
        }
        Err(other) => return Err(other.into_app_error().into()),
    };
    let viewer = who.0.user.viewer();
    let visibility = match form.field("visibility") {
        Some("public") => Visibility::Public,
        Some("internal") => Visibility::Internal,
        None | Some("") if !viewer.role.is_staff() => Visibility::Public,
        None | Some("") => Visibility::Internal,
        Some(_) => {
            return Err(
                AppError::Invalid(FieldError::new("visibility", "is internal or public")).into(),
            );
        }
    };
    let note = form.field("body").unwrap_or_default().to_owned();
    let mut conn = state.pool.get().await?;
    let entry = service::attach(
        &mut conn,
        &viewer,
        id,
        &note,
        visibility,
        form.files,
        limits.max_attachment_bytes,
    )
    .await?;
    tracing::info!(ticket.id = %id, entry.id = entry.id, "files attached to ticket {id}");
    let row = journal::find(&mut conn, id, entry.id, viewer.entry_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    let attachments = store::attachments_of(&mut conn, id.0, viewer.entry_scope())
        .await?
        .iter()
        .filter(|a| a.entry_id == Some(entry.id))
        .map(|a| AttachmentJson::of(id.0, a))
        .collect();
    Ok(HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/tickets/{}/attachments", id.0),
        ))
        .json(Attached {
            entry: EntryJson::from(&row),
            attachments,
        }))
}
