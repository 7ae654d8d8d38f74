//! The rules of mail, both ways, as plain functions: our Message-IDs and
//! subject tag, finding the ticket a message answers, recognising mail that
//! must not be answered (bounces, auto-replies, our own mail coming back),
//! and cutting the quoted text off a reply.

/// The header every message we send carries; a message coming in with it
/// is our own, looping.
pub const LOOP_HEADER: &str = "X-Casebook-Loop";

/// `[Casebook #123]`.
pub fn subject_tag(ticket: i64) -> String {
    format!("[Casebook #{ticket}]")
}

/// The subject of mail about a ticket: the tag, then the title.
pub fn subject(ticket: i64, title: &str) -> String {
    format!("{} {title}", subject_tag(ticket))
}

/// The thread a ticket's mail belongs to: every message we send about it
/// names this in `In-Reply-To` and `References`.
pub fn thread_id(ticket: i64, domain: &str) -> String {
    format!("<ticket-{ticket}@{domain}>")
}

/// One message's id: the ticket, the entry it carries (0: the ticket
/// itself), and the delivery (one per recipient).
pub fn message_id(ticket: i64, entry: i64, delivery: i64, domain: &str) -> String {
    format!("<ticket-{ticket}.entry-{entry}.{delivery}@{domain}>")
}

/// The ticket an id of ours names (`ticket-123@…`, `ticket-123.entry-…@…`),
/// when its domain is ours.
pub fn ticket_of_id(id: &str, domain: &str) -> Option<i64> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, host) = id.rsplit_once('@')?;
    if !host.eq_ignore_ascii_case(domain) {
        return None;
    }
    let rest = local.strip_prefix("ticket-")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    if !(after.is_empty() || after.starts_with(".entry-")) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// Whether a Message-ID is one we made (our mail coming back).
pub fn is_own_message_id(id: &str, domain: &str) -> bool {
    ticket_of_id(id, domain).is_some()
        && id
            .trim()
            .trim_start_matches('<')
            .split('@')
            .next()
            .is_some_and(|l| l.contains(".entry-"))
}

/// The ticket a subject's `[Casebook #123]` tag names.
pub fn ticket_of_subject(subject: &str) -> Option<i64> {
    let lower = subject.to_ascii_lowercase();
    let start = lower.find("[casebook #")? + "[casebook #".len();
    let rest = &subject[start..];
    let end = rest.find(']')?;
    rest[..end].trim().parse().ok().filter(|n| *n > 0)
}

/// A subject as a ticket title: reply and forward prefixes and our tag
/// taken off, whitespace folded.
pub fn title_of_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "fw:", "fwd:", "aw:", "sv:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => break,
        }
    }
    let mut title = s.to_owned();
    if let Some(n) = ticket_of_subject(&title) {
        let tag = format!("#{n}]");
        let lower = title.to_ascii_lowercase();
        if let (Some(start), Some(end)) = (lower.find("[casebook #"), title.find(&tag)) {
            title.replace_range(start..end + tag.len(), "");
        }
    }
    let folded = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.is_empty() {
        "(no subject)".to_owned()
    } else {
        folded
    }
}

/// What the headers say about a message that must not be answered: the
/// reason to drop it, or `None` for mail a person wrote.
pub fn automatic(
    auto_submitted: Option<&str>,
    precedence: Option<&str>,
    content_type: &str,
    from: &str,
) -> Option<&'static str> {
    if auto_submitted.is_some_and(|v| !v.trim().eq_ignore_ascii_case("no")) {
        return Some("an automatic message (Auto-Submitted)");
    }
    if precedence.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "bulk" | "junk" | "list"
        )
    }) {
        return Some("bulk or list mail (Precedence)");
    }
    if content_type.eq_ignore_ascii_case("multipart/report") {
        return Some("a delivery report (bounce)");
    }
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if matches!(local.as_str(), "mailer-daemon" | "postmaster") {
        return Some("a bounce (from the mailer daemon)");
    }
    None
}

