//! Triage matching: suggest the incident model (run-book) that fits a free ticket/alert text.
//!
//! Written to drop into `src/search/`: it owns the tantivy schema ([`schema`], [`Fields`]), the
//! analyzers ([`register_analyzers`]), the document builder ([`document`]), the terms of a free
//! text ([`query_terms`]) and the search for them ([`TermsSearch::top`]). Nothing here panics on any
//! input.
//!
//! Default pipeline ([`Tuning::default`], tuned on `../shared/data/triage-dev` and checked on
//! `triage-dev-cnv`, with model titles as alert names and in words; `casebook eval-triage`):
//! * documents: `key` (stored, raw) and the analyzed fields `title`, `statement`, `steps`,
//!   `discussion`, and `all` (every text of the model as one field, the base of the score); plus
//!   `key_text`, indexed for the search page; `parts` (the parts of the model's CamelCase words
//!   only), `defines` (the abbreviations its text defines, see [`abbreviations`], [`initials`])
//!   and `has` (which optional fields it has text in);
//! * analyzer: [`IdentifierTokenizer`] (alphanumeric runs like tantivy's `SimpleTokenizer`; `_`
//!   and `-` split words, and a run of words joined by them is also given whole: `virt-controller`
//!   gives `virtcontroller virt controller`, as PostgreSQL's parser does with hyphenated words —
//!   the component a text names tells more than its parts, which many run-books share) +
//!   `RemoveLongFilter` + `LowerCaser` + English stop words + English stemmer. Documents keep
//!   `CamelCase` alert names whole (`cephosddown`); query texts also get
//!   their parts (`cephosddown ceph osd down`) — see [`Split`];
//! * query text: the label list of a notification's first line, host names and IP addresses
//!   ([`drop_notification_labels`], [`drop_addresses`]), then [`clean_alert_text`] (Alertmanager
//!   markers, label keys, generated ids out), the query analyzer, then one clause per distinct
//!   term and field, summed (BM25): `all` 1, statement 1, title 0.25, and title 8 more for a
//!   term that is a whole alert name ([`QueryTerms::names`]). Each field's words are weighed by
//!   the field's own statistics, so a title (short, every word rare among titles) gets a small
//!   weight: a big one let other models' titles win whenever a ticket shared no word with the
//!   right model's title. Adjacent words are also searched joined (`roll out` → `rollout`,
//!   weight 0.5), and those joined words alone search `parts`; a word written as an acronym
//!   adds the long forms the models define (`triage::expanded`), counted once with it;
//! * search ([`TermsSearch::top`]): the `all` clauses that can add at least a tenth of what the
//!   strongest can (their idf) pick 60 candidates, then every clause scores them.

use std::collections::HashMap;
use std::ops::Range;

mod sum;

pub use sum::Warmed;

use tantivy::collector::TopDocs;
use tantivy::query::{
    Bm25StatisticsProvider, BooleanQuery, BoostQuery, ConstScoreQuery, DisjunctionMaxQuery,
    EmptyQuery, EnableScoring, Occur, Query, Scorer, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, SchemaBuilder, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter, TextAnalyzer, Token,
    TokenStream, Tokenizer,
};
use tantivy::{DocAddress, DocSet, Index, Searcher, TantivyDocument, Term};

/// Name under which [`register_analyzers`] registers the analyzer of the text fields. The
/// name is part of the index schema, so it carries a version: change it whenever the analyzer
/// gives other tokens for the same text, and an existing index (built with the old tokens)
/// no longer matches the schema and is rebuilt on the next start (`SearchIndex::open`).
/// v2: words joined by `-` or `_` are also indexed whole.
pub const ANALYZER: &str = "casebook_en_v2";

/// Name of the analyzer of `key_text`: [`ANALYZER`] that always splits identifiers, so the key
/// `odf:CephOSDDown` is searchable by its words `ceph osd down`.
pub const KEY_ANALYZER: &str = "casebook_en_key_v2";

/// Name of the analyzer of [`Fields::parts`] (see [`parts_analyzer`]).
pub const PARTS_ANALYZER: &str = "casebook_en_parts_v1";

/// Tokens of this many bytes or more are dropped (tantivy's `en_stem` uses 40, which would drop
/// long alert names such as `CephMdsCPUUsageHighNeedsHorizontalScaling`).
const MAX_TOKEN_BYTES: usize = 100;

/// At most this many distinct terms go into one query (bounds the cost of a huge ticket text).
pub const MAX_QUERY_TERMS: usize = 512;

/// Every field of the triage index.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// The model key as stored, untokenized (`odf:CephClusterNearFull`): what a hit returns.
    pub key: Field,
    /// The key as analyzed text, identifiers split (`odf cephclusternearful ceph cluster near
    /// full`).
    pub key_text: Field,
    pub title: Field,
    /// Meaning (+ impact) of the run-book.
    pub statement: Field,
    /// Diagnosis / mitigation steps, one value per step.
    pub steps: Field,
    pub discussion: Field,
    /// Every text of the model (title, statement, steps, discussion) as one
    /// field: BM25 over the whole run-book, the base of the triage score and
    /// the field the candidates are picked on.
    pub all: Field,
    /// "Seen as": the customer-visible text of tickets the team linked to
    /// the model as resolved or helped by it, in the requesters' own words
    /// (see [`add_seen_as`]).
    pub seen_as: Field,
    /// The parts of the model's identifiers only (`DataVolume`, `Rollout`
    /// in `VirtHandlerDaemonSetRolloutFailing`: `data volum`, `rollout`),
    /// which `all` keeps whole: a lower-weighted clause of its own, so a
    /// ticket in words finds an identifier's parts without them counting as
    /// the model's prose (see [`PARTS_ANALYZER`]).
    pub parts: Field,
    /// The abbreviations the model's text defines, raw terms
    /// `short` [`DEFINES_SEP`] `long form's terms` (see [`abbreviations`]):
    /// never scored; the query looks them up (see [`defined_long_forms`]).
    pub defines: Field,
    /// Markers of the optional fields a model has text in (`seen_as`,
    /// `parts`): their doc frequency is how many models BM25's average
    /// length is taken over (see [`KindStatistics::having`]).
    pub has: Field,
}

/// Separates an abbreviation from its long form in a [`Fields::defines`]
/// term.
pub const DEFINES_SEP: char = '\u{1f}';

/// Knobs of the matcher. [`Tuning::default`] is the measured choice; the other values exist so
/// the evaluation program can compare variants on the same code.
#[derive(Clone, Debug, PartialEq)]
pub struct Tuning {
    /// Where CamelCase words and letter/digit runs are split into parts.
    pub split_identifiers: Split,
    /// When splitting, keep the whole word too (`cephclusternearfull` next to its parts).
    pub keep_compound: bool,
    /// Words joined by `-` or `_` (`virt-controller`, `device_class`) also
    /// give their joined form (`virtcontroller`), in documents and queries:
    /// the name of a component is more telling than its parts, which many
    /// run-books share (see [`IdentifierTokenizer::join`]).
    pub join_compounds: bool,
    /// English Snowball stemming.
    pub stem: bool,
    /// Drop English stop words.
    pub stop_words: bool,
    /// Store field norms (BM25 length normalisation; off behaves like BM25 `b = 0`).
    pub field_norms: bool,
    /// Drop Alertmanager noise from the query (`[FIRING:1]`, label keys of `key=value`).
    pub clean_query: bool,
    /// Which number/id-like words to drop from the query.
    pub drop_ids: IdFilter,
    /// Drop host names and IP addresses from the query (see
    /// [`drop_addresses`]).
    pub drop_addresses: bool,
    /// Drop the label values that an Alertmanager notification's first line
    /// lists in parentheses (see [`drop_notification_labels`]).
    pub drop_label_list: bool,
    /// Per-field boosts; a field with boost 0 is not searched.
    pub boosts: Boosts,
    /// How the per-field scores of one term are combined.
    pub combine: Combine,
    /// How a term repeated in the query text is weighted.
    pub query_tf: QueryTf,
    /// Candidates: a (term, field) clause whose most it can add to a score
    /// (boost × idf) is below this share of the query's strongest clause
    /// does not pick candidates (0: every clause does, in one stage). Such
    /// clauses are the common words of the long fields: they barely move
    /// the ranking but hold the longest postings.
    pub min_clause_share: f32,
    /// How many candidates the strong clauses pick for every clause to
    /// score (see [`TermsSearch::top`]).
    pub candidates: usize,
    /// Candidates are picked on the `all` field's clauses only (when it is
    /// searched), see [`TermsSearch::picking_on`].
    pub pick_on_all: bool,
    /// The second stage scores the `all` clauses as BM25F over the model's
    /// own fields (see [`Bm25f`]); `None`: plain BM25 over `all`.
    pub bm25f: Option<Bm25f>,
    /// Weight of the terms a query word that the models define as an
    /// abbreviation adds: its long form's words and their joined form
    /// (`PVC` → `persistent volume claim`, `persistentvolumeclaim`); 0: off.
    pub abbreviations: f32,
    /// Also take an identifier's initials as an abbreviation of its parts
    /// (`DataVolume` defines `DV`), as Kubernetes people write kinds.
    pub initials: bool,
    /// Weight of two adjacent query words joined (`roll out` →
    /// `rollout`), searched as one more term; 0: off.
    pub join_pairs: f32,
    /// The identifier parts ([`Fields::parts`]) are searched only by the
    /// words the query joined ([`Tuning::join_pairs`]): a ticket's `roll
    /// out` finds `Rollout` in `VirtHandlerDaemonSetRolloutFailing`, but its
    /// plain words do not match other models' alert names word by word.
    pub parts_joined_only: bool,
    /// BM25's average length of a field that only some models have
    /// (`seen_as`, `parts`) is over those models, not all of them.
    pub sparse_lengths: bool,
}

/// BM25F (Robertson, Zaragoza & Taylor 2004): a term's frequencies in the
/// fields of a model are weighted and length-normalised per field, summed,
/// and saturated once, with one idf (the term's rarity among models, over
/// their whole text). A word in a model's title and statement thus counts
/// more than one in its discussion, but a common word stays cheap wherever
/// it is: the weights never multiply an idf, so a title (short, its words
/// rare among titles) cannot outweigh rare words elsewhere.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bm25f {
    pub title: f32,
    pub statement: f32,
    pub steps: f32,
    pub discussion: f32,
    /// Saturation of the combined term frequency.
    pub k1: f32,
    /// Length normalisation of every field.
    pub b: f32,
}

impl Default for Bm25f {
    fn default() -> Self {
        Bm25f {
            title: 1.0,
            statement: 1.0,
            steps: 1.0,
            discussion: 1.0,
            k1: 1.2,
            b: 0.75,
        }
    }
}

impl Bm25f {
    /// The weighted fields, with the fields of a model.
    pub fn parts(&self, fields: &Fields) -> Vec<(Field, f32)> {
        [
            (fields.title, self.title),
            (fields.statement, self.statement),
            (fields.steps, self.steps),
            (fields.discussion, self.discussion),
        ]
        .into_iter()
        .filter(|(_, w)| *w > 0.0)
        .collect()
    }
}

/// Field boosts of the triage query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Boosts {
    pub key_text: f32,
    pub title: f32,
    pub statement: f32,
    pub steps: f32,
    pub discussion: f32,
    pub all: f32,
    pub seen_as: f32,
    /// The parts of the model's identifiers (see [`Fields::parts`]).
    pub parts: f32,
    /// Added to the title's boost for a query term that is an alert name
    /// (see [`QueryTerms::names`]).
    pub name: f32,
}

/// Combination of one term's scores over the fields.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Combine {
    /// Sum over the fields (a `Should` clause per field).
    Sum,
    /// Best field plus `tie` times the others.
    DisMax { tie: f32 },
}

/// Where identifiers are split (see [`identifier_parts`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Split {
    /// Nowhere.
    Off,
    /// In query texts only: an alert name in a ticket also searches its words, while a model's
    /// title stays one compound term.
    Query,
    /// In documents and queries.
    Both,
}

/// Number and id-like words dropped from a query text (see [`is_generated_id`], [`is_id_like`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IdFilter {
    /// Keep every word.
    Keep,
    /// Drop generated ids (`d33df6`, `b4b954789`, `97txd`); keep numbers and `10m`, `15s`.
    Generated,
    /// Drop every word holding a digit and no upper-case letter (`80`, `10m`, `d33df6`).
    All,
}

