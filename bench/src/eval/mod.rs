//! `casebook eval-triage`: triage quality on dev sets, next to baselines run
//! on the same data in the same run.
//!
//! Each set is a directory with `models.jsonl` (and, when present,
//! `distractors.jsonl`, loaded with them), `queries.jsonl` (the full
//! variant) and `queries_hard.jsonl` (the hard one). Per set, the models go
//! into a fresh database and the real indexer; then every variant's queries
//! run through:
//! - `casebook`: [`triage::suggest_models`], as on the ticket page; also how
//!   often the gold model is among the first-stage candidates;
//! - `bm25`: plain BM25 over the concatenated model text, computed here with
//!   Casebook's analyzer and query terms but no field weights;
//! - `pg-ts_rank_cd`, `pg-ts_rank`: PostgreSQL full-text search over the
//!   weighted tsvector (see [`casebook::commands::search::fts_table_sql`]);
//! - with `--links`, `casebook+links`: learning from links, leave-one-out
//!   (see [`links`]).

mod links;
mod matchers;
mod scores;

pub use scores::{Scores, table, tune};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;

use casebook::commands::search::{fts_index_sql, fts_table_sql};
use casebook::config::Config;
use casebook::db::models::{self, Save};
use casebook::db::{self, quote_ident};
use casebook::domain::model::{ModelText, Status};
use casebook::search::matcher::{self, Tuning};
use casebook::search::{SearchError, SearchIndex, indexer, triage};
use casebook::server::{Database, StartupError, ensure_writable};

fn command_error(e: impl std::fmt::Display) -> StartupError {
    StartupError::Command(e.to_string())
}

/// One dev set: a name and its directory.
#[derive(Clone, Debug)]
pub struct EvalSet {
    pub name: String,
    pub dir: PathBuf,
}

impl std::str::FromStr for EvalSet {
    type Err = String;

    /// `NAME=DIR`, or a bare `DIR` named after its last component.
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, dir) = match s.split_once('=') {
            Some((name, dir)) => (name.to_owned(), PathBuf::from(dir)),
            None => {
                let dir = PathBuf::from(s);
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| s.to_owned());
                (name, dir)
            }
        };
        if name.is_empty() || dir.as_os_str().is_empty() {
            return Err(format!("expected NAME=DIR, got {s:?}"));
        }
        Ok(EvalSet { name, dir })
    }
}

/// How the sets are read and matched.
#[derive(Clone, Debug, Default)]
pub struct EvalOptions {
    /// Leave `distractors.jsonl` out.
    pub no_distractors: bool,
    /// Replace every model title by its words (`CephOSDDown` → `Ceph OSD
    /// Down`): most dev-set titles are alert names, real teams title models
    /// in words, and field weights must hold up for both.
    pub worded_titles: bool,
    /// Query-time changes to the default tuning (`name=value`), to compare
    /// variants on the same code; see [`tune`].
    pub tune: Vec<String>,
    /// Print to stderr every query whose gold is not among the candidates
    /// or not first.
    pub show_misses: bool,
    /// Also measure learning from links, leave-one-out (see [`links`]).
    pub links: bool,
}

/// One line of the result: a matcher on one variant of one set.
#[derive(Clone, Debug)]
pub struct EvalLine {
    pub set: String,
    pub variant: String,
    pub matcher: String,
    pub models: usize,
    pub scores: Scores,
    /// Share of queries whose gold is among the first-stage candidates.
    pub candidate_recall: Option<f64>,
}

/// One run-book of a dev set.
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

