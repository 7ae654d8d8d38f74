//! The weekly triage rota: weeks (Monday to Sunday, UTC), who may swap, the
//! stable seeded sample of a week's triaged tickets offered for triage
//! review, and the triage-quality score. Pure, with tests.

use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use sha2::{Digest, Sha256};

use super::FieldError;

/// How many of a week's triaged tickets are sampled unless configured.
pub const DEFAULT_SAMPLE: usize = 5;

/// The Monday of the week `day` is in.
pub fn week_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// `count` weeks starting with the week of `first`.
pub fn weeks_from(first: NaiveDate, count: usize) -> Vec<NaiveDate> {
    let monday = week_of(first);
    (0..count)
        .map(|k| monday + Duration::weeks(k as i64))
        .collect()
}

/// A week as typed: any day of it, `YYYY-MM-DD`.
pub fn parse_week(field: &'static str, value: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .map(week_of)
        .map_err(|_| FieldError::new(field, "give the week as a date, YYYY-MM-DD"))
}

/// Weeks already over cannot be assigned or swapped.
pub fn check_not_past(
    field: &'static str,
    week: NaiveDate,
    today: NaiveDate,
) -> Result<(), FieldError> {
    if week < week_of(today) {
        return Err(FieldError::new(
            field,
            "that week is over; the rota of past weeks is history",
        ));
    }
    Ok(())
}

/// The stable, seeded sample: the same week and tickets always give the same
/// choice, and a ticket's chance does not depend on its id's size.
pub fn sample(candidates: &[i64], week: NaiveDate, size: usize) -> Vec<i64> {
    let mut keyed: Vec<([u8; 32], i64)> = candidates
        .iter()
        .map(|&id| {
            let digest = Sha256::digest(format!("casebook-triage-sample:{week}:{id}").as_bytes());
            (digest.into(), id)
        })
        .collect();
    keyed.sort();
    keyed.dedup_by_key(|(_, id)| *id);
    let mut chosen: Vec<i64> = keyed.into_iter().take(size).map(|(_, id)| id).collect();
    chosen.sort_unstable();
    chosen
}

/// An answer of the triage-review form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    Yes,
    No,
    NotApplicable,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Yes => "yes",
            Grade::No => "no",
            Grade::NotApplicable => "na",
        }
    }
}

impl FromStr for Grade {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.trim() {
            "yes" => Ok(Grade::Yes),
            "no" => Ok(Grade::No),
            "na" => Ok(Grade::NotApplicable),
            _ => Err(()),
        }
    }
}

/// The triage-review questions: (field, question).
pub const QUESTIONS: [(&str, &str); 5] = [
    ("right_model", "Was the right model found?"),
    ("duplicates_checked", "Were duplicates checked?"),
    (
        "searches_good",
        "Are the search strings good enough for the next person?",
    ),
    ("reply_fast", "Was the first reply fast enough?"),
    ("escalated_right", "Was it escalated at the right time?"),
];

/// Parses the five answers in [`QUESTIONS`] order.
pub fn grades(answers: [&str; 5]) -> Result<[Grade; 5], FieldError> {
    let mut out = [Grade::NotApplicable; 5];
    for (i, answer) in answers.iter().enumerate() {
        out[i] = answer
            .parse()
            .map_err(|_| FieldError::new(QUESTIONS[i].0, "answer yes, no or not applicable"))?;
    }
    Ok(out)
}

/// Percent of the applicable answers that are "yes"; `None` when none
/// applies.
pub fn score(grades: &[Grade]) -> Option<i16> {
    let applicable = grades
        .iter()
        .filter(|g| **g != Grade::NotApplicable)
        .count();
    if applicable == 0 {
        return None;
    }
    let yes = grades.iter().filter(|g| **g == Grade::Yes).count();
    Some(((yes * 100 + applicable / 2) / applicable) as i16)
}

/// A week's score: the mean of its reviews' scores, rounded.
pub fn week_score(scores: &[i16]) -> Option<i16> {
    if scores.is_empty() {
        return None;
    }
    let sum: i64 = scores.iter().map(|s| i64::from(*s)).sum();
    let n = scores.len() as i64;
    Some(((sum * 2 + n) / (2 * n)) as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(week_of(d(2026, 11, 29)), d(2026, 11, 23), "a Sunday");
        assert_eq!(week_of(d(2026, 11, 23)), d(2026, 11, 23));
        assert_eq!(
            weeks_from(d(2026, 11, 25), 3),
            vec![d(2026, 11, 23), d(2026, 11, 30), d(2026, 12, 7)]
        );
        assert_eq!(parse_week("week", "2026-12-02").unwrap(), d(2026, 11, 30));
        assert_eq!(parse_week("week", "soon").unwrap_err().field, "week");
    }

    #[test]
    fn past_weeks_are_history() {
        let today = d(2026, 11, 29);
        assert!(
            check_not_past("week", d(2026, 11, 23), today).is_ok(),
            "this week"
        );
        assert!(check_not_past("week", d(2026, 11, 16), today).is_err());
    }

    #[test]
    fn the_sample_is_stable_and_seeded_by_the_week() {
        let ids: Vec<i64> = (1..=40).collect();
        let week = d(2026, 11, 23);
        let a = sample(&ids, week, 5);
        assert_eq!(a.len(), 5);
        assert_eq!(a, sample(&ids, week, 5), "the same every time");
        let mut shuffled = ids.clone();
        shuffled.reverse();
        assert_eq!(a, sample(&shuffled, week, 5), "independent of order");
        assert_ne!(
            a,
            sample(&ids, d(2026, 11, 30), 5),
            "another week, another sample"
        );
        assert!(a.iter().all(|id| ids.contains(id)));
        assert_eq!(
            sample(&[3, 1], week, 5),
            vec![1, 3],
            "fewer candidates than the size"
        );
        assert!(
            a != (1..=5).collect::<Vec<_>>(),
            "not simply the lowest ids"
        );
    }

    #[test]
    fn scores_count_applicable_answers() {
        use Grade::*;
        assert_eq!(score(&[Yes, Yes, No, NotApplicable, Yes]), Some(75));
        assert_eq!(score(&[NotApplicable; 5]), None);
        assert_eq!(score(&[No, No, No, No, No]), Some(0));
        assert_eq!(week_score(&[75, 100, 50]), Some(75));
        assert_eq!(week_score(&[]), None);
        assert_eq!(
            grades(["yes", "no", "na", "yes", "maybe"])
                .unwrap_err()
                .field,
            "escalated_right"
        );
    }
}