/// The new text of a reply: what comes before the quoted message ("On …
/// wrote:", an "Original Message" line, a block of `>` lines running to the
/// end) and before the signature (`-- `).
pub fn trim_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        let attribution = (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || lower.starts_with("-----original message-----")
            || (lower.starts_with("from:")
                && i > 0
                && lines[i - 1].trim().is_empty()
                && lines[i + 1..]
                    .iter()
                    .any(|l| l.to_ascii_lowercase().starts_with("sent:")));
        if attribution || *line == "-- " || t == "--" {
            end = i;
            break;
        }
        if t.starts_with('>')
            && lines[i..]
                .iter()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('>'))
        {
            end = i;
            break;
        }
    }
    let kept = lines[..end].join("\n");
    let trimmed = kept.trim();
    if trimmed.is_empty() {
        // Nothing but a quote: keep the message as it came rather than
        // write an empty entry.
        text.trim().to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_ids_name_their_ticket_and_nobody_elses() {
        let id = message_id(12, 34, 56, "example.com");
        assert_eq!(id, "<ticket-12.entry-34.56@example.com>");
        assert_eq!(ticket_of_id(&id, "example.com"), Some(12));
        assert_eq!(ticket_of_id(&id, "Example.COM"), Some(12));
        assert_eq!(
            ticket_of_id(&thread_id(9, "example.com"), "example.com"),
            Some(9)
        );
        assert_eq!(ticket_of_id("<ticket-12@evil.test>", "example.com"), None);
        assert_eq!(
            ticket_of_id("<ticket-12x@example.com>", "example.com"),
            None
        );
        assert_eq!(ticket_of_id("<abc@example.com>", "example.com"), None);
        assert!(is_own_message_id(&id, "example.com"));
        assert!(!is_own_message_id(
            &thread_id(9, "example.com"),
            "example.com"
        ));
    }

    #[test]
    fn subject_tags_are_found_and_removed() {
        assert_eq!(
            ticket_of_subject("Re: [Casebook #123] Disk full"),
            Some(123)
        );
        assert_eq!(ticket_of_subject("[casebook #7]"), Some(7));
        assert_eq!(ticket_of_subject("Casebook 123"), None);
        assert_eq!(ticket_of_subject("[Casebook #abc]"), None);
        assert_eq!(
            title_of_subject("Re: Fwd: [Casebook #123]  Disk   full"),
            "Disk full"
        );
        assert_eq!(title_of_subject("   "), "(no subject)");
        assert_eq!(subject(5, "Down"), "[Casebook #5] Down");
    }

    #[test]
    fn automatic_mail_is_recognised() {
        assert!(automatic(Some("auto-replied"), None, "text/plain", "a@b").is_some());
        assert!(automatic(Some("no"), None, "text/plain", "a@b").is_none());
        assert!(automatic(None, Some("bulk"), "text/plain", "a@b").is_some());
        assert!(automatic(None, Some("List"), "text/plain", "a@b").is_some());
        assert!(automatic(None, None, "multipart/report", "a@b").is_some());
        assert!(automatic(None, None, "text/plain", "MAILER-DAEMON@b").is_some());
        assert!(automatic(None, Some("first-class"), "text/plain", "ann@b").is_none());
    }

    #[test]
    fn quoted_text_and_signatures_are_cut() {
        let reply = "Thanks, that fixed it.\n\nOn Mon, 1 Jan 2026, Desk <d@x> wrote:\n> Try restarting.\n> Bye";
        assert_eq!(trim_quoted(reply), "Thanks, that fixed it.");
        let bottom = "Still broken.\n-- \nAnn\nAcme Corp";
        assert_eq!(trim_quoted(bottom), "Still broken.");
        let inline = "> what version?\n2.1\n> and the OS?\nDebian";
        assert_eq!(trim_quoted(inline), inline);
        let outlook = "Done.\n\n-----Original Message-----\nFrom: x";
        assert_eq!(trim_quoted(outlook), "Done.");
        assert_eq!(trim_quoted("> only a quote"), "> only a quote");
    }
}
