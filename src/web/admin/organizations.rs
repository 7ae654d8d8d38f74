//! Customer organizations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::users::Organization;
use crate::db::{audit, users};
use crate::domain::FieldError;
use crate::domain::account::{MAX_NAME_CHARS, UserId, validate_name};
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

#[derive(Template)]
#[template(path = "admin/organizations/list.html")]
struct ListPage {
    ctx: Ctx,
    organizations: Vec<(Organization, i64)>,
    name: String,
    error: Option<FieldError>,
}

async fn list_page(
    state: &AppState,
    ctx: Ctx,
    name: String,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let organizations = users::organizations(&mut conn).await?;
    render_status(
        &ListPage {
            ctx,
            organizations,
            name,
            error,
        },
        status,
    )
}

pub async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    list_page(&state, ctx, String::new(), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct OrgForm {
    #[serde(default)]
    name: String,
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<OrgForm>,
) -> Result<HttpResponse, AppError> {
    let name = match validate_name("name", &form.name, MAX_NAME_CHARS) {
        Ok(name) => name,
        Err(e) => {
            return list_page(
                &state,
                ctx,
                form.name.clone(),
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction(async move |conn| {
            let org = users::create_organization(conn, &name).await?;
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "organization.created",
                    subject: org.name.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "organization_id": org.id }),
                },
            )
            .await?;
            Ok::<_, AppError>(())
        })
        .await;
    match created {
        Ok(()) => Ok(see_other(
            "/admin/organizations?notice=organization-created",
        )),
        Err(AppError::Invalid(e)) => {
            list_page(
                &state,
                ctx,
                form.name.clone(),
                Some(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
