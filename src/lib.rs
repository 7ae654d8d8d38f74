//! Casebook: incident models (plain-text run-books) and the tickets they are
//! used on, in one PostgreSQL store. See `ARCHITECTURE.md` for the why.
//!
//! Module map:
//! - [`server`]: start-up and shutdown of `serve` and `migrate`, one clear
//!   error per failure.
//! - [`commands`]: one-off commands (`user add`, `import`, `export`, `demo`
//!   with its history, `reindex`); benchmarks live in the `bench/` workspace
//!   member.
//! - [`app`]: `AppState` and [`app::build`], the one function that builds the
//!   actix `App` (used by `main` and by the tests).
//! - [`config`]: the typed configuration, loaded once in `main`.
//! - [`web`]: the route table ([`web::routes`]), one handler file per
//!   resource, and the HTTP error type ([`web::error`]): nothing below
//!   `web/` imports it.
//! - [`tickets`]: the ticket service, one function per action (authorise
//!   through `domain::policy`, one transaction, outbox and notification),
//!   with its own error enum.
//! - [`reports`]: the managers' reports service: the measures of a query,
//!   excluding tickets from metrics, drafting a model from a ticket.
//! - [`domain`]: pure rules (no actix, no diesel): accounts, the access
//!   policy, ticket lifecycle, the plain-text model format and diffs, the
//!   review form, improvement items and the debt, the rota, and the report
//!   measures' reference implementation.
//! - [`db`]: connection pool, embedded migrations, the embedded PostgreSQL
//!   cluster ([`db::cluster`]), the generated schema and the queries; reads
//!   of tickets for a person take the viewer's `TicketScope`.
//! - [`search`]: the tantivy index derived from PostgreSQL, its outbox
//!   indexer (commit order), the search page's query and triage matching.
//! - [`live`]: LISTEN/NOTIFY fan-out for event streams, the indexer and
//!   access changes.
//! - [`notify`]: the delivery worker that sends what the delivery outbox
//!   (`db::deliveries`, written with each ticket action) holds: mail
//!   notifications rendered through the recipient's scope, signed webhooks.
//! - [`mail`]: mail in (`POST /api/v1/mail`, `casebook mailgate`).
//! - [`http_client`]: the small HTTP client of webhooks and `mailgate`,
//!   with the webhook allow-list.
//! - [`markdown`]: Markdown to sanitized `SafeHtml`.
//! - [`secrets`]: tokens and password hashes.
//! - [`logging`]: tracing setup (INFO, JSON by switch).
//! - [`metrics`]: what `/metrics` reports (prometheus-client registry in
//!   `AppState`; counters the alert intake calls, gauges read at scrape).
//! - `web::api::openapi`: the OpenAPI document generated from the API
//!   handlers' annotations and types, and the reference page.
//!
//! Dependency direction: `web` → `tickets` (services) → `db`, `search`,
//! `domain`; `db` and `search` → `domain`; `domain` depends on nothing of
//! ours.

pub mod app;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod http_client;
pub mod live;
pub mod logging;
pub mod mail;
pub mod markdown;
pub mod metrics;
pub mod notify;
pub mod reports;
pub mod search;
pub mod secrets;
pub mod server;
pub mod tickets;
pub mod web;
