//! The matchers a run compares with Casebook's triage: plain BM25 and
//! PostgreSQL full-text search on the same models.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::{Index, Searcher, TantivyDocument};

use super::{ModelRow, QueryRow, slug};
use casebook::commands::search::fts_query_sql;
use casebook::search::matcher::{self, Tuning};
use casebook::server::StartupError;

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
