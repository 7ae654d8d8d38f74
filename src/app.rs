//! Application state and the one function that builds the actix `App`;
//! `main` and the tests both use [`build`].

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};

use crate::config::Config;
use crate::db::DbPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    /// Migration versions this binary carries; `/readyz` compares the
    /// database against them.
    pub migrations: Arc<BTreeSet<String>>,
}

impl AppState {
    pub fn new(pool: DbPool, config: Config) -> Self {
        Self {
            pool,
            config: Arc::new(config),
            migrations: Arc::new(crate::db::embedded_versions()),
        }
    }
}

pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .wrap(from_fn(crate::web::request_log))
        .configure(crate::web::routes)
        .default_service(web::to(crate::web::not_found))
}