/// Weight of a term that occurs `n` times in the query text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QueryTf {
    /// Each distinct term once.
    Distinct,
    /// Boost `n`.
    Count,
    /// Boost `1 + ln n`.
    Log,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            split_identifiers: Split::Query,
            keep_compound: true,
            join_compounds: true,
            stem: true,
            stop_words: true,
            field_norms: true,
            clean_query: true,
            drop_ids: IdFilter::Generated,
            drop_addresses: true,
            drop_label_list: true,
            boosts: Boosts::default(),
            combine: Combine::Sum,
            query_tf: QueryTf::Distinct,
            min_clause_share: 0.1,
            candidates: 60,
            pick_on_all: true,
            bm25f: None,
            abbreviations: 1.0,
            initials: true,
            join_pairs: 0.5,
            parts_joined_only: true,
            sparse_lengths: true,
        }
    }
}

impl Default for Boosts {
    fn default() -> Self {
        Boosts {
            key_text: 0.0,
            title: 0.25,
            statement: 1.0,
            steps: 0.0,
            discussion: 0.0,
            all: 1.0,
            seen_as: 0.5,
            parts: 0.25,
            name: 8.0,
        }
    }
}

impl Boosts {
    pub fn per_field(&self, fields: &Fields) -> [(Field, f32); 8] {
        [
            (fields.key_text, self.key_text),
            (fields.title, self.title),
            (fields.statement, self.statement),
            (fields.steps, self.steps),
            (fields.discussion, self.discussion),
            (fields.all, self.all),
            (fields.seen_as, self.seen_as),
            (fields.parts, self.parts),
        ]
    }
}

/// The triage schema with the default tuning.
pub fn schema() -> (Schema, Fields) {
    schema_with(&Tuning::default())
}

/// The triage schema; only `tuning.field_norms` matters here.
pub fn schema_with(tuning: &Tuning) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = add_fields(&mut builder, tuning);
    (builder.build(), fields)
}

/// Adds the model text fields to a schema being built (the search index
/// adds its own fields beside them). Positions are kept so that the search
/// page can match phrases; the title and statement are stored for snippets.
pub fn add_fields(builder: &mut SchemaBuilder, tuning: &Tuning) -> Fields {
    let text_with = |analyzer: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions)
                .set_fieldnorms(tuning.field_norms),
        )
    };
    let text = text_with(ANALYZER);
    // No positions: `all` is only ever scored term by term.
    let all = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(tuning.field_norms),
    );
    Fields {
        key: builder.add_text_field("key", STRING | STORED),
        key_text: builder.add_text_field("key_text", text_with(KEY_ANALYZER)),
        title: builder.add_text_field("title", text.clone() | STORED),
        statement: builder.add_text_field("statement", text.clone() | STORED),
        steps: builder.add_text_field("steps", text.clone()),
        discussion: builder.add_text_field("discussion", text.clone()),
        all: builder.add_text_field("all", all.clone()),
        seen_as: builder.add_text_field("seen_as", all),
        parts: builder.add_text_field(
            "parts",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(PARTS_ANALYZER)
                    .set_index_option(IndexRecordOption::WithFreqs)
                    .set_fieldnorms(tuning.field_norms),
            ),
        ),
        defines: builder.add_text_field("defines", STRING),
        has: builder.add_text_field("has", STRING),
    }
}

/// Registers [`ANALYZER`] and [`KEY_ANALYZER`] (default tuning) on the index. Call before
/// indexing and searching.
pub fn register_analyzers(index: &Index) {
    register_analyzers_with(index, &Tuning::default());
}

/// Registers [`ANALYZER`] and [`KEY_ANALYZER`] built for `tuning`.
pub fn register_analyzers_with(index: &Index, tuning: &Tuning) {
    index
        .tokenizers()
        .register(ANALYZER, document_analyzer(tuning));
    index
        .tokenizers()
        .register(KEY_ANALYZER, analyzer(tuning, true));
    index
        .tokenizers()
        .register(PARTS_ANALYZER, parts_analyzer(tuning));
}

/// The analyzer of [`Fields::parts`]: only the parts of words that have
/// several [`identifier_parts`] (`DataVolume` gives `data volum`; `volume`
/// gives nothing).
pub fn parts_analyzer(tuning: &Tuning) -> TextAnalyzer {
    let tokenizer = IdentifierTokenizer {
        split: true,
        keep_compound: false,
        join: false,
        only_parts: true,
    };
    filtered(tokenizer, tuning)
}

/// The analyzer of every text field at indexing time.
pub fn document_analyzer(tuning: &Tuning) -> TextAnalyzer {
    analyzer(tuning, tuning.split_identifiers == Split::Both)
}

/// The analyzer of query texts: the document analyzer, but with identifier splitting unless
/// `tuning.split_identifiers` is [`Split::Off`].
pub fn query_analyzer(tuning: &Tuning) -> TextAnalyzer {
    analyzer(tuning, tuning.split_identifiers != Split::Off)
}

fn analyzer(tuning: &Tuning, split: bool) -> TextAnalyzer {
    let tokenizer = IdentifierTokenizer {
        split,
        keep_compound: tuning.keep_compound,
        join: tuning.join_compounds,
        only_parts: false,
    };
    filtered(tokenizer, tuning)
}

fn filtered(tokenizer: IdentifierTokenizer, tuning: &Tuning) -> TextAnalyzer {
    let mut builder = TextAnalyzer::builder(tokenizer)
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .dynamic();
    if tuning.stop_words
        && let Some(stop) = StopWordFilter::new(Language::English)
    {
        builder = builder.filter_dynamic(stop);
    }
    if tuning.stem {
        builder = builder.filter_dynamic(Stemmer::new(Language::English));
    }
    builder.build()
}

/// The text of one incident model, as indexed.
#[derive(Clone, Copy, Debug)]
pub struct ModelText<'a> {
    pub key: &'a str,
    pub title: &'a str,
    pub statement: &'a str,
    pub steps: &'a [String],
    pub discussion: &'a str,
}

/// The tantivy document of one incident model.
pub fn document(fields: &Fields, model: &ModelText<'_>) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(fields.key, model.key);
    doc.add_text(fields.key_text, model.key);
    doc.add_text(fields.title, model.title);
    doc.add_text(fields.statement, model.statement);
    for step in model.steps {
        doc.add_text(fields.steps, step);
    }
    doc.add_text(fields.discussion, model.discussion);
    doc.add_text(fields.all, model.title);
    doc.add_text(fields.all, model.statement);
    for step in model.steps {
        doc.add_text(fields.all, step);
    }
    doc.add_text(fields.all, model.discussion);
    let texts = || {
        [model.title, model.statement, model.discussion]
            .into_iter()
            .chain(model.steps.iter().map(String::as_str))
    };
    let mut has_parts = false;
    for text in texts() {
        doc.add_text(fields.parts, text);
        has_parts |= text
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| identifier_parts(w).len() > 1);
    }
    if has_parts {
        doc.add_text(fields.has, "parts");
    }
    let mut defined: Vec<String> = Vec::new();
    let mut analyzer = document_analyzer(&Tuning::default());
    for text in texts() {
        for (short, long) in abbreviations(text) {
            if let Some(term) = defines_term(&mut analyzer, &short, &long, "")
                && !defined.contains(&term)
            {
                defined.push(term);
            }
        }
        for (short, long) in initials(text) {
            if let Some(term) = defines_term(&mut analyzer, &short, &long, INITIALS_MARK)
                && !defined.contains(&term)
            {
                defined.push(term);
            }
        }
    }
    for term in defined {
        doc.add_text(fields.defines, term);
    }
    doc
}

/// Ends the long form of a [`Fields::defines`] term taken from an
/// identifier's initials (see [`initials`]), so that the query can leave
/// those out ([`Tuning::initials`]).
pub const INITIALS_MARK: &str = "\u{1f}i";

/// The [`Fields::defines`] term of `short` defined as `long`: the short
/// form lower-cased (a plural `s` after capitals dropped: `PVCs` → `pvc`),
/// the separator, the long form's analyzed terms; `None` when either
/// analyzes to nothing.
fn defines_term(
    analyzer: &mut TextAnalyzer,
    short: &str,
    long: &str,
    mark: &str,
) -> Option<String> {
    let key = abbreviation_key(short)?;
    // Kept as words (lower-cased), analyzed at query time, where the
    // joined form (`persistentvolumeclaim`) needs them unstemmed.
    let words: Vec<String> = long
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut stream = analyzer.token_stream(long);
    if words.is_empty() || !stream.advance() {
        return None;
    }
    Some(format!("{key}{DEFINES_SEP}{}{mark}", words.join(" ")))
}

/// The key an abbreviation is defined and looked up under: lower-cased,
/// and a plural `s` after two or more capitals dropped (`PVCs`, `VMIs`);
/// `None` unless it is 2 to 10 letters and digits with a letter.
pub fn abbreviation_key(short: &str) -> Option<String> {
    let chars: Vec<char> = short.chars().collect();
    let plural = chars.len() >= 3
        && chars.last() == Some(&'s')
        && chars[..chars.len() - 1]
            .iter()
            .all(|c| c.is_uppercase() || c.is_ascii_digit());
    let stem = if plural {
        &chars[..chars.len() - 1]
    } else {
        &chars[..]
    };
    let ok = (2..=10).contains(&stem.len())
        && stem.iter().all(|c| c.is_alphanumeric())
        && stem.iter().any(|c| c.is_alphabetic());
    ok.then(|| stem.iter().collect::<String>().to_lowercase())
}

/// The abbreviations a text defines, as (short, long) pairs: "long form
/// (SHORT)" and "SHORT (long form)", found as Schwartz and Hearst (2003) do:
/// the short form is 2 to 10 characters with a letter, one word, and its
/// characters are found in order in the long form, the first at the start
/// of a word, the long form taken from at most `min(|short| + 5,
/// 2 |short|)` words before the parenthesis.
pub fn abbreviations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(open) = rest.find('(') {
        let at = offset + open;
        let after = &text[at + 1..];
        offset = at + 1;
        rest = after;
        let Some(close) = after.find(')') else {
            break;
        };
        let inside = after[..close].trim().trim_matches('`').trim();
        let before = &text[..at];
        // The words before, back to the start of the sentence.
        let sentence_start = before
            .rfind(['.', ';', ':', '(', ')', '\n'])
            .map_or(0, |i| i + 1);
        let words: Vec<&str> = before[sentence_start..]
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| !w.is_empty())
            .collect();
        let inside_words: Vec<&str> = inside.split_whitespace().collect();
        if inside_words.len() == 1 {
            // long form (SHORT)
            let short = inside_words[0];
            if abbreviation_key(short).is_none() || !short.chars().any(char::is_uppercase) {
                continue;
            }
            let n = short.chars().count();
            let window = (n + 5).min(2 * n);
            let from = words.len().saturating_sub(window);
            if let Some(long) = long_form(short, &words[from..]) {
                out.push((short.to_owned(), long));
            }
        } else if inside_words.len() >= 2
            && let Some(short) = words.last()
            && abbreviation_key(short).is_some()
            && short.chars().filter(|c| c.is_uppercase()).count() >= 2
        {
            // SHORT (long form)
            let n = short.chars().count();
            let long: Vec<&str> = inside_words
                .iter()
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
                .filter(|w| !w.is_empty())
                .collect();
            if long.len() <= (n + 5).min(2 * n)
                && let Some(found) = long_form(short, &long)
                && found == long.join(" ").to_lowercase()
            {
                out.push(((*short).to_owned(), found));
            }
        }
    }
    out
}

/// Schwartz and Hearst's match of `short` in the words before it: each of
/// its letters and digits, last first, found going back through the words,
/// the first at a word's start; the long form runs from that word to the
/// end. `None` when it does not match or is not longer than the short form.
fn long_form(short: &str, words: &[&str]) -> Option<String> {
    let text = words.join(" ");
    let long: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let wanted: Vec<char> = short
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect();
    let mut l = long.len();
    for (s, c) in wanted.iter().enumerate().rev() {
        loop {
            if l == 0 {
                return None;
            }
            l -= 1;
            let word_start = l == 0 || !long[l - 1].is_alphanumeric();
            if long[l] == *c && (s > 0 || word_start) {
                break;
            }
        }
    }
    let start = long[..l]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let found: String = long[start..].iter().collect();
    let found_words = found.split_whitespace().count();
    let short_lower = short.to_lowercase();
    (found.chars().count() > short.chars().count()
        && found_words >= 1
        && !found.split_whitespace().any(|w| w == short_lower))
    .then_some(found)
}

