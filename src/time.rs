//! Time handling: reading timestamps in the forms payment exports use, the reporting time zone
//! (a fixed UTC offset or an IANA zone with its daylight-saving rules), and time buckets (day,
//! week, month).
//!
//! Timestamps are read by one hand-written pass over the text (no format string is tried in
//! turn), which accepts:
//!
//! | form | examples |
//! | --- | --- |
//! | ISO 8601 / RFC 3339 | `2025-07-01T12:34:56+08:00`, `2025-07-01 12:34:56.250Z`, `2025-07-01 12:34:56 +0800`, `2025-07-01 12:34:56 UTC`, `2025-07-01T12:34`, `2025-07-01` |
//! | year first, `-` `/` `.` | `2025/7/1 9:05`, `2025.07.01 12:34:56`, `2025/07/01` |
//! | day or month first, `/` `-` `.` | `01/07/2025`, `7/1/2025 9:05 PM`, `01.07.2025 21:05:00`, `07-01-2025 12:00 am` |
//! | Chinese | `2023年2月12日`, `2023年2月12日 10:15`, `2023年2月12日 10:15:30`, `2023年2月12日10时15分`, `2023年2月12日 下午3:15` |
//! | compact date | `20250701` |
//! | Unix epoch | `1719835200` (9–11 digits: seconds), `1719835200000` (12–14 digits: milliseconds) |
//!
//! Times are `H:MM`, `H:MM:SS` or `H:MM:SS.fff` (fraction truncated to milliseconds), optionally
//! followed by `AM`/`PM` (or preceded by `上午`/`下午`), then optionally by a UTC offset (`Z`,
//! `+08:00`, `+0800`, `+08`, `UTC`, `GMT`, `UTC+8`). Two-digit years are not read.
//!
//! Whether `01/07/2025` is the 1st of July or January 7th is decided for a whole column, never
//! for one value: see [`infer_column`] and [`DateOrder`].
use chrono::{DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, Offset, TimeZone};
use chrono_tz::{GapInfo, Tz};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
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
    /// The instant in milliseconds since the epoch, reading wall-clock times in `zone` (see
    /// [`Zone::local_to_utc_millis`] for the wall-clock times a daylight-saving change skips or
    /// repeats).
    pub fn utc_millis(self, zone: Zone) -> i64 {
        match self {
            Timestamp::Utc(millis)
            | Timestamp::WithOffset {
                utc_millis: millis, ..
            } => millis,
            Timestamp::Local(millis) => zone.local_to_utc_millis(millis),
        }
    }
}

/// The order of day and month in dates like `01/07/2025` (slash, dash or dot separated, year
/// last). Year-first dates (`2025/07/01`, `2025.07.01`) are always year-month-day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DateOrder {
    /// `DD/MM/YYYY`: most of the world.
    #[serde(rename = "dmy")]
    DayFirst,
    /// `MM/DD/YYYY`: the United States and a few others.
    #[serde(rename = "mdy")]
    MonthFirst,
}

impl DateOrder {
    /// The order taken for a column whose values never show which is the day: day-first, the
    /// order of most of the world (Europe, Latin America, India, Africa, Russia, Australia...;
    /// China, Japan and Korea write the year first, which is never ambiguous). Such a column is
    /// reported with [`ColumnTimes::order_ambiguous`] so that the page or CLI can ask.
    pub const DEFAULT: DateOrder = DateOrder::DayFirst;

    /// Accepts `dmy` / `mdy` and spellings like `DD/MM/YYYY`, `d/m/y`, `day-first`,
    /// `MM/DD/YYYY`, `month first` (case and punctuation ignored).
    pub fn parse(text: &str) -> Option<DateOrder> {
        let key: String = text
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "dmy" | "ddmmyyyy" | "dmyyyy" | "ddmmyy" | "dm" | "ddmm" | "dayfirst" => {
                Some(DateOrder::DayFirst)
            }
            "mdy" | "mmddyyyy" | "mdyyyy" | "mmddyy" | "md" | "mmdd" | "monthfirst" => {
                Some(DateOrder::MonthFirst)
            }
            _ => None,
        }
    }

    /// `dmy` or `mdy`, as in serde.
    pub fn name(self) -> &'static str {
        match self {
            DateOrder::DayFirst => "dmy",
            DateOrder::MonthFirst => "mdy",
        }
    }
}

impl fmt::Display for DateOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Reads timestamps of one column (see the module documentation for the forms).
///
/// `TimestampParser::default()` knows no day/month order: it reads `01/07/2025` in whichever
/// order is valid, day-first when both are. That suits asking "is this value a date at all?".
/// To read a column, take the parser of [`infer_column`] (or [`TimestampParser::with_order`]),
/// which reads every such date in one order and fails on a value that contradicts it.
#[derive(Debug, Clone, Default)]
pub struct TimestampParser {
    order: Option<DateOrder>,
    /// The last ISO date read (`YYYY-MM-DD`) and its day number: a column holds thousands of
    /// times of the same day in a row, and the date's arithmetic is then done once.
    last_date: Option<([u8; 10], i64)>,
}

impl TimestampParser {
    /// A parser that reads day/month dates in `order` only.
    pub fn with_order(order: DateOrder) -> Self {
        TimestampParser {
            order: Some(order),
            last_date: None,
        }
    }

    /// The day/month order this parser insists on, if any.
    pub fn order(&self) -> Option<DateOrder> {
        self.order
    }

    pub fn parse(&mut self, text: &str) -> Option<Timestamp> {
        parse_timestamp(text, self.order, &mut self.last_date)
    }
}

/// What [`infer_column`] learned about a column of timestamps.
#[derive(Debug, Clone)]
pub struct ColumnTimes {
    /// The parser to read the column with: day/month dates in `order` (or [`DateOrder::DEFAULT`]
    /// when `order` is `None`) and no other.
    pub parser: TimestampParser,
    /// The day/month order of the column; `None` when it has no day/month dates (ISO dates,
    /// epochs...) and none was forced.
    pub order: Option<DateOrder>,
    /// True when the column has day/month dates but none of them shows the order (every day and
    /// month is at most 12, or the proofs are evenly split) and no order was forced: the order is
    /// then [`DateOrder::DEFAULT`], and the user should be asked.
    pub order_ambiguous: bool,
    /// Values that can only be day-first (first part > 12, like `25/07/2025`).
    pub day_first_evidence: usize,
    /// Values that can only be month-first (second part > 12, like `07/25/2025`).
    pub month_first_evidence: usize,
}

/// Decides the day/month order of a column from its values (pass them all: a value costs a few
/// nanoseconds here). A value whose first part is above 12 proves day-first, one whose second
/// part is above 12 proves month-first; the majority wins (the minority will then fail to parse,
/// for the caller to report). `forced`, the user's choice, overrides the values. With no proof
/// and nothing forced, the order is [`DateOrder::DEFAULT`] and `order_ambiguous` is set.
pub fn infer_column(
    sample: impl IntoIterator<Item = impl AsRef<str>>,
    forced: Option<DateOrder>,
) -> ColumnTimes {
    let (mut day_first, mut month_first, mut ambiguous) = (0, 0, 0);
    for value in sample {
        match day_month_parts(value.as_ref().trim_ascii().as_bytes()) {
            Some((a, b)) if a > 12 && b <= 12 => day_first += 1,
            Some((a, b)) if b > 12 && a <= 12 => month_first += 1,
            Some((a, b)) if a <= 12 && b <= 12 => ambiguous += 1,
            _ => {}
        }
    }
    let (order, order_ambiguous) = match forced {
        Some(order) => (Some(order), false),
        None if day_first > month_first => (Some(DateOrder::DayFirst), false),
        None if month_first > day_first => (Some(DateOrder::MonthFirst), false),
        None if day_first + month_first + ambiguous > 0 => (Some(DateOrder::DEFAULT), true),
        None => (None, false),
    };
    ColumnTimes {
        parser: TimestampParser::with_order(order.unwrap_or(DateOrder::DEFAULT)),
        order,
        order_ambiguous,
        day_first_evidence: day_first,
        month_first_evidence: month_first,
    }
}

