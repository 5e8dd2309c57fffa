//! Typed transactions: the text table read through a mapping into typed columns (times, numbers,
//! normalised statuses, dictionary-encoded ids). Rows whose amount or time cannot be read are
//! skipped here, each with its file line and column.
use crate::ingest::RawTable;
use crate::quality::{SkipLog, SkipReason, UnreadableValues};
use crate::schema::{normalise_status, Mapping, Role, Status};
use crate::time::{Timestamp, TimestampParser};
use std::collections::{BTreeMap, HashMap};

/// Marks a missing id in a dictionary-encoded column.
pub const NO_ID: u32 = u32::MAX;

/// Columns of the loaded transactions. A column is `None` when its role is not mapped; within a
/// column, missing values are `NaN` (numbers), `None` (times) or `NO_ID` (ids).
#[derive(Debug, Default)]
pub struct Transactions {
    pub len: usize,
    pub created_at: Option<Vec<Timestamp>>,
    pub amount: Option<Vec<f64>>,
    pub status: Option<Vec<Status>>,
    pub user: Option<Vec<u32>>,
    /// Distinct non-empty user ids (the dictionary of `user`).
    pub user_count: usize,
    pub fee: Option<Vec<f64>>,
    pub latency_ms: Option<Vec<f64>>,
    pub settled_at: Option<Vec<Option<Timestamp>>>,
    /// Each raw status value with its normal form and how many loaded rows carry it.
    pub status_values: Vec<(String, Status, u64)>,
    /// Distinct currency codes, sorted.
    pub currencies: Vec<String>,
}

/// The outcome of typing a table: the rows kept, the rows skipped, and warnings about values
/// that were not understood but did not cost the row.
#[derive(Debug)]
pub struct Typed {
    pub transactions: Transactions,
    pub skipped: SkipLog,
    pub warnings: Vec<String>,
}

/// Reads every mapped column of `table` into typed columns.
///
/// `status_overrides` maps raw status values to the normal form the user chose for them.
pub fn type_table(
    table: &RawTable,
    mapping: &Mapping,
    status_overrides: &BTreeMap<String, Status>,
) -> Typed {
    let rows = table.row_count();
    let mut keep = vec![true; rows];
    let mut skipped = SkipLog::default();
    let mut warnings = Vec::new();
    let file = table.file.as_str();

    // Rows are skipped only for the two values every metric stands on: its time and its amount.
    let created_at = mapping.column(Role::CreatedAt).map(|c| {
        let mut parser = TimestampParser::default();
        let cells = &table.columns[c];
        let label = role_label(table, Role::CreatedAt, c);
        (0..rows)
            .map(|row| {
                let text = cells.get(row);
                let parsed = parser.parse(text);
                if parsed.is_none() {
                    keep[row] = false;
                    let (reason, detail) = if text.is_empty() {
                        (SkipReason::TimeMissing, format!("{label} is empty"))
                    } else {
                        (
                            SkipReason::TimeNotUnderstood,
                            format!("{label} {text:?} is not a date/time"),
                        )
                    };
                    skipped.add(
                        reason,
                        file,
                        table.lines[row],
                        table.column_number(c),
                        detail,
                    );
                }
                parsed.unwrap_or(Timestamp::Utc(0))
            })
            .collect::<Vec<_>>()
    });
    let amount = mapping.column(Role::Amount).map(|c| {
        let cells = &table.columns[c];
        (0..rows)
            .map(|row| {
                let text = cells.get(row);
                if text.is_empty() {
                    return f64::NAN;
                }
                parse_number(text).unwrap_or_else(|| {
                    if keep[row] {
                        keep[row] = false;
                        skipped.add(
                            SkipReason::AmountNotANumber,
                            file,
                            table.lines[row],
                            table.column_number(c),
                            format!("amount {text:?} is not a number"),
                        );
                    }
                    f64::NAN
                })
            })
            .collect::<Vec<_>>()
    });

    // The other columns never cost a row: an unreadable value becomes missing, with a warning.
    let mut optional_number = |role: Role| {
        let c = mapping.column(role)?;
        let mut unreadable = UnreadableValues::default();
        let values = (0..rows)
            .map(|row| {
                let text = table.columns[c].get(row);
                if text.is_empty() {
                    return f64::NAN;
                }
                parse_number(text).unwrap_or_else(|| {
                    if keep[row] {
                        unreadable.note(table.lines[row], table.column_number(c), text);
                    }
                    f64::NAN
                })
            })
            .collect::<Vec<_>>();
        warnings.extend(unreadable.warning(role.id(), "a number"));
        Some(values)
    };
    let fee = optional_number(Role::Fee);
    let latency_ms = optional_number(Role::LatencyMs);
    let settled_at = mapping.column(Role::SettledAt).map(|c| {
        let mut parser = TimestampParser::default();
        let mut unreadable = UnreadableValues::default();
        let values = (0..rows)
            .map(|row| {
                let text = table.columns[c].get(row);
                if text.is_empty() {
                    return None;
                }
                let parsed = parser.parse(text);
                if parsed.is_none() && keep[row] {
                    unreadable.note(table.lines[row], table.column_number(c), text);
                }
                parsed
            })
            .collect::<Vec<_>>();
        warnings.extend(unreadable.warning(Role::SettledAt.id(), "a date/time"));
        values
    });

    // Compact every column to the kept rows.
    let created_at = created_at.map(|v| compact(v, &keep));
    let amount = amount.map(|v| compact(v, &keep));
    let fee = fee.map(|v| compact(v, &keep));
    let latency_ms = latency_ms.map(|v| compact(v, &keep));
    let settled_at = settled_at.map(|v| compact(v, &keep));
    let kept_rows: Vec<usize> = (0..rows).filter(|&row| keep[row]).collect();

    let (status, status_values) = match mapping.column(Role::Status) {
        Some(c) => {
            let (statuses, values) = read_statuses(table, c, &kept_rows, status_overrides);
            (Some(statuses), values)
        }
        None => (None, Vec::new()),
    };
    let (user, user_count) = match mapping.column(Role::UserId) {
        Some(c) => {
            let (ids, count) = dictionary_encode(table, c, &kept_rows);
            (Some(ids), count)
        }
        None => (None, 0),
    };
    let currencies = match mapping.column(Role::Currency) {
        Some(c) => {
            let mut codes: Vec<String> = kept_rows
                .iter()
                .map(|&row| table.columns[c].get(row))
                .filter(|code| !code.is_empty())
                .map(|code| code.to_uppercase())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            codes.sort();
            codes
        }
        None => Vec::new(),
    };
    if currencies.len() > 1 {
        warnings.push(format!(
            "several currencies ({}) are summed together without conversion",
            currencies.join(", ")
        ));
    }

    Typed {
        transactions: Transactions {
            len: kept_rows.len(),
            created_at,
            amount,
            status,
            user,
            user_count,
            fee,
            latency_ms,
            settled_at,
            status_values,
            currencies,
        },
        skipped,
        warnings,
    }
}