/// The abbreviations a text's identifiers make of their initials: every
/// word of two to six parts, each a capitalised word (`DataVolume` → `DV`
/// for `Data Volume`, `PersistentVolumeClaim` → `PVC`).
pub fn initials(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let parts = identifier_parts(word);
        let capitalised = |p: &&str| {
            let mut chars = p.chars();
            chars.next().is_some_and(char::is_uppercase)
                && chars.clone().next().is_some()
                && chars.all(char::is_lowercase)
        };
        if (2..=6).contains(&parts.len()) && parts.iter().all(capitalised) {
            let short: String = parts.iter().filter_map(|p| p.chars().next()).collect();
            let pair = (short, parts.join(" "));
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// Adds the "seen as" texts of a model to its document: what requesters
/// wrote on tickets the team linked to it.
pub fn add_seen_as<S: AsRef<str>>(fields: &Fields, doc: &mut TantivyDocument, texts: &[S]) {
    let mut any = false;
    for text in texts {
        doc.add_text(fields.seen_as, text.as_ref());
        any |= !text.as_ref().trim().is_empty();
    }
    if any {
        doc.add_text(fields.has, "seen_as");
    }
}

/// The distinct analyzed terms of a query text with their counts, in order of first occurrence,
/// at most [`MAX_QUERY_TERMS`] of them.
pub fn query_terms(text: &str, tuning: &Tuning) -> Vec<(String, u32)> {
    query_terms_and_words(text, tuning).0
}

/// [`query_terms`], and for each term the word of the text it first came
/// from, lower-cased (so a person sees "replication", not the stem
/// "replic").
pub fn query_terms_and_words(text: &str, tuning: &Tuning) -> (Vec<(String, u32)>, Vec<String>) {
    let q = analyze_query(text, tuning);
    (q.terms, q.words)
}

/// The analyzed terms of a query text (see [`analyze_query`]).
#[derive(Clone, Debug, Default)]
pub struct QueryTerms {
    /// Distinct terms with their counts, in order of first occurrence.
    pub terms: Vec<(String, u32)>,
    /// For each term, the word of the text it first came from, lower-cased.
    pub words: Vec<String>,
    /// For each term, whether it is a whole identifier of several parts
    /// (`KubePodCrashLooping`, `virt_handler_down`): an alert name, which a
    /// model titled with it should match as a name, not as words.
    pub names: Vec<bool>,
    /// For each term, the weight of its clauses: 1 for the text's own
    /// words, less for what the analysis added (two words joined, the long
    /// form of an abbreviation).
    pub weights: Vec<f32>,
    /// For each term, whether the word it came from is written as an
    /// acronym (`PVC`, `DVs`, `VMIs`: two or more capitals, digits, a
    /// plural `s`), the only words looked up as abbreviations: `has` is
    /// not `HA`, nor `ocs` `OC`.
    pub acronyms: Vec<bool>,
    /// For each term, the term it spells otherwise and which spelling
    /// (`Some((root, n))`: a word of the `n`-th long form of the
    /// abbreviation at `root`); `None` for the text's own words.
    pub stands_for: Vec<Option<(usize, usize)>>,
    /// For each term, whether it is two of the text's words joined (see
    /// [`Tuning::join_pairs`]).
    pub joined: Vec<bool>,
    /// The abbreviations were looked up (see `triage::expanded`).
    pub expanded: bool,
}

/// True for a word written as an acronym (see [`QueryTerms::acronyms`]).
pub fn is_acronym(word: &str) -> bool {
    let stem = match word.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 2 => stem,
        _ => word,
    };
    stem.chars().filter(|c| c.is_uppercase()).count() >= 2
        && stem.chars().all(|c| c.is_uppercase() || c.is_ascii_digit())
}

impl QueryTerms {
    /// Adds `term` (from `word`) with `weight`, unless it is there already
    /// or the query holds [`MAX_QUERY_TERMS`].
    pub fn add(&mut self, term: String, word: String, weight: f32) {
        if term.is_empty()
            || self.terms.len() >= MAX_QUERY_TERMS
            || self.terms.iter().any(|(t, _)| *t == term)
        {
            return;
        }
        self.terms.push((term, 1));
        self.words.push(word);
        self.names.push(false);
        self.weights.push(weight);
        self.acronyms.push(false);
        self.stands_for.push(None);
        self.joined.push(false);
    }
}

/// The terms of a query text: [`clean_alert_text_with`] as `tuning` says,
/// then the query analyzer; at most [`MAX_QUERY_TERMS`] distinct terms.
pub fn analyze_query(text: &str, tuning: &Tuning) -> QueryTerms {
    let mut owned = None;
    if tuning.drop_label_list {
        owned = Some(drop_notification_labels(text));
    }
    if tuning.drop_addresses {
        owned = Some(drop_addresses(owned.as_deref().unwrap_or(text)));
    }
    if tuning.clean_query || tuning.drop_ids != IdFilter::Keep {
        let from = owned.as_deref().unwrap_or(text);
        owned = Some(clean_alert_text_with(
            from,
            tuning.clean_query,
            tuning.drop_ids,
        ));
    }
    let text = owned.as_deref().unwrap_or(text);
    let mut analyzer = query_analyzer(tuning);
    let mut stream = analyzer.token_stream(text);
    let mut out = QueryTerms::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    while stream.advance() {
        let token = stream.token();
        let term = &token.text;
        if term.is_empty() {
            continue;
        }
        if let Some(&at) = seen.get(term) {
            if let Some(entry) = out.terms.get_mut(at) {
                entry.1 = entry.1.saturating_add(1);
            }
        } else if out.terms.len() < MAX_QUERY_TERMS {
            seen.insert(term.clone(), out.terms.len());
            out.terms.push((term.clone(), 1));
            let word = text.get(token.offset_from..token.offset_to).unwrap_or(term);
            let parts = identifier_parts(word);
            let worded = parts.iter().filter(|p| p.chars().any(char::is_alphabetic));
            out.names.push(worded.count() > 1);
            out.words.push(word.to_lowercase());
            out.weights.push(1.0);
            out.acronyms.push(is_acronym(word));
            out.stands_for.push(None);
            out.joined.push(false);
        }
    }
    drop(stream);
    if tuning.join_pairs > 0.0 {
        for (joined, word) in joined_pairs(text, &mut analyzer) {
            let before = out.terms.len();
            out.add(joined, word, tuning.join_pairs);
            if out.terms.len() > before
                && let Some(last) = out.joined.last_mut()
            {
                *last = true;
            }
        }
    }
    out
}

/// Two adjacent words of a text (letters only, separated by spaces)
/// joined, analyzed as one word (`roll out` → `rollout`), with the two
/// words as written: a compound written apart in a ticket and together in a
/// run-book (`Rollout`, `timeout`, `login`).
fn joined_pairs(text: &str, analyzer: &mut TextAnalyzer) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    for pair in words.windows(2) {
        let [a, b] = pair else { continue };
        let letters = |w: &str| w.len() >= 2 && w.chars().all(char::is_alphabetic);
        if !(letters(a) && letters(b)) {
            continue;
        }
        let joined = format!("{a}{b}");
        let mut stream = analyzer.token_stream(&joined);
        let mut tokens = Vec::new();
        while stream.advance() {
            tokens.push(stream.token().text.clone());
        }
        if let [one] = tokens.as_slice() {
            out.push((one.clone(), format!("{a} {b}").to_lowercase()));
        }
    }
    out
}

/// BM25's inverse document frequency (as tantivy computes it).
pub fn idf(doc_freq: u64, doc_count: u64) -> f32 {
    let doc_freq = doc_freq.min(doc_count);
    let x = ((doc_count - doc_freq) as f32 + 0.5) / (doc_freq as f32 + 0.5);
    (1.0 + x).ln()
}

/// One (term, field) clause of a triage query.
#[derive(Clone, Debug)]
pub struct Clause {
    /// Which of the query's terms (an index into them).
    pub term: usize,
    pub target: Term,
    pub boost: f32,
    /// The most the clause can add to a score, boost × idf (BM25's term
    /// frequency part stays below 2.2 for every clause).
    pub most: f32,
}

impl Clause {
    /// The clause of query term `term` (`text`) over `field` with `boost`,
    /// or `None` where no document's `field` holds the term.
    fn over(
        stats: &dyn Bm25StatisticsProvider,
        doc_count: u64,
        term: usize,
        field: Field,
        text: &str,
        boost: f32,
    ) -> tantivy::Result<Option<Clause>> {
        let target = Term::from_field_text(field, text);
        let doc_freq = stats.doc_freq(&target)?;
        Ok((doc_freq > 0).then(|| Clause {
            term,
            target,
            boost,
            most: boost * idf(doc_freq, doc_count),
        }))
    }
}

/// The clauses of `terms` over `per_field` (field, boost) that can match:
/// a field with boost 0 or a term the field does not hold gives none.
pub fn clauses(
    per_field: &[(Field, f32)],
    terms: &[(String, u32)],
    tuning: &Tuning,
    stats: &dyn Bm25StatisticsProvider,
) -> tantivy::Result<Vec<Clause>> {
    weighted_clauses(per_field, terms, &[], tuning, stats)
}

/// [`clauses`], each term's boosts times its weight in `weights` (1 for a
/// term without one).
pub fn weighted_clauses(
    per_field: &[(Field, f32)],
    terms: &[(String, u32)],
    weights: &[f32],
    tuning: &Tuning,
    stats: &dyn Bm25StatisticsProvider,
) -> tantivy::Result<Vec<Clause>> {
    let doc_count = stats.total_num_docs()?;
    let mut out = Vec::new();
    for (at, (text, count)) in terms.iter().enumerate() {
        let weight = match tuning.query_tf {
            QueryTf::Distinct => 1.0,
            QueryTf::Count => *count as f32,
            QueryTf::Log => 1.0 + (*count as f32).ln(),
        } * weights.get(at).copied().unwrap_or(1.0);
        for &(field, boost) in per_field.iter().filter(|(_, boost)| *boost > 0.0) {
            out.extend(Clause::over(
                stats,
                doc_count,
                at,
                field,
                text,
                boost * weight,
            )?);
        }
    }
    Ok(out)
}

/// The clauses that may add at least `share` of what the strongest one may.
fn strong<'c>(clauses: &[&'c Clause], share: f32) -> Vec<&'c Clause> {
    let floor = clauses.iter().map(|c| c.most).fold(0.0, f32::max) * share;
    clauses
        .iter()
        .copied()
        .filter(|c| c.most >= floor)
        .collect()
}

/// The query of `clauses`, combined per term as `tuning.combine` says.
fn query_of(clauses: &[&Clause], tuning: &Tuning) -> Box<dyn Query> {
    let boosted = |c: &Clause| -> Box<dyn Query> {
        let query = TermQuery::new(c.target.clone(), IndexRecordOption::WithFreqs);
        Box::new(BoostQuery::new(Box::new(query), c.boost))
    };
    let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    match tuning.combine {
        // One flat union of boosted term queries: tantivy then scores it
        // with block-max WAND, skipping documents that cannot reach the top
        // hits (a nested clause would turn that off).
        Combine::Sum => out.extend(clauses.iter().map(|c| (Occur::Should, boosted(c)))),
        Combine::DisMax { tie } => {
            for group in clauses.chunk_by(|a, b| a.term == b.term) {
                let queries = group.iter().map(|c| boosted(c)).collect();
                let query = DisjunctionMaxQuery::with_tie_breaker(queries, tie);
                out.push((Occur::Should, Box::new(query)));
            }
        }
    }
    if out.is_empty() {
        return Box::new(EmptyQuery);
    }
    Box::new(BooleanQuery::new(out))
}

/// The OR of `terms`, each searched over `per_field` (field, boost) and
/// combined as `tuning.combine` says, scored with `stats`; clauses below
/// `min_share` of the strongest are left out (see [`clauses`]). Used for
/// models (the boosted model fields) and for tickets (their own fields). A
/// query without a usable clause matches nothing.
pub fn terms_query(
    per_field: &[(Field, f32)],
    terms: &[(String, u32)],
    tuning: &Tuning,
    stats: &dyn Bm25StatisticsProvider,
    min_share: f32,
) -> tantivy::Result<Box<dyn Query>> {
    let all = clauses(per_field, terms, tuning, stats)?;
    let all: Vec<&Clause> = all.iter().collect();
    Ok(query_of(&strong(&all, min_share), tuning))
}

