//! What a report is asked for: the period (in the viewer's zone), the
//! filters, the verify-by interval. Parsed from what a person typed into
//! the picker (or a script into the query string), with a field-named
//! message for anything that cannot be used.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::domain::zone::{self, Tz};

/// The longest period one request may ask for.
pub const MAX_DAYS: i64 = 3 * 366;

/// `[from, to)` in UTC, from whole days in the viewer's zone: each day
/// from its local midnight, so a day across a daylight-saving change is 23
/// or 25 hours long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub tz: Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// The days `first..=last` in `tz`.
    pub fn days(first: NaiveDate, last: NaiveDate, tz: Tz) -> Self {
        Self {
            first_day: first,
            last_day: last,
            tz,
            from: zone::day_start(tz, first),
            to: zone::day_start(tz, last + Duration::days(1)),
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The Monday of `at`'s date in the viewer's zone.
    pub fn week_of(&self, at: DateTime<Utc>) -> NaiveDate {
        zone::monday_of(self.tz, at)
    }

    /// The zone's IANA name, e.g. Europe/Berlin.
    pub fn zone(&self) -> &'static str {
        self.tz.name()
    }
}

/// Which counted tickets a report looks at. `None` is "all".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Filters {
    pub category: Option<String>,
    pub priority: Option<i16>,
    pub organization: Option<i64>,
    pub assignee: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportQuery {
    pub period: Period,
    pub filters: Filters,
    pub verify_by_days: i64,
}

/// The picker's fields as typed; every field is text so that nothing a
/// person types is refused before it gets a clear message.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryInput {
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub tz: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub assignee: String,
    #[serde(default)]
    pub verify_by: String,
}

fn date(field: &'static str, input: &str) -> Result<NaiveDate, FieldError> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d")
        .map_err(|_| FieldError::new(field, "give a date as YYYY-MM-DD"))
}

fn id(field: &'static str, input: &str) -> Result<Option<i64>, FieldError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .map(Some)
        .ok_or_else(|| FieldError::new(field, "choose one from the list"))
}

