//! Ingestion: CSV bytes -> a table of text cells, with a record of everything that was skipped.
//!
//! This stage decides only the file's shape (encoding, delimiter, header); what a column *means*
//! is decided later by `schema`, so that the user can change a mapping without re-reading the file.
//!
//! A file is read as a stream ([`CsvStream`]): the host hands it over in chunks of any size (the
//! page's worker reads a `File` slice by slice; the CLI reads a file or stdin), so it never has to
//! be in memory whole, and progress can be shown while it loads.
mod column;
mod decimals;
mod decode;
mod lines;
mod magic;
mod part;
mod plain;
mod times;

pub use column::{ColumnBuilder, TextColumn};
pub use lines::Lines;
pub use magic::FileFormat;

use crate::error::{Error, ErrorKind, Result};
use crate::quality::{SkipLog, SkipReason};
use decode::Decoder;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The delimiters we recognise, in order of preference when two fit equally well.
const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How much of the file the dialect sniffer looks at, and how much the stream gathers before it
/// decides the encoding and the dialect.
const SNIFF_BYTES: usize = 64 * 1024;
/// How many records the dialect sniffer compares.
const SNIFF_RECORDS: usize = 50;
/// How often (in data rows) the stream compares its memory with the limit.
const MEMORY_CHECK_ROWS: u64 = 1 << 14;
/// The most columns a header may have. Payment exports have 10 to 100 (the widest we know,
/// settlement reports, ~250); 2,000 leaves room for any real one. Past that a file is almost
/// surely not a transactions table, and it would cost: each column is a builder with its own
/// dictionary and buffers, sized for the whole file (at 2 bytes a cell at least, 2,000 columns
/// take 4 KB a row, so ~200,000 rows already fill the page's memory), and the page lists every
/// column in each mapping, filter and segment menu. A data row with more fields than this is
/// skipped as having the wrong field count, and its fields are counted, not kept.
pub const MAX_COLUMNS: usize = 2000;
/// The most bytes one record (a line, or several joined by a quoted line break) may take. Real
/// records are under a kilobyte, a few KB with a JSON payload column; 16 MiB is far above any of
/// them. It bounds what one record holds in memory (a wasm memory never shrinks), and how far an
/// unclosed quote, which would swallow the rest of the file as one cell, is read before it is
/// reported.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// How the file was read: shown to the user in the data-quality panel.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dialect {
    pub encoding: String,
    pub delimiter: String,
    /// 1-based line of the header row.
    pub header_line: u64,
}

/// A loaded file: header, columns of text, and for each kept row the file line it came from.
#[derive(Debug, Clone)]
pub struct RawTable {
    pub file: String,
    pub dialect: Dialect,
    pub headers: Vec<String>,
    /// Shared, so that a table with joined or derived columns added is a cheap copy of this one.
    pub columns: Vec<Arc<TextColumn>>,
    /// How many of `columns` come from the file itself; the rest were added (joined, derived).
    pub file_columns: usize,
    /// 1-based file line where each kept row starts (for messages about its cells).
    pub lines: Arc<Lines>,
    /// Data records found after the header, kept or not.
    pub rows_read: u64,
    /// Data records this stage could not keep, by reason.
    pub skipped: SkipLog,
    /// Lines that are not data: notes before the header, summaries after the data.
    pub lines_skipped: SkipLog,
    pub warnings: Vec<String>,
}

impl RawTable {
    /// A table of `headers` without rows: what formulas are checked against when the rows are
    /// not held (a streamed file's).
    pub fn of_headers(file: &str, headers: &[String]) -> RawTable {
        RawTable {
            file: file.to_string(),
            dialect: Dialect {
                encoding: "UTF-8".into(),
                delimiter: ",".into(),
                header_line: 1,
            },
            headers: headers.to_vec(),
            columns: (headers.iter())
                .map(|_| Arc::new(TextColumn::from_codes(Vec::new(), &[""])))
                .collect(),
            file_columns: headers.len(),
            lines: Arc::default(),
            rows_read: 0,
            skipped: SkipLog::default(),
            lines_skipped: SkipLog::default(),
            warnings: Vec::new(),
        }
    }

    pub fn row_count(&self) -> usize {
        self.lines.len()
    }

    /// The 1-based file line where row `row` starts (0 for a row past the end).
    pub fn line(&self, row: usize) -> u64 {
        self.lines.get(row).unwrap_or(0)
    }

    /// The 1-based column number of column `index` in the file, for messages; `None` for a
    /// column that is not the file's own (joined from a lookup, or derived).
    pub fn column_number(&self, index: usize) -> Option<u64> {
        (index < self.file_columns).then_some(index as u64 + 1)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|header| header == name)
    }

    /// Bytes the table holds on the heap (cells, dictionaries, line numbers).
    pub fn heap_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.heap_bytes()).sum::<usize>() + self.lines.heap_bytes()
    }
}

/// Reads a CSV file's bytes. `file` is the name used in messages.
///
/// Real exports are not tidy: notes may precede the header (wallet bill exports), summary lines
/// may follow the data, a trailing delimiter may add an empty column, and cells may be padded
/// with spaces or tabs. All of that is recognised here, and every line not loaded is accounted
/// for: data rows in `skipped`, notes and summaries in `lines_skipped`.
///
/// Without the `legacy-encodings` feature, a GB18030 file is refused with
/// [`ErrorKind::NeedsDecoding`]; see [`read_decoded_csv`].
pub fn read_csv(file: &str, bytes: &[u8]) -> Result<RawTable> {
    let mut stream = CsvStream::new(file);
    // The whole file is here: its columns are sized once, without growth by doubling.
    stream.expect_bytes(bytes.len() as u64);
    push_in_chunks(&mut stream, bytes)?;
    stream.finish()
}

/// How much of a file in memory [`read_csv`] hands the stream at a time.
const READ_CHUNK: usize = 1 << 20;

/// Pushes `bytes` a megabyte at a time rather than in one call. The result is the same (a
/// stream reads the same table however the file is cut), but in the browser it is faster: V8
/// compiles a wasm function first with its baseline compiler and swaps in the optimised code
/// only for the function's next call (no on-stack replacement), so one call over the whole file
/// would run the reading loop unoptimised from the first byte to the last.
fn push_in_chunks(stream: &mut CsvStream, bytes: &[u8]) -> Result<()> {
    bytes
        .chunks(READ_CHUNK)
        .try_for_each(|chunk| stream.push(chunk))
}

/// Reads a CSV file that the host has decoded to UTF-8 from `encoding`, after [`read_csv`]
/// refused it with [`ErrorKind::NeedsDecoding`] (the page's worker decodes GB18030 with the
/// browser's `TextDecoder`). `encoding` is the name the data-quality panel shows.
pub fn read_decoded_csv(file: &str, utf8: &[u8], encoding: &str) -> Result<RawTable> {
    let mut stream = CsvStream::decoded(file, encoding);
    stream.expect_bytes(utf8.len() as u64);
    push_in_chunks(&mut stream, utf8)?;
    stream.finish()
}

/// Bytes of a file pushed so far, and its size when known (see [`CsvStream::expect_bytes`]);
/// bytes of text (after decoding) given to the tokenizer, and consumed by it.
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    pushed: u64,
    expected: Option<u64>,
    text: u64,
    consumed: u64,
}

/// See [`CsvStream::with_memory_limit`].
#[derive(Debug, Clone, Copy)]
struct MemoryLimit {
    bytes: u64,
    per_row: u64,
}

/// How far a stream has got, for a progress bar.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Progress {
    /// Bytes pushed so far.
    pub bytes: u64,
    /// Data records read so far (kept or skipped).
    pub rows: u64,
    /// Bytes the table holds so far.
    pub memory_bytes: u64,
}

/// Reads a CSV file pushed in chunks of any size: [`CsvStream::push`] each chunk in order, then
/// [`CsvStream::finish`]. The result is the same as [`read_csv`] on the whole file, however the
/// file is cut.
///
/// The first 64 KiB are gathered before anything is read, to decide the encoding, the delimiter
/// and the header row from them. After that, each chunk is tokenised (csv-core) straight into
/// the columns; nothing of the file is kept but the cells.
pub struct CsvStream {
    file: String,
    /// The encoding name when the host has decoded the bytes to UTF-8 already.
    host_encoding: Option<String>,
    memory_limit: Option<MemoryLimit>,
    /// The file's size, when the host knows it (see `expect_bytes`).
    expected_bytes: Option<u64>,
    bytes: u64,
    stage: Stage,
    /// Made by [`CsvStream::resume`]: it reads a part of a file, and ends with `finish_part`.
    resumed: bool,
    /// A part was appended (see [`CsvStream::append_part`]): the tokenizer's line count no longer
    /// matches the file's, so no bytes may follow, only more parts and `finish`.
    appended: bool,
}

/// What a stream needs to read a part of a file that starts at a record boundary, after another
/// stream has read the header (see [`CsvStream::resume`]).
///
/// Why: the page reads a large file with two workers, each with its own wasm memory. The helper
/// reads the file's second half with a stream resumed from this (the main stream's continuation,
/// sent to it as JSON), so that it tokenises and stores its rows exactly as the main stream would:
/// same delimiter, same header width and trailing unnamed columns, same file name in messages.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Continuation {
    /// The file's name, for messages.
    pub file: String,
    /// The encoding shown to the user (a continuation is only given for UTF-8).
    pub encoding: String,
    pub delimiter: u8,
    /// The header's names, made unique.
    pub headers: Vec<String>,
    /// Unnamed columns at the header's end (see `Header::unnamed_tail`).
    pub unnamed_tail: usize,
    /// The header's 1-based line in the file.
    pub header_line: u64,
    /// Every name of the header is blank.
    pub blank: bool,
}

enum Stage {
    /// The first bytes, gathered until there are enough to sniff.
    Head(Vec<u8>),
    Body(Box<Body>),
    /// An error was returned: the stream reads no more.
    Failed,
}

impl CsvStream {
    pub fn new(file: &str) -> CsvStream {
        CsvStream {
            file: file.to_string(),
            host_encoding: None,
            memory_limit: None,
            expected_bytes: None,
            bytes: 0,
            stage: Stage::Head(Vec::new()),
            resumed: false,
            appended: false,
        }
    }

    /// What a stream needs to read the rest of this file from a record boundary on (see
    /// [`CsvStream::resume`]): `Some` once the header is known, for a file read as UTF-8. `None`
    /// before that, and for UTF-16, GB18030 or text the host decoded: their bytes cannot be cut
    /// at any line break and read apart (the host then reads the file with one stream).
    pub fn continuation(&self) -> Option<Continuation> {
        let Stage::Body(body) = &self.stage else {
            return None;
        };
        let header = body.header.as_ref()?;
        let utf8 = matches!(body.decoder, Decoder::Utf8) && self.host_encoding.is_none();
        utf8.then(|| Continuation {
            file: self.file.clone(),
            encoding: body.encoding.clone(),
            delimiter: body.delimiter,
            headers: header.names.clone(),
            unnamed_tail: header.unnamed_tail,
            header_line: header.line,
            blank: header.blank,
        })
    }

