//! Who is asking: the session cookie for pages, `Authorization: Bearer` for
//! the JSON API (never the cookie, so the API needs no CSRF defence), and
//! the per-route access check that every route in the table goes through.

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::db::integrations::{self, Integration};
use crate::db::users::User;
use crate::db::{api_tokens, sessions};
use crate::domain::policy::Access;
use crate::secrets::hash_token;
use crate::web::error::AppError;

pub const SESSION_COOKIE: &str = "casebook_session";

/// The one route a mail gateway token opens.
pub const MAIL_PATH: &str = "/api/v1/mail";

/// The signed-in person, and how they proved it.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    /// The session's token hash; `None` when signed in by API token.
    pub session_hash: Option<String>,
    /// The API token's hash; `None` when signed in by session.
    pub token_hash: Option<String>,
    /// Signed in with a mail gateway token (good for `POST /api/v1/mail`
    /// only).
    pub mail_gateway: bool,
}

impl Identity {
    /// Whether the credential this request came with is still good, and
    /// the person it names, as they are now: for long-lived responses (event
    /// streams) that must end when access changes.
    pub async fn current_user(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
    ) -> diesel::QueryResult<Option<User>> {
        match (&self.session_hash, &self.token_hash) {
            (Some(hash), _) => sessions::find_user(conn, hash).await,
            (None, Some(hash)) => api_tokens::find_user(conn, hash).await,
            (None, None) => Ok(None),
        }
    }
}

/// Whether a request path is the JSON API's, as the router sees it: the
/// router matches `/%61pi/v1/me` as `/api/v1/me`, so the path is decoded
/// before it is compared (or the API would take the session cookie).
pub fn is_api(path: &str) -> bool {
    let decoded = percent_decode(path);
    decoded == "/api" || decoded.starts_with("/api/")
}

pub fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A bearer token is `cb_` and 64 hex digits; anything else is refused
/// before it reaches the database.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
    let well_formed = token.len() == 67
        && token.starts_with("cb_")
        && token[3..].bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some(token)
}

async fn authenticate(req: &ServiceRequest) -> Result<Option<Identity>, AppError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Ok(None);
    };
    if is_api(req.path()) {
        let Some(value) = req.headers().get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let Some(token) = bearer_token(value) else {
            return Err(AppError::Unauthorized(
                "malformed Authorization header: send `Authorization: Bearer cb_…` with a token from your account page",
            ));
        };
        let mut conn = state.pool.get().await?;
        let hash = hash_token(token);
        return match api_tokens::find_user_and_kind(&mut conn, &hash).await? {
            Some((_, kind))
                if kind == api_tokens::MAILGATE && percent_decode(req.path()) != MAIL_PATH =>
            {
                Err(AppError::Unauthorized(
                    "a mail gateway token is good for POST /api/v1/mail only",
                ))
            }
            Some((user, kind)) => Ok(Some(Identity {
                user,
                session_hash: None,
                token_hash: Some(hash),
                mail_gateway: kind == api_tokens::MAILGATE,
            })),
            None => Err(AppError::Unauthorized(
                "the API token is unknown or revoked",
            )),
        };
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let hash = hash_token(cookie.value());
    let mut conn = state.pool.get().await?;
    Ok(sessions::find_user(&mut conn, &hash)
        .await?
        .map(|user| Identity {
            user,
            session_hash: Some(hash),
            token_hash: None,
            mail_gateway: false,
        }))
}

/// An integration token is `cbi_` and 64 hex digits.
fn integration_token(value: &HeaderValue) -> Option<&str> {
    let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
    let well_formed = token.len() == 68
        && token.starts_with("cbi_")
        && token[4..].bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then_some(token)
}

/// The alert source calling an intake route, by its integration token.
#[derive(Debug, Clone)]
pub struct IntegrationCaller(pub Integration);

impl FromRequest for IntegrationCaller {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = req.extensions().get::<IntegrationCaller>().cloned();
        std::future::ready(caller.ok_or(AppError::Unauthorized(INTEGRATION_REQUIRED)))
    }
}

const INTEGRATION_REQUIRED: &str = "authentication required: send `Authorization: Bearer cbi_…` with the token of an integration (an admin creates one at /admin/integrations); a person's API token is not accepted here";

