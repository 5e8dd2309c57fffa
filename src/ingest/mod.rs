//! Ingestion: CSV bytes -> a table of text cells, with a record of everything that was skipped.
//!
//! This stage decides only the file's shape (encoding, delimiter, header); what a column *means*
//! is decided later by `schema`, so that the user can change a mapping without re-reading the file.
use crate::error::{Error, ErrorKind, Result};
use crate::quality::{SkipLog, SkipReason};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;

/// The delimiters we recognise, in order of preference when two fit equally well.
const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// How much of the file the dialect sniffer looks at.
const SNIFF_BYTES: usize = 64 * 1024;
/// How many records the dialect sniffer compares.
const SNIFF_RECORDS: usize = 50;

/// One column of text cells, stored as one string plus cell end offsets: two allocations per
/// column instead of one per cell, which matters at millions of rows.
#[derive(Debug, Clone, Default)]
pub struct TextColumn {
    text: String,
    ends: Vec<u32>,
}

impl TextColumn {
    /// A column holding `cells`, in order.
    pub fn from_cells<'a>(cells: impl IntoIterator<Item = &'a str>) -> Result<TextColumn> {
        let mut column = TextColumn::default();
        for cell in cells {
            column.push(cell)?;
        }
        Ok(column)
    }

    pub fn push(&mut self, cell: &str) -> Result<()> {
        self.text.push_str(cell);
        let end = u32::try_from(self.text.len()).map_err(|_| {
            Error::new(ErrorKind::InvalidOption(
                "a column holds more than 4 GiB of text; use the command-line tool on a split file"
                    .into(),
            ))
        })?;
        self.ends.push(end);
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The cell of row `row` (trimmed at load time).
    pub fn get(&self, row: usize) -> &str {
        let start = if row == 0 {
            0
        } else {
            self.ends[row - 1] as usize
        };
        &self.text[start..self.ends[row] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(move |row| self.get(row))
    }
}

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
    pub columns: Vec<TextColumn>,
    /// How many of `columns` come from the file itself; the rest were added (joined, derived).
    pub file_columns: usize,
    /// 1-based file line where each kept row starts (for messages about its cells).
    pub lines: Vec<u64>,
    /// Data records found after the header, kept or not.
    pub rows_read: u64,
    /// Data records this stage could not keep, by reason.
    pub skipped: SkipLog,
    /// Lines that are not data: notes before the header, summaries after the data.
    pub lines_skipped: SkipLog,
    pub warnings: Vec<String>,
}

impl RawTable {
    pub fn row_count(&self) -> usize {
        self.lines.len()
    }

    /// The 1-based column number of column `index` in the file, for messages; `None` for a
    /// column that is not the file's own (joined from a lookup, or derived).
    pub fn column_number(&self, index: usize) -> Option<u64> {
        (index < self.file_columns).then_some(index as u64 + 1)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|header| header == name)
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
    read_text(file, decode(bytes).map_err(|e| e.in_file(file))?)
}

/// Reads a CSV file that the host has decoded to UTF-8 from `encoding`, after [`read_csv`]
/// refused it with [`ErrorKind::NeedsDecoding`] (the page's worker decodes GB18030 with the
/// browser's `TextDecoder`). `encoding` is the name the data-quality panel shows.
pub fn read_decoded_csv(file: &str, utf8: &[u8], encoding: &str) -> Result<RawTable> {
    let utf8 = utf8.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(utf8);
    read_text(file, decode_utf8(utf8, encoding))
}