/// A document found by [`TermsSearch::top`].
#[derive(Clone, Debug)]
pub struct Hit {
    pub score: f32,
    pub address: DocAddress,
    /// The query terms the document holds (indexes into the terms given),
    /// the one that adds most to the score first.
    pub matched: Vec<usize>,
    /// What each of `matched` adds to the score.
    pub contributions: Vec<f32>,
}

/// Readies the candidate stage for `searcher`: finds and keeps the most
/// each common word of the picking fields (`all`, "seen as", identifier
/// parts) can add in each of its segments not readied before, which a
/// search would otherwise find on the word's first use (see `sum::warm`).
pub fn warm(searcher: &Searcher, fields: &Fields) -> tantivy::Result<Warmed> {
    sum::warm(
        searcher,
        &[fields.all, fields.seen_as, fields.parts],
        sum::WARM_FROM_DOC_FREQ,
    )
}

/// The terms of a text over boosted fields (field, boost), scored with
/// `stats`: the top documents ([`TermsSearch::top`]) and the score of given
/// documents.
pub struct TermsSearch<'a> {
    searcher: &'a Searcher,
    stats: &'a dyn Bm25StatisticsProvider,
    tuning: &'a Tuning,
    terms: Vec<(String, u32)>,
    clauses: Vec<Clause>,
    /// Only these fields' clauses pick candidates (see
    /// [`TermsSearch::picking_on`]); none: every clause.
    pick: Vec<Field>,
    /// The clauses of this field are scored as BM25F over these weighted
    /// fields (see [`TermsSearch::bm25f_over`]).
    bm25f: Option<Bm25fSpec>,
    /// Per term, the term it is another spelling of and which spelling
    /// (see [`TermsSearch::with_alternatives`]).
    alternatives: Vec<Option<(usize, usize)>>,
}

/// Where BM25F applies: the clauses of `whole` (a field holding the text of
/// every part) are scored over the weighted `parts`.
struct Bm25fSpec {
    whole: Field,
    parts: Vec<(Field, f32)>,
    params: Bm25f,
}

impl<'a> TermsSearch<'a> {
    pub fn new(
        searcher: &'a Searcher,
        stats: &'a dyn Bm25StatisticsProvider,
        tuning: &'a Tuning,
        per_field: &[(Field, f32)],
        terms: &[(String, u32)],
    ) -> tantivy::Result<Self> {
        Self::weighted(searcher, stats, tuning, per_field, terms, &[])
    }

    /// [`TermsSearch::new`] with a weight per term (see
    /// [`weighted_clauses`]).
    pub fn weighted(
        searcher: &'a Searcher,
        stats: &'a dyn Bm25StatisticsProvider,
        tuning: &'a Tuning,
        per_field: &[(Field, f32)],
        terms: &[(String, u32)],
        weights: &[f32],
    ) -> tantivy::Result<Self> {
        Ok(TermsSearch {
            searcher,
            stats,
            tuning,
            terms: terms.to_vec(),
            clauses: weighted_clauses(per_field, terms, weights, tuning, stats)?,
            pick: Vec::new(),
            bm25f: None,
            alternatives: Vec::new(),
        })
    }

    /// The clauses of `whole` (a field holding the text of all `parts`) are
    /// scored as BM25F over `parts` (field, weight), with `whole`'s idf
    /// and their boost.
    pub fn bm25f_over(mut self, whole: Field, parts: Vec<(Field, f32)>, params: Bm25f) -> Self {
        if !parts.is_empty() {
            self.bm25f = Some(Bm25fSpec {
                whole,
                parts,
                params,
            });
        }
        self
    }

    /// Adds a clause over `field` with `boost` for every query term that is
    /// an alert name (`names`, see [`QueryTerms::names`]): a model titled
    /// `KubePodCrashLooping` is what a ticket naming that alert is about,
    /// however common the words of the name are.
    pub fn with_names(mut self, field: Field, boost: f32, names: &[bool]) -> tantivy::Result<Self> {
        if boost <= 0.0 {
            return Ok(self);
        }
        let doc_count = self.stats.total_num_docs()?;
        for (term, text) in names
            .iter()
            .zip(self.terms.iter())
            .enumerate()
            .filter(|(_, (name, _))| **name)
            .map(|(at, (_, (text, _)))| (at, text))
        {
            let clause = Clause::over(self.stats, doc_count, term, field, text, boost)?;
            self.clauses.extend(clause);
        }
        // Clauses stay grouped by term (see `score_candidates`).
        self.clauses.sort_by_key(|c| c.term);
        Ok(self)
    }

    /// Adds a clause over `field` with `boost` times the term's weight for
    /// every term that `which` marks (the identifier parts are searched only
    /// by words the query joined: see [`Tuning::parts_joined_only`]).
    pub fn with_field_for(
        mut self,
        field: Field,
        boost: f32,
        weights: &[f32],
        which: &[bool],
    ) -> tantivy::Result<Self> {
        if boost <= 0.0 {
            return Ok(self);
        }
        let doc_count = self.stats.total_num_docs()?;
        for (term, (text, _)) in self.terms.iter().enumerate() {
            if !which.get(term).copied().unwrap_or(false) {
                continue;
            }
            let boost = boost * weights.get(term).copied().unwrap_or(1.0);
            let clause = Clause::over(self.stats, doc_count, term, field, text, boost)?;
            self.clauses.extend(clause);
        }
        self.clauses.sort_by_key(|c| c.term);
        Ok(self)
    }

    /// Terms that spell another term otherwise (per term: `Some((root,
    /// spelling))`, see [`QueryTerms::stands_for`]) add, in the second
    /// stage, only what their spelling adds beyond the root's own score:
    /// the root counts once, by the best of its spellings (`PVC` or
    /// `persistent volume claim`), so a model that writes both is not
    /// counted twice.
    pub fn with_alternatives(mut self, alternatives: &[Option<(usize, usize)>]) -> Self {
        self.alternatives = alternatives.to_vec();
        self
    }

    /// The (term, field) clauses that score (`bench-search --stages`
    /// counts them).
    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }

    /// Candidates are picked by the clauses of `fields` only (when they have
    /// any): a field that holds every word of the others, such as the
    /// models' `all`, weighs each word by its rarity alone, so a right model
    /// whose words are in its steps is not left out because other models'
    /// titles (boosted, and rarer in the short title field) hold a word.
    pub fn picking_on(mut self, fields: &[Field]) -> Self {
        self.pick = fields.to_vec();
        self
    }

    /// The best `limit` documents that `filter` (which adds nothing to the
    /// score) lets through, best first.
    ///
    /// Two stages: the strong clauses alone (see [`Tuning::min_clause_share`])
    /// pick [`Tuning::candidates`] documents (see [`TermsSearch::candidates`]);
    /// then every clause scores those
    /// candidates. Over 100,000 models a long alert text would otherwise
    /// mean scoring most of them on dozens of common words. When fewer than
    /// `limit` documents hold a strong word, every clause picks.
    pub fn top(&self, limit: usize, filter: Option<&dyn Query>) -> tantivy::Result<Vec<Hit>> {
        let candidates = self.candidates(limit, filter)?;
        let mut hits = self.score(candidates)?;
        hits.sort_by(by_score);
        hits.truncate(limit);
        Ok(hits)
    }

    /// The best `limit` documents that `keep` lets through, best first:
    /// what taking [`TermsSearch::top`] of `limit`, then 4, 16… times as
    /// many documents until `limit` of them pass `keep` (or fewer are
    /// found than asked for) gives, but a set of candidates is picked and
    /// scored only once when a larger top picks the same ones (as it does
    /// unless the top outgrows [`Tuning::candidates`]). For the triage
    /// search, which leaves out retired models: a retired model among the
    /// first `limit` no longer means a second search.
    pub fn top_kept(
        &self,
        limit: usize,
        mut keep: impl FnMut(DocAddress) -> tantivy::Result<bool>,
    ) -> tantivy::Result<Vec<Hit>> {
        let mut picked = Picked::default();
        // The candidates last scored, and their hits, best first.
        let mut scored: Option<(Vec<DocAddress>, Vec<Hit>)> = None;
        // `keep`'s answer per document, asked once.
        let mut kept_at: HashMap<DocAddress, bool> = HashMap::new();
        let mut wanted = limit;
        loop {
            let candidates = self.candidates_picked(wanted, None, &mut picked)?;
            let hits = match scored.take() {
                Some((before, hits)) if before == candidates => (before, hits),
                _ => {
                    let mut hits = self.score(candidates.clone())?;
                    hits.sort_by(by_score);
                    (candidates, hits)
                }
            };
            let top = hits.1.get(..wanted.min(hits.1.len())).unwrap_or_default();
            let exhausted = top.len() < wanted;
            let mut kept = Vec::with_capacity(limit);
            for hit in top {
                let pass = match kept_at.get(&hit.address) {
                    Some(&pass) => pass,
                    None => {
                        let pass = keep(hit.address)?;
                        kept_at.insert(hit.address, pass);
                        pass
                    }
                };
                if pass {
                    kept.push(hit.clone());
                    if kept.len() == limit {
                        break;
                    }
                }
            }
            if kept.len() == limit || exhausted || limit == 0 {
                return Ok(kept);
            }
            scored = Some(hits);
            wanted = wanted.saturating_mul(4);
        }
    }

    /// The first stage of [`TermsSearch::top`]: the documents the strong
    /// clauses pick (in no particular order), which every clause then
    /// scores. Public so that the evaluation can measure how often the right
    /// document is among them.
    pub fn candidates(
        &self,
        limit: usize,
        filter: Option<&dyn Query>,
    ) -> tantivy::Result<Vec<DocAddress>> {
        self.candidates_picked(limit, filter, &mut Picked::default())
    }

    /// [`TermsSearch::candidates`], remembering in `picked` what each
    /// search of the clauses found, so that asking again with another
    /// `limit` that comes to the same search does not search again.
    fn candidates_picked(
        &self,
        limit: usize,
        filter: Option<&dyn Query>,
        picked: &mut Picked,
    ) -> tantivy::Result<Vec<DocAddress>> {
        let all = &self.clauses;
        if limit == 0 || all.is_empty() {
            return Ok(Vec::new());
        }
        let mut pickers: Vec<&Clause> = all
            .iter()
            .filter(|c| self.pick.is_empty() || self.pick.contains(&c.target.field()))
            .collect();
        if pickers.is_empty() {
            pickers = all.iter().collect();
        }
        let strong = strong(&pickers, self.tuning.min_clause_share);
        // The second stage may order the candidates otherwise than the
        // first (other fields, BM25F): it always gets some to choose from.
        let wanted = limit.max(self.tuning.candidates);
        let mut search = |every: bool, wanted: usize| -> tantivy::Result<Vec<DocAddress>> {
            if let Some((_, found)) = picked.0.iter().find(|(k, _)| *k == (every, wanted)) {
                return Ok(found.clone());
            }
            let all_clauses: Vec<&Clause>;
            let clauses: &[&Clause] = if every {
                all_clauses = all.iter().collect();
                &all_clauses
            } else {
                &strong
            };
            let found = if filter.is_none() && self.tuning.combine == Combine::Sum {
                self.top_by_sum(clauses, wanted)?
            } else {
                let terms = query_of(clauses, self.tuning);
                let query: Box<dyn Query> = match filter {
                    None => terms,
                    Some(filter) => Box::new(BooleanQuery::new(vec![
                        (Occur::Must, terms),
                        (
                            Occur::Must,
                            Box::new(ConstScoreQuery::new(filter.box_clone(), 0.0)),
                        ),
                    ])),
                };
                let top = TopDocs::with_limit(wanted).order_by_score();
                let found = self
                    .searcher
                    .search_with_statistics_provider(&*query, &top, self.stats)?;
                found.into_iter().map(|(_, address)| address).collect()
            };
            if filter.is_none() {
                picked.0.push(((every, wanted), found.clone()));
            }
            Ok(found)
        };
        let mut candidates = search(false, wanted)?;
        if candidates.len() < limit && strong.len() < all.len() {
            // Too few documents hold a strong word (a small index, or rare
            // words only): every clause picks, as a one-stage search would.
            candidates = search(true, limit)?;
        }
        Ok(candidates)
    }

    /// The `wanted` documents with the highest sum of `clauses`' scores
    /// (ties: the lower address first), as tantivy's top-docs search of
    /// their union finds them, but term at a time with exact MaxScore
    /// pruning (see [`sum`]).
    ///
    /// Block-max WAND (what tantivy does for the union) skips the documents
    /// that cannot reach the top, which pays when few do. A triage query is
    /// the opposite case: dozens of clauses of similar weight (the `all`
    /// and "seen as" fields, joined words) over models that share most of
    /// their words, so nearly every document could reach the top and WAND
    /// spent its time re-sorting its clauses at every document (measured:
    /// 70% of a triage search's time at 100,000 models).
    fn top_by_sum(&self, clauses: &[&Clause], wanted: usize) -> tantivy::Result<Vec<DocAddress>> {
        Ok(sum::top_by_sum(self.searcher, self.stats, clauses, wanted)?.0)
    }

    /// `docs` scored on every clause, in index order.
    pub fn score(&self, docs: Vec<DocAddress>) -> tantivy::Result<Vec<Hit>> {
        score_candidates(
            self.searcher,
            &self.clauses,
            self.tuning,
            self.stats,
            self.bm25f.as_ref(),
            &self.alternatives,
            docs,
        )
    }
}

