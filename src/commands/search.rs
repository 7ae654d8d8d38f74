//! `casebook reindex` and `casebook eval-triage`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;

use crate::config::Config;
use crate::db::models::{self, Save};
use crate::db::{self, quote_ident};
use crate::domain::model::{ModelText, Status};
use crate::search::{SearchIndex, indexer, triage};
use crate::server::{Database, StartupError, ensure_writable};

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

/// One run-book of the dev set.
#[derive(Deserialize)]
struct ModelRow {
    key: String,
    title: String,
    #[serde(default)]
    statement: String,
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    discussion: String,
}

#[derive(Deserialize)]
struct QueryRow {
    text: String,
    gold: String,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| command_error(format!("cannot read {}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map_err(|e| command_error(format!("{}: line {}: {e}", path.display(), n + 1)))
        })
        .collect()
}

/// The dev set's keys may hold characters a model key may not (`odf:Ceph…`);
/// a stable slug stands in, mapped back for scoring.
fn slug(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-')
        .chars()
        .take(80)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Scores {
    pub n: usize,
    pub top1: f64,
    pub top3: f64,
    pub mrr: f64,
}

impl Scores {
    fn of(ranks: &[Option<usize>]) -> Self {
        let n = ranks.len().max(1) as f64;
        Scores {
            n: ranks.len(),
            top1: ranks.iter().filter(|r| **r == Some(1)).count() as f64 / n,
            top3: ranks.iter().filter(|r| r.is_some_and(|r| r <= 3)).count() as f64 / n,
            mrr: ranks
                .iter()
                .map(|r| r.filter(|r| *r <= 10).map_or(0.0, |r| 1.0 / r as f64))
                .sum::<f64>()
                / n,
        }
    }

    pub fn line(&self, name: &str) -> String {
        format!(
            "{name}: n={} top-1={:.3} top-3={:.3} mrr={:.3}",
            self.n, self.top1, self.top3, self.mrr
        )
    }
}

/// `casebook eval-triage`: loads the run-books into a fresh database,
/// indexes them with the real indexer, runs every query through the same
/// matcher as the ticket page, and scores the ranking.
pub async fn eval_triage(
    config: &Config,
    model_files: &[PathBuf],
    query_file: &Path,
    baselines: &[String],
) -> Result<Vec<(String, Scores)>, StartupError> {
    for b in baselines {
        if b != "postgres" {
            return Err(command_error(format!(
                "unknown baseline {b:?}; the one baseline is `postgres`"
            )));
        }
    }
    let mut rows: Vec<ModelRow> = Vec::new();
    for file in model_files {
        rows.extend(read_jsonl::<ModelRow>(file)?);
    }
    let queries: Vec<QueryRow> = read_jsonl(query_file)?;
    let mut slugs: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        let s = slug(&row.key);
        if slugs.insert(s.clone(), row.key.clone()).is_some() {
            return Err(command_error(format!(
                "two models share the key {:?}",
                row.key
            )));
        }
    }
    crate::server::existing_installation(config)?;
    ensure_writable(&config.data_dir)?;
    let database = Database::open(config, true).await?;
    let eval_db = format!("casebook_eval_{}", std::process::id());
    let result = async {
        let admin_url = db::with_dbname(&database.url, "postgres");
        let mut admin = db::connect(&admin_url).await?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(&eval_db)))
            .execute(&mut admin)
            .await?;
        diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&eval_db)))
            .execute(&mut admin)
            .await?;
        let url = db::with_dbname(&database.url, &eval_db);
        let outcome = async {
            db::migrate(&url, db::MIGRATIONS).await?;
            let mut conn = db::connect(&url).await?;
            load_models(&mut conn, &rows).await?;
            let index = SearchIndex::in_memory().map_err(command_error)?;
            let mut writer = indexer::writer(&index).map_err(command_error)?;
            indexer::catch_up(&index, &mut writer, &mut conn)
                .await
                .map_err(command_error)?;
            let mut results = Vec::new();
            let mut ranks = Vec::new();
            for q in &queries {
                let found = triage::suggest_models(&index, &q.text, 10).map_err(command_error)?;
                let gold = slug(&q.gold);
                ranks.push(found.iter().position(|s| s.key == gold).map(|p| p + 1));
            }
            results.push(("casebook".to_owned(), Scores::of(&ranks)));
            if !baselines.is_empty() {
                results.extend(postgres_baseline(&mut conn, &queries).await?);
            }
            Ok::<_, StartupError>(results)
        }
        .await;
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&eval_db)
        ))
        .execute(&mut admin)
        .await;
        outcome
    }
    .await;
    database.close()?;
    result
}