/// How a role's column is named in messages: the role alone for the file's own columns, with
/// the column's name for a joined or derived one, whose cells have no place in the file.
fn role_label(table: &RawTable, role: Role, column: usize) -> String {
    match table.column_number(column) {
        Some(_) => role.id().to_string(),
        None => format!("{} ({})", role.id(), table.headers[column]),
    }
}

fn compact<T>(values: Vec<T>, keep: &[bool]) -> Vec<T> {
    values
        .into_iter()
        .zip(keep)
        .filter_map(|(value, &kept)| kept.then_some(value))
        .collect()
}

/// Normalises each distinct raw status once, and counts how often each raw value occurs.
fn read_statuses(
    table: &RawTable,
    column: usize,
    rows: &[usize],
    overrides: &BTreeMap<String, Status>,
) -> (Vec<Status>, Vec<(String, Status, u64)>) {
    let mut seen: HashMap<&str, (Status, u64)> = HashMap::new();
    let statuses = rows
        .iter()
        .map(|&row| {
            let raw = table.columns[column].get(row);
            let entry = seen.entry(raw).or_insert_with(|| {
                (
                    overrides
                        .get(raw)
                        .copied()
                        .unwrap_or_else(|| normalise_status(raw)),
                    0,
                )
            });
            entry.1 += 1;
            entry.0
        })
        .collect();
    let mut values: Vec<(String, Status, u64)> = seen
        .into_iter()
        .map(|(raw, (status, count))| (raw.to_string(), status, count))
        .collect();
    values.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    (statuses, values)
}

/// Replaces each non-empty id by a small integer, so that distinct counts are exact and cheap.
fn dictionary_encode(table: &RawTable, column: usize, rows: &[usize]) -> (Vec<u32>, usize) {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let encoded = rows
        .iter()
        .map(|&row| {
            let value = table.columns[column].get(row);
            if value.is_empty() {
                return NO_ID;
            }
            let next = ids.len() as u32;
            *ids.entry(value).or_insert(next)
        })
        .collect();
    (encoded, ids.len())
}

/// Reads a plain decimal number (`12`, `-3.50`, `+1e3`). Locale forms (thousands separators,
/// decimal commas, currency signs) are handled by the ingestion of later versions.
pub fn parse_number(text: &str) -> Option<f64> {
    let text = text.strip_prefix('+').unwrap_or(text);
    // Rust's parser also accepts "inf" and "NaN": those are not amounts.
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Counts loaded rows per normalised status (for tests and summaries).
pub fn status_counts(transactions: &Transactions) -> BTreeMap<Status, u64> {
    let mut counts = BTreeMap::new();
    for (_, status, count) in &transactions.status_values {
        *counts.entry(*status).or_insert(0) += count;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_csv;
    use crate::schema::auto_map;

    #[test]
    fn skips_rows_with_unreadable_amount_or_time_and_keeps_the_rest() {
        let csv = "id,created_at,amount,fee,status\n\
                   1,2024-01-01,10,0.1,success\n\
                   2,2024-01-01,abc,0.1,success\n\
                   3,yesterday,5,0.1,success\n\
                   4,2024-01-02,,n/a,failed\n";
        let table = read_csv("t.csv", csv.as_bytes()).unwrap();
        let typed = type_table(&table, &auto_map(&table), &BTreeMap::new());
        assert_eq!(typed.transactions.len, 2);
        let amounts = typed.transactions.amount.unwrap();
        assert_eq!(amounts[0], 10.0);
        assert!(amounts[1].is_nan(), "an empty amount is missing, not zero");
        let messages: Vec<&str> = typed
            .skipped
            .groups()
            .iter()
            .flat_map(|g| g.examples.iter().map(|e| e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            vec![
                "t.csv:4:2: created_at \"yesterday\" is not a date/time",
                "t.csv:3:3: amount \"abc\" is not a number",
            ]
        );
        assert_eq!(
            typed.warnings,
            vec![
                "fee: 1 value not a number, first at line 5 column 4 (\"n/a\"); treated as missing"
            ]
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("12"), Some(12.0));
        assert_eq!(parse_number("-3.50"), Some(-3.5));
        assert_eq!(parse_number("+1e3"), Some(1000.0));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1,234"), None);
    }
}
