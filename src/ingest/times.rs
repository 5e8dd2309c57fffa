//! A column of ISO date-times stored as numbers: `2025-07-01T00:00:02+08:00` as 8 bytes instead
//! of its 25 bytes of text and a 4-byte offset.
//!
//! Why at ingest: time columns (`created_at`, `settled_at`) have a distinct value nearly every
//! row, so no dictionary helps them, and as text they were a third of a payments table's memory;
//! the frame then parsed every cell again. Stored as numbers they take 8 bytes a row and the frame
//! reads them without parsing.
//!
//! Why only one layout per column: the text must come back exactly as written (filters, formulas
//! and messages see cells as text). All cells of a column share one layout — `YYYY-MM-DD`, a `T`
//! or space, `HH:MM:SS`, and nothing, `Z` or `±HH:MM` after — so a number and the layout give
//! the text back. A cell in any other layout (another separator, a fraction of a second, an
//! impossible date, `-00:00`) turns the column back into text, losing nothing. The layouts are
//! the ones `time::parse_timestamp` reads on its fast path, with the same results (tested below).
use crate::time::{iso_day, two_digits, Timestamp};

/// Marks an empty cell.
const EMPTY: i64 = i64::MIN;
/// A value is `wall_seconds * OFFSET_SLOTS + offset_minutes + OFFSET_BIAS`: offsets of at most
/// 23:59 either way fit in 12 bits, and wall-clock seconds of years 0000–9999 in the other 52.
const OFFSET_SLOTS: i64 = 4096;
const OFFSET_BIAS: i64 = 2048;
const SECONDS_PER_DAY: i64 = 86_400;
/// The day numbers (days since 1970-01-01) of 0000-01-01 and 9999-12-31.
const FIRST_DAY: i64 = -719_528;
const LAST_DAY: i64 = 2_932_896;

/// What follows `HH:MM:SS` in every cell of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// Nothing: a wall-clock time, read in the reporting time zone.
    Local,
    /// `Z` or `z` (the byte, as written).
    Utc(u8),
    /// `+HH:MM` or `-HH:MM`.
    Offset,
}

/// The layout shared by every cell of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The byte between date and time: `T`, `t` or a space.
    separator: u8,
    zone: Zone,
}

impl Layout {
    /// The layout of `cell`, when it is one a column of times can store.
    pub fn of(cell: &[u8]) -> Option<Layout> {
        let zone = match cell.len() {
            19 => Zone::Local,
            20 => Zone::Utc(cell[19]),
            25 => Zone::Offset,
            _ => return None,
        };
        let layout = Layout {
            separator: *cell.get(10)?,
            zone,
        };
        // Checked once here, not for every cell read in this layout.
        let separator_ok = matches!(layout.separator, b'T' | b't' | b' ');
        let zone_ok = !matches!(zone, Zone::Utc(z) if !matches!(z, b'Z' | b'z'));
        if !separator_ok || !zone_ok {
            return None;
        }
        let mut date = None;
        layout.read(cell, &mut date).map(|_| layout)
    }

    /// The layout as two bytes, for a part of a file read by another stream: the separator,
    /// and what follows the time (`0` nothing, `+` an offset, else the `Z` or `z` as written).
    pub fn to_bytes(self) -> [u8; 2] {
        let zone = match self.zone {
            Zone::Local => 0,
            Zone::Offset => b'+',
            Zone::Utc(z) => z,
        };
        [self.separator, zone]
    }

    /// Reads what `to_bytes` wrote; `None` for bytes no layout has.
    pub fn from_bytes([separator, zone]: [u8; 2]) -> Option<Layout> {
        let zone = match zone {
            0 => Zone::Local,
            b'+' => Zone::Offset,
            b'Z' | b'z' => Zone::Utc(zone),
            _ => return None,
        };
        matches!(separator, b'T' | b't' | b' ').then_some(Layout { separator, zone })
    }

