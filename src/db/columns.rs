//! How domain types are stored: ids as `BIGINT`, statuses and visibilities
//! as their text, priorities as their level. Row structs read columns into
//! domain types through these (`#[diesel(deserialize_as = …)]`), so
//! handlers and templates compare enums, never strings; a value the domain
//! does not know is a deserialization error, not a silent default.

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::{SmallInt, Text};

use crate::domain::policy::Visibility;
use crate::domain::ticket::{Priority, Status};

/// A ticket status as stored.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct StatusColumn(Status);

impl FromSql<Text, Pg> for StatusColumn {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
        text.parse()
            .map(StatusColumn)
            .map_err(|_| format!("unknown ticket status {text:?} in the database").into())
    }
}

impl From<StatusColumn> for Status {
    fn from(c: StatusColumn) -> Self {
        c.0
    }
}

/// A ticket priority as stored (its level, 1–4).
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct PriorityColumn(Priority);

impl FromSql<SmallInt, Pg> for PriorityColumn {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        let level = <i16 as FromSql<SmallInt, Pg>>::from_sql(value)?;
        Priority::new(level)
            .map(PriorityColumn)
            .map_err(|_| format!("unknown priority {level} in the database").into())
    }
}

impl From<PriorityColumn> for Priority {
    fn from(c: PriorityColumn) -> Self {
        c.0
    }
}

/// A journal entry's visibility as stored.
#[derive(Debug, Clone, Copy, FromSqlRow)]
pub struct VisibilityColumn(Visibility);

impl FromSql<Text, Pg> for VisibilityColumn {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        match <String as FromSql<Text, Pg>>::from_sql(value)?.as_str() {
            "public" => Ok(VisibilityColumn(Visibility::Public)),
            "internal" => Ok(VisibilityColumn(Visibility::Internal)),
            other => Err(format!("unknown visibility {other:?} in the database").into()),
        }
    }
}

impl From<VisibilityColumn> for Visibility {
    fn from(c: VisibilityColumn) -> Self {
        c.0
    }
}
