//! Time handling: reading timestamps in the forms payment exports use, the reporting time zone,
//! and time buckets (day, week, month). All calendar logic goes through chrono.
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};
use std::fmt;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// A timestamp as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// An absolute instant written as a Unix epoch number, in milliseconds since 1970-01-01 UTC.
    Utc(i64),
    /// An absolute instant that was written with a UTC offset (in seconds east of UTC).
    WithOffset {
        utc_millis: i64,
        offset_seconds: i32,
    },
    /// A wall-clock time without offset (milliseconds since 1970-01-01 of that wall clock): it is
    /// read in the reporting time zone, the way a person reads it.
    Local(i64),
}

impl Timestamp {
    /// The instant in milliseconds since the epoch, reading wall-clock times in `zone`.
    pub fn utc_millis(self, zone: Zone) -> i64 {
        match self {
            Timestamp::Utc(millis)
            | Timestamp::WithOffset {
                utc_millis: millis, ..
            } => millis,
            Timestamp::Local(millis) => millis - i64::from(zone.offset_seconds()) * 1000,
        }
    }
}

/// Formats with an explicit offset, tried with `DateTime::parse_from_str`.
const OFFSET_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
    "%Y-%m-%d %H:%M:%S%.f%z",
];
/// Wall-clock formats, tried with `NaiveDateTime::parse_from_str`.
const NAIVE_FORMATS: [&str; 6] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
];
/// Date-only formats (midnight of that day).
const DATE_FORMATS: [&str; 3] = ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"];

/// Reads timestamps of one column. It remembers which form matched last, so a column of a
/// million values in one form costs one attempt per value.
#[derive(Debug, Default)]
pub struct TimestampParser {
    last_form: Option<Form>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Rfc3339,
    Offset(usize),
    Naive(usize),
    Date(usize),
    Epoch,
}

impl TimestampParser {
    pub fn parse(&mut self, text: &str) -> Option<Timestamp> {
        if let Some(form) = self.last_form {
            if let Some(value) = parse_form(form, text) {
                return Some(value);
            }
        }
        let forms = std::iter::once(Form::Epoch)
            .chain(std::iter::once(Form::Rfc3339))
            .chain((0..OFFSET_FORMATS.len()).map(Form::Offset))
            .chain((0..NAIVE_FORMATS.len()).map(Form::Naive))
            .chain((0..DATE_FORMATS.len()).map(Form::Date));
        for form in forms {
            if let Some(value) = parse_form(form, text) {
                self.last_form = Some(form);
                return Some(value);
            }
        }
        None
    }
}

fn parse_form(form: Form, text: &str) -> Option<Timestamp> {
    match form {
        Form::Rfc3339 => DateTime::parse_from_rfc3339(text).ok().map(with_offset),
        Form::Offset(i) => DateTime::parse_from_str(text, OFFSET_FORMATS[i])
            .ok()
            .map(with_offset),
        Form::Naive(i) => NaiveDateTime::parse_from_str(text, NAIVE_FORMATS[i])
            .ok()
            .map(|t| Timestamp::Local(t.and_utc().timestamp_millis())),
        Form::Date(i) => {
            // "%Y%m%d" would also accept other digit runs; insist on exactly 8 digits there.
            if DATE_FORMATS[i] == "%Y%m%d" && text.len() != 8 {
                return None;
            }
            NaiveDate::parse_from_str(text, DATE_FORMATS[i])
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| Timestamp::Local(t.and_utc().timestamp_millis()))
        }
        Form::Epoch => parse_epoch(text),
    }
}

fn with_offset(t: DateTime<FixedOffset>) -> Timestamp {
    Timestamp::WithOffset {
        utc_millis: t.timestamp_millis(),
        offset_seconds: t.offset().local_minus_utc(),
    }
}

/// Unix epoch numbers: 9–11 digits are seconds (1973–5138), 12–14 digits milliseconds. Shorter
/// or longer digit runs are not taken as times (an 8-digit run is a YYYYMMDD date).
fn parse_epoch(text: &str) -> Option<Timestamp> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(fraction) = fraction {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let number: f64 = text.parse().ok()?;
    let millis = match whole.len() {
        9..=11 => number * 1000.0,
        12..=14 => number,
        _ => return None,
    };
    Some(Timestamp::Utc(millis.round() as i64))
}

