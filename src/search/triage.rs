//! Triage matching: the incident models that fit a ticket's text, and open
//! tickets that look like duplicates. The ticket page, the API and
//! `casebook eval-triage` all use [`suggest_models`].

use std::collections::HashMap;

use tantivy::collector::TopDocs;
use tantivy::postings::Postings;
use tantivy::query::{BooleanQuery, Occur, Query, QueryClone, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocSet, Searcher, TantivyDocument, Term};

use super::matcher::{self, Tuning};
use super::query::plain_snippet;
use super::{SearchError, SearchIndex};
use crate::markdown::{self, SafeHtml};

#[derive(Debug, Clone)]
pub struct Suggestion {
    pub key: String,
    pub title: String,
    pub score: f32,
    /// The statement, with the matching words highlighted.
    pub snippet: SafeHtml,
    /// The words of the ticket that the model contains.
    pub matched: Vec<String>,
}

fn term(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// Maps each analyzed query term back to the first word that produced it,
/// so a person sees "replication", not the stem "replic".
fn words_by_term(text: &str, tuning: &Tuning) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-') {
        for (term, _) in matcher::query_terms(word, tuning) {
            map.entry(term).or_insert_with(|| word.to_lowercase());
        }
    }
    map
}

/// Which of `terms` the document contains in any of `fields`.
fn matched_terms(
    searcher: &Searcher,
    address: DocAddress,
    fields: &[Field],
    terms: &[(String, u32)],
) -> Vec<String> {
    let segment = searcher.segment_reader(address.segment_ord);
    let mut found = Vec::new();
    for (text, _) in terms {
        let hit = fields.iter().any(|field| {
            let Ok(inverted) = segment.inverted_index(*field) else {
                return false;
            };
            let Ok(Some(mut postings)) = inverted.read_postings(
                &Term::from_field_text(*field, text),
                IndexRecordOption::Basic,
            ) else {
                return false;
            };
            // A fresh postings list already sits on its first document;
            // seeking backwards is not allowed.
            let target = address.doc_id;
            if postings.doc() > target {
                return false;
            }
            postings.seek(target) == target && postings.term_freq() > 0
        });
        if hit {
            found.push(text.clone());
        }
    }
    found
}

/// The models that best fit `text`, best first; retired models never.
pub fn suggest_models(
    index: &SearchIndex,
    text: &str,
    limit: usize,
) -> Result<Vec<Suggestion>, SearchError> {
    let f = &index.fields;
    let tuning = Tuning::default();
    let terms = matcher::query_terms(text, &tuning);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let query = BooleanQuery::new(vec![
        (
            Occur::Must,
            matcher::query_for_terms(&f.model, &terms, &tuning),
        ),
        (Occur::Must, term(f.kind, "model")),
        (Occur::MustNot, term(f.status, "retired")),
    ]);
    let searcher = index.reader.searcher();
    let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
    let mut generator = SnippetGenerator::create(&searcher, &query, f.model.statement).ok();
    if let Some(g) = generator.as_mut() {
        g.set_max_num_chars(240);
    }
    let words = words_by_term(text, &tuning);
    let model_fields = [
        f.model.title,
        f.model.statement,
        f.model.steps,
        f.model.discussion,
    ];
    let mut suggestions = Vec::with_capacity(top.len());
    for (score, address) in top {
        let doc: TantivyDocument = searcher.doc(address)?;
        let get = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let snippet = match &generator {
            Some(g) => {
                let s = g.snippet_from_doc(&doc);
                if s.fragment().is_empty() {
                    plain_snippet(&get(f.model.statement))
                } else {
                    markdown::sanitize(&s.to_html())
                }
            }
            None => plain_snippet(&get(f.model.statement)),
        };
        let mut matched: Vec<String> = matched_terms(&searcher, address, &model_fields, &terms)
            .into_iter()
            .map(|t| words.get(&t).cloned().unwrap_or(t))
            .collect();
        matched.dedup();
        suggestions.push(Suggestion {
            key: get(f.model.key),
            title: get(f.model.title),
            score,
            snippet,
            matched,
        });
    }
    Ok(suggestions)
}

#[derive(Debug, Clone)]
pub struct Duplicate {
    pub id: i64,
    pub title: String,
    pub status: String,
    /// Score relative to the ticket matching itself (1.0 = identical text).
    pub similarity: f32,
}

/// How similar (relative to the ticket matching its own text) another open
/// ticket must be to be shown as a possible duplicate.
pub const DUPLICATE_THRESHOLD: f32 = 0.35;

/// Open tickets whose text is like this one's, most similar first.
pub fn possible_duplicates(
    index: &SearchIndex,
    ticket_id: i64,
    text: &str,
    limit: usize,
) -> Result<Vec<Duplicate>, SearchError> {
    let f = &index.fields;
    let tuning = Tuning::default();
    let terms = matcher::query_terms(text, &tuning);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    let fields = [
        (f.ticket_title, 2.0),
        (f.ticket_public, 1.0),
        (f.ticket_internal, 0.5),
    ];
    let similar = matcher::terms_query(&fields, &terms, &tuning);
    let open = ["new", "triaged", "in_progress", "waiting_on_customer"];
    let any_open: Box<dyn Query> = Box::new(BooleanQuery::new(
        open.iter()
            .map(|s| (Occur::Should, term(f.status, s)))
            .collect(),
    ));
    let own: Box<dyn Query> = Box::new(TermQuery::new(
        Term::from_field_i64(f.id, ticket_id),
        IndexRecordOption::Basic,
    ));
    let searcher = index.reader.searcher();
    // The ticket scored against its own text is the yardstick.
    let self_query = BooleanQuery::new(vec![
        (Occur::Must, similar.box_clone()),
        (Occur::Must, term(f.kind, "ticket")),
        (Occur::Must, own.box_clone()),
    ]);
    let own_score = searcher
        .search(&self_query, &TopDocs::with_limit(1).order_by_score())?
        .first()
        .map(|(s, _)| *s);
    let query = BooleanQuery::new(vec![
        (Occur::Must, similar),
        (Occur::Must, term(f.kind, "ticket")),
        (Occur::Must, any_open),
        (Occur::MustNot, own),
    ]);
    let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
    let Some(yardstick) = own_score.or_else(|| top.first().map(|(s, _)| *s)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (score, address) in top {
        let similarity = score / yardstick.max(f32::EPSILON);
        if similarity < DUPLICATE_THRESHOLD {
            continue;
        }
        let doc: TantivyDocument = searcher.doc(address)?;
        let get = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        out.push(Duplicate {
            id: doc
                .get_first(f.id)
                .and_then(|v| v.as_i64())
                .unwrap_or_default(),
            title: get(f.ticket_title),
            status: get(f.status),
            similarity: similarity.min(1.0),
        });
    }
    Ok(out)
}