    /// A stream that reads a part of a file: its first byte starts a record (it follows a line
    /// break that ends one), and the header is `continuation`'s. Nothing is sniffed, no
    /// byte-order mark is looked for, and lines are counted from 1 at the part's start. Push the
    /// part's bytes, then [`CsvStream::finish_part`] gives them to the stream that read the
    /// file's start, which appends them ([`CsvStream::append_part`]).
    ///
    /// Why: a second worker reads the second half of a large file at the same time as the first
    /// reads the first half.
    pub fn resume(continuation: Continuation) -> CsvStream {
        let Continuation {
            file,
            encoding,
            delimiter,
            headers,
            unnamed_tail,
            header_line,
            blank,
        } = continuation;
        let shape = Shape {
            delimiter,
            header_record: 0,
        };
        let mut body = Body::new(file.clone(), encoding, shape, Decoder::Utf8);
        body.columns = headers.iter().map(|_| ColumnBuilder::default()).collect();
        body.header = Some(Header {
            names: headers,
            line: header_line,
            unnamed_tail,
            blank,
        });
        // csv-core drops a UTF-8 byte-order mark at the start of the first input it is given; a
        // part's first record may start with U+FEFF, which reading the whole file keeps. Asking it
        // for a record with no room for output marks the input as begun and consumes nothing.
        let _ = body.reader.read_record(b"x", &mut [], &mut [0]);
        CsvStream {
            resumed: true,
            stage: Stage::Body(Box::new(body)),
            ..CsvStream::new(&file)
        }
    }

    /// True when the bytes pushed so far end at a record boundary: the tokenizer is not inside a
    /// record (nor a quoted field that spans lines), and the header is known. The host asks
    /// after pushing the bytes up to a line break where another stream started a part; when
    /// false (the line break was inside a quoted field), it pushes the rest of the file itself.
    pub fn at_record_boundary(&self) -> bool {
        match &self.stage {
            // A quoted line break is written into the record, so a record cut by the end of
            // the bytes has something in it; and a record begun (even by a lone quote) has a
            // line. After a record's terminator csv-core waits in a state that starts the next
            // one as a fresh reader does.
            Stage::Body(body) => {
                body.header.is_some()
                    && !body.ended
                    && body.record_len == 0
                    && body.ends_len == 0
                    && body.record_line.is_none()
            }
            Stage::Head(_) | Stage::Failed => false,
        }
    }

    /// Ends a stream made by [`CsvStream::resume`]: reads what is left and returns its rows and
    /// everything recorded about them as bytes, for [`CsvStream::append_part`] on the stream that
    /// read the file's start. Bytes, not a table: they cross from one worker to another as one
    /// transferable buffer (see `part` for the layout).
    pub fn finish_part(mut self) -> Result<Vec<u8>> {
        if !self.resumed {
            return Err(self.place(Error::new(ErrorKind::InvalidOption(
                "only a resumed stream reads a part of a file".into(),
            ))));
        }
        let limit = self.memory_limit;
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Body(mut body) => {
                body.feed(&[], true, limit).map_err(|e| self.place(e))?;
                Ok(part::write(&body))
            }
            _ => Err(self.failed()),
        }
    }

    /// Appends a part of the file read by another stream (the bytes of its
    /// [`CsvStream::finish_part`]), which starts where the bytes pushed here end: the result is
    /// the table reading the whole file here would give. The part's lines are moved past the
    /// lines read here; rows held back here as possible summary lines become skipped rows if the
    /// part has a good row, and the part's own held-back rows stay held back; the memory limit
    /// is checked with the part's rows in.
    ///
    /// Requires [`CsvStream::at_record_boundary`]. An error for a part that is damaged or does
    /// not fit this stream leaves the stream as it was (the host can push the rest of the file
    /// instead); only a memory limit reached fails it. No bytes may be pushed after a part;
    /// more parts may be appended, then [`CsvStream::finish`].
    pub fn append_part(&mut self, part: &[u8]) -> Result<()> {
        if self.resumed || self.continuation().is_none() || !self.at_record_boundary() {
            return Err(self.place(Error::new(ErrorKind::InvalidOption(
                "a part of the file can only follow a whole record of a UTF-8 file".into(),
            ))));
        }
        let mut part = part::read(part).map_err(|e| self.place(e))?;
        let limit = self.memory_limit;
        let accepted = match &self.stage {
            Stage::Body(body) => body.accept_part(&mut part, limit),
            _ => Err(self.failed()),
        };
        let logs = accepted.map_err(|e| self.place(e))?;
        let bytes = part.meta.bytes;
        let result = match &mut self.stage {
            Stage::Body(body) => body.append_part(part, logs, limit),
            _ => Err(self.failed()),
        };
        self.fail_on(result)?;
        self.bytes += bytes;
        self.appended = true;
        Ok(())
    }

    /// A stream of UTF-8 text that the host decoded from `encoding` (see [`read_decoded_csv`]).
    pub fn decoded(file: &str, encoding: &str) -> CsvStream {
        CsvStream {
            host_encoding: Some(encoding.to_string()),
            ..CsvStream::new(file)
        }
    }

    /// Stops with [`ErrorKind::TooLarge`] once the table, plus `per_row` bytes for each row read,
    /// would take more than `bytes`: the page sets this so that a file too big for the browser
    /// gets a message, not a crashed tab. `per_row` reserves the room of what is built from the
    /// table afterwards (typed columns, the calendar, a report).
    pub fn with_memory_limit(mut self, bytes: u64, per_row: u64) -> CsvStream {
        self.memory_limit = Some(MemoryLimit { bytes, per_row });
        self
    }

    /// Tells the stream the file's size in bytes. After the first rows it then sizes the
    /// columns for the whole file at once, as estimated from the bytes per row so far: no
    /// memory is lost to growth by doubling (up to half of it, and copies on each growth), and a
    /// memory limit refuses a file that will not fit after its first 16,384 rows rather than
    /// part way through it.
    pub fn expect_bytes(&mut self, total: u64) {
        self.expected_bytes = Some(total);
    }

    pub fn progress(&self) -> Progress {
        let (rows, memory_bytes) = match &self.stage {
            Stage::Body(body) => (body.rows_read, body.heap_bytes() as u64),
            Stage::Head(head) => (0, head.capacity() as u64),
            Stage::Failed => (0, 0),
        };
        Progress {
            bytes: self.bytes,
            rows,
            memory_bytes,
        }
    }

    /// Reads the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        if self.appended {
            return Err(self.place(Error::new(ErrorKind::InvalidOption(
                "no bytes may follow a part of the file appended to the stream".into(),
            ))));
        }
        self.bytes += chunk.len() as u64;
        let result = match &mut self.stage {
            Stage::Head(head) => {
                // Only the head is gathered; the rest of the chunk is read in place.
                let wanted = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..wanted]);
                if head.len() < SNIFF_BYTES {
                    return Ok(());
                }
                let head = std::mem::take(head);
                let limit = self.memory_limit;
                let (pushed, expected) = (self.bytes, self.expected_bytes);
                self.start(&head, false)
                    .and_then(|()| match &mut self.stage {
                        Stage::Body(body) => {
                            (body.sizes.pushed, body.sizes.expected) = (pushed, expected);
                            body.feed(&chunk[wanted..], false, limit)
                        }
                        _ => Ok(()),
                    })
            }
            Stage::Body(body) => {
                (body.sizes.pushed, body.sizes.expected) = (self.bytes, self.expected_bytes);
                body.feed(chunk, false, self.memory_limit)
            }
            Stage::Failed => return Err(self.failed()),
        };
        self.fail_on(result)
    }

    /// The rows kept so far as a table, the stream reading on from there: for a host that folds
    /// a file into state whose size does not depend on its rows (`crate::stream`), where
    /// `finish` would hold every row. `None` before the header is known, or after an error.
    ///
    /// The table's `rows_read`, `skipped` and `lines_skipped` count what was read since the
    /// last table taken, so that the tables' sums are the file's. Rows held back as possible
    /// summary lines stay in the stream until a good row or the end decides what they are, and
    /// warnings come with the last table, from `finish`.
    pub fn take_rows(&mut self) -> Option<RawTable> {
        let Stage::Body(body) = &mut self.stage else {
            return None;
        };
        let header = body.header.as_ref()?;
        let columns = body
            .columns
            .iter_mut()
            .map(|column| std::mem::take(column).finish())
            .collect();
        let (headers, columns) = drop_empty_tail(header, columns);
        let rows_read = body.rows_read - body.rows_taken;
        body.rows_taken = body.rows_read;
        Some(RawTable {
            file: body.file.clone(),
            dialect: Dialect {
                encoding: body.encoding.clone(),
                delimiter: delimiter_name(body.delimiter).to_string(),
                header_line: header.line,
            },
            file_columns: headers.len(),
            headers,
            columns: columns.into_iter().map(Arc::new).collect(),
            lines: Arc::new(std::mem::take(&mut body.lines)),
            rows_read,
            skipped: std::mem::take(&mut body.skipped),
            lines_skipped: std::mem::take(&mut body.lines_skipped),
            warnings: Vec::new(),
        })
    }

    /// From now on, stores the cells of the columns marked `true` (by their place in the
    /// header) as empty: for a host that reads only some columns of a file too large to hold
    /// (the streamed report reads a batch's columns of the roles it computes with). Rows are
    /// kept or skipped as before: that is decided on every cell.
    pub fn leave_columns(&mut self, unread: &[bool]) {
        if let Stage::Body(body) = &mut self.stage {
            body.unread = unread.to_vec();
        }
    }

    /// Rows kept since the last table taken (see [`CsvStream::take_rows`]).
    pub fn rows_kept(&self) -> usize {
        match &self.stage {
            Stage::Body(body) => body.lines.len(),
            _ => 0,
        }
    }

    /// Reads what is left and returns the table.
    pub fn finish(mut self) -> Result<RawTable> {
        if let Stage::Head(head) = &mut self.stage {
            let head = std::mem::take(head);
            let started = self.start(&head, true);
            self.fail_on(started)?;
        }
        let limit = self.memory_limit;
        match std::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Body(mut body) => {
                body.feed(&[], true, limit).map_err(|e| self.place(e))?;
                body.into_table().map_err(|e| self.place(e))
            }
            _ => Err(self.failed()),
        }
    }

    /// Decides the encoding and the dialect from the first bytes, then reads them.
    fn start(&mut self, head: &[u8], complete: bool) -> Result<()> {
        let mut detected = match &self.host_encoding {
            Some(_) => decode::Detected {
                decoder: Decoder::Utf8,
                encoding: "UTF-8",
                skip: if head.starts_with(b"\xEF\xBB\xBF") {
                    3
                } else {
                    0
                },
                warning: None,
            },
            None => decode::detect(head, complete)?,
        };
        let encoding = self
            .host_encoding
            .clone()
            .unwrap_or_else(|| detected.encoding.to_string());
        let head = &head[detected.skip..];
        let mut buffer = Vec::new();
        let (text, replaced) = detected.decoder.decode(head, complete, &mut buffer);
        let sample = String::from_utf8_lossy(text);
        if complete && sample.trim().is_empty() {
            return Err(Error::new(ErrorKind::Empty));
        }
        // Sniff whole lines only: the head may end inside one.
        let sample = match sample.rfind('\n') {
            Some(newline) if !complete => &sample[..newline],
            _ => &sample[..],
        };
        let shape = sniff(sample);
        let mut body = Body::new(self.file.clone(), encoding, shape, detected.decoder);
        body.warnings.extend(detected.warning.take());
        body.replaced |= replaced;
        body.read(text, complete, self.memory_limit)?;
        self.stage = Stage::Body(Box::new(body));
        Ok(())
    }

    fn fail_on(&mut self, result: Result<()>) -> Result<()> {
        result.map_err(|e| {
            self.stage = Stage::Failed;
            self.place(e)
        })
    }

    fn place(&self, error: Error) -> Error {
        match error.file {
            Some(_) => error,
            None => error.in_file(&self.file),
        }
    }

    fn failed(&self) -> Error {
        self.place(Error::new(ErrorKind::InvalidOption(
            "the file could not be read; load it again".into(),
        )))
    }
}

