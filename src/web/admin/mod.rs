//! Administration pages: users, organizations, the audit log, webhooks and
//! mail in. Admins only
//! (the route table says so for each route).

pub mod audit;
pub mod categories;
pub mod integrations;
pub mod mail;
pub mod organizations;
pub mod users;
pub mod webhooks;
