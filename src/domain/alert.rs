//! Alerts coming in from monitoring (Alertmanager, or any source through
//! the generic intake): what ticket an alert makes, what a repeat or a
//! resolution does to it. Pure rules with their tests; the intake service
//! (`tickets::intake`) runs them under row locks.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::FieldError;
use super::ticket::{Priority, Status};

/// The longest fingerprint or dedup key accepted.
pub const MAX_FINGERPRINT_CHARS: usize = 200;
/// At most this many alerts in one delivery.
pub const MAX_ALERTS: usize = 1000;
/// Labels and annotations of one alert, names and values together.
pub const MAX_ALERT_TEXT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(field: &'static str, s: &str) -> Result<Self, FieldError> {
        match s.trim() {
            "firing" => Ok(AlertStatus::Firing),
            "resolved" => Ok(AlertStatus::Resolved),
            other => Err(FieldError::new(
                field,
                format!("expected \"firing\" or \"resolved\", found {other:?}"),
            )),
        }
    }
}

/// One alert of a delivery, whatever its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Identifies the alert within its integration (Alertmanager's
    /// fingerprint, or the generic intake's dedup key).
    pub fingerprint: String,
    pub group_key: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// When this firing started: a notification with the same start as the
    /// one already counted is a repeat, not a new firing.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub generator_url: String,
    /// The generic intake says these outright; Alertmanager alerts derive
    /// them from labels and annotations.
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
}

impl Incoming {
    pub fn alertname(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Refuses what cannot be stored or is too big to be an alert;
    /// `n` is the alert's place in the delivery, for the message.
    pub fn check(&self, n: usize) -> Result<(), FieldError> {
        let fp = self.fingerprint.trim();
        if fp.is_empty() {
            return Err(FieldError::new(
                "alerts",
                format!("alert {n}: the fingerprint (dedup key) is empty"),
            ));
        }
        if fp.chars().count() > MAX_FINGERPRINT_CHARS {
            return Err(FieldError::new(
                "alerts",
                format!(
                    "alert {n}: the fingerprint is longer than {MAX_FINGERPRINT_CHARS} characters"
                ),
            ));
        }
        let texts = self
            .labels
            .iter()
            .chain(self.annotations.iter())
            .flat_map(|(k, v)| [k.as_str(), v.as_str()])
            .chain([
                self.fingerprint.as_str(),
                self.group_key.as_str(),
                self.generator_url.as_str(),
            ])
            .chain(self.title.as_deref())
            .chain(self.description.as_deref())
            .chain(self.category.as_deref());
        let mut bytes = 0;
        for text in texts {
            if text.contains('\0') {
                return Err(FieldError::new(
                    "alerts",
                    format!("alert {n}: text must not contain the NUL character"),
                ));
            }
            bytes += text.len();
        }
        if bytes > MAX_ALERT_TEXT_BYTES {
            return Err(FieldError::new(
                "alerts",
                format!("alert {n}: labels and annotations exceed {MAX_ALERT_TEXT_BYTES} bytes"),
            ));
        }
        Ok(())
    }

    /// The ticket title: the alert name and its summary.
    pub fn title(&self) -> String {
        let title = match &self.title {
            Some(t) if !t.trim().is_empty() => t.trim().to_owned(),
            _ => {
                let name = self.alertname().trim();
                let summary = self
                    .annotations
                    .get("summary")
                    .map_or("", |s| s.trim())
                    .replace(['\n', '\r'], " ");
                match (name.is_empty(), summary.is_empty()) {
                    (false, false) => format!("{name}: {summary}"),
                    (false, true) => name.to_owned(),
                    (true, false) => summary,
                    (true, true) => format!("Alert {}", self.fingerprint.trim()),
                }
            }
        };
        let mut title: String = title
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_TITLE_CHARS)
            .collect();
        if title.chars().count() == MAX_TITLE_CHARS {
            title.pop();
            title.push('…');
        }
        title
    }

