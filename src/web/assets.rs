//! Static files, compiled into the binary so that `casebook` runs from any
//! directory. No build step: these are the files under `static/`.

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{HttpResponse, web};

use crate::web::error::AppError;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        path: "css/app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/css/app.css"),
    },
    Asset {
        path: "js/live.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/js/live.js"),
    },
    Asset {
        path: "js/ticket.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/js/ticket.js"),
    },
    Asset {
        path: "js/queue.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/js/queue.js"),
    },
];

pub async fn show(path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.path == path.as_str())
        .ok_or(AppError::NotFound)?;
    let content_type: ContentType = asset
        .content_type
        .parse()
        .map(ContentType)
        .unwrap_or(ContentType::octet_stream());
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .body(asset.body))
}
