//! Line diffs between two model texts, for history and conflicts.

use similar::{ChangeTag, TextDiff};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineChange {
    Same,
    Added,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub change: LineChange,
    pub text: String,
}

impl DiffLine {
    /// The CSS class and the gutter sign a page shows for this line.
    pub fn class(&self) -> &'static str {
        match self.change {
            LineChange::Same => "same",
            LineChange::Added => "added",
            LineChange::Removed => "removed",
        }
    }

    pub fn sign(&self) -> &'static str {
        match self.change {
            LineChange::Same => " ",
            LineChange::Added => "+",
            LineChange::Removed => "-",
        }
    }
}

/// Every line of both texts, in order, marked as kept, added or removed.
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| DiffLine {
            change: match change.tag() {
                ChangeTag::Equal => LineChange::Same,
                ChangeTag::Insert => LineChange::Added,
                ChangeTag::Delete => LineChange::Removed,
            },
            text: change.value().trim_end_matches('\n').to_owned(),
        })
        .collect()
}

/// How many lines were added and removed.
pub fn counts(diff: &[DiffLine]) -> (usize, usize) {
    let added = diff
        .iter()
        .filter(|l| l.change == LineChange::Added)
        .count();
    let removed = diff
        .iter()
        .filter(|l| l.change == LineChange::Removed)
        .count();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_added_removed_and_kept_lines() {
        let diff = lines("a\nb\nc\n", "a\nB\nc\nd\n");
        let shown: Vec<String> = diff
            .iter()
            .map(|l| format!("{}{}", l.sign(), l.text))
            .collect();
        assert_eq!(shown, vec![" a", "-b", "+B", " c", "+d"]);
        assert_eq!(counts(&diff), (2, 1));
    }

    #[test]
    fn identical_texts_have_no_changes() {
        assert_eq!(counts(&lines("x\ny\n", "x\ny\n")), (0, 0));
    }
}
