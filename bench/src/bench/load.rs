//! Bulk loading of the generated data with binary `COPY` (tokio-postgres):
//! one statement per table, rows streamed as they are generated. The
//! per-row save path (outbox, transitions, links) is skipped on purpose:
//! the index is built afterwards with `indexer::rebuild`.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

use super::data::{self, Base, ModelSpec};
use casebook::domain::model as text;
use casebook::server::StartupError;

fn failed(what: &str) -> impl Fn(tokio_postgres::Error) -> StartupError + '_ {
    move |e| {
        let mut reason = e.to_string();
        if let Some(db) = e.as_db_error() {
            reason = format!("{reason}: {}", db.message());
        }
        StartupError::Command(format!("{what}: {reason}"))
    }
}

pub async fn connect(url: &str) -> Result<Client, StartupError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(failed("cannot connect to the bench database"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("bench connection closed: {e}");
        }
    });
    Ok(client)
}

pub fn progress(what: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>9} {bar:40} {pos}/{len} ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// The people tickets need: the engineer the benchmark signs in as (also
/// the assignee and journal author), and one customer per organization.
pub struct People {
    pub engineer: i64,
    pub customers: Vec<(i64, i64)>,
}

/// What was loaded, and how long it took.
pub struct Loaded {
    pub models: usize,
    pub tickets: usize,
    pub entries: usize,
    /// Tickets linked to their model (resolved or helped partly).
    pub linked: usize,
    pub seconds: f64,
    pub vacuum_seconds: f64,
    /// Foreign-key triggers were skipped for the load (needs a superuser).
    pub fk_checks_skipped: bool,
}

/// Streams `rows` into `COPY table (columns) FROM STDIN (FORMAT binary)`.
/// `rows` is filled by a generator thread; each batch is one `Vec`.
async fn copy<R: Send + 'static>(
    client: &Client,
    table: &str,
    columns: &[(&str, Type)],
    mut rows: mpsc::Receiver<Vec<R>>,
    bar: &ProgressBar,
    mut write: impl AsyncFnMut(
        std::pin::Pin<&mut BinaryCopyInWriter>,
        &R,
    ) -> Result<(), tokio_postgres::Error>,
) -> Result<u64, StartupError> {
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let types: Vec<Type> = columns.iter().map(|(_, t)| t.clone()).collect();
    let sql = format!(
        "COPY {table} ({}) FROM STDIN (FORMAT binary)",
        names.join(", ")
    );
    let what = format!("loading {table}");
    let started = Instant::now();
    let sink = client.copy_in(&sql).await.map_err(failed(&what))?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    while let Some(batch) = rows.recv().await {
        for row in &batch {
            write(writer.as_mut(), row).await.map_err(failed(&what))?;
        }
        bar.inc(batch.len() as u64);
    }
    let rows = writer.as_mut().finish().await.map_err(failed(&what))?;
    bar.suspend(|| {
        eprintln!(
            "casebook: bench: {table}: {rows} rows in {:.1} s",
            started.elapsed().as_secs_f64()
        )
    });
    Ok(rows)
}

/// The values of one row, as `BinaryCopyInWriter::write` takes them.
macro_rules! row {
    ($($value:expr),* $(,)?) => {
        [$($value as &(dyn ToSql + Sync)),*]
    };
}

const BATCH: usize = 5_000;

/// Runs `generate(i)` for `i` in `range` on a blocking thread, in batches.
fn generator<R: Send + 'static>(
    range: std::ops::Range<usize>,
    generate: impl Fn(usize, &mut Vec<R>) + Send + 'static,
) -> mpsc::Receiver<Vec<R>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for i in range {
            generate(i, &mut batch);
            if batch.len() >= BATCH && tx.blocking_send(std::mem::take(&mut batch)).is_err() {
                return;
            }
        }
        let _ = tx.blocking_send(batch);
    });
    rx
}