/// What the searches of [`TermsSearch::candidates_picked`] found, per
/// (every clause or the strong ones, how many wanted).
#[derive(Default)]
struct Picked(Vec<((bool, usize), Vec<DocAddress>)>);

/// Moves `docs` to `doc` or the first document after it, unless it is
/// there or past it already (a doc set never goes back), and answers where
/// it stands: `doc` when it holds it.
pub(crate) fn advance_to<D: DocSet + ?Sized>(docs: &mut D, doc: tantivy::DocId) -> tantivy::DocId {
    if docs.doc() < doc {
        docs.seek(doc)
    } else {
        docs.doc()
    }
}

/// Best score first, then the lower address (the order of
/// [`TermsSearch::top`]).
fn by_score(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.address.cmp(&b.address))
}

/// BM25F scores of `clause` (a term of the whole-text field) for the sorted
/// `candidates`: the term's frequency in each part field, weighted and
/// normalised by that field's length, summed and saturated once, times the
/// whole-text idf and the clause's boost.
fn bm25f_scores(
    searcher: &Searcher,
    stats: &dyn Bm25StatisticsProvider,
    clause: &Clause,
    parts: &[(Field, f32)],
    params: &Bm25f,
    candidates: &[DocAddress],
) -> tantivy::Result<Vec<f32>> {
    let docs = stats.total_num_docs()?.max(1);
    let idf = idf(stats.doc_freq(&clause.target)?, docs);
    let text = clause
        .target
        .value()
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut tf = vec![0.0f32; candidates.len()];
    for &(field, weight) in parts {
        let average = (stats.total_num_tokens(field)? as f32 / docs as f32).max(1.0);
        let term = Term::from_field_text(field, &text);
        let mut segment: Option<(u32, Option<tantivy::postings::SegmentPostings>, _)> = None;
        for (row, address) in candidates.iter().enumerate() {
            if segment
                .as_ref()
                .is_none_or(|(ord, _, _)| *ord != address.segment_ord)
            {
                let reader = searcher.segment_reader(address.segment_ord);
                let postings = reader
                    .inverted_index(field)?
                    .read_postings(&term, IndexRecordOption::WithFreqs)?;
                let norms = reader.get_fieldnorms_reader(field)?;
                segment = Some((address.segment_ord, postings, norms));
            }
            let Some((_, Some(postings), norms)) = segment.as_mut() else {
                continue;
            };
            if advance_to(postings, address.doc_id) == address.doc_id {
                use tantivy::postings::Postings;
                let length = norms.fieldnorm(address.doc_id) as f32;
                let norm = 1.0 - params.b + params.b * length / average;
                if let Some(cell) = tf.get_mut(row) {
                    *cell += weight * postings.term_freq() as f32 / norm;
                }
            }
        }
    }
    Ok(tf
        .into_iter()
        .map(|tf| clause.boost * idf * tf * (params.k1 + 1.0) / (params.k1 + tf))
        .collect())
}

/// Scores `candidates` on every clause, one term scorer per clause and
/// segment seeking through them in index order.
fn score_candidates(
    searcher: &Searcher,
    clauses: &[Clause],
    tuning: &Tuning,
    stats: &dyn Bm25StatisticsProvider,
    bm25f: Option<&Bm25fSpec>,
    alternatives: &[Option<(usize, usize)>],
    mut candidates: Vec<DocAddress>,
) -> tantivy::Result<Vec<Hit>> {
    candidates.sort();
    // Per candidate, per clause: the clause's score, 0 when it misses.
    let mut scores = vec![vec![0.0f32; clauses.len()]; candidates.len()];
    let scoring = EnableScoring::enabled_from_statistics_provider(stats, searcher);
    for (at, clause) in clauses.iter().enumerate() {
        if let Some(spec) = bm25f
            && clause.target.field() == spec.whole
        {
            let column = bm25f_scores(
                searcher,
                stats,
                clause,
                &spec.parts,
                &spec.params,
                &candidates,
            )?;
            for (row, score) in scores.iter_mut().zip(column) {
                if let Some(cell) = row.get_mut(at) {
                    *cell = score;
                }
            }
            continue;
        }
        let query = TermQuery::new(clause.target.clone(), IndexRecordOption::WithFreqs);
        let weight = query.weight(scoring)?;
        let mut segment: Option<(u32, Box<dyn Scorer>)> = None;
        for (row, address) in candidates.iter().enumerate() {
            let scorer = match &mut segment {
                Some((ord, scorer)) if *ord == address.segment_ord => scorer,
                _ => {
                    let reader = searcher.segment_reader(address.segment_ord);
                    let scorer = weight.scorer(reader, clause.boost)?;
                    &mut segment.insert((address.segment_ord, scorer)).1
                }
            };
            if advance_to(scorer.as_mut(), address.doc_id) == address.doc_id
                && let Some(cell) = scores.get_mut(row).and_then(|r| r.get_mut(at))
            {
                *cell = scorer.score();
            }
        }
    }
    let hits = candidates
        .into_iter()
        .zip(scores)
        .map(|(address, row)| {
            let mut score = 0.0;
            let mut matched: Vec<(usize, f32)> = Vec::new();
            // (root, spelling, sum) of the alternative spellings; the terms
            // that count as themselves and what they add.
            let mut spellings: Vec<(usize, usize, f32)> = Vec::new();
            let (mut own, mut own_parts): (Vec<usize>, Vec<f32>) = (Vec::new(), Vec::new());
            let mut at = 0;
            for group in clauses.chunk_by(|a, b| a.term == b.term) {
                let part = row.get(at..at + group.len()).unwrap_or_default();
                at += group.len();
                let (sum, best) = part
                    .iter()
                    .fold((0.0f32, 0.0f32), |(s, b), &x| (s + x, b.max(x)));
                let part = match tuning.combine {
                    Combine::Sum => sum,
                    Combine::DisMax { tie } => best + tie * (sum - best),
                };
                if sum > 0.0 {
                    matched.extend(group.first().map(|c| (c.term, part)));
                }
                match group
                    .first()
                    .and_then(|c| alternatives.get(c.term).copied().flatten())
                {
                    Some((root, spelling)) => match spellings
                        .iter_mut()
                        .find(|(r, s, _)| *r == root && *s == spelling)
                    {
                        Some(entry) => entry.2 += part,
                        None => spellings.push((root, spelling, part)),
                    },
                    None => {
                        own.push(group.first().map_or(usize::MAX, |c| c.term));
                        own_parts.push(part);
                        score += part;
                    }
                }
            }
            // Each root counts by its best spelling.
            let mut roots: Vec<usize> = spellings.iter().map(|s| s.0).collect();
            roots.sort_unstable();
            roots.dedup();
            for root in roots {
                let best = spellings
                    .iter()
                    .filter(|s| s.0 == root)
                    .map(|s| s.2)
                    .fold(0.0f32, f32::max);
                let own_part = own
                    .iter()
                    .position(|&t| t == root)
                    .and_then(|at| own_parts.get(at).copied())
                    .unwrap_or(0.0);
                if best > own_part {
                    score += best - own_part;
                }
            }
            // Most contributing first (ties in query order).
            matched.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            Hit {
                score,
                address,
                matched: matched.iter().map(|m| m.0).collect(),
                contributions: matched.iter().map(|m| m.1).collect(),
            }
        })
        .collect();
    Ok(hits)
}

/// Scoring statistics of one kind of document in an index that holds
/// several: BM25's document count is that kind's, so a word in most models
/// weighs little even when a million tickets do not contain it.
pub struct KindStatistics<'a> {
    pub searcher: &'a Searcher,
    /// Documents of the kind (deleted ones included, as tantivy counts).
    pub docs: u64,
    /// Fields that only some documents of the kind have text in, with how
    /// many have (see [`KindStatistics::having`]).
    pub sparse: Vec<(Field, u64)>,
}

impl<'a> KindStatistics<'a> {
    /// The statistics of the documents that hold `kind` (such as
    /// `kind:model`).
    pub fn of(searcher: &'a Searcher, kind: &Term) -> tantivy::Result<Self> {
        Ok(KindStatistics {
            searcher,
            docs: searcher.doc_freq(kind)?,
            sparse: Vec::new(),
        })
    }

    /// `field`'s average length (BM25's length normalisation) is over the
    /// documents that hold `marker` (those with text in the field), not
    /// over every document of the kind: a model's "seen as" text, present
    /// for a few models, would otherwise look many times longer than the
    /// average and its words count for little.
    pub fn having(mut self, field: Field, marker: &Term) -> tantivy::Result<Self> {
        let having = self.searcher.doc_freq(marker)?;
        self.sparse.push((field, having));
        Ok(self)
    }
}

impl Bm25StatisticsProvider for KindStatistics<'_> {
    fn total_num_tokens(&self, field: Field) -> tantivy::Result<u64> {
        let tokens = Bm25StatisticsProvider::total_num_tokens(self.searcher, field)?;
        // tantivy divides by `total_num_docs`: scale so the quotient is the
        // average over the documents that have the field.
        match self.sparse.iter().find(|(f, _)| *f == field) {
            Some(&(_, having)) if having > 0 => {
                let docs = self.docs.max(1);
                Ok((tokens as u128 * docs as u128 / having as u128).min(u64::MAX as u128) as u64)
            }
            _ => Ok(tokens),
        }
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.docs.max(1))
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        self.searcher.doc_freq(term)
    }
}

/// Removes Alertmanager noise from an alert text (default tuning: markers, label keys and
/// id-like words). See [`clean_alert_text_with`].
pub fn clean_alert_text(text: &str) -> String {
    let tuning = Tuning::default();
    clean_alert_text_with(text, tuning.clean_query, tuning.drop_ids)
}

/// Removes Alertmanager noise from an alert text.
///
/// * `markers`: drops status markers such as `[FIRING:1]`, `[RESOLVED]` and the label keys of
///   `key=value` / `key="value"` pairs (the values stay);
/// * `ids`: drops number or id-like words (alphanumeric runs), see [`IdFilter`]. Identifiers in
///   CamelCase such as `ODFNodeMTULessThan9000` are always kept.
pub fn clean_alert_text_with(text: &str, markers: bool, ids: IdFilter) -> String {
    let text = if markers {
        drop_label_keys(&drop_status_markers(text))
    } else {
        text.to_string()
    };
    let drop: fn(&str) -> bool = match ids {
        IdFilter::Keep => return text,
        IdFilter::Generated => is_generated_id,
        IdFilter::All => is_id_like,
    };
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush_word(&mut out, &mut word, drop);
            out.push(c);
        }
    }
    flush_word(&mut out, &mut word, drop);
    out
}

fn flush_word(out: &mut String, word: &mut String, drop: fn(&str) -> bool) {
    if !drop(word) {
        out.push_str(word);
    } else {
        out.push(' ');
    }
    word.clear();
}

