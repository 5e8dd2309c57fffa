//! A part of a file read by another stream, as bytes: what [`CsvStream::finish_part`] writes and
//! [`CsvStream::append_part`] reads.
//!
//! Why bytes of our own and not JSON: the page reads a large file with two workers, each with its
//! own wasm memory, and the helper's rows must cross to the main worker as one transferable
//! buffer. The columns of 500,000 rows are ~40 MB; as raw little-endian numbers and text they are
//! written and read at memory speed, where JSON would take longer than reading the CSV. The small
//! pieces (skip logs, counts, warnings) travel as JSON inside it.
//!
//! Layout: `MAGIC`, the JSON meta's length (u32) and the JSON, the rows' lines (see
//! `Lines::write_part`), each column (see `ColumnBuilder::write_part`), `END`, and a checksum of
//! all that (u64). Everything is checked when read: damaged bytes are an error, never a panic or
//! a wrong table (the checksum catches a changed byte inside a cell's text, which no other check
//! could).
//!
//! [`CsvStream::finish_part`]: super::CsvStream::finish_part
//! [`CsvStream::append_part`]: super::CsvStream::append_part
use super::column::PartCells;
use super::lines::MAX_LINE;
use super::{Body, Lines, MemoryLimit};
use crate::error::{Error, ErrorKind, Result};
use crate::quality::{SkipLog, SkipLogPart, SkipReason};
use serde::{Deserialize, Serialize};

/// The first bytes of a part, with the format's version.
const MAGIC: &[u8; 8] = b"PMPART1\n";
/// The last bytes of a part before its checksum: a part cut short is told from a whole one.
const END: &[u8; 8] = b"PMPARTEN";

/// The small pieces of a part, as JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct Meta {
    /// Columns in the header the part was read with.
    pub width: usize,
    /// That header's names and the delimiter: a part is appended only to a stream of the same.
    pub headers: Vec<String>,
    pub delimiter: u8,
    pub rows_read: u64,
    pub skipped: SkipLogPart,
    pub lines_skipped: SkipLogPart,
    /// Rows held back at the part's end (see `Body::misfits`), lines counted from the part's start.
    pub misfits: Vec<(u64, String)>,
    pub warnings: Vec<String>,
    pub replaced: bool,
    /// The line after the part's last byte, counted from 1 at its start.
    pub end_line: u64,
    /// Bytes of the file the part was read from, and of text given to and consumed by its
    /// tokenizer (for the estimate of the file's rows, see `Body::check_memory`).
    pub bytes: u64,
    pub text: u64,
    pub consumed: u64,
}

/// A part read back and checked: it borrows its column data from the part's bytes.
pub(super) struct Part<'a> {
    pub meta: Meta,
    pub lines: Lines,
    pub columns: Vec<PartCells<'a>>,
}

/// The bytes of a finished resumed stream's `body`.
pub(super) fn write(body: &Body) -> Vec<u8> {
    let meta = Meta {
        width: body.columns.len(),
        headers: body
            .header
            .as_ref()
            .map_or_else(Vec::new, |header| header.names.clone()),
        delimiter: body.delimiter,
        rows_read: body.rows_read,
        skipped: body.skipped.to_part(),
        lines_skipped: body.lines_skipped.to_part(),
        misfits: body.misfits.clone(),
        warnings: body.warnings.clone(),
        replaced: body.replaced,
        end_line: body.line,
        bytes: body.sizes.pushed,
        text: body.sizes.text,
        consumed: body.sizes.consumed,
    };
    // Serialising plain structs of numbers and strings cannot fail.
    let json = serde_json::to_vec(&meta).unwrap_or_default();
    let columns: usize = body.columns.iter().map(|c| c.part_bytes()).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + 4 + json.len() + columns + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    body.lines.write_part(&mut out);
    for column in &body.columns {
        column.write_part(&mut out);
    }
    out.extend_from_slice(END);
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// A checksum of `bytes`: four independent multiply-rotate lanes over 8-byte words (~10 ms for
/// a 40 MB part), mixed at the end with the length and the bytes left over. Not cryptographic:
/// it catches damage, not forgery (the part comes from the page's own worker).
fn checksum(bytes: &[u8]) -> u64 {
    const K: [u64; 4] = [
        0x9E37_79B9_7F4A_7C15,
        0xC2B2_AE3D_27D4_EB4F,
        0x1656_67B1_9E37_79F9,
        0x27D4_EB2F_1656_67C5,
    ];
    let mut lanes = K;
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let word = u64::from_le_bytes([
                word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
            ]);
            *lane = (*lane ^ word).wrapping_mul(K[0]).rotate_left(29);
        }
    }
    let mut sum = bytes.len() as u64;
    for (i, lane) in lanes.iter().enumerate() {
        sum = (sum ^ lane).wrapping_mul(K[i]).rotate_left(31);
    }
    for &byte in blocks.remainder() {
        sum = (sum ^ u64::from(byte)).wrapping_mul(K[1]).rotate_left(23);
    }
    sum ^ (sum >> 29)
}

/// Reads and checks a part.
pub(super) fn read(bytes: &[u8]) -> Result<Part<'_>> {
    let summed = bytes.len().checked_sub(8).ok_or_else(damaged)?;
    let (bytes, sum) = bytes.split_at(summed);
    if u64::from_le_bytes(sum.try_into().map_err(|_| damaged())?) != checksum(bytes) {
        return Err(damaged());
    }
    let mut part = PartReader { bytes };
    read_checked(&mut part).ok_or_else(damaged)
}

