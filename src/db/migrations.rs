//! Diesel's migration harness is synchronous; this runs it through the
//! async connection's sync wrapper, on a blocking thread.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::{Connection, RunQueryDsl};
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::MigrationHarness;

use super::MigrationError;

/// Any two processes migrating the same database take turns on this lock.
const MIGRATION_LOCK: i64 = 0x6361_7365_626f_6f6b; // "casebook"

pub(super) fn run_pending<S: MigrationSource<Pg>>(
    url: &str,
    source: S,
) -> Result<Vec<String>, MigrationError> {
    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)
        .map_err(|e| MigrationError(e.to_string()))?;
    conn.transaction(|conn| {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .execute(conn)?;
        let applied = conn.run_pending_migrations(source)?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
            applied.iter().map(ToString::to_string).collect(),
        )
    })
    .map_err(|e| MigrationError(e.to_string()))
}