/// The reading state of a stream once its dialect is known.
struct Body {
    file: String,
    encoding: String,
    delimiter: u8,
    decoder: Decoder,
    /// Bytes decoded from the current chunk (when the file is not UTF-8).
    decoded: Vec<u8>,
    /// Bytes were replaced by U+FFFD while decoding or validating.
    replaced: bool,
    /// The end of the file has been read.
    ended: bool,
    reader: csv_core::Reader,
    /// The record being read: its field bytes, and each field's end in them.
    record: Vec<u8>,
    /// Each field's trimmed (start, end) in the record's text, reused from record to record.
    spans: Vec<(usize, usize)>,
    ends: Vec<usize>,
    record_len: usize,
    ends_len: usize,
    /// Bytes of the file the current record has taken so far (see `MAX_RECORD_BYTES`).
    record_bytes: usize,
    /// Fields of the current record let go (with their ends) once it had `MAX_COLUMNS`: such a
    /// record is refused or skipped, so only their count matters. And the end of the last one.
    dropped_fields: usize,
    dropped_end: usize,
    /// The 1-based line of the next byte, and the line the current record started on.
    line: u64,
    record_line: Option<u64>,
    /// csv-core stands between two records: the next line may be split without it (`plain`).
    between_records: bool,
    /// Each field's end in the plain line being stored, reused from line to line.
    plain_ends: Vec<usize>,
    /// Records before the header row still to pass over.
    records_before_header: usize,
    /// Bytes of the file pushed so far and its size, for `expected_rows`.
    sizes: Sizes,
    /// The rows the file is estimated to hold, once the columns have been sized for them.
    expected_rows: Option<u64>,
    header: Option<Header>,
    columns: Vec<ColumnBuilder>,
    lines: Lines,
    rows_read: u64,
    /// Of `rows_read`, the records of the tables already taken (`CsvStream::take_rows`).
    rows_taken: u64,
    /// Columns whose cells are stored empty (`CsvStream::leave_columns`).
    unread: Vec<bool>,
    skipped: SkipLog,
    lines_skipped: SkipLog,
    /// Rows that do not fit the header are held back: if no good row follows them, they are the
    /// file's closing summary lines, not bad data rows.
    misfits: Vec<(u64, String)>,
    warnings: Vec<String>,
}

struct Header {
    names: Vec<String>,
    line: u64,
    /// Unnamed columns at the end of the header usually come from a trailing delimiter; rows
    /// may then omit them, and they are dropped at the end if they hold nothing.
    unnamed_tail: usize,
    blank: bool,
}

impl Body {
    fn new(file: String, encoding: String, shape: Shape, decoder: Decoder) -> Body {
        Body {
            file,
            encoding,
            delimiter: shape.delimiter,
            decoder,
            decoded: Vec::new(),
            replaced: false,
            ended: false,
            reader: csv_core::ReaderBuilder::new()
                .delimiter(shape.delimiter)
                .build(),
            record: vec![0; 4096],
            spans: Vec::new(),
            ends: vec![0; 64],
            record_len: 0,
            ends_len: 0,
            record_bytes: 0,
            dropped_fields: 0,
            dropped_end: 0,
            line: 1,
            record_line: None,
            between_records: true,
            plain_ends: Vec::new(),
            records_before_header: shape.header_record,
            sizes: Sizes::default(),
            expected_rows: None,
            header: None,
            columns: Vec::new(),
            lines: Lines::default(),
            rows_read: 0,
            rows_taken: 0,
            unread: Vec::new(),
            skipped: SkipLog::default(),
            lines_skipped: SkipLog::default(),
            misfits: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn heap_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(ColumnBuilder::heap_bytes)
            .sum::<usize>()
            + self.lines.heap_bytes()
    }

    /// Decodes a chunk of the file and reads it.
    fn feed(&mut self, chunk: &[u8], last: bool, limit: Option<MemoryLimit>) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        let mut decoded = std::mem::take(&mut self.decoded);
        let (text, replaced) = self.decoder.decode(chunk, last, &mut decoded);
        self.replaced |= replaced;
        let result = self.read(text, last, limit);
        self.decoded = decoded;
        result
    }

