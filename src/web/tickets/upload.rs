//! Files attached on the ticket page (`POST /tickets/{id}/attachments`, a
//! plain multipart form that needs no script) and the reader the API's
//! upload shares. The body is streamed part by part and held to the same
//! limits as mail: a file over the attachment limit, or a body over the
//! message limit, is refused while it arrives and nothing is written.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::{Stream, StreamExt};

use crate::app::AppState;
use crate::config::Delivery;
use crate::domain::FieldError;
use crate::domain::attachment::{MAX_FILES, human_size, safe_filename};
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::secrets::constant_time_eq;
use crate::tickets::{self as service, Upload};
use crate::web::auth::SignedIn;
use crate::web::csrf::{BODY_DEADLINE, CSRF_FIELD, UploadCsrf};
use crate::web::error::AppError;

use super::Draft;
use super::actions::finish;

/// The longest text field of an upload form (the note is an entry).
const MAX_TEXT_BYTES: usize = 2 * service::MAX_BODY_BYTES;

/// An upload form as read: its text fields and its files.
#[derive(Default)]
pub struct UploadForm {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

impl UploadForm {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an upload was not read.
#[derive(Debug)]
pub enum Refused {
    /// The form's CSRF token was missing, late (after a file) or wrong.
    Csrf,
    /// A file over the attachment limit, or a body over the message limit.
    TooLarge(FieldError),
    /// Something else the person can fix: too many files, a long note.
    Field(FieldError),
    /// Not multipart/form-data that can be read.
    Unreadable(String),
    Timeout,
}

impl Refused {
    pub fn into_app_error(self) -> AppError {
        match self {
            Refused::Csrf => AppError::CsrfRejected,
            Refused::TooLarge(e) | Refused::Field(e) => AppError::Invalid(e),
            Refused::Unreadable(e) => AppError::BadRequest(e),
            Refused::Timeout => AppError::RequestTimeout,
        }
    }
}

/// Whether a request's headers say it is `multipart/form-data` (the CSRF
/// middleware asks too, before the handler runs).
pub fn is_multipart(headers: &header::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

fn too_large_file(name: &str, limits: &Delivery) -> Refused {
    Refused::TooLarge(FieldError::new(
        "files",
        format!(
            "{} is larger than {}, the most one file may have; nothing was attached",
            safe_filename(name, "a file"),
            human_size(limits.max_attachment_bytes as u64)
        ),
    ))
}

fn too_large_body(limits: &Delivery) -> Refused {
    Refused::TooLarge(FieldError::new(
        "files",
        format!(
            "the files come to more than {}, the most one upload may carry; nothing was attached (send them in parts)",
            human_size(limits.max_message_bytes as u64)
        ),
    ))
}

/// The request body, shared between the multipart reader and the drain
/// that follows a refusal.
#[derive(Clone)]
pub struct Body(Rc<RefCell<web::Payload>>);

impl Body {
    pub fn new(payload: web::Payload) -> Self {
        Self(Rc::new(RefCell::new(payload)))
    }

    /// Reads what is left of the body and drops it, up to `budget` bytes
    /// (past that the connection is closed instead).
    async fn drain(&self, budget: usize) {
        let mut read = 0usize;
        while read <= budget {
            let next = std::future::poll_fn(|cx| self.0.borrow_mut().poll_next_unpin(cx)).await;
            match next {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    }
}

impl Stream for Body {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.borrow_mut().poll_next_unpin(cx)
    }
}

/// Reads an upload form. With `csrf` (pages), a `csrf_token` field equal to
/// it must come before any file, so no file is read for a forged form.
/// Files are held to `max_attachment_bytes` each and the whole body to
/// `max_message_bytes` (the limits of mail). A refused upload's remaining
/// body is read and dropped (within the deadline, and up to as much again
/// as the limit), so the browser gets the answer instead of a reset
/// connection.
pub async fn read(
    req: &HttpRequest,
    body: Body,
    csrf: Option<&str>,
    limits: &Delivery,
) -> Result<UploadForm, Refused> {
    let reading = async {
        let mut multipart = Multipart::new(req.headers(), body.clone());
        let result = read_parts(&mut multipart, csrf, limits).await;
        drop(multipart);
        if result.is_err() {
            body.drain(limits.max_message_bytes).await;
        }
        result
    };
    tokio::time::timeout(BODY_DEADLINE, reading)
        .await
        .unwrap_or(Err(Refused::Timeout))
}

async fn read_parts(
    multipart: &mut Multipart,
    csrf: Option<&str>,
    limits: &Delivery,
) -> Result<UploadForm, Refused> {
    let unreadable = |e: actix_multipart::MultipartError| Refused::Unreadable(e.to_string());
    let mut form = UploadForm::default();
    let mut verified = csrf.is_none();
    let mut total = 0usize;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(unreadable)?;
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.content_disposition().and_then(|d| {
            d.get_filename().map(str::to_owned).or_else(|| {
                d.get_filename_ext()
                    .map(|ext| String::from_utf8_lossy(&ext.value).into_owned())
            })
        });
        let declared = field.content_type().map(|m| m.essence_str().to_owned());
        let is_file = filename.is_some();
        if is_file && !verified {
            return Err(Refused::Csrf);
        }
        let limit = if is_file {
            limits.max_attachment_bytes
        } else {
            MAX_TEXT_BYTES
        };
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(unreadable)?;
            total += chunk.len();
            if total > limits.max_message_bytes {
                return Err(too_large_body(limits));
            }
            if data.len() + chunk.len() > limit {
                return Err(match &filename {
                    Some(f) => too_large_file(f, limits),
                    None => Refused::Field(FieldError::new(
                        "body",
                        format!("must be at most {} bytes", service::MAX_BODY_BYTES),
                    )),
                });
            }
            data.extend_from_slice(&chunk);
        }
        match filename {
            // A file input left empty still sends a part with no name.
            Some(f) if f.is_empty() && data.is_empty() => {}
            Some(f) => {
                if form.files.len() == MAX_FILES {
                    return Err(Refused::Field(FieldError::new(
                        "files",
                        format!("attach at most {MAX_FILES} files at once"),
                    )));
                }
                form.files.push(Upload {
                    filename: f,
                    declared_type: declared,
                    data,
                });
            }
            None => {
                let text = String::from_utf8(data)
                    .map_err(|_| Refused::Unreadable(format!("the field {name:?} is not UTF-8")))?;
                if name == CSRF_FIELD {
                    if let Some(expected) = csrf {
                        verified = constant_time_eq(expected, &text);
                        if !verified {
                            return Err(Refused::Csrf);
                        }
                    }
                } else {
                    form.fields.push((name, text));
                }
            }
        }
    }
    if !verified {
        return Err(Refused::Csrf);
    }
    Ok(form)
}

/// `POST /tickets/{id}/attachments`: the files, with an entry as the
/// composer would write it (internal unless a staff member chose public;
/// a customer's is public). Refusals go back to the ticket as a flash, like
/// the page's other forms.
pub async fn attach(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if !is_multipart(req.headers()) {
        return Err(AppError::UnsupportedMediaType(
            "files must be sent as multipart/form-data (the page's upload form)",
        ));
    }
    // Only the CSRF middleware puts this here, for a same-origin upload
    // that has the cookie.
    let expected = req
        .extensions()
        .get::<UploadCsrf>()
        .map(|t| t.0.clone())
        .ok_or(AppError::CsrfRejected)?;
    let limits = &state.config.delivery;
    let form = match read(&req, Body::new(payload), Some(&expected), limits).await {
        Ok(form) => form,
        Err(Refused::TooLarge(e) | Refused::Field(e)) => {
            return finish(Err(e), &state, &who, id, Draft::default()).await;
        }
        Err(other) => return Err(other.into_app_error()),
    };
    let viewer = who.0.user.viewer();
    let visibility = if !viewer.role.is_staff() || form.field("visibility") == Some("public") {
        Visibility::Public
    } else {
        Visibility::Internal
    };
    let note = form.field("body").unwrap_or_default().to_owned();
    let mut conn = state.pool.get().await?;
    let result = service::attach(
        &mut conn,
        &viewer,
        id,
        &note,
        visibility,
        form.files,
        limits.max_attachment_bytes,
    )
    .await;
    if let Ok(entry) = &result {
        tracing::info!(ticket.id = %id, entry.id = entry.id, "files attached to ticket {id}");
    }
    let draft = Draft {
        note,
        ..Draft::default()
    };
    finish(result.map(|_| ()), &state, &who, id, draft).await
}
