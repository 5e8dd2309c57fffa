//! Typed transactions: the text table read through a mapping into typed columns (times, numbers,
//! normalised statuses, dictionary-encoded ids). Rows whose amount or time cannot be read are
//! skipped here, each with its file line and column.
use crate::ingest::RawTable;
use crate::number::{column_decimal, parse_number, Decimal};
use crate::options::Options;
use crate::quality::{SkipLog, SkipReason, UnreadableValues};
use crate::schema::{normalise_status, Mapping, Role, Status};
use crate::time::{infer_table_column, DateOrder, Timestamp, TimestampParser};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Marks a missing id in a dictionary-encoded column.
pub const NO_ID: u32 = u32::MAX;

/// Columns of the loaded transactions. A column is `None` when its role is not mapped; within a
/// column, missing values are `NaN` (numbers), `None` (times) or `NO_ID` (ids).
#[derive(Debug, Default)]
pub struct Transactions {
    pub len: usize,
    pub amount: Option<Vec<f64>>,
    pub status: Option<Vec<Status>>,
    pub user: Option<Vec<u32>>,
    /// Distinct non-empty user ids (the dictionary of `user`).
    pub user_count: usize,
    pub fee: Option<Vec<f64>>,
    pub latency_ms: Option<Vec<f64>>,
    /// The table row (index into the text columns) each transaction was read from.
    pub rows: Vec<u32>,
    /// The user id behind each dictionary index of `user`.
    pub user_ids: Vec<String>,
    pub merchant: Option<Vec<u32>>,
    pub merchant_count: usize,
    /// The merchant id behind each dictionary index of `merchant`.
    pub merchant_ids: Vec<String>,
    /// True where the payment was confirmed as fraud (an empty or unreadable flag is false).
    pub fraud: Option<Vec<bool>>,
    /// True where the payer's KYC value says verified (see `kyc_verified`).
    pub kyc_verified: Option<Vec<bool>>,
    /// Each raw status value with its normal form and how many loaded rows carry it.
    pub status_values: Vec<(String, Status, u64)>,
    /// The currency of each row, as an index into `currencies` (`NO_CURRENCY` when unknown);
    /// `None` when no row names a currency.
    pub currency: Option<Vec<u16>>,
    /// Distinct currency codes, in order of first appearance.
    pub currencies: Vec<String>,
    /// The one currency money metrics are in (after conversion, if rates were given); `None`
    /// when the data mixes currencies, which are then reported separately, never summed.
    pub money_currency: Option<String>,
}

/// The time columns of the loaded transactions, one value per row like [`Transactions`]'
/// columns (`None` where the role is not mapped). Kept apart because the frame's calendar turns
/// them into what the metrics use (instants, local days, settlement delays) and then drops them:
/// at 16 bytes a value, keeping them would cost 48 bytes a row.
#[derive(Debug, Default)]
pub struct Times {
    pub created_at: Option<Vec<Timestamp>>,
    pub settled_at: Option<Vec<Option<Timestamp>>>,
    /// The rows with a dispute time, in order, and that time.
    pub disputed_at: Option<Vec<(u32, Timestamp)>>,
}

/// Marks a row whose currency is unknown.
pub const NO_CURRENCY: u16 = u16::MAX;

/// The outcome of typing a table: the rows kept, the rows skipped, and warnings about values
/// that were not understood but did not cost the row.
#[derive(Debug)]
pub struct Typed {
    pub transactions: Transactions,
    pub times: Times,
    pub skipped: SkipLog,
    pub warnings: Vec<String>,
}

