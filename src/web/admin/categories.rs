//! The managed list of ticket categories. Ticket forms offer these names
//! (free text is still allowed) and a typed name takes the listed spelling,
//! so reports group tickets cleanly.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::audit;
use crate::db::categories::{self, Category};
use crate::domain::FieldError;
use crate::domain::account::{UserId, validate_name};
use crate::tickets::edit::MAX_CATEGORY_CHARS;
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

#[derive(Template)]
#[template(path = "admin/categories/list.html")]
struct ListPage {
    ctx: Ctx,
    categories: Vec<Category>,
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
    let categories = categories::list(&mut conn).await?;
    render_status(
        &ListPage {
            ctx,
            categories,
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
pub struct CategoryForm {
    #[serde(default)]
    name: String,
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<CategoryForm>,
) -> Result<HttpResponse, AppError> {
    let refuse = async |e: FieldError| {
        list_page(
            &state,
            ctx,
            form.name.clone(),
            Some(e),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await
    };
    let name = match validate_name("name", &form.name, MAX_CATEGORY_CHARS) {
        Ok(name) => name,
        Err(e) => return refuse(e).await,
    };
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let added = conn
        .transaction(async |conn| {
            if !categories::add(conn, &name).await? {
                return Ok::<_, AppError>(false);
            }
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "category.added",
                    subject: name.clone(),
                    client_addr: Some(&addr),
                    detail: json!({}),
                },
            )
            .await?;
            Ok(true)
        })
        .await?;
    if !added {
        return refuse(FieldError::new(
            "name",
            "the list already has this category",
        ))
        .await;
    }
    Ok(see_other("/admin/categories?notice=category-added"))
}

pub async fn remove(
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
        if categories::remove(conn, id).await? {
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "category.removed",
                    subject: id.to_string(),
                    client_addr: Some(&addr),
                    detail: json!({ "category_id": id }),
                },
            )
            .await?;
        }
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/admin/categories?notice=category-removed"))
}
