//! The plain-text incident-model format: data types, validation and link
//! extraction. Parsing and rendering live in submodules and are re-exported here.
//!
//! A model is *valid* when [`validate`] accepts it. Every model returned by
//! [`parse`] is valid, and for every valid model `parse(&render(&m)) == Ok(m)`.
//! [`render`] does not validate: callers holding a model that did not come from
//! [`parse`] (for example one assembled from a web form) must call [`validate`]
//! first, otherwise the rendered text may not parse back to the same model.

pub mod diff;
mod parse;
mod render;

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

pub use parse::parse;
pub use render::render;

/// Largest accepted model text in bytes, both as input to [`parse`] and as the
/// rendered form of a valid model; bounds work and memory for hostile input.
pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Largest number of steps in a model.
pub const MAX_STEPS: usize = 500;
/// Largest title length, in Unicode scalar values (`char`s).
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest key length, in characters (keys are ASCII).
pub const MAX_KEY_CHARS: usize = 80;
/// Largest category length, in Unicode scalar values.
pub const MAX_CATEGORY_CHARS: usize = 80;
/// Largest tag length, in Unicode scalar values.
pub const MAX_TAG_CHARS: usize = 40;

/// Publication state of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    /// Work in progress; the default when the `status` header is absent.
    #[default]
    Draft,
    /// Live and shown to readers.
    Published,
    /// Kept for history but no longer recommended.
    Retired,
}

impl Status {
    /// The header text: `draft`, `published` or `retired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Published => "published",
            Status::Retired => "retired",
        }
    }
}

impl FromStr for Status {
    type Err = String;

    /// Accepts exactly the lowercase header text.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(Status::Draft),
            "published" => Ok(Status::Published),
            "retired" => Ok(Status::Retired),
            _ => Err(format!(
                "expected status draft, published or retired, found {}",
                quote(s)
            )),
        }
    }
}

/// One incident model, as stored in its plain-text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelText {
    /// One line, no leading/trailing whitespace, 1..=200 characters.
    pub title: String,
    /// Slug identifying the model; see [`validate_key`].
    pub key: String,
    /// May be empty; one line, no leading/trailing whitespace, at most 80 characters.
    pub category: String,
    /// Each tag non-empty, trimmed, one line, without commas, at most 40
    /// characters; order is kept and exact duplicates are rejected.
    pub tags: Vec<String>,
    /// The alert names (Alertmanager's `alertname`) the model covers: an
    /// alert of one of these names gets the model first among its triage
    /// suggestions. Same rules as tags (at most 100 characters each).
    pub alerts: Vec<String>,
    /// Publication state.
    pub status: Status,
    /// Whether customers may read the model.
    pub public: bool,
    /// Markdown; non-empty, no leading/trailing blank lines, no line starting with `## `.
    pub statement: String,
    /// Each step's Markdown without the `N. ` marker and without continuation
    /// indentation; 1..=500 steps, each non-empty with no leading/trailing blank lines.
    pub steps: Vec<String>,
    /// Markdown; may be empty, no leading/trailing blank lines, no line starting with `## `.
    pub discussion: String,
}

/// Why [`parse`] rejected a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number; one past the last line when the text ended too early.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Why [`validate`] rejected a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The offending field: `title`, `key`, `category`, `tags`, `statement`,
    /// `steps`, `discussion`, or `model` when only the whole is too large.
    pub field: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for ValidationError {}

/// Checks that `model` can be rendered and parsed back unchanged.
pub fn validate(model: &ModelText) -> Result<(), ValidationError> {
    let fail = |field| move |message| ValidationError { field, message };
    check_title(&model.title).map_err(fail("title"))?;
    validate_key(&model.key).map_err(fail("key"))?;
    check_category(&model.category).map_err(fail("category"))?;
    check_tags(&model.tags).map_err(fail("tags"))?;
    check_alerts(&model.alerts).map_err(fail("alerts"))?;
    check_body(&model.statement, Body::Statement).map_err(fail("statement"))?;
    if model.steps.is_empty() {
        return Err(fail("steps")(
            "expected at least one step, found none".into(),
        ));
    }
    if model.steps.len() > MAX_STEPS {
        return Err(fail("steps")(format!(
            "expected at most {MAX_STEPS} steps, found {}",
            model.steps.len()
        )));
    }
    for (i, step) in model.steps.iter().enumerate() {
        check_body(step, Body::Step).map_err(|m| fail("steps")(format!("step {}: {m}", i + 1)))?;
    }
    check_body(&model.discussion, Body::Discussion).map_err(fail("discussion"))?;
    let size = render(model).len();
    if size > MAX_TEXT_BYTES {
        return Err(fail("model")(format!(
            "expected at most {MAX_TEXT_BYTES} bytes when rendered, found {size}"
        )));
    }
    Ok(())
}