/// Replaces host names (`worker-0.ocp4.example.com`, two dots or more)
/// and IPv4 addresses, with an optional port, by a space: the node an
/// alert fired on says nothing about which run-book fits, and its parts
/// (`worker`, `example`, `com`) match run-books that happen to hold them.
pub fn drop_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_alphanumeric())
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        // A candidate: alphanumerics, dots, hyphens and colons.
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | ':')))
            .unwrap_or(rest.len());
        let piece = rest[..len].trim_end_matches(['.', ':', '-']);
        let piece_len = piece.len();
        if is_address(piece) {
            out.push(' ');
        } else {
            out.push_str(piece);
        }
        rest = &rest[piece_len..];
        // What was trimmed off the end is kept as it is.
        let tail = rest
            .find(|c: char| c.is_alphanumeric())
            .unwrap_or(rest.len());
        out.push_str(&rest[..tail]);
        rest = &rest[tail..];
    }
    out
}

fn is_address(piece: &str) -> bool {
    let host = piece.split(':').next().unwrap_or(piece);
    let labels: Vec<&str> = host.split('.').collect();
    let well_formed = labels
        .iter()
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if !well_formed || labels.len() < 3 {
        return false;
    }
    let numeric = |l: &&str| l.chars().all(|c| c.is_ascii_digit());
    let ipv4 = labels.len() == 4 && labels.iter().all(numeric);
    let host_name = labels.iter().any(|l| l.chars().any(char::is_alphabetic))
        && labels.last().is_some_and(|l| !numeric(l));
    ipv4 || host_name
}

/// Drops the parenthesized label values at the end of a notification's
/// first line (`[FIRING:1] KubePodCrashLooping (prod api-7d9 warning)`,
/// Alertmanager's default title): namespaces, pod and host names and the
/// severity, which the alert's own text repeats where they matter.
pub fn drop_notification_labels(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let head = line
            .trim_start()
            .get(..9)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let marked = head.starts_with("[firing") || head.starts_with("[resolved");
        let body = line.trim_end();
        match (n, marked, body.ends_with(')'), body.rfind('(')) {
            (0, true, true, Some(open)) => {
                out.push_str(&body[..open]);
                out.push_str(&line[body.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// True for a number or a generated id: holds a digit and no upper-case letter.
pub fn is_id_like(word: &str) -> bool {
    word.chars().any(|c| c.is_numeric()) && !word.chars().any(|c| c.is_uppercase())
}

/// True for a generated id: letters and digits mixed, no upper-case letter, and not a number
/// with a short unit suffix (`10m`, `15s`, `500ms` are not ids; `d33df6`, `97txd`, `ocp4` are).
pub fn is_generated_id(word: &str) -> bool {
    if !is_id_like(word) || !word.chars().any(char::is_alphabetic) {
        return false;
    }
    let digits = word.chars().take_while(|c| c.is_numeric()).count();
    let unit = word.chars().skip(digits).collect::<Vec<_>>();
    let number_with_unit = digits > 0 && unit.len() <= 2 && unit.iter().all(|c| c.is_alphabetic());
    !number_with_unit
}

/// Drops `[FIRING]`, `[FIRING:3]`, `[RESOLVED]`, `[RESOLVED:1]` (any case).
pub fn drop_status_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if is_status_marker(&after[..close]) => {
                out.push(' ');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_status_marker(inner: &str) -> bool {
    let (word, count) = match inner.split_once(':') {
        Some((word, count)) => (word, Some(count)),
        None => (inner, None),
    };
    let word = word.trim();
    (word.eq_ignore_ascii_case("firing") || word.eq_ignore_ascii_case("resolved"))
        && count.is_none_or(|c| c.trim().chars().all(|c| c.is_ascii_digit()))
}

/// Keeps the value of every `key=value` pair: `severity="critical" pod=x` gives `critical x`.
pub fn drop_label_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, piece) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match piece.split_once('=') {
            Some((key, value))
                if !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '"') =>
            {
                out.push_str(value.trim_matches(|c| c == '"' || c == ','));
            }
            _ => out.push_str(piece),
        }
    }
    out
}

/// The parts of an alphanumeric word: split at lower→upper (`cephCluster`), at the last upper
/// of an upper run followed by lower (`RBDClient` → `RBD Client`, but `PVCs` stays whole), and
/// between letters and digits (`Warning85`). A word without boundaries gives itself.
pub fn identifier_parts(word: &str) -> Vec<&str> {
    identifier_part_ranges(word)
        .into_iter()
        .filter_map(|r| word.get(r))
        .collect()
}

/// Byte ranges of [`identifier_parts`] within `word`.
pub fn identifier_part_ranges(word: &str) -> Vec<Range<usize>> {
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, pair) in chars.windows(2).enumerate() {
        let [(_, prev), (at, cur)] = *pair else {
            continue;
        };
        let next = chars.get(i + 2).map(|&(_, c)| c);
        let plural_s = next == Some('s') && i + 3 == chars.len();
        let boundary = (prev.is_lowercase() && cur.is_uppercase())
            || (prev.is_alphabetic() && cur.is_numeric())
            || (prev.is_numeric() && cur.is_alphabetic())
            || (prev.is_uppercase()
                && cur.is_uppercase()
                && next.is_some_and(char::is_lowercase)
                && !plural_s);
        if boundary {
            parts.push(start..at);
            start = at;
        }
    }
    parts.push(start..word.len());
    parts
}

/// Text form of the identifier splitting, for engines without the custom tokenizer (e.g. the
/// PostgreSQL baseline): every word with several [`identifier_parts`] is followed by its parts
/// (`CephOSDDown` gives `CephOSDDown Ceph OSD Down`).
pub fn expand_identifiers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut word_start: Option<usize> = None;
    let expand = |out: &mut String, word: &str| {
        out.push_str(word);
        let parts = identifier_parts(word);
        if parts.len() > 1 {
            for part in parts {
                out.push(' ');
                out.push_str(part);
            }
        }
    };
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), word_start) {
            (true, None) => word_start = Some(at),
            (false, start) => {
                if let Some(from) = start {
                    expand(&mut out, &text[from..at]);
                    word_start = None;
                }
                out.push(c);
            }
            _ => {}
        }
    }
    if let Some(from) = word_start {
        expand(&mut out, &text[from..]);
    }
    out
}

/// Tokenizer: alphanumeric runs (as tantivy's `SimpleTokenizer`), each followed by its
/// [`identifier_parts`] when it has more than one (and `split` is on). With `keep_compound`
/// off, a split word gives its parts only.
#[derive(Clone, Debug, Default)]
pub struct IdentifierTokenizer {
    pub split: bool,
    pub keep_compound: bool,
    /// A run of words joined by single `-` or `_` (each holding a letter)
    /// is first given whole, without the joiners, at the position of its
    /// first word (so a phrase of its words still matches), then word by
    /// word: `virt-controller` gives `virtcontroller virt controller`.
    pub join: bool,
    /// Only the parts of a word with several parts; nothing for other
    /// words (see [`parts_analyzer`]).
    pub only_parts: bool,
}

/// Token stream of [`IdentifierTokenizer`].
pub struct IdentifierTokenStream {
    tokens: std::vec::IntoIter<Token>,
    current: Token,
}

impl Tokenizer for IdentifierTokenizer {
    type TokenStream<'a> = IdentifierTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> IdentifierTokenStream {
        let mut tokens = Vec::new();
        let mut position = 0usize;
        let push = |tokens: &mut Vec<Token>, position: &mut usize, from: usize, to: usize| {
            tokens.push(Token {
                offset_from: from,
                offset_to: to,
                position: *position,
                text: text.get(from..to).unwrap_or_default().to_string(),
                position_length: 1,
            });
            *position += 1;
        };
        let emit_word = |tokens: &mut Vec<Token>, position: &mut usize, from: usize, to: usize| {
            let word = text.get(from..to).unwrap_or_default();
            let parts = if self.split {
                identifier_part_ranges(word)
            } else {
                Vec::new()
            };
            if self.only_parts && parts.len() <= 1 {
                return;
            }
            if parts.len() <= 1 || self.keep_compound {
                push(tokens, position, from, to);
            }
            if parts.len() > 1 {
                for part in parts {
                    push(tokens, position, from + part.start, from + part.end);
                }
            }
        };
        // The words of a run joined by `-`/`_`: (from, to) each.
        let mut run: Vec<(usize, usize)> = Vec::new();
        let join = self.join;
        let end_run =
            |tokens: &mut Vec<Token>, position: &mut usize, run: &mut Vec<(usize, usize)>| {
                let worded = run.iter().all(|&(f, t)| {
                    text.get(f..t)
                        .is_some_and(|w| w.chars().any(char::is_alphabetic))
                });
                if join && run.len() > 1 && worded {
                    let joined: String = run.iter().filter_map(|&(f, t)| text.get(f..t)).collect();
                    let (from, to) = (run[0].0, run[run.len() - 1].1);
                    tokens.push(Token {
                        offset_from: from,
                        offset_to: to,
                        position: *position,
                        text: joined,
                        position_length: 1,
                    });
                }
                for (from, to) in run.drain(..) {
                    emit_word(tokens, position, from, to);
                }
            };
        let mut word_start: Option<usize> = None;
        for (at, c) in text.char_indices() {
            match (c.is_alphanumeric(), word_start) {
                (true, None) => word_start = Some(at),
                (false, Some(from)) => {
                    run.push((from, at));
                    word_start = None;
                    let joiner = matches!(c, '-' | '_');
                    let next_is_word = text
                        .get(at + 1..)
                        .and_then(|rest| rest.chars().next())
                        .is_some_and(char::is_alphanumeric);
                    if !(joiner && next_is_word) {
                        end_run(&mut tokens, &mut position, &mut run);
                    }
                }
                (false, None) => {}
                (true, Some(_)) => {}
            }
        }
        if let Some(from) = word_start {
            run.push((from, text.len()));
        }
        end_run(&mut tokens, &mut position, &mut run);
        IdentifierTokenStream {
            tokens: tokens.into_iter(),
            current: Token::default(),
        }
    }
}