    /// True when `value` is one that reading a cell in this layout can give (or `EMPTY`): a
    /// value from a part of a file read by another stream is checked with this before it is
    /// stored, since writing its text assumes a year 0000-9999 and an offset under a day.
    pub fn holds(self, value: i64) -> bool {
        if value == EMPTY {
            return true;
        }
        let wall = value.div_euclid(OFFSET_SLOTS);
        let offset = value.rem_euclid(OFFSET_SLOTS) - OFFSET_BIAS;
        let offset_ok = match self.zone {
            Zone::Local | Zone::Utc(_) => offset == 0,
            Zone::Offset => offset.abs() < 24 * 60,
        };
        offset_ok && (FIRST_DAY * SECONDS_PER_DAY..(LAST_DAY + 1) * SECONDS_PER_DAY).contains(&wall)
    }

    fn len(self) -> usize {
        match self.zone {
            Zone::Local => 19,
            Zone::Utc(_) => 20,
            Zone::Offset => 25,
        }
    }

    /// The stored value of `cell`, when it has this layout. `last_date`: see `time::iso_day`.
    #[inline(always)]
    fn read(self, b: &[u8], last_date: &mut Option<([u8; 10], i64)>) -> Option<i64> {
        if b.len() != self.len()
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != self.separator
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let day = iso_day(b, last_date)?;
        let (hour, minute, second) = (two_digits(b, 11)?, two_digits(b, 14)?, two_digits(b, 17)?);
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let offset_minutes = match self.zone {
            Zone::Local => 0,
            Zone::Utc(z) if b[19] == z => 0,
            Zone::Utc(_) => return None,
            Zone::Offset => {
                let (hours, minutes) = (two_digits(b, 20)?, two_digits(b, 23)?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let offset = i64::from(hours * 60 + minutes);
                match (b[19], b[22]) {
                    (b'+', b':') => offset,
                    // `-00:00` would come back as `+00:00`.
                    (b'-', b':') if offset > 0 => -offset,
                    _ => return None,
                }
            }
        };
        let wall = day * SECONDS_PER_DAY + i64::from(hour * 3600 + minute * 60 + second);
        Some(wall * OFFSET_SLOTS + offset_minutes + OFFSET_BIAS)
    }

    /// Writes the text of a stored (non-empty) value.
    fn write(self, value: i64, out: &mut String) {
        let wall = value.div_euclid(OFFSET_SLOTS);
        let offset = value.rem_euclid(OFFSET_SLOTS) - OFFSET_BIAS;
        let (day, second) = (
            wall.div_euclid(SECONDS_PER_DAY),
            wall.rem_euclid(SECONDS_PER_DAY),
        );
        let (year, month, day) = civil_from_days(day);
        let two = |out: &mut String, n: i64| {
            out.push(char::from(b'0' + (n / 10) as u8));
            out.push(char::from(b'0' + (n % 10) as u8));
        };
        two(out, year / 100);
        two(out, year % 100);
        out.push('-');
        two(out, month);
        out.push('-');
        two(out, day);
        out.push(char::from(self.separator));
        two(out, second / 3600);
        out.push(':');
        two(out, second / 60 % 60);
        out.push(':');
        two(out, second % 60);
        match self.zone {
            Zone::Local => {}
            Zone::Utc(z) => out.push(char::from(z)),
            Zone::Offset => {
                out.push(if offset < 0 { '-' } else { '+' });
                two(out, offset.abs() / 60);
                out.push(':');
                two(out, offset.abs() % 60);
            }
        }
    }

    /// The timestamp of a stored (non-empty) value, as `time::parse_timestamp` reads its text.
    fn timestamp(self, value: i64) -> Timestamp {
        let wall_millis = value.div_euclid(OFFSET_SLOTS) * 1000;
        let offset_seconds = (value.rem_euclid(OFFSET_SLOTS) - OFFSET_BIAS) as i32 * 60;
        match self.zone {
            Zone::Local => Timestamp::Local(wall_millis),
            Zone::Utc(_) | Zone::Offset => Timestamp::WithOffset {
                utc_millis: wall_millis - i64::from(offset_seconds) * 1000,
                offset_seconds,
            },
        }
    }
}

/// Year, month and day of a day number (days since 1970-01-01), for years 0000–9999 (Howard
/// Hinnant's `civil_from_days`; chrono's `NaiveDate` would do it with more checks per call).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A column of times in one layout: a value per row (`EMPTY` for an empty cell).
#[derive(Debug, Clone)]
pub struct TimeCells {
    layout: Layout,
    values: Vec<i64>,
    last_date: Option<([u8; 10], i64)>,
}

impl TimeCells {
    #[cfg(test)]
    pub fn new(layout: Layout) -> TimeCells {
        TimeCells {
            layout,
            values: Vec::new(),
            last_date: None,
        }
    }

