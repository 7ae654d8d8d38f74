//! One-off commands that change data: `user add`, `import`, `export`,
//! `demo`. The measuring ones (`bench-search`, `bench-loop`,
//! `eval-triage`, `generate-models`) live in the `casebook-bench` workspace
//! member (`bench/`), outside the product binary.

pub mod history;
pub mod models;
pub mod search;
pub mod tokens;
pub mod users;

use diesel_async::AsyncPgConnection;

use crate::config::Config;
use crate::db;
use crate::server::{Database, StartupError, ensure_writable};

pub use models::{Report, demo, export, import_dir};
pub use tokens::create_token;
pub use users::{Added, NewAccount, add_user};

/// Opens the database of an existing installation for a one-off command
/// (sharing the server of a running `serve`; never creating one), migrates
/// it, and runs `work` on one connection.
pub async fn with_database<T>(
    config: &Config,
    work: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<T, StartupError>,
) -> Result<T, StartupError> {
    crate::server::existing_installation(config)?;
    ensure_writable(&config.data_dir)?;
    let database = Database::open(config, true).await?;
    let result = async {
        db::migrate(&database.url, db::MIGRATIONS).await?;
        let mut conn = db::connect(&database.url).await?;
        work(&mut conn).await
    }
    .await;
    database.close()?;
    result
}
