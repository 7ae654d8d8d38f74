//! The benchmarks' own database, on the bench's PostgreSQL (the embedded
//! cluster in the data directory, or `DATABASE_URL`'s server): created
//! fresh (or reused as a run with `--keep` left it), dropped afterwards
//! unless kept, and Ctrl-C ends the run without leaving it behind.

use diesel_async::RunQueryDsl;

use super::command_error;
use casebook::config::Config;
use casebook::db::{self, quote_ident};
use casebook::server::{Database, StartupError, ensure_writable};

/// Which database a benchmark runs in, and what becomes of it.
pub struct Scratch<'a> {
    pub name: &'a str,
    /// Drop and create it before the run; otherwise use it as it is.
    pub fresh: bool,
    /// Leave it for a later run (`--keep`).
    pub keep: bool,
}

/// Runs `run` with the URL of the scratch database.
pub async fn with_database<T>(
    config: &Config,
    scratch: Scratch<'_>,
    run: impl AsyncFnOnce(&str) -> Result<T, StartupError>,
) -> Result<T, StartupError> {
    ensure_writable(&config.data_dir)?;
    let database = Database::open(config, true).await?;
    let result = async {
        let mut admin = db::connect(&db::with_dbname(&database.url, "postgres")).await?;
        let name = quote_ident(scratch.name);
        if scratch.fresh {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await?;
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await?;
        }
        let url = db::with_dbname(&database.url, scratch.name);
        let outcome = tokio::select! {
            r = run(&url) => r,
            _ = tokio::signal::ctrl_c() => Err(command_error("interrupted")),
        };
        if scratch.keep {
            eprintln!("casebook: kept the database {name} (--keep)");
        } else if let Err(e) =
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
        {
            eprintln!(
                "casebook: warning: could not drop the bench database {name}: {e}; drop it by hand"
            );
        }
        outcome
    }
    .await;
    database.close()?;
    result
}
