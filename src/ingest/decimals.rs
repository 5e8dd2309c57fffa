//! A column of plain decimals stored as numbers: `49.73` as an 8-byte `f64` instead of its text
//! and a 4-byte offset.
//!
//! Why at ingest: amounts have a distinct value on nearly every row, so no dictionary helps them,
//! and the frame then parsed every cell (~14 ms of a 1M-row frame and first report in the page).
//! Parsed while the file is read, the page's two readers share that work, and the frame copies
//! the numbers instead of parsing text.
//!
//! Why one shape per column: the text must come back exactly as written (filters, formulas and
//! messages see cells as text). Every non-empty cell of such a column is `-?D.F`: an optional
//! minus, an integer part without a leading zero (or `0`), a point, and exactly `scale` digits
//! after it, at most 15 digits in all. Such a decimal survives the trip through the nearest
//! `f64` (15 significant digits always do), so the value and the scale give the text back. The
//! value is the one `number::parse_number` reads under a decimal point, bit for bit (the same
//! function computes it). A cell of any other shape (another number of decimals, a sign or
//! currency, a thousands separator, an integer) turns the column back into text, losing nothing.
//! Integers are left out on purpose: numeric ids and epoch times are integers, and are read
//! faster as text (numbered ids, the time parser).
use crate::number::{short_decimal, EXACT_POWERS_OF_TEN};
use std::fmt::Write;

/// At most this many digits in a cell (integer and fraction together): every such decimal is
/// the nearest `f64`'s shortest form at its scale.
const MAX_DIGITS: usize = 15;

/// A column of decimals with `scale` digits after the point: a value per row, NaN for an empty
/// cell (a decimal's value is never NaN).
#[derive(Debug, Clone)]
pub struct DecimalCells {
    scale: u8,
    values: Vec<f64>,
}

impl DecimalCells {
    /// The scale of `cell` when it has a shape a column of decimals can store.
    pub fn scale_of(cell: &[u8]) -> Option<u8> {
        let point = cell.iter().position(|&b| b == b'.')?;
        let scale = u8::try_from(cell.len() - point - 1).ok()?;
        read(scale, cell).map(|_| scale)
    }

    /// The value of `cell` at `scale`, NaN for an empty one; `None` for another shape. For the
    /// values of a dictionary that becomes a column of decimals.
    pub fn value_of(scale: u8, cell: &str) -> Option<f64> {
        match cell.is_empty() {
            true => Some(f64::NAN),
            false => read(scale, cell.as_bytes()),
        }
    }

    pub fn from_values(scale: u8, values: Vec<f64>) -> DecimalCells {
        DecimalCells { scale, values }
    }

