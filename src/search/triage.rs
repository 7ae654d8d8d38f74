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
    /// The statement's first sentence, on one line (the compact list shows
    /// it; the snippet is there on demand).
    pub line: String,
    /// The words of the ticket that the model contains, the one that adds
    /// most to the score first; words that add almost nothing are left out.
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
    let query = matcher::analyze_query(text, tuning);
    let searcher = index.reader.searcher();
    let stats = model_statistics_with(index, &searcher, tuning)?;
    let search = model_search(index, &searcher, &stats, tuning, &query)?;
    let mut keys = Vec::new();
    for address in search.candidates(limit, None)? {
        let doc: TantivyDocument = searcher.doc(address)?;
        if let Some(key) = doc.get_first(f.model.key).and_then(|v| v.as_str()) {
            keys.push(key.to_owned());
        }
    }
    Ok(keys)
}

/// Readies the triage search for the index as its reader now sees it (see
/// [`matcher::warm`]): the first search to use a common word then does
/// not pay for a pass over its postings. Seconds at 100,000 models, once
/// per new segment.
pub fn warm(index: &SearchIndex) -> Result<matcher::Warmed, SearchError> {
    Ok(matcher::warm(
        &index.reader.searcher(),
        &index.fields.model,
    )?)
}

/// Whether a [`warm_in_background`] thread is running, and whether it was
/// asked again meanwhile (a commit of the index while it ran).
static WARMING: std::sync::Mutex<(bool, bool)> = std::sync::Mutex::new((false, false));

/// [`warm`] on a thread of its own, so that neither the start nor the
/// indexer's commit waits for it (a search meanwhile finds what it needs
/// itself, as it always could). One thread at a time: asked while one runs,
/// it warms once more when done, with the reader's newest segments.
pub fn warm_in_background(index: &SearchIndex) {
    {
        let mut state = WARMING.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 {
            state.1 = true;
            return;
        }
        *state = (true, false);
    }
    let index = index.clone();
    let spawned = std::thread::Builder::new()
        .name("casebook-warm".to_owned())
        .spawn(move || {
            loop {
                let started = std::time::Instant::now();
                match warm(&index) {
                    Ok(w) if w.frontiers > 0 => tracing::debug!(
                        segments = w.segments,
                        words = w.frontiers,
                        ms = started.elapsed().as_millis() as u64,
                        "triage search warmed"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "warming the triage search failed"),
                }
                let mut state = WARMING.lock().unwrap_or_else(|e| e.into_inner());
                if !std::mem::take(&mut state.1) {
                    state.0 = false;
                    break;
                }
            }
        });
    if spawned.is_err() {
        *WARMING.lock().unwrap_or_else(|e| e.into_inner()) = (false, false);
    }
}

/// BM25 statistics of the model documents (see [`matcher::KindStatistics`]).
/// Public, as [`model_search`], so that `bench-search --stages` can time
/// the stages of [`suggest_models`].
pub fn model_statistics<'s>(
    index: &SearchIndex,
    searcher: &'s tantivy::Searcher,
) -> Result<matcher::KindStatistics<'s>, SearchError> {
    model_statistics_with(index, searcher, &Tuning::default())
}

/// [`model_statistics`] with another tuning: with
/// [`Tuning::sparse_lengths`], the "seen as" and identifier-parts fields'
/// average lengths are over the models that have them.
pub fn model_statistics_with<'s>(
    index: &SearchIndex,
    searcher: &'s tantivy::Searcher,
    tuning: &Tuning,
) -> Result<matcher::KindStatistics<'s>, SearchError> {
    let f = &index.fields.model;
    let kind = Term::from_field_text(index.fields.kind, "model");
    let mut stats = matcher::KindStatistics::of(searcher, &kind)?;
    if tuning.sparse_lengths {
        for (field, marker) in [(f.seen_as, "seen_as"), (f.parts, "parts")] {
            stats = stats.having(field, &Term::from_field_text(f.has, marker))?;
        }
    }
    Ok(stats)
}

/// Most long forms one abbreviation adds to a query (the ones the most
/// models define first).
const LONG_FORMS_PER_ABBREVIATION: usize = 3;

