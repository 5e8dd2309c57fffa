//! Text columns as the ingest stage stores them: each column either dictionary-encoded (a code
//! per row into its distinct values) or, when nearly every value is distinct (ids of single
//! transactions, timestamps), as plain text.
//!
//! Why a dictionary: payment exports repeat values heavily (status, channel, currency, payer and
//! merchant ids). Stored once per distinct value, a column takes 2 bytes a row instead of its
//! text, later stages read (parse, normalise, group) each distinct value once instead of once a
//! row, and the codes are the group keys that mixes, filters and segments need. The choice is
//! made while the file is read, from what has been seen so far, so it needs no second pass.
use super::decimals::DecimalCells;
use super::part::PartReader;
use super::times::{Layout, TimeCells};
use crate::error::{Error, ErrorKind, Result};
use crate::time::{Timestamp, TimestampParser};
use hashbrown::HashTable;
use std::borrow::Cow;
use std::hash::BuildHasher;

/// The most distinct values a column keeps in a dictionary; past it the column is stored as
/// plain text. Measured on 1M rows: a dictionary this small stays in the CPU cache, and a look-up
/// costs a few nanoseconds; dictionaries of 80,000+ values (amounts, payer ids, settlement times)
/// miss the cache on nearly every look-up and made reading three times slower than plain text.
/// Low-cardinality columns (status, channel, currency, funding source, flags), where a
/// dictionary pays most, stay far below it.
const MAX_DICTIONARY: usize = 1 << 13;

/// A column whose values repeat enough — each value on `REPEATS` rows or more on average when
/// its dictionary fills — keeps a dictionary of up to `MAX_REPEATED_DICTIONARY` values instead
/// (`u16` codes): merchant ids of a large file (26,000 merchants over 4.1M rows: 4.4 rows a
/// value when the dictionary filled), latencies, or a dispute date empty on nearly every row
/// then take 2 bytes a row instead of their text (7-10) or a time (8). Ids of single payments,
/// payer ids, amounts and times were at 1.0-1.6 rows a value in the bench files, and go on as
/// text or times. Look-ups in a dictionary this large miss the cache more often, a cost paid by
/// large files only, where memory decides what fits.
const REPEATS: usize = 2;
const MAX_REPEATED_DICTIONARY: usize = 1 << 16;

/// Cells stored back to back in one string, with each cell's end offset: two allocations for any
/// number of cells.
#[derive(Debug, Clone, Default)]
pub struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    #[inline(always)]
    fn push(&mut self, cell: &str) -> Result<()> {
        self.text.push_str(cell);
        let end = u32::try_from(self.text.len()).map_err(|_| too_much_text())?;
        self.ends.push(end);
        Ok(())
    }

    /// Appends the cells of a part of a file read by another stream: `text` and each cell's
    /// end in it (checked: in order, on character boundaries, the last at the text's end).
    fn append_part(&mut self, text: &str, ends: &[u8]) -> Result<()> {
        let base = self.text.len();
        let base = u32::try_from(base + text.len())
            .map(|_| base as u32)
            .map_err(|_| too_much_text())?;
        self.text.reserve_exact(text.len());
        self.text.push_str(text);
        self.ends.reserve_exact(ends.len() / 4);
        self.ends
            .extend(ends.chunks_exact(4).map(|e| base + u32_le(e)));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of text a cell so far, to size the text for the rows to come.
    fn text_per_row(&self) -> usize {
        self.text.len() / self.len().max(1)
    }

    pub fn get(&self, index: usize) -> &str {
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1] as usize,
        };
        &self.text[start..self.ends[index] as usize]
    }

    fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4
    }
}

#[cold]
fn too_much_text() -> Error {
    Error::new(ErrorKind::InvalidOption(
        "a column holds more than 4 GiB of text; use the command-line tool on a split file".into(),
    ))
}

/// The 2 bytes of `b` as a little-endian `u16` (a part's codes).
#[inline(always)]
fn u16_le(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// The 4 bytes of `b` as a little-endian `u32` (a part's text ends).
#[inline(always)]
fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The distinct values of a dictionary-encoded column, each in its own allocation: a look-up is
/// one pointer away, which the hash look-ups while reading need (a dictionary is small).
#[derive(Debug, Clone, Default)]
pub struct Dictionary(Vec<Box<str>>);

impl Dictionary {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, code: usize) -> &str {
        &self.0[code]
    }

    /// Adds a new value and gives its code; `None` when the dictionary holds `limit` values.
    fn add(&mut self, value: &str, limit: usize) -> Option<u16> {
        if self.0.len() >= limit {
            return None;
        }
        self.0.push(value.into());
        Some((self.0.len() - 1) as u16)
    }

    #[cfg(test)]
    fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.iter().map(|value| &**value)
    }

    fn heap_bytes(&self) -> usize {
        self.0.capacity() * 16 + self.0.iter().map(|value| value.len()).sum::<usize>()
    }
}

/// Each row's index into its column's dictionary: two bytes while the dictionary is small enough
/// (always, for a column read from a file, whose dictionary holds at most `MAX_DICTIONARY`
/// values), four for a joined lookup column of many distinct values.
#[derive(Debug, Clone)]
enum Codes {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

/// A dictionary code as an index (`u32` has no `Into<usize>`).
trait Code: Copy {
    fn index(self) -> usize;
}

impl Code for u16 {
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self)
    }
}

impl Code for u32 {
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
}

const _: () = assert!(MAX_DICTIONARY <= MAX_REPEATED_DICTIONARY);
const _: () = assert!(MAX_REPEATED_DICTIONARY <= u16::MAX as usize + 1);

/// Runs `$body` with `$codes` bound to the codes as a slice of their own width: the loops over
/// rows are then compiled once per width, without a branch per row.
macro_rules! with_codes {
    ($codes:expr, |$slice:ident| $body:expr) => {
        match $codes {
            Codes::Narrow(codes) => {
                let $slice = &codes[..];
                $body
            }
            Codes::Wide(codes) => {
                let $slice = &codes[..];
                $body
            }
        }
    };
}

impl Codes {
    fn len(&self) -> usize {
        with_codes!(self, |codes| codes.len())
    }

    fn get(&self, row: usize) -> usize {
        with_codes!(self, |codes| codes[row].index())
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Codes::Narrow(codes) => codes.capacity() * 2,
            Codes::Wide(codes) => codes.capacity() * 4,
        }
    }
}

#[derive(Debug, Clone)]
enum Cells {
    /// Each row's value as an index into `values`, which holds each distinct value once.
    Coded {
        codes: Codes,
        values: Dictionary,
    },
    Plain(Strings),
    /// ISO date-times of one layout, as numbers (see `times`).
    Times(TimeCells),
    /// Decimals of one number of decimal places, as numbers (see `decimals`).
    Decimals(DecimalCells),
}

impl Cells {
    fn len(&self) -> usize {
        match self {
            Cells::Coded { codes, .. } => codes.len(),
            Cells::Plain(strings) => strings.len(),
            Cells::Times(times) => times.len(),
            Cells::Decimals(decimals) => decimals.len(),
        }
    }
}

/// One column of (trimmed) text cells.
#[derive(Debug, Clone)]
pub struct TextColumn {
    cells: Cells,
}

impl Default for TextColumn {
    fn default() -> Self {
        TextColumn {
            cells: Cells::Plain(Strings::default()),
        }
    }
}

