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
    let stats = model_statistics(index, &searcher)?;
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

/// BM25 statistics of the model documents (see [`matcher::KindStatistics`]).
/// Public, as [`model_search`], so that `bench-search --stages` can time
/// the stages of [`suggest_models`].
pub fn model_statistics<'s>(
    index: &SearchIndex,
    searcher: &'s tantivy::Searcher,
) -> Result<matcher::KindStatistics<'s>, SearchError> {
    let kind = Term::from_field_text(index.fields.kind, "model");
    Ok(matcher::KindStatistics::of(searcher, &kind)?)
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
    let per_field = tuning.boosts.per_field(&f.model);
    // A model's own words are all in `all`; the words it was seen as are not.
    let pickers = [f.model.all, f.model.seen_as];
    let pick = tuning.pick_on_all && tuning.boosts.all > 0.0;
    let search = matcher::TermsSearch::new(searcher, stats, tuning, &per_field, &query.terms)?
        .with_names(f.model.title, tuning.boosts.name, &query.names)?
        .picking_on(if pick { &pickers } else { &[] });
    let search = match tuning.bm25f {
        Some(params) => search.bm25f_over(f.model.all, params.parts(&f.model), params),
        None => search,
    };
    Ok(search)
}

/// [`suggest_models`] with another tuning (the evaluation compares them).
pub fn suggest_models_with(
    index: &SearchIndex,
    text: &str,
    limit: usize,
    tuning: &Tuning,
) -> Result<Vec<Suggestion>, SearchError> {
    let f = &index.fields;
    let query = matcher::analyze_query(text, tuning);
    let (terms, words) = (&query.terms, &query.words);
    if terms.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // Only model documents have text in the model fields, so the bare union
    // of the terms finds models only. Retired models are dropped from the
    // hits below rather than by a `MustNot` clause, which the candidate
    // stage's term-at-a-time sum does not take (see
    // `matcher::TermsSearch::candidates`). BM25 counts the models
    // only: a word in most models weighs little, however many tickets
    // there are.
    let searcher = index.reader.searcher();
    let stats = model_statistics(index, &searcher)?;
    let search = model_search(index, &searcher, &stats, tuning, &query)?;
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
        matcher::terms_query(&[(f.model.statement, 1.0)], terms, tuning, &stats, 0.0)?;
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

    /// The first stage must not drop the right model: measured on both dev
    /// sets, full and hard. The 0.99 is met on the full variants;
    /// on the hard ones it cannot be, whatever the candidate stage: some
    /// hard queries share no word with their gold model at all, which the
    /// "reachable" share counts (gold among the models holding any query
    /// word). Checked one by one: dev 1 of 162 ("There could be that are
    /// not claimed or utilized…"), cnv 9 of 169 — 6 "CDI … population
    /// workloads / PVC / DVs" (the run-book says "persistent volume claim"
    /// and "data volume", no PVC, DV, population or workload), 2 "Some - to
    /// roll out" (the run-book has "Rollout" only inside its CamelCase
    /// title), 1 "detected on <host>" (the host name is rightly dropped).
    /// Joining "roll out" and splitting document identifiers would reach
    /// 2 more, and abbreviations learnt from the run-books ("persistent
    /// volume claims (PVCs)") 2 more: cnv's ceiling stays below
    /// 0.99 (at most 164 of 169). The reachable queries the stage drops
    /// (dev 2, cnv 4) rank 21st to 60th even when every model is scored,
    /// so no top-10 result is lost. The floors are today's figures,
    /// rounded down, so a change that loses recall fails here; of the
    /// reachable queries the stage must keep 97%.
    #[test]
    fn candidate_stage_recall_on_the_dev_sets() {
        let data = data_dir();
        if !data.is_dir() {
            eprintln!("skipped: no dev sets in {}", data.display());
            return;
        }
        for (set, full_floor, hard_floor) in
            [("triage-dev", 0.99, 0.98), ("triage-dev-cnv", 0.99, 0.92)]
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
