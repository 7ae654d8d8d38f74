//! Integrations: the alert sources allowed to open tickets through the
//! alert intake, each with its own token (shown once, stored hashed) and
//! the defaults of the tickets it opens. Admins create, edit and revoke
//! them; every change is audited.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::audit;
use crate::db::integrations::{self, Integration, Settings};
use crate::db::users::{self, NewUser, Organization};
use crate::domain::FieldError;
use crate::domain::account::{Role, UserId, validate_name};
use crate::domain::alert::PriorityMap;
use crate::domain::ticket::Priority;
use crate::secrets::{hash_token, new_token};
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

const MAX_NAME: usize = 80;
const MAX_LABEL: usize = 80;

#[derive(Template)]
#[template(path = "admin/integrations/list.html")]
struct ListPage {
    ctx: Ctx,
    integrations: Vec<(Integration, Option<String>, i64)>,
    organizations: Vec<Organization>,
    priorities: [Priority; 4],
    form: IntegrationForm,
    /// Shown once, right after creation.
    new_token: Option<(String, String)>,
    error: Option<FieldError>,
}

#[derive(Template)]
#[template(path = "admin/integrations/show.html")]
struct ShowPage {
    ctx: Ctx,
    integration: Integration,
    organizations: Vec<Organization>,
    priorities: [Priority; 4],
    form: IntegrationForm,
    error: Option<FieldError>,
    /// Its deliveries parked as failed by the alert inbox's applier.
    parked: Vec<crate::db::alert_inbox::Delivery>,
}

/// Parked deliveries listed on an integration's page (newest first).
const PARKED_SHOWN: i64 = 20;

/// The create and edit form.
#[derive(Deserialize, Clone)]
pub struct IntegrationForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub default_priority: String,
    #[serde(default)]
    pub default_category: String,
    #[serde(default)]
    pub priority_label: String,
    #[serde(default)]
    pub priority_map: String,
    #[serde(default)]
    pub category_label: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    pub resolve_on_resolved: Option<String>,
    #[serde(default)]
    pub reopen_window_hours: String,
}

impl Default for IntegrationForm {
    fn default() -> Self {
        IntegrationForm {
            name: String::new(),
            organization: String::new(),
            default_priority: "P3".to_owned(),
            default_category: String::new(),
            priority_label: "severity".to_owned(),
            priority_map: "critical = P1\nwarning = P3\ninfo = P4".to_owned(),
            category_label: String::new(),
            resolve_on_resolved: Some("on".to_owned()),
            reopen_window_hours: "24".to_owned(),
        }
    }
}

impl IntegrationForm {
    fn of(i: &Integration) -> Self {
        IntegrationForm {
            name: i.name.clone(),
            organization: i.organization_id.map(|o| o.to_string()).unwrap_or_default(),
            default_priority: i.default_priority_label(),
            default_category: i.default_category.clone(),
            priority_label: i.priority_label.clone(),
            priority_map: i.priority_map_text(),
            category_label: i.category_label.clone(),
            resolve_on_resolved: i.resolve_on_resolved.then(|| "on".to_owned()),
            reopen_window_hours: i.reopen_window_hours(),
        }
    }

    pub fn resolves(&self) -> bool {
        self.resolve_on_resolved.is_some()
    }

    /// Takes a reference because templates pass one.
    pub fn is_org(&self, id: &i64) -> bool {
        self.organization.trim() == id.to_string()
    }

    pub fn is_priority(&self, p: &Priority) -> bool {
        self.default_priority
            .parse::<Priority>()
            .is_ok_and(|mine| mine == *p)
    }
}

/// The checked values of the form.
struct Checked {
    name: String,
    organization: Option<i64>,
    default_priority: Priority,
    default_category: String,
    priority_label: String,
    priority_map: PriorityMap,
    category_label: String,
    resolve_on_resolved: bool,
    reopen_window_minutes: i32,
}

impl Checked {
    fn settings(&self) -> Settings<'_> {
        Settings {
            name: &self.name,
            organization: self.organization,
            default_priority: self.default_priority,
            default_category: &self.default_category,
            priority_label: &self.priority_label,
            priority_map: &self.priority_map,
            category_label: &self.category_label,
            resolve_on_resolved: self.resolve_on_resolved,
            reopen_window_minutes: self.reopen_window_minutes,
        }
    }
}