    /// Adds a cell; `false` (and nothing added) when it is not empty and not in the layout.
    #[inline(always)]
    pub fn push(&mut self, cell: &[u8]) -> bool {
        let value = match cell.is_empty() {
            true => EMPTY,
            false => match self.layout.read(cell, &mut self.last_date) {
                Some(value) => value,
                None => return false,
            },
        };
        self.values.push(value);
        true
    }

    /// The value of `cell` in `layout`, `EMPTY` for an empty one; for the values of a dictionary
    /// that becomes a column of times.
    pub fn value_of(layout: Layout, cell: &str) -> Option<i64> {
        match cell.is_empty() {
            true => Some(EMPTY),
            false => layout.read(cell.as_bytes(), &mut None),
        }
    }

    pub fn from_values(layout: Layout, values: Vec<i64>) -> TimeCells {
        TimeCells {
            layout,
            values,
            last_date: None,
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// The stored value of row `row`: equal values are equal cells.
    pub fn value(&self, row: usize) -> i64 {
        self.values[row]
    }

    pub fn is_empty_at(&self, row: usize) -> bool {
        self.values[row] == EMPTY
    }

    /// Writes the text of row `row` (nothing for an empty cell).
    pub fn write(&self, row: usize, out: &mut String) {
        let value = self.values[row];
        if value != EMPTY {
            self.layout.write(value, out);
        }
    }

    /// Writes the text of a stored value of `layout` (nothing for an empty cell).
    pub fn write_value(layout: Layout, value: i64, out: &mut String) {
        if value != EMPTY {
            layout.write(value, out);
        }
    }

    pub fn text(&self, row: usize) -> String {
        let mut text = String::with_capacity(25);
        self.write(row, &mut text);
        text
    }

    /// The timestamp of row `row`; `None` for an empty cell.
    pub fn timestamp(&self, row: usize) -> Option<Timestamp> {
        let value = self.values[row];
        (value != EMPTY).then(|| self.layout.timestamp(value))
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Appends stored values of this column's layout (see `Layout::holds`), as little-endian
    /// bytes, 8 a value.
    pub fn extend_from_le_bytes(&mut self, values: &[u8]) {
        self.values.extend(
            values
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
        );
    }

    /// The stored values, for a part of a file read by another stream.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    pub fn reserve(&mut self, more: usize) {
        self.values.reserve(more);
    }

    pub fn shrink_to_fit(&mut self) {
        self.values.shrink_to_fit();
    }

    pub fn heap_bytes(&self) -> usize {
        self.values.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{days_from_civil, TimestampParser};

    /// Cells over four centuries, every hour and minute of the offsets, every layout.
    fn cells() -> Vec<String> {
        let mut cells = Vec::new();
        let mut day = days_from_civil(1899, 12, 25).unwrap();
        let end = days_from_civil(2101, 1, 5).unwrap();
        let mut i = 0i64;
        while day < end {
            let (y, m, d) = civil_from_days(day);
            let (h, mi, s) = (i % 24, (i * 7) % 60, (i * 13) % 60);
            let date = format!("{y:04}-{m:02}-{d:02}");
            let time = format!("{h:02}:{mi:02}:{s:02}");
            let sep = ["T", " ", "t"][(i % 3) as usize];
            let zone = match i % 5 {
                0 => String::new(),
                1 => "Z".into(),
                2 => "z".into(),
                3 => format!("+{:02}:{:02}", i % 24, (i * 11) % 60),
                _ => format!("-{:02}:{:02}", i % 24, (i * 17) % 60 + 1),
            };
            cells.push(format!("{date}{sep}{time}{zone}"));
            day += 1 + i % 3;
            i += 1;
        }
        cells.extend(
            [
                "0000-01-01T00:00:00",
                "0999-03-01 12:00:00Z",
                "9999-12-31T23:59:59-23:59",
            ]
            .map(String::from),
        );
        cells
    }

    #[test]
    fn times_come_back_as_written_and_read_as_the_parser_reads_them() {
        let mut parser = TimestampParser::default();
        let cells = cells();
        assert!(cells.len() > 30_000);
        for cell in &cells {
            let layout = Layout::of(cell.as_bytes()).unwrap_or_else(|| panic!("{cell}"));
            let mut column = TimeCells::new(layout);
            assert!(column.push(cell.as_bytes()) && column.push(b""));
            assert_eq!(column.text(0), *cell);
            assert_eq!((column.text(1), column.timestamp(1)), (String::new(), None));
            assert_eq!(column.timestamp(0), parser.parse(cell), "{cell}");
        }
    }

    #[test]
    fn layouts_and_values_travel_as_bytes_and_impossible_values_are_refused() {
        assert_eq!(days_from_civil(0, 1, 1), Some(FIRST_DAY));
        assert_eq!(days_from_civil(9999, 12, 31), Some(LAST_DAY));
        for cell in cells() {
            let layout = Layout::of(cell.as_bytes()).unwrap();
            assert_eq!(Layout::from_bytes(layout.to_bytes()), Some(layout));
            let value = TimeCells::value_of(layout, &cell).unwrap();
            assert!(layout.holds(value) && layout.holds(EMPTY), "{cell}");
        }
        let local = Layout::of(b"2025-07-01 00:00:02").unwrap();
        let offset = Layout::of(b"2025-07-01 00:00:02+08:00").unwrap();
        for bad in [
            1,
            i64::MAX,
            i64::MIN + 1,
            (LAST_DAY + 1) * SECONDS_PER_DAY * OFFSET_SLOTS + OFFSET_BIAS,
            (FIRST_DAY * SECONDS_PER_DAY - 1) * OFFSET_SLOTS + OFFSET_BIAS,
        ] {
            assert!(!local.holds(bad) && !offset.holds(bad), "{bad}");
        }
        assert!(!local.holds(OFFSET_BIAS + 60) && offset.holds(OFFSET_BIAS + 60));
        assert_eq!(Layout::from_bytes([b'x', 0]), None);
        assert_eq!(Layout::from_bytes([b'T', b'X']), None);
    }

    #[test]
    fn cells_in_another_layout_or_impossible_are_refused() {
        let layout = Layout::of(b"2025-07-01T00:00:02+08:00").unwrap();
        let mut column = TimeCells::new(layout);
        for cell in [
            "2025-07-01 00:00:02+08:00",
            "2025-07-01T00:00:02Z",
            "2025-07-01T00:00:02.5+08:00",
            "2025-02-29T00:00:02+08:00",
            "2025-07-01T24:00:00+08:00",
            "2025-07-01T00:00:60+08:00",
            "2025-07-01T00:00:02-00:00",
            "2025-07-01T00:00:02+24:00",
            "2025-07-01T00:00:02+08:60",
            "2025-07-01T00:00:02+0800 ",
            "2025/07/01T00:00:02+08:00",
            "２025-07-01T00:00:02+08:00",
        ] {
            assert!(!column.push(cell.as_bytes()), "{cell}");
        }
        assert_eq!(column.len(), 0);
        for cell in [
            "2025-07-01",
            "2025-07-01T00:00",
            "20250701T000002Z",
            "2025-07-01T00:00:02X",
        ] {
            assert_eq!(Layout::of(cell.as_bytes()), None, "{cell}");
        }
    }
}
