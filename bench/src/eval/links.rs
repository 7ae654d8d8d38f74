//! Learning from links, measured leave-one-out: every model is indexed with
//! the texts of the queries whose gold it is as its "seen as" field (as if
//! each had been a ticket linked to it as resolved), except the query being
//! asked, which is never indexed. Same search and tuning as the ticket page.
//!
//! A query is asked against an index with exactly the statistics BM25 reads
//! (document frequencies, field lengths, document count) of the models with
//! the other queries' texts, and the documents in the order of the rows: as
//! if built afresh for it, so the figures are the same every run. Replacing
//! the gold model in one shared index, as this did before, leaves a deleted
//! copy that BM25 counts until a merge drops it, and tantivy's background
//! merges come at times that vary (the figures moved by about 0.006 from
//! run to run); nor does merging by hand help, as a merge of a segment with
//! deletes estimates the field lengths from the fieldnorms rather than
//! counting them. Building the whole index for every query is exact but
//! analyses every model again (the run took about four times as long). So
//! the models are indexed in blocks, once; a query indexes its gold's block
//! again without it, and the blocks are merged in order into one segment:
//! none of them has a deleted document, and such a merge adds their
//! statistics up exactly.

use std::collections::BTreeMap;

use tantivy::directory::RamDirectory;
use tantivy::schema::Schema;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{Index, ReloadPolicy, TantivyDocument};

use super::{Asked, ModelRow, QueryRow, ask, slug};
use casebook::search::matcher::{self, Tuning};
use casebook::search::{Fields, SearchError, SearchIndex};

/// Every query asked of the triage (see the module comment).
pub(super) fn loo_asked(
    rows: &[ModelRow],
    queries: &[QueryRow],
    tuning: &Tuning,
) -> Result<Vec<Asked>, SearchError> {
    let loo = LeaveOneOut::new(rows, queries)?;
    queries
        .iter()
        .map(|q| ask(&loo.index_without(q)?, q, tuning))
        .collect()
}

struct LeaveOneOut<'a> {
    rows: &'a [ModelRow],
    /// Row number by model key.
    position: BTreeMap<String, usize>,
    /// The queries by their gold's key: the tickets linked to it.
    links: BTreeMap<String, Vec<&'a QueryRow>>,
    /// Models per block: a query indexes one block again and merges them
    /// all, so about the square root of the models keeps both small.
    block: usize,
    /// `rows` in blocks, each indexed with all its links.
    blocks: Vec<Index>,
    schema: Schema,
    fields: Fields,
    tokenizers: TokenizerManager,
}

impl<'a> LeaveOneOut<'a> {
    fn new(rows: &'a [ModelRow], queries: &'a [QueryRow]) -> Result<Self, SearchError> {
        let mut links: BTreeMap<String, Vec<&QueryRow>> = BTreeMap::new();
        for q in queries {
            links.entry(slug(&q.gold)).or_default().push(q);
        }
        let (schema, fields) = casebook::search::schema();
        let index = Index::create_in_ram(schema.clone());
        matcher::register_analyzers(&index);
        let mut loo = LeaveOneOut {
            rows,
            position: rows
                .iter()
                .enumerate()
                .map(|(n, r)| (slug(&r.key), n))
                .collect(),
            links,
            block: (rows.len() as f64).sqrt().ceil().max(1.0) as usize,
            blocks: Vec::new(),
            schema,
            fields,
            tokenizers: index.tokenizers().clone(),
        };
        loo.blocks = rows
            .chunks(loo.block)
            .map(|block| loo.indexed(block, None))
            .collect::<Result<_, _>>()?;
        Ok(loo)
    }

    /// The index to ask `asked` against: the blocks merged in order, its
    /// gold's indexed again without it.
    fn index_without(&self, asked: &QueryRow) -> Result<SearchIndex, SearchError> {
        let at = self
            .position
            .get(&slug(&asked.gold))
            .map(|n| n / self.block);
        let mut blocks = self.blocks.clone();
        if let Some(b) = at
            && let Some(rows) = self.rows.chunks(self.block).nth(b)
        {
            blocks[b] = self.indexed(rows, Some(asked))?;
        }
        if blocks.is_empty() {
            // No models: nothing to merge.
            return searchable(self.indexed(&[], Some(asked))?);
        }
        searchable(tantivy::indexer::merge_indices(
            &blocks,
            RamDirectory::create(),
        )?)
    }

    /// Every model indexed afresh in one commit, `asked` left out: what
    /// [`LeaveOneOut::index_without`] must equal.
    #[cfg(test)]
    fn fresh(&self, asked: Option<&QueryRow>) -> Result<SearchIndex, SearchError> {
        searchable(self.indexed(self.rows, asked)?)
    }

    /// `rows` in an index of one segment, each with the texts of its links
    /// as "seen as", `asked` left out.
    fn indexed(&self, rows: &[ModelRow], asked: Option<&QueryRow>) -> Result<Index, SearchError> {
        let mut writer = Index::builder()
            .schema(self.schema.clone())
            .tokenizers(self.tokenizers.clone())
            .single_segment_index_writer(RamDirectory::create(), 1_000_000)?;
        for row in rows {
            writer.add_document(self.document(&self.fields, row, asked))?;
        }
        Ok(writer.finalize()?)
    }