/// Generates and loads `specs.len()` models (each with its revision 1),
/// `tickets` tickets with their journal entries, and links the first
/// `linked` tickets to the model each was written from (every fourth as
/// "helped partly", the rest "resolved"), builds their report facts, then
/// VACUUM ANALYZEs.
pub async fn load(
    client: &Client,
    seed: u64,
    specs: std::sync::Arc<Vec<ModelSpec>>,
    bases: std::sync::Arc<Vec<Base>>,
    tickets: usize,
    linked: usize,
    people: &People,
) -> Result<Loaded, StartupError> {
    let started = Instant::now();
    // Generated rows are consistent by construction; skipping the
    // per-row foreign-key triggers roughly halves the load time. Only a
    // superuser may, so this is best effort.
    let fk_checks_skipped = client
        .batch_execute("SET session_replication_role = replica")
        .await
        .is_ok();
    client
        .batch_execute("SET synchronous_commit = off")
        .await
        .map_err(failed("set-up"))?;

    let models = specs.len();
    let bar = progress("models", models as u64);
    let (s, b) = (specs.clone(), bases.clone());
    let rows = generator(1..models + 1, move |n, out| {
        out.push(data::model(seed, n, &s[n - 1], &b));
    });
    let model_columns = [
        ("id", Type::INT8),
        ("key", Type::TEXT),
        ("title", Type::TEXT),
        ("category", Type::TEXT),
        ("tags", Type::TEXT_ARRAY),
        ("status", Type::TEXT),
        ("public", Type::BOOL),
        ("revision", Type::INT4),
    ];
    let mut id = 0i64;
    copy(
        client,
        "incident_models",
        &model_columns,
        rows,
        &bar,
        async |w, m| {
            id += 1;
            let status = m.status.as_str();
            w.write(&row![
                &id,
                &m.key,
                &m.title,
                &m.category,
                &m.tags,
                &status,
                &m.public,
                &1i32,
            ])
            .await
        },
    )
    .await?;
    bar.finish_and_clear();

    let bar = progress("revisions", models as u64);
    let (s, b) = (specs.clone(), bases.clone());
    let rows = generator(1..models + 1, move |n, out| {
        let model = data::model(seed, n, &s[n - 1], &b);
        let body = text::render(&model);
        out.push((n as i64, model, body));
    });
    let revision_columns = [
        ("model_id", Type::INT8),
        ("number", Type::INT4),
        ("title", Type::TEXT),
        ("category", Type::TEXT),
        ("tags", Type::TEXT_ARRAY),
        ("status", Type::TEXT),
        ("public", Type::BOOL),
        ("statement", Type::TEXT),
        ("steps", Type::TEXT_ARRAY),
        ("discussion", Type::TEXT),
        ("body", Type::TEXT),
        ("summary", Type::TEXT),
    ];
    copy(
        client,
        "model_revisions",
        &revision_columns,
        rows,
        &bar,
        async |w, (id, m, body)| {
            let status = m.status.as_str();
            w.write(&row![
                id,
                &1i32,
                &m.title,
                &m.category,
                &m.tags,
                &status,
                &m.public,
                &m.statement,
                &m.steps,
                &m.discussion,
                body,
                &"bench-search",
            ])
            .await
        },
    )
    .await?;
    bar.finish_and_clear();

    let orgs = people.customers.len();
    let bar = progress("tickets", tickets as u64);
    let (s, b) = (specs.clone(), bases.clone());
    let rows = generator(1..tickets + 1, move |t, out| {
        out.push(data::ticket(seed, t as i64, &s, &b, orgs).0);
    });
    let ticket_columns = [
        ("id", Type::INT8),
        ("title", Type::TEXT),
        ("description", Type::TEXT),
        ("requester_id", Type::INT8),
        ("organization_id", Type::INT8),
        ("priority", Type::INT2),
        ("category", Type::TEXT),
        ("assignee_id", Type::INT8),
        ("status", Type::TEXT),
    ];
    copy(
        client,
        "tickets",
        &ticket_columns,
        rows,
        &bar,
        async |w, t| {
            let (requester, org) = match t.org {
                Some(i) => {
                    let (user, org) = people.customers[i];
                    (user, Some(org))
                }
                None => (people.engineer, None),
            };
            let assignee = t.assigned.then_some(people.engineer);
            w.write(&row![
                &t.id,
                &t.title,
                &t.description,
                &requester,
                &org,
                &t.priority,
                &t.category,
                &assignee,
                &t.status,
            ])
            .await
        },
    )
    .await?;
    bar.finish_and_clear();

    // The entries are generated again from each ticket's stream rather
    // than kept in memory from the pass above.
    let bar = progress("journal", tickets as u64);
    let (s, b) = (specs.clone(), bases.clone());
    let rows = generator(1..tickets + 1, move |t, out| {
        out.push(data::ticket(seed, t as i64, &s, &b, orgs).1);
    });
    let entry_columns = [
        ("ticket_id", Type::INT8),
        ("author_id", Type::INT8),
        ("kind", Type::TEXT),
        ("visibility", Type::TEXT),
        ("body", Type::TEXT),
    ];
    let mut entries = 0usize;
    copy(
        client,
        "journal_entries",
        &entry_columns,
        rows,
        &bar,
        async |mut w, list| {
            for e in list {
                let (kind, visibility) = if e.public {
                    ("reply", "public")
                } else {
                    ("note", "internal")
                };
                w.as_mut()
                    .write(&row![
                        &e.ticket,
                        &people.engineer,
                        &kind,
                        &visibility,
                        &e.body
                    ])
                    .await?;
                entries += 1;
            }
            Ok(())
        },
    )
    .await?;
    bar.finish_and_clear();

    let linked = linked.min(tickets);
    let bar = progress("links", linked as u64);
    let (s, b) = (specs.clone(), bases.clone());
    let rows = generator(1..linked + 1, move |t, out| {
        out.push(data::ticket(seed, t as i64, &s, &b, orgs).0);
    });
    let link_columns = [
        ("ticket_id", Type::INT8),
        ("model_id", Type::INT8),
        ("revision", Type::INT4),
        ("outcome", Type::TEXT),
        ("missing", Type::TEXT),
        ("linked_by", Type::INT8),
    ];
    copy(
        client,
        "ticket_models",
        &link_columns,
        rows,
        &bar,
        async |w, t| {
            let outcome = if t.id % 4 == 0 { "partial" } else { "resolved" };
            w.write(&row![
                &t.id,
                &t.model,
                &1i32,
                &outcome,
                &"",
                &people.engineer
            ])
            .await
        },
    )
    .await?;
    bar.finish_and_clear();

    // Ids were given explicitly: move the sequences past them.
    client
        .batch_execute(
            "SELECT setval(pg_get_serial_sequence('incident_models', 'id'), \
               (SELECT COALESCE(max(id), 0) + 1 FROM incident_models), false); \
             SELECT setval(pg_get_serial_sequence('tickets', 'id'), \
               (SELECT COALESCE(max(id), 0) + 1 FROM tickets), false); \
             RESET session_replication_role;",
        )
        .await
        .map_err(failed("setting the sequences"))?;
    if fk_checks_skipped {
        // The report-facts triggers were skipped with the foreign-key
        // checks: build the facts as the triggers would have, so that the
        // commit-time refresh of a triage search meets the tables (and
        // plans) of a real installation, not a near-empty facts table.
        eprintln!("casebook: bench: building the report facts");
        client
            .batch_execute("SELECT report_facts_rebuild()")
            .await
            .map_err(failed("building the report facts"))?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let vacuum = Instant::now();
    eprintln!("casebook: bench: VACUUM ANALYZE");
    client
        .batch_execute(
            "VACUUM (ANALYZE) incident_models, model_revisions, tickets, journal_entries, \
             ticket_models, ticket_report_facts, ticket_link_facts, triage_search_facts",
        )
        .await
        .map_err(failed("VACUUM ANALYZE"))?;
    Ok(Loaded {
        models,
        tickets,
        entries,
        linked,
        seconds,
        vacuum_seconds: vacuum.elapsed().as_secs_f64(),
        fk_checks_skipped,
    })
}