    /// The ticket description (Markdown): the annotations, then the labels,
    /// laid out as lists. Every value is escaped, so a label that holds
    /// markup or a link is shown as the text it is.
    pub fn description(&self, external_url: &str) -> String {
        let mut out = String::new();
        if let Some(text) = self.description.as_deref().filter(|t| !t.trim().is_empty()) {
            out.push_str(&escape_markdown(text.trim()));
            out.push_str("\n\n");
        }
        if !self.annotations.is_empty() {
            out.push_str("**Annotations**\n\n");
            for (name, value) in &self.annotations {
                out.push_str(&format!(
                    "- {}: {}\n",
                    escape_markdown(name),
                    indent_continuation(&escape_markdown(value.trim()))
                ));
            }
            out.push('\n');
        }
        if !self.labels.is_empty() {
            out.push_str("**Labels**\n\n");
            for (name, value) in &self.labels {
                out.push_str(&format!(
                    "- {}: {}\n",
                    escape_markdown(name),
                    indent_continuation(&escape_markdown(value.trim()))
                ));
            }
            out.push('\n');
        }
        let mut source = Vec::new();
        if let Some(at) = self.starts_at {
            source.push(format!("- started: {}", at.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        if !self.generator_url.trim().is_empty() {
            source.push(format!(
                "- source: {}",
                escape_markdown(self.generator_url.trim())
            ));
        }
        if !external_url.trim().is_empty() {
            source.push(format!(
                "- alertmanager: {}",
                escape_markdown(external_url.trim())
            ));
        }
        source.push(format!(
            "- fingerprint: {}",
            escape_markdown(self.fingerprint.trim())
        ));
        out.push_str("**Alert**\n\n");
        out.push_str(&source.join("\n"));
        out.push('\n');
        let mut description = out.trim_end().to_owned();
        if description.len() > MAX_DESCRIPTION_BYTES {
            let mut cut = MAX_DESCRIPTION_BYTES - 3;
            while !description.is_char_boundary(cut) {
                cut -= 1;
            }
            description.truncate(cut);
            description.push('…');
        }
        description
    }

    /// The key of the model the `runbook_url` annotation names: its last
    /// path segment (`…/models/disk-full` or just `disk-full`).
    pub fn runbook_key(&self) -> Option<String> {
        let url = self.annotations.get("runbook_url")?.trim();
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let last = path.trim_end_matches('/').rsplit('/').next()?.trim();
        crate::domain::model::validate_key(last)
            .ok()
            .map(|()| last.to_owned())
    }

    /// What a triage search for this alert asks: its title and the
    /// description it carries, not the labels (names of hosts and jobs
    /// would only add noise to the ranking).
    pub fn triage_query(&self) -> String {
        let mut q = self.title();
        for text in [
            self.description.as_deref(),
            self.annotations.get("description").map(String::as_str),
        ]
        .into_iter()
        .flatten()
        {
            q.push(' ');
            q.push_str(&text.replace(['\n', '\r'], " "));
        }
        let q = q.trim();
        let mut cut = q.len().min(1000);
        while !q.is_char_boundary(cut) {
            cut -= 1;
        }
        q[..cut].to_owned()
    }
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_BYTES: usize = 100_000;
/// As `tickets::edit::MAX_CATEGORY_CHARS`.
pub const MAX_CATEGORY_CHARS: usize = 80;

/// The characters that make Markdown (or HTML) out of text get a
/// backslash (CommonMark allows one before any ASCII punctuation), and so
/// does what would start a block at the start of a line: the text renders
/// as itself, no markup, no links, no HTML, and stays readable as typed.
pub fn escape_markdown(text: &str) -> String {
    const INLINE: &str = "\\`*_[]<>&!|~#{}";
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = line.len() - line.trim_start().len();
        out.push_str(&line[..indent]);
        let rest = &line[indent..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        for (j, c) in rest.char_indices() {
            let starts_block = (j == 0 && matches!(c, '-' | '+' | '=' | '>'))
                || (j == digits && digits > 0 && matches!(c, '.' | ')'));
            if INLINE.contains(c) || starts_block {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A multi-line value stays inside its list item.
fn indent_continuation(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("  \n  ")
}

/// Label value → priority, as an admin writes it: one `value = P1` a line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorityMap(pub Vec<(String, Priority)>);

impl PriorityMap {
    pub fn get(&self, value: &str) -> Option<Priority> {
        let value = value.trim();
        self.0
            .iter()
            .find(|(v, _)| v.eq_ignore_ascii_case(value))
            .map(|(_, p)| *p)
    }

    /// `critical = P1` lines (or `critical: 1`, or commas between pairs).
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let mut pairs: Vec<(String, Priority)> = Vec::new();
        for part in text.split(['\n', ',']) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((value, priority)) = part.split_once(['=', ':']) else {
                return Err(FieldError::new(
                    "priority_map",
                    format!("write each pair as \"value = P1\", found {part:?}"),
                ));
            };
            let value = value.trim();
            if value.is_empty() || value.chars().count() > 80 || value.contains('\0') {
                return Err(FieldError::new(
                    "priority_map",
                    format!("a label value must be 1 to 80 characters, found {value:?}"),
                ));
            }
            let priority: Priority = priority.parse().map_err(|_| {
                FieldError::new("priority_map", format!("{part:?}: choose P1, P2, P3 or P4"))
            })?;
            if pairs.iter().any(|(v, _)| v.eq_ignore_ascii_case(value)) {
                return Err(FieldError::new(
                    "priority_map",
                    format!("{value:?} is mapped twice"),
                ));
            }
            pairs.push((value.to_owned(), priority));
        }
        if pairs.len() > 50 {
            return Err(FieldError::new("priority_map", "at most 50 values"));
        }
        Ok(PriorityMap(pairs))
    }

    /// As stored: `{"critical": 1, …}` (order kept by the pairs' list in
    /// the `pairs` array form below).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.0
                .iter()
                .map(|(v, p)| serde_json::json!([v, p.level()]))
                .collect(),
        )
    }

    /// Reads both the stored pair list and the object form of the
    /// migration's default; anything unreadable is left out.
    pub fn from_json(value: &serde_json::Value) -> Self {
        let read = |v: &str, level: Option<i64>| {
            let level = i16::try_from(level?).ok()?;
            Some((v.to_owned(), Priority::new(level).ok()?))
        };
        match value {
            serde_json::Value::Array(pairs) => PriorityMap(
                pairs
                    .iter()
                    .filter_map(|p| read(p.get(0)?.as_str()?, p.get(1)?.as_i64()))
                    .collect(),
            ),
            serde_json::Value::Object(map) => {
                let mut pairs: Vec<(String, Priority)> = map
                    .iter()
                    .filter_map(|(v, l)| read(v, l.as_i64()))
                    .collect();
                pairs.sort_by_key(|(v, p)| (*p, v.clone()));
                PriorityMap(pairs)
            }
            _ => PriorityMap::default(),
        }
    }
}

impl fmt::Display for PriorityMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (value, priority)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{value} = {priority}")?;
        }
        Ok(())
    }
}

/// How an integration turns alerts into tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub default_priority: Priority,
    pub default_category: String,
    pub priority_label: String,
    pub priority_map: PriorityMap,
    pub category_label: String,
}