/// [`infer_column`] over the cells of a table's column. A column stored as times or decimals
/// (ISO date-times, plain decimals) never tells a day/month order: its cells are not written
/// out to be looked at. Nor are the rows of a dictionary-encoded column whose distinct values
/// are no day/month dates at all (ISO dates, a dispute date empty on nearly every row): its
/// rows would give the same answer, and reading them was ~4 ms of a 1M-row frame in the page.
pub fn infer_table_column(
    column: &crate::ingest::TextColumn,
    forced: Option<DateOrder>,
) -> ColumnTimes {
    if column.is_times() || column.stored_decimals().is_some() {
        return infer_column(std::iter::empty::<&str>(), forced);
    }
    if let Some(values) = column.dictionary_values() {
        let distinct = infer_column(values, forced);
        // Not when a value is ambiguous: it might be on no row (a joined column's dictionary is
        // its lookup's), and would then make the order a guess for nothing.
        let proves = distinct.day_first_evidence + distinct.month_first_evidence > 0;
        if !proves && !distinct.order_ambiguous {
            return distinct;
        }
    }
    infer_column(column.iter(), forced)
}

/// The first two parts of a `A/B/YYYY` date (separator `/`, `-` or `.`), if `b` starts with one.
fn day_month_parts(b: &[u8]) -> Option<(u32, u32)> {
    let mut s = Scan { b, i: 0 };
    let first = s.number(1, 2)?;
    let sep = s.separator()?;
    let second = s.number(1, 2)?;
    if !s.eat(sep) {
        return None;
    }
    s.number(4, 4)?;
    if s.peek().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    ((1..=31).contains(&first) && (1..=31).contains(&second)).then_some((first, second))
}

/// A cursor over the bytes of a value.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        self.i += usize::from(found);
        found
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let found = self.b[self.i..].starts_with(s.as_bytes());
        if found {
            self.i += s.len();
        }
        found
    }

    /// Eats `s` ignoring ASCII case (`s` is lowercase ASCII).
    fn eat_ascii_ci(&mut self, s: &str) -> bool {
        let found = self.b.len() - self.i >= s.len()
            && self.b[self.i..self.i + s.len()].eq_ignore_ascii_case(s.as_bytes());
        if found {
            self.i += s.len();
        }
        found
    }

    fn spaces(&mut self) -> usize {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i - start
    }

    /// A date separator: `-`, `/` or `.`.
    fn separator(&mut self) -> Option<u8> {
        let c = self.peek().filter(|c| matches!(c, b'-' | b'/' | b'.'))?;
        self.i += 1;
        Some(c)
    }

    /// At least `min` and at most `max` ASCII digits (any digit after the `max`th is left).
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut value = 0u32;
        while self.i - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i - start >= min).then_some(value)
    }
}

/// Reads one value; `order` decides `A/B/YYYY` dates (`None`: whichever is valid, day-first when
/// both are).
/// `last_date` is the last ISO date read with its day number (see `TimestampParser`).
fn parse_timestamp(
    text: &str,
    order: Option<DateOrder>,
    last_date: &mut Option<([u8; 10], i64)>,
) -> Option<Timestamp> {
    let text = text.trim_ascii();
    let b = text.as_bytes();
    // The common ISO layout, `YYYY-MM-DDTHH:MM:SS` at fixed places, before the general scan.
    if b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':'
    {
        let day = iso_day(b, last_date)?;
        let (hour, minute, second) = (two_digits(b, 11)?, two_digits(b, 14)?, two_digits(b, 17)?);
        // Whole seconds with `Z`, `+HH:MM` or nothing, the usual case, without the general tail.
        if hour <= 23 && minute <= 59 && second <= 59 {
            let wall = day * MILLIS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second) * 1000;
            let offset = match (b.len(), b.get(19)) {
                (19, _) => return Some(Timestamp::Local(wall)),
                (20, Some(b'Z' | b'z')) => Some(0),
                (25, Some(&sign @ (b'+' | b'-'))) if b[22] == b':' => {
                    let (hours, minutes) = (two_digits(b, 20)?, two_digits(b, 23)?);
                    let seconds = (hours * 3600 + minutes * 60) as i32;
                    (hours <= 23 && minutes <= 59).then_some(if sign == b'-' {
                        -seconds
                    } else {
                        seconds
                    })
                }
                _ => None,
            };
            if let Some(offset_seconds) = offset {
                return Some(Timestamp::WithOffset {
                    utc_millis: wall - i64::from(offset_seconds) * 1000,
                    offset_seconds,
                });
            }
        }
        let mut s = Scan { b, i: 19 };
        let millis = if s.eat(b'.') || s.eat(b',') {
            fraction_millis(&mut s)?
        } else {
            0
        };
        return finish_timestamp(s, day, [hour, minute, second], millis, None);
    }
    let (mut lead, mut number) = (0, 0u64);
    while let Some(&c @ b'0'..=b'9') = b.get(lead) {
        number = number.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        lead += 1;
    }
    if lead == b.len() {
        // A run of digits: YYYYMMDD, or a Unix epoch (see `parse_epoch`).
        let number = number as i64;
        return match lead {
            8 => {
                let (year, month_day) = (number / 10_000, number % 10_000);
                let day = days_from_civil(
                    year as u32,
                    (month_day / 100) as u32,
                    (month_day % 100) as u32,
                )?;
                Some(Timestamp::Local(day * MILLIS_PER_DAY))
            }
            9..=11 => Some(Timestamp::Utc(number * 1000)),
            12..=14 => Some(Timestamp::Utc(number)),
            _ => None,
        };
    }
    if lead >= 9 && b[lead] == b'.' {
        return parse_epoch(text);
    }

    let mut s = Scan { b, i: 0 };
    let mut chinese = false;
    let (year, month, day) = match lead {
        4 => {
            let year = s.number(4, 4)?;
            if s.eat_str("年") {
                chinese = true;
                let month = s.number(1, 2)?;
                s.eat_str("月").then_some(())?;
                let day = s.number(1, 2)?;
                (s.eat_str("日") || s.eat_str("号")).then_some(())?;
                (year, month, day)
            } else {
                let sep = s.separator()?;
                let month = s.number(1, 2)?;
                s.eat(sep).then_some(())?;
                (year, month, s.number(1, 2)?)
            }
        }
        1 | 2 => {
            let first = s.number(1, 2)?;
            let sep = s.separator()?;
            let second = s.number(1, 2)?;
            s.eat(sep).then_some(())?;
            let year = s.number(4, 4)?;
            let order = order.unwrap_or(if first <= 12 && second > 12 {
                DateOrder::MonthFirst
            } else {
                DateOrder::DayFirst
            });
            match order {
                DateOrder::DayFirst => (year, second, first),
                DateOrder::MonthFirst => (year, first, second),
            }
        }
        _ => return None,
    };
    let day = days_from_civil(year, month, day)?;
    if s.done() {
        return Some(Timestamp::Local(day * MILLIS_PER_DAY));
    }

    // Between date and time: `T`, spaces, `, ` (nothing after a Chinese date).
    let separated = s.eat(b'T') || s.eat(b't') || {
        let comma = s.eat(b',');
        s.spaces() > 0 || comma
    };
    if !separated && !chinese {
        return None;
    }
    let pm = if s.eat_str("上午") {
        Some(false)
    } else if s.eat_str("下午") {
        Some(true)
    } else {
        None
    };
    if pm.is_some() {
        s.spaces();
    }
    let hour = s.number(1, 2)?;
    let (minute, second, millis);
    if s.eat(b':') {
        minute = s.number(2, 2)?;
        if s.eat(b':') {
            second = s.number(2, 2)?;
            millis = if s.eat(b'.') || s.eat(b',') {
                fraction_millis(&mut s)?
            } else {
                0
            };
        } else {
            (second, millis) = (0, 0);
        }
    } else if s.eat_str("时") || s.eat_str("時") || s.eat_str("点") {
        minute = s.number(1, 2)?;
        s.eat_str("分").then_some(())?;
        second = match s.number(1, 2) {
            Some(second) => {
                s.eat_str("秒").then_some(())?;
                second
            }
            None => 0,
        };
        millis = 0;
    } else {
        return None;
    }
    finish_timestamp(s, day, [hour, minute, second], millis, pm)
}

