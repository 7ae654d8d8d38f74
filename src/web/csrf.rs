//! CSRF defence for every state-changing form: a random token in a
//! `SameSite=Strict`, HttpOnly cookie must come back as the `csrf_token`
//! field of the form (double submit), and a browser's `Origin`, when sent,
//! must be this site. Checked here, in front of every route, so no handler
//! can forget it. The JSON API is exempt: it accepts only bearer tokens,
//! never the cookie.
//!
//! File uploads (`multipart/form-data`, only on the routes
//! [`takes_uploads`] names) are not read here: they can be megabytes, and
//! are streamed by their handler, which holds them to the attachment limit.
//! Their `Origin` is checked here and the cookie's token is handed on as
//! [`UploadCsrf`]; the upload reader (`web::tickets::upload`) refuses the
//! form unless its `csrf_token` field matches before any file part.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::StreamExt;

use crate::app::AppState;
use crate::secrets::{constant_time_eq, new_token};
use crate::web::auth::is_api;
use crate::web::error::AppError;

pub const CSRF_COOKIE: &str = "casebook_csrf";
pub const CSRF_FIELD: &str = "csrf_token";
/// Forms are small; model texts are the largest thing posted.
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;

/// The token the current page must put in its forms.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// Set when the token was minted for this request and must be sent back.
#[derive(Clone)]
struct Minted;

impl FromRequest for CsrfToken {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<CsrfToken>()
                .cloned()
                .ok_or(AppError::CsrfRejected),
        )
    }
}

/// The CSRF cookie's token of an upload, for its handler to compare with
/// the form's field (see the module's note). Only this middleware inserts
/// it, and only for a same-origin multipart request that has the cookie.
#[derive(Debug, Clone)]
pub struct UploadCsrf(pub String);

/// The routes that take files as `multipart/form-data`:
/// `/tickets/{id}/attachments` and `/api/v1/tickets/{id}/attachments`.
pub fn takes_uploads(path: &str) -> bool {
    let decoded = crate::web::auth::percent_decode(path);
    let rest = decoded
        .strip_prefix("/api/v1/tickets/")
        .or_else(|| decoded.strip_prefix("/tickets/"));
    rest.and_then(|r| r.strip_suffix("/attachments"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware, wrapped around the whole app.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let existing = req
        .cookie(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()));
    let api = is_api(req.path());
    let upload = !is_safe(req.method()) && takes_uploads(req.path());
    if upload && !api && crate::web::tickets::upload::is_multipart(req.headers()) {
        // Streamed by the handler; the token is compared there.
        let checked = same_origin(&req).and_then(|()| {
            existing
                .clone()
                .map(UploadCsrf)
                .ok_or(AppError::CsrfRejected)
        });
        match checked {
            Ok(expected) => {
                req.extensions_mut().insert(expected);
            }
            Err(e) => return Ok(req.into_response(e.response_for(api)).map_into_right_body()),
        }
    } else if upload && api {
        // The API's uploads are streamed and limited by their handler.
    } else if !is_safe(req.method()) {
        let checked = if api {
            // The API's bodies are read here too, for the same size limit
            // and read deadline as forms.
            read_body(&mut req)
                .await
                .map(|body| req.set_payload(Payload::from(body)))
        } else {
            check(&mut req, existing.as_deref()).await
        };
        if let Err(e) = checked {
            return Ok(req.into_response(e.response_for(api)).map_into_right_body());
        }
    }
    let token = match existing {
        Some(token) => token,
        None => {
            let token = new_token("").map_err(AppError::from)?;
            req.extensions_mut().insert(Minted);
            token
        }
    };
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let secure = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|s| s.config.secure_cookies);
    let mut res = next.call(req).await?;
    let minted = res.request().extensions().get::<Minted>().is_some();
    if minted && !api {
        let cookie = Cookie::build(CSRF_COOKIE, token)
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Strict)
            .finish();
        res.response_mut().add_cookie(&cookie)?;
    }
    Ok(res.map_into_left_body())
}

/// A browser's `Origin`, when sent, must be this site.
fn same_origin(req: &ServiceRequest) -> Result<(), AppError> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let info = req.connection_info().clone();
        let ours = format!("{}://{}", info.scheme(), info.host());
        if origin.to_str().ok() != Some(ours.as_str()) {
            return Err(AppError::CsrfRejected);
        }
    }
    Ok(())
}

async fn check(req: &mut ServiceRequest, cookie_token: Option<&str>) -> Result<(), AppError> {
    same_origin(req)?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(AppError::UnsupportedMediaType(
            "forms must be sent as application/x-www-form-urlencoded",
        ));
    }
    let body = read_body(req).await?;
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body).unwrap_or_default();
    let sent = pairs
        .iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.as_str());
    match (cookie_token, sent) {
        (Some(expected), Some(sent)) if constant_time_eq(expected, sent) => {}
        _ => return Err(AppError::CsrfRejected),
    }
    // PostgreSQL cannot store the NUL character: refuse it here, naming
    // the field, for every form at once.
    if let Some((name, _)) = pairs
        .iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        let name: String = name.chars().filter(|c| *c != '\0').take(40).collect();
        return Err(crate::domain::FieldError::new(
            "form",
            format!("the field {name:?} must not contain the NUL character"),
        )
        .into());
    }
    // Handlers read the same body again.
    req.set_payload(Payload::from(body));
    Ok(())
}

/// How long a client may take to send a request body: a slow sender must
/// not hold a connection and its buffer for ever.
pub const BODY_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, AppError> {
    // Raw mail is larger than forms; its handler holds it to the
    // configured limit.
    let limit = if req.path() == crate::web::auth::MAIL_PATH {
        crate::web::mail::MAX_BYTES
    } else {
        MAX_FORM_BYTES
    };
    if req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(AppError::PayloadTooLarge(limit));
    }
    let mut payload = req.take_payload();
    let read = async {
        let mut body = BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| AppError::BadRequest(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(AppError::PayloadTooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(BODY_DEADLINE, read)
        .await
        .map_err(|_| AppError::RequestTimeout)?
}