/// Reads every mapped column of `table` into typed columns.
/// The user's options decide the decimal separator, status overrides and currency conversion.
pub fn type_table(table: &RawTable, mapping: &Mapping, options: &Options) -> Typed {
    let rows = table.row_count();
    let mut keep = vec![true; rows];
    let mut skipped = SkipLog::default();
    let mut warnings = Vec::new();
    let file = table.file.as_str();

    // Rows are skipped only for the two values every metric stands on: its time and its amount.
    let created_at = mapping.column(Role::CreatedAt).map(|c| {
        let mut parser = column_parser(table, Role::CreatedAt, c, options, &mut warnings);
        let cells = &table.columns[c];
        let label = role_label(table, Role::CreatedAt, c);
        let times = cells.read_times(0..rows, &mut parser);
        // `into_iter` and `collect` of a value of the same size reuse the allocation: at 1M rows
        // and more, a second vector of times would be the frame's peak of memory.
        times
            .into_iter()
            .enumerate()
            .map(|(row, parsed)| {
                let parsed = parsed.flatten();
                if parsed.is_none() {
                    let text = cells.get(row);
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
                        table.line(row),
                        table.column_number(c),
                        detail,
                    );
                }
                parsed.unwrap_or(Timestamp::Utc(0))
            })
            .collect::<Vec<_>>()
    });
    // The decimal separator of each number column: the user's choice, or inferred from values.
    let decimal_of = |c: usize| column_decimal(table.columns[c].iter(), options.decimal);
    // The currency sign of each amount (¥28.16), as an index into `amount_signs` (0: none): two
    // bytes a row instead of a `&str`'s 16, read when the currency column says nothing.
    let mut amount_signs: Vec<&'static str> = Vec::new();
    let mut amount_currency: Vec<u16> = Vec::new();
    let amount = mapping.column(Role::Amount).map(|c| {
        let (decimal, ambiguous) = decimal_of(c);
        if ambiguous {
            warnings.push(format!(
                "amount: values like \"1,234\" or \"1.234\" could use either decimal separator; read with a decimal {} — choose with --decimal or in the page",
                if decimal == Decimal::Comma { "comma" } else { "point" }
            ));
        }
        let cells = &table.columns[c];
        // A column stored as decimals holds what `parse_number` reads from each cell under a
        // decimal point (NaN where empty), and no currency signs: copied, not parsed.
        if let Some(values) = cells.stored_decimals().filter(|_| decimal == Decimal::Point) {
            return values[..rows].to_vec();
        }
        let label = role_label(table, Role::Amount, c);
        amount_currency.reserve(rows);
        cells.map_cells_with(
            0..rows,
            |text| match parse_number(text, decimal) {
                Some(number) if !number.percent => Some(number),
                _ => None,
            },
            |row, &number| {
                amount_currency.push(match number.and_then(|n| n.currency) {
                    None => 0,
                    Some(sign) => match amount_signs.iter().position(|&known| known == sign) {
                        Some(index) => index as u16 + 1,
                        None => {
                            amount_signs.push(sign);
                            amount_signs.len() as u16
                        }
                    },
                });
                match number {
                    Some(number) => number.value,
                    None if cells.get(row).is_empty() => f64::NAN,
                    None => {
                        let text = cells.get(row);
                        if keep[row] {
                            keep[row] = false;
                            skipped.add(
                                SkipReason::AmountNotANumber,
                                file,
                                table.line(row),
                                table.column_number(c),
                                format!("{label} {text:?} is not a number"),
                            );
                        }
                        f64::NAN
                    }
                }
            },
        )
    });
    // The other columns never cost a row: an unreadable value becomes missing, with a warning.
    let mut optional_number = |role: Role| {
        let c = mapping.column(role)?;
        let (decimal, _) = decimal_of(c);
        let mut unreadable = UnreadableValues::default();
        let cells = &table.columns[c];
        // As for the amount: what `parse_number` reads, copied.
        if let Some(values) = cells
            .stored_decimals()
            .filter(|_| decimal == Decimal::Point)
        {
            return Some(values[..rows].to_vec());
        }
        // Missing (empty) is NaN; unreadable is `None`, noted below.
        let values = cells.map_cells_with(
            0..rows,
            |text| match text.is_empty() {
                true => Some(f64::NAN),
                false => parse_number(text, decimal).map(|number| number.value),
            },
            |row, number| {
                number.unwrap_or_else(|| {
                    if keep[row] {
                        unreadable.note(table.line(row), table.column_number(c), &cells.get(row));
                    }
                    f64::NAN
                })
            },
        );
        warnings.extend(unreadable.warning(role.id(), "a number"));
        Some(values)
    };
    let fee = optional_number(Role::Fee);
    let latency_ms = optional_number(Role::LatencyMs);
    // Gives `$each` every row's time of the role's column (`None`: empty or unreadable, the
    // latter with a warning); `false` without the column. A macro, not a closure taking a `dyn`
    // callback: each caller's callback is then inlined in the loop over the rows (a call per row
    // was ~8 ms of a 1M-row frame natively).
    macro_rules! optional_time {
        ($role:expr, $each:expr) => {{
            let role: Role = $role;
            match mapping.column(role) {
                None => false,
                Some(c) => {
                    let mut parser = column_parser(table, role, c, options, &mut warnings);
                    let mut unreadable = UnreadableValues::default();
                    let cells = &table.columns[c];
                    let mut each = $each;
                    // Missing (empty) is `Some(None)`; unreadable is `None`, noted here.
                    cells.for_each_time(0..rows, &mut parser, |row, time| {
                        let time = time.unwrap_or_else(|| {
                            if keep[row] {
                                unreadable.note(
                                    table.line(row),
                                    table.column_number(c),
                                    &cells.get(row),
                                );
                            }
                            None
                        });
                        each(row, time);
                    });
                    warnings.extend(unreadable.warning(role.id(), "a date/time"));
                    true
                }
            }
        }};
    }
    let mut settled = Vec::with_capacity(match mapping.column(Role::SettledAt) {
        Some(_) => rows,
        None => 0,
    });
    let settled_at = optional_time!(Role::SettledAt, |_, time: Option<Timestamp>| settled
        .push(time))
    .then_some(settled);
    // Disputes are few: their rows and times, not a time (or none) for every row.
    let mut disputes: Vec<(u32, Timestamp)> = Vec::new();
    let disputed_at = optional_time!(Role::DisputedAt, |row: usize, time: Option<Timestamp>| {
        if let Some(time) = time {
            disputes.push((row as u32, time));
        }
    })
    .then_some(disputes);
    // Compact every column to the kept rows.
    let created_at = created_at.map(|v| compact(v, &keep));
    let amount = amount.map(|v| compact(v, &keep));
    let fee = fee.map(|v| compact(v, &keep));
    let latency_ms = latency_ms.map(|v| compact(v, &keep));
    let settled_at = settled_at.map(|v| compact(v, &keep));
    // The table row of each kept row (the `rows` of the transactions).
    let kept_rows: Vec<u32> = (0..rows as u32).filter(|&row| keep[row as usize]).collect();
    let disputed_at = disputed_at.map(|disputes| match kept_rows.len() == rows {
        true => disputes,
        false => disputes
            .into_iter()
            .filter_map(|(row, time)| Some((kept_rows.binary_search(&row).ok()? as u32, time)))
            .collect(),
    });
    let kept = || kept_rows.iter().map(|&row| row as usize);
    let fraud = mapping.column(Role::Fraud).map(|c| {
        let mut unreadable = UnreadableValues::default();
        let cells = &table.columns[c];
        let parsed = cells.map_cells(kept(), parse_flag);
        let flags = kept()
            .zip(parsed)
            .map(|(row, flag)| {
                flag.unwrap_or_else(|| {
                    unreadable.note(table.line(row), table.column_number(c), &cells.get(row));
                    false
                })
            })
            .collect::<Vec<_>>();
        warnings.extend(unreadable.warning(Role::Fraud.id(), "yes or no (read as no)"));
        flags
    });
    let kyc_verified = mapping
        .column(Role::Kyc)
        .map(|c| table.columns[c].map_cells(kept(), kyc_verified));
    let (merchant, merchant_ids) = match mapping.column(Role::MerchantId) {
        Some(c) => {
            let (ids, names) = dictionary_encode(table, c, &kept_rows);
            (Some(ids), names)
        }
        None => (None, Vec::new()),
    };

    let (status, status_values) = match mapping.column(Role::Status) {
        Some(c) => {
            let (statuses, values) = read_statuses(table, c, &kept_rows, &options.statuses);
            (Some(statuses), values)
        }
        None => (None, Vec::new()),
    };
    let (user, user_ids) = match mapping.column(Role::UserId) {
        Some(c) => {
            let (ids, names) = dictionary_encode(table, c, &kept_rows);
            (Some(ids), names)
        }
        None => (None, Vec::new()),
    };
    // The currency of each row: its currency column, else the sign in its amount (¥28.16).
    // Codes are found once per distinct cell and per distinct sign, not once per row (a row
    // then costs an array look-up, with no string built or hashed).
    let mut codes: Vec<String> = Vec::new();
    let mut code_index: HashMap<String, u16> = HashMap::new();
    let mut index_of = |code: String| -> u16 {
        *code_index.entry(code).or_insert_with_key(|code| {
            codes.push(code.clone());
            (codes.len() - 1) as u16
        })
    };
    const UNSEEN: u16 = NO_CURRENCY - 1;
    let (cells, cell_values) = match mapping.column(Role::Currency) {
        Some(c) => table.columns[c].encode(kept(), true, NO_ID),
        None => (Vec::new(), Vec::new()),
    };
    let mut cell_code = vec![UNSEEN; cell_values.len()];
    let mut sign_code: Vec<(&'static str, u16)> = Vec::new();
    let currency: Vec<u16> = kept_rows
        .iter()
        .enumerate()
        .map(|(kept, &row)| match cells.get(kept).copied() {
            Some(cell) if cell != NO_ID => {
                let code = &mut cell_code[cell as usize];
                if *code == UNSEEN {
                    *code = index_of(cell_values[cell as usize].to_uppercase());
                }
                *code
            }
            _ => match amount_currency
                .get(row as usize)
                .and_then(|&sign| sign.checked_sub(1))
                .map(|sign| amount_signs[sign as usize])
            {
                Some(sign) => match sign_code.iter().find(|(known, _)| *known == sign) {
                    Some(&(_, code)) => code,
                    None => {
                        let code = index_of(sign.to_string());
                        sign_code.push((sign, code));
                        code
                    }
                },
                None => NO_CURRENCY,
            },
        })
        .collect();
    let mut amount = amount;
    let mut fee = fee;
    let mut money_currency = match codes.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    };
    if !options.rates.is_empty() && !codes.is_empty() {
        // Without an explicit target, rates convert into the one currency they leave out
        // ({"USD": 7.1} on CNY and USD data means into CNY), else the most common one.
        let unrated: Vec<&String> = codes
            .iter()
            .filter(|code| !options.rates.contains_key(*code))
            .collect();
        let target = options.currency.clone().unwrap_or_else(|| {
            if let [only] = unrated[..] {
                return only.clone();
            }
            let mut counts = vec![0u64; codes.len()];
            currency
                .iter()
                .filter(|&&c| c != NO_CURRENCY)
                .for_each(|&c| counts[c as usize] += 1);
            let most = (0..codes.len()).max_by_key(|&i| counts[i]).unwrap_or(0);
            codes[most].clone()
        });
        let rate_of: Vec<Option<f64>> = codes
            .iter()
            .map(|code| {
                if *code == target {
                    Some(1.0)
                } else {
                    options.rates.get(code).copied()
                }
            })
            .collect();
        let mut missing: BTreeMap<&str, u64> = BTreeMap::new();
        for values in [amount.as_mut(), fee.as_mut()].into_iter().flatten() {
            for (value, &code) in values.iter_mut().zip(&currency) {
                if code == NO_CURRENCY {
                    continue;
                }
                match rate_of[code as usize] {
                    Some(rate) => *value *= rate,
                    None => {
                        *missing.entry(codes[code as usize].as_str()).or_insert(0) += 1;
                        *value = f64::NAN;
                    }
                }
            }
        }
        for (code, count) in missing {
            warnings.push(format!(
                "no exchange rate from {code} to {target}: {count} amounts in {code} are left out of money metrics"
            ));
        }
        money_currency = Some(target);
    }

    Typed {
        transactions: Transactions {
            len: kept_rows.len(),
            amount,
            status,
            user,
            user_count: user_ids.len(),
            fee,
            latency_ms,
            rows: kept_rows,
            user_ids,
            merchant,
            merchant_count: merchant_ids.len(),
            merchant_ids,
            fraud,
            kyc_verified,
            status_values,
            currency: (!codes.is_empty()).then_some(currency),
            currencies: codes,
            money_currency,
        },
        times: Times {
            created_at,
            settled_at,
            disputed_at,
        },
        skipped,
        warnings,
    }
}