/// `query` with the long forms of the abbreviations in it that the models
/// define (see [`matcher::abbreviations`], [`matcher::initials`]): each
/// long form's words and the words joined (`PVCs` → `persistent`,
/// `volume`, `claims`, `persistentvolumeclaims`), weighted
/// [`Tuning::abbreviations`]. The table is the models' own
/// ([`matcher::Fields::defines`]), so it follows model edits with the index.
pub fn expanded(
    index: &SearchIndex,
    searcher: &tantivy::Searcher,
    tuning: &Tuning,
    query: &matcher::QueryTerms,
) -> Result<matcher::QueryTerms, SearchError> {
    let mut out = query.clone();
    out.expanded = true;
    if query.expanded || tuning.abbreviations <= 0.0 {
        return Ok(out);
    }
    let field = index.fields.model.defines;
    let mut analyzer = matcher::query_analyzer(tuning);
    let mut analyze = |text: &str| -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            terms.push(stream.token().text.clone());
        }
        terms
    };
    for (at, (term, _)) in query.terms.iter().enumerate() {
        if !query.acronyms.get(at).copied().unwrap_or(false) {
            continue;
        }
        let word = query.words.get(at).map_or(term.as_str(), String::as_str);
        let mut keys = vec![term.clone()];
        if let Some(singular) = word.strip_suffix('s')
            && singular.len() >= 2
        {
            keys.push(singular.to_owned());
        }
        for (n, key) in keys.iter().enumerate() {
            let long_forms = defined_long_forms(searcher, field, key, tuning.initials)?;
            if long_forms.is_empty() {
                continue;
            }
            if n > 0 {
                // `PVCs` where the models say `PVC`: the same word.
                for t in analyze(key) {
                    let before = out.terms.len();
                    out.add(t, key.clone(), 1.0);
                    if out.terms.len() > before
                        && let Some(last) = out.stands_for.last_mut()
                    {
                        *last = Some((at, 0));
                    }
                }
            }
            for (n, long) in long_forms
                .iter()
                .take(LONG_FORMS_PER_ABBREVIATION)
                .enumerate()
            {
                // The long form's words share the weight: together they
                // stand for one word of the ticket.
                let words = long.split(' ').count().max(1) as f32;
                let add = |out: &mut matcher::QueryTerms, t: String, w: String, weight| {
                    let before = out.terms.len();
                    out.add(t, w, weight);
                    if out.terms.len() > before
                        && let Some(last) = out.stands_for.last_mut()
                    {
                        *last = Some((at, n + 1));
                    }
                };
                for w in long.split(' ') {
                    for t in analyze(w) {
                        add(&mut out, t, w.to_owned(), tuning.abbreviations / words);
                    }
                }
                let joined: String = long.split(' ').collect();
                if let [t] = analyze(&joined).as_slice() {
                    add(&mut out, t.clone(), long.clone(), tuning.abbreviations);
                }
            }
        }
    }
    Ok(out)
}

/// The long forms (lower-cased words) the models define for the
/// abbreviation `key`, the one the most models define first; with
/// `initials` off, those only an identifier's initials give are left out.
pub fn defined_long_forms(
    searcher: &tantivy::Searcher,
    field: tantivy::schema::Field,
    key: &str,
    initials: bool,
) -> Result<Vec<String>, SearchError> {
    let sep = matcher::DEFINES_SEP;
    let from = format!("{key}{sep}");
    let to = format!("{key}{}", char::from_u32(sep as u32 + 1).unwrap_or(sep));
    let mut found: Vec<(String, u32)> = Vec::new();
    for reader in searcher.segment_readers() {
        let inverted = reader.inverted_index(field)?;
        let mut stream = inverted
            .terms()
            .range()
            .ge(from.as_bytes())
            .lt(to.as_bytes())
            .into_stream()
            .map_err(tantivy::TantivyError::from)?;
        while stream.advance() {
            let Ok(text) = std::str::from_utf8(stream.key()) else {
                continue;
            };
            let Some(rest) = text.strip_prefix(&from) else {
                continue;
            };
            let (long, by_initials) = match rest.strip_suffix(matcher::INITIALS_MARK) {
                Some(long) => (long, true),
                None => (rest, false),
            };
            if by_initials && !initials {
                continue;
            }
            let docs = stream.value().doc_freq;
            match found.iter_mut().find(|(l, _)| l == long) {
                Some(entry) => entry.1 += docs,
                None => found.push((long.to_owned(), docs)),
            }
        }
    }
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(found.into_iter().map(|(long, _)| long).collect())
}