/// Checks a slug: `^[a-z0-9][a-z0-9-]*$`, 1..=80 characters, no `--`, not
/// ending in `-`. The error says what was expected and what was found.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("expected a key, found nothing".into());
    }
    // `/models/new` is the page for writing a model.
    if key == "new" {
        return Err("expected a key other than \"new\", which names the new-model page".into());
    }
    let len = key.chars().count();
    if len > MAX_KEY_CHARS {
        return Err(format!(
            "expected a key of at most {MAX_KEY_CHARS} characters, found {len}"
        ));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "expected only a-z, 0-9 and '-' in a key, found {bad:?} in {}",
            quote(key)
        ));
    }
    if key.starts_with('-') {
        return Err(format!(
            "expected a key starting with a-z or 0-9, found {}",
            quote(key)
        ));
    }
    if key.ends_with('-') {
        return Err(format!(
            "expected a key not ending in '-', found {}",
            quote(key)
        ));
    }
    if key.contains("--") {
        return Err(format!(
            "expected single '-' between parts of a key, found \"--\" in {}",
            quote(key)
        ));
    }
    Ok(())
}

/// Keys of every well-formed `[[key]]` in the statement, steps and discussion,
/// in order of first appearance, without duplicates.
///
/// Markdown is not interpreted, so links inside code spans and blocks count too.
pub fn links(model: &ModelText) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let texts = std::iter::once(&model.statement)
        .chain(&model.steps)
        .chain(std::iter::once(&model.discussion));
    for text in texts {
        for key in link_keys(text) {
            if seen.insert(key) {
                out.push(key.to_string());
            }
        }
    }
    out
}

/// Whether the model mostly points to other models: at least 2 steps, and at
/// least half of them contain a well-formed `[[key]]` link.
pub fn is_jump_off(model: &ModelText) -> bool {
    let linked = model
        .steps
        .iter()
        .filter(|s| link_keys(s).next().is_some())
        .count();
    model.steps.len() >= 2 && 2 * linked >= model.steps.len()
}

/// Finds `[[key]]` links. Scanning only a key's maximum length past each `[[`
/// keeps this linear even for text made of nothing but brackets.
fn link_keys(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i + 1 < bytes.len() {
            if bytes[i] == b'[' && bytes[i + 1] == b'[' {
                let start = i + 2;
                let mut end = start;
                while end < bytes.len()
                    && end - start <= MAX_KEY_CHARS
                    && (bytes[end].is_ascii_lowercase()
                        || bytes[end].is_ascii_digit()
                        || bytes[end] == b'-')
                {
                    end += 1;
                }
                if bytes[end..].starts_with(b"]]")
                    && let Some(key) = text.get(start..end)
                    && validate_key(key).is_ok()
                {
                    i = end + 2;
                    return Some(key);
                }
            }
            i += 1;
        }
        None
    })
}

/// Which multi-line field a text is; they differ in what they may contain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    Statement,
    Step,
    Discussion,
}

/// A whitespace-only line; such lines are dropped at the edges of every
/// multi-line field, so a valid field must not have them there.
fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A top-level section heading, which ends the section before it.
fn is_heading(line: &str) -> bool {
    line.starts_with("## ")
}