impl TextColumn {
    /// A column holding `cells`, in order.
    pub fn from_cells<'a>(cells: impl IntoIterator<Item = &'a str>) -> Result<TextColumn> {
        let mut column = ColumnBuilder::default();
        for cell in cells {
            column.push(cell)?;
        }
        Ok(column.finish())
    }

    /// A dictionary-encoded column from its parts: `codes[row]` indexes `values`, whose entries
    /// must be distinct.
    pub fn from_codes(codes: Vec<u32>, values: &[impl AsRef<str>]) -> TextColumn {
        let codes = match u16::try_from(values.len()) {
            Ok(_) => Codes::Narrow(codes.into_iter().map(|code| code as u16).collect()),
            Err(_) => Codes::Wide(codes),
        };
        let values = Dictionary(values.iter().map(|value| value.as_ref().into()).collect());
        TextColumn {
            cells: Cells::Coded { codes, values },
        }
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cell of row `row`: borrowed, except in a column of times or decimals, whose text is
    /// written from its number.
    pub fn get(&self, row: usize) -> Cow<'_, str> {
        match &self.cells {
            Cells::Coded { codes, values } => Cow::Borrowed(values.get(codes.get(row))),
            Cells::Plain(strings) => Cow::Borrowed(strings.get(row)),
            Cells::Times(times) => Cow::Owned(times.text(row)),
            Cells::Decimals(decimals) => Cow::Owned(decimals.text(row)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, str>> + '_ {
        (0..self.len()).map(move |row| self.get(row))
    }

    /// How many cells are empty, without writing out the text of times or decimals.
    pub fn empty_cells(&self) -> usize {
        (0..self.len()).filter(|&row| self.is_empty_at(row)).count()
    }

    /// The cell of row `row` as stored text; `None` in a column of times or decimals (see
    /// [`get`]).
    ///
    /// [`get`]: TextColumn::get
    pub fn stored_text(&self, row: usize) -> Option<&str> {
        match &self.cells {
            Cells::Coded { codes, values } => Some(values.get(codes.get(row))),
            Cells::Plain(strings) => Some(strings.get(row)),
            Cells::Times(_) | Cells::Decimals(_) => None,
        }
    }

    /// The distinct values of a dictionary-encoded column, each once (a joined column's are its
    /// lookup's: some may be on no row); `None` for a column stored otherwise.
    pub fn dictionary_values(&self) -> Option<impl Iterator<Item = &str> + '_> {
        match &self.cells {
            Cells::Coded { values, .. } => Some((0..values.len()).map(|code| values.get(code))),
            _ => None,
        }
    }

    /// Each row's value in a column stored as decimals (NaN where a cell is empty), which is
    /// what `number::parse_number` reads from each cell under a decimal point; `None` for a
    /// column stored otherwise.
    pub fn stored_decimals(&self) -> Option<&[f64]> {
        match &self.cells {
            Cells::Decimals(decimals) => Some(decimals.values()),
            _ => None,
        }
    }

    /// True when the column is stored as times, which are ISO date-times of one layout: they
    /// never tell a day/month order.
    pub fn is_times(&self) -> bool {
        matches!(self.cells, Cells::Times(_))
    }

    /// The cell of row `row` read as a time: `Some(None)` when empty, `None` when `parser`
    /// cannot read it. A column of times is read without parsing.
    pub fn read_time(&self, row: usize, parser: &mut TimestampParser) -> Option<Option<Timestamp>> {
        match &self.cells {
            Cells::Times(times) => Some(times.timestamp(row)),
            _ => match self.get(row) {
                text if text.is_empty() => Some(None),
                text => parser.parse(&text).map(Some),
            },
        }
    }

    /// Each cell of `rows` read as a time, as by [`read_time`]; in a dictionary-encoded column
    /// each distinct value is parsed once.
    ///
    /// [`read_time`]: TextColumn::read_time
    pub fn read_times(
        &self,
        rows: impl IntoIterator<Item = usize>,
        parser: &mut TimestampParser,
    ) -> Vec<Option<Option<Timestamp>>> {
        let rows = rows.into_iter();
        let mut times = Vec::with_capacity(rows.size_hint().0);
        self.for_each_time(rows, parser, |_, time| times.push(time));
        times
    }

    /// `g(row, time)` for each cell of `rows` read as a time, as by `read_times`, without a
    /// vector of them.
    pub fn for_each_time(
        &self,
        rows: impl IntoIterator<Item = usize>,
        parser: &mut TimestampParser,
        mut g: impl FnMut(usize, Option<Option<Timestamp>>),
    ) {
        match &self.cells {
            Cells::Times(times) => rows
                .into_iter()
                .for_each(|row| g(row, Some(times.timestamp(row)))),
            // A vector of `()` takes no memory.
            _ => {
                self.map_cells_with(
                    rows,
                    |text| match text.is_empty() {
                        true => Some(None),
                        false => parser.parse(text).map(Some),
                    },
                    |row, &time| g(row, time),
                );
            }
        }
    }

    /// The dictionary of a dictionary-encoded column: each row's code and the distinct values
    /// (in order of first appearance); `None` for a plain column. For tests of the storage
    /// choice: later stages go through `map_cells`, `encode` and `value_counts`.
    #[cfg(test)]
    fn dictionary(&self) -> Option<(Vec<usize>, &Dictionary)> {
        match &self.cells {
            Cells::Coded { codes, values } => {
                Some(((0..codes.len()).map(|row| codes.get(row)).collect(), values))
            }
            Cells::Plain(_) | Cells::Times(_) | Cells::Decimals(_) => None,
        }
    }

    /// `f` of the cell of each row in `rows`. On a dictionary-encoded column `f` runs once per
    /// distinct value, in order of first appearance among `rows`.
    pub fn map_cells<T: Clone>(
        &self,
        rows: impl IntoIterator<Item = usize>,
        f: impl FnMut(&str) -> T,
    ) -> Vec<T> {
        self.map_cells_with(rows, f, |_, value| value.clone())
    }

    /// `g(row, &f(cell))` for each row in `rows`, with `f` run once per distinct value of a
    /// dictionary-encoded column, as in `map_cells`; but what `f` gives is not kept per row.
    /// For typing a column: a vector of every row's parsed value (16 to 32 bytes a row) beside
    /// the typed one was the peak of a frame's memory.
    pub fn map_cells_with<T, U>(
        &self,
        rows: impl IntoIterator<Item = usize>,
        mut f: impl FnMut(&str) -> T,
        mut g: impl FnMut(usize, &T) -> U,
    ) -> Vec<U> {
        let rows = rows.into_iter();
        match &self.cells {
            Cells::Coded { codes, values } => {
                let mut done: Vec<Option<T>> = (0..values.len()).map(|_| None).collect();
                with_codes!(codes, |codes| rows
                    .map(|row| {
                        let code = codes[row].index();
                        g(row, done[code].get_or_insert_with(|| f(values.get(code))))
                    })
                    .collect())
            }
            Cells::Plain(strings) => rows.map(|row| g(row, &f(strings.get(row)))).collect(),
            Cells::Times(_) | Cells::Decimals(_) => {
                let mut text = String::with_capacity(25);
                rows.map(|row| {
                    text.clear();
                    self.write_number(row, &mut text);
                    g(row, &f(&text))
                })
                .collect()
            }
        }
    }

    /// The stored number of row `row` of a column of times or decimals (a decimal's bits):
    /// within a column, equal numbers are equal cells, an empty one included.
    fn number_key(&self, row: usize) -> i64 {
        match &self.cells {
            Cells::Times(times) => times.value(row),
            Cells::Decimals(decimals) => decimals.value(row).to_bits() as i64,
            Cells::Coded { .. } | Cells::Plain(_) => 0,
        }
    }

    /// Whether the cell of row `row` is empty.
    fn is_empty_at(&self, row: usize) -> bool {
        match &self.cells {
            Cells::Coded { codes, values } => values.get(codes.get(row)).is_empty(),
            Cells::Plain(strings) => strings.get(row).is_empty(),
            Cells::Times(times) => times.is_empty_at(row),
            Cells::Decimals(decimals) => decimals.is_empty_at(row),
        }
    }

    /// Writes the text of row `row` of a column of times or decimals. Apart, and not inlined:
    /// `map_cells_with` is compiled once per caller, and one shared arm for both kinds kept
    /// the page's first load within its budget.
    #[inline(never)]
    fn write_number(&self, row: usize, out: &mut String) {
        match &self.cells {
            Cells::Times(times) => times.write(row, out),
            Cells::Decimals(decimals) => decimals.write(row, out),
            Cells::Coded { .. } | Cells::Plain(_) => out.push_str(&self.get(row)),
        }
    }

    /// How many of `rows` hold each value, in no particular order; `None` as soon as there are
    /// more than `max_distinct` values.
    pub fn value_counts(
        &self,
        rows: impl IntoIterator<Item = usize>,
        max_distinct: usize,
    ) -> Option<Vec<(Cow<'_, str>, u64)>> {
        let rows = rows.into_iter();
        match &self.cells {
            Cells::Coded { codes, values } => {
                let mut counts = vec![0u64; values.len()];
                if values.len() <= max_distinct {
                    with_codes!(codes, |codes| rows
                        .for_each(|row| counts[codes[row].index()] += 1));
                } else {
                    // A dictionary larger than asked for (merchant ids): stop at the value too
                    // many, rather than count every row for nothing.
                    let mut distinct = 0;
                    with_codes!(codes, |codes| {
                        for row in rows {
                            let count = &mut counts[codes[row].index()];
                            distinct += usize::from(*count == 0);
                            *count += 1;
                            if distinct > max_distinct {
                                return None;
                            }
                        }
                    });
                }
                let counted: Vec<(Cow<str>, u64)> = counts
                    .into_iter()
                    .enumerate()
                    .filter(|&(_, count)| count > 0)
                    .map(|(code, count)| (Cow::Borrowed(values.get(code)), count))
                    .collect();
                (counted.len() <= max_distinct).then_some(counted)
            }
            Cells::Plain(strings) => {
                let mut counts: std::collections::HashMap<&str, u64, foldhash::fast::FixedState> =
                    std::collections::HashMap::default();
                for row in rows {
                    let value = strings.get(row);
                    let full = counts.len() == max_distinct;
                    match counts.get_mut(value) {
                        Some(count) => *count += 1,
                        None if full => return None,
                        None => {
                            counts.insert(value, 1);
                        }
                    }
                }
                Some(
                    counts
                        .into_iter()
                        .map(|(value, count)| (Cow::Borrowed(value), count))
                        .collect(),
                )
            }
            Cells::Times(_) | Cells::Decimals(_) => {
                let mut counts: std::collections::HashMap<
                    i64,
                    (usize, u64),
                    foldhash::fast::FixedState,
                > = std::collections::HashMap::default();
                for row in rows {
                    let full = counts.len() == max_distinct;
                    let value = self.number_key(row);
                    match counts.get_mut(&value) {
                        Some((_, count)) => *count += 1,
                        None if full => return None,
                        None => {
                            counts.insert(value, (row, 1));
                        }
                    }
                }
                Some(
                    counts
                        .into_values()
                        .map(|(row, count)| (self.get(row), count))
                        .collect(),
                )
            }
        }
    }

    /// Dictionary-encodes the cells of `rows`: each one's index into the returned distinct
    /// values, numbered in order of first appearance among `rows`. With `empty_is_missing`, an
    /// empty cell gets `missing` and is not a value.
    pub fn encode(
        &self,
        rows: impl IntoIterator<Item = usize>,
        empty_is_missing: bool,
        missing: u32,
    ) -> (Vec<u32>, Vec<Cow<'_, str>>) {
        let rows = rows.into_iter();
        let mut distinct: Vec<Cow<str>> = Vec::new();
        let codes = match &self.cells {
            Cells::Coded { codes, values } => {
                // The column's own codes, renumbered over the rows asked for.
                let mut renumbered = vec![u32::MAX; values.len()];
                with_codes!(codes, |codes| rows
                    .map(|row| {
                        let code = codes[row].index();
                        if renumbered[code] == u32::MAX {
                            let value = values.get(code);
                            renumbered[code] = if empty_is_missing && value.is_empty() {
                                missing
                            } else {
                                distinct.push(Cow::Borrowed(value));
                                (distinct.len() - 1) as u32
                            };
                        }
                        renumbered[code]
                    })
                    .collect())
            }
            Cells::Plain(strings) => {
                // Numbered ids (`U0041857`) go by their number (see `NumberedIds`); other
                // payer ids are short: most look-ups go by key (see `ShortKey`).
                let mut numbered = NumberedIds::new(strings.len());
                let mut short: HashTable<(ShortKey, u32)> = HashTable::new();
                let mut long: std::collections::HashMap<&str, u32, foldhash::fast::FixedState> =
                    std::collections::HashMap::default();
                rows.map(|row| {
                    let value = strings.get(row);
                    if empty_is_missing && value.is_empty() {
                        return missing;
                    }
                    let mut add = || {
                        distinct.push(Cow::Borrowed(value));
                        (distinct.len() - 1) as u32
                    };
                    if let Some(slot) = numbered.slot(value.as_bytes()) {
                        if *slot == u32::MAX {
                            *slot = add();
                        }
                        return *slot;
                    }
                    match ShortKey::of(value.as_bytes()) {
                        Some(key) => {
                            let hash = key.hash();
                            match short.find(hash, |&(known, _)| known == key) {
                                Some(&(_, code)) => code,
                                None => {
                                    let code = add();
                                    short.insert_unique(hash, (key, code), |(known, _)| {
                                        known.hash()
                                    });
                                    code
                                }
                            }
                        }
                        None => *long.entry(value).or_insert_with(add),
                    }
                })
                .collect()
            }
            Cells::Times(_) | Cells::Decimals(_) => {
                let mut code_of: std::collections::HashMap<i64, u32, foldhash::fast::FixedState> =
                    std::collections::HashMap::default();
                rows.map(|row| {
                    if empty_is_missing && self.is_empty_at(row) {
                        return missing;
                    }
                    *code_of.entry(self.number_key(row)).or_insert_with(|| {
                        distinct.push(self.get(row));
                        (distinct.len() - 1) as u32
                    })
                })
                .collect()
            }
        };
        (codes, distinct)
    }

    /// Bytes held on the heap, for the memory estimate shown while loading.
    pub fn heap_bytes(&self) -> usize {
        match &self.cells {
            Cells::Coded { codes, values } => codes.heap_bytes() + values.heap_bytes(),
            Cells::Plain(strings) => strings.heap_bytes(),
            Cells::Times(times) => times.heap_bytes(),
            Cells::Decimals(decimals) => decimals.heap_bytes(),
        }
    }
}

