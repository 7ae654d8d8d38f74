//! Parsing of the plain-text form, and the round-trip tests that tie it to
//! rendering.

use std::borrow::Cow;

use super::{
    MAX_STEPS, MAX_TEXT_BYTES, ModelText, ParseError, Status, check_alerts, check_category,
    check_tags, check_title, is_blank, is_heading, quote, render, validate_key,
};

const HEADERS: [&str; 6] = ["key", "category", "tags", "alerts", "status", "public"];

/// Parses a model text.
///
/// Accepts the canonical form produced by [`render`] and some harmless
/// variations (CRLF line ends, a leading byte order mark, headers in any order
/// or with extra spaces, extra blank lines between parts, `public: no`, an
/// empty `## Discussion`). A lone carriage return is rejected because no
/// rendering could reproduce it. The result always passes
/// [`validate`](super::validate).
pub fn parse(text: &str) -> Result<ModelText, ParseError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(error(
            1,
            format!(
                "expected at most {MAX_TEXT_BYTES} bytes, found {}",
                text.len()
            ),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text: Cow<'_, str> = if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    };
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    if let Some(n) = lines.iter().position(|l| l.contains('\r')) {
        return Err(error(
            n + 1,
            "expected a line break \"\\n\" or \"\\r\\n\", found a lone \"\\r\"".into(),
        ));
    }
    let mut cursor = Cursor { lines, pos: 0 };
    let model = cursor.model()?;
    // Normalising headers can make the canonical form slightly longer than
    // the input; refusing here keeps every parsed model valid.
    let size = render(&model).len();
    if size > MAX_TEXT_BYTES {
        return Err(error(
            1,
            format!("expected at most {MAX_TEXT_BYTES} bytes in canonical form, found {size}"),
        ));
    }
    Ok(model)
}

fn error(line: usize, message: String) -> ParseError {
    ParseError { line, message }
}

/// Splits `N. text` into the digits and the text; `N.` alone yields empty text
/// so that it is reported as an empty step rather than as stray text.
fn split_marker(line: &str) -> Option<(&str, &str)> {
    let digits_end = line
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(line.len());
    let digits = line.get(..digits_end).filter(|d| !d.is_empty())?;
    let after = line.get(digits_end..)?.strip_prefix('.')?;
    if after.is_empty() {
        Some((digits, ""))
    } else {
        after.strip_prefix(' ').map(|text| (digits, text))
    }
}

/// Step numbers are renumbered, but a marker this long is a mistake.
const MAX_STEP_DIGITS: usize = 6;

/// Shows a step number taken from the input, which may be absurdly long.
fn shorten_digits(digits: &str) -> Cow<'_, str> {
    match digits.get(..20) {
        Some(head) if digits.len() > 20 => Cow::Owned(format!("{head}…")),
        _ => Cow::Borrowed(digits),
    }
}

/// A step being collected; blank lines wait in `pending` until a following
/// continuation line shows they are inside the step rather than after it.
struct StepLines<'a> {
    width: usize,
    lines: Vec<&'a str>,
    pending: Vec<&'a str>,
}