impl Mapping {
    /// The generic intake's own priority, else the mapped label, else the
    /// default.
    pub fn priority(&self, alert: &Incoming) -> Priority {
        alert
            .priority
            .or_else(|| {
                let value = alert.labels.get(self.priority_label.trim())?;
                self.priority_map
                    .get(value)
                    .or_else(|| value.parse::<Priority>().ok())
            })
            .unwrap_or(self.default_priority)
    }

    pub fn category(&self, alert: &Incoming) -> String {
        let label = self.category_label.trim();
        let from_label = (!label.is_empty())
            .then(|| alert.labels.get(label))
            .flatten();
        let category = alert
            .category
            .as_deref()
            .or(from_label.map(String::as_str))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or(self.default_category.trim());
        category
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(MAX_CATEGORY_CHARS)
            .collect()
    }
}

/// What is known of an alert already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub status: AlertStatus,
    pub starts_at: Option<DateTime<Utc>>,
    /// The status of its ticket.
    pub ticket: Status,
    /// When that ticket was last resolved, if it was.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// What a notification does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A new ticket.
    Open,
    /// Fired again while its ticket is open: an entry, the count goes up.
    FiredAgain,
    /// Fired again soon after its ticket was resolved: the ticket reopens.
    Reopen,
    /// The alert resolved: an entry, and the ticket resolves if the
    /// integration says so.
    Resolved,
    /// Nothing new: a retry, a repeat notification of a firing already
    /// counted, a stale resolution, or the resolution of an alert never
    /// seen firing.
    Unchanged,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Open => "opened",
            Decision::FiredAgain => "fired_again",
            Decision::Reopen => "reopened",
            Decision::Resolved => "resolved",
            Decision::Unchanged => "unchanged",
        }
    }
}

/// Whether a notification repeats what is already known of its alert (a
/// retry, a group re-sent with the alert still firing, a late delivery of
/// an older firing, a resolution already applied). Depends on the alert's
/// row only, so the intake can answer it before taking any lock.
pub fn is_repeat(status: AlertStatus, starts_at: Option<DateTime<Utc>>, alert: &Incoming) -> bool {
    let older = matches!((starts_at, alert.starts_at), (Some(known), Some(this)) if this < known);
    match alert.status {
        // The same firing (same start; or no start given and still
        // firing), or an older one delivered late.
        AlertStatus::Firing => {
            (starts_at == alert.starts_at
                && (status == AlertStatus::Firing || alert.starts_at.is_some()))
                || older
        }
        AlertStatus::Resolved => status == AlertStatus::Resolved || older,
    }
}

