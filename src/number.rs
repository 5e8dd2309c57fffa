//! Reading amounts as real-world payment exports write them.
//!
//! Processor exports put thousands separators and currency signs in amount cells
//! (`$1,234.56`, `USD 1,234.56`), spreadsheets saved in many European locales use a decimal comma
//! (`1.234,56`, `1 234,56`), and Chinese wallet exports write `¥28.16`, `28.16元` or full-width
//! digits (`１２３．４５`). [`parse_number`] reads one such cell under a [`Decimal`] convention,
//! and [`infer_decimal`] picks the convention of a column from its values.
//!
//! The reader is hand-written: no well-kept crate parses locale-formatted numbers together with
//! currency signs, accounting parentheses and trailing minus signs the way exports write them, and
//! a regex would cost allocation and speed on every amount cell of million-row files. Only the
//! recognising is hand-written: the cleaned digits go through `str::parse::<f64>`, so a value is
//! bit for bit what the canonical form parses to (`1.234,56` under [`Decimal::Comma`] is exactly
//! `1234.56f64`) and sums match other engines such as DuckDB to the last bit.

use serde::{Deserialize, Serialize};

/// The character that separates the integer part from the fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Decimal {
    /// `1,234.56`: the decimal separator is `.`, thousands are grouped by `,` `'` or spaces.
    #[default]
    #[serde(rename = ".")]
    Point,
    /// `1.234,56`: the decimal separator is `,`, thousands are grouped by `.` `'` or spaces.
    #[serde(rename = ",")]
    Comma,
}

impl Decimal {
    /// Reads a convention as a user or a file names it: `.`, `,`, `point` or `comma`.
    pub fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        if text == "." || text.eq_ignore_ascii_case("point") {
            Some(Decimal::Point)
        } else if text == "," || text.eq_ignore_ascii_case("comma") {
            Some(Decimal::Comma)
        } else {
            None
        }
    }

    /// The decimal separator itself.
    pub fn symbol(self) -> char {
        match self {
            Decimal::Point => '.',
            Decimal::Comma => ',',
        }
    }

    /// Whether `c` (already [`normalise`]d) may group thousands under this convention. The
    /// spaces (NBSP, narrow NBSP, thin space) were all normalised to `' '`.
    fn groups_with(self, c: char) -> bool {
        match c {
            '\'' | ' ' => true,
            ',' => self == Decimal::Point,
            '.' => self == Decimal::Comma,
            _ => false,
        }
    }
}

/// What a cell said, beyond its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Number {
    /// The amount; a percentage is already divided by 100 (`12.5%` is `0.125`).
    pub value: f64,
    /// The ISO 4217 code named by a sign or code in the cell (`¥` and `元` are `CNY`, `$` is
    /// `USD`), or `None` when the cell names no currency.
    pub currency: Option<&'static str>,
    /// Whether the cell was written as a percentage (`12.5%`).
    pub percent: bool,
}

impl Number {
    fn plain(value: f64) -> Number {
        Number {
            value,
            currency: None,
            percent: false,
        }
    }
}

/// Reads one cell under a decimal convention.
///
/// Accepted, around the digits and in any order that reads naturally, with or without spaces:
/// a sign (`+`, `-`, the Unicode minus `−`, or a trailing `12.00-`), accounting parentheses for
/// negatives (`(12.00)`), a currency sign or ISO code before and/or after the number (`$`,
/// `US$`, `¥`, `元`, `RMB`, `EUR`, …; at most one on each side, naming the same currency), a
/// trailing `%` (the value is divided by 100 and `percent` is set), and an exponent (`1e3`).
/// Thousands groups must be well-formed: a first group of 1–3 digits then groups of exactly 3
/// (`1,234,567`), or under [`Decimal::Point`] the Indian grouping `1,23,456.78`; one kind of
/// separator per number.
/// Full-width digits and punctuation (`１２３．４５`) are read as their ASCII forms.
///
/// Rejected: empty cells, text, `inf` and `NaN`, two decimal separators, malformed groups
/// (`1,2,3`), a grouped number starting with `0` (`0,125` under Point is a misread decimal), two
/// signs, two currency marks on one side or two different currencies, a currency on a
/// percentage, `65,-` (German for 65.00, not a trailing minus), and values that overflow `f64`.
pub fn parse_number(text: &str, decimal: Decimal) -> Option<Number> {
    if let Some(value) = parse_short_decimal(text.as_bytes(), decimal) {
        return Some(Number::plain(value));
    }
    let text = text.trim();
    // The common cell (`123.45`, `-7`, `1e3`) goes straight to the standard parser, without
    // scanning for affixes. Anything it refuses (`12.00-`) still gets the full reading below.
    if is_plain(text.as_bytes(), decimal) {
        if let Ok(value) = text.parse::<f64>() {
            return value.is_finite().then_some(Number::plain(value));
        }
    }
    parse_formatted(text, decimal)
}

/// Powers of ten that are exact in `f64` (up to 10^22), for [`parse_short_decimal`].
pub(crate) const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of the most common amount cell, `-?digits[.digits]` with at most 15 digits in all
/// (`49.73`, `-12`, `0.5`), without the standard parser; `None` for anything else (which then
/// takes the full path). Why: amounts are the one number column with a value per row that is
/// not read once per distinct value (they have too many), and the standard parser's generality
/// cost ~9 ms of the ~210 ms a 1M-row frame and first report take in the page.
///
/// Exact: the digits make an integer below 10^15 < 2^53 and the power of ten is exact, so the one
/// division rounds the exact quotient, which is the decimal's value: the correctly rounded value
/// `str::parse::<f64>` gives (a test compares the two on every shape).
#[inline]
fn parse_short_decimal(bytes: &[u8], decimal: Decimal) -> Option<f64> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0usize;
    let mut point = None;
    for (index, &byte) in digits.iter().enumerate() {
        match byte {
            b'0'..=b'9' if count < 15 => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                count += 1;
            }
            b'.' if point.is_none() && decimal == Decimal::Point => point = Some(index),
            _ => return None,
        }
    }
    // At least one digit (a 16th returned above). The digits after the point are at most 15 too.
    if count == 0 {
        return None;
    }
    let scale = point.map_or(0, |at| digits.len() - at - 1);
    Some(short_decimal(negative, mantissa, scale))
}

