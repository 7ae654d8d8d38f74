//! What a report is asked for: the period (in the viewer's zone), the
//! filters, the verify-by interval. Parsed from what a person typed into
//! the picker (or a script into the query string), with a field-named
//! message for anything that cannot be used.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;

/// The longest period one request may ask for.
pub const MAX_DAYS: i64 = 3 * 366;

/// `[from, to)` in UTC, from whole days in a zone `offset_minutes` east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    pub offset_minutes: i32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// The days `first..=last` in the zone `offset_minutes` east of UTC.
    pub fn days(first: NaiveDate, last: NaiveDate, offset_minutes: i32) -> Self {
        let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let shift = Duration::minutes(i64::from(offset_minutes));
        Self {
            first_day: first,
            last_day: last,
            offset_minutes,
            from: start(first) - shift,
            to: start(last + Duration::days(1)) - shift,
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The Monday of `at`'s date in the viewer's zone.
    pub fn week_of(&self, at: DateTime<Utc>) -> NaiveDate {
        let local = (at + Duration::minutes(i64::from(self.offset_minutes))).date_naive();
        local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
    }

    /// "+02:00", as the picker shows it.
    pub fn zone(&self) -> String {
        let m = self.offset_minutes;
        let sign = if m < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
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

/// "+02:00", "-0530", "UTC", "Z" or "" (UTC) → minutes east of UTC.
pub fn parse_offset(input: &str) -> Result<i32, FieldError> {
    let s = input.trim();
    let bad = || {
        FieldError::new(
            "tz",
            "give the time zone as an offset from UTC, like +02:00 or -05:00",
        )
    };
    if s.is_empty() || s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") {
        return Ok(0);
    }
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => return Err(bad()),
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let hours: i32 = digits[..2].parse().map_err(|_| bad())?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().map_err(|_| bad())?
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    Ok(sign * (hours * 60 + minutes))
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
    /// period is given; `from`–`to` (both days included) wins over `days`.
    pub fn parse(input: &QueryInput, now: DateTime<Utc>) -> Result<Self, FieldError> {
        let offset = parse_offset(&input.tz)?;
        let today = (now + Duration::minutes(i64::from(offset))).date_naive();
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
            Period::days(first, last, offset)
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
            Period::days(today - Duration::days(days - 1), today, offset)
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
        if self.period.offset_minutes != 0 {
            pairs.push(("tz", self.period.zone()));
        }
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
    fn offsets() {
        assert_eq!(parse_offset(""), Ok(0));
        assert_eq!(parse_offset("+02:00"), Ok(120));
        assert_eq!(parse_offset("-0530"), Ok(-330));
        assert!(parse_offset("Europe/Berlin").is_err());
        assert!(parse_offset("+25:00").is_err());
    }

    #[test]
    fn last_days_are_whole_days_in_the_viewers_zone() {
        let input = QueryInput {
            days: "7".into(),
            tz: "+02:00".into(),
            ..Default::default()
        };
        // 23:30 UTC is already the next day at +02:00.
        let q = ReportQuery::parse(&input, at("2026-11-10T23:30:00Z")).unwrap_or_else(|e| {
            panic!("{e}");
        });
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
    fn bad_input_names_its_field() {
        let now = at("2026-11-10T12:00:00Z");
        let bad = |input: QueryInput| ReportQuery::parse(&input, now).err().map(|e| e.field);
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
