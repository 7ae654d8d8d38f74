//! The search page's query: words (all must match), "phrases", and the
//! filters `key:`, `category:`, `tag:`, `status:`; over models and tickets,
//! within what the viewer may see.

use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{TantivyDocument, Term};

use super::{SearchError, SearchIndex};
use crate::markdown::{self, SafeHtml};

/// A search box's text, split into filters and the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub text: String,
    pub key: Option<String>,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub status: Option<String>,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.key.is_none()
            && self.category.is_none()
            && self.tag.is_none()
            && self.status.is_none()
    }
}

/// Splits on whitespace outside quotes; `name:value` and `name:"two words"`
/// become filters when `name` is known, everything else stays text.
pub fn parse(input: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in input.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    for word in words {
        let filter = word.split_once(':').and_then(|(name, value)| {
            let value = value.trim_matches('"').to_owned();
            (!value.is_empty()).then_some((name.to_ascii_lowercase(), value))
        });
        match filter {
            Some((name, value)) if name == "key" => parsed.key = Some(value),
            Some((name, value)) if name == "category" => parsed.category = Some(value),
            Some((name, value)) if name == "tag" => parsed.tag = Some(value),
            Some((name, value)) if name == "status" => parsed.status = Some(value),
            _ => {
                if !parsed.text.is_empty() {
                    parsed.text.push(' ');
                }
                parsed.text.push_str(&word);
            }
        }
    }
    parsed
}

/// Whose search it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Staff,
    /// Public published models and their organization's tickets, matched on
    /// customer-visible text only.
    Customer {
        organization: Option<i64>,
    },
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub kind: &'static str,
    pub id: i64,
    pub key: String,
    pub title: String,
    pub snippet: SafeHtml,
    pub status: String,
    pub score: f32,
}

impl Hit {
    pub fn url(&self) -> String {
        match self.kind {
            "model" => format!("/models/{}", self.key),
            _ => format!("/tickets/{}", self.id),
        }
    }
}

/// The words and "quoted phrases" of a search, each of which must match in
/// one of `fields` (with `every_word`; otherwise any of them, ranked). Only this is built from what a person typed: no field
/// names, ranges, boosts or operators of tantivy's query language, so a
/// search cannot reach a field it was not given (a customer's search is
/// never given the internal-text field).
fn text_query(
    index: &SearchIndex,
    text: &str,
    fields: &[(Field, f32)],
    every_word: bool,
) -> Result<Option<Box<dyn Query>>, SearchError> {
    let each = if every_word {
        Occur::Must
    } else {
        Occur::Should
    };
    let mut analyzers = Vec::with_capacity(fields.len());
    for (field, boost) in fields {
        analyzers.push((*field, *boost, index.index.tokenizer_for_field(*field)?));
    }
    let mut units: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for unit in words_and_phrases(text) {
        let mut any_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost, analyzer) in &mut analyzers {
            // One term per position (an identifier's parts may share one).
            let mut terms: Vec<(usize, Term)> = Vec::new();
            analyzer.token_stream(&unit).process(&mut |token| {
                if terms.last().is_none_or(|(at, _)| *at < token.position) {
                    terms.push((token.position, Term::from_field_text(*field, &token.text)));
                }
            });
            let query: Box<dyn Query> = match terms.len() {
                0 => continue,
                1 => Box::new(TermQuery::new(
                    terms.remove(0).1,
                    IndexRecordOption::WithFreqs,
                )),
                _ => {
                    let first = terms[0].0;
                    Box::new(PhraseQuery::new_with_offset(
                        terms.into_iter().map(|(at, t)| (at - first, t)).collect(),
                    ))
                }
            };
            any_field.push((Occur::Should, Box::new(BoostQuery::new(query, *boost))));
        }
        // A word no field keeps (a stop word) asks for nothing.
        if !any_field.is_empty() {
            units.push((each, Box::new(BooleanQuery::new(any_field))));
        }
    }
    Ok((!units.is_empty()).then(|| Box::new(BooleanQuery::new(units)) as Box<dyn Query>))
}