/// A reporting time zone: a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub FixedOffset);

impl Zone {
    pub fn utc() -> Self {
        Zone(FixedOffset::east_opt(0).expect("0 is a valid offset"))
    }

    /// Accepts `UTC`, `Z`, `+08:00`, `+0800`, `+8`, `-05:30`, `UTC+8`.
    pub fn parse(text: &str) -> Option<Zone> {
        let text = text.trim();
        let rest = text
            .strip_prefix("UTC")
            .or_else(|| text.strip_prefix("GMT"))
            .unwrap_or(text);
        if rest.is_empty() || rest.eq_ignore_ascii_case("z") {
            return Some(Zone::utc());
        }
        let (sign, digits) = match rest.as_bytes()[0] {
            b'+' => (1, &rest[1..]),
            b'-' => (-1, &rest[1..]),
            _ => return None,
        };
        let (hours, minutes) = match digits.split_once(':') {
            Some((h, m)) => (h, m),
            None if digits.len() == 4 => digits.split_at(2),
            None => (digits, "0"),
        };
        let hours: i32 = hours.parse().ok().filter(|h| (0..=14).contains(h))?;
        let minutes: i32 = minutes.parse().ok().filter(|m| (0..60).contains(m))?;
        FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Zone)
    }

    pub fn offset_seconds(self) -> i32 {
        self.0.local_minus_utc()
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    #[default]
    Day,
    /// Weeks start on Monday (ISO 8601).
    Week,
    Month,
}