fn read_text(file: &str, decoded: Decoded<'_>) -> Result<RawTable> {
    let Decoded {
        text,
        encoding,
        mut warnings,
    } = decoded;
    if text.trim().is_empty() {
        return Err(Error::new(ErrorKind::Empty).in_file(file));
    }
    let shape = sniff(&text);
    let delimiter = shape.delimiter;

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        // We check field counts ourselves so that one bad row is reported, not fatal.
        .flexible(true)
        .from_reader(text.as_bytes());

    let mut record = csv::StringRecord::new();
    let mut lines_skipped = SkipLog::default();
    let mut header_line = 0;
    for index in 0..=shape.header_record {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Err(Error::new(ErrorKind::Empty).in_file(file)),
            Err(e) => return Err(csv_error(file, e)),
        }
        if index == shape.header_record {
            header_line = start_line(text.as_bytes(), record.position());
        }
    }
    // Every line above the header is a note, blank ones included.
    for line in 1..header_line {
        lines_skipped.add(
            SkipReason::Preamble,
            file,
            line,
            None,
            "notes before the header row".to_string(),
        );
    }
    let mut headers = unique_headers(&record);
    let width = headers.len();
    // Unnamed columns at the end of the header usually come from a trailing delimiter; rows may
    // then omit them, and they are dropped below if they hold nothing.
    let unnamed_tail = record
        .iter()
        .rev()
        .take_while(|n| n.trim().is_empty())
        .count();
    let mut columns = vec![TextColumn::default(); width];
    let mut lines = Vec::new();
    let mut skipped = SkipLog::default();
    let mut rows_read = 0u64;
    // Rows that do not fit the header are held back: if no good row follows them, they are the
    // file's closing summary lines, not bad data rows.
    let mut misfits: Vec<(u64, String)> = Vec::new();

    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // csv only fails here on invalid UTF-8, which decoding has ruled out; still,
                // report it as a skipped row rather than losing the rest of the file.
                rows_read += 1;
                let line = start_line(text.as_bytes(), e.position());
                skipped.add(SkipReason::Unreadable, file, line, None, e.to_string());
                continue;
            }
        }
        let line = start_line(text.as_bytes(), record.position());
        let filled = record.iter().filter(|cell| !cell.trim().is_empty()).count();
        let fits = (record.len() <= width && record.len() + unnamed_tail >= width)
            || (record.len() > width && record.iter().skip(width).all(|c| c.trim().is_empty()));
        if !fits || (filled <= 1 && width > 2) {
            let detail = if fits {
                "only one cell is filled".to_string()
            } else {
                format!("expected {width} fields, found {}", record.len())
            };
            misfits.push((line, detail));
            continue;
        }
        for (line, detail) in misfits.drain(..) {
            rows_read += 1;
            skipped.add(SkipReason::WrongFieldCount, file, line, None, detail);
        }
        rows_read += 1;
        if filled == 0 {
            skipped.add(
                SkipReason::EmptyRow,
                file,
                line,
                None,
                "every cell is empty".into(),
            );
            continue;
        }
        for (index, column) in columns.iter_mut().enumerate() {
            // Trimming here, not with csv's Trim::All, which allocates a new record per row.
            let cell = record.get(index).unwrap_or("").trim();
            column.push(cell).map_err(|e| e.in_file(file))?;
        }
        lines.push(line);
    }
    while headers.len() > 1
        && columns.len() + unnamed_tail > width
        && columns.last().is_some_and(|c| c.iter().all(str::is_empty))
    {
        headers.pop();
        columns.pop();
    }
    for (line, _) in misfits {
        lines_skipped.add(
            SkipReason::Footer,
            file,
            line,
            None,
            "summary line after the data".to_string(),
        );
    }

    if rows_read == 0 {
        return Err(Error::new(ErrorKind::HeaderOnly).in_file(file));
    }
    if width == 1 {
        warnings.push(
            "only one column was found: no delimiter (, ; tab |) separates the header".to_string(),
        );
    }
    Ok(RawTable {
        file: file.to_string(),
        dialect: Dialect {
            encoding: encoding.to_string(),
            delimiter: delimiter_name(delimiter).to_string(),
            header_line,
        },
        file_columns: headers.len(),
        headers,
        columns,
        lines,
        rows_read,
        skipped,
        lines_skipped,
        warnings,
    })
}

/// The 1-based line on which a record starts. csv reports where it began reading the record,
/// which lies before the line break of a CRLF or before blank lines it skipped: step over those.
fn start_line(text: &[u8], position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else {
        return 0;
    };
    let start = (position.byte() as usize).min(text.len());
    let breaks = text[start..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .filter(|&&b| b == b'\n')
        .count();
    position.line() + breaks as u64
}

fn csv_error(file: &str, error: csv::Error) -> Error {
    let line = error.position().map(|p| p.line());
    let mut e = Error::new(ErrorKind::Csv(error.to_string())).in_file(file);
    e.line = line;
    e
}

/// Text decoded from a file's bytes, with the name of the encoding it was in.
struct Decoded<'a> {
    text: Cow<'a, str>,
    encoding: &'a str,
    warnings: Vec<String>,
}

impl<'a> Decoded<'a> {
    fn new(text: Cow<'a, str>, encoding: &'a str) -> Self {
        Decoded {
            text,
            encoding,
            warnings: Vec::new(),
        }
    }

    /// Notes that some bytes could not be decoded and were replaced by U+FFFD.
    fn replaced(mut self, had_errors: bool) -> Self {
        if had_errors {
            let warning = format!(
                "some bytes are not valid {} and were replaced by �",
                self.encoding
            );
            self.warnings.push(warning);
        }
        self
    }
}

