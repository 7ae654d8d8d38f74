//! Rendering of the canonical plain-text form.

use super::ModelText;

/// Renders a model in canonical form.
///
/// Does not validate: for a model rejected by [`validate`](super::validate)
/// the output may not parse back to the same model (it never panics).
pub fn render(model: &ModelText) -> String {
    let body_len = model.statement.len()
        + model.discussion.len()
        + model.steps.iter().map(|s| s.len() + 16).sum::<usize>();
    let mut out = String::with_capacity(body_len + 256);
    for (prefix, value) in [("# ", model.title.as_str()), ("key: ", &model.key)] {
        push_line(&mut out, prefix, value);
    }
    if !model.category.is_empty() {
        push_line(&mut out, "category: ", &model.category);
    }
    if !model.tags.is_empty() {
        push_line(&mut out, "tags: ", &model.tags.join(", "));
    }
    if !model.alerts.is_empty() {
        push_line(&mut out, "alerts: ", &model.alerts.join(", "));
    }
    push_line(&mut out, "status: ", model.status.as_str());
    if model.public {
        out.push_str("public: yes\n");
    }
    out.push_str("\n## Statement\n");
    push_line(&mut out, "", &model.statement);
    out.push_str("\n## Steps\n");
    for (i, step) in model.steps.iter().enumerate() {
        let marker = format!("{}. ", i + 1);
        for (j, line) in step.split('\n').enumerate() {
            if j == 0 {
                out.push_str(&marker);
            } else if !line.is_empty() {
                out.extend(std::iter::repeat_n(' ', marker.len()));
            }
            push_line(&mut out, "", line);
        }
    }
    if !model.discussion.is_empty() {
        out.push_str("\n## Discussion\n");
        push_line(&mut out, "", &model.discussion);
    }
    out
}

fn push_line(out: &mut String, prefix: &str, value: &str) {
    out.push_str(prefix);
    out.push_str(value);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::super::{Status, parse, validate};
    use super::*;

    fn example() -> ModelText {
        ModelText {
            title: "Disk full on a database host".into(),
            key: "db-disk-full".into(),
            category: "database".into(),
            tags: vec!["disk".into(), "postgres".into()],
            alerts: Vec::new(),
            status: Status::Published,
            public: true,
            statement: "Free space is low.".into(),
            steps: vec![
                "Confirm with `df -h`.\n\n  indented".into(),
                "Escalate to the DBA on call if free space is below 1%.".into(),
            ],
            discussion: "Why.".into(),
        }
    }

    #[test]
    fn render_canonical_form() {
        assert_eq!(
            render(&example()),
            "# Disk full on a database host\nkey: db-disk-full\ncategory: database\n\
             tags: disk, postgres\nstatus: published\npublic: yes\n\n\
             ## Statement\nFree space is low.\n\n\
             ## Steps\n1. Confirm with `df -h`.\n\n     indented\n\
             2. Escalate to the DBA on call if free space is below 1%.\n\n\
             ## Discussion\nWhy.\n"
        );
    }

    #[test]
    fn render_ten_steps_indents_by_four() {
        let mut m = example();
        m.steps = (1..=10).map(|i| format!("s{i}\nmore")).collect();
        let text = render(&m);
        assert!(
            text.contains("9. s9\n   more\n10. s10\n    more\n"),
            "{text}"
        );
    }

    #[test]
    fn render_omits_optional_headers() {
        let mut m = example();
        m.category.clear();
        m.tags.clear();
        m.public = false;
        m.status = Status::Draft;
        m.discussion.clear();
        let text = render(&m);
        assert!(text.starts_with(
            "# Disk full on a database host\nkey: db-disk-full\nstatus: draft\n\n## Statement\n"
        ));
        assert!(!text.contains("public"));
        assert!(text.ends_with("2. Escalate to the DBA on call if free space is below 1%.\n"));
        assert!(!text.contains(" \n"));
        assert_eq!(parse(&text), Ok(m));
    }

    #[test]
    fn render_never_panics_on_invalid_models() {
        let m = ModelText {
            title: "\n".into(),
            key: String::new(),
            category: "\r".into(),
            tags: vec![String::new()],
            alerts: vec![",".into()],
            status: Status::Draft,
            public: true,
            statement: String::new(),
            steps: vec![String::new(), "\n\n".into()],
            discussion: "\n".into(),
        };
        assert!(validate(&m).is_err());
        assert!(!render(&m).is_empty());
    }
}