/// The rest of a value after its seconds: AM/PM (unless `pm` is known), then an optional UTC
/// offset, then the end.
fn finish_timestamp(
    mut s: Scan,
    day: i64,
    [mut hour, minute, second]: [u32; 3],
    millis: u32,
    mut pm: Option<bool>,
) -> Option<Timestamp> {
    s.spaces();
    if pm.is_none() && matches!(s.peek(), Some(b'a' | b'A' | b'p' | b'P')) {
        pm = if s.eat_ascii_ci("am") || s.eat_ascii_ci("a.m.") {
            Some(false)
        } else if s.eat_ascii_ci("pm") || s.eat_ascii_ci("p.m.") {
            Some(true)
        } else {
            return None;
        };
        s.spaces();
    }
    if let Some(pm) = pm {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let wall = day * MILLIS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second) * 1000
        + i64::from(millis);

    let offset_seconds = match s.peek() {
        None => None,
        Some(b'+' | b'-') => Some(utc_offset(&mut s, 2)?),
        Some(b'Z' | b'z') => {
            s.i += 1;
            Some(0)
        }
        Some(_) if s.eat_ascii_ci("utc") || s.eat_ascii_ci("gmt") => match s.peek() {
            None => Some(0),
            Some(_) => Some(utc_offset(&mut s, 1)?),
        },
        Some(_) => return None,
    };
    if !s.done() {
        return None;
    }
    Some(match offset_seconds {
        None => Timestamp::Local(wall),
        Some(offset_seconds) => Timestamp::WithOffset {
            utc_millis: wall - i64::from(offset_seconds) * 1000,
            offset_seconds,
        },
    })
}

/// The day number of the ISO date `YYYY-MM-DD` that `b` starts with (its dashes checked by the
/// caller). `last_date` holds the last date read and its day number: a column holds thousands of
/// times of one day in a row, and the date's arithmetic is then done once.
#[inline(always)]
pub(crate) fn iso_day(b: &[u8], last_date: &mut Option<([u8; 10], i64)>) -> Option<i64> {
    match last_date {
        Some((date, day)) if date[..] == b[..10] => Some(*day),
        _ => {
            let year = two_digits(b, 0)? * 100 + two_digits(b, 2)?;
            let day = days_from_civil(year, two_digits(b, 5)?, two_digits(b, 8)?)?;
            let mut date = [0; 10];
            date.copy_from_slice(&b[..10]);
            *last_date = Some((date, day));
            Some(day)
        }
    }
}

/// The two-digit number at `b[i..i + 2]`.
#[inline(always)] // several per timestamp, a million timestamps per column
pub(crate) fn two_digits(b: &[u8], i: usize) -> Option<u32> {
    let (high, low) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
    (high < 10 && low < 10).then(|| u32::from(high * 10 + low))
}

/// The digits after a decimal point, as milliseconds (truncated, like chrono).
fn fraction_millis(s: &mut Scan) -> Option<u32> {
    let start = s.i;
    let mut millis = 0;
    while let Some(c @ b'0'..=b'9') = s.peek() {
        if s.i - start < 3 {
            millis = millis * 10 + u32::from(c - b'0');
        }
        s.i += 1;
    }
    match s.i - start {
        0 => None,
        1 => Some(millis * 100),
        2 => Some(millis * 10),
        _ => Some(millis),
    }
}

/// `+08:00`, `+0800`, `-05`, and after `UTC`/`GMT` also `+8`; in seconds east of UTC.
fn utc_offset(s: &mut Scan, min_hour_digits: usize) -> Option<i32> {
    let sign = match s.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    s.i += 1;
    let hours = s.number(min_hour_digits, 2)?;
    let minutes = if s.eat(b':') {
        s.number(2, 2)?
    } else {
        s.number(2, 2).unwrap_or(0)
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) as i32)
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: u32, month: u32, day: u32) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days {
        return None;
    }
    // Shifted by one 400-year era so that the arithmetic stays unsigned from year 0.
    let year = year + 400 - u32::from(month <= 2);
    let era = year / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(i64::from(era) * 146_097 + i64::from(day_of_era) - 719_468 - 146_097)
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

/// A reporting time zone: a fixed offset from UTC, or an IANA zone (`Asia/Shanghai`,
/// `Europe/Berlin`) whose offset follows its daylight-saving rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone {
    kind: ZoneKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ZoneKind {
    /// Seconds east of UTC.
    Fixed(i32),
    Named(Tz),
}

impl From<FixedOffset> for Zone {
    fn from(offset: FixedOffset) -> Zone {
        Zone {
            kind: ZoneKind::Fixed(offset.local_minus_utc()),
        }
    }
}

impl From<Tz> for Zone {
    fn from(tz: Tz) -> Zone {
        Zone {
            kind: ZoneKind::Named(tz),
        }
    }
}

impl Zone {
    pub fn utc() -> Self {
        Zone {
            kind: ZoneKind::Fixed(0),
        }
    }

    /// A fixed offset, in seconds east of UTC (less than 24 hours either way).
    pub fn fixed(offset_seconds: i32) -> Option<Zone> {
        FixedOffset::east_opt(offset_seconds).map(Zone::from)
    }

    /// Accepts a UTC offset — `UTC`, `GMT`, `Z`, `+08:00`, `+0800`, `+8`, `-05:30`, `UTC+8` (at
    /// most 14 hours) — or an IANA zone name, in any letter case and with spaces for
    /// underscores: `Asia/Shanghai`, `america/new_york`, `Europe/Berlin`. `Etc/GMT+8` is the
    /// IANA zone (eight hours *behind* UTC); `GMT+8`, an offset, is eight hours ahead.
    pub fn parse(text: &str) -> Option<Zone> {
        let text = text.trim();
        parse_fixed(text).or_else(|| parse_iana(text).map(Zone::from))
    }

    /// The IANA name of a named zone.
    pub fn name(self) -> Option<&'static str> {
        match self.kind {
            ZoneKind::Fixed(_) => None,
            ZoneKind::Named(tz) => Some(tz.name()),
        }
    }

    /// The offset of a fixed-offset zone, in seconds east of UTC.
    pub fn fixed_offset_seconds(self) -> Option<i32> {
        match self.kind {
            ZoneKind::Fixed(seconds) => Some(seconds),
            ZoneKind::Named(_) => None,
        }
    }

    /// The offset in force at an instant, in seconds east of UTC.
    pub fn offset_seconds_at(self, utc_millis: i64) -> i32 {
        match self.kind {
            ZoneKind::Fixed(seconds) => seconds,
            ZoneKind::Named(tz) => named_offset_at(tz, utc_millis),
        }
    }

    /// The instant (milliseconds since the epoch) at which the zone's clocks show the wall-clock
    /// time `wall_millis` (milliseconds since 1970-01-01 of that wall clock).
    ///
    /// A wall-clock time that a daylight-saving change skips or repeats is read with the offset
    /// in force *before* the change: one skipped by clocks going forward is shifted forward by
    /// the gap (Europe/Berlin, 2025-03-30 02:30 is 01:30Z, which the clocks show as 03:30+02:00);
    /// one repeated by clocks going back is its earlier occurrence (2025-10-26 02:30 is
    /// 00:30Z, 02:30+02:00).
    #[inline]
    pub fn local_to_utc_millis(self, wall_millis: i64) -> i64 {
        let offset = match self.kind {
            ZoneKind::Fixed(seconds) => seconds,
            ZoneKind::Named(tz) => named_local_offset(tz, wall_millis),
        };
        wall_millis - i64::from(offset) * 1000
    }
}