/// The value of a decimal of at most 15 digits, `mantissa` over 10^`scale`: one correctly rounded
/// division (see [`parse_short_decimal`]). Shared with the columns of decimals stored as numbers
/// while a file is read (`ingest::decimals`), so that both give the same bits.
#[inline(always)]
pub(crate) fn short_decimal(negative: bool, mantissa: u64, scale: usize) -> f64 {
    let magnitude = mantissa as f64 / EXACT_POWERS_OF_TEN[scale];
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Whether the standard parser reads `bytes` exactly as [`parse_formatted`] would: only ASCII
/// digits, signs, exponent marks, and under [`Decimal::Point`] the decimal point.
fn is_plain(bytes: &[u8], decimal: Decimal) -> bool {
    let point_is_decimal = decimal == Decimal::Point;
    bytes.iter().all(|&b| {
        b.is_ascii_digit()
            || matches!(b, b'+' | b'-' | b'e' | b'E')
            || (b == b'.' && point_is_decimal)
    })
}

/// The full reading: affixes before, the digits, affixes after. `text` is already trimmed.
fn parse_formatted(text: &str, decimal: Decimal) -> Option<Number> {
    let mut affixes = Affixes::default();
    let mut cursor = Cursor { text, at: 0 };

    // Before the digits: spaces, a sign, an opening parenthesis, a currency.
    loop {
        let (c, width) = cursor.peek()?;
        if c.is_ascii_digit() || c == decimal.symbol() {
            break;
        }
        match c {
            ' ' => {}
            '+' | '-' => affixes.sign(c == '-')?,
            '(' => affixes.open_parenthesis()?,
            _ => {
                let (code, length) = currency_at(cursor.rest())?;
                affixes.currency(code, false)?;
                cursor.at += length;
                continue;
            }
        }
        cursor.at += width;
    }

    let mut canonical = Canonical::new();
    let digits = read_digits(&mut cursor, decimal, &mut canonical)?;

    // After the digits: spaces, a trailing sign, the closing parenthesis, `%`, a currency.
    while let Some((c, width)) = cursor.peek() {
        match c {
            ' ' => {}
            // `65,-` is the German way to write 65.00, not a trailing minus.
            '+' | '-' if !digits.ends_with_separator => affixes.sign(c == '-')?,
            ')' => affixes.close_parenthesis()?,
            '%' if !affixes.percent => affixes.percent = true,
            _ => {
                let (code, length) = currency_at(cursor.rest())?;
                affixes.currency(code, true)?;
                cursor.at += length;
                continue;
            }
        }
        cursor.at += width;
    }

    let negative = affixes.negative()?;
    // A percentage shifts the exponent rather than dividing the value, so `12.5%` parses as
    // `12.5e-2`: one correct rounding, the same as the canonical `0.125`.
    let exponent = if affixes.percent {
        digits.exponent.saturating_sub(2)
    } else {
        digits.exponent
    };
    if exponent != 0 {
        canonical.push(b'e');
        canonical.push_integer(exponent);
    }
    let magnitude = canonical.parse()?;
    // Negating after parsing is exact: correct rounding is symmetric around zero.
    let value = if negative { -magnitude } else { magnitude };
    Some(Number {
        value,
        currency: affixes.currency,
        percent: affixes.percent,
    })
}

/// A position in a cell, always on a character boundary. Moving a byte index rather than
/// re-slicing the text keeps the per-character cost to a byte comparison for ASCII.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The character at the position, [`normalise`]d, and its length in bytes.
    fn peek(&self) -> Option<(char, usize)> {
        char_at(self.text, self.at)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }
}

/// The character of `text` at byte `at`, [`normalise`]d, and its length in bytes. ASCII, by far
/// the most common, skips UTF-8 decoding.
#[inline]
fn char_at(text: &str, at: usize) -> Option<(char, usize)> {
    let &byte = text.as_bytes().get(at)?;
    if byte.is_ascii() {
        return Some((char::from(byte), 1));
    }
    let raw = text.get(at..)?.chars().next()?;
    Some((normalise(raw), raw.len_utf8()))
}

/// The marks around the digits of one cell, each allowed once.
#[derive(Default)]
struct Affixes {
    /// `Some(true)` for `-`, `Some(false)` for `+`.
    sign: Option<bool>,
    parenthesis_opened: bool,
    parenthesis_closed: bool,
    currency: Option<&'static str>,
    /// One currency mark before the digits and one after at most (`US$12 USD`, not `$$12`).
    currency_before: bool,
    currency_after: bool,
    percent: bool,
}

impl Affixes {
    fn sign(&mut self, negative: bool) -> Option<()> {
        if self.sign.is_some() {
            return None; // `--12`, `-12-`
        }
        self.sign = Some(negative);
        Some(())
    }

    fn open_parenthesis(&mut self) -> Option<()> {
        if self.parenthesis_opened {
            return None;
        }
        self.parenthesis_opened = true;
        Some(())
    }

    fn close_parenthesis(&mut self) -> Option<()> {
        if !self.parenthesis_opened || self.parenthesis_closed {
            return None;
        }
        self.parenthesis_closed = true;
        Some(())
    }

    fn currency(&mut self, code: &'static str, after_digits: bool) -> Option<()> {
        let side = if after_digits {
            &mut self.currency_after
        } else {
            &mut self.currency_before
        };
        if *side {
            return None; // `$$12`, `12 USD USD`
        }
        *side = true;
        match self.currency {
            // `US$12 USD` names one currency twice; `¥12 USD` is a contradiction.
            Some(seen) if seen != code => None,
            _ => {
                self.currency = Some(code);
                Some(())
            }
        }
    }

    /// Whether the cell is negative, or `None` when its marks do not make sense together.
    fn negative(&self) -> Option<bool> {
        if self.parenthesis_opened != self.parenthesis_closed {
            return None; // `(12` or `12)`
        }
        if self.percent && self.currency.is_some() {
            return None; // `$12%` is neither an amount nor a rate
        }
        match (self.parenthesis_opened, self.sign) {
            (true, Some(_)) => None, // `-(12)`: no export writes a double negative on purpose
            (true, None) => Some(true),
            (false, sign) => Some(sign.unwrap_or(false)),
        }
    }
}

/// What [`read_digits`] found besides the digits themselves.
struct Digits {
    exponent: i64,
    /// Whether the number ends with its decimal separator (`12.`, `65,`).
    ends_with_separator: bool,
}

