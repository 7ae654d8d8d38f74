//! HTTP: the route table and one handler file per resource. Handlers are
//! thin: extract → authorize → load → domain decision → write → render.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod auth;
pub mod compression;
pub mod csrf;
pub mod error;
pub mod health;
pub mod home;
pub mod improvements;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod page;
pub mod reports;
pub mod request_id;
pub mod reviews;
pub mod rota;
pub mod search;
pub mod sessions;
pub mod setup;
pub mod tickets;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, HttpMessage, HttpResponse, Responder, guard, web};

use crate::domain::policy::Access;
use crate::web::error::AppError;

pub use page::{render, render_status, see_other};

/// One row of the route table: the method, the path pattern and who may
/// use it. There is no way to register a route without an access level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

struct Def {
    route: Route,
    register: Box<dyn FnOnce(&mut web::ServiceConfig)>,
}

fn def<F, Args>(method: Method, path: &'static str, access: Access, handler: F) -> Def
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let guard_method = method.clone();
    Def {
        route: Route {
            method,
            path,
            access,
        },
        register: Box::new(move |cfg| {
            cfg.service(
                web::resource(path)
                    .guard(guard::Method(guard_method))
                    .wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
                        auth::require(access, req, next)
                    }))
                    .route(web::route().to(handler)),
            );
        }),
    }
}