fn check_body(text: &str, body: Body) -> Result<(), String> {
    if text.is_empty() {
        return match body {
            Body::Discussion => Ok(()),
            Body::Statement | Body::Step => Err("expected text, found nothing".into()),
        };
    }
    if text.contains('\r') {
        return Err("expected no carriage return (U+000D), found one".into());
    }
    if text.split('\n').next().is_some_and(is_blank) {
        return Err("expected text on the first line, found a blank line".into());
    }
    if text.split('\n').next_back().is_some_and(is_blank) {
        return Err("expected text on the last line, found a blank line".into());
    }
    // Inside steps such lines are indented when rendered, so only the
    // top-level sections are cut short by them.
    if body != Body::Step
        && let Some((n, line)) = text.split('\n').enumerate().find(|(_, l)| is_heading(l))
    {
        return Err(format!(
            "expected no line starting with \"## \", found {} on line {}",
            quote(line),
            n + 1
        ));
    }
    Ok(())
}

/// Checks one line of header-like text shared by title, category and tags.
fn check_line(what: &str, value: &str, max: usize) -> Result<(), String> {
    if value.contains(['\n', '\r']) {
        return Err(format!("expected {what} on one line, found a line break"));
    }
    if value.trim() != value {
        return Err(format!(
            "expected {what} without leading or trailing whitespace, found {}",
            quote(value)
        ));
    }
    let len = value.chars().count();
    if len > max {
        return Err(format!(
            "expected {what} of at most {max} characters, found {len}"
        ));
    }
    Ok(())
}

fn check_title(title: &str) -> Result<(), String> {
    if title.is_empty() {
        return Err("expected a title after \"# \", found nothing".into());
    }
    check_line("a title", title, MAX_TITLE_CHARS)
}

fn check_category(category: &str) -> Result<(), String> {
    check_line("a category", category, MAX_CATEGORY_CHARS)
}

fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("expected a non-empty tag, found nothing".into());
    }
    if tag.contains(',') {
        return Err(format!(
            "expected a tag without commas, found {}",
            quote(tag)
        ));
    }
    check_line("a tag", tag, MAX_TAG_CHARS)
}

fn check_tags(tags: &[String]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for tag in tags {
        check_tag(tag)?;
        if !seen.insert(tag) {
            return Err(format!(
                "expected each tag once, found {} twice",
                quote(tag)
            ));
        }
    }
    Ok(())
}

/// The longest alert name a model may declare.
pub const MAX_ALERT_NAME_CHARS: usize = 100;

fn check_alerts(names: &[String]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            return Err("expected a non-empty alert name, found nothing".into());
        }
        if name.contains(',') {
            return Err(format!(
                "expected an alert name without commas, found {}",
                quote(name)
            ));
        }
        check_line("an alert name", name, MAX_ALERT_NAME_CHARS)?;
        if !seen.insert(name) {
            return Err(format!(
                "expected each alert name once, found {} twice",
                quote(name)
            ));
        }
    }
    Ok(())
}

