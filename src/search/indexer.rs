//! Keeps the index equal to PostgreSQL: applies outbox rows in commit order
//! (see [`apply_batch`]) and commits with its position as the commit
//! payload, so a crash at any point replays from there (re-indexing a
//! document is idempotent) and never skips. `rebuild` starts from scratch
//! for `casebook reindex`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::AsyncPgConnection;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tantivy::merge_policy::{LogMergePolicy, NoMergePolicy};
use tantivy::schema::Value;
use tantivy::{IndexWriter, TantivyDocument, Term};

use super::{Fields, SearchError, SearchIndex, matcher};
use crate::db::models::{Model, Revision};
use crate::db::outbox::Position;
use crate::db::tickets::Ticket;
use crate::db::{DbPool, journal, models, outbox, seen_as, tickets};

const BATCH: i64 = 1000;
const WRITER_MEMORY: usize = 50_000_000;

pub fn writer(index: &SearchIndex) -> Result<IndexWriter, SearchError> {
    Ok(index.index.writer_with_num_threads(1, WRITER_MEMORY)?)
}

fn uid(kind: &str, id: i64) -> String {
    format!("{kind}:{id}")
}

/// The document's digest covers every indexed value, in order.
fn seal(fields: &Fields, mut doc: TantivyDocument) -> TantivyDocument {
    let mut hasher = Sha256::new();
    for (field, value) in doc.field_values() {
        hasher.update(field.field_id().to_le_bytes());
        if let Some(text) = value.as_str() {
            hasher.update(text.as_bytes());
        } else if let Some(n) = value.as_i64() {
            hasher.update(n.to_le_bytes());
        }
        hasher.update([0]);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    doc.add_text(fields.digest, digest);
    doc
}

/// The model's document; `seen_as` holds the public text of tickets linked
/// to it (see [`crate::db::seen_as`]), indexed in its own lower-weighted
/// field that only triage searches.
pub fn model_document(
    fields: &Fields,
    model: &Model,
    revision: &Revision,
    seen_as: &[&str],
) -> TantivyDocument {
    let steps: Vec<String> = revision
        .step_list()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut doc = matcher::document(
        &fields.model,
        &matcher::ModelText {
            key: &model.key,
            title: &revision.title,
            statement: &revision.statement,
            steps: &steps,
            discussion: &revision.discussion,
        },
    );
    matcher::add_seen_as(&fields.model, &mut doc, seen_as);
    doc.add_text(fields.uid, uid("model", model.id));
    doc.add_text(fields.kind, "model");
    doc.add_i64(fields.id, model.id);
    doc.add_text(fields.category, &model.category);
    for tag in model.tag_list() {
        doc.add_text(fields.tag, tag);
    }
    doc.add_text(fields.status, &model.status);
    let public = model.public && model.status == "published";
    doc.add_text(fields.public, if public { "yes" } else { "no" });
    doc.add_i64(fields.org, 0);
    seal(fields, doc)
}

pub fn ticket_document(
    fields: &Fields,
    ticket: &Ticket,
    entries: &[(i64, bool, String)],
) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.uid, uid("ticket", ticket.id.0));
    doc.add_text(fields.kind, "ticket");
    doc.add_i64(fields.id, ticket.id.0);
    doc.add_text(fields.ticket_title, &ticket.title);
    if !ticket.description.is_empty() {
        doc.add_text(fields.ticket_public, &ticket.description);
    }
    for (_, public, body) in entries.iter().filter(|(t, _, _)| *t == ticket.id.0) {
        doc.add_text(
            if *public {
                fields.ticket_public
            } else {
                fields.ticket_internal
            },
            body,
        );
    }
    doc.add_text(fields.category, &ticket.category);
    doc.add_text(fields.status, ticket.status.as_str());
    doc.add_text(fields.public, "no");
    doc.add_i64(fields.org, ticket.organization_id.unwrap_or(0));
    seal(fields, doc)
}

/// Re-indexes these models and tickets from the database; an id that no
/// longer exists is removed.
async fn reindex(
    index: &SearchIndex,
    writer: &IndexWriter,
    conn: &mut AsyncPgConnection,
    model_ids: &[i64],
    ticket_ids: &[i64],
) -> Result<(), SearchError> {
    let f = &index.fields;
    for id in model_ids {
        writer.delete_term(Term::from_field_text(f.uid, &uid("model", *id)));
    }
    for id in ticket_ids {
        writer.delete_term(Term::from_field_text(f.uid, &uid("ticket", *id)));
    }
    if !model_ids.is_empty() {
        let found = models::with_current_revisions(conn, Some(model_ids), 0, i64::MAX).await?;
        add_models(f, writer, conn, &found).await?;
    }
    if !ticket_ids.is_empty() {
        let found = tickets::for_index(conn, Some(ticket_ids), 0, i64::MAX).await?;
        let entries = journal::bodies_for(conn, ticket_ids).await?;
        for ticket in &found {
            writer.add_document(ticket_document(f, ticket, &entries))?;
        }
    }
    Ok(())
}