/// Reads the digits, separators and exponent at the cursor into `canonical` (as `1234.56`) and
/// moves the cursor past them. `None` when they do not form a number under `decimal`.
fn read_digits(cursor: &mut Cursor, decimal: Decimal, canonical: &mut Canonical) -> Option<Digits> {
    let bytes = cursor.text.as_bytes();
    let mut digits = 0usize;
    let mut in_fraction = false;
    let mut group = Grouping::default();
    let mut exponent = 0i64;
    let mut ends_with_separator = false;
    loop {
        // A run of ASCII digits, the bulk of every number, without decoding characters.
        let start = cursor.at;
        while let Some(&byte) = bytes.get(cursor.at).filter(|b| b.is_ascii_digit()) {
            canonical.push(byte);
            cursor.at += 1;
        }
        let run = cursor.at - start;
        ends_with_separator &= run == 0;
        digits += run;
        if !in_fraction {
            group.run += run;
        }

        let Some((c, width)) = cursor.peek() else {
            break;
        };
        if c.is_ascii_digit() {
            // A full-width digit.
            ends_with_separator = false;
            canonical.push(c as u8);
            digits += 1;
            if !in_fraction {
                group.run += 1;
            }
        } else if c == decimal.symbol() {
            if in_fraction {
                return None; // two decimal separators
            }
            group.finish(decimal)?;
            in_fraction = true;
            ends_with_separator = true;
            canonical.push(b'.');
        } else if decimal.groups_with(c) {
            let digit_follows =
                char_at(cursor.text, cursor.at + width).is_some_and(|(n, _)| n.is_ascii_digit());
            if c == ' ' && !digit_follows {
                break; // the space before `EUR` in `12 EUR`
            }
            if in_fraction || !digit_follows {
                return None; // `1.234,56` under Point; `1,` or `1,,234`
            }
            group.separator(c, canonical.starts_with_zero())?;
        } else if matches!(c, 'e' | 'E') && digits > 0 {
            // `E` starts an exponent only when digits follow: `12EUR` ends at the `E`.
            let Some((value, length)) = read_exponent(&bytes[cursor.at + width..]) else {
                break;
            };
            exponent = value;
            ends_with_separator = false;
            cursor.at += width + length;
            break;
        } else {
            break;
        }
        cursor.at += width;
    }
    if !in_fraction {
        group.finish(decimal)?;
    }
    (digits > 0).then_some(Digits {
        exponent,
        ends_with_separator,
    })
}

/// Reads `[+-]digits` at the start of `bytes`: the exponent and its length in bytes.
fn read_exponent(bytes: &[u8]) -> Option<(i64, usize)> {
    let (negative, start) = match bytes.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let count = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if count == 0 {
        return None;
    }
    // Saturating: any exponent this large already makes the value overflow or vanish.
    let magnitude = bytes[start..start + count]
        .iter()
        .fold(0i64, |n, b| {
            n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
        })
        .min(1 << 40);
    Some((if negative { -magnitude } else { magnitude }, start + count))
}

/// The thousands groups of an integer part, checked as they are read.
#[derive(Default)]
struct Grouping {
    /// The separator of this number: one kind per number (`1,234 567` is not a number).
    separator: Option<char>,
    separators: usize,
    /// Digits in the group being read.
    run: usize,
    first: usize,
    /// Whether every group between the first and the last has 3 digits (`1,234,567`) or 2
    /// (the Indian `12,34,567`).
    middles_of_three: bool,
    middles_of_two: bool,
}

impl Grouping {
    /// Notes a separator `c` after the group just read. `leading_zero`: whether the number
    /// starts with `0`, which no thousands grouping writes (`0,125` is a misread decimal).
    fn separator(&mut self, c: char, leading_zero: bool) -> Option<()> {
        if self.run == 0 || self.separator.is_some_and(|seen| seen != c) {
            return None; // `,123`, `1,,234`, mixed separators
        }
        if self.separators == 0 {
            if leading_zero {
                return None;
            }
            self.separator = Some(c);
            self.first = self.run;
            self.middles_of_three = true;
            self.middles_of_two = true;
        } else {
            self.middles_of_three &= self.run == 3;
            self.middles_of_two &= self.run == 2;
        }
        self.separators += 1;
        self.run = 0;
        Some(())
    }

    /// Checks the groups once the integer part has ended.
    fn finish(&self, decimal: Decimal) -> Option<()> {
        if self.separators == 0 {
            return Some(());
        }
        let last = self.run;
        let thousands = (1..=3).contains(&self.first) && self.middles_of_three && last == 3;
        let indian = decimal == Decimal::Point
            && self.separator == Some(',')
            && self.separators >= 2
            && (1..=2).contains(&self.first)
            && self.middles_of_two
            && last == 3;
        (thousands || indian).then_some(())
    }
}

/// The cleaned number in the form `str::parse::<f64>` reads: digits, at most one `.`, an
/// exponent; never a sign, which is applied after parsing. It lives on the stack; only a cell of
/// more than 64 significant characters (say, `1e300` written out in full) moves it to the heap.
struct Canonical {
    stack: [u8; Canonical::STACK],
    len: usize,
    heap: Option<Vec<u8>>,
}

impl Canonical {
    const STACK: usize = 64;

    fn new() -> Canonical {
        Canonical {
            stack: [0; Canonical::STACK],
            len: 0,
            heap: None,
        }
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        if self.heap.is_none() && self.len < Canonical::STACK {
            self.stack[self.len] = byte;
            self.len += 1;
        } else {
            self.extend_on_heap(&[byte]);
        }
    }

    fn starts_with_zero(&self) -> bool {
        let first = match &self.heap {
            Some(heap) => heap.first(),
            None => self.stack[..self.len].first(),
        };
        first == Some(&b'0')
    }

    #[cold]
    fn extend_on_heap(&mut self, bytes: &[u8]) {
        let stack = &self.stack[..self.len];
        let heap = self.heap.get_or_insert_with(|| stack.to_vec());
        heap.extend_from_slice(bytes);
    }