fn read_checked<'a>(part: &mut PartReader<'a>) -> Option<Part<'a>> {
    if part.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let json_len = part.u32()? as usize;
    let meta: Meta = serde_json::from_slice(part.take(json_len)?).ok()?;
    let lines_ok = (1..=MAX_LINE).contains(&meta.end_line)
        && meta
            .misfits
            .iter()
            .all(|&(line, _)| (1..=MAX_LINE).contains(&line))
        && meta.rows_read <= MAX_LINE;
    if !lines_ok {
        return None;
    }
    let lines = Lines::read_part(part)?;
    let mut columns = Vec::with_capacity(meta.width.min(part.bytes.len()));
    for _ in 0..meta.width {
        let column = PartCells::read(part)?;
        if column.len() != lines.len() {
            return None;
        }
        columns.push(column);
    }
    if part.take(END.len())? != END || !part.bytes.is_empty() {
        return None;
    }
    Some(Part {
        meta,
        lines,
        columns,
    })
}

/// The error for bytes that are not a whole part.
pub(super) fn damaged() -> Error {
    Error::new(ErrorKind::InvalidOption(
        "the part of the file read by the second worker is damaged or incomplete".into(),
    ))
}

/// Reads a part's bytes front to back; every read is `None` past the end.
pub(super) struct PartReader<'a> {
    bytes: &'a [u8],
}

impl<'a> PartReader<'a> {
    #[cfg(test)]
    pub fn new(bytes: &'a [u8]) -> PartReader<'a> {
        PartReader { bytes }
    }

    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.bytes.len() {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        Some(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }

    /// A count of items of at least `item_bytes` bytes each that follow: no more than the bytes
    /// left can hold, so that a damaged count does not reserve memory for nothing.
    pub fn count(&mut self, item_bytes: usize) -> Option<usize> {
        let count = usize::try_from(self.u64()?).ok()?;
        (count.checked_mul(item_bytes.max(1))? <= self.bytes.len()).then_some(count)
    }

    /// The bytes of `count` items of `item_bytes` bytes each.
    pub fn items(&mut self, count: usize, item_bytes: usize) -> Option<&'a [u8]> {
        self.take(count.checked_mul(item_bytes)?)
    }

    /// `len` bytes of UTF-8 text.
    pub fn text(&mut self, len: usize) -> Option<&'a str> {
        std::str::from_utf8(self.take(len)?).ok()
    }
}

impl Body {
    /// Checks that `part` can be appended here (see `append_part`) without changing anything:
    /// its skip logs with the lines moved past this stream's, and the memory it would take.
    pub(super) fn accept_part(
        &self,
        part: &mut Part<'_>,
        limit: Option<MemoryLimit>,
    ) -> Result<(SkipLog, SkipLog)> {
        let names = self.header.as_ref().map(|header| &header.names);
        if part.meta.width != self.columns.len()
            || names != Some(&part.meta.headers)
            || part.meta.delimiter != self.delimiter
        {
            return Err(Error::new(ErrorKind::InvalidOption(
                "the part of the file was read with another header".into(),
            )));
        }
        let shift = self.line - 1;
        let take = |log: &mut SkipLogPart| {
            SkipLog::from_part(std::mem::take(log), &self.file, shift).ok_or_else(damaged)
        };
        let skipped = take(&mut part.meta.skipped)?;
        let lines_skipped = take(&mut part.meta.lines_skipped)?;
        if let Some(limit) = limit {
            // As `check_memory` sizes the columns: refused before the memory is taken, since a
            // wasm memory never shrinks.
            let kept = self.lines.len() + part.lines.len();
            let rows = (self.rows_read + part.meta.rows_read).max(self.expected_rows.unwrap_or(0));
            let columns: usize = self.columns.iter().map(|c| c.bytes_for_rows(kept)).sum();
            let projected = (columns + self.lines.heap_bytes() + part.lines.heap_bytes()) as u64;
            if projected.saturating_add(rows.saturating_mul(limit.per_row)) > limit.bytes {
                return Err(Error::new(ErrorKind::TooLarge {
                    limit_bytes: limit.bytes,
                    rows: self.rows_read,
                }));
            }
        }
        Ok((skipped, lines_skipped))
    }

    /// Appends a part read by another stream from where this one's bytes end (see
    /// `CsvStream::append_part`), after `accept_part` gave its skip logs.
    pub(super) fn append_part(
        &mut self,
        part: Part<'_>,
        (skipped, lines_skipped): (SkipLog, SkipLog),
        limit: Option<MemoryLimit>,
    ) -> Result<()> {
        let Part {
            meta,
            lines,
            columns,
        } = part;
        // The part's line 1 is the line this stream's next byte is on.
        let shift = self.line - 1;
        // Rows held back here were data rows after all if the part has a good row (whose reading
        // counted it in `rows_read`; held-back rows are counted only once they are let go), as
        // reading on here would have found.
        if meta.rows_read > 0 {
            for (line, detail) in self.misfits.drain(..) {
                self.rows_read += 1;
                self.skipped
                    .add(SkipReason::WrongFieldCount, &self.file, line, None, detail);
            }
        }
        self.rows_read += meta.rows_read;
        self.skipped.extend(&skipped);
        self.lines_skipped.extend(&lines_skipped);
        // The part's own held-back rows stay held back: the file's rows after it decide.
        self.misfits.extend(
            meta.misfits
                .into_iter()
                .map(|(line, detail)| (line + shift, detail)),
        );
        for (column, cells) in self.columns.iter_mut().zip(&columns) {
            column.append_part(cells)?;
        }
        self.lines.append_shifted(&lines, shift);
        for warning in meta.warnings {
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        self.replaced |= meta.replaced;
        self.line += meta.end_line - 1;
        self.sizes.pushed += meta.bytes;
        self.sizes.text += meta.text;
        self.sizes.consumed += meta.consumed;
        self.check_memory(limit)
    }
}