/// Adds the documents of these models, each with its "seen as" texts.
async fn add_models(
    f: &Fields,
    writer: &IndexWriter,
    conn: &mut AsyncPgConnection,
    found: &[(Model, Revision)],
) -> Result<(), SearchError> {
    let ids: Vec<i64> = found.iter().map(|(m, _)| m.id).collect();
    let texts = seen_as::texts_for(conn, &ids).await?;
    for (model, revision) in found {
        let seen: Vec<&str> = texts
            .iter()
            .filter(|(id, _)| *id == model.id)
            .map(|(_, text)| text.as_str())
            .collect();
        writer.add_document(model_document(f, model, revision, &seen))?;
    }
    Ok(())
}

fn commit(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    position: Position,
) -> Result<(), SearchError> {
    let mut prepared = writer.prepare_commit()?;
    prepared.set_payload(&position.to_string());
    prepared.commit()?;
    index.reader.reload()?;
    super::triage::warm_in_background(index);
    Ok(())
}

/// Applies the next batch of outbox rows and commits. Returns how many rows
/// it applied (0 when the index is current).
pub async fn apply_pending(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    conn: &mut AsyncPgConnection,
) -> Result<usize, SearchError> {
    apply_batch(index, writer, conn, BATCH, true).await
}

/// As [`apply_pending`], with the batch size and whether to commit: the
/// crash tests stop before the commit.
///
/// Rows are read in commit order, not id order: a range of transactions
/// that have all ended (up to the horizon, see `outbox::horizon`) is
/// applied in id order, a batch at a time, and the position moves past the
/// range only when all of it is applied. A transaction still running
/// holds the horizon back, so its rows (whatever their ids) come later;
/// none is ever skipped.
pub async fn apply_batch(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    conn: &mut AsyncPgConnection,
    limit: i64,
    commit_after: bool,
) -> Result<usize, SearchError> {
    let at = index.position();
    let (from, to, after) = if at.in_range() {
        (at.horizon, at.range_end, at.after)
    } else {
        let to = outbox::horizon(conn).await?;
        if to <= at.horizon {
            return Ok(0);
        }
        (at.horizon, to, 0)
    };
    // One row more than the batch tells whether the range goes on.
    let mut rows = outbox::between(conn, from, to, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let Some(&(last, _, _)) = rows.last() else {
        // Nothing was written meanwhile; the next range starts where this
        // one did (committing an empty range would only churn the index).
        // A half-applied range with nothing left (its rows pruned) is done.
        if at.in_range() && commit_after {
            commit(index, writer, Position::at(to))?;
        }
        return Ok(0);
    };
    let next = if more {
        Position {
            horizon: from,
            range_end: to,
            after: last,
        }
    } else {
        Position::at(to)
    };
    let mut model_ids = BTreeSet::new();
    let mut ticket_ids = BTreeSet::new();
    for (_, entity, id) in &rows {
        match entity.as_str() {
            "model" => model_ids.insert(*id),
            _ => ticket_ids.insert(*id),
        };
    }
    let ticket_ids: Vec<i64> = ticket_ids.into_iter().collect();
    // A ticket's text is also the "seen as" text of the models it is linked
    // to (its edits, new replies, exclusion from metrics): they follow it.
    model_ids.extend(seen_as::models_of_tickets(conn, &ticket_ids).await?);
    let model_ids: Vec<i64> = model_ids.into_iter().collect();
    reindex(index, writer, conn, &model_ids, &ticket_ids).await?;
    if commit_after {
        commit(index, writer, next)?;
        index.applied.inc_by(rows.len() as u64);
    }
    Ok(rows.len())
}

/// Committed outbox rows this index has not applied.
pub async fn lag(index: &SearchIndex, conn: &mut AsyncPgConnection) -> Result<i64, SearchError> {
    Ok(outbox::pending(conn, index.position()).await?)
}

/// Applies everything pending that can be applied now: rows behind a
/// transaction still running wait for it (see [`apply_batch`]). The
/// indexer task's step.
pub async fn apply_available(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    conn: &mut AsyncPgConnection,
) -> Result<usize, SearchError> {
    let mut total = 0;
    loop {
        match apply_pending(index, writer, conn).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// How long [`catch_up`] waits for transactions that hold the horizon back.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Applies every row committed before the call, waiting (up to
/// [`PATIENCE`]) for transactions that still run and hold the horizon back
/// — on a shared server, perhaps in another database. For `reindex`,
/// `eval-triage` and the tests, which need "everything committed so far"
/// rather than "what can be applied now".
pub async fn catch_up(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    conn: &mut AsyncPgConnection,
) -> Result<usize, SearchError> {
    let mut total = apply_available(index, writer, conn).await?;
    if lag(index, conn).await? > 0 {
        outbox::settle(conn, PATIENCE).await?;
        total += apply_available(index, writer, conn).await?;
    }
    Ok(total)
}

/// Rebuilds the whole index from PostgreSQL. Outbox rows written meanwhile
/// are applied afterwards by the indexer.
pub async fn rebuild(
    index: &SearchIndex,
    writer: &mut IndexWriter,
    conn: &mut AsyncPgConnection,
    progress: &ProgressBar,
) -> Result<(usize, usize), SearchError> {
    // Read the horizon first: every transaction from it on may not be in
    // what the rebuild reads, and is replayed afterwards.
    let position = Position::at(outbox::horizon(conn).await?);
    // One segment searches fastest (triage at 100,000 models: p99 about a
    // quarter lower than over the 8 segments a rebuild otherwise leaves).
    // The merge policy would merge the flushed segments meanwhile, and a
    // segment being merged cannot join the final merge, so it waits. The
    // final merge runs on tantivy's merge thread; the commit payload
    // survives it.
    writer.set_merge_policy(Box::new(NoMergePolicy));
    writer.delete_all_documents()?;
    let f = &index.fields;
    let (mut models_done, mut tickets_done) = (0, 0);
    let mut after = 0;
    loop {
        let batch = models::with_current_revisions(conn, None, after, BATCH).await?;
        let Some(last) = batch.last().map(|(m, _)| m.id) else {
            break;
        };
        add_models(f, writer, conn, &batch).await?;
        models_done += batch.len();
        progress.inc(batch.len() as u64);
        after = last;
    }
    after = 0;
    loop {
        let batch = tickets::for_index(conn, None, after, BATCH).await?;
        let Some(last) = batch.last().map(|t| t.id.0) else {
            break;
        };
        let ids: Vec<i64> = batch.iter().map(|t| t.id.0).collect();
        let entries = journal::bodies_for(conn, &ids).await?;
        for ticket in &batch {
            writer.add_document(ticket_document(f, ticket, &entries))?;
        }
        tickets_done += batch.len();
        progress.inc(batch.len() as u64);
        after = last;
    }
    commit(index, writer, position)?;
    let segments = index.index.searchable_segment_ids()?;
    if segments.len() > 1 {
        drop(writer.merge(&segments));
    }
    writer.set_merge_policy(Box::new(LogMergePolicy::default()));
    Ok((models_done, tickets_done))
}

/// Every document's uid and digest: two indexes with equal snapshots hold
/// the same documents with the same text.
pub fn snapshot(index: &SearchIndex) -> Result<Vec<(String, String)>, SearchError> {
    let searcher = index.reader.searcher();
    let f = &index.fields;
    let mut out = Vec::new();
    for segment in searcher.segment_readers() {
        let store = segment
            .get_store_reader(64)
            .map_err(tantivy::TantivyError::from)?;
        for doc_id in segment.doc_ids_alive() {
            let doc: TantivyDocument = store.get(doc_id)?;
            let get = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push((get(f.uid), get(f.digest)));
        }
    }
    out.sort();
    Ok(out)
}

/// The indexer task of this process: applies the outbox whenever a row
/// commits (on any instance), and at least every few seconds.
pub fn spawn(
    index: SearchIndex,
    pool: DbPool,
    wake: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut writer = match writer(&index) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!("the search indexer cannot start: {e}");
                return;
            }
        };
        loop {
            // Rows committed behind a transaction that still runs are
            // applied when it ends, which nothing announces: look again
            // soon while any are waiting.
            let mut waiting = false;
            match pool.get().await {
                Ok(mut conn) => match apply_available(&index, &mut writer, &mut conn).await {
                    Ok(_) => waiting = lag(&index, &mut conn).await.is_ok_and(|n| n > 0),
                    Err(e) => {
                        tracing::error!("indexing failed (will retry): {e}");
                        let _ = writer.rollback();
                    }
                },
                Err(e) => tracing::warn!("the indexer has no database connection: {e}"),
            }
            let pause = if waiting {
                Duration::from_millis(50)
            } else {
                Duration::from_secs(5)
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    })
}