/// Turns the bytes into text. UTF-8 (with or without BOM) and UTF-16 with BOM are recognised;
/// other bytes that are not valid UTF-8 but are well-formed GB18030, the superset of the GBK
/// encoding that Chinese wallet exports use, are read as GB18030.
///
/// UTF-8 and UTF-16 are decoded here. GB18030 needs tables of ~24,000 characters: they come from
/// `encoding_rs` with the `legacy-encodings` feature (the CLI, native tests). Without it (the
/// wasm build: the browser has those tables already), the file is recognised all the same and
/// refused with [`ErrorKind::NeedsDecoding`]: the host decodes the bytes (`TextDecoder`) and
/// hands the UTF-8 text to [`read_decoded_csv`].
fn decode(bytes: &[u8]) -> Result<Decoded<'_>> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok(decode_utf8(rest, "UTF-8"));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Ok(decode_utf16(rest, "UTF-16LE", u16::from_le_bytes));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return Ok(decode_utf16(rest, "UTF-16BE", u16::from_be_bytes));
    }
    if let Some(byte) = find_binary(bytes) {
        return Err(Error::new(ErrorKind::NotText { byte }));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Decoded::new(Cow::Borrowed(text), "UTF-8"));
    }
    if is_gb18030(bytes) {
        return decode_gb18030(bytes);
    }
    let mut decoded = decode_utf8(bytes, "UTF-8");
    decoded.warnings =
        vec!["the file is not valid UTF-8; unreadable bytes were replaced by �".into()];
    Ok(decoded)
}

/// UTF-8 text, with invalid bytes replaced.
fn decode_utf8<'a>(bytes: &'a [u8], encoding: &'a str) -> Decoded<'a> {
    let text = String::from_utf8_lossy(bytes);
    let had_errors = matches!(text, Cow::Owned(_));
    Decoded::new(text, encoding).replaced(had_errors)
}

/// UTF-16 in the given byte order; unpaired surrogates and an odd last byte become U+FFFD.
fn decode_utf16<'a>(bytes: &[u8], encoding: &'a str, unit: fn([u8; 2]) -> u16) -> Decoded<'a> {
    let pairs = bytes.chunks_exact(2);
    let odd_byte = !pairs.remainder().is_empty();
    let mut had_errors = odd_byte;
    let mut text = String::with_capacity(bytes.len() + bytes.len() / 2);
    for c in char::decode_utf16(pairs.map(|pair| unit([pair[0], pair[1]]))) {
        text.push(c.unwrap_or_else(|_| {
            had_errors = true;
            char::REPLACEMENT_CHARACTER
        }));
    }
    if odd_byte {
        text.push(char::REPLACEMENT_CHARACTER);
    }
    Decoded::new(Cow::Owned(text), encoding).replaced(had_errors)
}

#[cfg(feature = "legacy-encodings")]
fn decode_gb18030(bytes: &[u8]) -> Result<Decoded<'_>> {
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    Ok(Decoded::new(text, "GB18030").replaced(had_errors))
}

#[cfg(not(feature = "legacy-encodings"))]
fn decode_gb18030(_: &[u8]) -> Result<Decoded<'_>> {
    Err(Error::new(ErrorKind::NeedsDecoding {
        encoding: "GB18030".into(),
    }))
}

/// Whether the bytes are well-formed GB18030 as the WHATWG Encoding Standard decodes it (the
/// browser's `TextDecoder('gb18030')`, and `encoding_rs`): ASCII, 0x80 (€), two bytes (lead
/// 0x81-0xFE, trail 0x40-0x7E or 0x80-0xFE: every such pair is mapped) or four bytes (0x81-0xFE,
/// 0x30-0x39, 0x81-0xFE, 0x30-0x39) whose pointer falls in a mapped range. Bytes that pass decode
/// without a single replacement character, so this needs no tables.
fn is_gb18030(bytes: &[u8]) -> bool {
    let lead = 0x81..=0xFE;
    let digit = 0x30..=0x39;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b <= 0x80 {
            i += 1;
            continue;
        }
        if !lead.contains(&b) {
            return false;
        }
        match bytes.get(i + 1) {
            Some(&t) if (0x40..=0x7E).contains(&t) || (0x80..=0xFE).contains(&t) => i += 2,
            Some(&t) if digit.contains(&t) => match (bytes.get(i + 2), bytes.get(i + 3)) {
                (Some(&c), Some(&d)) if lead.contains(&c) && digit.contains(&d) => {
                    let pointer = (u32::from(b) - 0x81) * 12600
                        + (u32::from(t) - 0x30) * 1260
                        + (u32::from(c) - 0x81) * 10
                        + (u32::from(d) - 0x30);
                    if (pointer > 39419 && pointer < 189_000) || pointer > 1_237_575 {
                        return false;
                    }
                    i += 4;
                }
                _ => return false,
            },
            _ => return false,
        }
    }
    true
}