impl TokenStream for IdentifierTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.next() {
            Some(token) => {
                self.current = token;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::schema::Value;

    /// The terms of the text's own words (not the joined pairs).
    fn terms(text: &str) -> Vec<String> {
        let q = analyze_query(text, &Tuning::default());
        q.terms
            .into_iter()
            .zip(q.weights)
            .filter(|(_, w)| *w == 1.0)
            .map(|((t, _), _)| t)
            .collect()
    }

    #[test]
    fn splits_camel_case() {
        assert_eq!(
            identifier_parts("CephClusterWarningState"),
            ["Ceph", "Cluster", "Warning", "State"]
        );
        assert_eq!(
            identifier_parts("ODFRBDClientBlocked"),
            ["ODFRBD", "Client", "Blocked"]
        );
        assert_eq!(
            identifier_parts("ODFNodeMTULessThan9000"),
            ["ODF", "Node", "MTU", "Less", "Than", "9000"]
        );
        assert_eq!(identifier_parts("PVCs"), ["PVCs"]);
        assert_eq!(identifier_parts("cephCluster"), ["ceph", "Cluster"]);
        assert_eq!(identifier_parts("storage"), ["storage"]);
        assert_eq!(identifier_parts(""), [""]);
        assert_eq!(identifier_parts("OSDs"), ["OSDs"]);
        assert_eq!(identifier_parts("10m"), ["10", "m"]);
        assert_eq!(identifier_parts("É"), ["É"]);
        assert_eq!(
            expand_identifiers("[x] CephOSDDown, ok_go"),
            "[x] CephOSDDown Ceph OSD Down, ok_go"
        );
    }

    #[test]
    fn abbreviations_the_text_defines() {
        assert_eq!(
            abbreviations(
                "It imports the images into persistent volume claims (PVCs) or snapshots. \
                 The Containerized Data Importer (CDI) and the HCO (HyperConverged Cluster \
                 Operator) run; see (`virt-handler`) and (the docs)."
            ),
            [
                ("PVCs".to_owned(), "persistent volume claims".to_owned()),
                ("CDI".to_owned(), "containerized data importer".to_owned()),
                (
                    "HCO".to_owned(),
                    "hyperconverged cluster operator".to_owned()
                ),
            ]
        );
        // The first letter must start a word of the long form.
        assert!(abbreviations("a simple ring (IR) here").is_empty());
        assert!(abbreviations("(X)").is_empty());
        assert_eq!(abbreviation_key("PVCs").as_deref(), Some("pvc"));
        assert_eq!(abbreviation_key("CDI").as_deref(), Some("cdi"));
        assert_eq!(abbreviation_key("pods").as_deref(), Some("pods"));
        assert_eq!(abbreviation_key("A"), None);
        assert_eq!(
            initials("a `DataVolume` and PersistentVolumeClaim, not CephOSDDown or pods"),
            [
                ("DV".to_owned(), "Data Volume".to_owned()),
                ("PVC".to_owned(), "Persistent Volume Claim".to_owned()),
            ]
        );
    }

    #[test]
    fn a_model_document_holds_its_identifiers_parts_and_definitions() -> tantivy::Result<()> {
        let (searcher, fields) = searcher_over(&[(
            "k:a",
            "VirtHandlerDaemonSetRolloutFailing",
            "The persistent volume claim (PVC) of a `DataVolume` is pending.",
        )])?;
        let has = |field: Field, text: &str| -> tantivy::Result<bool> {
            Ok(searcher.doc_freq(&Term::from_field_text(field, text))? > 0)
        };
        assert!(has(fields.parts, "rollout")?);
        assert!(has(fields.parts, "volum")?);
        assert!(!has(fields.parts, "pend")?);
        assert!(!has(fields.all, "rollout")?);
        let sep = DEFINES_SEP;
        assert!(has(
            fields.defines,
            &format!("pvc{sep}persistent volume claim")
        )?);
        assert!(has(
            fields.defines,
            &format!("dv{sep}data volume{INITIALS_MARK}")
        )?);
        assert!(has(fields.has, "parts")?);
        assert!(!has(fields.has, "seen_as")?);
        Ok(())
    }

    #[test]
    fn adjacent_words_are_also_searched_joined_with_less_weight() {
        let tuning = Tuning::default();
        let q = analyze_query("Some pods failed to roll out", &tuning);
        let at = q.terms.iter().position(|(t, _)| t == "rollout");
        let Some(at) = at else {
            panic!("no joined term in {:?}", q.terms)
        };
        assert_eq!(q.words[at], "roll out");
        assert_eq!(q.weights[at], tuning.join_pairs);
        // The text's own words (`to` is a stop word) weigh 1.
        assert_eq!(q.weights.iter().filter(|w| **w == 1.0).count(), 5);
        let off = Tuning {
            join_pairs: 0.0,
            ..Tuning::default()
        };
        assert!(
            !analyze_query("roll out", &off)
                .terms
                .iter()
                .any(|(t, _)| t == "rollout")
        );
    }

    #[test]
    fn analyzer_keeps_compound_and_parts() {
        assert_eq!(
            terms("CephClusterNearFull"),
            ["cephclusternearful", "ceph", "cluster", "near", "full"]
        );
        assert_eq!(
            terms("device_class rook-ceph"),
            ["deviceclass", "devic", "class", "rookceph", "rook", "ceph"]
        );
        assert_eq!(terms("The OSDs are down"), ["osd", "down"]);
    }

    #[test]
    fn joined_words_are_also_given_whole_at_the_first_words_position() {
        let mut analyzer = document_analyzer(&Tuning::default());
        let mut stream = analyzer.token_stream("No ready virt-controller, device_class x-1 a-");
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((t.text.clone(), t.position));
        }
        let expected = [
            ("readi", 1),
            ("virtcontrol", 2),
            ("virt", 2),
            ("control", 3),
            ("deviceclass", 4),
            ("devic", 4),
            ("class", 5),
            ("x", 6),
            ("1", 7),
        ];
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        assert_eq!(out, expected);
        // Off: the words only.
        let tuning = Tuning {
            join_compounds: false,
            ..Tuning::default()
        };
        assert_eq!(
            query_terms("virt-controller", &tuning)
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>(),
            ["virt", "control"]
        );
    }

    #[test]
    fn documents_keep_alert_names_whole_queries_split_them() {
        let tuning = Tuning::default();
        let tokens = |mut analyzer: TextAnalyzer, text: &str| {
            let mut out = Vec::new();
            let mut stream = analyzer.token_stream(text);
            while stream.advance() {
                out.push(stream.token().text.clone());
            }
            out
        };
        assert_eq!(
            tokens(document_analyzer(&tuning), "CephOSDDown"),
            ["cephosddown"]
        );
        assert_eq!(
            tokens(query_analyzer(&tuning), "CephOSDDown"),
            ["cephosddown", "ceph", "osd", "down"]
        );
    }

    #[test]
    fn cleans_alertmanager_noise() {
        let text = "[FIRING:1] CephOSDDown (rook-ceph-osd-6-b4b954789-97txd warning)\nOSD down 10m";
        let cleaned = clean_alert_text(text);
        assert!(!cleaned.contains("FIRING"));
        assert!(!cleaned.contains("b4b954789"));
        assert!(cleaned.contains("10m"));
        assert!(!clean_alert_text_with(text, true, IdFilter::All).contains("10m"));
        assert!(cleaned.contains("CephOSDDown"));
        assert!(cleaned.contains("rook-ceph-osd"));
        assert_eq!(
            drop_status_markers("[RESOLVED] a [x] b [FIRING]"),
            "  a [x] b  "
        );
        assert_eq!(drop_status_markers("[FIRING:1"), "[FIRING:1");
        assert_eq!(
            drop_label_keys("alertname=Foo severity=\"critical\" a=b=c x = y"),
            "Foo critical b=c x = y"
        );
        assert_eq!(
            drop_addresses("node worker-0.ocp4.example.com (10.0.3.7:9100) at 99.5% and osd.0 up."),
            "node   ( ) at 99.5% and osd.0 up."
        );
        assert_eq!(drop_addresses("see docs.example.org."), "see  .");
        assert_eq!(drop_addresses("v1.2.3 ok"), "v1.2.3 ok");
        assert_eq!(
            drop_notification_labels("[FIRING:1] CephOSDDown (osd-6 warning)\nOSD (6) down (x)"),
            "[FIRING:1] CephOSDDown \nOSD (6) down (x)"
        );
        assert_eq!(drop_notification_labels("CPU (high)"), "CPU (high)");
        let q = analyze_query(
            "KubePodCrashLooping: pod api-7 restarts 10m",
            &Tuning::default(),
        );
        let names: Vec<&str> = q
            .terms
            .iter()
            .zip(&q.names)
            .filter(|(_, n)| **n)
            .map(|(t, _)| t.0.as_str())
            .collect();
        assert_eq!(names, ["kubepodcrashloop"]);
        assert!(is_id_like("d33df6"));
        assert!(is_id_like("80"));
        assert!(!is_id_like("Warning85"));
        assert!(!is_id_like("storage"));
        assert!(is_generated_id("d33df6"));
        assert!(is_generated_id("97txd"));
        assert!(!is_generated_id("80"));
        assert!(!is_generated_id("10m"));
        assert!(!is_generated_id("500ms"));
        assert!(!is_generated_id("Warning85"));
    }

