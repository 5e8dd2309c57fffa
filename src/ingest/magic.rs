//! Files that are not CSV, known by their first bytes: a workbook, an archive, a PDF, an image.
//!
//! Why: users drop whatever they have, often with a `.csv` name it does not deserve (a workbook
//! renamed, a download that was zipped). Such a file would otherwise be refused as "binary data
//! at byte N", which does not say what to do. The check reads the first bytes only, and lives in
//! the core so that the page and the CLI say the same thing. Hand-written rather than the `infer`
//! crate: these nine formats are all a message names, and its ~200 matchers would ride along in
//! every page load.
use std::fmt;

/// A known format that is not CSV text.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Zip,
    /// An Excel workbook (Office Open XML, itself a ZIP archive).
    Xlsx,
    /// An OpenDocument spreadsheet (LibreOffice; a ZIP archive too).
    Ods,
    /// A legacy Office file (OLE2 compound document): Excel 97-2003 `.xls`, mostly.
    Xls,
    Gzip,
    Pdf,
    Parquet,
    Png,
    Jpeg,
}

/// The format `head` (a file's first bytes) starts with, if it is one of [`FileFormat`]'s.
pub fn recognise(head: &[u8]) -> Option<FileFormat> {
    let format = match head {
        [b'P', b'K', 3, 4, ..] => zip_kind(head),
        // An empty archive is only its end record.
        [b'P', b'K', 5, 6, ..] => FileFormat::Zip,
        [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, ..] => FileFormat::Xls,
        [0x1F, 0x8B, ..] => FileFormat::Gzip,
        [b'%', b'P', b'D', b'F', b'-', ..] => FileFormat::Pdf,
        // A text file could start with these four letters; a Parquet file has binary data next.
        [b'P', b'A', b'R', b'1', rest @ ..] if rest.iter().take(64).any(|&b| b < 0x09) => {
            FileFormat::Parquet
        }
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n', ..] => FileFormat::Png,
        [0xFF, 0xD8, 0xFF, ..] => FileFormat::Jpeg,
        _ => return None,
    };
    Some(format)
}

/// A ZIP archive's kind, from its first entry (a local file header: its name's length at byte
/// 26, the name at byte 30): an Excel workbook starts with `[Content_Types].xml` or `xl/`, an
/// OpenDocument file with an entry `mimetype` holding its media type, uncompressed.
fn zip_kind(head: &[u8]) -> FileFormat {
    let name_len = head
        .get(26..28)
        .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let name = head.get(30..30 + name_len).unwrap_or_default();
    let after = head.get(30 + name_len..).unwrap_or_default();
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    if name == b"[Content_Types].xml" || name.starts_with(b"xl/") {
        FileFormat::Xlsx
    } else if name == b"mimetype"
        && contains(&after[..after.len().min(128)], b"opendocument.spreadsheet")
    {
        FileFormat::Ods
    } else {
        FileFormat::Zip
    }
}

impl FileFormat {
    /// What to do with such a file, to get a CSV file from it.
    fn advice(self) -> &'static str {
        match self {
            FileFormat::Zip => "extract the CSV file from it and load that",
            FileFormat::Xlsx | FileFormat::Xls => "in Excel, File › Save As › CSV UTF-8",
            FileFormat::Ods => "in LibreOffice, File › Save As › Text CSV",
            FileFormat::Gzip => {
                "decompress it first (gunzip), or pipe it to the command-line tool: gunzip -c FILE | paymetrics report -"
            }
            FileFormat::Pdf | FileFormat::Png | FileFormat::Jpeg => {
                "export the transactions as CSV from the system they come from"
            }
            FileFormat::Parquet => "convert it to CSV first (DuckDB, pandas or Spark can)",
        }
    }
}

impl fmt::Display for FileFormat {
    /// "the file is an Excel workbook (.xlsx), not CSV: in Excel, File › Save As › CSV UTF-8".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            FileFormat::Zip => "a ZIP archive",
            FileFormat::Xlsx => "an Excel workbook (.xlsx)",
            FileFormat::Ods => "an OpenDocument spreadsheet (.ods)",
            FileFormat::Xls => "an Excel 97-2003 workbook (.xls)",
            FileFormat::Gzip => "gzip-compressed",
            FileFormat::Pdf => "a PDF document",
            FileFormat::Parquet => "a Parquet file",
            FileFormat::Png => "a PNG image",
            FileFormat::Jpeg => "a JPEG image",
        };
        write!(f, "the file is {what}, not CSV: {}", self.advice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ZIP local file header whose first entry is `name`, followed by `data`.
    fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        bytes.extend((name.len() as u16).to_le_bytes());
        bytes.extend([0, 0]);
        bytes.extend(name.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn known_formats_by_their_first_bytes() {
        let ods = zip_with(
            "mimetype",
            b"application/vnd.oasis.opendocument.spreadsheetPK\x03\x04",
        );
        let cases: Vec<(Vec<u8>, Option<FileFormat>)> = vec![
            (
                zip_with("[Content_Types].xml", b"<?xml"),
                Some(FileFormat::Xlsx),
            ),
            (
                zip_with("xl/workbook.xml", b"<?xml"),
                Some(FileFormat::Xlsx),
            ),
            (ods, Some(FileFormat::Ods)),
            (
                zip_with("mimetype", b"application/vnd.oasis.opendocument.text"),
                Some(FileFormat::Zip),
            ),
            (
                zip_with("payments.csv", b"a,b\n1,2\n"),
                Some(FileFormat::Zip),
            ),
            (
                b"PK\x05\x06".iter().chain(&[0; 18]).copied().collect(),
                Some(FileFormat::Zip),
            ),
            // Cut short: still a ZIP archive, whose entry cannot be named.
            (b"PK\x03\x04\x14\0".to_vec(), Some(FileFormat::Zip)),
            (
                b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0".to_vec(),
                Some(FileFormat::Xls),
            ),
            (b"\x1F\x8B\x08\0\0\0".to_vec(), Some(FileFormat::Gzip)),
            (b"%PDF-1.7\n%\xE2\xE3".to_vec(), Some(FileFormat::Pdf)),
            (b"PAR1\x15\x04\x15\0".to_vec(), Some(FileFormat::Parquet)),
            (
                b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR".to_vec(),
                Some(FileFormat::Png),
            ),
            (
                b"\xFF\xD8\xFF\xE0\0\x10JFIF".to_vec(),
                Some(FileFormat::Jpeg),
            ),
            // Text that only looks like a start.
            (b"PAR1,amount\n1,2\n".to_vec(), None),
            (b"PK,amount\n1,2\n".to_vec(), None),
            (b"%PDF,x\n".to_vec(), None),
            (b"".to_vec(), None),
        ];
        for (bytes, want) in cases {
            assert_eq!(recognise(&bytes), want, "{bytes:02X?}");
        }
    }
}
