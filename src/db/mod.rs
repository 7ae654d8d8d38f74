//! The store: connection pool, embedded migrations, the embedded cluster, and
//! (one file per table group) the queries. Query functions take
//! `conn: &mut AsyncPgConnection` so that the caller owns the transaction.

pub mod alert_inbox;
pub mod api_tokens;
pub mod arrival_triage;
pub mod audit;
pub mod categories;
pub mod cluster;
pub mod columns;
pub mod deliveries;
pub mod flashes;
pub mod gauges;
pub mod home;
pub mod improvements;
pub mod integrations;
pub mod journal;
pub mod mail;
mod migrations;
pub mod models;
pub mod outbox;
pub mod reports;
pub mod reviews;
pub mod rota;
pub mod schema;
pub mod seen_as;
pub mod sessions;
pub mod tickets;
pub mod triage;
pub mod users;
pub mod webhooks;

use std::collections::BTreeSet;
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How often the use of a credential (an API token, an integration's token)
/// is noted at most, in seconds: its "last used" is shown to the minute, and
/// a burst of calls would otherwise write (and flush) its row on each.
pub const NOTE_USE_EVERY_SECS: i64 = 60;

/// Whether a use noted at `last` is less than [`NOTE_USE_EVERY_SECS`] before
/// `now`: noting this one would change nothing that is shown.
pub fn used_lately(
    last: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    last.is_some_and(|t| now - t < chrono::Duration::seconds(NOTE_USE_EVERY_SECS))
}

pub type DbPool = Pool<AsyncPgConnection>;
pub type PooledConn = Object<AsyncPgConnection>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "cannot connect to PostgreSQL at {target}: {reason}; check that the server is running \
         and that DATABASE_URL (host, port, user, password, database) is right"
    )]
    Refused { target: String, reason: String },
    #[error(
        "PostgreSQL at {target} did not answer within {}s; check the host and port in DATABASE_URL",
        CONNECT_TIMEOUT.as_secs()
    )]
    Timeout { target: String },
}

#[derive(Debug, thiserror::Error)]
#[error("a database migration failed and nothing was applied: {0}")]
pub struct MigrationError(pub(crate) String);

/// Opens one connection, with a clear error when the server is unreachable
/// or refuses us.
pub async fn connect(url: &str) -> Result<AsyncPgConnection, ConnectError> {
    let target = redact_url(url);
    match tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(ConnectError::Refused {
            target,
            reason: explain_connect_failure(url)
                .await
                .unwrap_or_else(|| e.to_string()),
        }),
        Err(_) => Err(ConnectError::Timeout { target }),
    }
}

/// Connects again with tokio-postgres alone, which keeps the cause (the
/// socket error, the server's refusal) that diesel-async drops.
async fn explain_connect_failure(url: &str) -> Option<String> {
    let err = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .err()?;
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Some(reason.trim().replace('\n', " "))
}

/// How long a request waits for a free connection before it fails with
/// "temporarily unavailable" instead of queueing silently.
const POOL_WAIT: Duration = Duration::from_secs(10);

pub fn pool(url: &str, max_size: usize) -> Result<DbPool, String> {
    let mut config = ManagerConfig::default();
    // The default runs `SELECT 1` on every checkout: a round trip per use.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .build()
        .map_err(|e| e.to_string())
}

/// Opens every connection of the pool before the server takes requests:
/// otherwise the first requests of a burst each wait for a connection of
/// their own to be made (the connect, the session's settings), on a server
/// already busy with them. A connection that cannot be opened now is
/// opened on first use, as without this; answers how many were opened.
pub async fn warm(pool: &DbPool) -> usize {
    let mut held = Vec::with_capacity(pool.status().max_size);
    while held.len() < pool.status().max_size {
        match pool.get().await {
            Ok(conn) => held.push(conn),
            Err(e) => {
                tracing::warn!("the connection pool is not fully open yet: {e}");
                break;
            }
        }
    }
    held.len()
}

/// A pooled connection if one is free right now, else `None` (never waits:
/// a page that could use a second connection is computed on one when the
/// server is busy, instead of holding one while waiting for another).
pub async fn spare(pool: &DbPool) -> Option<PooledConn> {
    let timeouts = deadpool::managed::Timeouts {
        wait: Some(Duration::ZERO),
        create: Some(CONNECT_TIMEOUT),
        recycle: None,
    };
    pool.timeout_get(&timeouts).await.ok()
}

/// Applies every pending migration of `source` in one transaction, under an
/// advisory lock: either all of them are applied or none is. Returns the
/// versions applied.
pub async fn migrate<S>(url: &str, source: S) -> Result<Vec<String>, MigrationError>
where
    S: MigrationSource<Pg> + Send + 'static,
{
    let url = url.to_owned();
    // Diesel's migration harness is synchronous; the wrapper drives the async
    // connection from a blocking thread.
    tokio::task::spawn_blocking(move || migrations::run_pending(&url, source))
        .await
        .map_err(|e| MigrationError(e.to_string()))?
}

/// The versions this binary carries.
pub fn embedded_versions() -> BTreeSet<String> {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map(|all| all.iter().map(|m| m.name().version().to_string()).collect())
        .unwrap_or_default()
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// The versions applied to the database.
pub async fn applied_versions(conn: &mut AsyncPgConnection) -> QueryResult<BTreeSet<String>> {
    let rows: Vec<AppliedVersion> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// Creates `dbname` unless it exists. `admin` must be connected to another
/// database of the same server.
pub async fn create_database_if_missing(
    admin: &mut AsyncPgConnection,
    dbname: &str,
) -> QueryResult<bool> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let exists: bool = diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM pg_database WHERE datname = ")
            .bind::<Text, _>(dbname)
            .sql(")"),
    )
    .get_result(admin)
    .await?;
    if exists {
        return Ok(false);
    }
    diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(dbname)))
        .execute(admin)
        .await?;
    Ok(true)
}

/// `url` with its database replaced by `db` (URL or key/value form).
pub fn with_dbname(url: &str, db: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (main, query) = rest
            .split_once('?')
            .map_or((rest, String::new()), |(m, q)| (m, format!("?{q}")));
        let authority = main.split('/').next().unwrap_or(main);
        return format!("{scheme}://{authority}/{db}{query}");
    }
    let mut parts: Vec<String> = url
        .split_whitespace()
        .filter(|p| !p.starts_with("dbname="))
        .map(str::to_owned)
        .collect();
    parts.push(format!("dbname={db}"));
    parts.join(" ")
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The URL or connection string with any password replaced, for messages
/// and logs.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            return format!("{scheme}://{user}{masked}@{host}");
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|pair| match pair.split_once('=') {
            Some(("password", _)) => "password=***".to_owned(),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_both_url_forms() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/casebook"),
            "postgres://app:***@db.example:5432/casebook"
        );
        assert_eq!(
            redact_url("postgres://app@db/casebook"),
            "postgres://app@db/casebook"
        );
        assert_eq!(
            redact_url("host=/tmp user=app password=s3cret dbname=x"),
            "host=/tmp user=app password=*** dbname=x"
        );
    }

    #[test]
    fn replaces_the_database_in_both_url_forms() {
        assert_eq!(
            with_dbname("postgres://u@h:5432/a?sslmode=disable", "b"),
            "postgres://u@h:5432/b?sslmode=disable"
        );
        assert_eq!(with_dbname("postgres://u@h", "b"), "postgres://u@h/b");
        assert_eq!(
            with_dbname("host=/run user=u dbname=a", "b"),
            "host=/run user=u dbname=b"
        );
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
