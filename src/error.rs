//! Typed errors of the core. Like the `csv` crate, an error knows where it happened (file, line,
//! column) so that every message can point the user at the offending cell.
use crate::ingest::FileFormat;
use std::fmt;

/// What went wrong. Non-exhaustive: later work adds kinds without breaking matches downstream.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorKind {
    /// The file has no bytes (or only white space).
    Empty,
    /// The bytes are not text: a NUL byte or other binary data was found at `byte`.
    NotText { byte: u64 },
    /// The file is in a known format that is not CSV (a workbook, an archive, an image...),
    /// recognised by its first bytes whatever its name says.
    NotCsv { format: FileFormat },
    /// The header has more columns than the core reads (`ingest::MAX_COLUMNS`).
    TooManyColumns { columns: u64, limit: u64 },
    /// One record, starting on `line`, takes more than `limit_bytes` of the file
    /// (`ingest::MAX_RECORD_BYTES`).
    RecordTooLong { line: u64, limit_bytes: u64 },
    /// A quoted field opened on `line` never ends: at the end of the file, or (`within`) before
    /// its record grew past the limit of one record.
    UnclosedQuote { line: u64, within: Option<u64> },
    /// The bytes are text in `encoding` (GB18030), which this build does not decode: it was built
    /// without the `legacy-encodings` feature, as the wasm build is. The host decodes the bytes
    /// to UTF-8 (the browser's `TextDecoder`) and reads them with `ingest::read_decoded_csv`.
    NeedsDecoding { encoding: String },
    /// A header row was found but no data rows follow it.
    HeaderOnly,
    /// The CSV tokenizer gave up (the message comes from the `csv` crate).
    Csv(String),
    /// An option given by the user (time zone, grain, mapping) is not valid.
    InvalidOption(String),
    /// A mapping names a column that the file does not have.
    UnknownColumn { role: String, column: String },
    /// The file needs more memory than the host allows (the page's limit, below what would
    /// crash the tab); `rows` were read when the limit was reached.
    TooLarge { limit_bytes: u64, rows: u64 },
    /// The host could not read the file's bytes (the operating system's message).
    Io(String),
}

/// An error with the place it refers to. `Display` gives one readable line, e.g.
/// `payments.csv:7:3: amount "abc" is not a number`.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub file: Option<String>,
    pub line: Option<u64>,
    pub column: Option<u64>,
}

impl Error {
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            file: None,
            line: None,
            column: None,
        }
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn at_column(mut self, column: u64) -> Self {
        self.column = Some(column);
        self
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Empty => write!(f, "the file is empty"),
            ErrorKind::NotText { byte } => write!(
                f,
                "this does not look like a CSV text file (binary data at byte {byte})"
            ),
            ErrorKind::NotCsv { format } => write!(f, "{format}"),
            ErrorKind::TooManyColumns { columns, limit } => write!(
                f,
                "the header has {columns} columns, more than {limit}, the most a file may have: keep the columns you need and save it again"
            ),
            ErrorKind::RecordTooLong { line, limit_bytes } => write!(
                f,
                "the record starting on line {line} is longer than {} MiB, the most one record may take: is every line ended by a line break?",
                limit_bytes >> 20
            ),
            ErrorKind::UnclosedQuote { line, within: None } => write!(
                f,
                "a quote opened on line {line} is never closed: the rest of the file would be one cell. Close the quote, or remove it"
            ),
            ErrorKind::UnclosedQuote {
                line,
                within: Some(limit_bytes),
            } => write!(
                f,
                "a quote opened on line {line} is not closed within {} MiB, the most one record may take: close the quote, or remove it",
                limit_bytes >> 20
            ),
            ErrorKind::NeedsDecoding { encoding } => write!(
                f,
                "the file is {encoding} text, which this build cannot decode: decode it to UTF-8 first"
            ),
            ErrorKind::HeaderOnly => write!(f, "the file has a header row but no data rows"),
            ErrorKind::Csv(message) => write!(f, "cannot read as CSV: {message}"),
            ErrorKind::InvalidOption(message) => write!(f, "{message}"),
            ErrorKind::TooLarge { limit_bytes, rows } => write!(
                f,
                "the file is too large to load in the browser: after {rows} rows it needs more than {} MiB, the page's limit. The command-line tool reads files of any size: `paymetrics report --stream FILE`",
                limit_bytes >> 20
            ),
            ErrorKind::Io(message) => write!(f, "cannot read the file: {message}"),
            ErrorKind::UnknownColumn { role, column } => {
                write!(
                    f,
                    "cannot map {role} to \"{column}\": the file has no such column"
                )
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