    /// Adds a cell; `false` (and nothing added) when it is not empty and not of the shape.
    #[inline(always)]
    pub fn push(&mut self, cell: &[u8]) -> bool {
        let value = match cell.is_empty() {
            true => f64::NAN,
            false => match read(self.scale, cell) {
                Some(value) => value,
                None => return false,
            },
        };
        self.values.push(value);
        true
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// The values, NaN where a cell is empty: what `parse_number` reads from each cell under a
    /// decimal point.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The value of row `row`: NaN for an empty cell, and equal values are equal cells (a
    /// value's sign included: `-0.00` is not `0.00`).
    pub fn value(&self, row: usize) -> f64 {
        self.values[row]
    }

    pub fn is_empty_at(&self, row: usize) -> bool {
        self.values[row].is_nan()
    }

    /// Writes the text of row `row` (nothing for an empty cell).
    pub fn write(&self, row: usize, out: &mut String) {
        Self::write_value(self.scale, self.values[row], out);
    }

    /// Writes the text of a stored value at `scale` (nothing for NaN): its mantissa, with at
    /// least one digit before the point, and the point put in.
    pub fn write_value(scale: u8, value: f64, out: &mut String) {
        if value.is_nan() {
            return;
        }
        if value.is_sign_negative() {
            out.push('-');
        }
        let scale = usize::from(scale);
        // Cannot fail: writing to a `String`.
        let _ = write!(out, "{:01$}", mantissa(scale, value), scale + 1);
        out.insert(out.len() - scale, '.');
    }

    pub fn text(&self, row: usize) -> String {
        let mut text = String::with_capacity(17);
        self.write(row, &mut text);
        text
    }

    /// True when `value` is one that reading a cell at `scale` can give (or NaN): a value from
    /// a part of a file read by another stream is checked with this before it is stored, so
    /// that its text and its value agree. A value is one when its mantissa, found by scaling
    /// it back (exact enough: the mantissa is below 2^50), gives the same bits; no text is
    /// written, since a part holds a value a row.
    pub fn holds(scale: u8, value: f64) -> bool {
        if value.is_nan() {
            return true;
        }
        if !Self::is_scale(scale) {
            return false;
        }
        let scale = usize::from(scale);
        let mantissa = mantissa(scale, value);
        mantissa < 10u64.pow(MAX_DIGITS as u32)
            && short_decimal(value.is_sign_negative(), mantissa, scale).to_bits() == value.to_bits()
    }

    /// Whether a column of decimals can have `scale` digits after the point (1 to 14: one
    /// digit at least before it).
    pub fn is_scale(scale: u8) -> bool {
        (1..MAX_DIGITS).contains(&usize::from(scale))
    }

    /// Appends stored values (see `holds`) as little-endian bytes, 8 a value.
    pub fn extend_from_le_bytes(&mut self, values: &[u8]) {
        self.values.extend(
            values
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
        );
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

/// The mantissa of a stored value at `scale` (1 to 14): its digits without the point. Exact for
/// a value a cell gives: the value is within a relative 2^-53 of mantissa / 10^scale, and the
/// mantissa is below 2^50, so scaling back lands within a quarter of it. Saturates for values no
/// cell gives (`holds` refuses them).
#[inline(always)]
fn mantissa(scale: usize, value: f64) -> u64 {
    (value.abs() * EXACT_POWERS_OF_TEN[scale] + 0.5) as u64
}

/// The value of `cell` when it is `-?D.F` with `scale` (≥ 1) digits after the point, an integer
/// part of `0` or without a leading zero, and at most `MAX_DIGITS` digits.
#[inline(always)]
fn read(scale: u8, cell: &[u8]) -> Option<f64> {
    let scale = usize::from(scale);
    let (negative, digits) = match cell {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, cell),
    };
    let point = digits.len().checked_sub(scale + 1)?;
    if scale == 0 || point == 0 || digits.len() > MAX_DIGITS + 1 || digits[point] != b'.' {
        return None;
    }
    if digits[0] == b'0' && point > 1 {
        return None;
    }
    let mut mantissa: u64 = 0;
    for &byte in digits[..point].iter().chain(&digits[point + 1..]) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(digit);
    }
    Some(short_decimal(negative, mantissa, scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::{parse_number, Decimal};

    fn text_of(scale: u8, value: f64) -> String {
        let mut text = String::new();
        DecimalCells::write_value(scale, value, &mut text);
        text
    }

    /// Every cell of the shape comes back as written, with the value `parse_number` reads, over
    /// every scale and length: random digits, zeros, nines, negative zero.
    #[test]
    fn decimals_come_back_as_written_and_read_as_parse_number_reads_them() {
        let mut cells: Vec<String> = vec![
            "0.0".into(),
            "-0.00".into(),
            "0.05".into(),
            "49.73".into(),
            "-12.50".into(),
            "99999999999999.9".into(),
            "0.00000000000001".into(),
            "9.99999999999999".into(),
            "123456789012.345".into(),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let total = 2 + (next() % 14) as usize;
            let scale = 1 + (next() % (total as u64 - 1)) as usize;
            let mut digits: String = (0..total)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            if digits.as_bytes()[0] == b'0' && total - scale > 1 {
                digits.replace_range(0..1, "7");
            }
            digits.insert(total - scale, '.');
            if next() % 3 == 0 {
                digits.insert(0, '-');
            }
            cells.push(digits);
        }
        for cell in &cells {
            let scale = DecimalCells::scale_of(cell.as_bytes()).expect(cell);
            let value = DecimalCells::value_of(scale, cell).expect(cell);
            let parsed = parse_number(cell, Decimal::Point).expect(cell).value;
            assert_eq!(value.to_bits(), parsed.to_bits(), "{cell}");
            assert_eq!(text_of(scale, value), *cell);
            assert!(DecimalCells::holds(scale, value), "{cell}");
        }
    }

    #[test]
    fn other_shapes_are_refused() {
        for cell in [
            "12",
            "-7",
            "0",
            "",
            ".5",
            "5.",
            "-.5",
            "007.50",
            "00.5",
            "+1.50",
            "1,234.56",
            "1.2.3",
            "¥28.16",
            "1.5e3",
            "12.5%",
            "1234567890123.456",
            "-",
            "-1",
            " 1.5",
            "1.5 ",
            "1 000.5",
            "0x1.5",
        ] {
            assert_eq!(DecimalCells::scale_of(cell.as_bytes()), None, "{cell:?}");
        }
        // A column's scale is fixed: another number of decimals is another shape.
        assert_eq!(DecimalCells::value_of(2, "1.5"), None);
        assert_eq!(DecimalCells::value_of(2, "1.500"), None);
        assert!(DecimalCells::value_of(2, "").unwrap().is_nan());
        let mut cells = DecimalCells::from_values(2, Vec::new());
        assert!(cells.push(b"1.50") && cells.push(b"") && !cells.push(b"1.5"));
        assert_eq!(
            (cells.len(), cells.text(0), cells.text(1)),
            (2, "1.50".into(), "".into())
        );
    }

    /// A part's values are taken only when they are what a cell of the scale reads as.
    #[test]
    fn values_that_no_cell_gives_are_refused() {
        assert!(DecimalCells::holds(2, f64::NAN));
        assert!(DecimalCells::holds(2, 49.73));
        assert!(DecimalCells::holds(2, -0.0));
        assert!(!DecimalCells::holds(2, 49.735));
        assert!(!DecimalCells::holds(2, 1e300));
        assert!(!DecimalCells::holds(2, f64::INFINITY));
        assert!(!DecimalCells::holds(1, 0.1 + 0.2));
    }
}