    fn push_integer(&mut self, value: i64) {
        if value < 0 {
            self.push(b'-');
        }
        let mut digits = [0u8; 20];
        let mut count = 0;
        let mut rest = value.unsigned_abs();
        loop {
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for &digit in digits[..count].iter().rev() {
            self.push(digit);
        }
    }

    fn parse(&self) -> Option<f64> {
        let bytes = self.heap.as_deref().unwrap_or(&self.stack[..self.len]);
        // Only ASCII was pushed, so this never fails.
        let text = std::str::from_utf8(bytes).ok()?;
        text.parse::<f64>().ok().filter(|value| value.is_finite())
    }
}

/// Maps the full-width forms of Chinese and Japanese exports, the Unicode minus and the
/// typographic spaces and apostrophe to the ASCII characters they stand for.
fn normalise(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from(b'0' + (c as u32 - 0xFF10) as u8),
        '\u{FF0E}' => '.',
        '\u{FF0C}' => ',',
        '\u{FF0B}' => '+',
        '\u{2212}' | '\u{FF0D}' => '-',
        '\u{FF05}' => '%',
        '\u{FF08}' => '(',
        '\u{FF09}' => ')',
        '\u{FF07}' | '\u{2019}' => '\'',
        // NBSP, narrow NBSP (French grouping), thin space, ideographic space.
        '\u{00A0}' | '\u{202F}' | '\u{2009}' | '\u{3000}' => ' ',
        _ => c,
    }
}

/// Currency signs of one character, with the ISO 4217 code each stands for. `¥` means yuan: the
/// exports that write it are Chinese wallets; Japanese yen is recognised as `JP¥`, `円` or `JPY`.
const CURRENCY_SIGNS: &[(char, &str)] = &[
    ('$', "USD"),
    ('\u{FF04}', "USD"), // ＄
    ('¥', "CNY"),
    ('\u{FFE5}', "CNY"), // ￥
    ('元', "CNY"),
    ('円', "JPY"),
    ('€', "EUR"),
    ('£', "GBP"),
    ('\u{FFE1}', "GBP"), // ￡
    ('₹', "INR"),
    ('₩', "KRW"),
    ('\u{FFE6}', "KRW"), // ￦
    ('₽', "RUB"),
    ('₱', "PHP"),
    ('฿', "THB"),
    ('₫', "VND"),
    ('₺', "TRY"),
    ('₪', "ILS"),
    ('₦', "NGN"),
    ('₴', "UAH"),
    ('₸', "KZT"),
];

/// Currency marks that start with a letter and are not ISO codes, with the code each stands for.
const LETTERED_CURRENCY_SIGNS: &[(&str, &str)] = &[
    ("US$", "USD"),
    ("HK$", "HKD"),
    ("NT$", "TWD"),
    ("NZ$", "NZD"),
    ("MX$", "MXN"),
    ("CA$", "CAD"),
    ("AU$", "AUD"),
    ("A$", "AUD"),
    ("S$", "SGD"),
    ("R$", "BRL"),
    ("CN¥", "CNY"),
    ("JP¥", "JPY"),
    ("RMB", "CNY"),
    ("zł", "PLN"),
    ("Kč", "CZK"),
];

/// ISO 4217 currency codes (sorted, for binary search), so that a bare code in a cell
/// (`12.50 EUR`) is recognised without taking any three capitals (`ABC 12`) for a currency.
/// `XTS` (testing) and `XXX` (no currency) are left out.
const ISO_CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF", "IDR",
    "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW",
    "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
    "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG",
    "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP",
    "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED",
    "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG",
    "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The currency named at the start of `text`, and the length in bytes of its mark.
fn currency_at(text: &str) -> Option<(&'static str, usize)> {
    let first = text.chars().next()?;
    if !first.is_ascii_alphabetic() {
        // Comparing chars, not strings: this runs on every cell with a currency sign.
        return CURRENCY_SIGNS
            .iter()
            .find(|&&(sign, _)| sign == first)
            .map(|&(_, code)| (code, first.len_utf8()));
    }
    let bytes = text.as_bytes();
    let followed_by_letter = |length: usize| text[length..].starts_with(char::is_alphabetic);
    // A bare ISO code: three capitals not running into a word (`USDT` is not `USD`).
    if bytes.len() >= 3 && bytes[..3].iter().all(u8::is_ascii_uppercase) && !followed_by_letter(3) {
        if let Ok(index) = ISO_CODES.binary_search(&&text[..3]) {
            return Some((ISO_CODES[index], 3));
        }
    }
    LETTERED_CURRENCY_SIGNS
        .iter()
        .find(|(sign, _)| sign.as_bytes()[0] == bytes[0] && text.starts_with(sign))
        // A mark ending in a letter (`RMB`, `zł`) must not run into a word either: `RMBX`.
        .filter(|(sign, _)| !sign.ends_with(char::is_alphabetic) || !followed_by_letter(sign.len()))
        .map(|&(sign, code)| (code, sign.len()))
}

/// The decimal convention of a column, and how it was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Inference {
    /// The convention to read the column with: the one with more votes, [`Decimal::Point`] on a
    /// tie or when no value votes.
    pub decimal: Decimal,
    /// Values only a decimal point reads (`12.5`, `0.25`, `1,234.56`, `1,234,567`).
    pub votes_point: usize,
    /// Values only a decimal comma reads (`12,5`, `1234,56`, `1.234,56`, `1.234.567`).
    pub votes_comma: usize,
    /// Values that both conventions read, differently (`1,234`, `1.234`): they do not vote.
    pub ambiguous_values: usize,
    /// True when the votes did not settle the question although some value needed it (a column
    /// of `1.234` only, or as many votes each way): the caller should warn that
    /// [`decimal`](Self::decimal) was assumed.
    pub ambiguous: bool,
}

/// How many non-empty values of a column decide its decimal convention.
const COLUMN_SAMPLE: usize = 1000;

/// The decimal convention to read a whole column with: the user's choice when given, else
/// inferred from its first non-empty values. The flag says the inference was a guess (see
/// [`Inference::ambiguous`]). Every reader of a column (roles, formulas) goes through here, so a
/// column is never read one way as an amount and another way in a formula.
pub fn column_decimal(
    values: impl IntoIterator<Item = impl AsRef<str>>,
    forced: Option<Decimal>,
) -> (Decimal, bool) {
    match forced {
        Some(decimal) => (decimal, false),
        None => {
            let sample = values
                .into_iter()
                .filter(|v| !v.as_ref().is_empty())
                .take(COLUMN_SAMPLE);
            let inference = infer_decimal(sample);
            (inference.decimal, inference.ambiguous)
        }
    }
}

