//! Full-text search: a tantivy index derived from PostgreSQL (the truth),
//! fed by the transactional outbox, per process, in the data directory.
//!
//! - [`matcher`]: analyzers and the triage query (measured on the dev set).
//! - [`indexer`]: applies outbox rows in commit order (by transaction
//!   horizon); the position is the tantivy commit payload, so a crash
//!   replays and never skips; `reindex`.
//! - [`query`]: the search page (words, "phrases", `key:` `category:`
//!   `tag:` `status:` filters) with visibility rules.
//! - [`triage`]: suggested models and possible duplicates for a ticket.

pub mod indexer;
pub mod matcher;
pub mod query;
pub mod triage;

use std::path::Path;

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, IndexReader, ReloadPolicy};

/// Every field of the index, in one place (no `get_field("…")` anywhere).
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `model:12` or `ticket:7`: what an update deletes and replaces.
    pub uid: Field,
    /// `model` or `ticket`.
    pub kind: Field,
    pub id: Field,
    /// Model text fields (also the triage fields).
    pub model: matcher::Fields,
    pub category: Field,
    pub tag: Field,
    pub status: Field,
    /// `yes` when customers may see the document (public published
    /// models; every ticket's customer-visible fields are separate).
    pub public: Field,
    /// The ticket's organization (0 for none).
    pub org: Field,
    pub ticket_title: Field,
    /// Description and public entries: what the customer may see.
    pub ticket_public: Field,
    /// Internal entries: the team only.
    pub ticket_internal: Field,
    /// A digest of everything indexed for the document, so two indexes can
    /// be compared (crash replay vs a fresh rebuild).
    pub digest: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let tuning = matcher::Tuning::default();
    let model = matcher::add_fields(&mut builder, &tuning);
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(matcher::ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        uid: builder.add_text_field("uid", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED),
        id: builder.add_i64_field("id", INDEXED | STORED | FAST),
        model,
        category: builder.add_text_field("category", STRING | STORED),
        tag: builder.add_text_field("tag", STRING | STORED),
        status: builder.add_text_field("status", STRING | STORED),
        public: builder.add_text_field("public", STRING),
        org: builder.add_i64_field("org", INDEXED | FAST),
        ticket_title: builder.add_text_field("ticket_title", text.clone() | STORED),
        ticket_public: builder.add_text_field("ticket_public", text.clone() | STORED),
        ticket_internal: builder.add_text_field("ticket_internal", text),
        digest: builder.add_text_field("digest", STRING | STORED),
    };
    (builder.build(), fields)
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("cannot open the search index directory {dir}: {reason}")]
    Directory { dir: String, reason: String },
    #[error("database error while indexing: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection: {0}")]
    Pool(String),
}

/// The index and its reader. The single writer belongs to the indexer.
#[derive(Clone)]
pub struct SearchIndex {
    pub index: Index,
    pub fields: Fields,
    pub reader: IndexReader,
    /// Outbox rows applied and committed by this process (shared by the
    /// clones; `/metrics` reports it as the indexing rate).
    pub applied: prometheus_client::metrics::counter::Counter,
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it when missing. An index with an
    /// older schema is thrown away and rebuilt from PostgreSQL by the
    /// indexer (it is derived data).
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        let failed = |e: &dyn std::fmt::Display| SearchError::Directory {
            dir: dir.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(|e| failed(&e))?;
        let index = match Index::open_or_create(directory, schema.clone()) {
            Ok(index) => index,
            Err(tantivy::TantivyError::SchemaError(_)) => {
                tracing::warn!(dir = %dir.display(), "the search index has an older schema; rebuilding it");
                std::fs::remove_dir_all(dir).map_err(|e| failed(&e))?;
                std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
                let directory =
                    tantivy::directory::MmapDirectory::open(dir).map_err(|e| failed(&e))?;
                Index::create(directory, schema, tantivy::IndexSettings::default())?
            }
            Err(e) => return Err(e.into()),
        };
        Self::with_index(index, fields)
    }

    /// An index in memory (tests, `eval-triage`).
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields)
    }

    fn with_index(index: Index, fields: Fields) -> Result<Self, SearchError> {
        matcher::register_analyzers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            fields,
            reader,
            applied: Default::default(),
        })
    }

    /// How far the outbox is applied (the payload of the last commit); the
    /// start for an index that has none or an older kind of payload.
    pub fn position(&self) -> crate::db::outbox::Position {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| p.parse().ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index written with an older analyzer (the schema names the
    /// analyzer) is thrown away and opened anew with the current one, so
    /// old and new tokens never mix in one index.
    #[test]
    fn an_index_of_an_older_analyzer_is_rebuilt() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let (schema, _) = schema();
        let current = serde_json::to_string(&schema)?;
        assert!(current.contains(matcher::ANALYZER));
        let older: Schema = serde_json::from_str(
            &current
                .replace(matcher::KEY_ANALYZER, "casebook_en_key")
                .replace(matcher::ANALYZER, "casebook_en"),
        )?;
        let old = Index::create_in_dir(dir.path(), older)?;
        drop(old);

        let opened = SearchIndex::open(dir.path())?;
        let schema_now = serde_json::to_string(&opened.index.schema())?;
        assert!(schema_now.contains(matcher::ANALYZER), "{schema_now}");
        assert!(!schema_now.contains("\"casebook_en\""), "{schema_now}");
        // And it opens again as it is (no rebuild every start).
        drop(opened);
        let again = SearchIndex::open(dir.path())?;
        assert_eq!(serde_json::to_string(&again.index.schema())?, schema_now);
        Ok(())
    }
}
