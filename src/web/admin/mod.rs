//! Administration pages: users, organizations, the audit log. Admins only
//! (the route table says so for each route).

pub mod audit;
pub mod categories;
pub mod integrations;
pub mod organizations;
pub mod users;
