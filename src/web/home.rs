use actix_web::HttpResponse;
use askama::Template;

use crate::error::AppError;
use crate::web::render;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    version: &'static str,
}

pub async fn show() -> Result<HttpResponse, AppError> {
    render(&HomePage {
        version: env!("CARGO_PKG_VERSION"),
    })
}