/// The triage search of `query` over the model fields.
pub fn model_search<'s>(
    index: &SearchIndex,
    searcher: &'s tantivy::Searcher,
    stats: &'s matcher::KindStatistics<'s>,
    tuning: &'s Tuning,
    query: &matcher::QueryTerms,
) -> Result<matcher::TermsSearch<'s>, SearchError> {
    let f = &index.fields;
    let expanded;
    let query = if query.expanded {
        query
    } else {
        expanded = self::expanded(index, searcher, tuning, query)?;
        &expanded
    };
    let mut per_field = tuning.boosts.per_field(&f.model).to_vec();
    let joined: Vec<bool> = (0..query.terms.len())
        .map(|at| query.joined.get(at).copied().unwrap_or(false))
        .collect();
    if tuning.parts_joined_only {
        per_field.retain(|(field, _)| *field != f.model.parts);
    }
    // A model's own words are all in `all`; the words it was seen as, and
    // its identifiers' parts, are not.
    let pickers = [f.model.all, f.model.seen_as, f.model.parts];
    let pick = tuning.pick_on_all && tuning.boosts.all > 0.0;
    let search = matcher::TermsSearch::weighted(
        searcher,
        stats,
        tuning,
        &per_field,
        &query.terms,
        &query.weights,
    )?
    .with_names(f.model.title, tuning.boosts.name, &query.names)?
    .with_alternatives(&query.stands_for)
    .with_field_for(
        f.model.parts,
        if tuning.parts_joined_only {
            tuning.boosts.parts
        } else {
            0.0
        },
        &query.weights,
        &joined,
    )?
    .picking_on(if pick { &pickers } else { &[] });
    let search = match tuning.bm25f {
        Some(params) => search.bm25f_over(f.model.all, params.parts(&f.model), params),
        None => search,
    };
    Ok(search)
}

/// A model that fits a ticket's text, without what only the page shows
/// (snippet, first line, matched words): what a recorded triage search
/// keeps (see [`rank_models`]).
#[derive(Debug, Clone)]
pub struct Ranked {
    pub key: String,
    pub title: String,
    pub score: f32,
}

/// The models that best fit `text`, best first, as [`suggest_models`]
/// ranks them, without building their snippets: the triage search a
/// ticket records keeps only the keys, titles and scores.
pub fn rank_models(
    index: &SearchIndex,
    text: &str,
    limit: usize,
) -> Result<Vec<Ranked>, SearchError> {
    let f = &index.fields;
    let tuning = Tuning::default();
    let searcher = index.reader.searcher();
    let Some(best) = best_models(index, &searcher, text, limit, &tuning)? else {
        return Ok(Vec::new());
    };
    Ok(best
        .hits
        .into_iter()
        .map(|(hit, doc)| Ranked {
            key: text_of(&doc, f.model.key),
            title: text_of(&doc, f.model.title),
            score: hit.score,
        })
        .collect())
}

/// The first text value of `field` in `doc` ("" when it has none).
fn text_of(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// What [`best_models`] found: the hits with their stored documents, the
/// (expanded) query and the statistics it was scored with.
struct Best<'s> {
    hits: Vec<(matcher::Hit, TantivyDocument)>,
    query: matcher::QueryTerms,
    stats: matcher::KindStatistics<'s>,
}

/// The best `limit` models for `text` that are not retired, best first;
/// `None` when the text has no searchable term.
fn best_models<'s>(
    index: &SearchIndex,
    searcher: &'s tantivy::Searcher,
    text: &str,
    limit: usize,
    tuning: &Tuning,
) -> Result<Option<Best<'s>>, SearchError> {
    let f = &index.fields;
    let query = matcher::analyze_query(text, tuning);
    if query.terms.is_empty() || limit == 0 {
        return Ok(None);
    }
    // Only model documents have text in the model fields, so the bare union
    // of the terms finds models only. Retired models are dropped from the
    // hits below rather than by a `MustNot` clause, which the candidate
    // stage's term-at-a-time sum does not take (see
    // `matcher::TermsSearch::candidates`). BM25 counts the models
    // only: a word in most models weighs little, however many tickets
    // there are.
    let stats = model_statistics_with(index, searcher, tuning)?;
    let query = expanded(index, searcher, tuning, &query)?;
    let search = model_search(index, searcher, &stats, tuning, &query)?;
    let kind = Term::from_field_text(f.kind, "model");
    let retired = Term::from_field_text(f.status, "retired");
    // Looked up in the postings of the two terms, not in the stored
    // documents: only the hits returned are read.
    let hits = search.top_kept(limit, |address| {
        Ok(holds(searcher, &kind, address)? && !holds(searcher, &retired, address)?)
    })?;
    let hits = hits
        .into_iter()
        .map(|hit| {
            let doc: TantivyDocument = searcher.doc(hit.address)?;
            Ok((hit, doc))
        })
        .collect::<tantivy::Result<Vec<_>>>()?;
    Ok(Some(Best { hits, query, stats }))
}