/// The codes of numbered ids (a fixed prefix, then digits: `U0041857`, `C-000123`, `48213`) by
/// their number, when the numbers are few enough to index an array. Each such id then costs a few
/// byte compares and an array access, where a hash table of a hundred thousand payers misses the
/// cache on nearly every probe (~28 ms of a 1M-row frame in wasm, the frame's largest step, before
/// session 13). Only ids that a number names alone are taken (see `Digits`), so a code found by
/// number is the code of that id; every other id goes on to the hash tables. This is the "perfect
/// hash" that databases use to group by small integer ranges.
struct NumberedIds {
    prefix: Vec<u8>,
    digits: Digits,
    /// The code of each number seen (`u32::MAX`: not yet), grown as numbers come.
    codes: Vec<u32>,
    /// Numbers from this on take the hash tables (the array would be mostly empty).
    limit: usize,
}

/// The digits after the prefix that make a numbered id, decided on the column's first id (once:
/// an id coded by number must never be looked up in the hash tables).
#[derive(Clone, Copy, PartialEq)]
enum Digits {
    Undecided,
    /// The first id has no trailing digits, or too many: the column is not numbered.
    None,
    /// Exactly this many, leading zeros included (`U0041857`), as the first id had.
    Width(usize),
    /// Any number of them without a leading zero (`48213`, `U7`), as the first id had: each
    /// number is then written one way only.
    Canonical,
}

impl NumberedIds {
    /// Numbers of at most this many digits (a `u32`, and an array at most `limit` long).
    const MAX_DIGITS: usize = 9;

    fn new(rows: usize) -> NumberedIds {
        NumberedIds {
            prefix: Vec::new(),
            digits: Digits::Undecided,
            codes: Vec::new(),
            // Twice the rows: ids numbered from 1 up (a new one a row at most) never need more;
            // numbers far past the rows are left to the hash tables.
            limit: (2 * rows).clamp(1 << 16, 1 << 24),
        }
    }

    /// The number of `id` when it is the column's prefix and digits of the column's kind.
    #[inline(always)]
    fn number(&self, id: &[u8]) -> Option<usize> {
        let digits = id.strip_prefix(self.prefix.as_slice())?;
        let fits = match self.digits {
            Digits::Width(width) => digits.len() == width,
            Digits::Canonical => match digits {
                [] | [b'0', _, ..] => false,
                _ => digits.len() <= Self::MAX_DIGITS,
            },
            Digits::Undecided | Digits::None => false,
        };
        if !fits {
            return None;
        }
        let mut number = 0usize;
        for &byte in digits {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            number = number * 10 + usize::from(digit);
        }
        Some(number)
    }

    /// The code slot of `id`, when it is numbered; `None` sends it to the hash tables.
    #[inline(always)]
    fn slot(&mut self, id: &[u8]) -> Option<&mut u32> {
        match self.digits {
            Digits::None => return None,
            // An empty value (not an id) decides nothing.
            Digits::Undecided if id.is_empty() => return None,
            Digits::Undecided => {
                // The first id decides the prefix and the digits: its trailing digits.
                let digits = id.iter().rev().take_while(|b| b.is_ascii_digit()).count();
                let start = id.len() - digits;
                self.digits = match digits {
                    0 => Digits::None,
                    _ if digits > Self::MAX_DIGITS => Digits::None,
                    _ if id[start] == b'0' && digits > 1 => Digits::Width(digits),
                    _ => Digits::Canonical,
                };
                self.prefix = id[..start].to_vec();
            }
            Digits::Width(_) | Digits::Canonical => {}
        }
        let number = self.number(id).filter(|&number| number < self.limit)?;
        if number >= self.codes.len() {
            let len = (number + 1).max(2 * self.codes.len()).min(self.limit);
            self.codes.resize(len, u32::MAX);
        }
        Some(&mut self.codes[number])
    }
}