/// The timestamp reader of a time column. Whether 03/04/2025 is the 3rd of April or March 4th is
/// decided once for the whole column, from the values that can only be read one way; when none
/// can, the user is told which order was assumed and how to choose.
fn column_parser(
    table: &RawTable,
    role: Role,
    column: usize,
    options: &Options,
    warnings: &mut Vec<String>,
) -> TimestampParser {
    let times = infer_table_column(&table.columns[column], options.date_order);
    if times.order_ambiguous {
        let order = times.order.unwrap_or(DateOrder::DEFAULT);
        let (assumed, other) = match order {
            DateOrder::DayFirst => ("day first (DD/MM/YYYY)", "mdy"),
            DateOrder::MonthFirst => ("month first (MM/DD/YYYY)", "dmy"),
        };
        warnings.push(format!(
            "{}: the day/month order of dates like 03/04/2025 cannot be told from the values; read {assumed} — choose with --date-order {other} or in the page",
            role.id()
        ));
    }
    times.parser
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
    if keep.iter().all(|&kept| kept) {
        return values;
    }
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
    rows: &[u32],
    overrides: &BTreeMap<String, Status>,
) -> (Vec<Status>, Vec<(String, Status, u64)>) {
    let rows = rows.iter().map(|&row| row as usize);
    let (codes, raw) = table.columns[column].encode(rows, false, NO_ID);
    let normal: Vec<Status> = raw
        .iter()
        .map(|raw| {
            overrides
                .get(&**raw)
                .copied()
                .unwrap_or_else(|| normalise_status(raw))
        })
        .collect();
    let mut counts = vec![0u64; raw.len()];
    let statuses = codes
        .iter()
        .map(|&code| {
            counts[code as usize] += 1;
            normal[code as usize]
        })
        .collect();
    let mut values: Vec<(String, Status, u64)> = (0..raw.len())
        .map(|code| (raw[code].to_string(), normal[code], counts[code]))
        .collect();
    values.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    (statuses, values)
}

