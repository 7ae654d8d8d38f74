//! Improvement items and the team's debt number. The debt is defined here
//! once: pages, the API and the trend all call [`debt_at`] / [`trend`].
//!
//! **Debt** = the sum, over items that are open or in progress, of the
//! item's priority weight (P1 = 8, P2 = 4, P3 = 2, P4 = 1), counted twice
//! when the item is overdue (its due date has passed).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use super::FieldError;
use super::review::choice;
use super::ticket::Priority;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The trend's length: one point a week.
pub const TREND_WEEKS: usize = 26;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImprovementId(pub i64);

impl fmt::Display for ImprovementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

choice!(
    /// What kind of work an item asks for.
    Kind, "kind", "choose a kind of improvement from the list", {
        UpdateModel = "update_model": "update a model",
        NewModel = "new_model": "write a new model",
        RetireModel = "retire_model": "retire a model",
        Monitoring = "monitoring": "monitoring or alerting",
        Automation = "automation": "automation",
        ProductFix = "product_fix": "product fix",
        Process = "process": "process",
    }
);

impl Kind {
    /// Kinds that name an existing model as their target.
    pub fn needs_model(self) -> bool {
        matches!(self, Kind::UpdateModel | Kind::RetireModel)
    }

    /// Kinds a model save can resolve.
    pub fn resolvable_by_model(self) -> bool {
        matches!(self, Kind::UpdateModel | Kind::RetireModel | Kind::NewModel)
    }
}

choice!(
    /// Where an item stands.
    ItemStatus, "status", "choose open, in progress, done or won't do", {
        Open = "open": "open",
        InProgress = "in_progress": "in progress",
        Done = "done": "done",
        WontDo = "wont_do": "won't do",
    }
);

impl ItemStatus {
    /// Open and in-progress items are debt.
    pub fn is_open(self) -> bool {
        matches!(self, ItemStatus::Open | ItemStatus::InProgress)
    }
}

/// An item's state as far as the debt is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebtState {
    pub priority: Priority,
    pub open: bool,
    pub due_on: Option<NaiveDate>,
}

/// Overdue: open with a due date before the day of `at` (UTC).
pub fn is_overdue(due_on: Option<NaiveDate>, open: bool, at: DateTime<Utc>) -> bool {
    open && due_on.is_some_and(|due| due < at.date_naive())
}

/// P1 = 8, P2 = 4, P3 = 2, P4 = 1.
pub fn weight(priority: Priority) -> i64 {
    match priority.level() {
        1 => 8,
        2 => 4,
        3 => 2,
        _ => 1,
    }
}

/// What one item adds to the debt at `at`.
pub fn item_debt(state: &DebtState, at: DateTime<Utc>) -> i64 {
    if !state.open {
        return 0;
    }
    let overdue = is_overdue(state.due_on, state.open, at);
    weight(state.priority) * if overdue { 2 } else { 1 }
}

/// The debt of these item states at `at`.
pub fn debt_at<'a>(states: impl IntoIterator<Item = &'a DebtState>, at: DateTime<Utc>) -> i64 {
    states.into_iter().map(|s| item_debt(s, at)).sum()
}

/// One stretch of an item's history: its state from `since` until `until`
/// (the next change; `None` while it is the current state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub state: DebtState,
}

impl Interval {
    fn holds_at(&self, at: DateTime<Utc>) -> bool {
        self.since <= at && self.until.is_none_or(|u| at < u)
    }
}

/// Monday 00:00 UTC of the week `at` is in.
pub fn week_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let day = at.date_naive();
    let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
    monday.and_time(NaiveTime::MIN).and_utc()
}

/// The times the trend is computed at, oldest first: the starts (Monday
/// 00:00 UTC) of this week and the `weeks - 2` before it, then `now`. Past
/// points are fixed instants, so their debt, once computed, never changes.
pub fn trend_points(now: DateTime<Utc>, weeks: usize) -> Vec<DateTime<Utc>> {
    let this_week = week_start(now);
    let mut points: Vec<DateTime<Utc>> = (0..weeks.saturating_sub(1))
        .rev()
        .map(|k| this_week - Duration::weeks(k as i64))
        .collect();
    points.push(now);
    points
}

/// The debt at each point, computed exactly from the items' histories: at
/// each point, every item counts in the state it was in then.
pub fn trend(intervals: &[Interval], points: &[DateTime<Utc>]) -> Vec<i64> {
    points
        .iter()
        .map(|&at| {
            intervals
                .iter()
                .filter(|i| i.holds_at(at))
                .map(|i| item_debt(&i.state, at))
                .sum()
        })
        .collect()
}

/// The item fields as typed on a form or sent to the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemInput {
    pub title: String,
    pub details: String,
    pub kind: String,
    pub priority: String,
    pub due_on: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFields {
    pub title: String,
    pub details: String,
    pub kind: Kind,
    pub priority: Priority,
    pub due_on: Option<NaiveDate>,
}

pub fn parse_due(value: &str) -> Result<Option<NaiveDate>, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| FieldError::new("due_on", "give the due date as YYYY-MM-DD"))
}