/// The route table: the only place routes are named.
fn table() -> Vec<Def> {
    use Access::*;
    use Method as M;
    vec![
        def(M::GET, "/", Anyone, home::show),
        def(M::GET, "/healthz", Anyone, health::healthz),
        def(M::GET, "/readyz", Anyone, health::readyz),
        // Prometheus; the handler checks the metrics token (off without one).
        def(M::GET, "/metrics", Anyone, metrics::show),
        def(M::GET, "/static/{path:.*}", Anyone, assets::show),
        // Signing in and the first admin.
        def(M::GET, "/login", Anyone, sessions::new),
        def(M::POST, "/login", Anyone, sessions::create),
        def(M::POST, "/logout", SignedIn, sessions::destroy),
        def(M::GET, "/setup", Anyone, setup::new),
        def(M::POST, "/setup", Anyone, setup::create),
        // One's own account.
        def(M::GET, "/account", SignedIn, account::show),
        def(
            M::POST,
            "/account/password",
            SignedIn,
            account::change_password,
        ),
        def(M::POST, "/account/tokens", SignedIn, account::create_token),
        def(
            M::POST,
            "/account/notifications",
            SignedIn,
            account::save_notifications,
        ),
        def(
            M::POST,
            "/account/time-zone",
            SignedIn,
            account::save_time_zone,
        ),
        def(
            M::POST,
            "/account/tokens/{id}/revoke",
            SignedIn,
            account::revoke_token,
        ),
        // Incident models.
        def(M::GET, "/models", SignedIn, models::pages::list),
        def(M::GET, "/models/new", Staff, models::edit::new),
        def(M::POST, "/models", Staff, models::edit::create),
        def(M::GET, "/models/{key}", SignedIn, models::pages::show),
        def(M::POST, "/models/{key}", Staff, models::edit::update),
        def(M::GET, "/models/{key}/edit", Staff, models::edit::edit),
        def(
            M::GET,
            "/models/{key}/history",
            SignedIn,
            models::history::list,
        ),
        def(
            M::GET,
            "/models/{key}/revisions/{number}",
            SignedIn,
            models::history::show,
        ),
        def(
            M::GET,
            "/models/{key}/diff",
            SignedIn,
            models::history::compare,
        ),
        def(M::POST, "/models/{key}/verify", Staff, models::edit::verify),
        def(M::POST, "/models/{key}/retire", Staff, models::edit::retire),
        // Search.
        def(M::GET, "/search", SignedIn, search::show),
        // Tickets and the live journal.
        def(M::GET, "/tickets", SignedIn, tickets::list),
        def(M::GET, "/tickets/new", SignedIn, tickets::new),
        def(
            M::GET,
            "/tickets/events",
            SignedIn,
            tickets::live::list_events,
        ),
        def(M::GET, "/events", SignedIn, tickets::live::shared_events),
        def(M::POST, "/tickets", SignedIn, tickets::create),
        def(M::GET, "/tickets/{id}", SignedIn, tickets::show),
        def(
            M::GET,
            "/tickets/{id}/attachments/{attachment}",
            SignedIn,
            tickets::attachment,
        ),
        // Files attached on the ticket page (multipart; see web::csrf).
        def(
            M::POST,
            "/tickets/{id}/attachments",
            SignedIn,
            tickets::upload::attach,
        ),
        def(
            M::GET,
            "/tickets/{id}/events",
            SignedIn,
            tickets::live::events,
        ),
        def(
            M::POST,
            "/tickets/{id}/entries",
            SignedIn,
            tickets::actions::write,
        ),
        def(
            M::POST,
            "/tickets/{id}/status",
            Staff,
            tickets::actions::change_status,
        ),
        def(
            M::POST,
            "/tickets/{id}/assign",
            Staff,
            tickets::actions::assign,
        ),
        def(
            M::POST,
            "/tickets/{id}/models",
            Staff,
            tickets::actions::link_model,
        ),
        def(
            M::POST,
            "/tickets/{id}/models/unlink",
            Staff,
            tickets::actions::unlink_model,
        ),
        def(
            M::POST,
            "/tickets/{id}/escalate",
            Staff,
            tickets::actions::escalate,
        ),
        def(
            M::POST,
            "/tickets/{id}/duplicate",
            Staff,
            tickets::actions::mark_duplicate,
        ),
        def(
            M::POST,
            "/tickets/{id}/triage",
            Staff,
            tickets::actions::triage,
        ),
        // Reviews and the improvement backlog (team only).
        def(M::GET, "/reviews", Staff, reviews::list),
        def(M::GET, "/reviews/{id}", Staff, reviews::show),
        def(M::POST, "/reviews/{id}", Staff, reviews::save),
        def(M::POST, "/reviews/{id}/routine", Staff, reviews::routine),
        def(M::GET, "/improvements", Staff, improvements::list),
        def(M::GET, "/improvements/new", Staff, improvements::new),
        def(M::POST, "/improvements", Staff, improvements::create),
        def(
            M::POST,
            "/improvements/priority",
            Manager,
            improvements::reprioritise,
        ),
        def(M::GET, "/improvements/{id}", Staff, improvements::show),
        def(M::POST, "/improvements/{id}", Staff, improvements::update),
        // The triage rota.
        def(M::GET, "/rota", Staff, rota::show),
        def(M::POST, "/rota", Manager, rota::assign),
        def(M::POST, "/rota/swaps", Staff, rota::swap),
        def(M::POST, "/rota/calendar", Staff, rota::create_calendar),
        def(M::GET, "/rota/calendar/{file}", Anyone, rota::calendar),
        def(M::GET, "/rota/triage-reviews", Staff, rota::triage_reviews),
        def(M::POST, "/rota/triage-reviews", Staff, rota::review_triage),
        // Reports: the team reads them, customers never.
        def(M::GET, "/reports", Staff, reports::pages::overview),
        def(M::GET, "/reports/links", Staff, reports::pages::links),
        def(M::GET, "/reports/gaps", Staff, reports::pages::gaps),
        def(M::GET, "/reports/models", Staff, reports::pages::models),
        def(
            M::GET,
            "/reports/resolution",
            Staff,
            reports::pages::resolution,
        ),
        def(M::GET, "/reports/triage", Staff, reports::pages::triage),
        def(
            M::GET,
            "/reports/exclusions",
            Staff,
            reports::pages::exclusions,
        ),
        def(
            M::POST,
            "/reports/exclusions",
            Staff,
            reports::actions::exclude,
        ),
        def(
            M::POST,
            "/reports/exclusions/{id}/include",
            Staff,
            reports::actions::include,
        ),
        def(
            M::GET,
            "/reports/draft/{id}",
            Staff,
            reports::actions::draft,
        ),
        def(
            M::POST,
            "/reports/draft/{id}",
            Staff,
            reports::actions::save_draft,
        ),
        def(
            M::GET,
            "/reports/export/{table}",
            Staff,
            reports::export_csv,
        ),
        // Ticket corrections and the linked model's checklist.
        def(M::POST, "/tickets/{id}/edit", Staff, tickets::actions::edit),
        def(
            M::POST,
            "/tickets/{id}/steps",
            Staff,
            tickets::actions::tick_step,
        ),
        // Administration.
        def(M::GET, "/admin/users", Admin, admin::users::list),
        def(M::POST, "/admin/users", Admin, admin::users::create),
        def(M::GET, "/admin/users/{id}", Admin, admin::users::show),
        def(
            M::POST,
            "/admin/users/{id}/role",
            Admin,
            admin::users::change_role,
        ),
        def(
            M::POST,
            "/admin/users/{id}/disable",
            Admin,
            admin::users::disable,
        ),
        def(
            M::POST,
            "/admin/users/{id}/enable",
            Admin,
            admin::users::enable,
        ),
        def(
            M::POST,
            "/admin/users/{id}/password",
            Admin,
            admin::users::reset_password,
        ),
        def(
            M::GET,
            "/admin/organizations",
            Admin,
            admin::organizations::list,
        ),
        def(
            M::POST,
            "/admin/organizations",
            Admin,
            admin::organizations::create,
        ),
        def(M::GET, "/admin/audit", Admin, admin::audit::list),
        // Outgoing webhooks and mail in.
        def(M::GET, "/admin/webhooks", Admin, admin::webhooks::list),
        def(M::POST, "/admin/webhooks", Admin, admin::webhooks::create),
        def(
            M::POST,
            "/admin/webhooks/{id}/stop",
            Admin,
            admin::webhooks::stop,
        ),
        def(M::GET, "/admin/mail", Admin, admin::mail::show),
        def(
            M::POST,
            "/admin/mail/tokens",
            Admin,
            admin::mail::create_token,
        ),
        def(
            M::POST,
            "/admin/mail/domains",
            Admin,
            admin::mail::save_domain,
        ),
        def(
            M::POST,
            "/admin/mail/domains/remove",
            Admin,
            admin::mail::remove_domain,
        ),
        def(M::GET, "/admin/categories", Admin, admin::categories::list),
        def(
            M::POST,
            "/admin/categories",
            Admin,
            admin::categories::create,
        ),
        def(
            M::POST,
            "/admin/categories/{id}/remove",
            Admin,
            admin::categories::remove,
        ),
        // The API reference, rendered from the OpenAPI document.
        def(M::GET, "/account/api", SignedIn, api::openapi::reference),
        def(
            M::GET,
            "/admin/integrations",
            Admin,
            admin::integrations::list,
        ),
        def(
            M::POST,
            "/admin/integrations",
            Admin,
            admin::integrations::create,
        ),
        def(
            M::GET,
            "/admin/integrations/{id}",
            Admin,
            admin::integrations::show,
        ),
        def(
            M::POST,
            "/admin/integrations/{id}",
            Admin,
            admin::integrations::update,
        ),
        def(
            M::POST,
            "/admin/integrations/{id}/revoke",
            Admin,
            admin::integrations::revoke,
        ),
        // The JSON API.
        def(
            M::GET,
            "/api/v1/openapi.json",
            Anyone,
            api::openapi::openapi_json,
        ),
        def(M::GET, "/api/v1/me", SignedIn, api::me),
        // Mail in, from a mail gateway token (staff-created).
        def(M::POST, "/api/v1/mail", Staff, mail::receive),
        // The alert intake: integration tokens only.
        def(
            M::POST,
            "/api/v1/alerts/alertmanager",
            Integration,
            api::alerts::alertmanager,
        ),
        def(
            M::POST,
            "/api/v1/alerts/generic",
            Integration,
            api::alerts::generic,
        ),
        def(
            M::GET,
            "/api/v1/alerts/deliveries/{id}",
            Integration,
            api::alerts::delivery,
        ),
        def(M::GET, "/api/v1/models", SignedIn, api::models::list),
        def(M::POST, "/api/v1/models", Staff, api::models::create),
        def(
            M::POST,
            "/api/v1/models/text",
            Staff,
            api::models::post_text,
        ),
        def(M::GET, "/api/v1/models/{key}", SignedIn, api::models::show),
        def(M::PUT, "/api/v1/models/{key}", Staff, api::models::update),
        def(
            M::GET,
            "/api/v1/models/{key}/revisions",
            SignedIn,
            api::models::history,
        ),
        def(
            M::GET,
            "/api/v1/models/{key}/revisions/{number}",
            SignedIn,
            api::models::revision,
        ),
        def(M::GET, "/api/v1/search", SignedIn, search::api),
        def(M::GET, "/api/v1/reviews", Staff, api::reviews::list),
        def(M::GET, "/api/v1/reviews/{id}", Staff, api::reviews::show),
        def(M::POST, "/api/v1/reviews/{id}", Staff, api::reviews::save),
        def(
            M::GET,
            "/api/v1/improvements",
            Staff,
            api::improvements::list,
        ),
        def(
            M::POST,
            "/api/v1/improvements",
            Staff,
            api::improvements::create,
        ),
        def(
            M::POST,
            "/api/v1/improvements/priority",
            Manager,
            api::improvements::reprioritise,
        ),
        def(
            M::GET,
            "/api/v1/improvements/{id}",
            Staff,
            api::improvements::show,
        ),
        def(
            M::PUT,
            "/api/v1/improvements/{id}",
            Staff,
            api::improvements::update,
        ),
        def(M::GET, "/api/v1/rota", Staff, api::rota::list),
        def(M::POST, "/api/v1/rota", Manager, api::rota::assign),
        def(M::POST, "/api/v1/rota/swaps", Staff, api::rota::swap),
        def(M::GET, "/api/v1/reports/{table}", Staff, reports::api_json),
        def(
            M::GET,
            "/api/v1/reports/{table}/csv",
            Staff,
            reports::api_csv,
        ),
        def(M::GET, "/api/v1/tickets", SignedIn, api::tickets::list),
        def(M::POST, "/api/v1/tickets", SignedIn, api::tickets::create),
        def(M::GET, "/api/v1/tickets/{id}", SignedIn, api::tickets::show),
        def(
            M::GET,
            "/api/v1/tickets/{id}/events",
            SignedIn,
            api::tickets::events,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/entries",
            SignedIn,
            api::tickets::write,
        ),
        def(
            M::GET,
            "/api/v1/tickets/{id}/attachments",
            SignedIn,
            api::attachments::list,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/attachments",
            SignedIn,
            api::attachments::upload,
        ),
        def(
            M::GET,
            "/api/v1/tickets/{id}/attachments/{attachment}",
            SignedIn,
            api::attachments::download,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/status",
            Staff,
            api::tickets::change_status,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/assign",
            Staff,
            api::tickets::assign,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/models",
            Staff,
            api::tickets::link_model,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/models/unlink",
            Staff,
            api::tickets::unlink_model,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/escalations",
            Staff,
            api::tickets::escalate,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/duplicate",
            Staff,
            api::tickets::mark_duplicate,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/fields",
            Staff,
            api::tickets::edit,
        ),
        def(
            M::POST,
            "/api/v1/tickets/{id}/steps",
            Staff,
            api::tickets::tick_step,
        ),
    ]
}

