//! Ingestion: CSV bytes -> a table of text cells, with a record of everything that was skipped.
//!
//! This stage decides only the file's shape (encoding, delimiter, header); what a column *means*
//! is decided later by `schema`, so that the user can change a mapping without re-reading the file.
use crate::error::{Error, ErrorKind, Result};
use crate::quality::{SkipLog, SkipReason};
use serde::Serialize;
use std::borrow::Cow;

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
    fn push(&mut self, cell: &str) -> Result<()> {
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
    /// 1-based file line where each kept row starts (for messages about its cells).
    pub lines: Vec<u64>,
    /// Data records found after the header, kept or not.
    pub rows_read: u64,
    /// Records this stage could not keep, by reason.
    pub skipped: SkipLog,
    pub warnings: Vec<String>,
}

impl RawTable {
    pub fn row_count(&self) -> usize {
        self.lines.len()
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|header| header == name)
    }
}

/// Reads a CSV file's bytes. `file` is the name used in messages.
pub fn read_csv(file: &str, bytes: &[u8]) -> Result<RawTable> {
    let (text, encoding, mut warnings) = decode(bytes).map_err(|e| e.in_file(file))?;
    if text.trim().is_empty() {
        return Err(Error::new(ErrorKind::Empty).in_file(file));
    }
    let delimiter = sniff_delimiter(&text);

    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        // We check field counts ourselves so that one bad row is reported, not fatal.
        .flexible(true)
        .from_reader(text.as_bytes());

    let mut record = csv::StringRecord::new();
    let header_line = match reader.read_record(&mut record) {
        Ok(true) => start_line(text.as_bytes(), record.position()),
        Ok(false) => return Err(Error::new(ErrorKind::Empty).in_file(file)),
        Err(e) => return Err(csv_error(file, e)),
    };
    let headers = unique_headers(&record);
    let width = headers.len();
    let mut columns = vec![TextColumn::default(); width];
    let mut lines = Vec::new();
    let mut skipped = SkipLog::default();
    let mut rows_read = 0u64;

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
        rows_read += 1;
        let line = start_line(text.as_bytes(), record.position());
        if record.len() != width {
            skipped.add(
                SkipReason::WrongFieldCount,
                file,
                line,
                None,
                format!("expected {width} fields, found {}", record.len()),
            );
            continue;
        }
        for (column, cell) in columns.iter_mut().zip(record.iter()) {
            // Trimming here, not with csv's Trim::All, which allocates a new record per row.
            column.push(cell.trim()).map_err(|e| e.in_file(file))?;
        }
        lines.push(line);
    }

    if rows_read == 0 {
        return Err(Error::new(ErrorKind::HeaderOnly).in_file(file));
    }
    if delimiter == b',' && width == 1 {
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
        headers,
        columns,
        lines,
        rows_read,
        skipped,
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

/// Turns the bytes into text. UTF-8 (with or without BOM) and UTF-16 with BOM are recognised;
/// other bytes that are not valid UTF-8 are tried as GB18030, the superset of the GBK encoding
/// that Chinese wallet exports use.
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str, Vec<String>)> {
    let mut warnings = Vec::new();
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        if had_errors {
            warnings.push(format!(
                "some bytes are not valid {} and were replaced by �",
                encoding.name()
            ));
        }
        return Ok((text, encoding.name(), warnings));
    }
    if let Some(byte) = find_binary(bytes) {
        return Err(Error::new(ErrorKind::NotText { byte }));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), "UTF-8", warnings));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if !had_errors {
        return Ok((text, "GB18030", warnings));
    }
    let text = String::from_utf8_lossy(bytes);
    warnings.push("the file is not valid UTF-8; unreadable bytes were replaced by �".to_string());
    Ok((Cow::Owned(text.into_owned()), "UTF-8", warnings))
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

/// Picks the delimiter that splits the first records into the same number of fields most
/// consistently, preferring more fields, then the order of `CANDIDATE_DELIMITERS`.
fn sniff_delimiter(text: &str) -> u8 {
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
    let mut best = (b',', 0usize, 0usize); // (delimiter, rows agreeing, fields)
    for delimiter in CANDIDATE_DELIMITERS {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(sample.as_bytes());
        let counts: Vec<usize> = reader
            .records()
            .take(SNIFF_RECORDS)
            .filter_map(|r| r.ok())
            .map(|r| r.len())
            .collect();
        let Some(&header_fields) = counts.first() else {
            continue;
        };
        if header_fields < 2 {
            continue;
        }
        let agreeing = counts.iter().filter(|&&n| n == header_fields).count();
        if (agreeing, header_fields) > (best.1, best.2) {
            best = (delimiter, agreeing, header_fields);
        }
    }
    best.0
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
    fn decodes_utf16_and_gb18030() {
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("a,b\n1,2\n".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        let table = read_csv("u.csv", &utf16).unwrap();
        assert_eq!(table.dialect.encoding, "UTF-16LE");
        assert_eq!(table.columns[1].get(0), "2");

        let (gbk, _, _) = encoding_rs::GBK.encode("金额,状态\n1,交易成功\n");
        let table = read_csv("g.csv", &gbk).unwrap();
        assert_eq!(table.dialect.encoding, "GB18030");
        assert_eq!(table.headers, vec!["金额", "状态"]);
        assert_eq!(table.columns[1].get(0), "交易成功");
    }
}