impl Grain {
    pub fn parse(text: &str) -> Option<Grain> {
        match text.trim().to_ascii_lowercase().as_str() {
            "day" | "daily" | "d" => Some(Grain::Day),
            "week" | "weekly" | "w" => Some(Grain::Week),
            "month" | "monthly" | "m" => Some(Grain::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
        }
    }
}

/// The local calendar day (days since 1970-01-01) of an instant in a zone.
pub fn local_day(utc_millis: i64, zone: Zone) -> i64 {
    (utc_millis + i64::from(zone.offset_seconds()) * 1000).div_euclid(MILLIS_PER_DAY)
}

fn date_of_day(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + Duration::days(day)
}

/// The first local day of the bucket that contains `day`.
pub fn bucket_start(day: i64, grain: Grain) -> i64 {
    match grain {
        Grain::Day => day,
        // 1970-01-01 was a Thursday: shifting by 3 makes Monday the start of a week.
        Grain::Week => day - (day + 3).rem_euclid(7),
        Grain::Month => {
            let date = date_of_day(day);
            day - i64::from(date.day0())
        }
    }
}

/// The first local day of the bucket after the one starting on `start`.
pub fn next_bucket(start: i64, grain: Grain) -> i64 {
    match grain {
        Grain::Day => start + 1,
        Grain::Week => start + 7,
        Grain::Month => {
            let date = date_of_day(start);
            let (year, month) = if date.month() == 12 {
                (date.year() + 1, 1)
            } else {
                (date.year(), date.month() + 1)
            };
            let next = NaiveDate::from_ymd_opt(year, month, 1).expect("valid month start");
            (next - date_of_day(0)).num_days()
        }
    }
}

/// How a bucket is labelled: `2025-07-01` for days and weeks, `2025-07` for months.
pub fn bucket_label(start: i64, grain: Grain) -> String {
    let date = date_of_day(start);
    match grain {
        Grain::Day | Grain::Week => date.format("%Y-%m-%d").to_string(),
        Grain::Month => date.format("%Y-%m").to_string(),
    }
}

/// The bucket's first instant, in RFC 3339 with the zone's offset.
pub fn bucket_start_rfc3339(start: i64, zone: Zone) -> String {
    let midnight = date_of_day(start).and_hms_opt(0, 0, 0).expect("midnight");
    match zone.0.from_local_datetime(&midnight).single() {
        Some(t) => t.to_rfc3339(),
        None => midnight.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Timestamp> {
        TimestampParser::default().parse(text)
    }

    #[test]
    fn reads_the_common_forms() {
        let noon_utc = 1_719_835_200_000; // 2024-07-01T12:00:00Z
        assert_eq!(
            parse("2024-07-01T12:00:00Z").map(|t| t.utc_millis(Zone::utc())),
            Some(noon_utc)
        );
        assert_eq!(
            parse("2024-07-01T20:00:00+08:00"),
            Some(Timestamp::WithOffset {
                utc_millis: noon_utc,
                offset_seconds: 8 * 3600
            })
        );
        assert_eq!(
            parse("2024-07-01 20:00:00+0800").map(|t| t.utc_millis(Zone::utc())),
            Some(noon_utc)
        );
        assert_eq!(
            parse("2024-07-01T12:00:00.250Z").map(|t| t.utc_millis(Zone::utc())),
            Some(noon_utc + 250)
        );
        assert_eq!(
            parse("2024-07-01 12:00:00"),
            Some(Timestamp::Local(noon_utc))
        );
        assert_eq!(parse("2024-07-01 12:00"), Some(Timestamp::Local(noon_utc)));
        assert_eq!(
            parse("2024-07-01"),
            Some(Timestamp::Local(noon_utc - 12 * 3_600_000))
        );
        assert_eq!(parse("1719835200"), Some(Timestamp::Utc(noon_utc)));
        assert_eq!(parse("1719835200000"), Some(Timestamp::Utc(noon_utc)));
        assert_eq!(parse("not a date"), None);
        assert_eq!(parse("12"), None);
        assert_eq!(parse("2024-13-01"), None);
    }

    #[test]
    fn local_times_are_read_in_the_reporting_zone() {
        let zone = Zone::parse("+08:00").unwrap();
        let t = parse("2024-07-01 08:00:00").unwrap();
        assert_eq!(t.utc_millis(zone), 1_719_792_000_000); // 00:00 UTC
    }

    #[test]
    fn zones() {
        assert_eq!(Zone::parse("+08:00").unwrap().offset_seconds(), 28_800);
        assert_eq!(Zone::parse("+0800").unwrap().offset_seconds(), 28_800);
        assert_eq!(Zone::parse("UTC+8").unwrap().offset_seconds(), 28_800);
        assert_eq!(Zone::parse("-05:30").unwrap().offset_seconds(), -19_800);
        assert_eq!(Zone::parse("UTC").unwrap().offset_seconds(), 0);
        assert_eq!(Zone::parse("Z").unwrap().offset_seconds(), 0);
        assert_eq!(Zone::parse("+15:00"), None);
        assert_eq!(Zone::parse("Asia/Shanghai"), None);
        assert_eq!(Zone::parse("+08:00").unwrap().to_string(), "+08:00");
    }

    #[test]
    fn day_boundaries_follow_the_zone() {
        // 2024-07-01T23:30:00Z is 07:30 on July 2nd in UTC+8.
        let t = 1_719_876_600_000;
        assert_eq!(
            bucket_label(local_day(t, Zone::utc()), Grain::Day),
            "2024-07-01"
        );
        let shanghai = Zone::parse("+08:00").unwrap();
        assert_eq!(
            bucket_label(local_day(t, shanghai), Grain::Day),
            "2024-07-02"
        );
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let day = local_day(1_719_835_200_000, Zone::utc()); // Monday 2024-07-01
        assert_eq!(
            bucket_label(bucket_start(day + 6, Grain::Week), Grain::Week),
            "2024-07-01"
        );
        assert_eq!(
            bucket_label(bucket_start(day + 7, Grain::Week), Grain::Week),
            "2024-07-08"
        );
        assert_eq!(
            bucket_label(bucket_start(day + 30, Grain::Month), Grain::Month),
            "2024-07"
        );
        assert_eq!(
            bucket_label(bucket_start(day + 31, Grain::Month), Grain::Month),
            "2024-08"
        );
        let december = bucket_start(day + 160, Grain::Month);
        assert_eq!(bucket_label(december, Grain::Month), "2024-12");
        assert_eq!(
            bucket_label(next_bucket(december, Grain::Month), Grain::Month),
            "2025-01"
        );
        assert_eq!(
            bucket_start_rfc3339(day, Zone::parse("+08:00").unwrap()),
            "2024-07-01T00:00:00+08:00"
        );
    }
}