/// Infers the decimal convention of a column from (a sample of) its non-empty values.
///
/// A value with both `,` and `.` votes for the one that comes last; a single separator followed by
/// other than exactly 3 digits, or after a group that cannot be a thousands group (`1234,567`,
/// `0,125`), is the decimal separator; a separator that appears twice (`1,234,567`) groups
/// thousands, so it votes for the other convention. `1,234` and `1.234` alone do not vote.
pub fn infer_decimal(values: impl IntoIterator<Item = impl AsRef<str>>) -> Inference {
    let (mut votes_point, mut votes_comma, mut ambiguous_values) = (0, 0, 0);
    for value in values {
        match separator_vote(value.as_ref()) {
            Some(Vote::For(Decimal::Point)) => votes_point += 1,
            Some(Vote::For(Decimal::Comma)) => votes_comma += 1,
            Some(Vote::Ambiguous) => ambiguous_values += 1,
            None => {}
        }
    }
    let decimal = if votes_comma > votes_point {
        Decimal::Comma
    } else {
        Decimal::Point
    };
    Inference {
        decimal,
        votes_point,
        votes_comma,
        ambiguous_values,
        ambiguous: votes_point == votes_comma && (votes_point > 0 || ambiguous_values > 0),
    }
}

enum Vote {
    For(Decimal),
    Ambiguous,
}

