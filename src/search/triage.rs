//! Triage matching: the incident models that fit a ticket's text, and open
//! tickets that look like duplicates. The ticket page, the API and
//! `casebook eval-triage` all use [`suggest_models`].

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, QueryClone, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{TantivyDocument, Term};

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

/// The models that best fit `text`, best first; retired models never.
pub fn suggest_models(
    index: &SearchIndex,
    text: &str,
    limit: usize,
) -> Result<Vec<Suggestion>, SearchError> {
    suggest_models_with(index, text, limit, &Tuning::default())
}

/// The keys of the models that the first stage of [`suggest_models`] picks
/// for `text` (see [`matcher::TermsSearch::candidates`]), so that the
/// evaluation can tell a model dropped before scoring from one scored low.
pub fn candidate_models(
    index: &SearchIndex,
    text: &str,
    limit: usize,
    tuning: &Tuning,
) -> Result<Vec<String>, SearchError> {
    let f = &index.fields;
    let terms = matcher::query_terms(text, tuning);
    let searcher = index.reader.searcher();
    let stats = matcher::KindStatistics::of(&searcher, &Term::from_field_text(f.kind, "model"))?;
    let per_field = tuning.boosts.per_field(&f.model);
    let search = matcher::TermsSearch::new(&searcher, &stats, tuning, &per_field, &terms)?
        .picking_on(tuning.pick_on_all.then_some(f.model.all));
    let mut keys = Vec::new();
    for address in search.candidates(limit, None)? {
        let doc: TantivyDocument = searcher.doc(address)?;
        if let Some(key) = doc.get_first(f.model.key).and_then(|v| v.as_str()) {
            keys.push(key.to_owned());
        }
    }
    Ok(keys)
}

/// [`suggest_models`] with another tuning (the evaluation compares them).
pub fn suggest_models_with(
    index: &SearchIndex,
    text: &str,
    limit: usize,
    tuning: &Tuning,
) -> Result<Vec<Suggestion>, SearchError> {
    let f = &index.fields;
    let (terms, words) = matcher::query_terms_and_words(text, tuning);
    if terms.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // Only model documents have text in the model fields, so the bare union
    // of the terms finds models only. Retired models are dropped from the
    // hits below rather than by a `MustNot` clause: any clause besides the
    // terms' own turns off tantivy's block-max WAND, which skips the
    // documents that cannot reach the top hits. BM25 counts the models
    // only: a word in most models weighs little, however many tickets
    // there are.
    let searcher = index.reader.searcher();
    let stats = matcher::KindStatistics::of(&searcher, &Term::from_field_text(f.kind, "model"))?;
    let per_field = tuning.boosts.per_field(&f.model);
    let search = matcher::TermsSearch::new(&searcher, &stats, tuning, &per_field, &terms)?
        .picking_on(tuning.pick_on_all.then_some(f.model.all));
    let mut wanted = limit;
    let hits = loop {
        let top = search.top(wanted, None)?;
        let exhausted = top.len() < wanted;
        let mut kept = Vec::with_capacity(limit);
        for hit in top {
            let doc: TantivyDocument = searcher.doc(hit.address)?;
            let is =
                |field, value: &str| doc.get_first(field).and_then(|v| v.as_str()) == Some(value);
            if is(f.kind, "model") && !is(f.status, "retired") {
                kept.push((hit, doc));
                if kept.len() == limit {
                    break;
                }
            }
        }
        if kept.len() == limit || exhausted {
            break kept;
        }
        wanted = wanted.saturating_mul(4);
    };
    let statement_query =
        matcher::terms_query(&[(f.model.statement, 1.0)], &terms, tuning, &stats, 0.0)?;
    let mut generator =
        SnippetGenerator::create(&searcher, &*statement_query, f.model.statement).ok();
    if let Some(g) = generator.as_mut() {
        g.set_max_num_chars(240);
    }
    let mut suggestions = Vec::with_capacity(hits.len());
    for (hit, doc) in hits {
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
        let mut matched: Vec<String> = hit
            .matched
            .iter()
            .filter_map(|&at| words.get(at).cloned())
            .collect();
        matched.dedup();
        suggestions.push(Suggestion {
            key: get(f.model.key),
            title: get(f.model.title),
            score: hit.score,
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
    let searcher = index.reader.searcher();
    let stats = matcher::KindStatistics::of(&searcher, &Term::from_field_text(f.kind, "ticket"))?;
    let search = matcher::TermsSearch::new(&searcher, &stats, &tuning, &fields, &terms)?;
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
    let others = BooleanQuery::new(vec![
        (Occur::Must, term(f.kind, "ticket")),
        (Occur::Must, any_open),
        (Occur::MustNot, own.box_clone()),
    ]);
    let top = search.top(limit, Some(&others))?;
    // The ticket scored against its own text is the yardstick (models have
    // ids too).
    let own_ticket = BooleanQuery::new(vec![
        (Occur::Must, own),
        (Occur::Must, term(f.kind, "ticket")),
    ]);
    let own_address = searcher
        .search(&own_ticket, &TopDocs::with_limit(1).order_by_score())?
        .first()
        .map(|&(_, address)| address);
    let own_score = match own_address {
        Some(address) => search.score(vec![address])?.first().map(|h| h.score),
        None => None,
    };
    let own_score = own_score.filter(|s| *s > 0.0);
    let Some(yardstick) = own_score.or_else(|| top.first().map(|h| h.score)) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for hit in top {
        let similarity = hit.score / yardstick.max(f32::EPSILON);
        if similarity < DUPLICATE_THRESHOLD {
            continue;
        }
        let doc: TantivyDocument = searcher.doc(hit.address)?;
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
