//! `casebook import DIR`, `casebook export DIR`, `casebook demo`, and
//! `casebook generate-models DIR` (for the import benchmark).

use std::fmt;
use std::path::{Path, PathBuf};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use indicatif::{ProgressBar, ProgressStyle};

use crate::db::models::{self, Save, SaveError};
use crate::domain::model::{self as text, ModelText};
use crate::server::StartupError;

/// The demo data set: run-books written for Casebook, compiled in.
pub const DEMO_MODELS: &[(&str, &str)] = &[
    (
        "backup-job-failed",
        include_str!("../demo/models/backup-job-failed.md"),
    ),
    (
        "crashloop-backoff",
        include_str!("../demo/models/crashloop-backoff.md"),
    ),
    (
        "db-connection-exhaustion",
        include_str!("../demo/models/db-connection-exhaustion.md"),
    ),
    (
        "db-disk-full",
        include_str!("../demo/models/db-disk-full.md"),
    ),
    (
        "db-replication-lag",
        include_str!("../demo/models/db-replication-lag.md"),
    ),
    (
        "deploy-rollback",
        include_str!("../demo/models/deploy-rollback.md"),
    ),
    (
        "dns-resolution-failure",
        include_str!("../demo/models/dns-resolution-failure.md"),
    ),
    (
        "high-cpu-load",
        include_str!("../demo/models/high-cpu-load.md"),
    ),
    (
        "high-memory-oom-kills",
        include_str!("../demo/models/high-memory-oom-kills.md"),
    ),
    (
        "log-volume-full",
        include_str!("../demo/models/log-volume-full.md"),
    ),
    (
        "login-failures",
        include_str!("../demo/models/login-failures.md"),
    ),
    (
        "message-queue-backlog",
        include_str!("../demo/models/message-queue-backlog.md"),
    ),
    (
        "node-not-ready",
        include_str!("../demo/models/node-not-ready.md"),
    ),
    (
        "ntp-clock-skew",
        include_str!("../demo/models/ntp-clock-skew.md"),
    ),
    (
        "rate-limit-exceeded",
        include_str!("../demo/models/rate-limit-exceeded.md"),
    ),
    (
        "service-down-triage",
        include_str!("../demo/models/service-down-triage.md"),
    ),
    (
        "tls-certificate-expiry",
        include_str!("../demo/models/tls-certificate-expiry.md"),
    ),
    (
        "tls-handshake-failures",
        include_str!("../demo/models/tls-handshake-failures.md"),
    ),
    (
        "wal-archiving-stuck",
        include_str!("../demo/models/wal-archiving-stuck.md"),
    ),
    ("website-502", include_str!("../demo/models/website-502.md")),
];

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged",
            self.created, self.updated, self.unchanged
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("nothing was imported:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing was imported: {file}: {error}")]
    Save { file: String, error: SaveError },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

impl From<ImportError> for StartupError {
    fn from(e: ImportError) -> Self {
        StartupError::Command(e.to_string())
    }
}

/// One file to import: its name (for messages) and its text.
pub struct Source {
    pub name: String,
    pub text: String,
}

/// The `*.md` files directly in `dir`, by name.
pub fn read_dir(dir: &Path) -> Result<Vec<Source>, ImportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Io { path, source }
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            Ok(Source {
                name: path.display().to_string(),
                text,
            })
        })
        .collect()
}