/// Replaces each non-empty id by a small integer, so that distinct counts are exact and cheap;
/// also gives the id of each integer.
fn dictionary_encode(table: &RawTable, column: usize, rows: &[u32]) -> (Vec<u32>, Vec<String>) {
    let rows = rows.iter().map(|&row| row as usize);
    let (codes, ids) = table.columns[column].encode(rows, true, NO_ID);
    (codes, ids.into_iter().map(Cow::into_owned).collect())
}

/// Reads a yes/no cell: 1/0, true/false, yes/no, y/n, t/f, 是/否; empty is no. `None` when
/// the value is none of these.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "1" | "true" | "yes" | "y" | "t" | "fraud" | "是" | "1.0" => Some(true),
        "" | "0" | "false" | "no" | "n" | "f" | "否" | "0.0" => Some(false),
        _ => None,
    }
}

/// True when a KYC cell says the payer is verified: a level above 0, or a word that says so.
pub fn kyc_verified(text: &str) -> bool {
    let text = text.trim().to_lowercase();
    if let Ok(level) = text.parse::<f64>() {
        return level > 0.0;
    }
    matches!(
        text.as_str(),
        "yes" | "y" | "true" | "verified" | "full" | "是" | "已实名" | "已认证"
    )
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
        let typed = type_table(&table, &auto_map(&table), &Options::default());
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
}
