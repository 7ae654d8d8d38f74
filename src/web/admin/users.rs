//! Admins create users, change roles, disable and re-enable them, and reset
//! passwords. Every change is audited; the last enabled admin cannot be
//! demoted or disabled.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::users::{Organization, User, UserRow};
use crate::db::{audit, users};
use crate::domain::FieldError;
use crate::domain::account::{
    MAX_NAME_CHARS, OrgId, Role, UserId, validate_email, validate_name, validate_password,
};
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render, render_status, see_other};

#[derive(Template)]
#[template(path = "admin/users/list.html")]
struct ListPage {
    ctx: Ctx,
    users: Vec<UserRow>,
    organizations: Vec<Organization>,
    roles: [Role; 5],
    form: NewUserForm,
    error: Option<FieldError>,
}

#[derive(Template)]
#[template(path = "admin/users/show.html")]
struct ShowPage {
    ctx: Ctx,
    user: User,
    organizations: Vec<Organization>,
    roles: [Role; 5],
    error: Option<FieldError>,
}

#[derive(Deserialize, Default, Clone)]
pub struct NewUserForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub password: String,
}

async fn organizations(conn: &mut AsyncPgConnection) -> Result<Vec<Organization>, AppError> {
    Ok(users::organizations(conn)
        .await?
        .into_iter()
        .map(|(org, _)| org)
        .collect())
}

/// An empty choice means "no organization".
fn parse_org(input: &str) -> Result<Option<OrgId>, FieldError> {
    let input = input.trim();
    if input.is_empty() {
        return Ok(None);
    }
    input
        .parse::<i64>()
        .map(|id| Some(OrgId(id)))
        .map_err(|_| FieldError::new("organization", "choose an organization from the list"))
}

async fn list_page(
    state: &AppState,
    ctx: Ctx,
    form: NewUserForm,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let page = ListPage {
        ctx,
        users: users::list(&mut conn).await?,
        organizations: organizations(&mut conn).await?,
        roles: Role::ALL,
        form: NewUserForm {
            password: String::new(),
            ..form
        },
        error,
    };
    render_status(&page, status)
}

pub async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    list_page(&state, ctx, NewUserForm::default(), None, StatusCode::OK).await
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let valid = (|| {
        let email = validate_email(&form.email)?;
        let name = validate_name("display_name", &form.display_name, MAX_NAME_CHARS)?;
        // No default: a person added as a customer by mistake is an easy
        // slip, so the role is always chosen.
        if form.role.trim().is_empty() {
            return Err(FieldError::new("role", "choose the person's role"));
        }
        let role: Role = form.role.parse()?;
        let org = parse_org(&form.organization)?;
        validate_password(&form.password)?;
        Ok::<_, FieldError>((email, name, role, org))
    })();
    let (email, name, role, org) = match valid {
        Ok(v) => v,
        Err(e) => {
            return list_page(&state, ctx, form, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let password = form.password.clone();
    let hash = crate::web::auth::hash_password(password).await?;
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let created = conn.transaction(async move |conn| {
            let user = users::create(
                conn,
                users::NewUser {
                    email: &email,
                    display_name: &name,
                    role,
                    organization: org,
                    password_hash: &hash,
                },
            )
            .await?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "user.created",
                    subject: user.email.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "user_id": user.id, "role": role.as_str(), "organization_id": user.organization_id }),
                },
            )
            .await?;
            Ok::<_, AppError>(user)
    })
    .await;
    match created {
        Ok(user) => Ok(see_other(&format!(
            "/admin/users/{}?notice=user-created",
            user.id
        ))),
        Err(AppError::Invalid(e)) => {
            list_page(&state, ctx, form, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e),
    }
}

async fn show_page(
    state: &AppState,
    ctx: Ctx,
    id: UserId,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let user = users::find_person(&mut conn, id).await?;
    let page = ShowPage {
        ctx,
        user,
        organizations: organizations(&mut conn).await?,
        roles: Role::ALL,
        error,
    };
    render_status(&page, status)
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let user = users::find_person(&mut conn, path.into_inner()).await?;
    render(&ShowPage {
        ctx,
        user,
        organizations: organizations(&mut conn).await?,
        roles: Role::ALL,
        error: None,
    })
}

/// Refuses to leave the system without an enabled admin.
async fn keep_an_admin(conn: &mut AsyncPgConnection, target: &User) -> Result<(), AppError> {
    if target.role() == Role::Admin
        && !target.disabled
        && users::enabled_admin_count(conn).await? <= 1
    {
        return Err(FieldError::new(
            "role",
            "this is the last enabled admin; make another admin first",
        )
        .into());
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    organization: String,
}

pub async fn change_role(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<UserId>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let parsed = form
        .role
        .parse::<Role>()
        .and_then(|role| Ok((role, parse_org(&form.organization)?)));
    let (role, org) = match parsed {
        Ok(v) => v,
        Err(e) => {
            return show_page(&state, ctx, id, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let changed = conn.transaction(async move |conn| {
            let before = users::find_person(conn, id).await?;
            if role != Role::Admin {
                keep_an_admin(conn, &before).await?;
            }
            let after = users::set_role(conn, id, role, org).await?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "user.role_changed",
                    subject: after.email.clone(),
                    client_addr: Some(&addr),
                    detail: json!({
                        "user_id": after.id,
                        "from": before.role, "to": after.role,
                        "organization_from": before.organization_id, "organization_to": after.organization_id,
                    }),
                },
            )
            .await?;
            Ok::<_, AppError>(())
    })
    .await;
    match changed {
        Ok(()) => Ok(see_other(&format!("/admin/users/{id}?notice=role-changed"))),
        Err(AppError::Invalid(e)) => {
            show_page(&state, ctx, id, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e),
    }
}

async fn set_disabled(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    id: UserId,
    disabled: bool,
) -> Result<HttpResponse, AppError> {
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let changed = conn
        .transaction(async move |conn| {
            let before = users::find_person(conn, id).await?;
            if disabled {
                keep_an_admin(conn, &before).await?;
            }
            let after = users::set_disabled(conn, id, disabled).await?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: if disabled {
                        "user.disabled"
                    } else {
                        "user.enabled"
                    },
                    subject: after.email.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "user_id": after.id }),
                },
            )
            .await?;
            Ok::<_, AppError>(())
        })
        .await;
    let notice = if disabled {
        "user-disabled"
    } else {
        "user-enabled"
    };
    match changed {
        Ok(()) => Ok(see_other(&format!("/admin/users/{id}?notice={notice}"))),
        Err(AppError::Invalid(e)) => {
            show_page(&state, ctx, id, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e),
    }
}

pub async fn disable(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    set_disabled(req, ctx, state, who, path.into_inner(), true).await
}

pub async fn enable(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<UserId>,
) -> Result<HttpResponse, AppError> {
    set_disabled(req, ctx, state, who, path.into_inner(), false).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
}

pub async fn reset_password(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<UserId>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if let Err(e) = validate_password(&form.password) {
        return show_page(&state, ctx, id, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let password = form.password.clone();
    let hash = crate::web::auth::hash_password(password).await?;
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async move |conn| {
        let user = users::find_person(conn, id).await?;
        users::set_password(conn, id, &hash).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(actor),
                action: "user.password_reset",
                subject: user.email.clone(),
                client_addr: Some(&addr),
                detail: json!({ "user_id": user.id }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other(&format!(
        "/admin/users/{id}?notice=password-reset"
    )))
}
