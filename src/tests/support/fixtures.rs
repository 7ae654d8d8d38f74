//! Builders for test data, written straight to the test database:
//! `fixtures::user().role(Role::Customer).org(acme).create(&mut conn)`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel_async::AsyncPgConnection;

use casebook::db::users::{self, Organization, User};
use casebook::domain::account::{OrgId, Role};

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
