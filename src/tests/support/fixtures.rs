//! Builders for test data, written straight to the test database:
//! `fixtures::user().role(Role::Customer).org(acme).create(&mut conn)`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{Duration, Utc};
use diesel_async::AsyncPgConnection;

use casebook::db::users::{self, Organization, User};
use casebook::db::{api_tokens, sessions};
use casebook::domain::account::{OrgId, Role, UserId};
use casebook::secrets::{hash_token, new_token};
use casebook::tickets::{self as ticket_actions, OpenTicket};

pub const PASSWORD: &str = "correct horse battery";

static NEXT: AtomicU32 = AtomicU32::new(1);

/// Hashing is slow on purpose; every fixture user shares one hash.
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| casebook::secrets::hash_password(PASSWORD).unwrap())
}

pub struct UserBuilder {
    role: Role,
    org: Option<OrgId>,
    email: Option<String>,
    disabled: bool,
}

pub fn user() -> UserBuilder {
    UserBuilder {
        role: Role::Engineer,
        org: None,
        email: None,
        disabled: false,
    }
}

impl UserBuilder {
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    pub fn org(mut self, org: &Organization) -> Self {
        self.org = Some(OrgId(org.id));
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }

    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }

    pub async fn create(self, conn: &mut AsyncPgConnection) -> User {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let email = self
            .email
            .unwrap_or_else(|| format!("{}{n}@example.com", self.role));
        let user = users::create(
            conn,
            users::NewUser {
                email: &email,
                display_name: &format!("{} {n}", self.role),
                role: self.role,
                organization: self.org,
                password_hash: password_hash(),
            },
        )
        .await
        .unwrap();
        if self.disabled {
            return users::set_disabled(conn, casebook::domain::account::UserId(user.id), true)
                .await
                .unwrap();
        }
        user
    }
}

pub async fn organization(conn: &mut AsyncPgConnection, name: &str) -> Organization {
    users::create_organization(conn, name).await.unwrap()
}

/// A signed-in session as the login page would write it: the value of the
/// `casebook_session` cookie.
pub async fn session(conn: &mut AsyncPgConnection, user: &User) -> String {
    let token = new_token("").unwrap();
    sessions::create(
        conn,
        UserId(user.id),
        &hash_token(&token),
        Utc::now() + Duration::days(1),
    )
    .await
    .unwrap();
    token
}

/// An API token as the account page would make it: the bearer token.
pub async fn api_token(conn: &mut AsyncPgConnection, user: &User) -> String {
    let token = new_token("cb_").unwrap();
    let prefix: String = token.chars().take(10).collect();
    api_tokens::create(conn, UserId(user.id), "test", &hash_token(&token), &prefix)
        .await
        .unwrap();
    token
}

/// The people of the live-journal tests: an engineer, a customer of Acme,
/// and a ticket the customer opened.
pub struct Desk {
    pub engineer: User,
    pub customer: User,
    pub ticket: i64,
}

pub async fn desk(conn: &mut AsyncPgConnection) -> Desk {
    let acme = organization(conn, "Acme").await;
    let engineer = user().role(Role::Engineer).create(conn).await;
    let customer = user().role(Role::Customer).org(&acme).create(conn).await;
    let ticket = ticket_actions::open(
        conn,
        &customer.viewer(),
        OpenTicket {
            title: "Checkout fails with 502",
            description: "Since 09:40, for every order.",
            priority: "2",
            category: "web",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    Desk {
        engineer,
        customer,
        ticket,
    }
}