/// Whether the document at `address` holds `term` (an untokenized field's
/// value such as `status:retired`), from the term's postings.
fn holds(
    searcher: &tantivy::Searcher,
    term: &Term,
    address: tantivy::DocAddress,
) -> tantivy::Result<bool> {
    let reader = searcher.segment_reader(address.segment_ord);
    let Some(mut postings) = reader
        .inverted_index(term.field())?
        .read_postings(term, IndexRecordOption::Basic)?
    else {
        return Ok(false);
    };
    Ok(matcher::advance_to(&mut postings, address.doc_id) == address.doc_id)
}

/// [`suggest_models`] with another tuning (the evaluation compares them).
pub fn suggest_models_with(
    index: &SearchIndex,
    text: &str,
    limit: usize,
    tuning: &Tuning,
) -> Result<Vec<Suggestion>, SearchError> {
    let f = &index.fields;
    let searcher = index.reader.searcher();
    let Some(Best { hits, query, stats }) = best_models(index, &searcher, text, limit, tuning)?
    else {
        return Ok(Vec::new());
    };
    let (terms, words) = (&query.terms, &query.words);
    let statement_query =
        matcher::terms_query(&[(f.model.statement, 1.0)], terms, tuning, &stats, 0.0)?;
    let mut generator =
        SnippetGenerator::create(&searcher, &*statement_query, f.model.statement).ok();
    if let Some(g) = generator.as_mut() {
        g.set_max_num_chars(240);
    }
    let mut suggestions = Vec::with_capacity(hits.len());
    for (hit, doc) in hits {
        let get = |field| text_of(&doc, field);
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
        let matched = explained(&hit, words);
        suggestions.push(Suggestion {
            key: get(f.model.key),
            title: get(f.model.title),
            score: hit.score,
            snippet,
            line: one_line(&get(f.model.statement), 140),
            matched,
        });
    }
    Ok(suggestions)
}

/// The first sentence of `text` on one line, at most `max` characters
/// (cut at a word, with an ellipsis).
pub fn one_line(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = match flat.find(". ") {
        Some(end) => &flat[..=end],
        None => flat.as_str(),
    };
    if sentence.chars().count() <= max {
        return sentence.to_owned();
    }
    let cut: String = sentence.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', ' ']))
}

/// A word that adds less than this share of a suggestion's score is not
/// shown as matched: the common words of an alert (`warning`, `cluster`)
/// explain nothing.
const MATCHED_MIN_SHARE: f32 = 0.05;

