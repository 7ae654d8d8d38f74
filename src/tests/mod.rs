//! The integration test binary: every test goes through the real app or the
//! real `casebook` binary against a real PostgreSQL. Each test gets its own
//! database cloned from a template migrated once per run (see `support`).

// A failed unwrap is how a test says what went wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accounts;
mod alerts;
mod alerts_arrival;
mod alerts_inbox;
mod browser;
mod cli;
mod drift;
mod foundation;
mod home;
mod improvement_loop;
mod improvements;
mod live;
mod mail;
mod mail_serve;
mod matrix;
mod models;
mod operable;
mod reports;
mod reviews;
mod rota;
mod search;
mod seen_as;
mod setup;
mod support;
mod ticket_page;
mod tickets;
mod trust;
mod uploads;
mod webhooks;
