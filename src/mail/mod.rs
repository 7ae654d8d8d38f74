//! Mail in: the service that turns one raw RFC 5322 message into a ticket,
//! a public reply or an internal note (`inbound`), and the client half of
//! `casebook mailgate` that posts a message from an MTA (`gate`).

pub mod gate;
pub mod inbound;