    fn document(&self, f: &Fields, row: &ModelRow, asked: Option<&QueryRow>) -> TantivyDocument {
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
        let texts: Vec<&str> = self
            .links
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|q| !asked.is_some_and(|a| std::ptr::eq(**q, a)))
            .map(|q| q.text.as_str())
            .collect();
        matcher::add_seen_as(&f.model, &mut doc, &texts);
        doc.add_text(f.uid, format!("model:{key}"));
        doc.add_text(f.kind, "model");
        doc.add_text(f.status, "published");
        doc
    }
}

/// A merged or freshly written index, ready for the triage search: the
/// analyzers registered and a reader on its commit.
fn searchable(index: Index) -> Result<SearchIndex, SearchError> {
    matcher::register_analyzers(&index);
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    let (_, fields) = casebook::search::schema();
    Ok(SearchIndex {
        index,
        fields,
        reader,
        applied: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebook::search::triage;
    use tantivy::schema::Value;
    use tantivy::{DocAddress, Term};

    /// A word only the `n`th query has (kept whole by the analyzer).
    fn own_word(n: usize) -> String {
        let letter = |k: usize| char::from(b'a' + (k % 26) as u8);
        format!("wq{}{}x", letter(n / 26), letter(n))
    }

    fn row(n: usize) -> ModelRow {
        ModelRow {
            key: format!("Model{n}"),
            title: format!("Model{n} pressure"),
            statement: format!(
                "The node{} disk is {} full.",
                n % 4,
                ["nearly", "quite"][n % 2]
            ),
            steps: vec![format!("Free space on volume{}.", n % 3)],
            discussion: "disk ".repeat(n % 5),
        }
    }

    /// Everything BM25 reads from an index, and the order of its documents:
    /// per segment its documents (uid, deleted or not); per indexed field its
    /// tokens, every term with its document frequency, and every document's
    /// length.
    fn statistics(index: &SearchIndex) -> tantivy::Result<Vec<String>> {
        let searcher = index.reader.searcher();
        let schema = index.index.schema();
        let mut out = Vec::new();
        for (n, segment) in searcher.segment_readers().iter().enumerate() {
            out.push(format!(
                "segment {n}: {} docs, {} deleted",
                segment.max_doc(),
                segment.num_deleted_docs()
            ));
            for doc in 0..segment.max_doc() {
                let stored: TantivyDocument = searcher.doc(DocAddress::new(n as u32, doc))?;
                let uid = stored.get_first(index.fields.uid).and_then(|v| v.as_str());
                out.push(format!("doc {doc}: {uid:?}"));
            }
            for (field, entry) in schema.fields().filter(|(_, e)| e.is_indexed()) {
                let inverted = segment.inverted_index(field)?;
                out.push(format!(
                    "{}: {} tokens",
                    entry.name(),
                    inverted.total_num_tokens()
                ));
                let mut terms = inverted.terms().stream()?;
                while terms.advance() {
                    out.push(format!("{:?} {}", terms.key(), terms.value().doc_freq));
                }
                if let Some(norms) = segment.fieldnorms_readers().get_field(field)? {
                    let lengths: Vec<u32> =
                        (0..segment.max_doc()).map(|d| norms.fieldnorm(d)).collect();
                    out.push(format!("lengths {lengths:?}"));
                }
            }
        }
        Ok(out)
    }

    /// Whatever block its gold falls in, a query is asked against an index
    /// with the statistics, documents and order of one built afresh without
    /// it (so the same suggestions with the same scores), with no deleted
    /// document; and its own words are never in it.
    #[test]
    fn each_query_is_asked_of_an_index_as_if_built_without_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let rows: Vec<ModelRow> = (0..30).map(row).collect();
        // Golds in the first, a middle and the last block, with siblings,
        // and one that is no model.
        let golds = [0, 0, 0, 7, 7, 13, 29, 29, 29, 99];
        let queries: Vec<QueryRow> = golds
            .iter()
            .enumerate()
            .map(|(n, gold)| QueryRow {
                text: format!("{} disk full on node{}", own_word(n), gold % 4),
                gold: format!("Model{gold}"),
            })
            .collect();
        let loo = LeaveOneOut::new(&rows, &queries)?;
        assert!(loo.blocks.len() >= 5, "{} blocks", loo.blocks.len());
        let every_link = loo.fresh(None)?.reader.searcher();
        let tuning = Tuning::default();
        for (n, q) in queries.iter().enumerate() {
            let asked = loo.index_without(q)?;
            let fresh = loo.fresh(Some(q))?;
            let (got, want) = (statistics(&asked)?, statistics(&fresh)?);
            let first = got.iter().zip(&want).position(|(g, w)| g != w);
            assert_eq!(
                (first, got.len()),
                (None, want.len()),
                "query {n}: merged vs fresh at {:?}",
                first.map(|i| (&got[i], &want[i]))
            );
            assert_eq!(asked.reader.searcher().segment_readers().len(), 1);
            assert!(
                !got.iter()
                    .any(|l| l.contains("deleted") && !l.ends_with(" 0 deleted"))
            );

            let suggested = |index: &SearchIndex| -> Result<Vec<(String, f32)>, SearchError> {
                Ok(triage::suggest_models_with(index, &q.text, 10, &tuning)?
                    .into_iter()
                    .map(|s| (s.key, s.score))
                    .collect())
            };
            assert_eq!(suggested(&asked)?, suggested(&fresh)?, "query {n}");

            let own = Term::from_field_text(asked.fields.model.seen_as, &own_word(n));
            assert_eq!(asked.reader.searcher().doc_freq(&own)?, 0, "query {n}");
            let linked = u64::from(golds[n] < 30);
            assert_eq!(every_link.doc_freq(&own)?, linked, "query {n}");
        }
        Ok(())
    }
}