    /// Tokenises UTF-8 `text` (`last`: the end of the file follows) into records.
    fn read(&mut self, mut text: &[u8], last: bool, limit: Option<MemoryLimit>) -> Result<()> {
        // csv-core takes empty input for the end of the file: a chunk that decoded to nothing
        // (half a character) must not reach it.
        if self.ended || (text.is_empty() && !last) {
            return Ok(());
        }
        self.ended = last;
        self.sizes.text += text.len() as u64;
        // At the end of the file csv-core ends a record inside quotes like any other, with the
        // rest of the file in its last cell. A line break is given in its place instead: it ends
        // any record as the end of the file would, but joins the text of a quoted field, which
        // tells the one mistake from the other (csv-core does not tell its state, and its
        // `Clone` does not copy it whole).
        let mut closing = false;
        loop {
            if self.between_records && self.header.is_some() && plain::enabled() {
                let consumed = self.read_plain_lines(text, limit)?;
                text = &text[consumed..];
                if text.is_empty() && !last {
                    return Ok(());
                }
            }
            if last && text.is_empty() && self.in_record() && !closing {
                closing = true;
                text = b"\n";
            }
            let (result, read, written, ends) = self.reader.read_record(
                text,
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            self.count_lines(&text[..read]);
            if closing && read > 0 {
                // The line break given is not the file's.
                self.reader.set_line(self.reader.line().saturating_sub(1));
                self.line = self.reader.line();
            } else {
                self.sizes.consumed += read as u64;
            }
            text = &text[read..];
            self.record_len += written;
            self.ends_len += ends;
            // Checked after each call, not each byte: the record's buffers grow (below) only
            // after a call, so they stay within the limit's size too.
            if self.record_line.is_some() {
                self.record_bytes += read;
                if self.record_bytes > MAX_RECORD_BYTES {
                    return Err(self.record_too_long());
                }
            }
            match result {
                csv_core::ReadRecordResult::InputEmpty => {
                    // The record goes on in the next chunk (or this one was all blank lines).
                    self.between_records &= self.record_len == 0 && self.ends_len == 0 && read == 0;
                    if !last {
                        return Ok(());
                    }
                    if closing && self.in_record() {
                        return Err(self.unclosed_quote(None));
                    }
                }
                // The record goes on: the plain path must not take the rest of its line for a
                // record of its own.
                csv_core::ReadRecordResult::OutputFull => {
                    self.between_records = false;
                    // A record's text is at most its bytes in the file, within the limit.
                    let len = self.record.len();
                    let len = (len * 2).min(MAX_RECORD_BYTES + 1).max(len + 1);
                    self.record.resize(len, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull if self.ends.len() >= MAX_COLUMNS => {
                    self.between_records = false;
                    // Wider than any header may be: its fields are counted and let go, so that
                    // a line of a million delimiters takes no more memory than a header's.
                    if let Some(&end) = self.ends[..self.ends_len].last() {
                        self.dropped_end = end;
                    }
                    self.dropped_fields += self.ends_len;
                    self.ends_len = 0;
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    self.between_records = false;
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                csv_core::ReadRecordResult::Record => {
                    self.between_records = true;
                    let line = self.record_line.take().unwrap_or(self.line);
                    match self.dropped_fields {
                        0 => self.take_record(line)?,
                        dropped => {
                            self.dropped_fields = 0;
                            self.take_wide_record(line, dropped + self.ends_len)?;
                        }
                    }
                    self.record_len = 0;
                    self.ends_len = 0;
                    self.record_bytes = 0;
                    if self.rows_read % MEMORY_CHECK_ROWS == 0 && self.rows_read > 0 {
                        self.check_memory(limit)?;
                    }
                    if text.is_empty() && !last {
                        return Ok(());
                    }
                }
                csv_core::ReadRecordResult::End => return Ok(()),
            }
        }
    }

    /// Stores the plain lines (`plain::split_line`) at the start of `text`, with the blank lines
    /// between them, and gives the bytes they took; csv-core reads from there on. Called only
    /// between two records of the data, where csv-core has nothing pending.
    fn read_plain_lines(&mut self, text: &[u8], limit: Option<MemoryLimit>) -> Result<usize> {
        let mut ends = std::mem::take(&mut self.plain_ends);
        let mut spans = std::mem::take(&mut self.spans);
        let mut consumed = 0;
        let result = loop {
            let rest = &text[consumed..];
            let blank = rest
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            // csv-core passes over these too, and counts only the `\n`s as lines.
            let rest = &rest[blank..];
            let Some(length) = plain::split_line(rest, self.delimiter, &mut ends) else {
                break Ok(());
            };
            // The text up to the last field's end: UTF-8 checked once for the whole line.
            let Some(&last_end) = ends.last() else {
                break Ok(());
            };
            let Ok(line_text) = std::str::from_utf8(&rest[..last_end]) else {
                break Ok(());
            };
            self.line += text[consumed..consumed + blank]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            // Only a host that pushes chunks larger than the limit gets here with such a line.
            if length > MAX_RECORD_BYTES {
                break Err(record_too_long(self.line));
            }
            consumed += blank + length;
            // Counted line by line: the memory check estimates the file's rows from it.
            self.sizes.consumed += (blank + length) as u64;
            spans.clear();
            let mut start = 0;
            for &end in &ends {
                spans.push(trimmed_span(line_text, start, end));
                start = end + 1;
            }
            let line = self.line;
            self.line += 1;
            if let Err(error) = self.store_record(line_text, &spans, line) {
                break Err(error);
            }
            if self.rows_read % MEMORY_CHECK_ROWS == 0 && self.rows_read > 0 {
                if let Err(error) = self.check_memory(limit) {
                    break Err(error);
                }
            }
        };
        self.reader.set_line(self.line);
        self.plain_ends = ends;
        self.spans = spans;
        result.map(|()| consumed)
    }

    /// Sizes the columns for the whole file the first time (when its size is known), then
    /// compares the memory they take, plus the limit's reserve per row, with the limit.
    fn check_memory(&mut self, limit: Option<MemoryLimit>) -> Result<()> {
        if let (None, Some(total)) = (self.expected_rows, self.sizes.expected) {
            let Sizes {
                pushed,
                text,
                consumed,
                ..
            } = self.sizes;
            if pushed > 0 && text > 0 && consumed > 0 {
                // The file bytes behind the text consumed so far (decoding may change sizes).
                let consumed_bytes = consumed as f64 * pushed as f64 / text as f64;
                let estimate = self.rows_read as f64 * total as f64 / consumed_bytes;
                // 5% over the estimate, so that a file a little denser than its start still
                // fits without a final doubling.
                let rows = (estimate * 1.05).ceil() as u64;
                // Refused before anything is reserved: memory once taken is not given back
                // (a wasm memory never shrinks).
                let kept = usize::try_from(rows).unwrap_or(usize::MAX);
                if let Some(limit) = limit {
                    let columns: usize = self.columns.iter().map(|c| c.bytes_for_rows(kept)).sum();
                    let projected = columns as u64 + self.lines.heap_bytes() as u64;
                    if projected.saturating_add(rows.saturating_mul(limit.per_row)) > limit.bytes {
                        return Err(Error::new(ErrorKind::TooLarge {
                            limit_bytes: limit.bytes,
                            rows: self.rows_read,
                        }));
                    }
                }
                self.columns
                    .iter_mut()
                    .for_each(|column| column.reserve_rows(kept));
                self.expected_rows = Some(rows);
            }
        }
        let Some(limit) = limit else {
            return Ok(());
        };
        let rows = self.rows_read.max(self.expected_rows.unwrap_or(0));
        if self.heap_bytes() as u64 + rows * limit.per_row > limit.bytes {
            return Err(Error::new(ErrorKind::TooLarge {
                limit_bytes: limit.bytes,
                rows: self.rows_read,
            }));
        }
        Ok(())
    }

    /// Whether the tokenizer is inside a record (one begun, not yet ended).
    fn in_record(&self) -> bool {
        self.record_line.is_some()
            || self.record_len > 0
            || self.ends_len > 0
            || self.dropped_fields > 0
    }

    /// The start of the field being read in `record`: where the last one ended.
    fn field_start(&self) -> usize {
        match self.ends[..self.ends_len].last() {
            Some(&end) => end,
            None => self.dropped_end,
        }
    }

    /// The error for a quoted field that does not end: at the end of the file, or (`within`)
    /// before its record grew past that limit. Its line is the record's, plus the line breaks
    /// in quoted fields before it; its column is its field's.
    fn unclosed_quote(&self, within: Option<u64>) -> Error {
        let start = self.field_start().min(self.record_len);
        let breaks = self.record[..start].iter().filter(|&&b| b == b'\n').count() as u64;
        let line = self.record_line.unwrap_or(self.line) + breaks;
        let column = (self.dropped_fields + self.ends_len + 1) as u64;
        Error::new(ErrorKind::UnclosedQuote { line, within })
            .at_line(line)
            .at_column(column)
    }

    /// The error for a record past `MAX_RECORD_BYTES`. A line break in the field being read
    /// means it is quoted (csv-core keeps line breaks only there) and still open: a quote not
    /// closed, the usual cause.
    fn record_too_long(&self) -> Error {
        let start = self.field_start().min(self.record_len);
        if self.record[start..self.record_len].contains(&b'\n') {
            return self.unclosed_quote(Some(MAX_RECORD_BYTES as u64));
        }
        record_too_long(self.record_line.unwrap_or(self.line))
    }

    /// Accounts for a record of more than `MAX_COLUMNS` fields, whose fields were let go: as
    /// `store_record` would (a header too wide, a note before it, or a row that does not fit).
    fn take_wide_record(&mut self, line: u64, fields: usize) -> Result<()> {
        match &self.header {
            Some(header) => {
                let width = header.names.len();
                let detail = format!("expected {width} fields, found {fields}");
                self.misfits.push((line, detail));
                Ok(())
            }
            None if self.records_before_header > 0 => {
                self.records_before_header -= 1;
                Ok(())
            }
            None => Err(too_many_columns(fields, line)),
        }
    }

    /// Advances the line count over bytes the tokenizer consumed, and notes the line on which a
    /// record starts: the first byte after the line breaks of blank lines, which csv-core passes
    /// over.
    fn count_lines(&mut self, consumed: &[u8]) {
        if self.record_line.is_none() {
            let breaks = consumed
                .iter()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
            if breaks < consumed.len() {
                let blank = consumed[..breaks].iter().filter(|&&b| b == b'\n').count();
                self.record_line = Some(self.line + blank as u64);
            }
        }
        // csv-core counts the line breaks it consumes, quoted ones included: counting them
        // again here was ~6% of reading.
        self.line = self.reader.line();
    }

    /// Stores the record just read, or accounts for it.
    fn take_record(&mut self, line: u64) -> Result<()> {
        // Moved out for the while, so that the cells can borrow it as the columns take them.
        let record = std::mem::take(&mut self.record);
        let ends = std::mem::take(&mut self.ends);
        let bytes = &record[..self.record_len];
        // Each record is checked to be UTF-8 (the file's bytes, or the decoder's output); a
        // field that is not has its bad bytes replaced, and the user is told.
        let mut spans = std::mem::take(&mut self.spans);
        spans.clear();
        let lossy: String;
        // csv-core stores the fields without their delimiters, so the bytes of a character cut
        // by a delimiter (`\xe7\xbb,\x88`) join into a valid one: each field's end must also be
        // a character boundary, else the fields are read one by one as below (found by fuzzing).
        let ends_on_characters = |text: &str| {
            ends[..self.ends_len]
                .iter()
                .all(|&end| text.is_char_boundary(end))
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(text) if ends_on_characters(text) => {
                let mut start = 0;
                for &end in &ends[..self.ends_len] {
                    spans.push(trimmed_span(text, start, end));
                    start = end;
                }
                text
            }
            _ => {
                self.replaced = true;
                let mut owned = String::with_capacity(bytes.len() + 8);
                let mut start = 0;
                for &end in &ends[..self.ends_len] {
                    let from = owned.len();
                    owned.push_str(&String::from_utf8_lossy(&bytes[start..end]));
                    spans.push(trimmed_span(&owned, from, owned.len()));
                    start = end;
                }
                lossy = owned;
                &lossy
            }
        };
        let result = self.store_record(text, &spans, line);
        self.spans = spans;
        self.record = record;
        self.ends = ends;
        result
    }

    fn store_record(&mut self, text: &str, spans: &[(usize, usize)], line: u64) -> Result<()> {
        let cell = |index: usize| {
            spans
                .get(index)
                .map_or("", |&(start, end)| &text[start..end])
        };
        let fields = spans.len();
        let Some(header) = &self.header else {
            if self.records_before_header > 0 {
                self.records_before_header -= 1;
                return Ok(());
            }
            if fields > MAX_COLUMNS {
                return Err(too_many_columns(fields, line));
            }
            // Every line above the header is a note, blank ones included.
            for note in 1..line {
                self.lines_skipped.add(
                    SkipReason::Preamble,
                    &self.file,
                    note,
                    None,
                    "notes before the header row".to_string(),
                );
            }
            let names = unique_headers((0..fields).map(cell));
            let unnamed_tail = spans.iter().rev().take_while(|(a, b)| a == b).count();
            self.columns = names.iter().map(|_| ColumnBuilder::default()).collect();
            self.header = Some(Header {
                blank: unnamed_tail == fields,
                names,
                line,
                unnamed_tail,
            });
            return Ok(());
        };
        let width = header.names.len();
        let filled = spans.iter().filter(|(start, end)| start < end).count();
        let fits = (fields <= width && fields + header.unnamed_tail >= width)
            || (fields > width
                && fields <= MAX_COLUMNS
                && spans[width..].iter().all(|(start, end)| start == end));
        if !fits || (filled <= 1 && width > 2) {
            let detail = if fits {
                "only one cell is filled".to_string()
            } else {
                format!("expected {width} fields, found {fields}")
            };
            self.misfits.push((line, detail));
            return Ok(());
        }
        for (line, detail) in self.misfits.drain(..) {
            self.rows_read += 1;
            self.skipped
                .add(SkipReason::WrongFieldCount, &self.file, line, None, detail);
        }
        self.rows_read += 1;
        if filled == 0 {
            self.skipped.add(
                SkipReason::EmptyRow,
                &self.file,
                line,
                None,
                "every cell is empty".into(),
            );
            return Ok(());
        }
        let unread = &self.unread;
        for (index, column) in self.columns.iter_mut().enumerate() {
            match unread.get(index) {
                Some(true) => column.push("")?,
                _ => column.push(cell(index))?,
            }
        }
        self.lines.push(line);
        Ok(())
    }

    fn into_table(self) -> Result<RawTable> {
        let Some(header) = self.header else {
            return Err(Error::new(ErrorKind::Empty));
        };
        let mut lines_skipped = self.lines_skipped;
        for (line, _) in self.misfits {
            lines_skipped.add(
                SkipReason::Footer,
                &self.file,
                line,
                None,
                "summary line after the data".to_string(),
            );
        }
        if self.rows_read == 0 {
            let kind = match header.blank {
                true => ErrorKind::Empty,
                false => ErrorKind::HeaderOnly,
            };
            return Err(Error::new(kind));
        }
        let columns = self
            .columns
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect();
        let (headers, columns) = drop_empty_tail(&header, columns);
        let mut warnings = self.warnings;
        if self.replaced && warnings.is_empty() {
            warnings.push(format!(
                "some bytes are not valid {} and were replaced by �",
                self.encoding
            ));
        }
        if header.names.len() == 1 {
            warnings.push(
                "only one column was found: no delimiter (, ; tab |) separates the header"
                    .to_string(),
            );
        }
        let columns = columns.into_iter().map(Arc::new).collect();
        let lines = Arc::new(self.lines);
        Ok(RawTable {
            dialect: Dialect {
                encoding: self.encoding,
                delimiter: delimiter_name(self.delimiter).to_string(),
                header_line: header.line,
            },
            file: self.file,
            file_columns: headers.len(),
            headers,
            columns,
            lines,
            rows_read: self.rows_read - self.rows_taken,
            skipped: self.skipped,
            lines_skipped,
            warnings,
        })
    }
}

/// The header's names and the columns, without the unnamed columns at the header's end that
/// hold nothing (a trailing delimiter's).
fn drop_empty_tail(
    header: &Header,
    mut columns: Vec<TextColumn>,
) -> (Vec<String>, Vec<TextColumn>) {
    let width = header.names.len();
    let mut headers = header.names.clone();
    while headers.len() > 1
        && columns.len() + header.unnamed_tail > width
        && columns
            .last()
            .is_some_and(|c| c.iter().all(|cell| cell.is_empty()))
    {
        headers.pop();
        columns.pop();
    }
    (headers, columns)
}

fn too_many_columns(columns: usize, line: u64) -> Error {
    Error::new(ErrorKind::TooManyColumns {
        columns: columns as u64,
        limit: MAX_COLUMNS as u64,
    })
    .at_line(line)
}

fn record_too_long(line: u64) -> Error {
    Error::new(ErrorKind::RecordTooLong {
        line,
        limit_bytes: MAX_RECORD_BYTES as u64,
    })
    .at_line(line)
}

/// What the first kilobytes of a file say about its layout.
#[derive(Debug, PartialEq)]
struct Shape {
    delimiter: u8,
    /// Index of the header among the file's records (0 unless notes precede it).
    header_record: usize,
}

/// Picks the delimiter and the header row from the start of the file.
///
/// The delimiter is the one that splits the most records into the same number (two or more) of
/// fields, preferring more fields, then the order of `CANDIDATE_DELIMITERS`. The header is the
/// first record that looks like one: at least half as many filled cells as the widest record,
/// none of them a number, and followed by records of its width. Notes before it (a wallet
/// export's account name and date range) are thereby skipped.
fn sniff(text: &str) -> Shape {
    let mut end = text.len().min(SNIFF_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let sample = &text[..end];
    // Drop a partial last line so it does not count as a short record.
    let sample = match sample.rfind('\n') {
        Some(newline) if end < text.len() => &sample[..newline],
        _ => sample,
    };
    let mut best: Option<(u8, usize, usize, Vec<csv::StringRecord>)> = None;
    for delimiter in CANDIDATE_DELIMITERS {
        let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample.as_bytes())
            .records()
            .take(SNIFF_RECORDS)
            .filter_map(|r| r.ok())
            .collect();
        let mut widths: HashMap<usize, usize> = HashMap::new();
        for record in records.iter().filter(|r| filled(r) >= 2) {
            *widths.entry(record.len()).or_insert(0) += 1;
        }
        let Some((&fields, &agreeing)) = widths.iter().max_by_key(|&(&w, &n)| (n, w)) else {
            continue;
        };
        if best
            .as_ref()
            .is_none_or(|b| (agreeing, fields) > (b.1, b.2))
        {
            best = Some((delimiter, agreeing, fields, records));
        }
    }
    let Some((delimiter, _, _, records)) = best else {
        return Shape {
            delimiter: b',',
            header_record: 0,
        };
    };
    Shape {
        delimiter,
        header_record: find_header(&records),
    }
}

fn filled(record: &csv::StringRecord) -> usize {
    record.iter().filter(|cell| !cell.trim().is_empty()).count()
}

fn find_header(records: &[csv::StringRecord]) -> usize {
    let widest = records.iter().map(filled).max().unwrap_or(0);
    let looks_like_header = |index: usize| {
        let record = &records[index];
        let cells = filled(record);
        if cells < 2 || cells * 2 < widest {
            return false;
        }
        let labels = record
            .iter()
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .all(|cell| {
                !cell
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b".,-+:/ ".contains(&b))
            });
        let followers: Vec<&csv::StringRecord> = records[index + 1..]
            .iter()
            .filter(|r| filled(r) >= 2)
            .take(3)
            .collect();
        labels
            && followers
                .iter()
                .all(|r| r.len().abs_diff(record.len()) <= 1)
    };
    (0..records.len())
        .find(|&i| looks_like_header(i))
        .unwrap_or(0)
}

/// The (start, end) of `text[start..end]` with white space trimmed. Most cells start and end
/// with a visible ASCII character: those skip the Unicode-aware trim.
// Inlined by force into the per-cell loop: the page's size-built wasm would call it.
#[inline(always)]
fn trimmed_span(text: &str, start: usize, end: usize) -> (usize, usize) {
    let cell = &text[start..end];
    let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    if visible(cell.as_bytes().first()) && visible(cell.as_bytes().last()) {
        return (start, end);
    }
    let trimmed = cell.trim_start();
    let from = start + (cell.len() - trimmed.len());
    (from, from + trimmed.trim_end().len())
}

fn delimiter_name(delimiter: u8) -> &'static str {
    match delimiter {
        b',' => ",",
        b';' => ";",
        b'\t' => "tab",
        b'|' => "|",
        _ => "?",
    }
}

/// Header names as the user will see them in the mapping: blank names become `column_N`, and a
/// repeated name gets a `_2`, `_3` suffix so that every column can be picked unambiguously.
fn unique_headers<'a>(record: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut headers: Vec<String> = Vec::new();
    for (index, name) in record.enumerate() {
        let name = name.trim();
        let base = if name.is_empty() {
            format!("column_{}", index + 1)
        } else {
            name.to_string()
        };
        let mut candidate = base.clone();
        let mut suffix = 2;
        while headers.contains(&candidate) {
            candidate = format!("{base}_{suffix}");
            suffix += 1;
        }
        headers.push(candidate);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_delimiter(text: &str) -> u8 {
        sniff(text).delimiter
    }

    #[test]
    fn sniffs_each_delimiter() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter("a;b;c\n1,5;2;3\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n"), b'|');
        // Commas inside quotes do not fool it.
        assert_eq!(sniff_delimiter("a;b\n\"1,2,3\";4\n"), b';');
    }