/// Each row's `read` of its dictionary value, each value read once; `None` when `read` refuses
/// one (for a dictionary left for times or decimals).
fn per_row<T: Copy>(
    codes: &[u16],
    values: &Dictionary,
    read: impl Fn(&str) -> Option<T>,
) -> Option<Vec<T>> {
    let mut of_code = Vec::with_capacity(values.len());
    for code in 0..values.len() {
        of_code.push(read(values.get(code))?);
    }
    Some(codes.iter().map(|&code| of_code[code as usize]).collect())
}

/// Builds a [`TextColumn`] a cell at a time, choosing its storage as it goes: dictionary-encoded
/// while the dictionary pays off, plain text once nearly every value is new.
pub struct ColumnBuilder {
    cells: Building,
    /// Finds a value's code in the dictionary (only while coded).
    lookup: Lookup,
    /// The previous row's value as a key, when it was short: sorted exports repeat a value row
    /// after row.
    last_short: Option<(ShortKey, u16)>,
    /// The most values the dictionary may hold: `MAX_DICTIONARY`, raised once to
    /// `MAX_REPEATED_DICTIONARY` for a column whose values repeat (see `REPEATS`).
    dictionary_limit: usize,
}

/// The look-up tables of a dictionary being built: a value's code by its short key or its hash.
/// Apart from the dictionary's values (in `Building::Coded`), so that both can be borrowed at once.
struct Lookup {
    /// The code of each distinct value longer than 15 bytes, by the value's hash.
    index: HashTable<u16>,
    /// The code of each distinct short value, by its [`ShortKey`]. The table holds only the
    /// codes, two bytes an entry, and the keys are in `short_keys`: a table of (key, code) pairs
    /// took 32 bytes an entry, and the probes into the tables of a few thousand merchant ids,
    /// fees and latencies missed the cache (~30% of `push`).
    short_index: HashTable<u16>,
    /// Each code's short key (`ShortKey::NONE` for a longer value).
    short_keys: Vec<ShortKey>,
    hasher: foldhash::fast::FixedState,
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup {
            index: HashTable::new(),
            short_index: HashTable::new(),
            short_keys: Vec::new(),
            // A fixed seed: the codes, and so the order of first appearance, must not vary
            // between runs. Hash flooding is no concern for a file the user loads themselves.
            hasher: foldhash::fast::FixedState::with_seed(0x5041_594d),
        }
    }
}

impl Lookup {
    /// The code of `cell` (`short`: its short key, if it has one) in `values`, added when new;
    /// `None` when the dictionary already holds `limit` values (the caller grows or leaves it).
    #[inline(always)]
    fn code_of(
        &mut self,
        values: &mut Dictionary,
        cell: &str,
        short: Option<ShortKey>,
        limit: usize,
    ) -> Option<u16> {
        match short {
            Some(key) => {
                let hash = key.hash();
                let short_keys = &self.short_keys;
                if let Some(&code) = self
                    .short_index
                    .find(hash, |&code| short_keys[code as usize] == key)
                {
                    return Some(code);
                }
                let code = values.add(cell, limit)?;
                self.short_keys.push(key);
                let short_keys = &self.short_keys;
                self.short_index
                    .insert_unique(hash, code, |&code| short_keys[code as usize].hash());
                Some(code)
            }
            None => {
                let hash = self.hasher.hash_one(cell);
                if let Some(&code) = self
                    .index
                    .find(hash, |&code| values.get(code as usize) == cell)
                {
                    return Some(code);
                }
                let code = values.add(cell, limit)?;
                // Every value has its place in `short_keys`, so that codes index it.
                self.short_keys.push(ShortKey::NONE);
                let hasher = &self.hasher;
                let values = &*values;
                self.index.insert_unique(hash, code, |&code| {
                    hasher.hash_one(values.get(code as usize))
                });
                Some(code)
            }
        }
    }

    /// Bytes of the tables: a `u16` code and a control byte an entry, and each value's short key.
    fn heap_bytes(&self) -> usize {
        self.index.capacity() * 3
            + self.short_index.capacity() * 3
            + self.short_keys.capacity() * std::mem::size_of::<ShortKey>()
    }
}

/// A value of at most 15 bytes packed with its length into two words, which determine it:
/// equality and hashing become a few integer operations instead of a hash over the bytes and a
/// `memcmp` (a byte loop in wasm). Nearly every value of a low-cardinality column (status, channel,
/// currency, funding source, flags, merchant ids) is this short; the profile of reading 1M rows
/// had ~30% of the time in dictionary look-ups before. Sixteen bytes, not 24 with a separate
/// length: the keys of a column are probed at random, and the smaller they are the more of them
/// stay in the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    head: u64,
    /// The bytes after the first 8 (up to 7), and the length in the top byte.
    tail: u64,
}