/// Parses every source first (reporting every bad file, naming the file and
/// line), then writes all of them in one transaction: a model is created,
/// gets a new revision when its text changed, or is left alone. Links are
/// checked once the whole batch is in, so files may link to each other.
pub async fn import_sources(
    conn: &mut AsyncPgConnection,
    sources: &[Source],
    progress: &ProgressBar,
) -> Result<Report, ImportError> {
    let mut errors = Vec::new();
    let mut parsed: Vec<(&str, ModelText)> = Vec::new();
    for source in sources {
        match text::parse(&source.text) {
            Ok(model) => {
                if let Some((other, _)) = parsed.iter().find(|(_, m)| m.key == model.key) {
                    errors.push(format!(
                        "{}: the key {:?} is also used by {other}",
                        source.name, model.key
                    ));
                }
                parsed.push((&source.name, model));
            }
            Err(e) => errors.push(format!("{}: {e}", source.name)),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    progress.set_length(parsed.len() as u64 * 2);
    conn.transaction(async move |conn| {
        let mut report = Report::default();
        let mut changed = Vec::new();
        for (name, model) in &parsed {
            let summary = format!("Imported from {}", file_name(name));
            let save = Save {
                author: None,
                summary: &summary,
            };
            let saving = |error| ImportError::Save {
                file: (*name).to_owned(),
                error,
            };
            match models::find_by_key(conn, &model.key).await? {
                None => {
                    let saved = models::insert(conn, model, &save).await.map_err(saving)?;
                    report.created += 1;
                    changed.push((name, saved.id, model));
                }
                Some(current) => {
                    let body = models::revision(conn, current.id, current.revision)
                        .await?
                        .map(|r| r.body);
                    if body.as_deref() == Some(text::render(model).as_str()) {
                        report.unchanged += 1;
                    } else {
                        models::update(conn, &current, current.revision, model, &save)
                            .await
                            .map_err(saving)?;
                        report.updated += 1;
                        changed.push((name, current.id, model));
                    }
                }
            }
            progress.inc(1);
        }
        for (name, id, model) in changed {
            models::replace_links(conn, id, &text::links(model))
                .await
                .map_err(|error| ImportError::Save {
                    file: (*name).to_owned(),
                    error,
                })?;
            progress.inc(1);
        }
        progress.finish_and_clear();
        Ok(report)
    })
    .await
}

fn file_name(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

fn progress_bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} ({eta})") {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// `casebook import DIR`.
pub async fn import_dir(conn: &mut AsyncPgConnection, dir: &Path) -> Result<Report, ImportError> {
    let sources = read_dir(dir)?;
    import_sources(conn, &sources, &progress_bar("importing")).await
}

/// `casebook demo`: the demo models, imported like any other files.
pub async fn demo(conn: &mut AsyncPgConnection) -> Result<Report, ImportError> {
    let sources: Vec<Source> = DEMO_MODELS
        .iter()
        .map(|(key, text)| Source {
            name: format!("{key}.md"),
            text: (*text).to_owned(),
        })
        .collect();
    import_sources(conn, &sources, &ProgressBar::hidden()).await
}

/// `casebook export DIR`: one canonical file per model, named by its key.
pub async fn export(conn: &mut AsyncPgConnection, dir: &Path) -> Result<usize, ImportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let texts = models::current_texts(conn).await?;
    let bar = progress_bar("exporting");
    bar.set_length(texts.len() as u64);
    for (key, body) in &texts {
        let path = dir.join(format!("{key}.md"));
        std::fs::write(&path, body).map_err(io(&path))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(texts.len())
}

/// `casebook generate-models DIR --count N`: canonical model files made by
/// varying the demo models with a seeded generator, for benchmarks.
pub fn generate(dir: &Path, count: usize, seed: u64) -> Result<(), ImportError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ImportError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let bases: Vec<ModelText> = DEMO_MODELS
        .iter()
        .filter_map(|(_, t)| text::parse(t).ok())
        .collect();
    if bases.is_empty() {
        return Ok(());
    }
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64*: reproducible, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    const WORDS: &[&str] = &[
        "primary", "replica", "edge", "batch", "ingest", "billing", "search", "auth", "cache",
        "queue", "gateway", "storage", "metrics", "mail", "payments", "export",
    ];
    let mut keys: Vec<String> = Vec::with_capacity(count);
    for n in 0..count {
        let base = &bases[(next() % bases.len() as u64) as usize];
        let word = WORDS[(next() % WORDS.len() as u64) as usize];
        let mut model = base.clone();
        model.key = format!("gen-{n:06}-{word}");
        model.title = format!("{} ({word} #{n})", base.title);
        model.statement = format!("{} Seen on the {word} service.", base.statement);
        // Generated models link only to earlier generated ones, never to a
        // key that is not in the set.
        model.steps = model.steps.iter().map(|s| strip_links(s)).collect();
        model.discussion = strip_links(&model.discussion);
        if !keys.is_empty() {
            let target = &keys[(next() % keys.len() as u64) as usize];
            model
                .steps
                .push(format!("If this does not help, see [[{target}]]."));
        }
        let path = dir.join(format!("{}.md", model.key));
        std::fs::write(&path, text::render(&model)).map_err(io(&path))?;
        keys.push(model.key);
    }
    Ok(())
}

/// `[[key]]` → `key`.
pub fn strip_links(markdown: &str) -> String {
    markdown.replace("[[", "").replace("]]", "")
}