    #[test]
    fn a_character_cut_by_a_delimiter_is_replaced_not_joined() {
        // Found by `make fuzz` (fuzz/fuzz_targets/ingest.rs): the fields' bytes, stored without
        // the delimiter, joined into 终 (e7 bb 88), and slicing a field inside it panicked.
        let table = read_csv("t.csv", b"a,b,c\n1,\xe7\xbb,\x88\n2,x,y\n").unwrap();
        let row = |r: usize| -> Vec<String> {
            table
                .columns
                .iter()
                .map(|c| c.get(r).into_owned())
                .collect()
        };
        assert_eq!(row(0), ["1", "\u{FFFD}", "\u{FFFD}"]);
        assert_eq!(row(1), ["2", "x", "y"]);
        assert_eq!(
            table.warnings,
            ["the file is not valid UTF-8; unreadable bytes were replaced by \u{FFFD}"]
        );
    }

    #[test]
    fn notes_before_the_header_and_summaries_after_the_data_are_skipped_and_counted() {
        let csv = "Bill export\nAccount: x\nPeriod: [2023-01-01] - [2023-02-01]\n\
                   ,,,\n\
                   time,amount,status,note\n\
                   2023-01-02,1.5,ok,a\n\
                   2023-01-03,2.5,ok,b\n\
                   ,,,\n\
                   Total: 2 rows\n";
        let table = read_csv("t.csv", csv.as_bytes()).unwrap();
        assert_eq!(table.headers, vec!["time", "amount", "status", "note"]);
        assert_eq!(table.dialect.header_line, 5);
        assert!(table.lines.iter().eq([6, 7]));
        assert_eq!(table.rows_read, 2);
        let groups = table.lines_skipped.groups();
        assert_eq!(groups[0].reason, "notes before the header");
        assert_eq!(groups[0].count, 4);
        assert_eq!(groups[1].reason, "summary after the data");
        let footer: Vec<u64> = groups[1].examples.iter().map(|e| e.line).collect();
        assert_eq!(footer, vec![8, 9]);
    }

    #[test]
    fn a_trailing_delimiter_is_not_a_column_and_padding_is_trimmed() {
        let csv = "id   ,amount  ,\n1 ,\t2.50\t ,\n";
        let table = read_csv("t.csv", csv.as_bytes()).unwrap();
        assert_eq!(table.headers, vec!["id", "amount"]);
        assert_eq!(table.columns[1].get(0), "2.50");
        assert_eq!(table.skipped.total(), 0);
    }

    #[test]
    fn an_empty_row_in_the_data_is_a_skipped_row() {
        let table = read_csv("t.csv", b"a,b\n1,2\n,\n3,4\n").unwrap();
        assert_eq!(table.rows_read, 3);
        assert_eq!(table.row_count(), 2);
        assert_eq!(table.skipped.groups()[0].reason, "empty row");
    }

    #[test]
    fn quotes_inside_an_unquoted_field_are_kept() {
        let table = read_csv("t.csv", "a,b\n1,点击\"多多视频\"\n".as_bytes()).unwrap();
        assert_eq!(table.columns[1].get(0), "点击\"多多视频\"");
    }

    #[test]
    fn rows_keep_their_lines_across_quoted_line_breaks_and_blank_lines() {
        let csv = "id,note\r\n1,\"two\r\nlines\"\r\n\r\n\n2,\"three\nshort\nlines\"\n3,x\n\n4,\"\"\"q\"\"\n\"\n5,y";
        for chunk in [1, 2, 3, 7, csv.len()] {
            let mut stream = CsvStream::new("t.csv");
            for piece in csv.as_bytes().chunks(chunk) {
                stream.push(piece).unwrap();
            }
            let table = stream.finish().unwrap();
            let lines: Vec<u64> = table.lines.iter().collect();
            assert_eq!(lines, [2, 6, 9, 11, 13], "chunks of {chunk}");
            assert_eq!(table.columns[1].get(1), "three\nshort\nlines");
        }
    }

    #[test]
    fn reads_bom_crlf_and_quotes() {
        let table = read_csv("t.csv", b"\xEF\xBB\xBFid,name\r\n1,\"x, y\"\r\n2,z\r\n").unwrap();
        assert_eq!(table.headers, vec!["id", "name"]);
        assert_eq!(table.columns[1].get(0), "x, y");
        assert!(table.lines.iter().eq([2, 3]));
        let table = read_csv("t.csv", b"\n\nid\n1\n\n\n2\n").unwrap();
        assert_eq!(table.dialect.header_line, 3);
        assert!(table.lines.iter().eq([4, 7]));
        assert_eq!(table.dialect.encoding, "UTF-8");
    }

    #[test]
    fn wrong_field_count_is_skipped_with_its_line() {
        let table = read_csv("t.csv", b"a,b\n1,2\n1,2,3\n4,5\n").unwrap();
        assert_eq!(table.rows_read, 3);
        assert_eq!(table.row_count(), 2);
        assert_eq!(table.skipped.total(), 1);
        assert_eq!(table.skipped.groups()[0].examples[0].line, 3);
    }

    #[test]
    fn rejects_empty_binary_and_header_only() {
        assert_eq!(read_csv("e.csv", b"").unwrap_err().kind, ErrorKind::Empty);
        assert_eq!(
            read_csv("e.csv", b" \n\n").unwrap_err().kind,
            ErrorKind::Empty
        );
        assert_eq!(
            read_csv("b.csv", b"\x89PNG\r\n\x1a\n\0\0\0")
                .unwrap_err()
                .kind,
            ErrorKind::NotCsv {
                format: FileFormat::Png
            }
        );
        assert_eq!(
            read_csv("b.csv", b"BM6\0\0\0\0\0").unwrap_err().kind,
            ErrorKind::NotText { byte: 3 }
        );
        let header_only = read_csv("h.csv", b"a,b\n").unwrap_err();
        assert_eq!(header_only.kind, ErrorKind::HeaderOnly);
        assert_eq!(
            header_only.to_string(),
            "h.csv: the file has a header row but no data rows"
        );
    }

    #[test]
    fn duplicate_and_blank_headers_are_made_unique() {
        let table = read_csv("t.csv", b"a,a,\n1,2,3\n").unwrap();
        assert_eq!(table.headers, vec!["a", "a_2", "column_3"]);
    }

    #[test]
    fn decodes_utf16() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a,b\n1,2\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let table = read_csv("u.csv", &utf16).unwrap();
        assert_eq!(table.dialect.encoding, "UTF-16LE");
        assert_eq!(table.columns[1].get(0), "2");
        assert!(table.warnings.is_empty());
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(
                "金额;状态\n1;交易成功\n"
                    .encode_utf16()
                    .flat_map(|u| u.to_be_bytes()),
            )
            .collect();
        let table = read_csv("b.csv", &utf16be).unwrap();
        assert_eq!(table.dialect.encoding, "UTF-16BE");
        assert_eq!(table.headers, vec!["金额", "状态"]);