fn one_line(field: &'static str, text: &str, max: usize) -> Result<String, FieldError> {
    let text = text.trim();
    if text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            format!("must be one line of at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

fn check(form: &IntegrationForm) -> Result<Checked, FieldError> {
    let name = validate_name("name", &form.name, MAX_NAME)?;
    let organization = match form.organization.trim() {
        "" => None,
        id => Some(id.parse::<i64>().map_err(|_| {
            FieldError::new("organization", "choose an organization from the list")
        })?),
    };
    let default_priority: Priority = form
        .default_priority
        .parse()
        .map_err(|_| FieldError::new("default_priority", "choose P1, P2, P3 or P4"))?;
    let hours: f64 =
        form.reopen_window_hours.trim().parse().map_err(|_| {
            FieldError::new("reopen_window_hours", "give a number of hours, 0 to 8760")
        })?;
    if !(0.0..=8760.0).contains(&hours) {
        return Err(FieldError::new(
            "reopen_window_hours",
            "give a number of hours, 0 to 8760",
        ));
    }
    Ok(Checked {
        name,
        organization,
        default_priority,
        default_category: one_line("default_category", &form.default_category, 80)?,
        priority_label: one_line("priority_label", &form.priority_label, MAX_LABEL)?,
        priority_map: PriorityMap::parse(&form.priority_map)?,
        category_label: one_line("category_label", &form.category_label, MAX_LABEL)?,
        resolve_on_resolved: form.resolves(),
        // At most 8760 hours: fits.
        reopen_window_minutes: (hours * 60.0).round() as i32,
    })
}

async fn organizations(conn: &mut AsyncPgConnection) -> Result<Vec<Organization>, AppError> {
    Ok(users::organizations(conn)
        .await?
        .into_iter()
        .map(|(org, _)| org)
        .collect())
}

async fn list_page(
    state: &AppState,
    ctx: Ctx,
    form: IntegrationForm,
    new_token: Option<(String, String)>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let page = ListPage {
        ctx,
        integrations: integrations::list(&mut conn).await?,
        organizations: organizations(&mut conn).await?,
        priorities: Priority::ALL,
        form,
        new_token,
        error,
    };
    render_status(&page, status)
}

pub async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    list_page(
        &state,
        ctx,
        IntegrationForm::default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<IntegrationForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let checked = match check(&form) {
        Ok(c) => c,
        Err(e) => {
            return list_page(
                &state,
                ctx,
                form,
                None,
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let token = new_token("cbi_")?;
    let token_hash = hash_token(&token);
    let prefix: String = token.chars().take(11).collect();
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async |conn| {
            if let Some(org) = checked.organization {
                crate::db::tickets::organization_name(conn, org)
                    .await
                    .map_err(|_| FieldError::new("organization", "does not exist"))?;
            }
            // The integration's own account: named after it, disabled (no
            // one signs in as it), the requester and author of what it does.
            let email = format!("integration-{}@alerts.invalid", &token_hash[..16]);
            let display_name = format!("{} (integration)", checked.name);
            let account = users::create(
                conn,
                NewUser {
                    email: &email,
                    display_name: &display_name,
                    role: Role::Engineer,
                    organization: None,
                    password_hash: "!",
                },
            )
            .await?;
            users::set_disabled(conn, UserId(account.id), true).await?;
            let created =
                integrations::create(conn, &checked.settings(), &token_hash, &prefix, account.id)
                    .await?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "integration.created",
                    subject: created.name.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "integration_id": created.id, "prefix": prefix }),
                },
            )
            .await?;
            Ok::<_, AppError>(created)
        })
        .await;
    match created {
        Ok(created) => {
            list_page(
                &state,
                ctx,
                IntegrationForm::default(),
                Some((created.name, token)),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(AppError::Invalid(e)) => {
            list_page(
                &state,
                ctx,
                form,
                None,
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let integration = integrations::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let page = ShowPage {
        ctx,
        form: IntegrationForm::of(&integration),
        integration,
        organizations: organizations(&mut conn).await?,
        priorities: Priority::ALL,
        error: None,
        parked: crate::db::alert_inbox::failed(&mut conn, id, PARKED_SHOWN).await?,
    };
    render_status(&page, StatusCode::OK)
}

pub async fn update(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    form: web::Form<IntegrationForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let integration = integrations::find(&mut conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let refuse = async |conn: &mut AsyncPgConnection, e: FieldError| {
        let page = ShowPage {
            ctx,
            integration: integration.clone(),
            organizations: organizations(conn).await?,
            priorities: Priority::ALL,
            form: form.clone(),
            error: Some(e),
            parked: crate::db::alert_inbox::failed(conn, id, PARKED_SHOWN).await?,
        };
        render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
    };
    let checked = match check(&form) {
        Ok(c) => c,
        Err(e) => return refuse(&mut conn, e).await,
    };
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let saved = conn
        .transaction(async |conn| {
            if let Some(org) = checked.organization {
                crate::db::tickets::organization_name(conn, org)
                    .await
                    .map_err(|_| FieldError::new("organization", "does not exist"))?;
            }
            integrations::update(conn, id, &checked.settings())
                .await?
                .ok_or(AppError::NotFound)?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "integration.updated",
                    subject: checked.name.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "integration_id": id }),
                },
            )
            .await?;
            Ok::<_, AppError>(())
        })
        .await;
    match saved {
        Ok(()) => Ok(see_other(&format!(
            "/admin/integrations/{id}?notice=integration-saved"
        ))),
        Err(AppError::Invalid(e)) => refuse(&mut conn, e).await,
        Err(e) => Err(e),
    }
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        if let Some(revoked) = integrations::revoke(conn, id).await? {
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "integration.revoked",
                    subject: revoked.name,
                    client_addr: Some(&addr),
                    detail: json!({ "integration_id": id, "prefix": revoked.prefix }),
                },
            )
            .await?;
        }
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/admin/integrations?notice=integration-revoked"))
}