    /// A searcher over `models` (key, title, statement) in a fresh index.
    fn searcher_over(models: &[(&str, &str, &str)]) -> tantivy::Result<(Searcher, Fields)> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        register_analyzers(&index);
        let mut writer = index.writer_with_num_threads(1, 15_000_000)?;
        let steps = vec!["Check the pods and the logs.".to_string()];
        for (key, title, statement) in models {
            writer.add_document(document(
                &fields,
                &ModelText {
                    key,
                    title,
                    statement,
                    steps: &steps,
                    discussion: "",
                },
            ))?;
        }
        writer.commit()?;
        Ok((index.reader()?.searcher(), fields))
    }

    fn search(searcher: &Searcher, fields: &Fields, text: &str, tuning: &Tuning) -> Vec<Hit> {
        search_top(searcher, fields, text, tuning, 10)
    }

    fn search_top(
        searcher: &Searcher,
        fields: &Fields,
        text: &str,
        tuning: &Tuning,
        limit: usize,
    ) -> Vec<Hit> {
        let terms = query_terms(text, tuning);
        let per_field = tuning.boosts.per_field(fields);
        let search = TermsSearch::new(searcher, searcher, tuning, &per_field, &terms);
        match search.and_then(|search| search.top(limit, None)) {
            Ok(hits) => hits,
            Err(e) => panic!("search failed: {e}"),
        }
    }

    fn key_of(searcher: &Searcher, fields: &Fields, hit: &Hit) -> String {
        let doc: TantivyDocument = match searcher.doc(hit.address) {
            Ok(doc) => doc,
            Err(e) => panic!("no document: {e}"),
        };
        doc.get_first(fields.key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn no_panic_on_odd_input() -> tantivy::Result<()> {
        let (searcher, fields) = searcher_over(&[("k:a", "CephOSDDown", "An OSD is down.")])?;
        let tuning = Tuning::default();
        for text in [
            "",
            "   ",
            "!!!,,,;;;[[[]]]",
            "[",
            "]",
            "=",
            "[FIRING:",
            "😀 ü ß 中文",
        ] {
            let _ = search(&searcher, &fields, text, &tuning);
            let _ = clean_alert_text(text);
        }
        let big = "CephOSDDown pod=rook-ceph-osd-0 ".repeat(40_000);
        assert!(big.len() > 1_000_000);
        assert_eq!(search(&searcher, &fields, &big, &tuning).len(), 1);
        let punct = "!?.,;:".repeat(200_000);
        assert!(terms(&punct).is_empty());
        let many: String = (0..5_000).map(|i| format!("word{}x ", i)).collect();
        let t = query_terms(
            &many,
            &Tuning {
                drop_ids: IdFilter::Keep,
                ..Tuning::default()
            },
        );
        assert!(t.len() <= MAX_QUERY_TERMS);
        Ok(())
    }

    #[test]
    fn ranks_the_matching_model_first() -> tantivy::Result<()> {
        let (searcher, fields) = searcher_over(&[
            (
                "odf:CephOSDDown",
                "CephOSDDown",
                "An OSD has been marked down.",
            ),
            (
                "odf:CephClusterNearFull",
                "CephClusterNearFull",
                "Storage cluster utilization has crossed 75%.",
            ),
        ])?;
        let tuning = Tuning::default();
        let text = "[FIRING:1] storage is nearly full, utilization 80%";
        let hits = search(&searcher, &fields, text, &tuning);
        assert_eq!(
            hits.first()
                .map(|h| key_of(&searcher, &fields, h))
                .as_deref(),
            Some("odf:CephClusterNearFull")
        );
        // The words the model holds, as indexes into the query's terms.
        let terms = query_terms(text, &tuning);
        let matched: Vec<&str> = hits[0]
            .matched
            .iter()
            .map(|&at| terms[at].0.as_str())
            .collect();
        // `near` and `full` are parts of the model's title, which the
        // identifier-parts field holds.
        assert_eq!(matched, ["storag", "util", "near", "full"]);
        let big = "[FIRING:1] CephOSDDown osd=rook-ceph-osd-0 ".repeat(30_000);
        assert!(!search(&searcher, &fields, &big, &tuning).is_empty());
        assert!(search(&searcher, &fields, "!!!", &tuning).is_empty());
        Ok(())
    }

    /// `top_kept` gives what taking ever larger tops until enough pass the
    /// filter gave (the triage search's retired models), whatever the limit
    /// and however many are filtered out, candidates past the stage's
    /// count included.
    #[test]
    fn top_kept_is_the_first_kept_of_ever_larger_tops() -> tantivy::Result<()> {
        let words = ["replication", "lag", "disk", "full", "primary", "host"];
        let models: Vec<(String, String, String)> = (0..200usize)
            .map(|n| {
                (
                    format!("m:{n}"),
                    format!("{} {} {n}", words[n % 6], words[(n / 6) % 6]),
                    format!("The {} is {}.", words[(n / 3) % 6], words[n % 5]),
                )
            })
            .collect();
        let refs: Vec<(&str, &str, &str)> = models
            .iter()
            .map(|(k, t, s)| (k.as_str(), t.as_str(), s.as_str()))
            .collect();
        let (searcher, fields) = searcher_over(&refs)?;
        let tuning = Tuning {
            candidates: 20,
            ..Tuning::default()
        };
        let terms = query_terms("replication lag on the primary disk", &tuning);
        let per_field = tuning.boosts.per_field(&fields);
        let search = TermsSearch::new(&searcher, &searcher, &tuning, &per_field, &terms)?;
        for every in [1, 2, 3, 7, 50] {
            // Every `every`-th document passes (1: all of them).
            let pass = |a: DocAddress| a.doc_id % every == 0;
            for limit in [1, 5, 10] {
                let mut wanted = limit;
                let expected: Vec<DocAddress> = loop {
                    let top = search.top(wanted, None)?;
                    let exhausted = top.len() < wanted;
                    let kept: Vec<DocAddress> = top
                        .iter()
                        .map(|h| h.address)
                        .filter(|&a| pass(a))
                        .take(limit)
                        .collect();
                    if kept.len() == limit || exhausted {
                        break kept;
                    }
                    wanted *= 4;
                };
                let got: Vec<DocAddress> = search
                    .top_kept(limit, |a| Ok(pass(a)))?
                    .iter()
                    .map(|h| h.address)
                    .collect();
                assert_eq!(got, expected, "every {every}, limit {limit}");
            }
        }
        Ok(())
    }

    /// The candidate stage's term-at-a-time sum picks what tantivy's own
    /// top-docs search of the clauses' union picks (compared by score, as
    /// equal models tie), over several segments, and never a deleted model.
    #[test]
    fn candidates_are_the_top_documents_of_the_union() -> tantivy::Result<()> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        register_analyzers(&index);
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let steps = vec!["Check the pods and the logs.".to_string()];
        let words = [
            "replication",
            "lag",
            "disk",
            "full",
            "primary",
            "host",
            "slow",
        ];
        for n in 0..300usize {
            let title = format!("{} {} on host {n}", words[n % 7], words[(n / 7) % 7]);
            let statement = format!("The {} service is {}.", words[(n / 3) % 7], words[n % 5]);
            let key = format!("m:{n}");
            writer.add_document(document(
                &fields,
                &ModelText {
                    key: &key,
                    title: &title,
                    statement: &statement,
                    steps: &steps,
                    discussion: "",
                },
            ))?;
            if n % 100 == 99 {
                writer.commit()?;
            }
        }
        // The best model of the query below, deleted.
        writer.delete_term(Term::from_field_text(fields.key, "m:0"));
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        assert!(searcher.segment_readers().len() > 1);
        let tuning = Tuning {
            min_clause_share: 0.0,
            ..Tuning::default()
        };
        let text = "replication lag on the primary host, disk full";
        let terms = query_terms(text, &tuning);
        let per_field = tuning.boosts.per_field(&fields);
        let search = TermsSearch::new(&searcher, &searcher, &tuning, &per_field, &terms)?;
        let query = terms_query(&per_field, &terms, &tuning, &searcher, 0.0)?;
        for limit in [1, 7, 50, 400] {
            let picked = search.candidates(limit, None)?;
            let wanted = limit.max(tuning.candidates);
            let expected =
                searcher.search(&*query, &TopDocs::with_limit(wanted).order_by_score())?;
            assert_eq!(picked.len(), expected.len());
            for &address in &picked {
                let doc: TantivyDocument = searcher.doc(address)?;
                let key = doc.get_first(fields.key).and_then(|v| v.as_str());
                assert_ne!(key, Some("m:0"));
            }
            let mut mine: Vec<f32> = search.score(picked)?.iter().map(|h| h.score).collect();
            mine.sort_by(|a, b| b.total_cmp(a));
            for (a, (b, _)) in mine.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-4, "{a} vs {b}");
            }
        }
        Ok(())
    }

    /// The pruned sum (see `sum`) picks what tantivy's own top-docs search
    /// of the union picks, when the rare words' partial sums are soon above
    /// what the common words can add: over several segments, with the best
    /// documents deleted, and with ties (equal documents) at the cut;
    /// split in two ranges or not, and with searches at once.
    #[test]
    fn pruned_candidates_are_the_top_documents_of_the_union() -> tantivy::Result<()> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        register_analyzers(&index);
        let mut writer: tantivy::IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
        writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let rare = ["replication", "quorum", "certificate", "throttled"];
        let common = ["service", "host", "error", "slow", "check", "restart"];
        let steps = vec!["Look at the dashboards.".to_string()];
        for n in 0..1500usize {
            // Common words in most documents, some twice; rare words in a
            // few, some in the same documents; every 10th document repeats
            // the one before (a tie).
            let m = if n % 10 == 9 { n - 1 } else { n };
            let mut words: Vec<&str> = common
                .iter()
                .enumerate()
                .filter(|(i, _)| (m * 7 + i * 3) % 10 < 8)
                .map(|(_, w)| *w)
                .collect();
            if m % 5 == 0 {
                words.push(common[m % 6]);
            }
            for (i, word) in rare.iter().enumerate() {
                if (m / (i + 2)) % 37 == 0 {
                    words.push(word);
                }
            }
            let title = format!("{} {}", words.first().copied().unwrap_or("x"), m % 13);
            let statement = words.join(" ");
            let key = format!("m:{n}");
            writer.add_document(document(
                &fields,
                &ModelText {
                    key: &key,
                    title: &title,
                    statement: &statement,
                    steps: &steps,
                    discussion: "",
                },
            ))?;
            if n % 500 == 499 {
                writer.commit()?;
            }
        }
        // Documents holding rare words: among the best.
        for n in [0, 148, 1000] {
            writer.delete_term(Term::from_field_text(fields.key, &format!("m:{n}")));
        }
        writer.commit()?;
        let searcher = index.reader()?.searcher();
        assert!(searcher.segment_readers().len() > 1);
        assert!(searcher.segment_readers().iter().any(|r| r.has_deletes()));
        let tuning = Tuning {
            min_clause_share: 0.0,
            ..Tuning::default()
        };
        let per_field = tuning.boosts.per_field(&fields);
        let mut narrowed = false;
        for text in [
            "replication quorum lost: service on host slow, error, check and restart",
            "certificate throttled, the service host error slow",
            "service host error slow check restart",
            "quorum",
        ] {
            let terms = query_terms(text, &tuning);
            let search = TermsSearch::new(&searcher, &searcher, &tuning, &per_field, &terms)?;
            let clauses: Vec<&Clause> = search.clauses().iter().collect();
            let query = terms_query(&per_field, &terms, &tuning, &searcher, 0.0)?;
            let mut pruned = false;
            for wanted in [1, 7, 50, 400] {
                let (picked, counts) = sum::top_by_sum(&searcher, &searcher, &clauses, wanted)?;
                pruned |= counts.sought > 0;
                narrowed |= counts.narrowed > 0;
                // Every segment summed as two ranges (the second by the
                // helper thread, or by the searching thread after the
                // first), or as one: the same documents in the same order.
                for (split_above, hand_over) in [(0, true), (0, false), (u64::MAX, true)] {
                    let (split, _) = sum::top_by_sum_split(
                        &searcher,
                        &searcher,
                        &clauses,
                        wanted,
                        split_above,
                        hand_over,
                    )?;
                    assert_eq!(
                        split, picked,
                        "{text}: {wanted}: split above {split_above}, helper {hand_over}"
                    );
                }
                // Searches at once share the one helper thread (a range
                // queued behind another search's is summed by its own
                // searching thread): each still finds what one pass finds.
                std::thread::scope(|scope| {
                    let searches: Vec<_> = (0..3)
                        .map(|_| {
                            scope.spawn(|| {
                                (0..5)
                                    .map(|_| {
                                        sum::top_by_sum_split(
                                            &searcher, &searcher, &clauses, wanted, 0, true,
                                        )
                                        .map(|(split, _)| split)
                                    })
                                    .collect::<tantivy::Result<Vec<_>>>()
                            })
                        })
                        .collect();
                    for search in searches {
                        for split in search.join().expect("a search thread panicked")? {
                            assert_eq!(split, picked, "{text}: {wanted}: searches at once");
                        }
                    }
                    Ok::<_, tantivy::TantivyError>(())
                })?;
                let expected =
                    searcher.search(&*query, &TopDocs::with_limit(wanted).order_by_score())?;
                assert_eq!(picked.len(), expected.len(), "{text}: {wanted}");
                let hits = search.score(picked.clone())?;
                let score_of = |a: &DocAddress| {
                    hits.iter()
                        .find(|h| h.address == *a)
                        .map_or(f32::NAN, |h| h.score)
                };
                // Best first, ties by address.
                for pair in picked.windows(2) {
                    let (a, b) = (score_of(&pair[0]), score_of(&pair[1]));
                    assert!(a > b || (a == b && pair[0] < pair[1]), "{text}: {a} {b}");
                }
                for (a, (b, _)) in picked.iter().zip(&expected) {
                    let a = score_of(a);
                    assert!((a - b).abs() < 1e-4, "{text}: {wanted}: {a} vs {b}");
                }
                // The same documents, but for ties at the cut.
                let last = expected.last().map_or(0.0, |e| e.0);
                let above = |list: Vec<DocAddress>| {
                    let mut out: Vec<DocAddress> = list
                        .into_iter()
                        .filter(|a| score_of(a) > last + 1e-3)
                        .collect();
                    out.sort();
                    out
                };
                let mut theirs: Vec<DocAddress> = expected
                    .iter()
                    .filter(|(s, _)| *s > last + 1e-3)
                    .map(|(_, a)| *a)
                    .collect();
                theirs.sort();
                assert_eq!(above(picked.clone()), theirs, "{text}: {wanted}");
            }
            if text != "quorum" && !text.starts_with("service") {
                assert!(pruned, "{text}: no pruning");
            }
        }
        assert!(narrowed, "no clause read for the touched documents alone");
        Ok(())
    }

    #[test]
    fn candidates_then_every_clause_scores_as_the_full_query_would() -> tantivy::Result<()> {
        // Many models share the common words; few hold the rare ones.
        let mut models = Vec::new();
        for n in 0..200 {
            let title = match n % 50 {
                0 => "Replication lag on the primary database",
                1 => "Disk almost full on the database host",
                _ => "Service unavailable on the host",
            };
            models.push((
                format!("m:{n}"),
                title,
                format!("The service on host {n} is slow."),
            ));
        }
        let rows: Vec<(&str, &str, &str)> = models
            .iter()
            .map(|(k, t, s)| (k.as_str(), *t, s.as_str()))
            .collect();
        let (searcher, fields) = searcher_over(&rows)?;
        let text = "replication lag: the service on the database host is slow, check the pods";
        let two_stage = Tuning::default();
        assert!(two_stage.min_clause_share > 0.0);
        let exact = Tuning {
            min_clause_share: 0.0,
            ..Tuning::default()
        };
        // tantivy's own scoring of the whole query.
        let terms = query_terms(text, &exact);
        let query = terms_query(
            &exact.boosts.per_field(&fields),
            &terms,
            &exact,
            &searcher,
            0.0,
        )?;
        let tantivy_top = searcher.search(&*query, &TopDocs::with_limit(10).order_by_score())?;
        // Only the 8 database models hold a strong word ("replication",
        // "lag", "primary", "database"): for the top 5 they are the
        // candidates; for the top 10, too few, so every clause picks.
        for limit in [5, 10] {
            let fast = search_top(&searcher, &fields, text, &two_stage, limit);
            let full = search_top(&searcher, &fields, text, &exact, limit);
            assert_eq!(fast.len(), limit);
            assert_eq!(full.len(), limit);
            for ((a, b), (score, _)) in fast.iter().zip(&full).zip(&tantivy_top) {
                assert!((a.score - score).abs() < 1e-3, "{} vs {score}", a.score);
                assert!((b.score - score).abs() < 1e-3, "{} vs {score}", b.score);
            }
            // The same documents, but for ties (models that differ only in
            // a number) at the cut.
            let last = fast.last().map_or(0.0, |h| h.score);
            let above = |hits: Vec<(f32, DocAddress)>| {
                let mut out: Vec<DocAddress> = hits
                    .into_iter()
                    .filter(|(s, _)| *s > last + 1e-3)
                    .map(|(_, a)| a)
                    .collect();
                out.sort();
                out
            };
            let pairs = |hits: &[Hit]| hits.iter().map(|h| (h.score, h.address)).collect();
            assert_eq!(above(pairs(&fast)), above(pairs(&full)));
            let exact_top = tantivy_top.iter().take(limit).copied().collect();
            assert_eq!(above(pairs(&fast)), above(exact_top));
        }
        let fast = search(&searcher, &fields, text, &two_stage);
        let replication = ["m:0", "m:50", "m:100", "m:150"];
        for hit in &fast[..4] {
            assert!(replication.contains(&key_of(&searcher, &fields, hit).as_str()));
        }
        Ok(())
    }
}