/// The words of the ticket that `hit` holds, the one that adds most to its
/// score first, each once, leaving out those that add almost nothing. Stop
/// words and the alert's boilerplate (labels, ids, addresses) never get
/// this far: the query analyzer dropped them.
fn explained(hit: &matcher::Hit, words: &[String]) -> Vec<String> {
    let floor = hit.score * MATCHED_MIN_SHARE;
    let mut out: Vec<String> = Vec::new();
    for (&at, &part) in hit.matched.iter().zip(&hit.contributions) {
        if part < floor {
            continue;
        }
        if let Some(word) = words.get(at)
            && !out.contains(word)
        {
            out.push(word.clone());
        }
    }
    out
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
    let query = matcher::analyze_query(text, &tuning);
    let terms = query.terms;
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
    let search = matcher::TermsSearch::weighted(
        &searcher,
        &stats,
        &tuning,
        &fields,
        &terms,
        &query.weights,
    )?;
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use super::*;
    use crate::search::indexer;

    /// The shared dev sets (`../shared/data` beside the crate).
    fn data_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
    }

    fn rows(path: &std::path::Path) -> Vec<Value> {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .collect()
    }

    /// An index of the set's models (and distractors), as eval-triage loads them.
    fn index_of(dir: &std::path::Path) -> SearchIndex {
        let index = SearchIndex::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let mut writer = indexer::writer(&index).unwrap_or_else(|e| panic!("{e}"));
        let f = &index.fields;
        let mut models = rows(&dir.join("models.jsonl"));
        if dir.join("distractors.jsonl").exists() {
            models.extend(rows(&dir.join("distractors.jsonl")));
        }
        for m in &models {
            let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            let steps: Vec<String> = m["steps"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let (key, title, statement, discussion) = (
                text("key"),
                text("title"),
                text("statement"),
                text("discussion"),
            );
            let model = matcher::ModelText {
                key: &key,
                title: &title,
                statement: &statement,
                steps: &steps,
                discussion: &discussion,
            };
            let mut doc = matcher::document(&f.model, &model);
            doc.add_text(f.kind, "model");
            doc.add_text(f.status, "published");
            writer.add_document(doc).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.commit().unwrap_or_else(|e| panic!("{e}"));
        index.reader.reload().unwrap_or_else(|e| panic!("{e}"));
        index
    }

    /// Share of the queries whose gold model is among the first-stage
    /// candidates of a top-10 triage search.
    fn candidate_recall(index: &SearchIndex, queries: &[Value]) -> f64 {
        let tuning = Tuning::default();
        let found = queries
            .iter()
            .filter(|q| {
                let text = q["text"].as_str().unwrap_or_default();
                let gold = q["gold"].as_str().unwrap_or_default();
                candidate_models(index, text, 10, &tuning)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .iter()
                    .any(|k| k == gold)
            })
            .count();
        found as f64 / queries.len().max(1) as f64
    }

    #[test]
    fn a_statement_in_one_line_is_its_first_sentence_cut_at_a_word() {
        assert_eq!(
            one_line(
                "Free space on the data\nvolume is low. Writes fail at 0.",
                80
            ),
            "Free space on the data volume is low."
        );
        assert_eq!(
            one_line("alpha beta gamma delta epsilon", 20),
            "alpha beta gamma…"
        );
        assert_eq!(one_line("", 10), "");
        let long = "ü".repeat(50);
        assert_eq!(one_line(&long, 10), format!("{}…", "ü".repeat(10)));
    }

    #[test]
    fn matched_words_in_order_of_contribution_without_the_negligible() {
        let hit = matcher::Hit {
            score: 10.0,
            address: tantivy::DocAddress::new(0, 0),
            matched: vec![1, 0, 3, 2],
            contributions: vec![6.0, 3.0, 0.8, 0.2],
        };
        let words = ["replication", "lag", "warning", "lag"].map(str::to_owned);
        assert_eq!(explained(&hit, &words), ["lag", "replication"]);
    }

    #[test]
    fn seen_as_text_finds_the_model_in_triage_only() {
        let index = SearchIndex::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let f = index.fields;
        let mut writer = indexer::writer(&index).unwrap_or_else(|e| panic!("{e}"));
        let steps = vec!["Restart the service.".to_owned()];
        for (id, key, title, seen) in [
            (
                1,
                "website-502",
                "Website returns 502",
                vec!["the basket spinner never stops"],
            ),
            (2, "db-disk-full", "Database disk full", vec![]),
        ] {
            let model = matcher::ModelText {
                key,
                title,
                statement: "Users see errors.",
                steps: &steps,
                discussion: "",
            };
            let mut doc = matcher::document(&f.model, &model);
            matcher::add_seen_as(&f.model, &mut doc, &seen);
            doc.add_text(f.kind, "model");
            doc.add_text(f.status, "published");
            doc.add_text(f.public, "yes");
            doc.add_i64(f.id, id);
            writer.add_document(doc).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.commit().unwrap_or_else(|e| panic!("{e}"));
        index.reader.reload().unwrap_or_else(|e| panic!("{e}"));
        let text = "basket spinner stuck";
        let found = suggest_models(&index, text, 5).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.first().map(|s| s.key.as_str()), Some("website-502"));
        assert_eq!(found[0].matched, ["basket", "spinner"]);
        // The search page never searches what requesters wrote.
        for audience in [
            crate::search::query::Audience::Staff,
            crate::search::query::Audience::Customer { organization: None },
        ] {
            let parsed = crate::search::query::parse("basket");
            let (hits, _) = crate::search::query::search(&index, &parsed, audience, 0, 10)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(hits.is_empty(), "{hits:?}");
        }
    }

    /// An index of `models` (key, title, statement) for the tests below.
    fn index_over(models: &[(&str, &str, &str)]) -> SearchIndex {
        let index = SearchIndex::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let f = index.fields;
        let mut writer = indexer::writer(&index).unwrap_or_else(|e| panic!("{e}"));
        let steps = vec!["Check the logs.".to_owned()];
        for (key, title, statement) in models {
            let model = matcher::ModelText {
                key,
                title,
                statement,
                steps: &steps,
                discussion: "",
            };
            let mut doc = matcher::document(&f.model, &model);
            doc.add_text(f.kind, "model");
            doc.add_text(f.status, "published");
            writer.add_document(doc).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.commit().unwrap_or_else(|e| panic!("{e}"));
        index.reader.reload().unwrap_or_else(|e| panic!("{e}"));
        index
    }

    #[test]
    fn an_acronym_finds_the_long_form_the_models_define() {
        let index = index_over(&[
            (
                "cron",
                "Import cron outdated",
                "Images are imported into persistent volume claims (PVCs).",
            ),
            (
                "restarts",
                "Restarts of the importer",
                "The importer writes a disk on a persistent volume claim.",
            ),
            ("web", "Website slow", "Pages load slowly for users."),
            ("ha", "High availability (HA) lost", "A replica is gone."),
        ]);
        let keys = |text: &str| -> Vec<String> {
            suggest_models(&index, text, 5)
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .map(|s| s.key)
                .collect()
        };
        // "PVCs" is only in the model that defines it; the long form finds
        // the other one too.
        let found = keys("PVCs stuck");
        assert!(found.contains(&"restarts".to_owned()), "{found:?}");
        let off = Tuning {
            abbreviations: 0.0,
            ..Tuning::default()
        };
        let found =
            suggest_models_with(&index, "PVCs stuck", 5, &off).unwrap_or_else(|e| panic!("{e}"));
        assert!(!found.iter().any(|s| s.key == "restarts"), "{found:?}");
        // Only words written as acronyms are looked up: "has" is not "HA".
        let searcher = index.reader.searcher();
        let q = matcher::analyze_query("the pod has restarted", &Tuning::default());
        let x =
            expanded(&index, &searcher, &Tuning::default(), &q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(x.terms.len(), q.terms.len());
        let q = matcher::analyze_query("PVCs pending", &Tuning::default());
        let x =
            expanded(&index, &searcher, &Tuning::default(), &q).unwrap_or_else(|e| panic!("{e}"));
        let added: Vec<&str> = x.terms[q.terms.len()..]
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert_eq!(
            added,
            ["pvc", "persist", "volum", "claim", "persistentvolumeclaim"]
        );
        assert!(
            x.stands_for[q.terms.len()..]
                .iter()
                .all(|s| s.is_some_and(|(root, _)| root == 0))
        );
    }

    #[test]
    fn a_sparse_fields_average_length_is_over_the_models_that_have_it() {
        let index = SearchIndex::in_memory().unwrap_or_else(|e| panic!("{e}"));
        let f = index.fields;
        let mut writer = indexer::writer(&index).unwrap_or_else(|e| panic!("{e}"));
        let steps = vec!["Restart.".to_owned()];
        for n in 0..10 {
            let key = format!("m{n}");
            let model = matcher::ModelText {
                key: &key,
                title: "Title",
                statement: "Words.",
                steps: &steps,
                discussion: "",
            };
            let mut doc = matcher::document(&f.model, &model);
            let seen: Vec<&str> = if n == 0 {
                vec!["one two three four"]
            } else {
                vec![]
            };
            matcher::add_seen_as(&f.model, &mut doc, &seen);
            doc.add_text(f.kind, "model");
            writer.add_document(doc).unwrap_or_else(|e| panic!("{e}"));
        }
        writer.commit().unwrap_or_else(|e| panic!("{e}"));
        index.reader.reload().unwrap_or_else(|e| panic!("{e}"));
        let searcher = index.reader.searcher();
        use tantivy::query::Bm25StatisticsProvider;
        let average = |tuning: &Tuning| {
            let stats =
                model_statistics_with(&index, &searcher, tuning).unwrap_or_else(|e| panic!("{e}"));
            let tokens = stats
                .total_num_tokens(f.model.seen_as)
                .unwrap_or_else(|e| panic!("{e}"));
            tokens as f64 / stats.total_num_docs().unwrap_or_else(|e| panic!("{e}")) as f64
        };
        // One model of ten has four words "seen as": their average is 4, not 0.4.
        assert!((average(&Tuning::default()) - 4.0).abs() < 1e-9);
        let all_models = Tuning {
            sparse_lengths: false,
            ..Tuning::default()
        };
        assert!((average(&all_models) - 0.4).abs() < 1e-9);
    }

    /// The first stage must not drop the right model: measured on both dev
    /// sets, full and hard. The 0.99 is met on the full variants
    /// and on dev hard (161 of 162); on cnv hard it cannot be, whatever the
    /// candidate stage: some hard queries share no term with their gold
    /// model at all, which the "reachable" share counts (gold among the
    /// models holding any query term). Before the query learnt the models'
    /// abbreviations and joined words, dev 1 of 162 and cnv 9 of 169 were
    /// out of reach; now dev 1 ("There could be that are not claimed or
    /// utilized…") and cnv 3 (2 "Some population workloads have an …,
    /// meaning they are probably failing": the run-book says "data
    /// volume", no population or workload; 1 "detected on <host>": the host
    /// name is rightly dropped). Reached now: "PVC" through "persistent
    /// volume claims (PVCs)" that other run-books define, "DVs" through the
    /// initials of `DataVolume`, "roll out" joined to the `Rollout` of the
    /// title's identifier. cnv's ceiling is 166 of 169 (0.982); the stage
    /// keeps 164 (0.970). The 2 reachable ones it drops are one alert ("is
    /// deployed by CNAO CR but pod is .", `KubemacpoolDown`), whose model
    /// holds only `pod` and the support boilerplate's "Customer" of it: not
    /// among the best 60 of 87 even with every clause picking, only with
    /// every model scored, and below 10th then. The floors are today's figures, rounded down, so
    /// a change that loses recall fails here; of the reachable queries the
    /// stage must keep 97%.
    #[test]
    fn candidate_stage_recall_on_the_dev_sets() {
        let data = data_dir();
        if !data.is_dir() {
            eprintln!("skipped: no dev sets in {}", data.display());
            return;
        }
        for (set, full_floor, hard_floor) in
            [("triage-dev", 0.99, 0.99), ("triage-dev-cnv", 0.99, 0.97)]
        {
            let dir = data.join(set);
            let index = index_of(&dir);
            let full = candidate_recall(&index, &rows(&dir.join("queries.jsonl")));
            let hard_rows = rows(&dir.join("queries_hard.jsonl"));
            let hard = candidate_recall(&index, &hard_rows);
            let reachable = reachable_share(&index, &hard_rows);
            eprintln!(
                "{set}: candidate recall full {full:.3}, hard {hard:.3} (reachable {reachable:.3})"
            );
            assert!(full >= full_floor, "{set} full: {full:.3} < {full_floor}");
            assert!(hard >= hard_floor, "{set} hard: {hard:.3} < {hard_floor}");
            assert!(
                hard >= 0.97 * reachable,
                "{set} hard: {hard:.3} of {reachable:.3} reachable"
            );
        }
    }

    /// Share of the queries whose gold model holds at least one of their
    /// terms: the most any candidate stage can reach.
    fn reachable_share(index: &SearchIndex, queries: &[Value]) -> f64 {
        let every = Tuning {
            min_clause_share: 0.0,
            candidates: 1_000_000,
            ..Tuning::default()
        };
        let found = queries
            .iter()
            .filter(|q| {
                let text = q["text"].as_str().unwrap_or_default();
                let gold = q["gold"].as_str().unwrap_or_default();
                candidate_models(index, text, 10, &every)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .iter()
                    .any(|k| k == gold)
            })
            .count();
        found as f64 / queries.len().max(1) as f64
    }
}
