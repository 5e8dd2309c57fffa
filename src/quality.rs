//! The data-quality ledger: every row that is not loaded is counted here with its reason and the
//! first few places it happened, so that rows read = rows loaded + rows skipped always holds.
use serde::{Deserialize, Serialize};

/// How many example places are kept per reason.
const EXAMPLES_PER_REASON: usize = 5;

/// Why a row was not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SkipReason {
    Preamble,
    Footer,
    EmptyRow,
    WrongFieldCount,
    Unreadable,
    AmountNotANumber,
    TimeMissing,
    TimeNotUnderstood,
}

impl SkipReason {
    /// Every reason, in a fixed order: a reason's index here is its number in a part of a file
    /// read by another stream (see [`SkipLogPart`]).
    const ALL: [SkipReason; 8] = [
        SkipReason::Preamble,
        SkipReason::Footer,
        SkipReason::EmptyRow,
        SkipReason::WrongFieldCount,
        SkipReason::Unreadable,
        SkipReason::AmountNotANumber,
        SkipReason::TimeMissing,
        SkipReason::TimeNotUnderstood,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Preamble => "notes before the header",
            SkipReason::Footer => "summary after the data",
            SkipReason::EmptyRow => "empty row",
            SkipReason::WrongFieldCount => "wrong number of fields",
            SkipReason::Unreadable => "unreadable record",
            SkipReason::AmountNotANumber => "amount is not a number",
            SkipReason::TimeMissing => "created_at is empty",
            SkipReason::TimeNotUnderstood => "created_at is not a date/time",
        }
    }
}

/// One place a problem was found. `message` is a full sentence with `file:line:column:`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Example {
    pub line: u64,
    pub column: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SkipGroup {
    pub reason: String,
    pub count: u64,
    /// The first and last file line concerned (lines are added in file order).
    pub first_line: u64,
    pub last_line: u64,
    pub examples: Vec<Example>,
    #[serde(skip)]
    key: Option<SkipReason>,
}

/// Skipped rows grouped by reason, in the order reasons were first met.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SkipLog {
    groups: Vec<SkipGroup>,
}

impl SkipLog {
    pub fn add(
        &mut self,
        reason: SkipReason,
        file: &str,
        line: u64,
        column: Option<u64>,
        detail: String,
    ) {
        let index = match self.groups.iter().position(|g| g.key == Some(reason)) {
            Some(index) => index,
            None => {
                self.groups.push(SkipGroup {
                    reason: reason.describe().to_string(),
                    count: 0,
                    first_line: line,
                    last_line: line,
                    examples: Vec::new(),
                    key: Some(reason),
                });
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[index];
        group.count += 1;
        group.first_line = group.first_line.min(line);
        group.last_line = group.last_line.max(line);
        if group.examples.len() < EXAMPLES_PER_REASON {
            let place = match column {
                Some(column) => format!("{file}:{line}:{column}"),
                None => format!("{file}:{line}"),
            };
            group.examples.push(Example {
                line,
                column,
                message: format!("{place}: {detail}"),
            });
        }
    }

    pub fn extend(&mut self, other: &SkipLog) {
        for group in &other.groups {
            match self.groups.iter_mut().find(|g| g.key == group.key) {
                Some(mine) => {
                    mine.count += group.count;
                    mine.first_line = mine.first_line.min(group.first_line);
                    mine.last_line = mine.last_line.max(group.last_line);
                    let room = EXAMPLES_PER_REASON.saturating_sub(mine.examples.len());
                    mine.examples
                        .extend(group.examples.iter().take(room).cloned());
                }
                None => self.groups.push(group.clone()),
            }
        }
    }

    /// The log as another stream's part of the file carries it to the stream that read the
    /// file's start (`ingest::CsvStream::finish_part`): every group with its lines as that
    /// stream counted them.
    pub(crate) fn to_part(&self) -> SkipLogPart {
        let groups = self
            .groups
            .iter()
            .map(|group| GroupPart {
                key: group
                    .key
                    .and_then(|key| SkipReason::ALL.iter().position(|&k| k == key))
                    .map(|index| index as u8),
                reason: group.reason.clone(),
                count: group.count,
                first_line: group.first_line,
                last_line: group.last_line,
                examples: group
                    .examples
                    .iter()
                    .map(|e| (e.line, e.column, e.message.clone()))
                    .collect(),
            })
            .collect();
        SkipLogPart { groups }
    }

    /// The log of a part read by another stream, with `shift` added to every line: the part
    /// counted its lines from 1, the file's line `shift + 1`. The messages start with
    /// `file:line`, which is rewritten with the file's line. `None` when the part does not hold
    /// together (a message not of the form `add` writes, an unknown reason, lines out of order):
    /// it came from elsewhere, or was damaged.
    pub(crate) fn from_part(part: SkipLogPart, file: &str, shift: u64) -> Option<SkipLog> {
        let place = |line: u64, column: Option<u64>| match column {
            Some(column) => format!("{file}:{line}:{column}: "),
            None => format!("{file}:{line}: "),
        };
        let mut groups = Vec::with_capacity(part.groups.len());
        for group in part.groups {
            let key = match group.key {
                Some(index) => Some(*SkipReason::ALL.get(usize::from(index))?),
                None => None,
            };
            if key.is_some_and(|key| key.describe() != group.reason)
                || group.first_line > group.last_line
                || group.examples.len() > EXAMPLES_PER_REASON
                || (group.examples.len() as u64) > group.count
            {
                return None;
            }
            let mut examples = Vec::with_capacity(group.examples.len());
            for (line, column, message) in group.examples {
                let detail = message.strip_prefix(&place(line, column))?;
                let line = line.checked_add(shift)?;
                examples.push(Example {
                    line,
                    column,
                    message: format!("{}{detail}", place(line, column)),
                });
            }
            groups.push(SkipGroup {
                reason: group.reason,
                count: group.count,
                first_line: group.first_line.checked_add(shift)?,
                last_line: group.last_line.checked_add(shift)?,
                examples,
                key,
            });
        }
        Some(SkipLog { groups })
    }

    pub fn total(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }

    pub fn groups(&self) -> &[SkipGroup] {
        &self.groups
    }
}

/// A [`SkipLog`] as a part of a file read by another stream carries it (small: five examples a
/// reason at most, so it travels as JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SkipLogPart {
    groups: Vec<GroupPart>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct GroupPart {
    /// The reason's index in `SkipReason::ALL`.
    key: Option<u8>,
    reason: String,
    count: u64,
    first_line: u64,
    last_line: u64,
    examples: Vec<(u64, Option<u64>, String)>,
}

/// Counts values that were present but not understood in a column that does not decide whether
/// a row is kept (e.g. a fee of "n/a"): the row stays, the value becomes missing, and the user is
/// told how many and where the first one was.
#[derive(Debug, Clone, Default)]
pub struct UnreadableValues {
    pub count: u64,
    pub first: Option<(u64, Option<u64>, String)>,
}

impl UnreadableValues {
    pub fn note(&mut self, line: u64, column: Option<u64>, value: &str) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some((line, column, value.to_string()));
        }
    }