/// Whitespace-separated words, and the text between double quotes as one
/// phrase; an unmatched quote runs to the end.
fn words_and_phrases(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, part) in text.split('"').enumerate() {
        if i % 2 == 1 {
            if !part.trim().is_empty() {
                out.push(part.trim().to_owned());
            }
        } else {
            out.extend(part.split_whitespace().map(str::to_owned));
        }
    }
    out
}

fn term(field: tantivy::schema::Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// How deep a search can be paged: tantivy allocates room for
/// offset + limit hits, so the offset is bounded here whatever the caller
/// asks for.
pub const MAX_RESULTS: usize = 1000;

/// What the search page shows: the hits, how many there are, and whether
/// they are ranked matches of any of the words (see [`search_or_ranked`]).
#[derive(Debug, Clone)]
pub struct Results {
    pub hits: Vec<Hit>,
    pub total: usize,
    pub ranked: bool,
}

/// With fewer hits than this that hold every word, the search page shows
/// the documents that hold any of them, best first.
pub const FEW_HITS: usize = 3;

/// [`search`], and when fewer than [`FEW_HITS`] documents hold every word,
/// the documents that hold any of them, best first, each identifier also
/// searched by its words (`KubePodCrashLooping` by `kube pod crash
/// looping`): an alert name pasted into the box finds the model written in
/// words.
pub fn search_or_ranked(
    index: &SearchIndex,
    parsed: &Parsed,
    audience: Audience,
    offset: usize,
    limit: usize,
) -> Result<Results, SearchError> {
    let (hits, total) = search(index, parsed, audience, offset, limit)?;
    if total >= FEW_HITS || parsed.text.trim().is_empty() {
        return Ok(Results {
            hits,
            total,
            ranked: false,
        });
    }
    let any = Parsed {
        text: super::matcher::expand_identifiers(&parsed.text),
        ..parsed.clone()
    };
    let (ranked, ranked_total) = search_with(index, &any, audience, offset, limit, false)?;
    Ok(if ranked_total > total {
        Results {
            hits: ranked,
            total: ranked_total,
            ranked: true,
        }
    } else {
        Results {
            hits,
            total,
            ranked: false,
        }
    })
}

/// The documents that hold every word (and match every filter), best
/// first, within what `audience` may see; and how many there are.
pub fn search(
    index: &SearchIndex,
    parsed: &Parsed,
    audience: Audience,
    offset: usize,
    limit: usize,
) -> Result<(Vec<Hit>, usize), SearchError> {
    search_with(index, parsed, audience, offset, limit, true)
}

fn search_with(
    index: &SearchIndex,
    parsed: &Parsed,
    audience: Audience,
    offset: usize,
    limit: usize,
    every_word: bool,
) -> Result<(Vec<Hit>, usize), SearchError> {
    if parsed.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let limit = limit.min(MAX_RESULTS);
    let offset = offset.min(MAX_RESULTS - limit);
    let f = &index.fields;
    let mut text_fields = vec![
        f.model.title,
        f.model.key_text,
        f.model.statement,
        f.model.steps,
        f.model.discussion,
        f.ticket_title,
        f.ticket_public,
    ];
    if audience == Audience::Staff {
        text_fields.push(f.ticket_internal);
    }
    let boost = |field| {
        if field == f.model.title || field == f.ticket_title {
            3.0
        } else if field == f.model.statement {
            1.5
        } else {
            1.0
        }
    };
    let fields: Vec<(Field, f32)> = text_fields.iter().map(|&x| (x, boost(x))).collect();
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let text_query = text_query(index, &parsed.text, &fields, every_word)?;
    if let Some(query) = &text_query {
        must.push((Occur::Must, query.box_clone()));
    }
    if let Some(key) = &parsed.key {
        must.push((Occur::Must, term(f.model.key, key)));
    }
    if let Some(category) = &parsed.category {
        must.push((Occur::Must, term(f.category, category)));
    }
    if let Some(tag) = &parsed.tag {
        must.push((Occur::Must, term(f.tag, tag)));
    }
    if let Some(status) = &parsed.status {
        must.push((Occur::Must, term(f.status, status)));
    }
    if let Audience::Customer { organization } = audience {
        let models: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
            (Occur::Must, term(f.kind, "model")),
            (Occur::Must, term(f.public, "yes")),
        ]));
        let mut visible = vec![(Occur::Should, models)];
        if let Some(org) = organization {
            let tickets: Box<dyn Query> = Box::new(BooleanQuery::new(vec![
                (Occur::Must, term(f.kind, "ticket")),
                (
                    Occur::Must,
                    Box::new(TermQuery::new(
                        Term::from_field_i64(f.org, org),
                        IndexRecordOption::Basic,
                    )),
                ),
            ]));
            visible.push((Occur::Should, tickets));
        }
        must.push((Occur::Must, Box::new(BooleanQuery::new(visible))));
    }
    let query = BooleanQuery::new(must);
    let searcher = index.reader.searcher();
    let (top, total) = searcher.search(
        &query,
        &(
            TopDocs::with_limit(limit)
                .and_offset(offset)
                .order_by_score(),
            Count,
        ),
    )?;
    let snippets = |field| -> Option<SnippetGenerator> {
        let q = text_query.as_ref()?;
        SnippetGenerator::create(&searcher, q.as_ref(), field)
            .ok()
            .map(|mut g| {
                g.set_max_num_chars(240);
                g
            })
    };
    let model_snippets = snippets(f.model.statement);
    let ticket_snippets = snippets(f.ticket_public);
    let mut hits = Vec::with_capacity(top.len());
    for (score, address) in top {
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let kind = if text(f.kind) == "model" {
            "model"
        } else {
            "ticket"
        };
        let (title_field, body_field, generator) = match kind {
            "model" => (f.model.title, f.model.statement, &model_snippets),
            _ => (f.ticket_title, f.ticket_public, &ticket_snippets),
        };
        let snippet = match generator {
            Some(g) => {
                let s = g.snippet_from_doc(&doc);
                if s.fragment().is_empty() {
                    plain_snippet(&text(body_field))
                } else {
                    markdown::sanitize(&s.to_html())
                }
            }
            None => plain_snippet(&text(body_field)),
        };
        hits.push(Hit {
            kind,
            id: doc
                .get_first(f.id)
                .and_then(|v| v.as_i64())
                .unwrap_or_default(),
            key: text(f.model.key),
            title: text(title_field),
            snippet,
            status: text(f.status),
            score,
        });
    }
    Ok((hits, total))
}

