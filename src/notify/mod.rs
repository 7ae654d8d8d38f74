//! Sending what the delivery outbox holds: the worker that claims due rows
//! (`worker`), mail rendered through the recipient's scope and sent over
//! SMTP (`mail_out`), and signed webhook calls (`webhook_out`).
//!
//! Delivery guarantee: a row is claimed with `FOR UPDATE SKIP LOCKED` in a
//! transaction that stays open while the relay (or endpoint) is talked to,
//! and is marked sent in that same transaction right after the relay
//! accepted the message. A crash before that commit leaves the row pending
//! and it is sent again: the only window for a duplicate is between the
//! relay's "250 OK" and our COMMIT (milliseconds), SMTP's own
//! at-least-once. Nothing committed is ever lost.

pub mod mail_out;
pub mod webhook_out;
pub mod worker;

/// How one try went, before retries are counted.
#[derive(Debug)]
pub enum Tried {
    Sent(String),
    /// Worth trying again (relay down, timeout, HTTP 500).
    Transient(String),
    /// Will never work (address refused by the relay, target not allowed).
    Permanent(String),
    /// Nothing to send any more.
    Dropped(String),
}
