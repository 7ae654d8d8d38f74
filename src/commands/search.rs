//! `casebook reindex`, and the PostgreSQL full-text baseline that
//! `eval-triage` and `bench-search` compare with.

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;
use crate::search::{SearchIndex, indexer};
use crate::server::StartupError;

fn command_error(e: impl std::fmt::Display) -> StartupError {
    StartupError::Command(e.to_string())
}

/// Rebuilds this data directory's index from PostgreSQL.
pub async fn reindex(config: &Config) -> Result<(usize, usize), StartupError> {
    let dir = config.data_dir.join("index");
    super::with_database(config, async move |conn| {
        let index = SearchIndex::open(&dir).map_err(command_error)?;
        let mut writer = indexer::writer(&index).map_err(|e| {
            command_error(format!(
                "{e} (is `casebook serve` running on this data directory? stop it first)"
            ))
        })?;
        let bar = ProgressBar::new(0);
        if let Ok(style) =
            ProgressStyle::with_template("reindexing {bar:40} {pos} documents ({per_sec})")
        {
            bar.set_style(style);
        }
        let done = indexer::rebuild(&index, &mut writer, conn, &bar)
            .await
            .map_err(command_error)?;
        indexer::catch_up(&index, &mut writer, conn)
            .await
            .map_err(command_error)?;
        bar.finish_and_clear();
        eprintln!("casebook: merging the index into one segment");
        writer.wait_merging_threads().map_err(command_error)?;
        Ok(done)
    })
    .await
}

/// The PostgreSQL full-text baseline's table (also `bench-search`'s): every
/// model's current revision as one weighted tsvector, title A, statement B,
/// steps C, discussion D.
pub fn fts_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} AS SELECT m.key, m.status, \
           setweight(to_tsvector('english', r.title), 'A') || \
           setweight(to_tsvector('english', r.statement), 'B') || \
           setweight(to_tsvector('english', array_to_string(r.steps, ' ')), 'C') || \
           setweight(to_tsvector('english', r.discussion), 'D') AS tsv \
         FROM incident_models m JOIN model_revisions r ON r.model_id = m.id AND r.number = m.revision"
    )
}

pub fn fts_index_sql(table: &str) -> String {
    format!("CREATE INDEX {table}_idx ON {table} USING GIN (tsv)")
}

/// The baseline query of `$1`: its lexemes OR-ed (an AND of a whole alert
/// text matches nothing), retired models left out as the triage matcher
/// does, the best `limit` by `rank`.
pub fn fts_query_sql(table: &str, rank: &str, limit: usize) -> String {
    format!(
        "WITH q AS (SELECT replace(plainto_tsquery('english', $1)::text, '&', '|')::tsquery AS q) \
         SELECT key FROM {table}, q WHERE tsv @@ q AND status <> 'retired' \
         ORDER BY {rank} DESC, key LIMIT {limit}"
    )
}