impl ItemFields {
    pub fn check(input: &ItemInput) -> Result<Self, FieldError> {
        let title = input.title.trim();
        if title.is_empty() {
            return Err(FieldError::new("title", "say what should be done"));
        }
        if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
            return Err(FieldError::new(
                "title",
                format!("must be one line of at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        let details = input.details.trim();
        if details.chars().count() > MAX_TEXT_CHARS {
            return Err(FieldError::new(
                "details",
                format!("must be at most {MAX_TEXT_CHARS} characters"),
            ));
        }
        Ok(ItemFields {
            title: title.to_owned(),
            details: details.to_owned(),
            kind: input.kind.parse()?,
            priority: input.priority.parse()?,
            due_on: parse_due(&input.due_on)?,
        })
    }
}

/// A move to `to` with its reason: "won't do" needs one.
pub fn check_status_change(to: ItemStatus, reason: &str) -> Result<String, FieldError> {
    let reason = reason.trim();
    if to == ItemStatus::WontDo && reason.is_empty() {
        return Err(FieldError::new("reason", "say why this won't be done"));
    }
    if reason.chars().count() > MAX_TITLE_CHARS * 5 {
        return Err(FieldError::new("reason", "must be at most 1000 characters"));
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn state(p: i16, open: bool, due: Option<NaiveDate>) -> DebtState {
        DebtState {
            priority: Priority::new(p).unwrap(),
            open,
            due_on: due,
        }
    }

    #[test]
    fn open_items_weigh_by_priority() {
        let now = at(2026, 11, 29);
        let items = [
            state(1, true, None),
            state(2, true, None),
            state(3, true, None),
            state(4, true, None),
        ];
        assert_eq!(debt_at(&items, now), 8 + 4 + 2 + 1);
    }

    #[test]
    fn closed_items_are_no_debt() {
        let now = at(2026, 11, 29);
        let items = [state(1, false, Some(day(2026, 1, 1))), state(4, true, None)];
        assert_eq!(debt_at(&items, now), 1);
    }

    #[test]
    fn overdue_items_count_twice_from_the_day_after_their_due_date() {
        let due = Some(day(2026, 11, 28));
        let item = [state(2, true, due)];
        assert_eq!(
            debt_at(&item, at(2026, 11, 28)),
            4,
            "due today is not overdue"
        );
        assert_eq!(debt_at(&item, at(2026, 11, 29)), 8);
        assert!(is_overdue(due, true, at(2026, 11, 29)));
        assert!(!is_overdue(due, false, at(2026, 11, 29)));
    }

    #[test]
    fn trend_points_are_week_starts_then_now() {
        let now = at(2026, 11, 29); // a Sunday, 12:00
        let points = trend_points(now, 4);
        let monday = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        assert_eq!(
            points,
            vec![
                monday - Duration::weeks(2),
                monday - Duration::weeks(1),
                monday,
                now
            ]
        );
        assert_eq!(trend_points(now, TREND_WEEKS).len(), TREND_WEEKS);
        assert_eq!(week_start(monday), monday);
    }

    #[test]
    fn the_trend_replays_each_items_history() {
        let now = at(2026, 11, 29);
        let points: Vec<DateTime<Utc>> = (0..4).rev().map(|k| now - Duration::weeks(k)).collect();
        // Created P3 three and a half weeks ago, raised to P1 ten days ago,
        // done two days ago.
        let created = now - Duration::days(25);
        let raised = now - Duration::days(10);
        let done = now - Duration::days(2);
        let history = [
            Interval {
                since: created,
                until: Some(raised),
                state: state(3, true, None),
            },
            Interval {
                since: raised,
                until: Some(done),
                state: state(1, true, None),
            },
            Interval {
                since: done,
                until: None,
                state: state(1, false, None),
            },
        ];
        // A P4 item created one and a half weeks ago, due five days ago.
        let other = Interval {
            since: now - Duration::days(10),
            until: None,
            state: state(4, true, Some((now - Duration::days(5)).date_naive())),
        };
        let mut all = history.to_vec();
        all.push(other);
        // -21d: P3 only = 2; -14d: P3 = 2; -7d: P1 (8) + P4 not yet due (1);
        // now: item done, P4 overdue = 2.
        assert_eq!(trend(&all, &points), vec![2, 2, 9, 2]);
    }

    #[test]
    fn a_point_at_the_instant_of_a_change_sees_the_new_state() {
        let t = at(2026, 6, 1);
        let history = [
            Interval {
                since: t - Duration::days(1),
                until: Some(t),
                state: state(4, true, None),
            },
            Interval {
                since: t,
                until: None,
                state: state(1, true, None),
            },
        ];
        assert_eq!(trend(&history, &[t]), vec![8]);
    }

    #[test]
    fn items_are_checked() {
        let good = ItemInput {
            title: "Add a step for WAL".into(),
            details: String::new(),
            kind: "update_model".into(),
            priority: "P2".into(),
            due_on: "2026-12-24".into(),
        };
        let fields = ItemFields::check(&good).unwrap();
        assert_eq!(fields.kind, Kind::UpdateModel);
        assert_eq!(fields.due_on, Some(day(2026, 12, 24)));
        for (field, bad) in [
            (
                "title",
                ItemInput {
                    title: "  ".into(),
                    ..good.clone()
                },
            ),
            (
                "kind",
                ItemInput {
                    kind: "wish".into(),
                    ..good.clone()
                },
            ),
            (
                "priority",
                ItemInput {
                    priority: "P9".into(),
                    ..good.clone()
                },
            ),
            (
                "due_on",
                ItemInput {
                    due_on: "next week".into(),
                    ..good.clone()
                },
            ),
        ] {
            assert_eq!(ItemFields::check(&bad).unwrap_err().field, field);
        }
    }

    #[test]
    fn wont_do_needs_a_reason() {
        assert_eq!(
            check_status_change(ItemStatus::WontDo, " ")
                .unwrap_err()
                .field,
            "reason"
        );
        assert_eq!(
            check_status_change(ItemStatus::WontDo, "duplicate of #4").unwrap(),
            "duplicate of #4"
        );
        assert_eq!(check_status_change(ItemStatus::Done, "").unwrap(), "");
    }
}
