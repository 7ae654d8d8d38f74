//! The matchers a run compares with Casebook's triage: plain BM25 and
//! PostgreSQL full-text search on the same models; and Casebook's triage
//! learning from links, leave-one-out.

use std::collections::BTreeMap;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::{Index, Searcher, TantivyDocument, Term};

use super::{ModelRow, QueryRow, slug};
use casebook::commands::search::fts_query_sql;
use casebook::search::matcher::{self, Tuning};
use casebook::search::{SearchError, SearchIndex, indexer, triage};
use casebook::server::StartupError;

/// Learning from links, leave-one-out: every model is indexed with the
/// texts of the queries whose gold it is as its "seen as" field (as if
/// each had been a ticket linked to it as resolved), except the query
/// being asked, which is never indexed: before each query its gold model
/// is re-indexed without it. Same search and tuning as the ticket page.
pub(super) fn loo_ranks(
    rows: &[ModelRow],
    queries: &[QueryRow],
    tuning: &Tuning,
) -> Result<Vec<Option<usize>>, SearchError> {
    let index = SearchIndex::in_memory()?;
    let f = index.fields;
    let mut writer = indexer::writer(&index)?;
    let mut seen: BTreeMap<String, Vec<&QueryRow>> = BTreeMap::new();
    for q in queries {
        seen.entry(slug(&q.gold)).or_default().push(q);
    }
    let uid = |key: &str| Term::from_field_text(f.uid, &format!("model:{key}"));
    let document = |row: &ModelRow, leave_out: Option<&str>| {
        let key = slug(&row.key);
        let mut doc = matcher::document(
            &f.model,
            &matcher::ModelText {
                key: &key,
                title: &row.title,
                statement: &row.statement,
                steps: &row.steps,
                discussion: &row.discussion,
            },
        );
        let texts: Vec<&str> = seen
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|q| leave_out != Some(q.id.as_str()))
            .map(|q| q.text.as_str())
            .collect();
        matcher::add_seen_as(&f.model, &mut doc, &texts);
        doc.add_text(f.uid, format!("model:{key}"));
        doc.add_text(f.kind, "model");
        doc.add_text(f.status, "published");
        doc
    };
    for row in rows {
        writer.add_document(document(row, None))?;
    }
    writer.commit()?;
    let by_key: BTreeMap<String, &ModelRow> = rows.iter().map(|r| (slug(&r.key), r)).collect();
    let mut ranks = Vec::with_capacity(queries.len());
    // The model indexed without one of its queries, to restore before the
    // next query of another gold.
    let mut short: Option<&ModelRow> = None;
    for q in queries {
        let gold = slug(&q.gold);
        let row = by_key.get(&gold).copied();
        if let Some(before) = short.take()
            && row.is_none_or(|r| !std::ptr::eq(r, before))
        {
            writer.delete_term(uid(&slug(&before.key)));
            writer.add_document(document(before, None))?;
        }
        if let Some(row) = row {
            writer.delete_term(uid(&gold));
            writer.add_document(document(row, Some(&q.id)))?;
            short = Some(row);
        }
        writer.commit()?;
        index.reader.reload()?;
        let found = triage::suggest_models_with(&index, &q.text, 10, tuning)?;
        ranks.push(found.iter().position(|s| s.key == gold).map(|p| p + 1));
    }
    Ok(ranks)
}

/// Plain BM25 over each model's whole text as one field: Casebook's
/// analyzer and query terms, no field weights, every term scores.
pub(super) struct Bm25 {
    searcher: Searcher,
    key: tantivy::schema::Field,
    text: tantivy::schema::Field,
}

impl Bm25 {
    pub(super) fn build(rows: &[ModelRow]) -> tantivy::Result<Self> {
        let mut builder = Schema::builder();
        let key = builder.add_text_field("key", tantivy::schema::STRING | tantivy::schema::STORED);
        let text = builder.add_text_field(
            "text",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(matcher::ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            ),
        );
        let index = Index::create_in_ram(builder.build());
        matcher::register_analyzers(&index);
        let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
        for row in rows {
            let mut doc = TantivyDocument::default();
            doc.add_text(key, slug(&row.key));
            doc.add_text(text, &row.title);
            doc.add_text(text, &row.statement);
            for step in &row.steps {
                doc.add_text(text, step);
            }
            doc.add_text(text, &row.discussion);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        Ok(Bm25 {
            searcher,
            key,
            text,
        })
    }

    pub(super) fn top(&self, query: &str, limit: usize) -> tantivy::Result<Vec<String>> {
        // The text's own words only: no joined pairs, no abbreviations.
        let tuning = Tuning {
            min_clause_share: 0.0,
            join_pairs: 0.0,
            abbreviations: 0.0,
            ..Tuning::default()
        };
        let terms = matcher::query_terms(query, &tuning);
        let search = matcher::TermsSearch::new(
            &self.searcher,
            &self.searcher,
            &tuning,
            &[(self.text, 1.0)],
            &terms,
        )?;
        search
            .top(limit, None)?
            .into_iter()
            .map(|hit| {
                let doc: TantivyDocument = self.searcher.doc(hit.address)?;
                Ok(doc
                    .get_first(self.key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned())
            })
            .collect()
    }
}

#[derive(diesel::QueryableByName)]
struct Ranked {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
}

/// PostgreSQL full-text search on the same data (the table made by
/// [`fts_table_sql`]): the query's lexemes OR-ed, ranked by `rank`.
pub(super) async fn postgres_ranks(
    conn: &mut AsyncPgConnection,
    queries: &[QueryRow],
    rank: &str,
) -> Result<Vec<Option<usize>>, StartupError> {
    let sql = fts_query_sql("eval_fts", rank, 10);
    let mut ranks = Vec::new();
    for q in queries {
        let found: Vec<Ranked> = diesel::sql_query(&sql)
            .bind::<diesel::sql_types::Text, _>(&q.text)
            .load(conn)
            .await?;
        let gold = slug(&q.gold);
        ranks.push(found.iter().position(|r| r.key == gold).map(|p| p + 1));
    }
    Ok(ranks)
}