impl ReportQuery {
    /// The query for what was typed, on `now`: the last 30 days unless a
    /// period is given; `from`–`to` (both days included) wins over `days`;
    /// days are in the zone named by `tz`, else in `zone` (the viewer's).
    pub fn parse(input: &QueryInput, now: DateTime<Utc>, zone: Tz) -> Result<Self, FieldError> {
        let tz = match input.tz.trim() {
            "" => zone,
            name => zone::parse("tz", name)?,
        };
        let today = zone::date_of(tz, now);
        let period = if !input.from.trim().is_empty() || !input.to.trim().is_empty() {
            let first = date("from", &input.from)?;
            let last = if input.to.trim().is_empty() {
                today
            } else {
                date("to", &input.to)?
            };
            if last < first {
                return Err(FieldError::new("to", "must not be before the start"));
            }
            if (last - first).num_days() >= MAX_DAYS {
                return Err(FieldError::new(
                    "from",
                    format!("a period can be at most {MAX_DAYS} days"),
                ));
            }
            Period::days(first, last, tz)
        } else {
            let days: i64 = match input.days.trim() {
                "" => 30,
                "7" => 7,
                "30" => 30,
                "90" => 90,
                _ => {
                    return Err(FieldError::new(
                        "days",
                        "choose 7, 30 or 90 days, or give from and to dates",
                    ));
                }
            };
            Period::days(today - Duration::days(days - 1), today, tz)
        };
        let category = input.category.trim();
        if category.chars().count() > 80 || category.contains('\0') {
            return Err(FieldError::new("category", "choose one from the list"));
        }
        let priority = match input.priority.trim().trim_start_matches(['P', 'p']) {
            "" => None,
            p => Some(
                p.parse::<i16>()
                    .ok()
                    .filter(|p| (1..=4).contains(p))
                    .ok_or_else(|| FieldError::new("priority", "choose P1 to P4"))?,
            ),
        };
        let verify_by_days = match input.verify_by.trim() {
            "" => super::DEFAULT_VERIFY_BY_DAYS,
            v => v
                .parse::<i64>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| FieldError::new("verify_by", "give a number of days, 1 to 3650"))?,
        };
        Ok(Self {
            period,
            filters: Filters {
                category: (!category.is_empty()).then(|| category.to_owned()),
                priority,
                organization: id("organization", &input.organization)?,
                assignee: id("assignee", &input.assignee)?,
            },
            verify_by_days,
        })
    }

    /// The query string that asks for this query again (for links, CSV,
    /// the pager of another report).
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("from", self.period.first_day.to_string()),
            ("to", self.period.last_day.to_string()),
        ];
        // Always: a link passed to someone in another zone asks for the
        // same instants.
        pairs.push(("tz", self.period.zone().to_owned()));
        if let Some(c) = &self.filters.category {
            pairs.push(("category", c.clone()));
        }
        if let Some(p) = self.filters.priority {
            pairs.push(("priority", p.to_string()));
        }
        if let Some(o) = self.filters.organization {
            pairs.push(("organization", o.to_string()));
        }
        if let Some(a) = self.filters.assignee {
            pairs.push(("assignee", a.to_string()));
        }
        if self.verify_by_days != super::DEFAULT_VERIFY_BY_DAYS {
            pairs.push(("verify_by", self.verify_by_days.to_string()));
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn last_days_are_whole_days_in_the_viewers_zone() {
        let input = QueryInput {
            days: "7".into(),
            tz: "Africa/Cairo".into(),
            ..Default::default()
        };
        // 23:30 UTC is already the next day in Cairo (+02:00 in November).
        let q = ReportQuery::parse(&input, at("2026-11-10T23:30:00Z"), Tz::UTC)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.period.last_day.to_string(), "2026-11-11");
        assert_eq!(q.period.first_day.to_string(), "2026-11-05");
        assert_eq!(q.period.from, at("2026-11-04T22:00:00Z"));
        assert_eq!(q.period.to, at("2026-11-11T22:00:00Z"));
        assert_eq!(
            q.period.week_of(at("2026-11-08T22:30:00Z")).to_string(),
            "2026-11-09"
        );
    }

    #[test]
    fn without_tz_the_viewers_own_zone_counts() {
        let q = ReportQuery::parse(
            &QueryInput::default(),
            at("2026-11-10T23:30:00Z"),
            Tz::Asia__Kolkata,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.period.tz, Tz::Asia__Kolkata);
        assert_eq!(q.period.last_day.to_string(), "2026-11-11");
        assert_eq!(q.period.to, at("2026-11-11T18:30:00Z"));
        assert!(q.to_pairs().contains(&("tz", "Asia/Kolkata".to_owned())));
    }

    #[test]
    fn a_period_across_a_daylight_saving_change_has_a_short_day() {
        let input = QueryInput {
            from: "2026-03-08".into(),
            to: "2026-03-08".into(),
            tz: "America/New_York".into(),
            ..Default::default()
        };
        let q = ReportQuery::parse(&input, at("2026-11-10T12:00:00Z"), Tz::UTC)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.period.to - q.period.from, Duration::hours(23));
        let input = QueryInput {
            from: "2026-11-01".into(),
            to: "2026-11-01".into(),
            ..input
        };
        let q = ReportQuery::parse(&input, at("2026-11-10T12:00:00Z"), Tz::UTC)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.period.to - q.period.from, Duration::hours(25));
    }

    #[test]
    fn bad_input_names_its_field() {
        let now = at("2026-11-10T12:00:00Z");
        let bad = |input: QueryInput| {
            ReportQuery::parse(&input, now, Tz::UTC)
                .err()
                .map(|e| e.field)
        };
        assert_eq!(
            bad(QueryInput {
                days: "8".into(),
                ..Default::default()
            }),
            Some("days")
        );
        assert_eq!(
            bad(QueryInput {
                from: "2026-11-10".into(),
                to: "2026-11-01".into(),
                ..Default::default()
            }),
            Some("to")
        );
        assert_eq!(
            bad(QueryInput {
                from: "yesterday".into(),
                ..Default::default()
            }),
            Some("from")
        );
        assert_eq!(
            bad(QueryInput {
                tz: "+02:00".into(),
                ..Default::default()
            }),
            Some("tz")
        );
        assert_eq!(
            bad(QueryInput {
                priority: "P9".into(),
                ..Default::default()
            }),
            Some("priority")
        );
        assert_eq!(
            bad(QueryInput {
                assignee: "x".into(),
                ..Default::default()
            }),
            Some("assignee")
        );
        assert_eq!(
            bad(QueryInput {
                verify_by: "0".into(),
                ..Default::default()
            }),
            Some("verify_by")
        );
    }
}
