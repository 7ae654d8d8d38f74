//! Markdown → sanitized HTML. [`SafeHtml`] is the only thing a template may
//! mark `|safe`, and this module is the only way to make one: pulldown-cmark
//! renders, ammonia removes anything that could run script.

use std::fmt;

use pulldown_cmark::{Options, Parser, html};

use crate::domain::model::validate_key;

/// HTML that went through the sanitizer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SafeHtml(String);

impl SafeHtml {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Renders Markdown, turning `[[key]]` into a link to that model.
pub fn render(markdown: &str) -> SafeHtml {
    let linked = link_models(markdown);
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let mut raw = String::with_capacity(linked.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(&linked, options));
    SafeHtml(
        ammonia::Builder::default()
            .link_rel(Some("noopener noreferrer"))
            .url_schemes(["http", "https", "mailto"].into())
            .clean(&raw)
            .to_string(),
    )
}

/// A journal entry: Markdown with its line breaks kept (people type
/// entries like chat messages); a pasted log or alert payload is shown as
/// written, monospaced; either collapses behind its first line when long.
pub fn render_entry(text: &str) -> SafeHtml {
    let body = if looks_like_log(text) {
        format!("<pre class=\"log\">{}</pre>", escape_text(text))
    } else {
        let linked = link_models(text);
        let mut options = Options::empty();
        options.insert(Options::ENABLE_TABLES);
        options.insert(Options::ENABLE_STRIKETHROUGH);
        let events = Parser::new_ext(&linked, options).map(|event| match event {
            pulldown_cmark::Event::SoftBreak => pulldown_cmark::Event::HardBreak,
            other => other,
        });
        let mut raw = String::with_capacity(linked.len() * 2);
        html::push_html(&mut raw, events);
        ammonia::Builder::default()
            .link_rel(Some("noopener noreferrer"))
            .url_schemes(["http", "https", "mailto"].into())
            .clean(&raw)
            .to_string()
    };
    let lines = text.lines().count();
    if lines <= LONG_ENTRY_LINES {
        return SafeHtml(body);
    }
    let first: String = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .chars()
        .take(120)
        .collect();
    SafeHtml(format!(
        "<details class=\"long-entry\"><summary><span class=\"first-line\">{}</span> \
         <span class=\"muted\">({lines} lines, show all)</span></summary>{body}</details>",
        escape_text(&first)
    ))
}

/// Text for HTML element content: the five characters that matter escaped,
/// spaces and line breaks kept as they are (a `<pre>` shows them).
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Entries longer than this collapse behind their first line.
pub const LONG_ENTRY_LINES: usize = 20;

/// Whether text reads as a log or a machine payload rather than prose: a
/// JSON or YAML-ish document, or lines most of which start with a
/// timestamp, a log level or `key=value`/`key: value` pairs. Fenced code
/// is left to Markdown.
fn looks_like_log(text: &str) -> bool {
    let text = text.trim();
    if text.contains("```") {
        return false;
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() < 3 {
        return false;
    }
    if (text.starts_with('{') && text.ends_with('}'))
        || (text.starts_with('[') && text.ends_with(']'))
    {
        return true;
    }
    let machine = |line: &&str| {
        let l = line.trim_start();
        let first = l.split_whitespace().next().unwrap_or_default();
        l.starts_with(|c: char| c.is_ascii_digit())
            || [
                "ERROR", "WARN", "WARNING", "INFO", "DEBUG", "TRACE", "FATAL", "CRITICAL",
            ]
            .iter()
            .any(|lvl| first.trim_matches(|c: char| !c.is_ascii_alphabetic()) == *lvl)
            || (first.contains('=') && !first.starts_with('='))
            || l.starts_with('"')
            || line.starts_with("  ")
    };
    lines.iter().filter(|l| machine(l)).count() * 2 > lines.len()
}

/// Sanitizes HTML made elsewhere (search snippets, whose text tantivy has
/// escaped and whose matches it wraps in `<b>`).
pub fn sanitize(html: &str) -> SafeHtml {
    SafeHtml(ammonia::Builder::default().clean(html).to_string())
}

/// Plain text as HTML.
pub fn escape(text: &str) -> SafeHtml {
    SafeHtml(ammonia::clean_text(text))
}

/// `[[db-disk-full]]` → `[db-disk-full](/models/db-disk-full)`; anything
/// between the brackets that is not a well-formed key is left as it is.
fn link_models(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("]]") {
            Some(end) if validate_key(&after[..end]).is_ok() => {
                let key = &after[..end];
                out.push_str(&format!("[{key}](/models/{key})"));
                rest = &after[end + 2..];
            }
            _ => {
                out.push_str("[[");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_their_line_breaks_and_logs_stay_as_written() {
        let chat = render_entry("checked the LB\nrestarting web-2 now");
        assert!(chat.as_str().contains("checked the LB<br>"), "{chat}");
        let log = "2026-11-29T03:01:02Z ERROR upstream timed out\n\
                   2026-11-29T03:01:03Z WARN  retrying <b>pool</b>\n\
                   2026-11-29T03:01:04Z ERROR upstream timed out";
        let html = render_entry(log);
        assert!(
            html.as_str()
                .starts_with(r#"<pre class="log">2026-11-29T03:01:02Z ERROR"#),
            "{html}"
        );
        assert!(
            html.as_str().contains("&lt;b&gt;pool&lt;/b&gt;"),
            "escaped: {html}"
        );
        let payload = "{\n  \"alertname\": \"DiskFull\",\n  \"severity\": \"page\"\n}";
        assert!(
            render_entry(payload)
                .as_str()
                .starts_with(r#"<pre class="log">"#)
        );
        // Prose with a list is Markdown.
        let prose = render_entry("Plan:\n- fail over\n- tell the customer\n- write it up");
        assert!(prose.as_str().contains("<li>fail over</li>"), "{prose}");
    }

    #[test]
    fn long_entries_collapse_behind_their_first_line() {
        let long: String = (1..=30).map(|n| format!("{n} line <x>\n")).collect();
        let html = render_entry(&long);
        assert!(
            html.as_str().starts_with(
                r#"<details class="long-entry"><summary><span class="first-line">1 line &lt;x&gt;</span> <span class="muted">(30 lines, show all)</span></summary><pre class="log">"#
            ),
            "{html}"
        );
        assert!(!render_entry("short\nentry").as_str().contains("<details"));
    }

    #[test]
    fn renders_markdown_and_model_links() {
        let html = render("Run `df -h`, then see [[wal-archiving-stuck]].\n\n**Escalate**.");
        assert!(html.as_str().contains("<code>df -h</code>"), "{html}");
        assert!(html.as_str().contains(r#"<a href="/models/wal-archiving-stuck" rel="noopener noreferrer">wal-archiving-stuck</a>"#), "{html}");
        assert!(html.as_str().contains("<strong>Escalate</strong>"));
    }

    #[test]
    fn leaves_malformed_links_alone() {
        let html = render("[[Not A Key]] and [[unterminated");
        assert!(html.as_str().contains("[[Not A Key]]"), "{html}");
        assert!(html.as_str().contains("[[unterminated"), "{html}");
    }

    /// Payloads from the usual XSS cheat sheets, in the places Markdown lets
    /// them in: raw HTML, link and image URLs, attributes.
    const XSS: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<svg><script>alert(1)</script></svg>",
        "<body onload=alert(1)>",
        "<iframe src=javascript:alert(1)></iframe>",
        "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
        "<object data=javascript:alert(1)>",
        "<embed src=javascript:alert(1)>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "<a href=\"&#106;avascript:alert(1)\">x</a>",
        "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
        "<a href=\"vbscript:msgbox(1)\">x</a>",
        "[click](javascript:alert(1))",
        "[click](JAVASCRIPT:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        "![x](x\" onerror=\"alert(1))",
        "<div style=\"background:url(javascript:alert(1))\">x</div>",
        "<style>*{background:url(javascript:alert(1))}</style>",
        "<link rel=stylesheet href=//evil.example/x.css>",
        "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">",
        "<form action=javascript:alert(1)><button>x</button></form>",
        "<input onfocus=alert(1) autofocus>",
        "<details open ontoggle=alert(1)>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<base href=javascript:alert(1)//>",
        "<marquee onstart=alert(1)>",
        "<video><source onerror=alert(1)></video>",
        "<p title=\"</p><script>alert(1)</script>\">x</p>",
        "<!--<script>alert(1)</script>-->",
        "[[x]]<script>alert(1)</script>",
        "<a href=\" javascript:alert(1)\">x</a>",
        "<template><script>alert(1)</script></template>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    ];

    #[test]
    fn no_xss_payload_survives() {
        for payload in XSS {
            for context in [
                payload.to_string(),
                format!("Text before\n\n{payload}\n\nafter"),
                format!("1. step {payload}"),
                format!("`{payload}` and {payload}"),
            ] {
                let html = render(&context).as_str().to_ascii_lowercase();
                // Only markup can run: look inside tags, not at escaped text.
                let tags: Vec<&str> = html
                    .split('<')
                    .skip(1)
                    .map(|rest| rest.split('>').next().unwrap_or(rest))
                    .collect();
                let markup = tags.join(" <");
                let html = format!("<{markup}");
                for forbidden in [
                    "<script",
                    "javascript:",
                    "vbscript:",
                    "data:text",
                    "onerror",
                    "onload",
                    "onfocus",
                    "ontoggle",
                    "onstart",
                    "<iframe",
                    "<object",
                    "<embed",
                    "<style",
                    "<link",
                    "<meta",
                    "<form",
                    "<base",
                    "<svg",
                    "style=",
                    "srcdoc",
                    "<input",
                    "<template",
                ] {
                    // Escaped text (&lt;script) is harmless and allowed.
                    assert!(
                        !html.contains(forbidden),
                        "{payload:?} left {forbidden:?} in {html}"
                    );
                }
            }
        }
    }
}