/// Registers every route of the table.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for def in table() {
        (def.register)(cfg);
    }
}

/// The table as data, for the route × role matrix test.
pub fn route_list() -> Vec<Route> {
    table().into_iter().map(|d| d.route).collect()
}

/// `name=value&…` for the non-empty values, encoded: what a pager's links
/// carry to keep a list's filters.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", auth::urlencode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Runs CPU-heavy work of a request (a diff, a search, Markdown of a long
/// model) on a blocking thread, no more of them at once than the machine
/// has cores: a few slow requests can no longer starve every other request
/// of the async workers.
pub async fn cpu<T, F>(state: &crate::app::AppState, work: F) -> Result<T, AppError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let _permit = state
        .cpu
        .acquire()
        .await
        .map_err(|_| AppError::Pool("the server is shutting down".to_owned()))?;
    web::block(work)
        .await
        .map_err(|e| AppError::Internal(format!("CPU work of a request failed: {e}")))
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// One log line per request: method, path (never the query string, which
/// may carry tokens), status, time taken and the request id; and the
/// request's count and latency in the metrics, by route pattern.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let request_id = req
        .extensions()
        .get::<request_id::RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let metrics = req
        .app_data::<web::Data<crate::app::AppState>>()
        .map(|state| state.metrics.clone());
    let result = next.call(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let elapsed_ms = elapsed * 1000.0;
    let (status, route) = match &result {
        Ok(res) => (res.status().as_u16(), res.request().match_pattern()),
        Err(e) => (e.as_response_error().status_code().as_u16(), None),
    };
    if let Some(metrics) = metrics {
        metrics.observe_request(
            crate::metrics::HttpLabels {
                method: method.to_string(),
                route: route.unwrap_or_else(|| crate::metrics::UNMATCHED.to_owned()),
                status,
            },
            elapsed,
        );
    }
    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = status,
        request_id = %request_id,
        elapsed_ms = format_args!("{elapsed_ms:.1}"),
        "{method} {path} {status}"
    );
    result
}