/// A NUL byte, or many control characters, in the first kilobytes means a binary file (an image,
/// a zip, a spreadsheet saved as .xlsx) rather than text.
fn find_binary(bytes: &[u8]) -> Option<u64> {
    let head = &bytes[..bytes.len().min(8192)];
    if let Some(position) = head.iter().position(|&b| b == 0) {
        return Some(position as u64);
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
        .count();
    (control * 20 > head.len().max(1)).then_some(0)
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
fn unique_headers(record: &csv::StringRecord) -> Vec<String> {
    let mut headers: Vec<String> = Vec::with_capacity(record.len());
    for (index, name) in record.iter().enumerate() {
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
        assert_eq!(table.lines, vec![6, 7]);
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
    fn reads_bom_crlf_and_quotes() {
        let table = read_csv("t.csv", b"\xEF\xBB\xBFid,name\r\n1,\"x, y\"\r\n2,z\r\n").unwrap();
        assert_eq!(table.headers, vec!["id", "name"]);
        assert_eq!(table.columns[1].get(0), "x, y");
        assert_eq!(table.lines, vec![2, 3]);
        let table = read_csv("t.csv", b"\n\nid\n1\n\n\n2\n").unwrap();
        assert_eq!(table.dialect.header_line, 3);
        assert_eq!(table.lines, vec![4, 7]);
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
        assert!(matches!(
            read_csv("b.csv", b"\x89PNG\r\n\x1a\n\0\0\0")
                .unwrap_err()
                .kind,
            ErrorKind::NotText { .. }
        ));
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
        let decoded = decode(&broken).unwrap();
        assert_eq!(decoded.text, "a,b\n1,2\n\u{FFFD}3,4\u{FFFD}");
        assert_eq!(
            decoded.warnings,
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

    /// Byte strings that stress GB18030's structure: mostly lead, trail and digit bytes.
    #[cfg(feature = "legacy-encodings")]
    fn random_gb_like(seed: &mut u64, len: usize) -> Vec<u8> {
        const BYTES: &[u8] = b"\x81\x82\x84\x85\x8F\x90\x95\xA1\xE3\xE4\xFD\xFE\xFF\x80\x7F\x40\x7E\x30\x32\x35\x39a,\n";
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                BYTES[(*seed % BYTES.len() as u64) as usize]
            })
            .collect()
    }

    /// The table-free check of the wasm build accepts exactly what encoding_rs (and the
    /// browser's TextDecoder, same standard) decodes without a replacement.
    #[cfg(feature = "legacy-encodings")]
    #[test]
    fn the_gb18030_check_agrees_with_encoding_rs() {
        let clean = |bytes: &[u8]| !encoding_rs::GB18030.decode_without_bom_handling(bytes).1;
        for lead in 0..=255u8 {
            for trail in 0..=255u8 {
                let pair = [lead, trail];
                assert_eq!(is_gb18030(&pair), clean(&pair), "{pair:02X?}");
            }
        }
        for first in [0x81u8, 0x84, 0x85, 0x8F, 0x90, 0xE3, 0xE4, 0xFD, 0xFE] {
            for second in 0x2F..=0x3A {
                for third in [0x80u8, 0x81, 0x99, 0xFE, 0xFF] {
                    for fourth in 0x2F..=0x3A {
                        let quad = [first, second, third, fourth];
                        assert_eq!(is_gb18030(&quad), clean(&quad), "{quad:02X?}");
                    }
                }
            }
        }
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2000 {
            let bytes = random_gb_like(&mut seed, len % 13);
            assert_eq!(is_gb18030(&bytes), clean(&bytes), "{bytes:02X?}");
        }
    }

    /// UTF-16 is decoded without encoding_rs, with the same result.
    #[cfg(feature = "legacy-encodings")]
    #[test]
    fn utf16_decoding_agrees_with_encoding_rs() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for len in 0..2000 {
            let mut bytes = random_gb_like(&mut seed, len % 17);
            for (i, b) in bytes.iter_mut().enumerate() {
                if i % 4 == 1 && *b > 0xF0 {
                    *b = 0xD8 | (*b & 7); // surrogates, paired or not
                }
            }
            for (ours, theirs) in [
                (
                    decode_utf16(&bytes, "UTF-16LE", u16::from_le_bytes),
                    encoding_rs::UTF_16LE.decode_without_bom_handling(&bytes),
                ),
                (
                    decode_utf16(&bytes, "UTF-16BE", u16::from_be_bytes),
                    encoding_rs::UTF_16BE.decode_without_bom_handling(&bytes),
                ),
            ] {
                assert_eq!(ours.text, theirs.0, "{bytes:02X?}");
                assert_eq!(ours.warnings.is_empty(), !theirs.1, "{bytes:02X?}");
            }
        }
    }
}