/// What the `.` and `,` of one value say about the convention; `None` when it has neither.
fn separator_vote(value: &str) -> Option<Vote> {
    let (mut points, mut commas) = (0usize, 0usize);
    let mut last_separator = '.';
    // Digits in the run being read, and whether it started with `0`.
    let mut run = 0usize;
    let mut run_starts_with_zero = false;
    // The run just before the first separator, which a thousands separator would end.
    let mut first_group = 0usize;
    let mut first_group_starts_with_zero = false;
    let mut seen_digit = false;
    // Whether a space or apostrophe grouped thousands before the first `.` or `,`.
    let mut grouped_otherwise = false;
    let mut chars = value.chars().map(normalise).peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => {
                if run == 0 {
                    run_starts_with_zero = c == '0';
                }
                run += 1;
                seen_digit = true;
            }
            '.' | ',' => {
                if points + commas == 0 {
                    first_group = run;
                    first_group_starts_with_zero = run_starts_with_zero;
                }
                if c == '.' {
                    points += 1;
                } else {
                    commas += 1;
                }
                last_separator = c;
                run = 0;
            }
            // Other thousands separators between digits: `1 234,56`, `1'234.56`.
            '\'' | ' ' if seen_digit && chars.peek().is_some_and(char::is_ascii_digit) => {
                grouped_otherwise |= points + commas == 0;
                run = 0;
            }
            // Before the digits: signs, currencies. After them: an exponent, a currency, text.
            _ if seen_digit => break,
            _ => {}
        }
    }
    let separator_is_decimal = |separator: char| {
        Vote::For(if separator == '.' {
            Decimal::Point
        } else {
            Decimal::Comma
        })
    };
    match (points, commas) {
        (0, 0) => None,
        (1, 0) | (0, 1) => {
            // A number has one kind of thousands separator, so after `1 234` or `1'234` the
            // `.` or `,` can only be the decimal separator.
            let could_group_thousands = run == 3
                && (1..=3).contains(&first_group)
                && !first_group_starts_with_zero
                && !grouped_otherwise;
            Some(if could_group_thousands {
                Vote::Ambiguous
            } else {
                separator_is_decimal(last_separator)
            })
        }
        // The same separator twice groups thousands: the decimal separator is the other one.
        (_, 0) => Some(Vote::For(Decimal::Comma)),
        (0, _) => Some(Vote::For(Decimal::Point)),
        // Both: the decimal separator comes after the thousands separators.
        _ => Some(separator_is_decimal(last_separator)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decimal::{Comma, Point};

    fn value(text: &str, decimal: Decimal) -> Option<f64> {
        parse_number(text, decimal).map(|n| n.value)
    }

    /// The short-decimal path gives the standard parser's value, bit for bit, on every shape it
    /// takes (signs, points at every place, 1 to 15 digits, leading and trailing zeros, the
    /// largest mantissas), and leaves every other shape to the full path.
    #[test]
    fn short_decimals_are_what_the_standard_parser_reads() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut checked = 0;
        for digits in 1..=15usize {
            for _ in 0..2_000 {
                let mut text = String::new();
                if next() % 3 == 0 {
                    text.push('-');
                }
                let body: String = (0..digits)
                    .map(|_| char::from(b'0' + (next() % 10) as u8))
                    .collect();
                let point = (next() as usize) % (digits + 2);
                match point {
                    p if p <= digits => {
                        text.push_str(&body[..p]);
                        text.push('.');
                        text.push_str(&body[p..]);
                    }
                    _ => text.push_str(&body),
                }
                let expected: f64 = text.parse().unwrap();
                let fast = parse_short_decimal(text.as_bytes(), Point);
                assert_eq!(fast.map(f64::to_bits), Some(expected.to_bits()), "{text:?}");
                assert_eq!(
                    value(&text, Point).map(f64::to_bits),
                    Some(expected.to_bits())
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 30_000);
        for edge in [
            "999999999999999",
            "0.99999999999999",
            "-0",
            "-0.000",
            "9007199254740.99",
        ] {
            let expected: f64 = edge.parse().unwrap();
            assert_eq!(
                parse_short_decimal(edge.as_bytes(), Point).map(f64::to_bits),
                Some(expected.to_bits()),
                "{edge}"
            );
        }
        // Left to the full path: 16 digits, exponents, spaces, a plus, two points, no digit,
        // and a point under the decimal comma.
        for other in [
            "1234567890123456",
            "1e3",
            " 1",
            "+1",
            "1.2.3",
            "-",
            ".",
            "",
            "12.5",
            "1,5",
        ] {
            let decimal = if other == "12.5" { Comma } else { Point };
            assert_eq!(
                parse_short_decimal(other.as_bytes(), decimal),
                None,
                "{other:?}"
            );
        }
    }

    /// Every accepted form: (cell, convention, value, currency, percent).
    const ACCEPTED: &[(&str, Decimal, f64, Option<&str>, bool)] = &[
        // Plain forms, the fast path.
        ("123.45", Point, 123.45, None, false),
        ("0", Point, 0.0, None, false),
        ("-7", Point, -7.0, None, false),
        ("+7.5", Point, 7.5, None, false),
        (".5", Point, 0.5, None, false),
        ("12.", Point, 12.0, None, false),
        ("  12.50  ", Point, 12.5, None, false),
        ("1e3", Point, 1000.0, None, false),
        ("1.5E-3", Point, 0.0015, None, false),
        ("-2.5e+2", Point, -250.0, None, false),
        ("1234", Comma, 1234.0, None, false),
        ("-1e3", Comma, -1000.0, None, false),
        // Decimal comma.
        ("12,5", Comma, 12.5, None, false),
        ("1234,56", Comma, 1234.56, None, false),
        (",5", Comma, 0.5, None, false),
        ("1,234", Comma, 1.234, None, false),
        ("1,5e3", Comma, 1500.0, None, false),
        // Thousands separators under Point.
        ("1,234", Point, 1234.0, None, false),
        ("1,234.56", Point, 1234.56, None, false),
        ("12,345,678.9", Point, 12345678.9, None, false),
        ("1'234.56", Point, 1234.56, None, false),
        ("1\u{2019}234.56", Point, 1234.56, None, false),
        ("1 234.56", Point, 1234.56, None, false),
        ("1\u{A0}234.56", Point, 1234.56, None, false),
        ("1\u{202F}234.56", Point, 1234.56, None, false),
        ("1\u{2009}234.56", Point, 1234.56, None, false),
        ("1,23,456.78", Point, 123456.78, None, false),
        ("12,34,56,789", Point, 123456789.0, None, false),
        // Thousands separators under Comma.
        ("1.234", Comma, 1234.0, None, false),
        ("1.234,56", Comma, 1234.56, None, false),
        ("1.234.567,89", Comma, 1234567.89, None, false),
        ("1 234,56", Comma, 1234.56, None, false),
        ("1\u{202F}234\u{202F}567,5", Comma, 1234567.5, None, false),
        ("1'234,56", Comma, 1234.56, None, false),
        // Signs and negatives.
        ("12.00-", Point, -12.0, None, false),
        ("1.234,00-", Comma, -1234.0, None, false),
        ("12.00 -", Point, -12.0, None, false),
        ("12+", Point, 12.0, None, false),
        ("\u{2212}12.5", Point, -12.5, None, false),
        ("(12.00)", Point, -12.0, None, false),
        ("( 1,234.56 )", Point, -1234.56, None, false),
        ("(1.234,56)", Comma, -1234.56, None, false),
        ("- 12", Point, -12.0, None, false),
        // Currency signs and codes, before or after, with or without space.
        ("¥28.16", Point, 28.16, Some("CNY"), false),
        ("￥28.16", Point, 28.16, Some("CNY"), false),
        ("28.16元", Point, 28.16, Some("CNY"), false),
        ("28.16 元", Point, 28.16, Some("CNY"), false),
        ("RMB 28.16", Point, 28.16, Some("CNY"), false),
        ("RMB28.16", Point, 28.16, Some("CNY"), false),
        ("CNY 28.16", Point, 28.16, Some("CNY"), false),
        ("28.16CNY", Point, 28.16, Some("CNY"), false),
        ("¥1,234.56", Point, 1234.56, Some("CNY"), false),
        ("-¥28.16", Point, -28.16, Some("CNY"), false),
        ("¥-28.16", Point, -28.16, Some("CNY"), false),
        ("$1,234.56", Point, 1234.56, Some("USD"), false),
        ("US$1,234.56", Point, 1234.56, Some("USD"), false),
        ("USD 1,234.56", Point, 1234.56, Some("USD"), false),
        ("$12 USD", Point, 12.0, Some("USD"), false),
        ("US$12 USD", Point, 12.0, Some("USD"), false),
        ("($12.00)", Point, -12.0, Some("USD"), false),
        ("$(12.00)", Point, -12.0, Some("USD"), false),
        ("-$12.00", Point, -12.0, Some("USD"), false),
        ("$ -12.00", Point, -12.0, Some("USD"), false),
        ("1.234,56 €", Comma, 1234.56, Some("EUR"), false),
        ("€1.234,56", Comma, 1234.56, Some("EUR"), false),
        ("1\u{A0}234,56\u{A0}€", Comma, 1234.56, Some("EUR"), false),
        ("12,50 EUR", Comma, 12.5, Some("EUR"), false),
        ("12EUR", Point, 12.0, Some("EUR"), false),
        ("£12.99", Point, 12.99, Some("GBP"), false),
        ("₹1,23,456.78", Point, 123456.78, Some("INR"), false),
        ("₩12,000", Point, 12000.0, Some("KRW"), false),
        ("HK$88.80", Point, 88.8, Some("HKD"), false),
        ("S$9.90", Point, 9.9, Some("SGD"), false),
        ("R$ 1.234,56", Comma, 1234.56, Some("BRL"), false),
        ("1 234,56 ₽", Comma, 1234.56, Some("RUB"), false),
        ("CHF 1'234.50", Point, 1234.5, Some("CHF"), false),
        ("JP¥1,200", Point, 1200.0, Some("JPY"), false),
        ("1200円", Point, 1200.0, Some("JPY"), false),
        ("12,50 zł", Comma, 12.5, Some("PLN"), false),
        // Percentages.
        ("12.5%", Point, 0.125, None, true),
        ("12,5 %", Comma, 0.125, None, true),
        ("-3%", Point, -0.03, None, true),
        ("0.1%", Point, 0.001, None, true),
        ("1e2%", Point, 1.0, None, true),
        // Full-width digits and punctuation.
        ("１２３．４５", Point, 123.45, None, false),
        ("１，２３４．５６", Point, 1234.56, None, false),
        ("￥１２３．４５", Point, 123.45, Some("CNY"), false),
        ("－１２", Point, -12.0, None, false),
        ("（１２．５０）", Point, -12.5, None, false),
        ("１２．５％", Point, 0.125, None, true),
        ("\u{3000}12.5\u{3000}", Point, 12.5, None, false),
    ];

    /// Every rejected form.
    const REJECTED: &[(&str, Decimal)] = &[
        ("", Point),
        ("   ", Point),
        ("-", Point),
        (".", Point),
        ("$", Point),
        ("%", Point),
        ("()", Point),
        ("inf", Point),
        ("-inf", Point),
        ("infinity", Point),
        ("NaN", Point),
        ("nan", Comma),
        ("INF", Point),
        ("abc", Point),
        ("n/a", Point),
        ("12abc", Point),
        ("12 apples", Point),
        ("1e400", Point),
        ("-1e400", Point),
        ("1e", Point),
        ("1.2.3", Point),
        ("1,2,3", Point),
        ("1,2,3", Comma),
        ("12,5", Point),
        ("1,23", Point),
        ("1,2345", Point),
        ("1234,567", Point),
        (",123", Point),
        ("1,,234", Point),
        ("1,", Point),
        ("1,234,", Point),
        ("1,234 567", Point),
        ("1.234,56", Point),
        ("12.5", Comma),
        ("12.345.6", Comma),
        ("1,234,56", Comma),
        ("1,23,456", Comma),
        ("1 23", Point),
        ("12.50 5", Point),
        ("--12", Point),
        ("+-12", Point),
        ("-12-", Point),
        ("-(12)", Point),
        ("(12", Point),
        ("12)", Point),
        ("((12))", Point),
        ("¥12 USD", Point),
        ("$12%", Point),
        ("12%%", Point),
        ("ABC 12", Point),
        ("12 USDT", Point),
        ("RMBX 12", Point),
        ("12 e3", Point),
        ("1_000", Point),
        ("0x10", Point),
        ("12/5", Point),
        ("2025-07-01", Point),
        ("0,125", Point),
        ("0.500", Comma),
        ("00,123", Point),
        ("¥¥12", Point),
        ("$$12", Point),
        ("12 USD USD", Point),
        ("12元元", Point),
        ("65,-", Comma),
        ("12.-", Point),
    ];

    #[test]
    fn reads_every_accepted_form() {
        for &(text, decimal, expected, currency, percent) in ACCEPTED {
            let number = parse_number(text, decimal)
                .unwrap_or_else(|| panic!("{text:?} under {decimal:?} should be read"));
            assert_eq!(
                number.value.to_bits(),
                expected.to_bits(),
                "{text:?} under {decimal:?}: {} != {expected}",
                number.value
            );
            assert_eq!(number.currency, currency, "currency of {text:?}");
            assert_eq!(number.percent, percent, "percent of {text:?}");
        }
    }

    #[test]
    fn rejects_every_malformed_form() {
        for &(text, decimal) in REJECTED {
            assert_eq!(
                parse_number(text, decimal),
                None,
                "{text:?} under {decimal:?} should be rejected"
            );
        }
    }

    #[test]
    fn values_equal_the_standard_parse_of_the_canonical_form() {
        // To the bit, so that sums match DuckDB's.
        for (text, decimal, canonical) in [
            ("1.234,56", Comma, "1234.56"),
            ("0,1", Comma, "0.1"),
            ("¥0.3", Point, "0.3"),
            ("9 007 199 254 740 993", Point, "9007199254740993"),
            ("7,3%", Comma, "0.073"),
            ("(0.30000000000000004)", Point, "-0.30000000000000004"),
        ] {
            let expected: f64 = canonical.parse().unwrap();
            assert_eq!(
                value(text, decimal).map(f64::to_bits),
                Some(expected.to_bits())
            );
        }
    }

    #[test]
    fn fast_and_full_readings_agree() {
        for text in [
            "123.45", "-7", "+7.5", ".5", "12.", "1e3", "1.5E-3", "-0", "1.e5", "007.50",
        ] {
            let fast = parse_number(text, Point).unwrap();
            let full = parse_formatted(text, Point).unwrap();
            assert_eq!(fast.value.to_bits(), full.value.to_bits(), "{text:?}");
        }
        for text in ["e5", ".e5", "+-1", "1e", "-", "+"] {
            assert_eq!(parse_number(text, Point), None, "{text:?}");
        }
    }

    #[test]
    fn long_cells_spill_to_the_heap_and_stay_exact() {
        let huge = format!("{}", 1e300f64);
        assert!(huge.len() > Canonical::STACK);
        let grouped = format_locale(&huge, Point, ',');
        assert_eq!(value(&grouped, Point), Some(1e300));
        let tiny = format!("{}", 1.5e-200f64);
        assert_eq!(value(&tiny, Point), Some(1.5e-200));
        assert_eq!(value(&tiny.replace('.', ","), Comma), Some(1.5e-200));
        assert_eq!(value(&format!("{tiny}%"), Point), Some(1.5e-202));
    }

    #[test]
    fn currency_tables_are_well_formed() {
        assert!(ISO_CODES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(ISO_CODES.iter().all(|code| code.len() == 3));
        for (sign, code) in CURRENCY_SIGNS {
            assert!(ISO_CODES.contains(code), "{sign} -> {code}");
        }
        for (position, (sign, code)) in LETTERED_CURRENCY_SIGNS.iter().enumerate() {
            assert!(ISO_CODES.contains(code), "{sign} -> {code}");
            assert!(
                sign.starts_with(|c: char| c.is_ascii_alphabetic()),
                "{sign}"
            );
            // A longer mark must come before any shorter mark it starts with, or it is never seen.
            assert!(
                LETTERED_CURRENCY_SIGNS[..position]
                    .iter()
                    .all(|(earlier, _)| !sign.starts_with(earlier)),
                "{sign} is shadowed"
            );
        }
    }

    #[test]
    fn decimal_names_and_serde() {
        assert_eq!(Decimal::parse("."), Some(Point));
        assert_eq!(Decimal::parse(","), Some(Comma));
        assert_eq!(Decimal::parse("point"), Some(Point));
        assert_eq!(Decimal::parse(" Comma "), Some(Comma));
        assert_eq!(Decimal::parse(";"), None);
        assert_eq!(Point.symbol(), '.');
        assert_eq!(Comma.symbol(), ',');
        assert_eq!(serde_json::to_string(&Comma).unwrap(), "\",\"");
        assert_eq!(serde_json::to_string(&Point).unwrap(), "\".\"");
        assert_eq!(serde_json::from_str::<Decimal>("\",\"").unwrap(), Comma);
        assert_eq!(Decimal::default(), Point);
    }

    fn inference(values: &[&str]) -> Inference {
        infer_decimal(values.iter().copied())
    }

    #[test]
    fn infers_a_decimal_point() {
        let found = inference(&["12.5", "0.25", "1,234.56", "¥28.16", "100"]);
        assert_eq!(found.decimal, Point);
        assert_eq!((found.votes_point, found.votes_comma), (4, 0));
        assert!(!found.ambiguous);
        assert_eq!(inference(&["1,234,567"]).votes_point, 1);
        assert_eq!(inference(&["1'234.5", "0.125", "1234.567"]).votes_point, 3);
        assert_eq!(inference(&["1.5e3", "-2.5"]).votes_point, 2);
    }

    #[test]
    fn infers_a_decimal_comma() {
        let found = inference(&["12,5", "1234,56", "1.234,56", "1 234,56 €", "0,125", "7"]);
        assert_eq!(found.decimal, Comma);
        assert_eq!((found.votes_point, found.votes_comma), (0, 5));
        assert!(!found.ambiguous);
        assert_eq!(inference(&["1.234.567"]).votes_comma, 1);
        assert_eq!(inference(&["１２，５"]).votes_comma, 1);
        assert_eq!(inference(&["1 234,567", "1'234,500"]).votes_comma, 2);
    }

    #[test]
    fn mixed_columns_follow_the_majority() {
        let found = inference(&["1,234.56", "1.234,56", "2.345,67", "1,234"]);
        assert_eq!(found.decimal, Comma);
        assert_eq!(
            (found.votes_point, found.votes_comma, found.ambiguous_values),
            (1, 2, 1)
        );
        assert!(!found.ambiguous);
        let tie = inference(&["12.5", "12,5"]);
        assert_eq!(tie.decimal, Point);
        assert!(tie.ambiguous, "a tie is not a decision");
    }

    #[test]
    fn ambiguous_columns_assume_a_point_and_say_so() {
        let found = inference(&["1.234", "-2.500", "$1,000"]);
        assert_eq!(found.decimal, Point);
        assert_eq!(
            (found.votes_point, found.votes_comma, found.ambiguous_values),
            (0, 0, 3)
        );
        assert!(found.ambiguous);
        // One deciding value settles the column.
        let settled = inference(&["1.234", "2.500", "3,5"]);
        assert_eq!(settled.decimal, Comma);
        assert!(!settled.ambiguous);
    }

    #[test]
    fn columns_without_separators_do_not_vote() {
        for values in [&[][..], &["12", "-7", "abc", ""][..]] {
            let found = inference(values);
            assert_eq!(
                found,
                Inference {
                    decimal: Point,
                    votes_point: 0,
                    votes_comma: 0,
                    ambiguous_values: 0,
                    ambiguous: false,
                }
            );
        }
    }

    /// Inserts `separator` every three digits of a signed integer (`-1234567`).
    fn group_thousands(integer: &str, separator: char) -> String {
        let (sign, digits) = match integer.strip_prefix('-') {
            Some(digits) => ("-", digits),
            None => ("", integer),
        };
        let mut grouped = String::from(sign);
        for (index, digit) in digits.chars().enumerate() {
            if index > 0 && (digits.len() - index) % 3 == 0 {
                grouped.push(separator);
            }
            grouped.push(digit);
        }
        grouped
    }

    /// Writes `plain` (`-1234.5`, as Rust prints an f64) the way a locale would.
    fn format_locale(plain: &str, decimal: Decimal, separator: char) -> String {
        match plain.split_once('.') {
            Some((integer, fraction)) => format!(
                "{}{}{fraction}",
                group_thousands(integer, separator),
                decimal.symbol()
            ),
            None => group_thousands(plain, separator),
        }
    }

    /// A tiny deterministic generator (Knuth's MMIX LCG), so the test needs no crate.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 11
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    #[test]
    fn random_text_never_panics_and_reads_only_finite_values() {
        let alphabet: Vec<char> = "0123456789.,' -+()%eE$¥元€RMBUSDX\u{A0}\u{2212}１．，"
            .chars()
            .collect();
        let mut random = Lcg(7);
        for _ in 0..20_000 {
            let length = random.below(12) as usize;
            let text: String = (0..length)
                .map(|_| alphabet[random.below(alphabet.len() as u64) as usize])
                .collect();
            for decimal in [Point, Comma] {
                if let Some(number) = parse_number(&text, decimal) {
                    assert!(number.value.is_finite(), "{text:?}");
                }
            }
            infer_decimal([text.as_str()]);
        }
    }

    #[test]
    fn formatted_values_read_back_to_the_same_f64() {
        let mut random = Lcg(0x5eed);
        let point_separators = [',', '\'', ' ', '\u{A0}', '\u{202F}', '\u{2009}'];
        let comma_separators = ['.', '\'', ' ', '\u{A0}', '\u{202F}', '\u{2009}'];
        let affixes = [
            ("", ""),
            ("$", ""),
            ("¥", ""),
            ("", "元"),
            ("", " EUR"),
            ("€ ", ""),
        ];
        for round in 0..5000 {
            // Half money-like amounts (cents, up to 10^12), half any f64 Rust prints without an
            // exponent, up to 30 digits either side of the point.
            let plain = if round % 2 == 0 {
                let cents = random.below(100_000_000_000_000);
                let sign = if random.below(4) == 0 { "-" } else { "" };
                format!("{sign}{}.{:02}", cents / 100, cents % 100)
            } else {
                let value = loop {
                    let value = f64::from_bits(random.next() << 11 | random.below(1 << 11));
                    if value.is_finite() && value.abs() < 1e30 && value.abs() > 1e-30 {
                        break value;
                    }
                };
                format!("{value}")
            };
            let expected: f64 = plain.parse().unwrap();
            let decimal = if random.below(2) == 0 { Point } else { Comma };
            let separators = match decimal {
                Point => &point_separators,
                Comma => &comma_separators,
            };
            let separator = separators[random.below(separators.len() as u64) as usize];
            let cell = format_locale(&plain, decimal, separator);
            let (before, after) = affixes[random.below(affixes.len() as u64) as usize];
            let cell = format!("{before}{cell}{after}");
            let read = value(&cell, decimal);
            assert_eq!(
                read.map(f64::to_bits),
                Some(expected.to_bits()),
                "{cell:?} under {decimal:?} should read as {plain}"
            );
        }
    }
}