/// The start of a text, escaped, when there is nothing to highlight.
pub fn plain_snippet(text: &str) -> SafeHtml {
    let mut cut: String = text.chars().take(240).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    markdown::escape(&cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_phrases_and_words_are_told_apart() {
        let p = parse(
            r#"disk "write ahead" key:db-disk-full category:database tag:"on call" status:published full"#,
        );
        assert_eq!(p.text, r#"disk "write ahead" full"#);
        assert_eq!(p.key.as_deref(), Some("db-disk-full"));
        assert_eq!(p.category.as_deref(), Some("database"));
        assert_eq!(p.tag.as_deref(), Some("on call"));
        assert_eq!(p.status.as_deref(), Some("published"));
    }

    #[test]
    fn quotes_make_phrases_everything_else_is_words() {
        assert_eq!(
            words_and_phrases(r#"disk "write ahead  log" ticket_internal:x [a TO z] "open"#),
            vec![
                "disk",
                "write ahead  log",
                "ticket_internal:x",
                "[a",
                "TO",
                "z]",
                "open"
            ]
        );
        assert!(words_and_phrases(r#" "" "#).is_empty());
    }

    #[test]
    fn unknown_filters_and_stray_characters_stay_text() {
        let p = parse(r#"error: "unterminated http://x"#);
        assert!(p.key.is_none());
        assert_eq!(p.text, r#"error: "unterminated http://x"#);
        assert!(parse("   ").is_empty());
        assert!(!parse("tag:x").is_empty());
    }
}
