//! Users and organizations.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{integrations, organizations, sessions, users};
use crate::domain::FieldError;
use crate::domain::account::{OrgId, Role, UserId};
use crate::domain::policy::Viewer;
use crate::domain::zone::Tz;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub organization_id: Option<i64>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// The IANA name the person chose; `None` is the instance's default.
    pub time_zone: Option<String>,
}

impl User {
    /// The database only holds valid roles; were one ever unreadable, the
    /// least privilege applies.
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Customer)
    }

    /// Takes a reference because templates pass one.
    pub fn belongs_to(&self, organization: &i64) -> bool {
        self.organization_id == Some(*organization)
    }

    /// The zone this person reads times in: their own choice, else the
    /// instance's `default` (a stored name no longer in the zone database
    /// falls back to it too).
    pub fn zone(&self, default: Tz) -> Tz {
        self.time_zone
            .as_deref()
            .and_then(|name| name.parse().ok())
            .unwrap_or(default)
    }

    pub fn viewer(&self) -> Viewer {
        Viewer {
            user: UserId(self.id),
            role: self.role(),
            org: self.organization_id.map(OrgId),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub organization: Option<OrgId>,
    pub password_hash: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error(transparent)]
    Database(#[from] DieselError),
}

fn is_unique_violation(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

fn customer_needs_org(role: Role, org: Option<OrgId>) -> Result<(), FieldError> {
    if role == Role::Customer && org.is_none() {
        return Err(FieldError::new(
            "organization",
            "a customer must belong to an organization",
        ));
    }
    Ok(())
}

pub async fn create(conn: &mut AsyncPgConnection, new: NewUser<'_>) -> Result<User, WriteError> {
    customer_needs_org(new.role, new.organization)?;
    diesel::insert_into(users::table)
        .values((
            users::email.eq(new.email),
            users::display_name.eq(new.display_name),
            users::role.eq(new.role.as_str()),
            users::organization_id.eq(new.organization.map(|o| o.0)),
            users::password_hash.eq(new.password_hash),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            e if is_unique_violation(&e) => {
                FieldError::new("email", "is already registered").into()
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                FieldError::new("organization", "does not exist").into()
            }
            e => e.into(),
        })
}

pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<User> {
    users::table
        .find(id.0)
        .select(User::as_select())
        .first(conn)
        .await
}

/// A person's account, for the admin pages: an integration's own account
/// (the requester and author of what its alerts do) is not a person and is
/// managed with its integration, so it is "not found" here.
pub async fn find_person(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<User> {
    users::table
        .find(id.0)
        .filter(diesel::dsl::not(diesel::dsl::exists(
            integrations::table.filter(integrations::user_id.eq(users::id)),
        )))
        .select(User::as_select())
        .first(conn)
        .await
}

/// The user and their password hash, by email ignoring case.
pub async fn find_for_login(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<(User, String)>> {
    users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email)
                .sql(")"),
        )
        .select((User::as_select(), users::password_hash))
        .first(conn)
        .await
        .optional()
}

pub async fn password_hash(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<String> {
    users::table
        .find(id.0)
        .select(users::password_hash)
        .first(conn)
        .await
}

pub struct UserRow {
    pub user: User,
    pub organization: Option<String>,
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<UserRow>> {
    let rows: Vec<(User, Option<String>)> = users::table
        .left_join(organizations::table)
        // Integrations' accounts are not people (see `find_person`).
        .filter(diesel::dsl::not(diesel::dsl::exists(
            integrations::table.filter(integrations::user_id.eq(users::id)),
        )))
        .select((User::as_select(), organizations::name.nullable()))
        .order((
            users::disabled.asc(),
            users::display_name.asc(),
            users::id.asc(),
        ))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user, organization)| UserRow { user, organization })
        .collect())
}

pub async fn admin_exists(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(
            users::role
                .eq(Role::Admin.as_str())
                .and(users::disabled.eq(false)),
        ),
    ))
    .get_result(conn)
    .await
}

pub async fn set_role(
    conn: &mut AsyncPgConnection,
    id: UserId,
    role: Role,
    organization: Option<OrgId>,
) -> Result<User, WriteError> {
    customer_needs_org(role, organization)?;
    diesel::update(users::table.find(id.0))
        .set((
            users::role.eq(role.as_str()),
            users::organization_id.eq(organization.map(|o| o.0)),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                FieldError::new("organization", "does not exist").into()
            }
            e => e.into(),
        })
}

/// Disabling also ends every session of the user.
pub async fn set_disabled(
    conn: &mut AsyncPgConnection,
    id: UserId,
    disabled: bool,
) -> QueryResult<User> {
    if disabled {
        diesel::delete(sessions::table.filter(sessions::user_id.eq(id.0)))
            .execute(conn)
            .await?;
    }
    diesel::update(users::table.find(id.0))
        .set((
            users::disabled.eq(disabled),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Sets the zone the person reads times in (`None`: the instance's default).
pub async fn set_time_zone(
    conn: &mut AsyncPgConnection,
    id: UserId,
    zone: Option<Tz>,
) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::time_zone.eq(zone.map(|z| z.name())),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A new password ends every session of the user.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: UserId,
    password_hash: &str,
) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id.0)))
        .execute(conn)
        .await?;
    diesel::update(users::table.find(id.0))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn create_organization(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<Organization, WriteError> {
    diesel::insert_into(organizations::table)
        .values(organizations::name.eq(name))
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
        .map_err(|e| match e {
            e if is_unique_violation(&e) => FieldError::new("name", "is already taken").into(),
            e => e.into(),
        })
}

pub async fn organizations(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(Organization, i64)>> {
    organizations::table
        .left_join(users::table)
        .group_by(organizations::id)
        .select((
            Organization::as_select(),
            diesel::dsl::count(users::id.nullable()),
        ))
        .order(organizations::name.asc())
        .load(conn)
        .await
}

pub async fn find_organization_by_name(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<diesel::sql_types::Text, _>(name)
                .sql(")"),
        )
        .select(Organization::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn enabled_admin_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)
        .await
}

/// Whether the organization exists.
pub async fn organization_name_exists(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(organizations::table.find(id)))
        .get_result(conn)
        .await
}