/// Every IANA zone name [`Zone::parse`] knows, in the tz database's order (for a zone picker).
pub fn iana_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

/// `UTC`, `Z`, `+08:00`, `+0800`, `+8`, `-05:30`, `UTC+8`, `GMT-5`.
fn parse_fixed(text: &str) -> Option<Zone> {
    let prefix = text.get(..3).unwrap_or("");
    let rest = if prefix.eq_ignore_ascii_case("utc") || prefix.eq_ignore_ascii_case("gmt") {
        &text[3..]
    } else {
        text
    };
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
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(hours) || !all_digits(minutes) {
        return None;
    }
    let hours: i32 = hours.parse().ok().filter(|h| (0..=14).contains(h))?;
    let minutes: i32 = minutes.parse().ok().filter(|m| (0..60).contains(m))?;
    Zone::fixed(sign * (hours * 3600 + minutes * 60))
}

/// An IANA zone name, ignoring ASCII case and reading spaces as underscores.
fn parse_iana(text: &str) -> Option<Tz> {
    if let Ok(tz) = text.parse::<Tz>() {
        return Some(tz);
    }
    let same = |name: &str| {
        name.len() == text.len()
            && name
                .bytes()
                .zip(text.bytes())
                .all(|(n, t)| n.eq_ignore_ascii_case(&t) || (n == b'_' && t == b' '))
    };
    chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .find(|tz| same(tz.name()))
}

impl fmt::Display for Zone {
    /// `+08:00` for a fixed offset, the IANA name (`Asia/Shanghai`) for a named zone.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ZoneKind::Fixed(seconds) => match FixedOffset::east_opt(seconds) {
                Some(offset) => write!(f, "{offset}"),
                None => write!(f, "{seconds}s"),
            },
            ZoneKind::Named(tz) => f.write_str(tz.name()),
        }
    }
}

// ---- offsets of named zones, cached per day --------------------------------------------------
//
// `local_day` runs once per row, so a named zone must not cost a tz-database search per row. Two
// small direct-mapped tables (per thread) remember, for a (zone, day), the one offset in force
// all that day, or that the day holds an offset change (then each value is looked up). A UTC day
// is checked at its first and last second; a local day at its first and last wall-clock second,
// both of which must read unambiguously. That is exact as long as no zone changes its offset
// and changes it back within a day: in tzdata 2025b the shortest time between two offset changes
// of any zone is about four days (Africa/Freetown, 1939). 512 slots keep every day of a year and
// a half of unsorted rows.

const CACHE_SLOTS: usize = 512;
/// Marks a day during which the offset changes.
const MIXED: i32 = i32::MIN;

#[derive(Clone, Copy)]
struct DayOffset {
    tz: Tz,
    day: i64,
    offset: i32,
}

const EMPTY_SLOT: DayOffset = DayOffset {
    tz: Tz::UTC,
    day: i64::MIN,
    offset: 0,
};

thread_local! {
    static BY_UTC_DAY: [Cell<DayOffset>; CACHE_SLOTS] =
        const { [const { Cell::new(EMPTY_SLOT) }; CACHE_SLOTS] };
    static BY_LOCAL_DAY: [Cell<DayOffset>; CACHE_SLOTS] =
        const { [const { Cell::new(EMPTY_SLOT) }; CACHE_SLOTS] };
}

fn slot_of(day: i64) -> usize {
    (day as usize) % CACHE_SLOTS
}

#[inline(never)]
fn named_offset_at(tz: Tz, utc_millis: i64) -> i32 {
    let day = utc_millis.div_euclid(MILLIS_PER_DAY);
    let offset = BY_UTC_DAY.with(|slots| {
        let slot = &slots[slot_of(day)];
        let known = slot.get();
        if known.day == day && known.tz == tz {
            return known.offset;
        }
        let start = day.saturating_mul(MILLIS_PER_DAY);
        let first = tz_offset_at(tz, start);
        let last = tz_offset_at(tz, start.saturating_add(MILLIS_PER_DAY - 1));
        let offset = if first == last { first } else { MIXED };
        slot.set(DayOffset { tz, day, offset });
        offset
    });
    if offset == MIXED {
        tz_offset_at(tz, utc_millis)
    } else {
        offset
    }
}

#[inline(never)]
fn named_local_offset(tz: Tz, wall_millis: i64) -> i32 {
    let day = wall_millis.div_euclid(MILLIS_PER_DAY);
    let offset = BY_LOCAL_DAY.with(|slots| {
        let slot = &slots[slot_of(day)];
        let known = slot.get();
        if known.day == day && known.tz == tz {
            return known.offset;
        }
        let start = day.saturating_mul(MILLIS_PER_DAY);
        let first = tz_single_local_offset(tz, start);
        let last = tz_single_local_offset(tz, start.saturating_add(MILLIS_PER_DAY - 1000));
        let offset = match (first, last) {
            (Some(first), Some(last)) if first == last => first,
            _ => MIXED,
        };
        slot.set(DayOffset { tz, day, offset });
        offset
    });
    if offset == MIXED {
        tz_local_offset(tz, wall_millis)
    } else {
        offset
    }
}

/// The offset at an instant, from the tz database (no cache).
fn tz_offset_at(tz: Tz, utc_millis: i64) -> i32 {
    DateTime::from_timestamp_millis(utc_millis).map_or(0, |t| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    })
}

/// The offset of a wall-clock time that exists exactly once, from the tz database (no cache).
fn tz_single_local_offset(tz: Tz, wall_millis: i64) -> Option<i32> {
    let wall = DateTime::from_timestamp_millis(wall_millis)?.naive_utc();
    match tz.offset_from_local_datetime(&wall) {
        LocalResult::Single(offset) => Some(offset.fix().local_minus_utc()),
        _ => None,
    }
}

/// The offset to read a wall-clock time with (see [`Zone::local_to_utc_millis`]), from the tz
/// database (no cache).
fn tz_local_offset(tz: Tz, wall_millis: i64) -> i32 {
    let Some(wall) = DateTime::from_timestamp_millis(wall_millis).map(|t| t.naive_utc()) else {
        return 0;
    };
    match tz.offset_from_local_datetime(&wall) {
        LocalResult::Single(offset) => offset.fix().local_minus_utc(),
        // Repeated: the larger offset gives the earlier instant, the one before the change.
        LocalResult::Ambiguous(a, b) => a.fix().local_minus_utc().max(b.fix().local_minus_utc()),
        // Skipped: the offset in force just before the gap.
        LocalResult::None => GapInfo::new(&wall, &tz)
            .and_then(|gap| gap.begin)
            .map_or_else(
                || tz_offset_at(tz, wall_millis),
                |(_, offset)| offset.fix().local_minus_utc(),
            ),
    }
}

/// The width of a time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    #[default]
    Day,
    /// Weeks start on Monday (ISO 8601) unless `WeekStart` says Sunday.
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

/// The first day of a week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WeekStart {
    /// ISO 8601, and most of the world.
    #[default]
    Monday,
    /// The United States, Canada, Japan...
    Sunday,
}

impl WeekStart {
    pub fn parse(text: &str) -> Option<WeekStart> {
        match text.trim().to_ascii_lowercase().as_str() {
            "monday" | "mon" => Some(WeekStart::Monday),
            "sunday" | "sun" => Some(WeekStart::Sunday),
            _ => None,
        }
    }
}

