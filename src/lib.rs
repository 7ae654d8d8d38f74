//! Casebook: incident models (plain-text run-books) and the tickets they are
//! used on, in one PostgreSQL store. See `ARCHITECTURE.md` for the why.
//!
//! Module map:
//! - [`server`]: start-up and shutdown of `serve` and `migrate`, one clear
//!   error per failure.
//! - [`commands`]: one-off commands that change data (`user add`).
//! - [`app`]: `AppState` and [`app::build`], the one function that builds the
//!   actix `App` (used by `main` and by the tests).
//! - [`config`]: the typed configuration, loaded once in `main`.
//! - [`error`]: `AppError`, every variant mapped to an HTTP status.
//! - [`db`]: connection pool, embedded migrations, the embedded PostgreSQL
//!   cluster ([`db::cluster`]), the generated schema and the queries.
//! - [`web`]: the route table ([`web::routes`]) and one handler file per
//!   resource.
//! - [`logging`]: tracing setup (INFO, JSON by switch).

pub mod app;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod live;
pub mod logging;
pub mod markdown;
pub mod search;
pub mod secrets;
pub mod server;
pub mod web;