/// The 4 bytes at `at`, as one little-endian load.
#[inline(always)]
fn word4(bytes: &[u8], at: usize) -> u64 {
    let b = &bytes[at..at + 4];
    u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The 8 bytes at `at`, as one little-endian load.
#[inline(always)]
fn word8(bytes: &[u8], at: usize) -> u64 {
    let b = &bytes[at..at + 8];
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

impl ShortKey {
    /// The key of no value: the place of a longer value in `ColumnBuilder::short_keys`.
    const NONE: ShortKey = ShortKey {
        head: 0,
        tail: u64::MAX,
    };

    /// The key of `bytes`, when at most 15 bytes long. Up to 7 bytes, two overlapping reads
    /// cover every byte (from the front and from the back); with the length, they are unique to
    /// the value. From 8 bytes, the first 8, and the others shifted down from a read at the back.
    // Inlined by force: the page's wasm is built for size, which would otherwise leave these
    // few instructions behind calls, in the loop over every cell.
    #[inline(always)]
    fn of(bytes: &[u8]) -> Option<ShortKey> {
        let len = bytes.len();
        let (head, tail) = match len {
            0 => (0, 0),
            1..=3 => (
                u64::from(bytes[0])
                    | u64::from(bytes[len / 2]) << 8
                    | u64::from(bytes[len - 1]) << 16,
                0,
            ),
            4..=7 => (word4(bytes, 0) | word4(bytes, len - 4) << 32, 0),
            // The back read's low bytes repeat the head's: shifted out (all of them at 8).
            8..=15 => (
                word8(bytes, 0),
                word8(bytes, len - 8)
                    .checked_shr(8 * (16 - len) as u32)
                    .unwrap_or(0),
            ),
            _ => return None,
        };
        Some(ShortKey {
            head,
            tail: tail | (len as u64) << 56,
        })
    }

    /// A multiply-xorshift mix: the table uses the top bits as tags and the low bits as buckets,
    /// so both must depend on every input bit.
    #[inline(always)]
    fn hash(&self) -> u64 {
        let mixed = self.head.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ self
                .tail
                .wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
                .rotate_left(29);
        mixed ^ (mixed >> 32)
    }
}

/// A column's cells while it is read: coded while the dictionary pays off (`MAX_DICTIONARY`
/// values at most, so two-byte codes); after that, times when every value so far is an ISO
/// date-time of one layout, decimals when every value so far is a decimal of one shape, else
/// plain text. Times and decimals turn to plain text at the first cell that is not one.
enum Building {
    Coded { codes: Vec<u16>, values: Dictionary },
    Plain(Strings),
    Times(TimeCells),
    Decimals(DecimalCells),
}

impl Building {
    fn len(&self) -> usize {
        match self {
            Building::Coded { codes, .. } => codes.len(),
            Building::Plain(strings) => strings.len(),
            Building::Times(times) => times.len(),
            Building::Decimals(decimals) => decimals.len(),
        }
    }
}

impl Default for ColumnBuilder {
    fn default() -> Self {
        ColumnBuilder {
            cells: Building::Coded {
                codes: Vec::new(),
                values: Dictionary::default(),
            },
            lookup: Lookup::default(),
            last_short: None,
            dictionary_limit: MAX_DICTIONARY,
        }
    }
}

impl ColumnBuilder {
    pub fn push(&mut self, cell: &str) -> Result<()> {
        let (codes, values) = match &mut self.cells {
            Building::Coded { codes, values } => (codes, values),
            Building::Plain(strings) => return strings.push(cell),
            Building::Times(times) => {
                if times.push(cell.as_bytes()) {
                    return Ok(());
                }
                self.numbers_to_text()?;
                return self.push(cell);
            }
            Building::Decimals(decimals) => {
                if decimals.push(cell.as_bytes()) {
                    return Ok(());
                }
                self.numbers_to_text()?;
                return self.push(cell);
            }
        };
        let short = ShortKey::of(cell.as_bytes());
        match short {
            Some(key) => {
                if let Some((last, code)) = self.last_short {
                    if last == key {
                        codes.push(code);
                        return Ok(());
                    }
                }
            }
            None => {
                self.last_short = None;
                // Sorted exports repeat a value row after row (one currency, one status): compare
                // with the previous row's value before hashing.
                if let Some(&last) = codes.last() {
                    if values.get(last as usize) == cell {
                        codes.push(last);
                        return Ok(());
                    }
                }
            }
        }
        let Some(code) = self
            .lookup
            .code_of(values, cell, short, self.dictionary_limit)
        else {
            self.dictionary_full()?;
            return self.push(cell);
        };
        if let Some(key) = short {
            self.last_short = Some((key, code));
        }
        codes.push(code);
        Ok(())
    }

    /// Makes room for `rows` rows in all, as many bytes a row as so far for plain text.
    pub fn reserve_rows(&mut self, rows: usize) {
        let more = rows.saturating_sub(self.len());
        match &mut self.cells {
            Building::Coded { codes, .. } => codes.reserve(more),
            Building::Plain(strings) => {
                let per_row = strings.text_per_row();
                strings.ends.reserve(more);
                strings.text.reserve(per_row.saturating_mul(more));
            }
            Building::Times(times) => times.reserve(more),
            Building::Decimals(decimals) => decimals.reserve(more),
        }
    }

    /// The bytes the column will hold once `reserve_rows(rows)` is done: the rows' share (codes,
    /// text, times) for `rows` rows, and the dictionary as it is. Scaling the dictionary and the
    /// unused capacity too overestimated a 4.1M-row file's table by 35%.
    pub fn bytes_for_rows(&self, rows: usize) -> usize {
        match &self.cells {
            Building::Coded { codes, values } => {
                codes.capacity().max(rows) * 2 + values.heap_bytes() + self.index_bytes()
            }
            Building::Plain(strings) => {
                let per_row = strings.text_per_row();
                let more = rows.saturating_sub(strings.len());
                let text = strings
                    .text
                    .capacity()
                    .max(strings.text.len() + per_row * more);
                text + strings.ends.capacity().max(rows) * 4
            }
            Building::Times(times) => times.heap_bytes().max(rows * 8),
            Building::Decimals(decimals) => decimals.heap_bytes().max(rows * 8),
        }
    }

    /// Bytes of the dictionary's look-up tables: a `u16` code and a control byte an entry, and
    /// each value's short key.
    fn index_bytes(&self) -> usize {
        self.lookup.heap_bytes()
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held on the heap so far, dictionary index included.
    pub fn heap_bytes(&self) -> usize {
        match &self.cells {
            Building::Coded { codes, values } => {
                codes.capacity() * 2 + values.heap_bytes() + self.index_bytes()
            }
            Building::Plain(strings) => strings.heap_bytes(),
            Building::Times(times) => times.heap_bytes(),
            Building::Decimals(decimals) => decimals.heap_bytes(),
        }
    }

    /// The dictionary is full: it may grow once if its values repeat, else the column leaves it.
    #[cold]
    fn dictionary_full(&mut self) -> Result<()> {
        if let Building::Coded { codes, values } = &self.cells {
            if self.dictionary_limit < MAX_REPEATED_DICTIONARY
                && codes.len() >= REPEATS * values.len()
            {
                self.dictionary_limit = MAX_REPEATED_DICTIONARY;
                return Ok(());
            }
        }
        self.leave_dictionary()
    }

    /// Leaves the full dictionary for times, when every value in it is a time of one layout (or
    /// empty), for decimals, when every value is a decimal of one shape (or empty), else for
    /// plain text.
    fn leave_dictionary(&mut self) -> Result<()> {
        let Building::Coded { codes, values } = &self.cells else {
            return Ok(());
        };
        let first = (0..values.len())
            .map(|code| values.get(code))
            .find(|value| !value.is_empty())
            .unwrap_or_default()
            .as_bytes();
        let times = Layout::of(first).and_then(|layout| {
            per_row(codes, values, |value| TimeCells::value_of(layout, value))
                .map(|values| TimeCells::from_values(layout, values))
        });
        let decimals = || {
            let scale = DecimalCells::scale_of(first)?;
            per_row(codes, values, |value| DecimalCells::value_of(scale, value))
                .map(|values| DecimalCells::from_values(scale, values))
        };
        let stored = times
            .map(Building::Times)
            .or_else(|| decimals().map(Building::Decimals));
        self.cells = match stored {
            Some(stored) => stored,
            None => {
                let mut strings = Strings::default();
                for &code in codes {
                    strings.push(values.get(code as usize))?;
                }
                Building::Plain(strings)
            }
        };
        self.lookup = Lookup::default();
        self.last_short = None;
        Ok(())
    }

    /// Turns a column of times or decimals into plain text (a cell of another shape came),
    /// every cell as it was written.
    fn numbers_to_text(&mut self) -> Result<()> {
        if !matches!(self.cells, Building::Times(_) | Building::Decimals(_)) {
            return Ok(());
        }
        let mut strings = Strings::default();
        strings.ends.reserve(self.len());
        let mut text = String::with_capacity(25);
        for row in 0..self.len() {
            text.clear();
            match &self.cells {
                Building::Times(times) => times.write(row, &mut text),
                Building::Decimals(decimals) => decimals.write(row, &mut text),
                Building::Coded { .. } | Building::Plain(_) => {}
            }
            strings.push(&text)?;
        }
        self.cells = Building::Plain(strings);
        Ok(())
    }

    #[cfg(test)]
    fn turn_plain(&mut self) -> Result<()> {
        self.numbers_to_text()?;
        if let Building::Coded { codes, values } = &self.cells {
            let mut strings = Strings::default();
            for &code in codes {
                strings.push(values.get(code as usize))?;
            }
            self.cells = Building::Plain(strings);
        }
        Ok(())
    }

    pub fn finish(self) -> TextColumn {
        let cells = match self.cells {
            Building::Coded { mut codes, values } => {
                codes.shrink_to_fit();
                Cells::Coded {
                    codes: Codes::Narrow(codes),
                    values,
                }
            }
            Building::Plain(mut strings) => {
                strings.text.shrink_to_fit();
                strings.ends.shrink_to_fit();
                Cells::Plain(strings)
            }
            Building::Times(mut times) => {
                times.shrink_to_fit();
                Cells::Times(times)
            }
            Building::Decimals(mut decimals) => {
                decimals.shrink_to_fit();
                Cells::Decimals(decimals)
            }
        };
        TextColumn { cells }
    }
}

/// A column of a part of a file read by another stream (see `part`), as its bytes hold it: the
/// part's own storage, borrowed and checked, to be appended to a column of the stream that read
/// the file's start (see [`ColumnBuilder::append_part`]).
pub(super) enum PartCells<'a> {
    /// Each row's code (little-endian `u16`) into `values`.
    Coded {
        codes: &'a [u8],
        values: Vec<&'a str>,
    },
    /// The cells back to back, and each one's end (little-endian `u32`).
    Plain { text: &'a str, ends: &'a [u8] },
    /// Each row's stored time (little-endian `i64`).
    Times { layout: Layout, values: &'a [u8] },
    /// Each row's stored decimal (little-endian `f64`).
    Decimals { scale: u8, values: &'a [u8] },
}

impl<'a> PartCells<'a> {
    pub fn len(&self) -> usize {
        match self {
            PartCells::Coded { codes, .. } => codes.len() / 2,
            PartCells::Plain { ends, .. } => ends.len() / 4,
            PartCells::Times { values, .. } | PartCells::Decimals { values, .. } => {
                values.len() / 8
            }
        }
    }

    /// Reads what [`ColumnBuilder::write_part`] wrote, and checks it: codes within the values,
    /// text ends in order on character boundaries, times that write back as text. `None` for
    /// bytes that do not hold together.
    pub fn read(part: &mut PartReader<'a>) -> Option<PartCells<'a>> {
        match part.u8()? {
            0 => {
                let count = part.count(4)?;
                if count > MAX_REPEATED_DICTIONARY {
                    return None;
                }
                let mut values = Vec::with_capacity(count);
                for _ in 0..count {
                    let len = part.u32()? as usize;
                    values.push(part.text(len)?);
                }
                let rows = part.count(2)?;
                let codes = part.items(rows, 2)?;
                let known = |c: &[u8]| usize::from(u16_le(c)) < values.len();
                codes
                    .chunks_exact(2)
                    .all(known)
                    .then_some(PartCells::Coded { codes, values })
            }
            1 => {
                let rows = part.count(4)?;
                let len = part.count(1)?;
                let text = part.text(len)?;
                let ends = part.items(rows, 4)?;
                let mut previous = 0;
                for end in ends.chunks_exact(4) {
                    let end = u32_le(end) as usize;
                    // False past the text's end too.
                    if end < previous || !text.is_char_boundary(end) {
                        return None;
                    }
                    previous = end;
                }
                (previous == text.len()).then_some(PartCells::Plain { text, ends })
            }
            2 => {
                let layout = Layout::from_bytes([part.u8()?, part.u8()?])?;
                let rows = part.count(8)?;
                let values = part.items(rows, 8)?;
                values
                    .chunks_exact(8)
                    .all(|b| layout.holds(i64_le(b)))
                    .then_some(PartCells::Times { layout, values })
            }
            3 => {
                let scale = part.u8().filter(|&scale| DecimalCells::is_scale(scale))?;
                let rows = part.count(8)?;
                let values = part.items(rows, 8)?;
                values
                    .chunks_exact(8)
                    .all(|b| DecimalCells::holds(scale, f64_le(b)))
                    .then_some(PartCells::Decimals { scale, values })
            }
            _ => None,
        }
    }

    /// Calls `f` with the text of each cell, in row order.
    fn for_each_cell(&self, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
        match self {
            PartCells::Coded { codes, values } => codes
                .chunks_exact(2)
                // Codes were checked to be within the values when read.
                .try_for_each(|code| f(values[usize::from(u16_le(code))])),
            PartCells::Plain { text, ends } => {
                let mut start = 0;
                // Ends were checked to be in order on character boundaries when read.
                ends.chunks_exact(4).try_for_each(|end| {
                    let end = u32_le(end) as usize;
                    let cell = &text[start..end];
                    start = end;
                    f(cell)
                })
            }
            PartCells::Times { values, .. } | PartCells::Decimals { values, .. } => {
                let mut text = String::with_capacity(25);
                values.chunks_exact(8).try_for_each(|value| {
                    text.clear();
                    self.write_number(value, &mut text);
                    f(&text)
                })
            }
        }
    }

    /// Writes the text of one stored value (8 bytes) of a part of times or decimals.
    fn write_number(&self, value: &[u8], out: &mut String) {
        match self {
            PartCells::Times { layout, .. } => TimeCells::write_value(*layout, i64_le(value), out),
            PartCells::Decimals { scale, .. } => {
                DecimalCells::write_value(*scale, f64_le(value), out)
            }
            PartCells::Coded { .. } | PartCells::Plain { .. } => {}
        }
    }
}

/// Appends `values` to `out` as little-endian bytes. Sized once and filled in place: a loop the
/// compiler turns into plain copies, where a growing `extend` a value at a time was several
/// times slower on a part's millions of values.
fn write_le<T: Copy, const N: usize>(out: &mut Vec<u8>, values: &[T], to_le: fn(T) -> [u8; N]) {
    let start = out.len();
    out.resize(start + values.len() * N, 0);
    for (bytes, &value) in out[start..].chunks_exact_mut(N).zip(values) {
        bytes.copy_from_slice(&to_le(value));
    }
}

/// The 8 bytes of `b` as a little-endian `i64` (a part's times).
#[inline(always)]
fn i64_le(b: &[u8]) -> i64 {
    i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The 8 bytes of `b` as a little-endian `f64` (a part's decimals).
#[inline(always)]
fn f64_le(b: &[u8]) -> f64 {
    f64::from_bits(i64_le(b) as u64)
}

impl ColumnBuilder {
    /// Writes the column as it stands, in its own storage, for a part of a file read by another
    /// stream (see `part`): a tag (0 coded, 1 plain, 2 times, 3 decimals), then the
    /// dictionary's values (each with its length) and the codes, the text and each cell's end,
    /// the layout and the times, or the scale and the decimals. Numbers are little-endian;
    /// counts are `u64`.
    pub(super) fn write_part(&self, out: &mut Vec<u8>) {
        let count =
            |out: &mut Vec<u8>, count: usize| out.extend_from_slice(&(count as u64).to_le_bytes());
        match &self.cells {
            Building::Coded { codes, values } => {
                out.push(0);
                count(out, values.len());
                for value in &values.0 {
                    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
                    out.extend_from_slice(value.as_bytes());
                }
                count(out, codes.len());
                write_le(out, codes, u16::to_le_bytes);
            }
            Building::Plain(strings) => {
                out.push(1);
                count(out, strings.len());
                count(out, strings.text.len());
                out.extend_from_slice(strings.text.as_bytes());
                write_le(out, &strings.ends, u32::to_le_bytes);
            }
            Building::Times(times) => {
                out.push(2);
                out.extend_from_slice(&times.layout().to_bytes());
                count(out, times.len());
                write_le(out, times.values(), i64::to_le_bytes);
            }
            Building::Decimals(decimals) => {
                out.push(3);
                out.push(decimals.scale());
                count(out, decimals.len());
                write_le(out, decimals.values(), f64::to_le_bytes);
            }
        }
    }

    /// The bytes `write_part` will write (near enough: to size the part once).
    pub(super) fn part_bytes(&self) -> usize {
        let rows = self.len();
        32 + match &self.cells {
            Building::Coded { values, .. } => rows * 2 + values.heap_bytes(),
            Building::Plain(strings) => strings.text.len() + rows * 4,
            Building::Times(_) | Building::Decimals(_) => rows * 8,
        }
    }

    /// Appends the cells of a part of the file read by another stream, as if each had been
    /// pushed (same text in every cell; the storage may differ from pushing them one by one).
    ///
    /// The common cases are bulk copies: both sides plain (the text and its ends, moved), both
    /// times of one layout (the values), both coded (each of the part's values is given a code
    /// here once, through the dictionary's own limits, then the part's codes are renumbered).
    /// Any other pair, or a dictionary that fills while the part's values are added, falls back
    /// to pushing the part's cells one by one.
    pub(super) fn append_part(&mut self, part: &PartCells<'_>) -> Result<()> {
        match (&mut self.cells, part) {
            (Building::Plain(strings), PartCells::Plain { text, ends }) => {
                strings.append_part(text, ends)
            }
            (Building::Times(times), PartCells::Times { layout, values })
                if times.layout() == *layout =>
            {
                times.reserve(values.len() / 8);
                times.extend_from_le_bytes(values);
                Ok(())
            }
            (Building::Decimals(decimals), PartCells::Decimals { scale, values })
                if decimals.scale() == *scale =>
            {
                decimals.reserve(values.len() / 8);
                decimals.extend_from_le_bytes(values);
                Ok(())
            }
            (Building::Coded { .. }, PartCells::Coded { codes, values }) => {
                let mut code_of = Vec::with_capacity(values.len());
                for value in values {
                    match self.intern(value)? {
                        Some(code) => code_of.push(code),
                        None => return self.push_part(part),
                    }
                }
                let Building::Coded { codes: mine, .. } = &mut self.cells else {
                    return self.push_part(part);
                };
                mine.reserve_exact(codes.len() / 2);
                // Codes were checked to be within the part's values when read.
                mine.extend(
                    codes
                        .chunks_exact(2)
                        .map(|code| code_of[usize::from(u16_le(code))]),
                );
                // The previous row is now the part's last: forget the one it was before.
                self.last_short = None;
                Ok(())
            }
            _ => self.push_part(part),
        }
    }

    /// Pushes the cells of a part one by one.
    fn push_part(&mut self, part: &PartCells<'_>) -> Result<()> {
        part.for_each_cell(|cell| self.push(cell))
    }

    /// The code of `cell` in the dictionary, added if new, as `push` finds or adds it (a full
    /// dictionary grows or is left by the same rules); `None` once the column is not coded.
    fn intern(&mut self, cell: &str) -> Result<Option<u16>> {
        loop {
            let Building::Coded { values, .. } = &mut self.cells else {
                return Ok(None);
            };
            let short = ShortKey::of(cell.as_bytes());
            if let Some(code) = self
                .lookup
                .code_of(values, cell, short, self.dictionary_limit)
            {
                return Ok(Some(code));
            }
            self.dictionary_full()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value up to 16 bytes has its own key: values of each length that differ in any one
    /// byte (the bytes the overlapping reads share included), and values that differ only in
    /// length (zero bytes at the end).
    #[test]
    fn short_keys_tell_every_short_value_apart() {
        let mut values: Vec<Vec<u8>> = Vec::new();
        for len in 0..=15usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            values.push(base.clone());
            for at in 0..len {
                for byte in [0u8, b'Z', 0xff] {
                    let mut changed = base.clone();
                    changed[at] = byte;
                    values.push(changed);
                }
            }
            values.push(vec![0; len]);
        }
        values.sort();
        values.dedup();
        for (i, a) in values.iter().enumerate() {
            let key = ShortKey::of(a).expect("at most 15 bytes");
            for b in &values[i + 1..] {
                assert!(ShortKey::of(b) != Some(key), "{a:?} and {b:?} share a key");
            }
        }
        assert!(ShortKey::of(&[b'x'; 16]).is_none());
    }

    #[test]
    fn repeated_values_are_coded_in_order_of_first_appearance() {
        let column = TextColumn::from_cells(["b", "a", "b", "", "a"]).unwrap();
        let (codes, values) = column.dictionary().expect("few distinct values stay coded");
        assert_eq!(codes, [0, 1, 0, 2, 1]);
        assert_eq!(values.iter().collect::<Vec<_>>(), ["b", "a", ""]);
        assert_eq!(column.iter().collect::<Vec<_>>(), ["b", "a", "b", "", "a"]);
    }

    #[test]
    fn a_column_of_many_values_turns_plain_and_keeps_every_cell() {
        let cells: Vec<String> = (0..MAX_DICTIONARY * 3).map(|i| format!("T{i}")).collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(column.dictionary().is_none());
        assert_eq!(column.len(), cells.len());
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
    }

    #[test]
    fn a_joined_column_of_any_number_of_values_keeps_every_cell() {
        // Few values take two-byte codes; more than 65,536 take four.
        for (distinct, first) in [(3usize, ["v0", "v1", "v2"]), (70_000, ["v0", "v7", "v14"])] {
            let names: Vec<String> = (0..distinct).map(|i| format!("v{i}")).collect();
            let values: Vec<&str> = names.iter().map(String::as_str).collect();
            let codes: Vec<u32> = (0..100_000)
                .map(|row| (row * 7) % distinct as u32)
                .collect();
            let column = TextColumn::from_codes(codes.clone(), &values);
            assert!(codes
                .iter()
                .enumerate()
                .all(|(row, &code)| column.get(row) == values[code as usize]));
            let (codes, values) = column.encode(0..3, false, u32::MAX);
            assert_eq!(
                (codes, values),
                (vec![0, 1, 2], first.map(Cow::Borrowed).to_vec())
            );
        }
    }

    /// Distinct ISO times, one in `empty_every` empty.
    fn times(rows: usize, empty_every: usize) -> Vec<String> {
        (0..rows)
            .map(|i| match i % empty_every {
                0 => String::new(),
                _ => format!(
                    "2025-07-{:02}T{:02}:{:02}:{:02}+08:00",
                    1 + i / 86_400,
                    i / 3600 % 24,
                    i / 60 % 60,
                    i % 60
                ),
            })
            .collect()
    }

    #[test]
    fn a_column_of_iso_times_is_stored_as_times_and_reads_as_its_text() {
        let cells = times(MAX_DICTIONARY * 3, 97);
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(column.is_times());
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
        assert_eq!(column.heap_bytes(), cells.len() * 8);
        let mut parser = TimestampParser::default();
        let read = column.read_times(0..cells.len(), &mut parser);
        for (cell, read) in cells.iter().zip(read) {
            let expected = match cell.is_empty() {
                true => Some(None),
                false => parser.parse(cell).map(Some),
            };
            assert_eq!(read, expected, "{cell}");
        }
        groups_like_its_text(&column, &cells);
    }

    /// A column of numbers (times, decimals) made of `cells`, whose rows 5 and 6 hold distinct
    /// values and row 97 is empty, encodes, counts and maps its cells as their text.
    fn groups_like_its_text(column: &TextColumn, cells: &[String]) {
        let rows = [5, 97, 5, 6];
        let (codes, values) = column.encode(rows, true, u32::MAX);
        assert_eq!(codes, [0, u32::MAX, 0, 1]);
        assert_eq!(values, [cells[5].as_str(), cells[6].as_str()]);
        let counts = column.value_counts(rows, 10).unwrap();
        assert_eq!(counts.len(), 3);
        assert!(counts.contains(&(Cow::from(cells[5].as_str()), 2)));
        assert!(counts.contains(&(Cow::from(""), 1)));
        assert_eq!(column.value_counts(0..100, 10), None);
        let lengths = column.map_cells(rows, |cell| cell.len());
        let expected: Vec<usize> = rows.iter().map(|&row| cells[row].len()).collect();
        assert_eq!(lengths, expected);
    }

    #[test]
    fn a_cell_in_another_layout_turns_a_column_of_times_to_text_losing_nothing() {
        let mut cells = times(MAX_DICTIONARY * 2, 50);
        cells.push("2025-07-01 00:00:00".into());
        cells.extend(times(1000, 3));
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(!column.is_times());
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
        // A time of another layout among the first values: plain text from the start.
        cells[3] = "2025-07-01T00:00:00Z".into();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(!column.is_times());
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
    }

    /// Distinct decimals with two places, some negative, one in `empty_every` empty.
    fn decimals(rows: usize, empty_every: usize) -> Vec<String> {
        (0..rows)
            .map(|i| match i % empty_every {
                0 => String::new(),
                _ if i % 13 == 0 => format!("-{}.{:02}", i / 100, i % 100),
                _ => format!("{}.{:02}", i / 100, i % 100),
            })
            .collect()
    }

    #[test]
    fn a_column_of_decimals_is_stored_as_numbers_and_reads_as_its_text() {
        let cells = decimals(MAX_DICTIONARY * 3, 97);
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        let values = column.stored_decimals().expect("stored as decimals");
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
        assert_eq!(column.heap_bytes(), cells.len() * 8);
        for (cell, value) in cells.iter().zip(values) {
            match crate::number::parse_number(cell, crate::number::Decimal::Point) {
                Some(number) => assert_eq!(number.value.to_bits(), value.to_bits(), "{cell}"),
                None => assert!(cell.is_empty() && value.is_nan()),
            }
        }
        assert_eq!(
            column.empty_cells(),
            cells.iter().filter(|c| c.is_empty()).count()
        );
        groups_like_its_text(&column, &cells);
    }

    #[test]
    fn a_cell_of_another_shape_turns_a_column_of_decimals_to_text_losing_nothing() {
        for other in ["12.5", "12", "1,234.50", "n/a", "007.50"] {
            let mut cells = decimals(MAX_DICTIONARY * 2, 50);
            cells.push(other.into());
            cells.extend(decimals(1000, 3));
            let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
            assert!(column.stored_decimals().is_none(), "{other}");
            assert!(column.iter().eq(cells.iter().map(String::as_str)));
            // Among the first values: plain text from the start.
            cells.swap(3, MAX_DICTIONARY * 2);
            let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
            assert!(column.stored_decimals().is_none(), "{other}");
            assert!(column.iter().eq(cells.iter().map(String::as_str)));
        }
        // Integers stay text: ids and epoch times are read faster that way.
        let integers: Vec<String> = (0..MAX_DICTIONARY * 2).map(|i| i.to_string()).collect();
        let column = TextColumn::from_cells(integers.iter().map(String::as_str)).unwrap();
        assert!(column.stored_decimals().is_none() && column.dictionary().is_none());
    }

    #[test]
    fn values_that_repeat_keep_a_larger_dictionary_and_unique_ones_do_not() {
        // 20,000 merchants, each on 3 rows: 3 rows a value when the first dictionary fills.
        let cells: Vec<String> = (0..60_000).map(|i| format!("M{}", i / 3)).collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        let (_, values) = column.dictionary().expect("repeated ids stay coded");
        assert_eq!(values.len(), 20_000);
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
        // Past the larger dictionary, plain text.
        let cells: Vec<String> = (0..300_000).map(|i| format!("M{}", i / 3)).collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(column.dictionary().is_none());
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
        // Values on fewer than `REPEATS` rows each: plain text at the first dictionary's end.
        let cells: Vec<String> = (0..30_000).map(|i| format!("U{}", i * 2 / 3)).collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(column.dictionary().is_none());
    }

    #[test]
    fn ids_that_repeat_stay_coded_past_the_checks() {
        // 200,000 rows over 5,000 merchants.
        let cells: Vec<String> = (0..200_000)
            .map(|i| format!("M{}", (i * 7) % 5_000))
            .collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        let (_, values) = column.dictionary().expect("ids that repeat stay coded");
        assert_eq!(values.len(), 5_000);
        assert!(column.iter().eq(cells.iter().map(String::as_str)));
    }

    #[test]
    fn work_is_done_once_per_distinct_value_and_codes_follow_the_rows_asked_for() {
        for column in [TextColumn::from_cells(["b", "", "a", "b", "c"]).unwrap(), {
            let mut plain = ColumnBuilder::default();
            plain.turn_plain().unwrap();
            ["b", "", "a", "b", "c"]
                .iter()
                .for_each(|cell| plain.push(cell).unwrap());
            plain.finish()
        }] {
            let mut calls = 0;
            let upper = column.map_cells([3, 0, 2], |cell| {
                calls += 1;
                cell.to_uppercase()
            });
            assert_eq!(upper, ["B", "B", "A"]);
            let coded = column.dictionary().is_some();
            assert_eq!(calls, if coded { 2 } else { 3 });
            let (codes, values) = column.encode([4, 1, 0, 3], true, u32::MAX);
            assert_eq!(codes, [0, u32::MAX, 1, 1]);
            assert_eq!(values, ["c", "b"]);
            let (codes, values) = column.encode([1, 2], false, u32::MAX);
            assert_eq!(
                (codes, values),
                (vec![0, 1], vec![Cow::from(""), "a".into()])
            );
        }
    }

    #[test]
    fn values_are_counted_over_the_rows_asked_for_up_to_the_limit() {
        // A dictionary of 300 values, each in 10 rows: a limit below its size still counts the
        // rows that hold fewer values, and gives up only past the limit.
        let cells: Vec<String> = (0..3_000).map(|i| format!("M{:03}", i % 300)).collect();
        let column = TextColumn::from_cells(cells.iter().map(String::as_str)).unwrap();
        assert!(column.dictionary().is_some());
        let few = [0, 300, 1, 600, 2, 299];
        let mut counts = column.value_counts(few, 4).unwrap();
        counts.sort();
        let expected = [("M000", 3), ("M001", 1), ("M002", 1), ("M299", 1)];
        assert_eq!(counts, expected.map(|(v, n)| (Cow::from(v), n)));
        assert_eq!(column.value_counts(few, 3), None);
        assert_eq!(column.value_counts(0..3_000, 200), None);
        let all = column.value_counts(0..3_000, 300).unwrap();
        assert!(all.len() == 300 && all.iter().all(|(_, n)| *n == 10));
    }

    #[test]
    fn numbered_ids_are_coded_as_any_other_ids() {
        // Numbered ids (`U0001`) mixed with ids of another width or prefix, out of range, not
        // numbers, long and empty: the codes are those of a plain first-appearance count.
        let mut cells: Vec<String> = ["U0001", "U0002", "U0001", "U01", "X0001", "U9999", "U"]
            .into_iter()
            .chain([
                "U00a1", "U0001", "", "U-001", "U0002", "U01", "Ü0001", "U99999",
            ])
            .map(String::from)
            .collect();
        cells.push("U0001".repeat(4));
        cells.extend((0..3_000).map(|i| format!("U{:04}", (i * 7919) % 10_000)));
        cells.extend(["U0001", "U00001", "U0003"].map(String::from));
        cells.extend(
            [
                "U7",
                "U07",
                "U0",
                "U00",
                "U123456789",
                "U1234567890",
                "7",
                "07",
                "0",
            ]
            .map(String::from),
        );
        for first in [
            "U0007",
            "U7",
            "U0",
            "7",
            "0",
            "2088102122524333",
            "plain",
            "",
        ] {
            let cells: Vec<&str> = std::iter::once(first)
                .chain(cells.iter().map(String::as_str))
                .collect();
            let mut plain = ColumnBuilder::default();
            plain.turn_plain().unwrap();
            cells.iter().for_each(|cell| plain.push(cell).unwrap());
            let column = plain.finish();
            for empty_is_missing in [true, false] {
                let mut expected: std::collections::HashMap<&str, u32> = Default::default();
                let mut values = Vec::new();
                let codes: Vec<u32> = cells
                    .iter()
                    .map(|&cell| match cell {
                        "" if empty_is_missing => u32::MAX,
                        _ => *expected.entry(cell).or_insert_with(|| {
                            values.push(cell);
                            values.len() as u32 - 1
                        }),
                    })
                    .collect();
                let rows = 0..cells.len();
                let values: Vec<Cow<str>> = values.into_iter().map(Cow::from).collect();
                assert_eq!(
                    column.encode(rows, empty_is_missing, u32::MAX),
                    (codes, values),
                    "first {first:?}, empty is missing: {empty_is_missing}"
                );
            }
        }
    }

    /// `before` pushed into a column, then `after` pushed into another, written as a part,
    /// read back and appended.
    fn appended(before: &[String], after: &[String]) -> TextColumn {
        let mut main = ColumnBuilder::default();
        before.iter().for_each(|cell| main.push(cell).unwrap());
        let mut part = ColumnBuilder::default();
        after.iter().for_each(|cell| part.push(cell).unwrap());
        let mut bytes = Vec::new();
        part.write_part(&mut bytes);
        assert!(bytes.len() <= part.part_bytes());
        let cells = PartCells::read(&mut PartReader::new(&bytes)).unwrap();
        assert_eq!(cells.len(), after.len());
        main.append_part(&cells).unwrap();
        let column = main.finish();
        assert!(column
            .iter()
            .eq(before.iter().chain(after).map(String::as_str)));
        column
    }

    #[test]
    fn a_part_stored_as_the_column_is_appended_in_bulk_and_keeps_every_cell() {
        let coded = |n: usize, prefix: &str| -> Vec<String> {
            (0..n).map(|i| format!("{prefix}{}", i % 300)).collect()
        };
        // Both coded: one dictionary, the values the part shares found, its new ones added.
        let column = appended(
            &coded(1000, "a"),
            &coded(2000, "a")
                .into_iter()
                .chain(coded(50, "b"))
                .collect::<Vec<_>>(),
        );
        let (_, values) = column.dictionary().expect("still coded");
        assert_eq!(values.len(), 350);
        // Both plain, both times: the same storage.
        let plain = |from: usize| -> Vec<String> {
            (from..from + 3 * MAX_DICTIONARY)
                .map(|i| format!("T{i}"))
                .collect()
        };
        let column = appended(&plain(0), &plain(100_000));
        assert!(column.dictionary().is_none() && !column.is_times());
        let column = appended(&times(3 * MAX_DICTIONARY, 7), &times(3 * MAX_DICTIONARY, 5));
        assert!(column.is_times());
        let column = appended(
            &decimals(3 * MAX_DICTIONARY, 7),
            &decimals(3 * MAX_DICTIONARY, 5),
        );
        assert!(column.stored_decimals().is_some());
        // Decimals of another number of places, or times and decimals: cell by cell.
        let three_places: Vec<String> = (0..3 * MAX_DICTIONARY)
            .map(|i| format!("{}.{:03}", i / 1000, i % 1000))
            .collect();
        appended(&decimals(3 * MAX_DICTIONARY, 7), &three_places);
        appended(
            &times(3 * MAX_DICTIONARY, 7),
            &decimals(3 * MAX_DICTIONARY, 7),
        );
        appended(&decimals(3 * MAX_DICTIONARY, 7), &plain(0));
        // Any other pair, cell by cell.
        appended(&times(3 * MAX_DICTIONARY, 7), &plain(0));
        appended(&plain(0), &coded(10, "x"));
        appended(&coded(10, "x"), &times(3 * MAX_DICTIONARY, 5));
        // A dictionary that must grow or be left for the part's values.
        appended(
            &coded(20_000, "a"),
            &(0..9000).map(|i| format!("n{i}")).collect::<Vec<_>>(),
        );
        appended(
            &(0..8000).map(|i| format!("n{i}")).collect::<Vec<_>>(),
            &(0..9000).map(|i| format!("m{i}")).collect::<Vec<_>>(),
        );
        appended(&[], &[]);
    }

    #[test]
    fn a_part_whose_cells_do_not_hold_together_is_refused() {
        let read = |bytes: &[u8]| PartCells::read(&mut PartReader::new(bytes)).is_none();
        let mut column = ColumnBuilder::default();
        ["a", "b", "a"]
            .iter()
            .for_each(|cell| column.push(cell).unwrap());
        let mut bytes = Vec::new();
        column.write_part(&mut bytes);
        let last = bytes.len() - 2;
        bytes[last] = 2; // A code past the two values.
        assert!(read(&bytes));
        column.turn_plain().unwrap();
        let mut bytes = Vec::new();
        column.write_part(&mut bytes);
        let last = bytes.len() - 4;
        bytes[last] = 2; // The last cell's end before the one above.
        assert!(read(&bytes));
        bytes[last] = 9; // Past the text.
        assert!(read(&bytes));
        assert!(read(&[7]));
        // A decimal that no cell of the column's places reads as: 1.005 among two places.
        let mut column = ColumnBuilder::default();
        decimals(3 * MAX_DICTIONARY, 7)
            .iter()
            .for_each(|cell| column.push(cell).unwrap());
        let mut bytes = Vec::new();
        column.write_part(&mut bytes);
        assert!(PartCells::read(&mut PartReader::new(&bytes)).is_some());
        let last = bytes.len() - 8;
        bytes[last..].copy_from_slice(&1.005f64.to_le_bytes());
        assert!(read(&bytes));
    }
}