    pub fn warning(&self, role: &str, what: &str) -> Option<String> {
        let (line, column, value) = self.first.as_ref()?;
        let place = match column {
            Some(column) => format!("line {line} column {column}"),
            None => format!("line {line}"),
        };
        Some(format!(
            "{role}: {} value{} not {what}, first at {place} ({value:?}); treated as missing",
            self.count,
            if self.count == 1 { "" } else { "s" },
        ))
    }
}

impl Quality {
    /// How `table` was read, as ingestion left it (no typing, no warnings of later stages).
    pub fn of_table(table: &crate::ingest::RawTable) -> Quality {
        Quality {
            file: table.file.clone(),
            encoding: table.dialect.encoding.clone(),
            delimiter: table.dialect.delimiter.clone(),
            header_line: table.dialect.header_line,
            rows_read: table.rows_read,
            rows_loaded: table.row_count() as u64,
            rows_skipped: table.skipped.total(),
            skipped: table.skipped.groups().to_vec(),
            lines_skipped: table.lines_skipped.groups().to_vec(),
            unmapped_columns: Vec::new(),
            warnings: table.warnings.clone(),
        }
    }
}

/// The data-quality section of a report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quality {
    pub file: String,
    pub encoding: String,
    pub delimiter: String,
    pub header_line: u64,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub rows_skipped: u64,
    pub skipped: Vec<SkipGroup>,
    /// Lines that are not data rows (notes before the header, summaries after the data), so that
    /// every line of the file is accounted for.
    pub lines_skipped: Vec<SkipGroup>,
    /// Columns of the file (and joined or derived ones) that no role reads.
    pub unmapped_columns: Vec<String>,
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log carried by a part comes back with its lines moved, as if it had been written with
    /// the file's lines; a part that does not hold together is refused.
    #[test]
    fn a_skip_log_travels_with_a_part_and_its_lines_move() {
        let (mut part, mut file) = (SkipLog::default(), SkipLog::default());
        for (reason, line, column) in [
            (SkipReason::EmptyRow, 3, None),
            (SkipReason::WrongFieldCount, 4, Some(2)),
            (SkipReason::EmptyRow, 9, None),
        ] {
            part.add(reason, "a:b.csv", line, column, format!("detail {line}"));
            file.add(
                reason,
                "a:b.csv",
                line + 100,
                column,
                format!("detail {line}"),
            );
        }
        let json = serde_json::to_string(&part.to_part()).unwrap();
        let carried: SkipLogPart = serde_json::from_str(&json).unwrap();
        assert_eq!(
            SkipLog::from_part(carried.clone(), "a:b.csv", 100),
            Some(file)
        );
        assert_eq!(SkipLog::from_part(carried, "other.csv", 100), None);
        let damaged = json.replace("\"key\":2", "\"key\":42");
        let damaged: SkipLogPart = serde_json::from_str(&damaged).unwrap();
        assert_eq!(SkipLog::from_part(damaged, "a:b.csv", 100), None);
    }
}
