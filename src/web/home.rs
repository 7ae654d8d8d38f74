use actix_web::HttpResponse;
use askama::Template;

use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::render;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    version: &'static str,
}

pub async fn show(ctx: Ctx) -> Result<HttpResponse, AppError> {
    render(&HomePage {
        ctx,
        version: env!("CARGO_PKG_VERSION"),
    })
}