pub fn decide(
    known: Option<Known>,
    alert: &Incoming,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> Decision {
    let Some(k) = known else {
        return match alert.status {
            AlertStatus::Firing => Decision::Open,
            AlertStatus::Resolved => Decision::Unchanged,
        };
    };
    if is_repeat(k.status, k.starts_at, alert) {
        return Decision::Unchanged;
    }
    match alert.status {
        AlertStatus::Firing if k.ticket.is_open() => Decision::FiredAgain,
        AlertStatus::Firing
            if k.ticket == Status::Resolved
                && k.resolved_at.is_some_and(|at| now - at <= reopen_window) =>
        {
            Decision::Reopen
        }
        AlertStatus::Firing => Decision::Open,
        AlertStatus::Resolved => Decision::Resolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(status: AlertStatus, starts: Option<i64>) -> Incoming {
        Incoming {
            fingerprint: "abc".into(),
            group_key: String::new(),
            status,
            labels: BTreeMap::from([
                ("alertname".to_owned(), "DiskFull".to_owned()),
                ("severity".to_owned(), "critical".to_owned()),
            ]),
            annotations: BTreeMap::from([(
                "summary".to_owned(),
                "Disk on db1 is 97% full".to_owned(),
            )]),
            starts_at: starts.and_then(|s| DateTime::from_timestamp(s, 0)),
            ends_at: None,
            generator_url: String::new(),
            title: None,
            description: None,
            priority: None,
            category: None,
        }
    }

    fn known(status: AlertStatus, starts: Option<i64>, ticket: Status) -> Option<Known> {
        Some(Known {
            status,
            starts_at: starts.and_then(|s| DateTime::from_timestamp(s, 0)),
            ticket,
            resolved_at: DateTime::from_timestamp(1000, 0),
        })
    }

    #[test]
    fn firing_resolving_and_firing_again() {
        use AlertStatus::*;
        let now = DateTime::from_timestamp(2000, 0).unwrap_or_default();
        let day = Duration::hours(24);
        let d = |k, a: &Incoming| decide(k, a, now, day);
        assert_eq!(d(None, &alert(Firing, Some(10))), Decision::Open);
        assert_eq!(d(None, &alert(Resolved, Some(10))), Decision::Unchanged);
        // Retry or repeat of the same firing.
        let same = known(Firing, Some(10), Status::New);
        assert_eq!(d(same, &alert(Firing, Some(10))), Decision::Unchanged);
        // A new firing while the ticket is open.
        assert_eq!(d(same, &alert(Firing, Some(20))), Decision::FiredAgain);
        // A late delivery of an older firing.
        assert_eq!(d(same, &alert(Firing, Some(5))), Decision::Unchanged);
        // Resolution, once.
        assert_eq!(d(same, &alert(Resolved, Some(10))), Decision::Resolved);
        let resolved = known(Resolved, Some(10), Status::Resolved);
        assert_eq!(d(resolved, &alert(Resolved, Some(10))), Decision::Unchanged);
        // The resolved firing delivered again after its resolution.
        assert_eq!(d(resolved, &alert(Firing, Some(10))), Decision::Unchanged);
        // Fires again within the window: reopen; after it, a new ticket.
        assert_eq!(d(resolved, &alert(Firing, Some(30))), Decision::Reopen);
        let late = DateTime::from_timestamp(1000 + 25 * 3600, 0).unwrap_or_default();
        assert_eq!(
            decide(resolved, &alert(Firing, Some(30)), late, day),
            Decision::Open
        );
        // A closed ticket never reopens.
        let closed = known(Resolved, Some(10), Status::Closed);
        assert_eq!(d(closed, &alert(Firing, Some(30))), Decision::Open);
        // Alert resolved, ticket left open: firing again is counted on it.
        let open = known(Resolved, Some(10), Status::InProgress);
        assert_eq!(d(open, &alert(Firing, Some(30))), Decision::FiredAgain);
        // Without a start time (the generic intake): still firing is a repeat.
        let generic = known(Firing, None, Status::New);
        assert_eq!(d(generic, &alert(Firing, None)), Decision::Unchanged);
        let generic = known(Resolved, None, Status::New);
        assert_eq!(d(generic, &alert(Firing, None)), Decision::FiredAgain);
    }

    #[test]
    fn title_priority_and_category_come_from_labels() {
        let a = alert(AlertStatus::Firing, Some(1));
        assert_eq!(a.title(), "DiskFull: Disk on db1 is 97% full");
        let mapping = Mapping {
            default_priority: Priority::new(3).unwrap_or(Priority::ALL[2]),
            default_category: "infrastructure".into(),
            priority_label: "severity".into(),
            priority_map: PriorityMap::parse("critical = P1\nwarning = P3").unwrap_or_default(),
            category_label: "team".into(),
        };
        assert_eq!(mapping.priority(&a).level(), 1);
        assert_eq!(mapping.category(&a), "infrastructure");
        let mut b = a.clone();
        b.labels.insert("severity".into(), "page-me".into());
        b.labels.insert("team".into(), "database".into());
        assert_eq!(mapping.priority(&b).level(), 3);
        assert_eq!(mapping.category(&b), "database");
        b.labels.insert("severity".into(), "P2".into());
        assert_eq!(mapping.priority(&b).level(), 2);
    }

    #[test]
    fn priority_maps_parse_print_and_store() {
        let map = PriorityMap::parse("critical = P1\n warning: 3, info=p4\n\n").unwrap_or_default();
        assert_eq!(map.to_string(), "critical = P1\nwarning = P3\ninfo = P4");
        assert_eq!(PriorityMap::from_json(&map.to_json()), map);
        assert_eq!(map.get("CRITICAL").map(Priority::level), Some(1));
        let default = serde_json::json!({"critical": 1, "warning": 3, "info": 4});
        assert_eq!(PriorityMap::from_json(&default), map);
        for bad in ["critical", "critical = P9", "a = P1, A = P2", " = P1"] {
            let e = PriorityMap::parse(bad).err();
            assert_eq!(e.map(|e| e.field), Some("priority_map"), "{bad}");
        }
    }

    #[test]
    fn label_values_are_shown_as_text() {
        let mut a = alert(AlertStatus::Firing, Some(1));
        a.labels
            .insert("instance".into(), "<img src=x onerror=alert(1)>".into());
        a.annotations.insert(
            "description".into(),
            "[click](javascript:alert(1)) *bold*\nline two".into(),
        );
        let md = a.description("http://am:9093");
        let html = crate::markdown::render(&md).to_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(!html.contains("<a "), "{html}");
        assert!(!html.contains("<em>"), "{html}");
        assert!(
            html.contains("[click](javascript:alert(1)) *bold*"),
            "{html}"
        );
        assert!(html.contains("line two"), "{html}");
        // Ordinary text stays as typed, and block starts stay text.
        assert_eq!(escape_markdown("db1:9100 97% (a.b)"), "db1:9100 97% (a.b)");
        for text in [
            "- not a list",
            "1. not a list",
            "# not a heading",
            "> no quote",
            "<b>x</b> & `y`",
        ] {
            let html = crate::markdown::render(&escape_markdown(text)).to_string();
            assert!(
                !html.contains("<li>")
                    && !html.contains("<h1>")
                    && !html.contains("<blockquote>")
                    && !html.contains("<b>")
                    && !html.contains("<code>"),
                "{text}: {html}"
            );
        }
    }

    #[test]
    fn runbook_urls_name_a_model_key() {
        let mut a = alert(AlertStatus::Firing, None);
        assert_eq!(a.runbook_key(), None);
        a.annotations.insert(
            "runbook_url".into(),
            "https://casebook.example/models/db-disk-full?x=1#steps".into(),
        );
        assert_eq!(a.runbook_key().as_deref(), Some("db-disk-full"));
        a.annotations
            .insert("runbook_url".into(), "db-disk-full/".into());
        assert_eq!(a.runbook_key().as_deref(), Some("db-disk-full"));
    }

    #[test]
    fn bad_alerts_are_refused_with_their_place() {
        let mut a = alert(AlertStatus::Firing, None);
        assert!(a.check(1).is_ok());
        a.fingerprint = " ".into();
        assert!(a.check(3).unwrap_err().message.contains("alert 3"));
        a.fingerprint = "x".repeat(201);
        assert!(a.check(1).is_err());
        a.fingerprint = "ok".into();
        a.labels.insert("bad".into(), "a\0b".into());
        assert!(a.check(1).unwrap_err().message.contains("NUL"));
    }
}