/// A title in words: every identifier replaced by its parts.
fn worded(title: &str) -> String {
    title
        .split_whitespace()
        .map(|word| {
            word.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .flat_map(matcher::identifier_parts)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One set, read: its models and its query variants.
struct LoadedSet {
    name: String,
    rows: Vec<ModelRow>,
    variants: Vec<(&'static str, Vec<QueryRow>)>,
}

fn load_set(set: &EvalSet, options: &EvalOptions) -> Result<LoadedSet, StartupError> {
    let mut rows: Vec<ModelRow> = read_jsonl(&set.dir.join("models.jsonl"))?;
    let distractors = set.dir.join("distractors.jsonl");
    if !options.no_distractors && distractors.exists() {
        rows.extend(read_jsonl::<ModelRow>(&distractors)?);
    }
    if options.worded_titles {
        for row in &mut rows {
            row.title = worded(&row.title);
        }
    }
    let mut variants = Vec::new();
    for (variant, file) in [("full", "queries.jsonl"), ("hard", "queries_hard.jsonl")] {
        let path = set.dir.join(file);
        if variant == "full" || path.exists() {
            variants.push((variant, read_jsonl(&path)?));
        }
    }
    let mut slugs: BTreeMap<String, String> = BTreeMap::new();
    for row in &rows {
        if slugs.insert(slug(&row.key), row.key.clone()).is_some() {
            return Err(command_error(format!(
                "set {}: two models share the key {:?}",
                set.name, row.key
            )));
        }
    }
    Ok(LoadedSet {
        name: set.name.clone(),
        rows,
        variants,
    })
}

/// Runs every set (see the module comment) and returns one line per set,
/// variant and matcher.
pub async fn eval_triage(
    config: &Config,
    sets: &[EvalSet],
    options: &EvalOptions,
) -> Result<Vec<EvalLine>, StartupError> {
    let mut tuning = Tuning::default();
    for setting in &options.tune {
        tune(&mut tuning, setting).map_err(command_error)?;
    }
    let loaded = sets
        .iter()
        .map(|s| load_set(s, options))
        .collect::<Result<Vec<_>, _>>()?;
    ensure_writable(&config.data_dir)?;
    let database = Database::open(config, true).await?;
    let mut lines = Vec::new();
    let mut result = Ok(());
    for set in &loaded {
        match eval_set(&database.url, set, &tuning, options).await {
            Ok(more) => lines.extend(more),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    database.close()?;
    result.map(|()| lines)
}

/// One set in its own scratch database, dropped at the end.
async fn eval_set(
    url: &str,
    set: &LoadedSet,
    tuning: &Tuning,
    options: &EvalOptions,
) -> Result<Vec<EvalLine>, StartupError> {
    let show_misses = options.show_misses;
    let eval_db = format!("casebook_eval_{}", std::process::id());
    let admin_url = db::with_dbname(url, "postgres");
    let mut admin = db::connect(&admin_url).await?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {}", quote_ident(&eval_db)))
        .execute(&mut admin)
        .await?;
    diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&eval_db)))
        .execute(&mut admin)
        .await?;
    let url = db::with_dbname(url, &eval_db);
    let outcome = async {
        db::migrate(&url, db::MIGRATIONS).await?;
        let mut conn = db::connect(&url).await?;
        load_models(&mut conn, &set.rows).await?;
        let index = SearchIndex::in_memory().map_err(command_error)?;
        let mut writer = indexer::writer(&index).map_err(command_error)?;
        // A rebuild reads the tables themselves: the outbox would wait for
        // the horizon, which any transaction held open on a shared server
        // holds back, and an index left short would score zero.
        let (indexed, _) = indexer::rebuild(
            &index,
            &mut writer,
            &mut conn,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .map_err(command_error)?;
        index.reader.reload().map_err(command_error)?;
        if indexed != set.rows.len() {
            return Err(command_error(format!(
                "set {}: {indexed} of {} models indexed",
                set.name,
                set.rows.len()
            )));
        }
        let bm25 = matchers::Bm25::build(&set.rows).map_err(command_error)?;
        diesel::sql_query(fts_table_sql("eval_fts"))
            .execute(&mut conn)
            .await?;
        diesel::sql_query(fts_index_sql("eval_fts"))
            .execute(&mut conn)
            .await?;
        let mut lines = Vec::new();
        for (variant, queries) in &set.variants {
            let line = |matcher: &str, scores, candidate_recall| EvalLine {
                set: set.name.clone(),
                variant: (*variant).to_owned(),
                matcher: matcher.to_owned(),
                models: set.rows.len(),
                scores,
                candidate_recall,
            };
            let mut asked = Vec::with_capacity(queries.len());
            for q in queries {
                let one = ask(&index, q, tuning).map_err(command_error)?;
                if show_misses && one.rank != Some(1) {
                    let Asked {
                        rank,
                        picked,
                        first,
                    } = &one;
                    let first = first.as_deref().unwrap_or("-");
                    eprintln!(
                        "{} {variant} rank {rank:?} candidate {picked} gold {} first {first}: {:?}",
                        set.name,
                        slug(&q.gold),
                        q.text
                    );
                }
                asked.push(one);
            }
            let (scores, recall) = triage_scores(&asked);
            lines.push(line("casebook", scores, Some(recall)));
            if options.links {
                let asked = links::loo_asked(&set.rows, queries, tuning).map_err(command_error)?;
                let (scores, recall) = triage_scores(&asked);
                lines.push(line("casebook+links", scores, Some(recall)));
            }
            let ranks = queries
                .iter()
                .map(|q| {
                    let gold = slug(&q.gold);
                    let found = bm25.top(&q.text, 10)?;
                    Ok(found.iter().position(|k| *k == gold).map(|p| p + 1))
                })
                .collect::<tantivy::Result<Vec<_>>>()
                .map_err(command_error)?;
            lines.push(line("bm25", Scores::of(&ranks), None));
            for (name, rank) in [
                ("pg-ts_rank_cd", "ts_rank_cd(tsv, q)"),
                ("pg-ts_rank", "ts_rank(tsv, q, 1)"),
            ] {
                let ranks = matchers::postgres_ranks(&mut conn, queries, rank).await?;
                lines.push(line(name, Scores::of(&ranks), None));
            }
        }
        Ok::<_, StartupError>(lines)
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

/// One query asked of the ticket page's triage: its gold model's rank
/// among the suggestions, whether the candidate stage kept the gold model,
/// and the first suggestion.
struct Asked {
    rank: Option<usize>,
    picked: bool,
    first: Option<String>,
}

fn ask(index: &SearchIndex, q: &QueryRow, tuning: &Tuning) -> Result<Asked, SearchError> {
    let gold = slug(&q.gold);
    let found = triage::suggest_models_with(index, &q.text, 10, tuning)?;
    let candidates = triage::candidate_models(index, &q.text, 10, tuning)?;
    Ok(Asked {
        rank: found.iter().position(|s| s.key == gold).map(|p| p + 1),
        picked: candidates.contains(&gold),
        // (`RunQueryDsl::first` would shadow the slice's.)
        first: <[_]>::first(&found).map(|s| s.key.clone()),
    })
}

/// The triage's scores over the queries `asked`, and the candidate stage's
/// recall.
fn triage_scores(asked: &[Asked]) -> (Scores, f64) {
    let ranks: Vec<_> = asked.iter().map(|a| a.rank).collect();
    let recalled = asked.iter().filter(|a| a.picked).count();
    (
        Scores::of(&ranks),
        recalled as f64 / asked.len().max(1) as f64,
    )
}

async fn load_models(conn: &mut AsyncPgConnection, rows: &[ModelRow]) -> Result<(), StartupError> {
    conn.transaction(async move |conn| {
        for row in rows {
            let model = ModelText {
                title: row.title.trim().chars().take(200).collect(),
                key: slug(&row.key),
                category: String::new(),
                tags: Vec::new(),
                alerts: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_set_keys_become_model_keys() {
        assert_eq!(
            slug("odf:CephClusterNearFull"),
            "odf-ceph-cluster-near-full"
        );
        assert!(casebook::domain::model::validate_key(&slug("odf:CephOSDDown")).is_ok());
        assert!(casebook::domain::model::validate_key(&slug("x".repeat(200).as_str())).is_ok());
    }

    #[test]
    fn sets_and_titles() {
        let set: EvalSet = "cnv=/data/x".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (set.name.as_str(), set.dir.as_path()),
            ("cnv", Path::new("/data/x"))
        );
        let set: EvalSet = "/data/triage-dev".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(set.name, "triage-dev");
        assert!("=x".parse::<EvalSet>().is_err());
        assert_eq!(
            worded("CephOSDDown [Deprecated]"),
            "Ceph OSD Down Deprecated"
        );
        assert_eq!(worded("Disk full on a host"), "Disk full on a host");
        let mut tuning = Tuning::default();
        assert!(tune(&mut tuning, "title=1.5").is_ok());
        assert_eq!(tuning.boosts.title, 1.5);
        assert!(tune(&mut tuning, "nothing=1").is_err());
    }
}