impl<'a> StepLines<'a> {
    fn strip_indent(&self, line: &'a str) -> Option<&'a str> {
        let indent = line.get(..self.width)?;
        if indent.bytes().all(|b| b == b' ') {
            line.get(self.width..)
        } else {
            None
        }
    }

    fn finish(self) -> String {
        self.lines.join("\n")
    }
}

struct Cursor<'a> {
    lines: Vec<&'a str>,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.pos).copied()
    }

    fn line_no(&self) -> usize {
        self.pos + 1
    }

    fn found(&self) -> String {
        self.peek().map_or_else(|| "end of file".into(), quote)
    }

    fn skip_blank(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    fn model(&mut self) -> Result<ModelText, ParseError> {
        let title = self.title()?;
        let mut model = self.headers(title)?;
        self.skip_blank();
        let heading_line = self.line_no();
        self.expect_heading("## Statement")?;
        model.statement = self.body();
        if model.statement.is_empty() {
            return Err(error(
                heading_line,
                "expected text under \"## Statement\", found an empty section".into(),
            ));
        }
        self.expect_heading("## Steps")?;
        model.steps = self.steps()?;
        if let Some(line) = self.peek() {
            if line.trim_end() != "## Discussion" {
                return Err(error(
                    self.line_no(),
                    format!(
                        "expected \"## Discussion\" or end of file, found {}",
                        quote(line)
                    ),
                ));
            }
            self.pos += 1;
            model.discussion = self.body();
            if let Some(line) = self.peek() {
                return Err(error(
                    self.line_no(),
                    format!(
                        "expected end of file after \"## Discussion\", found {}",
                        quote(line)
                    ),
                ));
            }
        }
        Ok(model)
    }

    fn title(&mut self) -> Result<String, ParseError> {
        let Some(rest) = self.peek().and_then(|l| l.strip_prefix('#')) else {
            return Err(error(
                1,
                format!("expected \"# <title>\", found {}", self.found()),
            ));
        };
        let title = match rest.strip_prefix(' ') {
            Some(title) => title.trim(),
            None if rest.is_empty() => rest,
            None => {
                return Err(error(
                    1,
                    format!("expected \"# <title>\", found {}", self.found()),
                ));
            }
        };
        check_title(title).map_err(|m| error(1, m))?;
        self.pos += 1;
        Ok(title.to_string())
    }

    /// Reads the header block, up to and including its closing blank line.
    fn headers(&mut self, title: String) -> Result<ModelText, ParseError> {
        let mut model = ModelText {
            title,
            key: String::new(),
            category: String::new(),
            tags: Vec::new(),
            alerts: Vec::new(),
            status: Status::default(),
            public: false,
            statement: String::new(),
            steps: Vec::new(),
            discussion: String::new(),
        };
        let mut seen: Vec<(&str, usize)> = Vec::new();
        loop {
            let n = self.line_no();
            let Some(line) = self.peek() else {
                return Err(error(
                    n,
                    "expected a blank line and \"## Statement\", found end of file".into(),
                ));
            };
            if is_blank(line) {
                break;
            }
            if is_heading(line) {
                return Err(error(
                    n,
                    format!(
                        "expected a blank line after the headers, found {}",
                        quote(line)
                    ),
                ));
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(error(
                    n,
                    format!(
                        "expected a header \"name: value\" or a blank line, found {}",
                        quote(line)
                    ),
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            let Some(name) = HEADERS.iter().copied().find(|h| *h == name) else {
                return Err(error(
                    n,
                    format!(
                        "expected one of the headers {}, found {}",
                        HEADERS.join(", "),
                        quote(name)
                    ),
                ));
            };
            if let Some((_, first)) = seen.iter().find(|(h, _)| *h == name) {
                return Err(error(
                    n,
                    format!(
                        "expected at most one \"{name}\" header, found another (first on line {first})"
                    ),
                ));
            }
            seen.push((name, n));
            let at = |m| error(n, m);
            match name {
                "key" => {
                    validate_key(value).map_err(at)?;
                    model.key = value.to_string();
                }
                "category" => {
                    check_category(value).map_err(at)?;
                    model.category = value.to_string();
                }
                "tags" => model.tags = parse_tags(value).map_err(at)?,
                "alerts" => model.alerts = parse_alerts(value).map_err(at)?,
                "status" => model.status = value.parse().map_err(at)?,
                _ => {
                    model.public = match value {
                        "yes" => true,
                        "no" => false,
                        _ => {
                            return Err(at(format!(
                                "expected public yes or no, found {}",
                                quote(value)
                            )));
                        }
                    }
                }
            }
            self.pos += 1;
        }
        if model.key.is_empty() {
            return Err(error(
                self.line_no(),
                "expected a \"key\" header, found none".into(),
            ));
        }
        self.pos += 1;
        Ok(model)
    }

    fn expect_heading(&mut self, heading: &str) -> Result<(), ParseError> {
        if self.peek().is_some_and(|l| l.trim_end() == heading) {
            self.pos += 1;
            return Ok(());
        }
        Err(error(
            self.line_no(),
            format!("expected \"{heading}\", found {}", self.found()),
        ))
    }

    /// Reads a section's Markdown up to the next heading, without the blank
    /// lines at its edges.
    fn body(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|l| !is_heading(l)) {
            self.pos += 1;
        }
        let lines = &self.lines[start..self.pos];
        let first = lines.iter().position(|l| !is_blank(l));
        let last = lines.iter().rposition(|l| !is_blank(l));
        match (first, last) {
            (Some(first), Some(last)) => lines[first..=last].join("\n"),
            _ => String::new(),
        }
    }

    fn steps(&mut self) -> Result<Vec<String>, ParseError> {
        let mut steps = Vec::new();
        let mut current: Option<StepLines<'a>> = None;
        while let Some(line) = self.peek().filter(|l| !is_heading(l)) {
            let n = self.line_no();
            self.pos += 1;
            if is_blank(line) {
                if let Some(step) = current.as_mut() {
                    let kept = step.strip_indent(line).unwrap_or("");
                    step.pending.push(kept);
                }
                continue;
            }
            if let Some(step) = current.as_mut()
                && let Some(text) = step.strip_indent(line)
            {
                step.lines.append(&mut step.pending);
                step.lines.push(text);
                continue;
            }
            let next = steps.len() + 1 + usize::from(current.is_some());
            let Some((digits, text)) = split_marker(line) else {
                let expected = match &current {
                    Some(step) => {
                        format!("step {next} or a line indented by {} spaces", step.width)
                    }
                    None => format!("step {next}"),
                };
                return Err(error(
                    n,
                    format!("expected {expected}, found {}", quote(line)),
                ));
            };
            // Any numbering is accepted (a step inserted or removed while
            // editing leaves gaps or repeats); the canonical form numbers
            // the steps 1..n again.
            if digits.len() > MAX_STEP_DIGITS {
                return Err(error(
                    n,
                    format!(
                        "expected a step number of at most {MAX_STEP_DIGITS} digits, found step {}",
                        shorten_digits(digits)
                    ),
                ));
            }
            if next > MAX_STEPS {
                return Err(error(
                    n,
                    format!("expected at most {MAX_STEPS} steps, found step {next}"),
                ));
            }
            if is_blank(text) {
                return Err(error(
                    n,
                    format!("expected text after \"{digits}. \", found nothing"),
                ));
            }
            if let Some(step) = current.take() {
                steps.push(step.finish());
            }
            current = Some(StepLines {
                width: digits.len() + 2,
                lines: vec![text],
                pending: Vec::new(),
            });
        }
        match current {
            Some(step) => steps.push(step.finish()),
            None => {
                return Err(error(
                    self.line_no(),
                    format!("expected step 1, found {}", self.found()),
                ));
            }
        }
        Ok(steps)
    }
}

fn parse_tags(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let tags: Vec<String> = value.split(',').map(|t| t.trim().to_string()).collect();
    if tags.iter().any(String::is_empty) {
        return Err(format!(
            "expected a tag between every two commas, found {}",
            quote(value)
        ));
    }
    check_tags(&tags)?;
    Ok(tags)
}

fn parse_alerts(value: &str) -> Result<Vec<String>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = value.split(',').map(|t| t.trim().to_string()).collect();
    if names.iter().any(String::is_empty) {
        return Err(format!(
            "expected an alert name between every two commas, found {}",
            quote(value)
        ));
    }
    check_alerts(&names)?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::super::{ValidationError, validate};
    use super::*;

    const EXAMPLE: &str = r#"# Disk full on a database host
key: db-disk-full
category: database
tags: disk, postgres
status: published
public: yes

## Statement
Free space on a database host's data volume is below 5%; writes will fail when it reaches 0.

## Steps
1. Confirm with `df -h /var/lib/postgresql` on the host named in the alert.
2. If WAL is the cause, see [[wal-archiving-stuck]].
   Continuation lines of a step are indented to the step text (3 spaces for "1. ", 4 for "10. ").

   A blank line inside a step is kept (as an empty line) when an indented line follows.
3. Escalate to the DBA on call if free space is below 1%.

## Discussion
Why WAL grows, and how to size volumes. Related: [[db-replication-lag]].
"#;

    /// Smallest canonical text; tests splice lines into it.
    const MINIMAL: &str = "# T\nkey: k\nstatus: draft\n\n## Statement\nS\n\n## Steps\n1. a\n";

    fn parse_err(text: &str) -> (usize, String) {
        match parse(text) {
            Err(e) => (e.line, e.message),
            Ok(m) => panic!("expected an error for {text:?}, got {m:?}"),
        }
    }

    fn parse_ok(text: &str) -> ModelText {
        match parse(text) {
            Ok(m) => m,
            Err(e) => panic!("expected {text:?} to parse, got {e}"),
        }
    }

    /// MINIMAL with its steps section replaced.
    fn with_steps(steps: &str) -> String {
        format!("# T\nkey: k\nstatus: draft\n\n## Statement\nS\n\n## Steps\n{steps}")
    }

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("{i}. s{i}\n")).collect()
    }

    #[test]
    fn example_round_trips_byte_for_byte() {
        let m = parse_ok(EXAMPLE);
        assert_eq!(m.title, "Disk full on a database host");
        assert_eq!(m.key, "db-disk-full");
        assert_eq!(m.category, "database");
        assert_eq!(m.tags, ["disk", "postgres"]);
        assert_eq!(m.status, Status::Published);
        assert!(m.public);
        assert_eq!(
            m.statement,
            "Free space on a database host's data volume is below 5%; writes will fail when it reaches 0."
        );
        assert_eq!(m.steps.len(), 3);
        assert_eq!(
            m.steps[1],
            "If WAL is the cause, see [[wal-archiving-stuck]].\n\
             Continuation lines of a step are indented to the step text (3 spaces for \"1. \", 4 for \"10. \").\n\
             \n\
             A blank line inside a step is kept (as an empty line) when an indented line follows."
        );
        assert_eq!(
            m.discussion,
            "Why WAL grows, and how to size volumes. Related: [[db-replication-lag]]."
        );
        assert_eq!(render(&m), EXAMPLE);
        assert_eq!(validate(&m), Ok(()));
        assert_eq!(
            super::super::links(&m),
            ["wal-archiving-stuck", "db-replication-lag"]
        );
    }

    #[test]
    fn minimal_uses_defaults_and_round_trips() {
        let m = parse_ok(MINIMAL);
        assert_eq!(m.category, "");
        assert!(m.tags.is_empty());
        assert_eq!(m.status, Status::Draft);
        assert!(!m.public);
        assert_eq!(m.discussion, "");
        assert_eq!(render(&m), MINIMAL);
    }

    #[test]
    fn crlf_and_byte_order_mark_are_accepted() {
        let expected = parse_ok(EXAMPLE);
        let crlf = EXAMPLE.replace('\n', "\r\n");
        assert_eq!(parse(&crlf), Ok(expected.clone()));
        assert_eq!(parse(&format!("\u{feff}{crlf}")), Ok(expected.clone()));
        let no_final_newline = EXAMPLE.trim_end_matches('\n');
        assert_eq!(parse(no_final_newline), Ok(expected));
    }

    #[test]
    fn lone_carriage_return_is_rejected() {
        assert_eq!(
            parse_err("# T\nkey: k\rx\n"),
            (
                2,
                "expected a line break \"\\n\" or \"\\r\\n\", found a lone \"\\r\"".into()
            )
        );
    }

    #[test]
    fn oversized_text_is_rejected_on_line_1() {
        let big = format!("{MINIMAL}{}", "x".repeat(MAX_TEXT_BYTES));
        assert_eq!(
            parse_err(&big),
            (
                1,
                format!(
                    "expected at most 1048576 bytes, found {}",
                    MINIMAL.len() + MAX_TEXT_BYTES
                )
            )
        );
    }

    #[test]
    fn canonical_form_must_fit_the_size_limit_too() {
        // Without a status header the canonical form is 14 bytes longer.
        let head = "# T\nkey: k\n\n## Statement\n";
        let tail = "\n\n## Steps\n1. a\n";
        let fill = MAX_TEXT_BYTES - head.len() - tail.len();
        let text = format!("{head}{}{tail}", "x".repeat(fill));
        assert_eq!(text.len(), MAX_TEXT_BYTES);
        assert_eq!(
            parse_err(&text),
            (
                1,
                format!(
                    "expected at most 1048576 bytes in canonical form, found {}",
                    MAX_TEXT_BYTES + "status: draft\n".len()
                )
            )
        );
        let fitting = format!("{head}{}{tail}", "x".repeat(fill - 14));
        assert_eq!(render(&parse_ok(&fitting)).len(), MAX_TEXT_BYTES);
    }

    #[test]
    fn title_errors() {
        let expected_title = |found: &str| (1, format!("expected \"# <title>\", found {found}"));
        assert_eq!(parse_err(""), expected_title("end of file"));
        assert_eq!(parse_err("\n# T\n"), expected_title("\"\""));
        assert_eq!(parse_err("Title\n"), expected_title("\"Title\""));
        assert_eq!(parse_err("#Title\n"), expected_title("\"#Title\""));
        assert_eq!(parse_err("## Title\n"), expected_title("\"## Title\""));
        let nothing = (
            1,
            "expected a title after \"# \", found nothing".to_string(),
        );
        assert_eq!(parse_err("#\nkey: k\n"), nothing);
        assert_eq!(parse_err("#    \nkey: k\n"), nothing);
        assert_eq!(
            parse_err(&format!("# {}\n", "é".repeat(201))),
            (
                1,
                "expected a title of at most 200 characters, found 201".into()
            )
        );
        let padded = MINIMAL.replace("# T", "#   T  ");
        assert_eq!(parse_ok(&padded).title, "T");
    }

    #[test]
    fn headers_in_any_order_and_loose_spacing() {
        let text = "# T\npublic:no\n  tags :a,b ,  c d\nstatus:   retired\ncategory:\nkey:k\n\n\n\n## Statement\nS\n\n## Steps\n1. a\n";
        let m = parse_ok(text);
        assert_eq!(m.key, "k");
        assert_eq!(m.tags, ["a", "b", "c d"]);
        assert_eq!(m.status, Status::Retired);
        assert!(!m.public);
        assert_eq!(m.category, "");
        assert_eq!(
            render(&m),
            "# T\nkey: k\ntags: a, b, c d\nstatus: retired\n\n## Statement\nS\n\n## Steps\n1. a\n"
        );
        let m = parse_ok(&MINIMAL.replace("key: k\n", "key: k\ntags:\ncategory: a: b, c\n"));
        assert!(m.tags.is_empty());
        assert_eq!(m.category, "a: b, c");
    }

    #[test]
    fn alert_names_round_trip_after_the_tags() {
        let text = "# T\nkey: k\ntags: disk\nalerts: DiskFull, Disk Almost Full\nstatus: draft\n\n## Statement\nS\n\n## Steps\n1. a\n";
        let m = parse_ok(text);
        assert_eq!(m.alerts, ["DiskFull", "Disk Almost Full"]);
        assert_eq!(render(&m), text);
        // Loose spacing and another place among the headers: same model,
        // canonical place in the rendering.
        let loose = parse_ok(
            "# T\nalerts:DiskFull ,  Disk Almost Full\nkey: k\ntags: disk\nstatus: draft\n\n## Statement\nS\n\n## Steps\n1. a\n",
        );
        assert_eq!(loose, m);
        assert!(
            parse_ok(&MINIMAL.replace("key: k\n", "key: k\nalerts:\n"))
                .alerts
                .is_empty()
        );
        let header = |line: &str| MINIMAL.replace("status: draft", line);
        assert_eq!(
            parse_err(&header("alerts: A,,B")),
            (
                3,
                "expected an alert name between every two commas, found \"A,,B\"".to_owned()
            )
        );
        assert_eq!(
            parse_err(&header("alerts: A, A")),
            (
                3,
                "expected each alert name once, found \"A\" twice".to_owned()
            )
        );
        assert_eq!(
            parse_err(&header(&format!("alerts: {}", "a".repeat(101)))),
            (
                3,
                "expected an alert name of at most 100 characters, found 101".to_owned()
            )
        );
    }

    #[test]
    fn header_errors() {
        let header = |line: &str| MINIMAL.replace("status: draft", line);
        let cases: Vec<(String, &str)> = vec![
            (
                header("status draft"),
                "expected a header \"name: value\" or a blank line, found \"status draft\"",
            ),
            (
                header("owner: me"),
                "expected one of the headers key, category, tags, alerts, status, public, found \"owner\"",
            ),
            (
                header("Status: draft"),
                "expected one of the headers key, category, tags, alerts, status, public, found \"Status\"",
            ),
            (
                header("key: k2"),
                "expected at most one \"key\" header, found another (first on line 2)",
            ),
            (
                header("status: live"),
                "expected status draft, published or retired, found \"live\"",
            ),
            (
                header("status:"),
                "expected status draft, published or retired, found \"\"",
            ),
            (
                header("public: true"),
                "expected public yes or no, found \"true\"",
            ),
            (
                header(&format!("category: {}", "c".repeat(81))),
                "expected a category of at most 80 characters, found 81",
            ),
            (
                header("tags: a,,b"),
                "expected a tag between every two commas, found \"a,,b\"",
            ),
            (
                header("tags: a,"),
                "expected a tag between every two commas, found \"a,\"",
            ),
            (
                header("tags: a, b, a"),
                "expected each tag once, found \"a\" twice",
            ),
            (
                header(&format!("tags: {}", "t".repeat(41))),
                "expected a tag of at most 40 characters, found 41",
            ),
            (
                header("## Statement"),
                "expected a blank line after the headers, found \"## Statement\"",
            ),
            (
                MINIMAL.replace("key: k", "key: K"),
                "expected only a-z, 0-9 and '-' in a key, found 'K' in \"K\"",
            ),
            (
                MINIMAL.replace("key: k", "key:"),
                "expected a key, found nothing",
            ),
            (
                MINIMAL.replace("key: k", "key: a--b"),
                "expected single '-' between parts of a key, found \"--\" in \"a--b\"",
            ),
        ];
        for (text, message) in cases {
            let line = if text.contains("status: draft") { 2 } else { 3 };
            assert_eq!(parse_err(&text), (line, message.to_string()), "{text}");
        }
        assert_eq!(
            parse_err("# T\nkey: k\n"),
            (
                3,
                "expected a blank line and \"## Statement\", found end of file".into()
            )
        );
        assert_eq!(
            parse_err(&MINIMAL.replace("key: k\n", "")),
            (3, "expected a \"key\" header, found none".into())
        );
    }

    #[test]
    fn section_heading_errors() {
        let text = "# T\nkey: k\nstatus: draft\n\n## Statement\nS\n\n\n## Step\n1. a\n";
        let e = parse(text).err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("line 9: expected \"## Steps\", found \"## Step\"".into())
        );
        assert_eq!(
            parse_err(&MINIMAL.replace("## Statement", "## statement")),
            (
                5,
                "expected \"## Statement\", found \"## statement\"".into()
            )
        );
        assert_eq!(
            parse_err(&MINIMAL.replace("\n## Statement", "\nIntro\n## Statement")),
            (5, "expected \"## Statement\", found \"Intro\"".into())
        );
        assert_eq!(
            parse_err("# T\nkey: k\n\n\n"),
            (5, "expected \"## Statement\", found end of file".into())
        );
        assert_eq!(
            parse_err("# T\nkey: k\n\n## Statement\nS\n"),
            (6, "expected \"## Steps\", found end of file".into())
        );
        assert_eq!(
            parse_err(&MINIMAL.replace("S\n", "\n  \n")),
            (
                5,
                "expected text under \"## Statement\", found an empty section".into()
            )
        );
        assert_eq!(
            parse_err(&format!("{MINIMAL}\n## Notes\nx\n")),
            (
                11,
                "expected \"## Discussion\" or end of file, found \"## Notes\"".into()
            )
        );
        assert_eq!(
            parse_err(&format!("{MINIMAL}\n## Discussion\nx\n## More\n")),
            (
                13,
                "expected end of file after \"## Discussion\", found \"## More\"".into()
            )
        );
        let trailing = MINIMAL
            .replace("## Statement", "## Statement  ")
            .replace("## Steps", "## Steps\t");
        assert_eq!(render(&parse_ok(&trailing)), MINIMAL);
    }

    #[test]
    fn sections_keep_markdown_exactly() {
        let statement =
            "  Indented first line\n### Sub heading\n##\n# H1\n \n\n- item  \n```\n ## x\n```";
        let text = MINIMAL.replace("\nS\n", &format!("\n\n\n{statement}\n  \n\n"));
        let m = parse_ok(&text);
        assert_eq!(m.statement, statement);
        assert_eq!(parse(&render(&m)), Ok(m));
        let m = parse_ok(&format!(
            "{MINIMAL}\n## Discussion\n\n### Why\ntrailing  \n\n"
        ));
        assert_eq!(m.discussion, "### Why\ntrailing  ");
        let m = parse_ok(&format!("{MINIMAL}\n## Discussion\n\n"));
        assert_eq!(m.discussion, "");
        assert_eq!(render(&m), MINIMAL);
    }

    #[test]
    fn step_continuations_and_blank_lines() {
        let m = parse_ok(&with_steps(
            "\n\n1.  lead\n   a\n\n      \n     b\n\n\n2. c\n   ## inside\n   1. nested\n\n\n## Discussion\nd\n",
        ));
        assert_eq!(m.steps, [" lead\na\n\n   \n  b", "c\n## inside\n1. nested"]);
        // Whitespace-only lines at a step's end are dropped, shorter ones become empty.
        let m = parse_ok(&with_steps("1. a\n \n   x\n     \n2. b\n"));
        assert_eq!(m.steps, ["a\n\nx", "b"]);
        assert_eq!(render(&m), with_steps("1. a\n\n   x\n2. b\n"));
    }

    #[test]
    fn ten_or_more_steps_indent_by_four() {
        let mut steps = numbered(9);
        steps.push_str("10. ten\n    more\n\n    again\n11. eleven\n");
        let text = with_steps(&steps);
        let m = parse_ok(&text);
        assert_eq!(m.steps[9], "ten\nmore\n\nagain");
        assert_eq!(render(&m), text);
        let short = with_steps(&format!("{}10. ten\n   more\n", numbered(9)));
        assert_eq!(
            parse_err(&short),
            (
                19,
                "expected step 11 or a line indented by 4 spaces, found \"   more\"".into()
            )
        );
    }

    #[test]
    fn step_errors() {
        let cases: Vec<(&str, usize, &str)> = vec![
            ("intro\n1. a\n", 9, "expected step 1, found \"intro\""),
            ("   1. a\n", 9, "expected step 1, found \"   1. a\""),
            ("1.a\n", 9, "expected step 1, found \"1.a\""),
            (
                "1. a\nfoo\n",
                10,
                "expected step 2 or a line indented by 3 spaces, found \"foo\"",
            ),
            (
                "1. a\n  foo\n",
                10,
                "expected step 2 or a line indented by 3 spaces, found \"  foo\"",
            ),
            (
                "1. a\n\tfoo\n",
                10,
                "expected step 2 or a line indented by 3 spaces, found \"\\tfoo\"",
            ),
            (
                "1. a\n### h\n",
                10,
                "expected step 2 or a line indented by 3 spaces, found \"### h\"",
            ),
            (
                "1. a\n2.\n",
                10,
                "expected text after \"2. \", found nothing",
            ),
            (
                "1. a\n2.    \n   x\n",
                10,
                "expected text after \"2. \", found nothing",
            ),
            ("\n\n", 11, "expected step 1, found end of file"),
            (
                "\n## Discussion\nd\n",
                10,
                "expected step 1, found \"## Discussion\"",
            ),
        ];
        for (steps, line, message) in cases {
            assert_eq!(
                parse_err(&with_steps(steps)),
                (line, message.to_string()),
                "{steps}"
            );
        }
        let long = format!("1. a\n{}. b\n", "9".repeat(1000));
        assert_eq!(
            parse_err(&with_steps(&long)),
            (
                10,
                "expected a step number of at most 6 digits, found step 99999999999999999999…"
                    .into()
            )
        );
    }

    #[test]
    fn any_numbering_is_accepted_and_the_canonical_form_renumbers() {
        // A step inserted as a second "2." and one removed after it.
        let edited = with_steps("1. a\n2. new\n2. b\n   more of b\n4. d\n");
        let m = parse_ok(&edited);
        assert_eq!(m.steps, ["a", "new", "b\nmore of b", "d"]);
        let canonical = crate::domain::model::render(&m);
        assert!(
            canonical.contains("## Steps\n1. a\n2. new\n3. b\n   more of b\n4. d\n"),
            "{canonical}"
        );
        assert_eq!(parse_ok(&canonical), m, "the canonical form round-trips");
        assert_eq!(parse_ok(&with_steps("7. a\n01. b\n")).steps, ["a", "b"]);
    }

    #[test]
    fn at_most_500_steps() {
        let m = parse_ok(&with_steps(&numbered(500)));
        assert_eq!(m.steps.len(), 500);
        assert_eq!(m.steps[499], "s500");
        assert_eq!(
            parse_err(&with_steps(&numbered(501))),
            (509, "expected at most 500 steps, found step 501".into())
        );
    }

    /// splitmix64: tiny, seedable and good enough to drive test generation.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn range(&mut self, lo: usize, hi: usize) -> usize {
            lo + self.below(hi - lo + 1)
        }

        fn chance(&mut self, percent: u64) -> bool {
            self.next() % 100 < percent
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const WORDS: &[&str] = &[
        "disk",
        "Postgres",
        "WAL",
        "free",
        "space",
        "ünïcødé",
        "日本語",
        "🚒",
        "naïve",
        "Ω",
        "e\u{301}",
        "C++",
        "a:b",
        "50%",
        "#tag",
        "[x](y)",
        "**bold**",
        "_em_",
        "\\",
        "\"q\"",
        "<br>",
        "tab\there",
        "[[not a--link]]",
        "--",
        ",",
        "1.",
        "##",
        "`df -h`",
        "[[db-x]]",
        "\u{3000}wide",
        "key:",
        "]]",
        "[[",
    ];

    fn words(rng: &mut Rng, lo: usize, hi: usize) -> String {
        let n = rng.range(lo, hi);
        (0..n)
            .map(|_| rng.pick(WORDS))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One header-like line: trimmed, non-empty, at most `max` chars.
    fn short_line(rng: &mut Rng, hi: usize, max: usize) -> String {
        let text: String = words(rng, 1, hi).chars().take(max).collect();
        let text = text.trim();
        if text.is_empty() {
            "x".into()
        } else {
            text.into()
        }
    }

    fn key(rng: &mut Rng) -> String {
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let (parts, len) = if rng.chance(5) {
            (8, 9)
        } else {
            (rng.range(1, 4), 10)
        };
        (0..parts)
            .map(|_| {
                let n = rng.range(1, len);
                (0..n)
                    .map(|_| char::from(ALNUM[rng.below(ALNUM.len())]))
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("-")
    }

    fn markdown_line(rng: &mut Rng, in_step: bool) -> String {
        match rng.below(if in_step { 18 } else { 17 }) {
            0 | 1 => words(rng, 1, 12),
            2 => format!(
                "{} `code [[x]] ## y` {}",
                words(rng, 0, 3),
                words(rng, 0, 3)
            ),
            3 => format!("### {}", words(rng, 1, 4)),
            4 => format!("- {}", words(rng, 1, 5)),
            5 => format!("{}. {}", rng.range(1, 12), words(rng, 1, 4)),
            6 => format!("    {}", words(rng, 1, 3)),
            7 => rng.pick(&["```", "```sh", "~~~"]).into(),
            8 => format!("See [[{}]].", key(rng)),
            9 => rng
                .pick(&["##", "#", "#### deep", "# h1", "##no-space", "---"])
                .into(),
            10 => format!("{}  ", words(rng, 1, 4)),
            11 => format!("\t{}", words(rng, 1, 3)),
            12 => format!("key: {}", key(rng)),
            13 | 14 => String::new(),
            15 => rng.pick(&[" ", "   ", "\t", "\u{3000}"]).into(),
            16 => format!("  {}", words(rng, 1, 3)),
            _ => format!("## {}", words(rng, 1, 3)),
        }
    }

    fn markdown(rng: &mut Rng, lo: usize, hi: usize, in_step: bool) -> String {
        let n = rng.range(lo, hi);
        let lines: Vec<String> = (0..n)
            .map(|_| markdown_line(rng, in_step))
            // Random words can also start a line with "## ", which only steps may hold.
            .map(|l| {
                if !in_step && is_heading(&l) {
                    format!("x{l}")
                } else {
                    l
                }
            })
            .collect();
        let words_line = words(rng, 1, 5);
        let first = lines.iter().position(|l| !l.trim().is_empty());
        let last = lines.iter().rposition(|l| !l.trim().is_empty());
        match (first, last) {
            (Some(first), Some(last)) => lines[first..=last].join("\n"),
            _ if !in_step && words_line.starts_with("##") => format!("x{words_line}"),
            _ => words_line,
        }
    }

    fn random_model(rng: &mut Rng) -> ModelText {
        let mut tags: Vec<String> = Vec::new();
        for _ in 0..rng.below(6) {
            let tag = short_line(rng, 2, 40).replace(',', ";");
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        // Derived from the tags, not drawn: the random sequence (and so
        // every other generated model) stays as it was before alert names.
        let alerts: Vec<String> = tags.iter().take(2).map(|t| format!("{t} alert")).collect();
        let steps = if rng.chance(35) {
            rng.range(10, 15)
        } else {
            rng.range(1, 9)
        };
        ModelText {
            title: short_line(rng, 12, 200),
            key: key(rng),
            category: if rng.chance(30) {
                String::new()
            } else {
                short_line(rng, 3, 80)
            },
            tags,
            alerts,
            status: [Status::Draft, Status::Published, Status::Retired][rng.below(3)],
            public: rng.chance(50),
            statement: markdown(rng, 1, 8, false),
            steps: (0..steps).map(|_| markdown(rng, 1, 6, true)).collect(),
            discussion: if rng.chance(40) {
                String::new()
            } else {
                markdown(rng, 1, 8, false)
            },
        }
    }

    #[test]
    fn generated_models_round_trip() {
        let mut rng = Rng(0x00c0_ffee_2024);
        let (mut wide, mut inner_blank) = (0, 0);
        for _ in 0..6000 {
            let m = random_model(&mut rng);
            assert_eq!(validate(&m), Ok::<(), ValidationError>(()), "{m:?}");
            let text = render(&m);
            let parsed = parse(&text);
            assert_eq!(parsed.as_ref(), Ok(&m), "{text}");
            if let Ok(parsed) = parsed {
                assert_eq!(render(&parsed), text);
            }
            assert_eq!(parse(&text.replace('\n', "\r\n")), Ok(m.clone()));
            wide += usize::from(m.steps.len() >= 10);
            inner_blank += usize::from(m.steps.iter().any(|s| s.contains("\n\n")));
        }
        assert!(wide > 1000 && inner_blank > 1000, "{wide} {inner_blank}");
    }

    /// Parses `input`; if it is accepted, the result must be valid and stable.
    fn check_never_panics(input: &str) {
        let outcome = std::panic::catch_unwind(|| match parse(input) {
            Ok(m) => {
                assert_eq!(validate(&m), Ok(()));
                assert_eq!(parse(&render(&m)), Ok(m));
            }
            Err(e) => {
                assert!(e.line >= 1 && e.line <= input.split('\n').count() + 1);
                assert!(!e.message.is_empty() && e.message.len() < 400);
            }
        });
        assert!(outcome.is_ok(), "failed on {input:?}");
    }

    fn char_boundary(rng: &mut Rng, text: &str) -> usize {
        let mut at = rng.below(text.len() + 1);
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    #[test]
    fn parse_never_panics_on_random_or_mutated_input() {
        let mut rng = Rng(42);
        let corpus: Vec<String> = std::iter::once(EXAMPLE.to_string())
            .chain((0..200).map(|_| render(&random_model(&mut rng))))
            .collect();
        const SPICY: &[u8] = b"#:- \n\r0123456789.[]\t,";
        const FRAGMENTS: &[&str] = &[
            "\r",
            "\n",
            "\r\n",
            "## ",
            "1. ",
            "10. ",
            "   ",
            "    ",
            "key: x\n",
            "\u{feff}",
            "## Steps\n",
            "## Discussion\n",
            "## Statement\n",
            "\n\n",
            "é",
            "[[a]]",
            ":",
        ];
        let mut accepted = 0;
        for round in 0..6000 {
            let base = &corpus[rng.below(corpus.len())];
            let input = match round % 6 {
                0 => {
                    let bytes: Vec<u8> = (0..rng.below(400))
                        .map(|_| {
                            if rng.chance(50) {
                                SPICY[rng.below(SPICY.len())]
                            } else {
                                rng.next() as u8
                            }
                        })
                        .collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => base[..char_boundary(&mut rng, base)].to_string(),
                2 => {
                    let mut lines: Vec<&str> = base.split('\n').collect();
                    for i in (1..lines.len()).rev() {
                        lines.swap(i, rng.below(i + 1));
                    }
                    lines.join("\n")
                }
                3 => {
                    let mut lines: Vec<&str> = base.split('\n').collect();
                    let i = rng.below(lines.len());
                    match rng.below(3) {
                        0 => {
                            lines.remove(i);
                        }
                        1 => lines.insert(i, lines[i]),
                        _ => {
                            let j = rng.below(lines.len());
                            lines.swap(i, j);
                        }
                    }
                    lines.join("\n")
                }
                4 => {
                    let mut text = base.clone();
                    for _ in 0..rng.range(1, 4) {
                        let at = char_boundary(&mut rng, &text);
                        text.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]);
                    }
                    text
                }
                _ => {
                    let mut lines: Vec<String> = base.split('\n').map(String::from).collect();
                    let i = rng.below(lines.len());
                    if rng.chance(50) {
                        lines[i] = lines[i].trim_start().to_string();
                    } else {
                        lines[i].insert_str(0, &" ".repeat(rng.range(1, 5)));
                    }
                    lines.join("\n")
                }
            };
            accepted += usize::from(parse(&input).is_ok());
            check_never_panics(&input);
        }
        // Mutations must leave a fair share parseable, or the
        // "accepted input is stable" branch is not being exercised.
        assert!(accepted > 500, "{accepted}");
    }

    #[test]
    fn hostile_sizes_are_handled() {
        let just_under = MAX_TEXT_BYTES - 100;
        for input in [
            "\n".repeat(MAX_TEXT_BYTES),
            "#".repeat(MAX_TEXT_BYTES),
            format!("# {}", "é".repeat(just_under / 2)),
            format!("# T\nkey: k\ntags: {}\n", "a,".repeat(just_under / 2)),
            with_steps(&"9".repeat(just_under)),
            with_steps(&format!("1. {}", "[[".repeat(just_under / 2))),
            with_steps(&"1. a\n   \n".repeat(just_under / 10)),
        ] {
            check_never_panics(&input);
        }
    }
}