/// Quotes user text for an error message, shortened so that a hostile
/// megabyte-long line cannot produce a megabyte-long message.
fn quote(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}", format!("{}…", &text[..cut])),
        None => format!("{text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ModelText {
        ModelText {
            title: "Disk full".into(),
            key: "db-disk-full".into(),
            category: "database".into(),
            tags: vec!["disk".into(), "postgres".into()],
            alerts: Vec::new(),
            status: Status::Published,
            public: true,
            statement: "Free space is low.".into(),
            steps: vec!["Check `df -h`.".into(), "See [[wal-stuck]].".into()],
            discussion: String::new(),
        }
    }

    fn field_error(m: &ModelText) -> (&'static str, String) {
        match validate(m) {
            Err(e) => (e.field, e.message),
            Ok(()) => panic!("expected a validation error for {m:?}"),
        }
    }

    #[test]
    fn validate_key_accepts_slugs() {
        for key in ["a", "0", "db-disk-full", "x1-2-y", &"a".repeat(80)] {
            assert_eq!(validate_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn validate_key_errors() {
        let cases: [(&str, String); 8] = [
            ("", "expected a key, found nothing".into()),
            (
                &"a".repeat(81),
                "expected a key of at most 80 characters, found 81".into(),
            ),
            (
                "Db",
                "expected only a-z, 0-9 and '-' in a key, found 'D' in \"Db\"".into(),
            ),
            (
                "a b",
                "expected only a-z, 0-9 and '-' in a key, found ' ' in \"a b\"".into(),
            ),
            (
                "dé",
                "expected only a-z, 0-9 and '-' in a key, found 'é' in \"dé\"".into(),
            ),
            (
                "-a",
                "expected a key starting with a-z or 0-9, found \"-a\"".into(),
            ),
            (
                "a-",
                "expected a key not ending in '-', found \"a-\"".into(),
            ),
            (
                "a--b",
                "expected single '-' between parts of a key, found \"--\" in \"a--b\"".into(),
            ),
        ];
        for (key, message) in cases {
            assert_eq!(validate_key(key), Err(message), "{key}");
        }
    }

    #[test]
    fn status_text() {
        for s in [Status::Draft, Status::Published, Status::Retired] {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
        }
        assert_eq!(Status::default(), Status::Draft);
        assert_eq!(
            "Draft".parse::<Status>(),
            Err("expected status draft, published or retired, found \"Draft\"".into())
        );
    }

    #[test]
    fn error_display() {
        let e = ParseError {
            line: 9,
            message: "expected \"## Steps\", found \"## Step\"".into(),
        };
        assert_eq!(
            e.to_string(),
            "line 9: expected \"## Steps\", found \"## Step\""
        );
        let e = ValidationError {
            field: "key",
            message: "expected a key, found nothing".into(),
        };
        assert_eq!(e.to_string(), "key: expected a key, found nothing");
    }

    #[test]
    fn quote_shortens_long_text() {
        assert_eq!(quote("ab\"c"), "\"ab\\\"c\"");
        let long = "é".repeat(100);
        assert_eq!(quote(&long), format!("\"{}…\"", "é".repeat(60)));
    }

    #[test]
    fn links_in_order_deduplicated() {
        let mut m = sample();
        m.statement = "See [[b]] and [[a]].".into();
        m.steps = vec!["[[a]] then [[c-1]]".into(), "none".into()];
        m.discussion = "[[b]] and `[[d]]`".into();
        assert_eq!(links(&m), ["b", "a", "c-1", "d"]);
    }

    #[test]
    fn links_ignore_malformed_keys() {
        let mut m = sample();
        m.statement = "[[]] [[A]] [[a--b]] [[-a]] [[a-]] [[ a ]] [[a]b]] [a] [[a".into();
        m.steps = vec![format!("[[{}]] [[{}]]", "x".repeat(81), "y".repeat(80))];
        m.discussion = "[[[nested]]] [[x]]]".into();
        assert_eq!(links(&m), ["y".repeat(80), "nested".into(), "x".into()]);
    }

    #[test]
    fn links_are_linear_on_hostile_text() {
        let mut m = sample();
        m.statement = format!("{}]]", "[[".repeat(400_000));
        m.steps = vec![format!("[[{}", "a".repeat(400_000))];
        assert!(links(&m).is_empty());
    }

    #[test]
    fn jump_off_needs_two_steps_and_half_linked() {
        let mut m = sample();
        let steps = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        m.steps = steps(&["[[a]]"]);
        assert!(!is_jump_off(&m));
        m.steps = steps(&["[[a]]", "x"]);
        assert!(is_jump_off(&m));
        m.steps = steps(&["[[a]]", "x", "y"]);
        assert!(!is_jump_off(&m));
        m.steps = steps(&["[[a]]", "x", "[[b]] [[c]]", "y"]);
        assert!(is_jump_off(&m));
        m.steps = steps(&["[[A]]", "[[b--c]]"]);
        assert!(!is_jump_off(&m));
    }

    #[test]
    fn validate_accepts_sample() {
        assert_eq!(validate(&sample()), Ok(()));
    }

    #[test]
    fn validate_rejects_bad_header_fields() {
        let mut m = sample();
        m.title = String::new();
        assert_eq!(
            field_error(&m),
            (
                "title",
                "expected a title after \"# \", found nothing".into()
            )
        );
        m.title = "a\nb".into();
        assert_eq!(
            field_error(&m),
            (
                "title",
                "expected a title on one line, found a line break".into()
            )
        );
        m.title = " a".into();
        assert_eq!(
            field_error(&m),
            (
                "title",
                "expected a title without leading or trailing whitespace, found \" a\"".into()
            )
        );
        m.title = "é".repeat(201);
        assert_eq!(
            field_error(&m),
            (
                "title",
                "expected a title of at most 200 characters, found 201".into()
            )
        );
        m.title = "é".repeat(200);
        assert_eq!(validate(&m), Ok(()));

        let mut m = sample();
        m.key = "A".into();
        assert_eq!(field_error(&m).0, "key");

        let mut m = sample();
        m.category = "x".repeat(81);
        assert_eq!(
            field_error(&m),
            (
                "category",
                "expected a category of at most 80 characters, found 81".into()
            )
        );
        m.category = "a\rb".into();
        assert_eq!(
            field_error(&m),
            (
                "category",
                "expected a category on one line, found a line break".into()
            )
        );
        m.category = String::new();
        assert_eq!(validate(&m), Ok(()));

        let mut m = sample();
        let long = "x".repeat(41);
        for (tags, message) in [
            (vec![""], "expected a non-empty tag, found nothing"),
            (vec!["a,b"], "expected a tag without commas, found \"a,b\""),
            (
                vec!["a "],
                "expected a tag without leading or trailing whitespace, found \"a \"",
            ),
            (
                vec![long.as_str()],
                "expected a tag of at most 40 characters, found 41",
            ),
            (
                vec!["a", "b", "a"],
                "expected each tag once, found \"a\" twice",
            ),
        ] {
            m.tags = tags.iter().map(|s| s.to_string()).collect();
            assert_eq!(field_error(&m), ("tags", message.to_string()));
        }
        m.tags = vec!["A".into(), "a".into(), "on call".into()];
        assert_eq!(validate(&m), Ok(()));
    }

    #[test]
    fn validate_rejects_bad_bodies() {
        type Change = fn(&mut ModelText);
        let cases: [(Change, &str, &str); 11] = [
            (
                |m| m.statement.clear(),
                "statement",
                "expected text, found nothing",
            ),
            (
                |m| m.statement = "\na".into(),
                "statement",
                "expected text on the first line, found a blank line",
            ),
            (
                |m| m.statement = "a\n  ".into(),
                "statement",
                "expected text on the last line, found a blank line",
            ),
            (
                |m| m.statement = "a\r\nb".into(),
                "statement",
                "expected no carriage return (U+000D), found one",
            ),
            (
                |m| m.statement = "a\n## Steps\nb".into(),
                "statement",
                "expected no line starting with \"## \", found \"## Steps\" on line 2",
            ),
            (
                |m| m.steps.clear(),
                "steps",
                "expected at least one step, found none",
            ),
            (
                |m| m.steps = vec!["x".into(); 501],
                "steps",
                "expected at most 500 steps, found 501",
            ),
            (
                |m| m.steps[1] = String::new(),
                "steps",
                "step 2: expected text, found nothing",
            ),
            (
                |m| m.steps[0] = " \nx".into(),
                "steps",
                "step 1: expected text on the first line, found a blank line",
            ),
            (
                |m| m.discussion = "x\n\n".into(),
                "discussion",
                "expected text on the last line, found a blank line",
            ),
            (
                |m| m.discussion = "## x".into(),
                "discussion",
                "expected no line starting with \"## \", found \"## x\" on line 1",
            ),
        ];
        for (change, field, message) in cases {
            let mut m = sample();
            change(&mut m);
            assert_eq!(field_error(&m), (field, message.to_string()));
        }
        let mut m = sample();
        m.statement = "a\n### b\n##\n#### c\n ## d".into();
        m.steps = vec!["a\n## inside a step is fine\n\n  \nb".into(); 500];
        assert_eq!(validate(&m), Ok(()));
    }

    #[test]
    fn validate_limits_rendered_size() {
        let mut m = sample();
        m.statement = "x".repeat(MAX_TEXT_BYTES);
        assert_eq!(field_error(&m).0, "model");
        let overhead = render(&m).len() - MAX_TEXT_BYTES;
        m.statement = "x".repeat(MAX_TEXT_BYTES - overhead);
        assert_eq!(render(&m).len(), MAX_TEXT_BYTES);
        assert_eq!(validate(&m), Ok(()));
    }
}

#[cfg(test)]
mod reserved_key_tests {
    #[test]
    fn new_is_not_a_model_key() {
        assert!(
            super::validate_key("new")
                .unwrap_err()
                .contains("new-model page")
        );
        assert!(super::validate_key("new-relic-down").is_ok());
    }
}