async fn authenticate_integration(req: &ServiceRequest) -> Result<Integration, AppError> {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return Err(AppError::Internal("no application state".to_owned()));
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(integration_token)
        .ok_or(AppError::Unauthorized(INTEGRATION_REQUIRED))?;
    let mut conn = state.pool.get().await?;
    let integration = integrations::find_by_token(&mut conn, &hash_token(token))
        .await?
        .ok_or(AppError::Unauthorized(
            "the integration token is unknown or revoked",
        ))?;
    // The use is noted at most once a minute (`integrations::touch`); the
    // row just read says whether this is the time, so a burst of
    // deliveries does not send a statement that changes nothing each.
    if !integrations::used_lately(&integration, chrono::Utc::now()) {
        integrations::touch(&mut conn, integration.id).await?;
    }
    Ok(integration)
}

/// The access check wrapped around every route by the route table.
pub async fn require(
    access: Access,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = is_api(req.path());
    if access == Access::Integration {
        return match authenticate_integration(&req).await {
            Ok(integration) => {
                req.extensions_mut().insert(IntegrationCaller(integration));
                Ok(next.call(req).await?.map_into_boxed_body())
            }
            Err(e) => Ok(req.into_response(e.response_for(true))),
        };
    }
    let identity = match authenticate(&req).await {
        Ok(identity) => identity,
        Err(e) => return Ok(req.into_response(e.response_for(api))),
    };
    let role = identity.as_ref().map(|i| i.user.role());
    if access.allows(role) {
        let signed_in = identity.is_some();
        req.extensions_mut().insert(identity);
        let mut res = next.call(req).await?;
        // What a signed-in person sees is theirs: no shared or back-button
        // cache may keep it.
        if signed_in && !res.headers().contains_key(header::CACHE_CONTROL) {
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        return Ok(res.map_into_boxed_body());
    }
    let response = match (identity.is_some(), api) {
        (false, true) => {
            AppError::Unauthorized("authentication required: send `Authorization: Bearer cb_…`")
                .response_for(true)
        }
        (false, false) => {
            let target = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/");
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login_url(target)))
                .finish()
        }
        (true, _) => AppError::Forbidden.response_for(api),
    };
    Ok(req.into_response(response))
}

pub fn login_url(next: &str) -> String {
    format!("/login?next={}", urlencode(next))
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The signed-in person; routes that are not `Access::Anyone` always have one.
pub struct SignedIn(pub Identity);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let identity = req
            .extensions()
            .get::<Option<Identity>>()
            .cloned()
            .flatten();
        std::future::ready(
            identity
                .map(SignedIn)
                .ok_or(AppError::Unauthorized("sign in to see this page")),
        )
    }
}

/// The signed-in person, if any.
pub struct MaybeSignedIn(pub Option<Identity>);

impl FromRequest for MaybeSignedIn {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let identity = req
            .extensions()
            .get::<Option<Identity>>()
            .cloned()
            .flatten();
        std::future::ready(Ok(MaybeSignedIn(identity)))
    }
}

/// Hashes a password on a blocking thread: argon2 is slow on purpose and
/// must not hold up an async worker.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || crate::secrets::hash_password(&password))
        .await
        .map_err(|e| crate::secrets::SecretError::Hash(e.to_string()))?
        .map_err(AppError::from)
}

/// The client address for rate limits and the audit log: the peer address
/// (a proxy in front should be configured to pass it; forwarded headers are
/// not trusted).
pub fn client_addr(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A JSON problem body (RFC 9457 style) for API errors; it names the
/// request's id.
pub fn problem(status: StatusCode, title: &str, detail: &str, field: Option<&str>) -> HttpResponse {
    problem_response(crate::web::api::Problem {
        status: status.as_u16(),
        title: title.to_owned(),
        detail: detail.to_owned(),
        field: field.map(str::to_owned),
        request_id: crate::web::request_id::current(),
        current_revision: None,
    })
}

/// The response carrying `problem`.
pub fn problem_response(problem: crate::web::api::Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .body(serde_json::to_string(&problem).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_bearer_tokens_pass() {
        let good = format!("Bearer cb_{}", "a1".repeat(32));
        assert!(bearer_token(&HeaderValue::from_str(&good).unwrap()).is_some());
        for bad in [
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer cb_xyz",
            &format!("Bearer xx_{}", "a1".repeat(32)),
            &format!("Bearer cb_{}", "zz".repeat(32)),
        ] {
            assert!(
                bearer_token(&HeaderValue::from_str(bad).unwrap()).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn login_redirects_keep_the_target_encoded() {
        assert_eq!(
            login_url("/admin/users?x=1&y=2"),
            "/login?next=/admin/users%3Fx%3D1%26y%3D2"
        );
    }

    #[test]
    fn api_paths_are_recognised() {
        assert!(is_api("/api/v1/me"));
        assert!(is_api("/%61pi/v1/me"));
        assert!(!is_api("/%41PI/v1/me"));
        assert!(!is_api("/apiary"));
        assert!(!is_api("/%zz"));
    }
}