        // An unpaired surrogate and an odd last byte are replaced and reported.
        let mut broken = utf16.clone();
        broken.extend([0x00, 0xD8, b'3', 0x00, b',', 0x00, b'4', 0x00, b'\n']);
        let table = read_csv("u.csv", &broken).unwrap();
        assert_eq!(table.columns[0].get(1), "\u{FFFD}3");
        assert_eq!(table.columns[1].get(1), "4\u{FFFD}");
        assert_eq!(
            table.warnings,
            vec!["some bytes are not valid UTF-16LE and were replaced by �"]
        );
    }

    /// "金额,状态\n1,交易成功\n" in GBK, as Alipay exports it.
    const GBK: &[u8] = b"\xBD\xF0\xB6\xEE,\xD7\xB4\xCC\xAC\n1,\xBD\xBB\xD2\xD7\xB3\xC9\xB9\xA6\n";

    #[cfg(feature = "legacy-encodings")]
    #[test]
    fn decodes_gb18030() {
        assert_eq!(encoding_rs::GBK.encode("金额,状态\n1,交易成功\n").0, GBK);
        let table = read_csv("g.csv", GBK).unwrap();
        assert_eq!(table.dialect.encoding, "GB18030");
        assert_eq!(table.headers, vec!["金额", "状态"]);
        assert_eq!(table.columns[1].get(0), "交易成功");
    }

    #[cfg(not(feature = "legacy-encodings"))]
    #[test]
    fn gb18030_is_recognised_and_left_to_the_host() {
        let error = read_csv("g.csv", GBK).unwrap_err();
        assert_eq!(
            error.kind,
            ErrorKind::NeedsDecoding {
                encoding: "GB18030".into()
            }
        );
        assert_eq!(error.file.as_deref(), Some("g.csv"));
    }

    #[test]
    fn text_decoded_by_the_host_keeps_its_encoding_name() {
        let table = read_decoded_csv("g.csv", "金额,状态\n1,交易成功\n".as_bytes(), "GB18030");
        let table = table.unwrap();
        assert_eq!(table.dialect.encoding, "GB18030");
        assert_eq!(table.columns[1].get(0), "交易成功");
        assert!(table.warnings.is_empty());
        // TextEncoder never writes a BOM, but a BOM is not a header character either.
        let table = read_decoded_csv("g.csv", b"\xEF\xBB\xBFa,b\n1,2\n", "GB18030").unwrap();
        assert_eq!(table.headers, vec!["a", "b"]);
    }

    #[test]
    fn bytes_that_are_neither_utf8_nor_gb18030_are_read_as_utf8_with_replacements() {
        // 0xFF is never part of GB18030.
        let table = read_csv("x.csv", b"a,b\n1,\xFF\n").unwrap();
        assert_eq!(table.dialect.encoding, "UTF-8");
        assert_eq!(table.columns[1].get(0), "\u{FFFD}");
        assert_eq!(table.warnings.len(), 1);
    }

    /// Reads `bytes` pushed in chunks of `chunk` bytes.
    fn read_in_chunks(bytes: &[u8], chunk: usize) -> Result<RawTable> {
        let mut stream = CsvStream::new("t.csv");
        for piece in bytes.chunks(chunk) {
            stream.push(piece)?;
        }
        stream.finish()
    }

    fn assert_same_table(a: &RawTable, b: &RawTable, what: &str) {
        assert_eq!(a.file, b.file, "{what}");
        assert_eq!(a.headers, b.headers, "{what}");
        assert_eq!(a.file_columns, b.file_columns, "{what}");
        assert_eq!(a.columns.len(), b.columns.len(), "{what}");
        assert_eq!(a.row_count(), b.row_count(), "{what}");
        assert_eq!(a.dialect, b.dialect, "{what}");
        assert_eq!(a.lines, b.lines, "{what}");
        assert_eq!(a.rows_read, b.rows_read, "{what}");
        assert_eq!(a.skipped, b.skipped, "{what}");
        assert_eq!(a.lines_skipped, b.lines_skipped, "{what}");
        assert_eq!(a.warnings, b.warnings, "{what}");
        for (x, y) in a.columns.iter().zip(&b.columns) {
            assert!(x.iter().eq(y.iter()), "{what}");
        }
    }

    /// Every fixture, as it is and grown past the 64 KiB head, and a grown CRLF file with quoted
    /// line breaks: the inputs of the tests that cut files into chunks or parts.
    fn fixture_inputs() -> Vec<(String, Vec<u8>)> {
        let mut paths = Vec::new();
        fixtures(std::path::Path::new("tests/data"), &mut paths);
        assert!(paths.len() > 20, "fixtures are found");
        let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
        for path in paths {
            let bytes = std::fs::read(&path).unwrap();
            inputs.push((path.display().to_string(), grown(&bytes)));
            inputs.push((format!("{} as is", path.display()), bytes));
        }
        let tricky =
            "id,note,amount\r\n1,\"two\r\nlines, and \"\"quotes\"\"\",1.5\r\n\r\n2,金额,2\r\n";
        inputs.push(("quoted line breaks".into(), grown(tricky.as_bytes())));
        inputs
    }

    /// A file grown past the 64 KiB head by repeating its middle lines, so that streaming
    /// really cuts it into chunks; notes at the top and summaries at the bottom stay in place.
    fn grown(bytes: &[u8]) -> Vec<u8> {
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        let top = lines.len().min(12).min(lines.len() / 2 + 1);
        let bottom = lines.len().saturating_sub(3).max(top);
        let mut out: Vec<u8> = lines[..top].concat();
        let middle = lines[top..bottom].concat();
        while !middle.is_empty() && out.len() < 3 * SNIFF_BYTES {
            out.extend_from_slice(&middle);
        }
        out.extend(lines[bottom..].concat());
        out
    }

    fn fixtures(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                fixtures(&path, found);
            } else if path.extension().is_some_and(|e| e == "csv" || e == "tsv") {
                found.push(path);
            }
        }
    }

    /// However a file is cut into chunks, the stream reads the same table (or the same error)
    /// as from the whole file at once: every fixture, grown past the head, and files with
    /// quoted line breaks, CRLF and UTF-16 whose characters straddle chunk boundaries.
    #[test]
    fn any_chunking_reads_the_same_table() {
        let mut inputs = fixture_inputs();
        // Old Mac line ends (a lone \r), and blank lines of every kind between records.
        let carriage_returns = "id,v,w\r1,a,x\r\r\n2,b,y\n\r\n\n3,c,z\r\n\r4,d,\"q\"\r\n5,e,f";
        inputs.push((
            "carriage returns".into(),
            carriage_returns.as_bytes().to_vec(),
        ));
        inputs.push((
            "carriage returns, grown".into(),
            grown(carriage_returns.as_bytes()),
        ));
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                String::from_utf8(grown("a,名称\n1,交易成功 🙂\n".as_bytes()))
                    .unwrap()
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes()),
            )
            .collect();
        inputs.push(("UTF-16LE".into(), utf16));
        for (name, bytes) in &inputs {
            let whole = read_csv("t.csv", bytes);
            // The plain-line shortcut must read what csv-core alone reads.
            plain::disable_for_this_thread(true);
            let by_csv_core = read_csv("t.csv", bytes);
            plain::disable_for_this_thread(false);
            match (&whole, &by_csv_core) {
                (Ok(a), Ok(b)) => assert_same_table(a, b, &format!("{name} by csv-core alone")),
                (Err(a), Err(b)) => assert_eq!(a, b, "{name} by csv-core alone"),
                (a, b) => panic!("{name} by csv-core alone: {a:?} vs {b:?}"),
            }
            for chunk in [1, 3, 4096, 65_537] {
                let what = format!("{name} in chunks of {chunk}");
                match (&whole, read_in_chunks(bytes, chunk)) {
                    (Ok(a), Ok(b)) => assert_same_table(a, &b, &what),
                    (Err(a), Err(b)) => assert_eq!(a, &b, "{what}"),
                    (a, b) => panic!("{what}: {a:?} vs {b:?}"),
                }
            }
        }
    }

    #[test]
    fn a_memory_limit_stops_the_stream_with_a_message_pointing_to_the_cli() {
        let mut csv = String::from("id,amount\n");
        for i in 0..100_000 {
            csv.push_str(&format!("T{i},{i}.5\n"));
        }
        let mut stream = CsvStream::new("big.csv").with_memory_limit(1 << 20, 0);
        let mut reserving = CsvStream::new("big.csv").with_memory_limit(4 << 20, 64);
        let reserved = reserving.push(csv.as_bytes()).unwrap_err();
        assert!(matches!(reserved.kind, ErrorKind::TooLarge { rows, .. } if rows < 100_000));
        let error = stream.push(csv.as_bytes()).unwrap_err();
        assert!(matches!(error.kind, ErrorKind::TooLarge { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.starts_with("big.csv: the file is too large"),
            "{message}"
        );
        assert!(message.contains("paymetrics report"), "{message}");
        assert!(
            stream.push(b"more").is_err(),
            "a failed stream reads no more"
        );
    }

    fn payments(rows: usize) -> String {
        let mut csv = String::from("id,amount,status\n");
        for i in 0..rows {
            csv.push_str(&format!("T{i:07},{}.25,success\n", i % 5000));
        }
        csv
    }

    /// With the file's size known, the columns are sized once for the whole file: the same
    /// table, without the slack of growth by doubling.
    #[test]
    fn a_known_size_sizes_the_columns_once() {
        // Enough rows that the dictionaries' look-up tables, held only while reading, are a
        // small part of the memory.
        let csv = payments(400_000);
        let mut sized = CsvStream::new("t.csv");
        sized.expect_bytes(csv.len() as u64);
        for chunk in csv.as_bytes().chunks(65_536) {
            sized.push(chunk).unwrap();
        }
        let while_reading = sized.progress().memory_bytes;
        let table = sized.finish().unwrap();
        assert_same_table(&table, &read_csv("t.csv", csv.as_bytes()).unwrap(), "sized");
        let needed = table.heap_bytes() as u64;
        assert!(
            while_reading <= needed + needed / 10,
            "{while_reading} bytes while reading for {needed} in the table"
        );
    }

    /// A file that will not fit is refused after its first 16,384 rows, from the size it will
    /// take, not part way through.
    #[test]
    fn a_known_size_refuses_a_file_too_large_at_the_first_check() {
        let csv = payments(100_000);
        let mut stream = CsvStream::new("big.csv").with_memory_limit(1 << 20, 0);
        stream.expect_bytes(csv.len() as u64);
        let error = stream.push(csv.as_bytes()).unwrap_err();
        assert_eq!(
            error.kind,
            ErrorKind::TooLarge {
                limit_bytes: 1 << 20,
                rows: MEMORY_CHECK_ROWS
            }
        );
    }

    /// Reads `bytes` as the page's two workers do with the file cut at `split`: the main stream
    /// reads the bytes before it; if it then stands at a record boundary, a stream resumed from
    /// its continuation reads the rest and its part is appended, else the main stream reads the
    /// rest itself. Pushes in chunks of `chunk` bytes. Also says whether a part was appended.
    fn read_split(bytes: &[u8], split: usize, chunk: usize) -> (Result<RawTable>, bool) {
        let chunk = chunk.max(1);
        let mut main = CsvStream::new("t.csv");
        main.expect_bytes(bytes.len() as u64);
        for piece in bytes[..split].chunks(chunk) {
            if let Err(error) = main.push(piece) {
                return (Err(error), false);
            }
        }
        let appended = match (main.at_record_boundary(), main.continuation()) {
            (true, Some(continuation)) => {
                let mut helper = CsvStream::resume(continuation);
                helper.expect_bytes((bytes.len() - split) as u64);
                for piece in bytes[split..].chunks(chunk) {
                    helper.push(piece).expect("the helper reads its part");
                }
                let part = helper.finish_part().expect("the helper ends its part");
                main.append_part(&part).expect("the part is appended");
                true
            }
            _ => {
                for piece in bytes[split..].chunks(chunk) {
                    if let Err(error) = main.push(piece) {
                        return (Err(error), false);
                    }
                }
                false
            }
        };
        (main.finish(), appended)
    }

    /// Reads `bytes` cut at `split` (see `read_split`) and compares with reading it whole.
    /// Returns whether a part was appended.
    fn assert_split_reads_the_same(bytes: &[u8], split: usize, chunk: usize, what: &str) -> bool {
        assert_split_reads(&read_csv("t.csv", bytes), bytes, split, chunk, what)
    }

    /// As `assert_split_reads_the_same`, with the whole file's table (or error) given.
    fn assert_split_reads(
        whole: &Result<RawTable>,
        bytes: &[u8],
        split: usize,
        chunk: usize,
        what: &str,
    ) -> bool {
        let what = format!("{what}, split at {split}, chunks of {chunk}");
        let (table, appended) = read_split(bytes, split, chunk);
        match (whole, table) {
            (Ok(a), Ok(b)) => assert_same_table(a, &b, &what),
            (Err(a), Err(b)) => assert_eq!(a, &b, "{what}"),
            (a, b) => panic!("{what}: {a:?} vs {b:?}"),
        }
        appended
    }

    /// Every position just after a line break, the candidates for a split.
    fn line_starts(bytes: &[u8]) -> Vec<usize> {
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'\n')
            .map(|i| i + 1)
            .collect()
    }

    /// `count` of `positions` (or all, if fewer), evenly spread.
    fn sample(positions: &[usize], count: usize) -> Vec<usize> {
        if count == 0 {
            return Vec::new();
        }
        let step = positions.len().div_ceil(count).max(1);
        positions
            .iter()
            .copied()
            .skip(step / 2)
            .step_by(step)
            .collect()
    }

    /// A file read by two streams, the second resumed at a line break and its part appended to
    /// the first, is the same table as read whole: every fixture (grown past the head, and as is),
    /// and files with quoted line breaks (where a split may fall inside a quoted field, and the
    /// main stream reads on), CRLF, and UTF-16 (no continuation: read by one stream).
    #[test]
    fn a_file_read_in_two_parts_is_the_same_table() {
        let mut inputs = fixture_inputs();
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                "a,b\n1,2\n"
                    .repeat(20_000)
                    .encode_utf16()
                    .flat_map(|u| u.to_le_bytes()),
            )
            .collect();
        inputs.push(("UTF-16LE".into(), utf16));
        // Each input on its own thread: the debug build reads a byte at a time slowly.
        let appended: usize = std::thread::scope(|scope| {
            let threads: Vec<_> = inputs
                .iter()
                .map(|(name, bytes)| scope.spawn(move || splits_read_the_same(name, bytes)))
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert!(appended > 400, "{appended} parts appended");
    }

    /// Reads `bytes` split at a sample of its line breaks, in chunks of several sizes, and
    /// compares with reading it whole. Returns how many parts were appended.
    fn splits_read_the_same(name: &str, bytes: &[u8]) -> usize {
        let whole = read_csv("t.csv", bytes);
        // Splits in the first 64 KiB find the main stream still gathering its head: a few of
        // them, and many after it (the summary lines at the end always).
        let (head, body): (Vec<usize>, Vec<usize>) = line_starts(bytes)
            .into_iter()
            .partition(|&at| at < SNIFF_BYTES);
        let mut appended = 0;
        for (chunk, before, after, tail) in [
            (bytes.len(), 2, 30, 4),
            (4096, 1, 12, 4),
            (7, 0, 2, 0),
            (1, 0, 1, 0),
        ] {
            let mut splits = sample(&head, before);
            splits.extend(sample(&body, after));
            splits.extend(body.iter().rev().take(tail));
            splits.sort_unstable();
            splits.dedup();
            for split in splits {
                appended += assert_split_reads(&whole, bytes, split, chunk, name) as usize;
            }
        }
        appended
    }

    /// A grown payments file with the given lines at its end.
    fn payments_then(rows: usize, end: &str) -> Vec<u8> {
        let mut csv = payments(rows);
        csv.push_str(end);
        csv.into_bytes()
    }

    /// The position of the line starting with `text` (after the head, so that the main stream
    /// has started).
    fn line_of(bytes: &[u8], text: &str) -> usize {
        line_starts(bytes)
            .into_iter()
            .find(|&at| bytes[at..].starts_with(text.as_bytes()))
            .unwrap()
    }

    #[test]
    fn summaries_bad_rows_and_empty_parts_are_accounted_for_as_read_whole() {
        let cases: [(&str, &str, &str); 7] = [
            // The part holds only summary lines: they stay held back, and are summaries.
            ("only summaries", ",,\nTotal: 2 rows,\n", ",,"),
            // Summary-like lines, then rows: the held-back lines were bad rows after all.
            ("bad rows then rows", "x\ny,z,w,v\nT1,1.25,success\n", "x"),
            (
                "bad rows, split between",
                "x\ny,z,w,v\nT1,1.25,success\n",
                "y,z",
            ),
            (
                "bad rows just before the split",
                "x\ny,z,w,v\nT1,1.25,success\n",
                "T1",
            ),
            ("rows then summaries", "T1,1.25,success\nTotal,\n,,\n", "T1"),
            ("only blank lines", "\n\n\r\n", "\n"),
            ("an empty row", "T1,1.25,success\n,,\nT2,2,ok\n", "T1"),
        ];
        for (what, end, at) in cases {
            let bytes = payments_then(5000, end);
            let split = match at {
                "\n" => bytes.len() - end.len(),
                _ => line_of(&bytes[100_000..], at) + 100_000,
            };
            for chunk in [1, 7, 4096, bytes.len()] {
                let appended = assert_split_reads_the_same(&bytes, split, chunk, what);
                assert!(appended, "{what}: appended");
            }
            // A part with no bytes at all.
            assert!(assert_split_reads_the_same(&bytes, bytes.len(), 4096, what));
        }
        // A part that starts with U+FEFF: a cell's first character, not a byte-order mark.
        let bytes = payments_then(5000, "\u{FEFF}T1,1,ok\n");
        let split = bytes.len() - "\u{FEFF}T1,1,ok\n".len();
        assert!(assert_split_reads_the_same(&bytes, split, 4096, "a BOM"));
    }

    #[test]
    fn a_split_inside_a_quoted_field_is_not_a_record_boundary() {
        let mut csv = payments(5000);
        csv.push_str("T1,\"1\n,2\r\n\",ok\r\nT2,3,ok\n");
        let bytes = csv.as_bytes();
        for (inside, split) in [
            (true, line_of(bytes, ",2")),
            (true, line_of(bytes, "\",ok")),
            (false, line_of(bytes, "T2")),
        ] {
            let mut main = CsvStream::new("t.csv");
            main.push(&bytes[..split]).unwrap();
            assert_eq!(main.at_record_boundary(), !inside);
            if inside {
                let part = CsvStream::resume(main.continuation().unwrap())
                    .finish_part()
                    .unwrap();
                assert!(main.append_part(&part).is_err(), "refused mid-record");
                // The stream reads on as if nothing had happened.
                main.push(&bytes[split..]).unwrap();
                assert_same_table(
                    &main.finish().unwrap(),
                    &read_csv("t.csv", bytes).unwrap(),
                    "inside",
                );
            }
            assert!(!assert_split_reads_the_same(bytes, split, 4096, "inside") || !inside);
        }
        // Before the header is known there is no boundary and no continuation.
        let mut head = CsvStream::new("t.csv");
        head.push(b"a,b\n1,2\n").unwrap();
        assert!(!head.at_record_boundary() && head.continuation().is_none());
    }

    /// A file of `rows` rows whose column `v` holds `value(row)`.
    fn one_column(rows: std::ops::Range<usize>, value: impl Fn(usize) -> String) -> String {
        rows.map(|row| format!("{row},{}\n", value(row))).collect()
    }

    #[test]
    fn columns_stored_differently_in_the_two_parts_keep_every_cell() {
        let time = |row: usize| {
            format!(
                "2025-07-{:02}T{:02}:{:02}:{:02}+08:00",
                1 + row / 86_400,
                row / 3600 % 24,
                row / 60 % 60,
                row % 60
            )
        };
        let cases: Vec<(&str, String, String)> = vec![
            // 8,000 values before the split, 1,000 new ones after: the dictionary fills
            // while the part's values are added.
            (
                "dictionary filled by the part",
                one_column(0..16_000, |r| format!("v{}", r % 8000)),
                one_column(16_000..30_000, |r| format!("w{}", r % 1000)),
            ),
            (
                "dictionary grown for the part",
                one_column(0..20_000, |r| format!("v{}", r % 8000)),
                one_column(20_000..30_000, |r| format!("w{}", r % 1000)),
            ),
            (
                "dictionary left by the part",
                one_column(0..16_000, |r| format!("v{}", r % 8000)),
                one_column(16_000..40_000, |r| format!("u{r}")),
            ),
            (
                "coded, then plain",
                one_column(0..9000, |r| format!("v{}", r % 50)),
                one_column(9000..40_000, |r| format!("u{r}")),
            ),
            (
                "plain, then coded",
                one_column(0..20_000, |r| format!("u{r}")),
                one_column(20_000..25_000, |r| format!("v{}", r % 50)),
            ),
            (
                "times, then text",
                one_column(0..20_000, time),
                one_column(20_000..40_000, |r| {
                    if r % 1000 == 0 {
                        "soon".into()
                    } else {
                        time(r)
                    }
                }),
            ),
            (
                "text, then times",
                one_column(0..20_000, |r| if r == 5 { "soon".into() } else { time(r) }),
                one_column(20_000..40_000, time),
            ),
            (
                "coded, then times",
                one_column(0..9000, |r| format!("v{}", r % 50)),
                one_column(9000..40_000, time),
            ),
            (
                "times, then coded times",
                one_column(0..20_000, time),
                one_column(20_000..25_000, |r| time(r % 10)),
            ),
            (
                "times of two layouts",
                one_column(0..20_000, time),
                one_column(20_000..40_000, |r| time(r).replace('T', " ")),
            ),
        ];
        for (what, before, after) in cases {
            let csv = format!("id,v\n{before}{after}");
            let split = csv.len() - after.len();
            assert!(split > SNIFF_BYTES, "{what}: the main stream has started");
            for chunk in [4096, csv.len()] {
                let appended = assert_split_reads_the_same(csv.as_bytes(), split, chunk, what);
                assert!(appended, "{what}: appended");
            }
        }
    }

    /// The finished part of `bytes` from `split` on, and a main stream that read the bytes before.
    fn part_and_main(bytes: &[u8], split: usize) -> (Vec<u8>, CsvStream) {
        let mut main = CsvStream::new("t.csv");
        main.push(&bytes[..split]).unwrap();
        let mut helper = CsvStream::resume(main.continuation().unwrap());
        helper.push(&bytes[split..]).unwrap();
        (helper.finish_part().unwrap(), main)
    }

    #[test]
    fn a_damaged_part_is_an_error_and_leaves_the_stream_as_it_was() {
        let mut csv = payments(5000);
        csv.push_str("T1,\"a\nb\",x\nbad\n");
        for row in 0..200 {
            csv.push_str(&format!(
                "2025-07-01T00:00:{:02}+08:00,{row}.5,ok\n",
                row % 60
            ));
        }
        let bytes = csv.as_bytes();
        let split = line_of(bytes, "T0004000");
        let (part, mut main) = part_and_main(bytes, split);
        let mut damaged = Vec::new();
        for len in (0..part.len())
            .step_by(97)
            .chain(part.len() - 20..part.len())
        {
            damaged.push(part[..len].to_vec());
        }
        for at in (0..part.len()).step_by(89) {
            let mut changed = part.clone();
            changed[at] ^= 0x20;
            damaged.push(changed);
        }
        let mut longer = part.clone();
        longer.push(0);
        damaged.push(longer);
        for bytes in &damaged {
            let error = main.append_part(bytes).unwrap_err();
            assert_eq!(error.file.as_deref(), Some("t.csv"));
        }
        main.append_part(&part).unwrap();
        assert!(main.push(b"more\n").is_err(), "no bytes after a part");
        assert_same_table(
            &main.finish().unwrap(),
            &read_csv("t.csv", bytes).unwrap(),
            "damaged",
        );
        // A part of another file's header is refused.
        let (_, mut main) = part_and_main(bytes, split);
        let other = payments_then(10, "")
            .iter()
            .map(|&b| if b == b',' { b';' } else { b })
            .collect::<Vec<u8>>();
        let mut narrow = CsvStream::resume(Continuation {
            headers: vec!["a".into()],
            ..main.continuation().unwrap()
        });
        narrow.push(&other).unwrap();
        assert!(main.append_part(&narrow.finish_part().unwrap()).is_err());
        // Of the same width, but other names or another delimiter.
        let continuation = main.continuation().unwrap();
        let mut renamed = continuation.clone();
        renamed.headers[0] = "other".into();
        let semicolons = Continuation {
            delimiter: b';',
            ..continuation
        };
        for continuation in [renamed, semicolons] {
            let mut other = CsvStream::resume(continuation);
            other.push(b"T1,1,ok\n").unwrap();
            let error = main.append_part(&other.finish_part().unwrap()).unwrap_err();
            assert!(error.to_string().contains("another header"), "{error}");
        }
        // The stream is unharmed by all that.
        main.push(&bytes[split..]).unwrap();
        let table = main.finish().unwrap();
        assert_same_table(&table, &read_csv("t.csv", bytes).unwrap(), "refused");
        // Only a resumed stream ends with a part.
        assert!(CsvStream::new("t.csv").finish_part().is_err());
    }

    #[test]
    fn a_file_in_three_parts_with_progress_and_a_memory_limit() {
        let bytes = payments_then(60_000, "bad\n");
        let (one, two) = (line_of(&bytes, "T0020000"), line_of(&bytes, "T0040000"));
        let mut main = CsvStream::new("t.csv");
        main.push(&bytes[..one]).unwrap();
        let continuation = main.continuation().unwrap();
        // The continuation crosses to the helper as JSON.
        let json = serde_json::to_string(&continuation).unwrap();
        let continuation: Continuation = serde_json::from_str(&json).unwrap();
        for (from, to) in [(one, two), (two, bytes.len())] {
            let mut helper = CsvStream::resume(continuation.clone());
            helper.push(&bytes[from..to]).unwrap();
            assert_eq!(helper.progress().rows, 20_000);
            main.append_part(&helper.finish_part().unwrap()).unwrap();
            assert!(main.at_record_boundary());
        }
        let progress = main.progress();
        assert_eq!(
            (progress.rows, progress.bytes),
            (60_000, bytes.len() as u64)
        );
        let whole = read_csv("t.csv", &bytes).unwrap();
        assert_same_table(&main.finish().unwrap(), &whole, "three parts");
        // A part that takes the main stream past its memory limit fails it.
        let mut main = CsvStream::new("t.csv");
        main.push(&bytes[..one]).unwrap();
        let limit = main.progress().memory_bytes * 5 / 4;
        let mut main = CsvStream::new("t.csv").with_memory_limit(limit, 0);
        main.push(&bytes[..one]).unwrap();
        let mut helper = CsvStream::resume(main.continuation().unwrap());
        helper.push(&bytes[one..]).unwrap();
        let error = main
            .append_part(&helper.finish_part().unwrap())
            .unwrap_err();
        assert!(matches!(error.kind, ErrorKind::TooLarge { .. }), "{error}");
    }

    /// The error of reading `bytes` pushed in chunks of `chunk` bytes (0: in one push).
    fn error_in_chunks(bytes: &[u8], chunk: usize) -> Error {
        let mut stream = CsvStream::new("t.csv");
        let pushed = match chunk {
            0 => stream.push(bytes),
            _ => bytes.chunks(chunk).try_for_each(|piece| stream.push(piece)),
        };
        match pushed {
            Err(error) => error,
            Ok(()) => stream.finish().unwrap_err(),
        }
    }

    #[test]
    fn known_formats_are_named_with_what_to_do() {
        let xlsx = b"PK\x03\x04\x14\0\x06\0\x08\0\0\0!\0\0\0\0\0\0\0\0\0\0\0\0\0\x13\0\0\0[Content_Types].xml\xb5\x94";
        let cases: [(&[u8], &str); 4] = [
            (
                xlsx,
                "t.csv: the file is an Excel workbook (.xlsx), not CSV: in Excel, File › Save As › CSV UTF-8",
            ),
            (
                b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
                "t.csv: the file is a ZIP archive, not CSV: extract the CSV file from it and load that",
            ),
            (
                b"\x1f\x8b\x08\0\0\0\0\0\0\x03",
                "t.csv: the file is gzip-compressed, not CSV: decompress it first (gunzip), or pipe it to the command-line tool: gunzip -c FILE | paymetrics report -",
            ),
            (
                b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
                "t.csv: the file is a PNG image, not CSV: export the transactions as CSV from the system they come from",
            ),
        ];
        for (bytes, message) in cases {
            for chunk in [0, 1, 5] {
                let error = error_in_chunks(bytes, chunk);
                assert!(matches!(error.kind, ErrorKind::NotCsv { .. }), "{error}");
                assert_eq!(error.to_string(), message, "chunks of {chunk}");
            }
        }
        // Whatever follows the first bytes: a 100 KB file is refused from its head.
        let mut big = xlsx.to_vec();
        big.resize(100_000, b'x');
        assert_eq!(
            error_in_chunks(&big, 4096).kind,
            read_csv("t.csv", xlsx).unwrap_err().kind
        );
    }

    /// A header of `columns` columns and one row.
    fn wide(columns: usize) -> String {
        let header: Vec<String> = (0..columns).map(|c| format!("c{c}")).collect();
        let row: Vec<String> = (0..columns).map(|c| c.to_string()).collect();
        format!("{}\n{}\n", header.join(","), row.join(","))
    }

    #[test]
    fn a_header_of_too_many_columns_is_refused_with_its_line_and_count() {
        let table = read_csv("t.csv", wide(MAX_COLUMNS).as_bytes()).unwrap();
        assert_eq!(table.headers.len(), MAX_COLUMNS);
        for (csv, line) in [
            (wide(3000), 1),
            (format!("Export of July\n\n{}", wide(2001)), 3),
        ] {
            let columns = csv.lines().nth(line - 1).unwrap().split(',').count();
            for chunk in [0, 1000, 4096] {
                let error = error_in_chunks(csv.as_bytes(), chunk);
                assert_eq!(
                    error.to_string(),
                    format!("t.csv:{line}: the header has {columns} columns, more than 2000, the most a file may have: keep the columns you need and save it again")
                );
            }
        }
    }

    /// A stream fed `bytes` whole (`chunk` 0) or in chunks of `chunk` bytes, not finished.
    fn pushed(bytes: &[u8], chunk: usize) -> CsvStream {
        let mut stream = CsvStream::new("t.csv");
        match chunk {
            0 => stream.push(bytes).unwrap(),
            _ => bytes.chunks(chunk).for_each(|c| stream.push(c).unwrap()),
        }
        stream
    }

    #[test]
    fn a_row_of_a_million_delimiters_is_skipped_without_keeping_its_fields() {
        let mut csv = payments(10);
        csv.push_str(&format!("T1,2{}\n", ",".repeat(1_000_000)));
        csv.push_str(&format!("T2,3{}x\n", ",".repeat(2500)));
        csv.push_str("T3,4.5,success\n");
        for chunk in [0, 4096, 1 << 20] {
            let stream = pushed(csv.as_bytes(), chunk);
            let Stage::Body(body) = &stream.stage else {
                panic!("reading")
            };
            // The record's buffers hold a header's worth of fields at most.
            assert!(body.ends.len() <= 2 * MAX_COLUMNS, "{}", body.ends.len());
            assert!(
                body.spans.capacity() <= 2 * MAX_COLUMNS,
                "{}",
                body.spans.capacity()
            );
            assert!(body.plain_ends.capacity() <= 2 * MAX_COLUMNS);
            let table = stream.finish().unwrap();
            assert_eq!(
                (table.rows_read, table.row_count()),
                (13, 11),
                "chunks of {chunk}"
            );
            let group = &table.skipped.groups()[0];
            let details: Vec<&str> = group.examples.iter().map(|e| e.message.as_str()).collect();
            assert_eq!(
                details,
                [
                    "t.csv:12: expected 3 fields, found 1000002",
                    "t.csv:13: expected 3 fields, found 2502"
                ],
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn a_record_over_the_size_limit_names_its_line_and_the_limit() {
        let mut csv = payments(3).into_bytes();
        csv.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 1));
        csv.extend(b"\nT9,1,success\n");
        let message = "t.csv:5: the record starting on line 5 is longer than 16 MiB, the most one record may take: is every line ended by a line break?";
        // In one push the line is split as a plain line; in chunks csv-core reads it.
        for chunk in [0, 1 << 20, 4 << 20] {
            let error = error_in_chunks(&csv, chunk);
            assert_eq!(error.to_string(), message, "chunks of {chunk}");
            assert_eq!(error.line, Some(5));
        }
        // A record just under the limit is read.
        let mut csv = payments(3).into_bytes();
        csv.extend(b"T4,\"");
        csv.extend(std::iter::repeat_n(b'y', MAX_RECORD_BYTES - 100));
        csv.extend(b"\",success\n");
        let table = read_csv("t.csv", &csv).unwrap();
        assert_eq!(table.columns[1].get(3).len(), MAX_RECORD_BYTES - 100);
    }

    #[test]
    fn an_unclosed_quote_names_the_line_it_opened_on() {
        // Near the end of the file: the rest of the file is not a cell.
        let mut csv = payments(5000);
        csv.push_str("T1,\"a\nb\",success\nT2,\"two\nlines\",\"open\nT3,1,success\nT4,2,success\n");
        for chunk in [0, 7, 4096] {
            let error = error_in_chunks(csv.as_bytes(), chunk);
            assert_eq!(
                error.to_string(),
                "t.csv:5005:3: a quote opened on line 5005 is never closed: the rest of the file would be one cell. Close the quote, or remove it",
                "chunks of {chunk}"
            );
        }
        // Far from the end: the quote is reported at the limit, before the file is read whole.
        let mut csv = payments(3).into_bytes();
        csv.extend(b"T4,\"1.5,success\n");
        csv.extend(payments(1_100_000).into_bytes());
        for chunk in [1 << 20, 4 << 20] {
            let mut stream = CsvStream::new("t.csv");
            let mut pushed = 0;
            let error = csv
                .chunks(chunk)
                .try_for_each(|piece| {
                    pushed += piece.len();
                    stream.push(piece)
                })
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                "t.csv:5:2: a quote opened on line 5 is not closed within 16 MiB, the most one record may take: close the quote, or remove it"
            );
            assert!(pushed < MAX_RECORD_BYTES + 2 * chunk, "{pushed}");
        }
    }

    #[test]
    fn a_long_record_read_by_csv_core_is_not_split_by_the_plain_path() {
        // csv-core reads a line with a quote; when its buffers filled part way through the line,
        // the plain path took the rest of the line for a record of its own (found by the test of
        // a row of a million delimiters).
        let long = "x".repeat(5000);
        let many = ",y".repeat(100);
        let csv = format!("a,b\n1,2\n\"q\",{long}\n\"r\",s{many}\n3,4\n");
        for chunk in [0, 4096, 1 << 20] {
            let stream = pushed(csv.as_bytes(), chunk);
            let table = stream.finish().unwrap();
            assert_eq!(
                (table.rows_read, table.row_count()),
                (4, 3),
                "chunks of {chunk}"
            );
            assert_eq!(table.columns[1].get(1), long.as_str());
            assert_eq!(table.skipped.groups()[0].examples[0].line, 4);
        }
    }
}
