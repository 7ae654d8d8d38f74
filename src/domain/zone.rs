//! Time zones: a person's zone is an IANA name (`Europe/Berlin`), so that
//! a day starts at local midnight and lasts 23 or 25 hours across a
//! daylight-saving change, which no fixed offset from UTC can say. Times
//! are stored in UTC; a zone only decides how they are shown and which
//! day or week they fall in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
pub use chrono_tz::Tz;

use crate::domain::FieldError;

/// Every zone name Casebook accepts (the IANA database chrono-tz was built
/// with), for a picker's list.
pub fn names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// A zone by its IANA name; letter case is forgiven (`europe/berlin`).
/// An offset like `+02:00` is refused with the reason: it cannot follow
/// daylight-saving time.
pub fn parse(field: &'static str, input: &str) -> Result<Tz, FieldError> {
    let s = input.trim();
    if let Ok(tz) = s.parse::<Tz>() {
        return Ok(tz);
    }
    if let Some(tz) = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(s))
    {
        return Ok(*tz);
    }
    let message = if s.starts_with(['+', '-'])
        || s.chars().next().is_some_and(|c| c.is_ascii_digit())
    {
        format!(
            "give the zone's name, like Europe/Berlin or Asia/Kolkata, not an offset (\"{s}\"): a name follows daylight-saving time"
        )
    } else {
        format!(
            "\"{s}\" is not a time zone name; give one like Europe/Berlin, America/New_York or UTC"
        )
    };
    Err(FieldError::new(field, message))
}

/// The first instant of `day` in `tz`: local midnight, or where a
/// daylight-saving change skips midnight, the first local time after it
/// (the instant of the change). A midnight that happens twice counts from
/// the first.
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A skipped stretch is at most a day (Samoa, 2011-12-30); step through
    // it a minute at a time, as the changes are on whole minutes.
    (0..=26 * 60)
        .find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// The date of `at` in `tz`.
pub fn date_of(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// The Monday of the week (Monday to Sunday, local) holding `at` in `tz`.
pub fn monday_of(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    let local = date_of(tz, at);
    local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
}

/// `at` as a person in `tz` reads it, like `2026-03-08 01:30 EST`.
pub fn show(tz: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn names_parse_and_offsets_are_refused_with_a_reason() {
        assert_eq!(parse("tz", "Europe/Berlin"), Ok(Tz::Europe__Berlin));
        assert_eq!(parse("tz", " europe/berlin "), Ok(Tz::Europe__Berlin));
        assert_eq!(parse("tz", "UTC"), Ok(Tz::UTC));
        let bad = parse("tz", "Mars/Base").err().map(|e| e.message);
        assert!(bad.is_some_and(|m| m.contains("not a time zone name")));
        let offset = parse("tz", "+02:00").err().map(|e| e.message);
        assert!(offset.is_some_and(|m| m.contains("not an offset")));
        assert!(parse("tz", "").is_err());
        assert!(names().any(|n| n == "Asia/Kolkata"));
    }

    #[test]
    fn days_start_at_local_midnight_across_daylight_saving_changes() {
        let ny = Tz::America__New_York;
        // 2026-03-08: clocks go from 02:00 to 03:00, a 23-hour day.
        assert_eq!(day_start(ny, day("2026-03-08")), at("2026-03-08T05:00:00Z"));
        assert_eq!(day_start(ny, day("2026-03-09")), at("2026-03-09T04:00:00Z"));
        // 2026-11-01: clocks go from 02:00 back to 01:00, a 25-hour day.
        assert_eq!(day_start(ny, day("2026-11-01")), at("2026-11-01T04:00:00Z"));
        assert_eq!(day_start(ny, day("2026-11-02")), at("2026-11-02T05:00:00Z"));
        assert_eq!(
            day_start(Tz::Asia__Kolkata, day("2026-10-05")),
            at("2026-10-04T18:30:00Z")
        );
        // Midnight skipped (Santiago moves 00:00 → 01:00): the day starts
        // at the change.
        assert_eq!(
            day_start(Tz::America__Santiago, day("2026-09-06")),
            at("2026-09-06T04:00:00Z")
        );
        // Samoa skipped 2011-12-30 altogether: it has no length.
        let samoa = Tz::Pacific__Apia;
        assert_eq!(
            day_start(samoa, day("2011-12-30")),
            day_start(samoa, day("2011-12-31"))
        );
    }

    #[test]
    fn weeks_start_on_monday_local_time() {
        let ny = Tz::America__New_York;
        // Sunday 2026-03-08 23:30 EDT is Monday 03:30 UTC.
        assert_eq!(monday_of(ny, at("2026-03-09T03:30:00Z")), day("2026-03-02"));
        assert_eq!(monday_of(ny, at("2026-03-09T04:00:00Z")), day("2026-03-09"));
        assert_eq!(show(ny, at("2026-11-01T06:30:00Z")), "2026-11-01 01:30 EST");
    }
}
