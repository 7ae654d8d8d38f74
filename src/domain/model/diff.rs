//! Line diffs between two model texts, for history and conflicts.

use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag, TextDiff};

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

/// How long the diff algorithm may search for the smallest diff. Two very
/// different long texts take Myers' algorithm time quadratic in their
/// length; past the deadline it settles for a larger, still correct diff.
pub const DEADLINE: Duration = Duration::from_millis(300);

/// Every line of both texts, in order, marked as kept, added or removed.
/// CPU-bound on long texts: callers in a request run it off the async
/// workers.
pub fn lines(old: &str, new: &str) -> Vec<DiffLine> {
    TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .deadline(Instant::now() + DEADLINE)
        .diff_lines(old, new)
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

    #[test]
    fn a_long_diff_of_unlike_texts_is_still_right() {
        let old: String = (0..30_000).map(|i| format!("old line {i}\n")).collect();
        let new: String = (0..30_000)
            .map(|i| format!("new line {}\n", i * 7))
            .collect();
        // Past the deadline the diff is coarser, never wrong: both texts
        // are still exactly what it says.
        let diff = lines(&old, &new);
        let kept_or_removed: Vec<&str> = diff
            .iter()
            .filter(|l| l.change != LineChange::Added)
            .map(|l| l.text.as_str())
            .collect();
        let kept_or_added: Vec<&str> = diff
            .iter()
            .filter(|l| l.change != LineChange::Removed)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(kept_or_removed, old.lines().collect::<Vec<_>>());
        assert_eq!(kept_or_added, new.lines().collect::<Vec<_>>());
    }
}