/// The local calendar day (days since 1970-01-01) of an instant in a zone, with the offset in
/// force at that instant. Fixed offsets cost one addition and one division; named zones add a
/// cached per-day lookup.
#[inline]
pub fn local_day(utc_millis: i64, zone: Zone) -> i64 {
    let offset = match zone.kind {
        ZoneKind::Fixed(seconds) => seconds,
        ZoneKind::Named(tz) => named_offset_at(tz, utc_millis),
    };
    (utc_millis + i64::from(offset) * 1000).div_euclid(MILLIS_PER_DAY)
}

pub fn date_of_day(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + Duration::days(day)
}

/// The first local day of the bucket that contains `day`.
pub fn bucket_start(day: i64, grain: Grain, week_start: WeekStart) -> i64 {
    match grain {
        Grain::Day => day,
        // 1970-01-01 was a Thursday: shifting by 3 makes Monday the start of a week, by 4 Sunday.
        Grain::Week => match week_start {
            WeekStart::Monday => day - (day + 3).rem_euclid(7),
            WeekStart::Sunday => day - (day + 4).rem_euclid(7),
        },
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

/// The bucket's first instant — local midnight of day `start` — in RFC 3339 with the offset in
/// force then: `2025-03-30T00:00:00+01:00` and `2025-03-31T00:00:00+02:00` in Europe/Berlin. Where
/// a daylight-saving change skips midnight, the day starts when the clocks resume
/// (America/Santiago, 2024-09-08: `2024-09-08T01:00:00-03:00`).
pub fn bucket_start_rfc3339(start: i64, zone: Zone) -> String {
    let utc = zone.local_to_utc_millis(start * MILLIS_PER_DAY);
    let offset = FixedOffset::east_opt(zone.offset_seconds_at(utc));
    match (DateTime::from_timestamp_millis(utc), offset) {
        (Some(t), Some(offset)) => t.with_timezone(&offset).to_rfc3339(),
        _ => date_of_day(start)
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Timestamp> {
        TimestampParser::default().parse(text)
    }

    fn parse_in(order: DateOrder, text: &str) -> Option<Timestamp> {
        TimestampParser::with_order(order).parse(text)
    }

    /// Milliseconds since the epoch of a UTC date and time.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_opt(h, mi, s))
            .expect("valid test time")
            .and_utc()
            .timestamp_millis()
    }

    /// A wall-clock time, as `Timestamp::Local`.
    fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Timestamp> {
        Some(Timestamp::Local(utc(y, mo, d, h, mi, s)))
    }

    fn day(y: i32, mo: u32, d: u32) -> i64 {
        utc(y, mo, d, 0, 0, 0) / MILLIS_PER_DAY
    }

    fn zone(text: &str) -> Zone {
        Zone::parse(text).unwrap_or_else(|| panic!("{text} is a zone"))
    }

    fn label(utc_millis: i64, zone: Zone) -> String {
        bucket_label(local_day(utc_millis, zone), Grain::Day)
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
    fn reads_iso_variants_exactly() {
        let t = utc(2025, 7, 1, 12, 34, 56);
        let with = |utc_millis, offset_seconds| {
            Some(Timestamp::WithOffset {
                utc_millis,
                offset_seconds,
            })
        };
        assert_eq!(
            parse("2025-07-01T12:34:56+08:00"),
            with(t - 8 * 3_600_000, 28_800)
        );
        assert_eq!(parse("2025-07-01t12:34:56z"), with(t, 0));
        assert_eq!(
            parse("2025-07-01T12:34:56-05:30"),
            with(t + 19_800_000, -19_800)
        );
        assert_eq!(
            parse("2025-07-01 12:34:56 +0800"),
            with(t - 28_800_000, 28_800)
        );
        assert_eq!(
            parse("2025-07-01 12:34:56+08"),
            with(t - 28_800_000, 28_800)
        );
        assert_eq!(parse("2025-07-01 12:34:56 UTC"), with(t, 0));
        assert_eq!(parse("2025-07-01 12:34:56.123456 UTC"), with(t + 123, 0));
        assert_eq!(
            parse("2025-07-01 12:34:56 UTC+8"),
            with(t - 28_800_000, 28_800)
        );
        assert_eq!(parse("2025-07-01T12:34:56.7Z"), with(t + 700, 0));
        assert_eq!(parse("2025-07-01T12:34:56,25Z"), with(t + 250, 0));
        assert_eq!(
            parse("2025-07-01T12:34+08:00"),
            with(t - 56_000 - 28_800_000, 28_800)
        );
        assert_eq!(parse("  2025-07-01 12:34:56  "), Some(Timestamp::Local(t)));
        assert_eq!(parse("20250701"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(parse("2024-02-29"), local(2024, 2, 29, 0, 0, 0));
        for junk in [
            "2025-02-29",
            "2025-07-01T",
            "2025-07-01 24:00:00",
            "2025-07-01 12:60",
            "2025-07-01 12:34:56+24:00",
            "2025-07-01 12:34:56 junk",
            "2025-07/01",
            "2025-07-01T12:34:56.Z",
            "20251301",
            "",
            "   ",
        ] {
            assert_eq!(parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn reads_year_first_slash_and_dot_dates() {
        assert_eq!(parse("2025/07/01"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(parse("2025/7/1 9:05"), local(2025, 7, 1, 9, 5, 0));
        assert_eq!(parse("2025/07/01 12:34:56"), local(2025, 7, 1, 12, 34, 56));
        assert_eq!(parse("2025.07.01"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(parse("2025.7.1 21:05:09"), local(2025, 7, 1, 21, 5, 9));
        assert_eq!(parse("2025/07.01"), None);
    }

    #[test]
    fn reads_day_first_and_month_first_dates_in_the_column_order() {
        let dmy = DateOrder::DayFirst;
        let mdy = DateOrder::MonthFirst;
        assert_eq!(parse_in(dmy, "01/07/2025"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(parse_in(mdy, "01/07/2025"), local(2025, 1, 7, 0, 0, 0));
        assert_eq!(parse_in(dmy, "25/07/2025"), local(2025, 7, 25, 0, 0, 0));
        assert_eq!(parse_in(mdy, "25/07/2025"), None); // contradicts the column's order
        assert_eq!(parse_in(mdy, "07/25/2025"), local(2025, 7, 25, 0, 0, 0));
        assert_eq!(parse_in(dmy, "07/25/2025"), None);
        assert_eq!(parse_in(dmy, "1.7.2025"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(
            parse_in(dmy, "01-07-2025 21:05"),
            local(2025, 7, 1, 21, 5, 0)
        );
        assert_eq!(
            parse_in(dmy, "01.07.2025 21:05:09"),
            local(2025, 7, 1, 21, 5, 9)
        );
        assert_eq!(parse_in(mdy, "7/1/2025 9:05"), local(2025, 7, 1, 9, 5, 0));
        assert_eq!(
            parse_in(mdy, "7/1/2025 9:05 PM"),
            local(2025, 7, 1, 21, 5, 0)
        );
        assert_eq!(
            parse_in(mdy, "7/1/2025, 9:05:30 pm"),
            local(2025, 7, 1, 21, 5, 30)
        );
        assert_eq!(
            parse_in(mdy, "7/1/2025 12:05 AM"),
            local(2025, 7, 1, 0, 5, 0)
        );
        assert_eq!(
            parse_in(mdy, "7/1/2025 12:05 PM"),
            local(2025, 7, 1, 12, 5, 0)
        );
        assert_eq!(
            parse_in(mdy, "7/1/2025 11:59:59a.m."),
            local(2025, 7, 1, 11, 59, 59)
        );
        assert_eq!(
            parse_in(dmy, "01/07/2025 21:05 +02:00"),
            Some(Timestamp::WithOffset {
                utc_millis: utc(2025, 7, 1, 19, 5, 0),
                offset_seconds: 7200
            })
        );
        for junk in [
            "31/02/2025",
            "01/07/25",
            "01/07-2025",
            "1/7/2025 13:00 PM",
            "1/7/2025 0:30 AM",
            "001/07/2025",
        ] {
            assert_eq!(parse_in(dmy, junk), None, "{junk:?}");
        }
        // Without a column order (sniffing), either order is accepted, day-first when both are.
        assert_eq!(parse("01/07/2025"), local(2025, 7, 1, 0, 0, 0));
        assert_eq!(parse("07/25/2025"), local(2025, 7, 25, 0, 0, 0));
    }

    #[test]
    fn reads_chinese_dates() {
        assert_eq!(parse("2023年2月12日"), local(2023, 2, 12, 0, 0, 0));
        assert_eq!(parse("2023年02月12日 10:15"), local(2023, 2, 12, 10, 15, 0));
        assert_eq!(
            parse("2023年2月12日 10:15:30"),
            local(2023, 2, 12, 10, 15, 30)
        );
        assert_eq!(
            parse("2023年2月12日10时15分"),
            local(2023, 2, 12, 10, 15, 0)
        );
        assert_eq!(
            parse("2023年2月12日 10时15分30秒"),
            local(2023, 2, 12, 10, 15, 30)
        );
        assert_eq!(parse("2023年2月12日 10点5分"), local(2023, 2, 12, 10, 5, 0));
        assert_eq!(parse("2023年2月12号"), local(2023, 2, 12, 0, 0, 0));
        assert_eq!(
            parse("2023年2月12日 下午3:15"),
            local(2023, 2, 12, 15, 15, 0)
        );
        assert_eq!(parse("2023/2/12 上午 12:15"), local(2023, 2, 12, 0, 15, 0));
        assert_eq!(parse("2023年2月30日"), None);
        assert_eq!(parse("2023年2月12"), None);
        assert_eq!(parse("2023年2月12日 10时"), None);
    }

    /// A table's column gives what its every row gives, however it is stored: a coded column
    /// whose values prove nothing is answered from its values, any other from its rows.
    #[test]
    fn a_table_column_tells_the_order_its_rows_tell() {
        use crate::ingest::TextColumn;
        let cases: [(&[(&str, usize)], _, _); 4] = [
            (&[("2025-07-01 10:00:00", 5), ("", 100)], None, (0, 0)),
            (
                &[("25/07/2025", 3), ("07/27/2025", 1), ("", 9)],
                Some(DateOrder::DayFirst),
                (3, 1),
            ),
            (
                &[("01/07/2025", 2), ("", 9)],
                Some(DateOrder::DEFAULT),
                (0, 0),
            ),
            (
                &[("07/27/2025", 4), ("25/07/2025", 2)],
                Some(DateOrder::MonthFirst),
                (2, 4),
            ),
        ];
        for (values, order, evidence) in cases {
            let cells: Vec<&str> = values
                .iter()
                .flat_map(|&(value, rows)| std::iter::repeat_n(value, rows))
                .collect();
            let column = TextColumn::from_cells(cells.iter().copied()).unwrap();
            assert!(column.dictionary_values().is_some());
            let by_table = infer_table_column(&column, None);
            let by_rows = infer_column(&cells, None);
            assert_eq!(by_table.order, order, "{values:?}");
            assert_eq!(by_table.order, by_rows.order);
            assert_eq!(by_table.order_ambiguous, by_rows.order_ambiguous);
            assert_eq!(
                (by_table.day_first_evidence, by_table.month_first_evidence),
                evidence
            );
        }
        // A joined column's dictionary may hold an ambiguous value on no row: not a guess.
        let column = TextColumn::from_codes(vec![0, 0], &["2025-07-01", "01/07/2025"]);
        assert!(!infer_table_column(&column, None).order_ambiguous);
    }

    #[test]
    fn infers_the_day_month_order_of_a_column() {
        // A first part above 12 proves day-first.
        let column = infer_column(["01/07/2025", "25/07/2025", "02/07/2025"], None);
        assert_eq!(column.order, Some(DateOrder::DayFirst));
        assert!(!column.order_ambiguous);
        assert_eq!(
            (column.day_first_evidence, column.month_first_evidence),
            (1, 0)
        );
        let mut parser = column.parser;
        assert_eq!(parser.parse("02/07/2025"), local(2025, 7, 2, 0, 0, 0));

        // A second part above 12 proves month-first.
        let column = infer_column(["7/1/2025 9:05 PM", "7/25/2025 10:00 AM"], None);
        assert_eq!(column.order, Some(DateOrder::MonthFirst));
        assert!(!column.order_ambiguous);
        let mut parser = column.parser;
        assert_eq!(
            parser.parse("7/1/2025 9:05 PM"),
            local(2025, 7, 1, 21, 5, 0)
        );

        // No proof: the default, flagged so that the user can be asked.
        let column = infer_column(["01/07/2025", "02/07/2025", "12.11.2025"], None);
        assert_eq!(column.order, Some(DateOrder::DEFAULT));
        assert_eq!(DateOrder::DEFAULT, DateOrder::DayFirst);
        assert!(column.order_ambiguous);
        let mut parser = column.parser;
        assert_eq!(parser.parse("01/07/2025"), local(2025, 7, 1, 0, 0, 0));

        // Forced: the user's choice wins, whatever the values say.
        let column = infer_column(["01/07/2025", "02/07/2025"], Some(DateOrder::MonthFirst));
        assert_eq!(column.order, Some(DateOrder::MonthFirst));
        assert!(!column.order_ambiguous);
        let mut parser = column.parser;
        assert_eq!(parser.parse("01/07/2025"), local(2025, 1, 7, 0, 0, 0));
        let column = infer_column(["25/07/2025"], Some(DateOrder::MonthFirst));
        assert_eq!(column.day_first_evidence, 1);
        let mut parser = column.parser;
        assert_eq!(parser.parse("25/07/2025"), None);

        // Inconsistent: the majority wins; the others fail to parse.
        let column = infer_column(["25/07/2025", "26/07/2025", "07/27/2025"], None);
        assert_eq!(column.order, Some(DateOrder::DayFirst));
        assert_eq!(
            (column.day_first_evidence, column.month_first_evidence),
            (2, 1)
        );
        let mut parser = column.parser;
        assert_eq!(parser.parse("07/27/2025"), None);
        let column = infer_column(["25/07/2025", "07/27/2025"], None);
        assert!(column.order_ambiguous);

        // A column without day/month dates has no order, and needs none.
        let column = infer_column(["2025-07-01T12:00:00Z", "1719835200", "2025/07/01"], None);
        assert_eq!(column.order, None);
        assert!(!column.order_ambiguous);
        let mut parser = column.parser;
        assert_eq!(parser.parse("2025/07/01"), local(2025, 7, 1, 0, 0, 0));
    }

    #[test]
    fn date_orders() {
        for text in [
            "dmy",
            "DMY",
            "DD/MM/YYYY",
            "d/m/y",
            "day-first",
            "dd.mm.yyyy",
        ] {
            assert_eq!(DateOrder::parse(text), Some(DateOrder::DayFirst), "{text}");
        }
        for text in ["mdy", "MM/DD/YYYY", "m/d/y", "month first"] {
            assert_eq!(
                DateOrder::parse(text),
                Some(DateOrder::MonthFirst),
                "{text}"
            );
        }
        assert_eq!(DateOrder::parse("ymd"), None);
        assert_eq!(DateOrder::parse(""), None);
        assert_eq!(
            serde_json::to_string(&DateOrder::DayFirst).unwrap(),
            "\"dmy\""
        );
        assert_eq!(
            serde_json::from_str::<DateOrder>("\"mdy\"").unwrap(),
            DateOrder::MonthFirst
        );
        assert_eq!(DateOrder::MonthFirst.to_string(), "mdy");
    }

    #[test]
    fn local_times_are_read_in_the_reporting_zone() {
        let zone = Zone::parse("+08:00").unwrap();
        let t = parse("2024-07-01 08:00:00").unwrap();
        assert_eq!(t.utc_millis(zone), 1_719_792_000_000); // 00:00 UTC
        let t = parse("2025-07-01 08:00:00").unwrap();
        assert_eq!(
            t.utc_millis(self::zone("Asia/Shanghai")),
            utc(2025, 7, 1, 0, 0, 0)
        );
        assert_eq!(
            t.utc_millis(self::zone("America/New_York")),
            utc(2025, 7, 1, 12, 0, 0)
        );
    }

    #[test]
    fn zones() {
        let fixed = |text: &str| Zone::parse(text).and_then(Zone::fixed_offset_seconds);
        assert_eq!(fixed("+08:00"), Some(28_800));
        assert_eq!(fixed("+0800"), Some(28_800));
        assert_eq!(fixed("UTC+8"), Some(28_800));
        assert_eq!(fixed("utc+8"), Some(28_800));
        assert_eq!(fixed("GMT-5"), Some(-18_000));
        assert_eq!(fixed("-05:30"), Some(-19_800));
        assert_eq!(fixed("UTC"), Some(0));
        assert_eq!(fixed("Z"), Some(0));
        assert_eq!(fixed(" +08:00 "), Some(28_800));
        assert_eq!(Zone::parse("+15:00"), None);
        assert_eq!(Zone::parse("+08:60"), None);
        assert_eq!(Zone::parse("+8:x"), None);
        assert_eq!(Zone::parse("UTC+"), None);
        assert_eq!(Zone::parse("+08:00").unwrap().to_string(), "+08:00");
        assert_eq!(Zone::utc().to_string(), "+00:00");
        assert_eq!(Zone::fixed(-19_800).unwrap().to_string(), "-05:30");
        assert_eq!(Zone::fixed(86_400), None);
        assert_eq!(Zone::fixed(28_800), Zone::parse("+08:00"));
        // From a chrono offset.
        assert_eq!(
            FixedOffset::east_opt(28_800).map(Zone::from),
            Zone::parse("+08:00")
        );

        for (text, name) in [
            ("Asia/Shanghai", "Asia/Shanghai"),
            ("asia/shanghai", "Asia/Shanghai"),
            ("America/New_York", "America/New_York"),
            ("america/new york", "America/New_York"),
            ("EUROPE/BERLIN", "Europe/Berlin"),
            ("  Europe/Berlin ", "Europe/Berlin"),
            ("Etc/GMT+8", "Etc/GMT+8"),
        ] {
            let zone = Zone::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(zone.name(), Some(name));
            assert_eq!(zone.fixed_offset_seconds(), None);
            assert_eq!(zone.to_string(), name);
        }
        for name in iana_zone_names() {
            let zone = Zone::parse(name).unwrap_or_else(|| panic!("{name}"));
            // `UTC`, `GMT`, `GMT+0`... read as the fixed offset they name.
            assert!(zone.name() == Some(name) || zone == Zone::utc(), "{name}");
        }
        assert!(iana_zone_names().any(|name| name == "Asia/Shanghai"));
        assert_eq!(
            zone("Etc/GMT+8").offset_seconds_at(utc(2025, 7, 1, 0, 0, 0)),
            -28_800
        );
        assert_eq!(
            zone("Europe/Berlin").offset_seconds_at(utc(2025, 1, 1, 0, 0, 0)),
            3600
        );
        assert_eq!(
            zone("Europe/Berlin").offset_seconds_at(utc(2025, 7, 1, 0, 0, 0)),
            7200
        );
        for junk in [
            "Asia/Shangha",
            "Mars/Olympus_Mons",
            "Shanghai",
            "Asia/",
            "/",
            "+",
            "08:00",
            "UTC++8",
            "Europe/Berlin+1",
            "亚洲/上海",
        ] {
            assert_eq!(Zone::parse(junk), None, "{junk:?}");
        }
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
    fn shanghai_day_boundary() {
        let shanghai = zone("Asia/Shanghai");
        assert_eq!(label(utc(2025, 7, 1, 23, 30, 0), shanghai), "2025-07-02");
        assert_eq!(label(utc(2025, 7, 1, 15, 59, 59), shanghai), "2025-07-01");
        assert_eq!(label(utc(2025, 7, 1, 16, 0, 0), shanghai), "2025-07-02");
        assert_eq!(
            bucket_start_rfc3339(day(2025, 7, 2), shanghai),
            "2025-07-02T00:00:00+08:00"
        );
    }

    #[test]
    fn berlin_daylight_saving() {
        let berlin = zone("Europe/Berlin");
        // Clocks go forward on Sunday 2025-03-30 at 02:00 CET (+01:00) to 03:00 CEST (+02:00).
        assert_eq!(label(utc(2025, 3, 29, 22, 30, 0), berlin), "2025-03-29"); // 23:30 CET
        assert_eq!(label(utc(2025, 3, 29, 23, 0, 0), berlin), "2025-03-30"); // 00:00 CET
        assert_eq!(label(utc(2025, 3, 30, 21, 59, 59), berlin), "2025-03-30"); // 23:59:59 CEST
        assert_eq!(label(utc(2025, 3, 30, 22, 0, 0), berlin), "2025-03-31"); // 00:00 CEST
        assert_eq!(
            bucket_start_rfc3339(day(2025, 3, 30), berlin),
            "2025-03-30T00:00:00+01:00"
        );
        assert_eq!(
            bucket_start_rfc3339(day(2025, 3, 31), berlin),
            "2025-03-31T00:00:00+02:00"
        );
        let week = bucket_start(day(2025, 3, 30), Grain::Week, WeekStart::Monday);
        assert_eq!(bucket_label(week, Grain::Week), "2025-03-24");
        assert_eq!(
            bucket_start_rfc3339(week, berlin),
            "2025-03-24T00:00:00+01:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(week, Grain::Week), berlin),
            "2025-03-31T00:00:00+02:00"
        );
        let month = bucket_start(day(2025, 3, 30), Grain::Month, WeekStart::Monday);
        assert_eq!(
            bucket_start_rfc3339(month, berlin),
            "2025-03-01T00:00:00+01:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(month, Grain::Month), berlin),
            "2025-04-01T00:00:00+02:00"
        );
        // Clocks go back on Sunday 2025-10-26 at 03:00 CEST to 02:00 CET.
        assert_eq!(label(utc(2025, 10, 25, 21, 30, 0), berlin), "2025-10-25"); // 23:30 CEST
        assert_eq!(label(utc(2025, 10, 26, 22, 30, 0), berlin), "2025-10-26"); // 23:30 CET
        assert_eq!(label(utc(2025, 10, 26, 23, 0, 0), berlin), "2025-10-27"); // 00:00 CET
        assert_eq!(
            bucket_start_rfc3339(day(2025, 10, 26), berlin),
            "2025-10-26T00:00:00+02:00"
        );
        assert_eq!(
            bucket_start_rfc3339(day(2025, 10, 27), berlin),
            "2025-10-27T00:00:00+01:00"
        );
        let month = bucket_start(day(2025, 10, 26), Grain::Month, WeekStart::Monday);
        assert_eq!(
            bucket_start_rfc3339(next_bucket(month, Grain::Month), berlin),
            "2025-11-01T00:00:00+01:00"
        );

        // Wall-clock times: skipped ones shift forward, repeated ones are the earlier instant.
        let read = |text: &str| parse(text).unwrap().utc_millis(berlin);
        assert_eq!(read("2025-03-30 01:59:59"), utc(2025, 3, 30, 0, 59, 59));
        assert_eq!(read("2025-03-30 02:30:00"), utc(2025, 3, 30, 1, 30, 0)); // = 03:30 CEST
        assert_eq!(read("2025-03-30 03:00:00"), utc(2025, 3, 30, 1, 0, 0));
        assert_eq!(read("2025-10-26 02:30:00"), utc(2025, 10, 26, 0, 30, 0)); // 02:30 CEST
        assert_eq!(read("2025-10-26 03:00:00"), utc(2025, 10, 26, 2, 0, 0));
        assert_eq!(read("29/03/2025 23:30"), utc(2025, 3, 29, 22, 30, 0));
        let t = read("2025-03-29 23:30");
        assert_eq!(label(t, berlin), "2025-03-29");
    }

    #[test]
    fn new_york_daylight_saving() {
        let new_york = zone("America/New_York");
        // Clocks go forward on Sunday 2025-03-09 at 02:00 EST (-05:00) to 03:00 EDT (-04:00).
        let before = utc(2025, 3, 9, 4, 30, 0); // Saturday 23:30 EST, Sunday in UTC
        assert_eq!(label(before, new_york), "2025-03-08");
        assert_eq!(label(utc(2025, 3, 10, 3, 59, 59), new_york), "2025-03-09");
        assert_eq!(label(utc(2025, 3, 10, 4, 0, 0), new_york), "2025-03-10");
        assert_eq!(
            bucket_start_rfc3339(day(2025, 3, 9), new_york),
            "2025-03-09T00:00:00-05:00"
        );
        assert_eq!(
            bucket_start_rfc3339(day(2025, 3, 10), new_york),
            "2025-03-10T00:00:00-04:00"
        );
        let week = bucket_start(day(2025, 3, 9), Grain::Week, WeekStart::Monday);
        assert_eq!(bucket_label(week, Grain::Week), "2025-03-03");
        assert_eq!(
            bucket_start_rfc3339(week, new_york),
            "2025-03-03T00:00:00-05:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(week, Grain::Week), new_york),
            "2025-03-10T00:00:00-04:00"
        );
        let month = bucket_start(day(2025, 3, 9), Grain::Month, WeekStart::Monday);
        assert_eq!(
            bucket_start_rfc3339(month, new_york),
            "2025-03-01T00:00:00-05:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(month, Grain::Month), new_york),
            "2025-04-01T00:00:00-04:00"
        );
        // Clocks go back on Sunday 2025-11-02 at 02:00 EDT to 01:00 EST.
        assert_eq!(label(utc(2025, 11, 2, 3, 30, 0), new_york), "2025-11-01"); // 23:30 EDT
        assert_eq!(label(utc(2025, 11, 3, 4, 59, 59), new_york), "2025-11-02"); // 23:59:59 EST
        assert_eq!(label(utc(2025, 11, 3, 5, 0, 0), new_york), "2025-11-03");
        assert_eq!(
            bucket_start_rfc3339(day(2025, 11, 2), new_york),
            "2025-11-02T00:00:00-04:00"
        );
        assert_eq!(
            bucket_start_rfc3339(day(2025, 11, 3), new_york),
            "2025-11-03T00:00:00-05:00"
        );
        let week = bucket_start(day(2025, 11, 2), Grain::Week, WeekStart::Monday);
        assert_eq!(
            bucket_start_rfc3339(week, new_york),
            "2025-10-27T00:00:00-04:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(week, Grain::Week), new_york),
            "2025-11-03T00:00:00-05:00"
        );
        let month = bucket_start(day(2025, 11, 2), Grain::Month, WeekStart::Monday);
        assert_eq!(
            bucket_start_rfc3339(month, new_york),
            "2025-11-01T00:00:00-04:00"
        );
        assert_eq!(
            bucket_start_rfc3339(next_bucket(month, Grain::Month), new_york),
            "2025-12-01T00:00:00-05:00"
        );

        let read = |text: &str| parse(text).unwrap().utc_millis(new_york);
        assert_eq!(read("2025-03-09 02:30"), utc(2025, 3, 9, 7, 30, 0)); // = 03:30 EDT
        assert_eq!(read("2025-11-02 01:30"), utc(2025, 11, 2, 5, 30, 0)); // 01:30 EDT
        assert_eq!(read("2025-11-02 02:30"), utc(2025, 11, 2, 7, 30, 0)); // EST
    }

    #[test]
    fn a_day_whose_midnight_is_skipped_starts_when_the_clocks_resume() {
        // America/Santiago moved from -04:00 to -03:00 at 00:00 on 2024-09-08.
        let santiago = zone("America/Santiago");
        assert_eq!(
            bucket_start_rfc3339(day(2024, 9, 8), santiago),
            "2024-09-08T01:00:00-03:00"
        );
        assert_eq!(label(utc(2024, 9, 8, 3, 59, 59), santiago), "2024-09-07");
        assert_eq!(label(utc(2024, 9, 8, 4, 0, 0), santiago), "2024-09-08");
    }

    #[test]
    fn cached_offsets_agree_with_the_tz_database() {
        // Instants in a scrambled order (so the caches are hit, missed and overwritten), across
        // every zone, each checked against an uncached lookup.
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let span = utc(2040, 1, 1, 0, 0, 0) - utc(1960, 1, 1, 0, 0, 0);
        for tz in chrono_tz::TZ_VARIANTS {
            let zone = Zone::from(tz);
            for _ in 0..300 {
                // Half anywhere, half within a few days of a March or October/November change.
                let t = if next() % 2 == 0 {
                    utc(1960, 1, 1, 0, 0, 0) + (next() % span as u64) as i64
                } else {
                    let year = 1990 + (next() % 40) as i32;
                    let month = [3, 4, 10, 11][(next() % 4) as usize];
                    utc(year, month, 1, 0, 0, 0) + (next() % (31 * MILLIS_PER_DAY as u64)) as i64
                };
                let offset = tz_offset_at(tz, t);
                assert_eq!(zone.offset_seconds_at(t), offset, "{tz} at {t}");
                assert_eq!(
                    local_day(t, zone),
                    (t + i64::from(offset) * 1000).div_euclid(MILLIS_PER_DAY),
                    "{tz} at {t}"
                );
                assert_eq!(
                    zone.local_to_utc_millis(t),
                    t - i64::from(tz_local_offset(tz, t)) * 1000,
                    "{tz} at wall {t}"
                );
            }
        }
    }

    #[test]
    fn day_numbers_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut date = NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        while date.year() < 3000 {
            let expected = (date - epoch).num_days();
            let (y, m, d) = (date.year() as u32, date.month(), date.day());
            assert_eq!(days_from_civil(y, m, d), Some(expected), "{date}");
            date = date.succ_opt().unwrap();
        }
        assert_eq!(days_from_civil(2025, 2, 29), None);
        assert_eq!(days_from_civil(2000, 2, 29), Some(11_016));
        assert_eq!(days_from_civil(1900, 2, 29), None);
        assert_eq!(days_from_civil(2025, 4, 31), None);
        assert_eq!(days_from_civil(2025, 0, 1), None);
        assert_eq!(days_from_civil(2025, 1, 0), None);
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let day = local_day(1_719_835_200_000, Zone::utc()); // Monday 2024-07-01
        assert_eq!(
            bucket_label(
                bucket_start(day + 6, Grain::Week, WeekStart::Monday),
                Grain::Week
            ),
            "2024-07-01"
        );
        assert_eq!(
            bucket_label(
                bucket_start(day + 7, Grain::Week, WeekStart::Monday),
                Grain::Week
            ),
            "2024-07-08"
        );
        assert_eq!(
            bucket_label(
                bucket_start(day + 30, Grain::Month, WeekStart::Monday),
                Grain::Month
            ),
            "2024-07"
        );
        assert_eq!(
            bucket_label(
                bucket_start(day + 31, Grain::Month, WeekStart::Monday),
                Grain::Month
            ),
            "2024-08"
        );
        let december = bucket_start(day + 160, Grain::Month, WeekStart::Monday);
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
