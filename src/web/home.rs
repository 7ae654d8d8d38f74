use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;

use crate::app::AppState;
use crate::db::improvements::{self, Debt};
use crate::domain::account::Role;
use crate::web::auth::MaybeSignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::render;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    version: &'static str,
    /// The improvement debt, for reviewers, managers and admins.
    debt: Option<Debt>,
    rule: &'static str,
    /// Who triages this week (team only).
    triager: Option<String>,
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.map(|i| i.user.viewer());
    let debt = match viewer {
        Some(viewer) if matches!(viewer.role, Role::Reviewer | Role::Manager | Role::Admin) => {
            let mut conn = state.pool.get().await?;
            Some(improvements::debt(&mut conn, &viewer, Utc::now()).await?)
        }
        _ => None,
    };
    let triager = match viewer {
        Some(viewer) if viewer.role.is_staff() => {
            let mut conn = state.pool.get().await?;
            crate::db::rota::current_triager(&mut conn, &viewer, Utc::now().date_naive()).await?
        }
        _ => None,
    };
    render(&HomePage {
        ctx,
        version: env!("CARGO_PKG_VERSION"),
        debt,
        rule: improvements::RULE,
        triager,
    })
}