async fn load_models(conn: &mut AsyncPgConnection, rows: &[ModelRow]) -> Result<(), StartupError> {
    conn.transaction(async move |conn| {
        for row in rows {
            let model = ModelText {
                title: row.title.trim().chars().take(200).collect(),
                key: slug(&row.key),
                category: String::new(),
                tags: Vec::new(),
                status: Status::Published,
                public: false,
                statement: row.statement.trim().to_owned(),
                steps: if row.steps.is_empty() {
                    vec!["(none)".to_owned()]
                } else {
                    row.steps.clone()
                },
                discussion: row.discussion.trim().to_owned(),
            };
            models::insert(
                conn,
                &model,
                &Save {
                    author: None,
                    summary: "eval-triage",
                },
            )
            .await
            .map_err(command_error)?;
        }
        Ok::<_, StartupError>(())
    })
    .await
}

/// The PostgreSQL full-text baseline's table (also `bench-search`'s): every
/// model's current revision as one weighted tsvector, title A, statement B,
/// steps C, discussion D.
pub(crate) fn fts_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} AS SELECT m.key, m.status, \
           setweight(to_tsvector('english', r.title), 'A') || \
           setweight(to_tsvector('english', r.statement), 'B') || \
           setweight(to_tsvector('english', array_to_string(r.steps, ' ')), 'C') || \
           setweight(to_tsvector('english', r.discussion), 'D') AS tsv \
         FROM incident_models m JOIN model_revisions r ON r.model_id = m.id AND r.number = m.revision"
    )
}

pub(crate) fn fts_index_sql(table: &str) -> String {
    format!("CREATE INDEX {table}_idx ON {table} USING GIN (tsv)")
}

/// The baseline query of `$1`: its lexemes OR-ed (an AND of a whole alert
/// text matches nothing), retired models left out as the triage matcher
/// does, the best `limit` by `rank`.
pub(crate) fn fts_query_sql(table: &str, rank: &str, limit: usize) -> String {
    format!(
        "WITH q AS (SELECT replace(plainto_tsquery('english', $1)::text, '&', '|')::tsquery AS q) \
         SELECT key FROM {table}, q WHERE tsv @@ q AND status <> 'retired' \
         ORDER BY {rank} DESC, key LIMIT {limit}"
    )
}

#[derive(diesel::QueryableByName)]
struct Ranked {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
}

/// PostgreSQL full-text search on the same data: a GIN index over the
/// weighted text (title A, statement B, steps C, discussion D), the query's
/// lexemes OR-ed (an AND of a whole alert text matches nothing), ranked by
/// `ts_rank_cd` as the issue asks, and by `ts_rank` (which does better here).
async fn postgres_baseline(
    conn: &mut AsyncPgConnection,
    queries: &[QueryRow],
) -> Result<Vec<(String, Scores)>, StartupError> {
    diesel::sql_query(fts_table_sql("eval_fts"))
        .execute(conn)
        .await?;
    diesel::sql_query(fts_index_sql("eval_fts"))
        .execute(conn)
        .await?;
    let mut out = Vec::new();
    for (name, rank) in [
        ("postgres", "ts_rank_cd(tsv, q)"),
        ("postgres-ts_rank", "ts_rank(tsv, q, 1)"),
    ] {
        let mut ranks = Vec::new();
        let sql = fts_query_sql("eval_fts", rank, 10);
        for q in queries {
            let found: Vec<Ranked> = diesel::sql_query(&sql)
                .bind::<diesel::sql_types::Text, _>(&q.text)
                .load(conn)
                .await?;
            let gold = slug(&q.gold);
            ranks.push(found.iter().position(|r| r.key == gold).map(|p| p + 1));
        }
        out.push((name.to_owned(), Scores::of(&ranks)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_set_keys_become_model_keys() {
        assert_eq!(
            slug("odf:CephClusterNearFull"),
            "odf-ceph-cluster-near-full"
        );
        assert!(crate::domain::model::validate_key(&slug("odf:CephOSDDown")).is_ok());
        assert!(crate::domain::model::validate_key(&slug("x".repeat(200).as_str())).is_ok());
    }

    #[test]
    fn scores_count_ranks() {
        let s = Scores::of(&[Some(1), Some(2), None, Some(11)]);
        assert_eq!(s.n, 4);
        assert!((s.top1 - 0.25).abs() < 1e-9);
        assert!((s.top3 - 0.5).abs() < 1e-9);
        assert!((s.mrr - (1.0 + 0.5) / 4.0).abs() < 1e-9);
    }
}
