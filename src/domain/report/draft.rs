//! "Draft a model from this ticket": the new model's first text, made from
//! the ticket's title, description and journal (the steps taken, in
//! order). It is a draft, not public: the journal holds internal notes.

/// One journal entry with text, in the order it was written.
pub struct Step<'a> {
    pub body: &'a str,
}

const MAX_STEP_CHARS: usize = 500;

/// A key from the title: lower-case words joined by '-', then `-t<id>` so
/// two drafts of same-titled tickets do not collide.
pub fn key_for(title: &str, ticket: i64) -> String {
    let mut words: Vec<String> = title
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let mut len = 0;
    words.retain(|w| {
        len += w.len() + 1;
        len <= 48
    });
    words.push(format!("t{ticket}"));
    words.join("-")
}

/// One line of Markdown that cannot be read as a heading of the model.
fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = joined.trim_start_matches('#').trim();
    let mut out: String = trimmed.chars().take(max).collect();
    if trimmed.chars().count() > max {
        out.push('…');
    }
    out
}

/// Lines of a section: no heading lines, no blank lines at either end.
fn block(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('#') {
                l.trim_start().trim_start_matches('#').trim().to_owned()
            } else {
                l.trim_end().to_owned()
            }
        })
        .collect();
    lines.join("\n").trim_matches('\n').trim().to_owned()
}

/// The plain text of the draft model.
pub fn model_text(
    ticket: i64,
    title: &str,
    category: &str,
    description: &str,
    steps: &[Step<'_>],
) -> String {
    let title_line = one_line(title, 200);
    let title_line = if title_line.is_empty() {
        format!("Ticket #{ticket}")
    } else {
        title_line
    };
    let category = one_line(category, 80);
    let statement = block(description);
    let statement = if statement.is_empty() {
        format!("What went wrong in ticket #{ticket}, how it showed, and what it affected.")
    } else {
        statement
    };
    let mut out = format!(
        "# {title_line}\nkey: {}\ncategory: {category}\ntags: \nstatus: draft\n\n## Statement\n{statement}\n\n## Steps\n",
        key_for(title, ticket)
    );
    let steps: Vec<String> = steps
        .iter()
        .map(|s| one_line(s.body, MAX_STEP_CHARS))
        .filter(|s| !s.is_empty())
        .collect();
    if steps.is_empty() {
        out.push_str("1. The first thing to check, with the exact command.\n");
    }
    for (n, step) in steps.iter().enumerate() {
        out.push_str(&format!("{}. {step}\n", n + 1));
    }
    out.push_str(&format!(
        "\n## Discussion\nDrafted from ticket #{ticket} (/tickets/{ticket}): the steps are what was done on \
         that ticket, in order. Keep the ones that helped, say when to escalate, and link related models.\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_parses_as_a_model() {
        let text = model_text(
            42,
            "Disk full on db-3!",
            "database",
            "## Alert\nDisk at 99%\n\n",
            &[
                Step {
                    body: "Ran `df -h`\n\nfound WAL",
                },
                Step { body: "  " },
                Step {
                    body: "# Cleared old WAL",
                },
            ],
        );
        let model = crate::domain::model::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(model.key, "disk-full-on-db-3-t42");
        assert_eq!(
            model.steps,
            vec![
                "Ran `df -h` found WAL".to_owned(),
                "Cleared old WAL".to_owned()
            ]
        );
        assert!(!model.public);
        assert!(model.discussion.contains("ticket #42"));
    }
}
