//! Lookup tables joined many-to-one onto the transactions: payments joined to orders for their
//! timestamp and customer, to users for signup date and region, to merchants for category.
//!
//! A join adds the lookup's columns to the transactions table, so that they can be mapped to
//! roles like any other column. Keys that find no match are counted and reported, never dropped:
//! the transaction stays, with empty lookup cells.
use crate::error::{Error, ErrorKind, Result};
use crate::ingest::{RawTable, TextColumn};
use crate::schema::normalise_header;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// Which lookup file to join, and on which columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinSpec {
    /// The lookup file's name, as loaded.
    pub file: String,
    /// The column of the transactions that holds the key.
    pub on: String,
    /// The lookup's key column; `None` means the column of the same name as `on`.
    #[serde(default)]
    pub key: Option<String>,
}

impl JoinSpec {
    /// Reads the CLI form `FILE:COLUMN` or `FILE:COLUMN=LOOKUP_COLUMN`.
    pub fn parse(text: &str) -> Option<JoinSpec> {
        let (file, columns) = text.rsplit_once(':')?;
        let (on, key) = match columns.split_once('=') {
            Some((on, key)) => (on.trim(), Some(key.trim().to_string())),
            None => (columns.trim(), None),
        };
        (!file.is_empty() && !on.is_empty()).then(|| JoinSpec {
            file: file.to_string(),
            on: on.to_string(),
            key,
        })
    }
}

/// What a join did: shown in the data-quality panel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinOutcome {
    pub file: String,
    pub on: String,
    pub key: String,
    /// Transactions whose key was found in the lookup.
    pub matched: u64,
    /// Transactions whose key was not found (their lookup columns stay empty).
    pub unmatched: u64,
    /// Transactions with an empty key.
    pub empty_keys: u64,
    /// A few unmatched keys with the line of their first transaction.
    pub unmatched_examples: Vec<(String, u64)>,
    /// Keys that occur more than once in the lookup: the first row is used.
    pub duplicate_keys: u64,
    /// The columns added to the transactions, as named there.
    pub columns: Vec<String>,
}

pub(crate) const UNMATCHED_EXAMPLES: usize = 5;

/// Joins `lookup` onto `table` and returns what happened.
pub fn join(table: &mut RawTable, lookup: &RawTable, spec: &JoinSpec) -> Result<JoinOutcome> {
    let on_index = table.column_index(&spec.on).ok_or_else(|| {
        Error::new(ErrorKind::InvalidOption(format!(
            "cannot join {}: the transactions have no column \"{}\"",
            spec.file, spec.on
        )))
    })?;
    let key_name = spec.key.as_deref().unwrap_or(&spec.on);
    let key_index = lookup.column_index(key_name).ok_or_else(|| {
        Error::new(ErrorKind::InvalidOption(format!(
            "cannot join {}: it has no column \"{key_name}\"",
            spec.file
        )))
    })?;

    let mut row_of_key: HashMap<Cow<str>, usize, foldhash::fast::FixedState> =
        HashMap::with_capacity_and_hasher(lookup.row_count(), Default::default());
    let mut duplicate_keys = 0;
    for (row, key) in lookup.columns[key_index].iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        // The first row of a repeated key wins; the repeats are counted for the user.
        match row_of_key.entry(key) {
            std::collections::hash_map::Entry::Occupied(_) => duplicate_keys += 1,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }

    let mut matched = 0;
    let mut unmatched = 0;
    let mut empty_keys = 0;
    let mut unmatched_examples = Vec::new();
    let keys = &table.columns[on_index];
    let found_of_row = keys.map_cells(0..table.row_count(), |key| row_of_key.get(key).copied());
    let match_of_row: Vec<Option<usize>> = found_of_row
        .into_iter()
        .enumerate()
        .map(|(row, found)| {
            let key = keys.get(row);
            if key.is_empty() {
                empty_keys += 1;
                return None;
            }
            if found.is_some() {
                matched += 1;
            } else {
                unmatched += 1;
                if unmatched_examples.len() < UNMATCHED_EXAMPLES {
                    unmatched_examples.push((key.to_string(), table.line(row)));
                }
            }
            found
        })
        .collect();

    let stem = file_stem(&spec.file);
    let mut columns = Vec::new();
    for (index, name) in lookup.headers.iter().enumerate() {
        if index == key_index {
            continue;
        }
        // Dictionary-encoded: each row points at the lookup value, which is stored once.
        let (source_codes, mut values) =
            lookup.columns[index].encode(0..lookup.row_count(), false, u32::MAX);
        let empty = match values.iter().position(|value| value.is_empty()) {
            Some(code) => code as u32,
            None => {
                values.push(Cow::Borrowed(""));
                (values.len() - 1) as u32
            }
        };
        let codes = match_of_row
            .iter()
            .map(|found| found.map_or(empty, |row| source_codes[row]))
            .collect();
        let column = TextColumn::from_codes(codes, &values);
        // Keep the lookup's own name where it is free: mapping by header synonyms then works on
        // joined columns (orders.customer_id -> user_id) exactly as on the transactions' own.
        let mut joined_name = name.clone();
        if table.column_index(&joined_name).is_some() {
            joined_name = format!("{stem}.{name}");
        }
        table.headers.push(joined_name.clone());
        table.columns.push(Arc::new(column));
        columns.push(joined_name);
    }

    Ok(JoinOutcome {
        file: spec.file.clone(),
        on: spec.on.clone(),
        key: key_name.to_string(),
        matched,
        unmatched,
        empty_keys,
        unmatched_examples,
        duplicate_keys,
        columns,
    })
}

/// Suggests the key for joining `lookup` onto `table`: a column whose name both have (ignoring
/// case and punctuation), preferring names that look like ids and columns that identify the
/// lookup's rows uniquely.
pub fn suggest(table: &RawTable, lookup: &RawTable, file: &str) -> Option<JoinSpec> {
    let mut best: Option<(u8, JoinSpec)> = None;
    for (key_index, key) in lookup.headers.iter().enumerate() {
        let normal = normalise_header(key);
        let Some(on) = table.headers.iter().find(|h| normalise_header(h) == normal) else {
            continue;
        };
        let id_like = normal == "id" || normal.ends_with("_id") || normal.ends_with("id");
        let unique = {
            let mut seen = std::collections::HashSet::new();
            lookup.columns[key_index].iter().all(|k| seen.insert(k))
        };
        let score = u8::from(unique) * 2 + u8::from(id_like);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((
                score,
                JoinSpec {
                    file: file.to_string(),
                    on: on.clone(),
                    key: (on != key).then(|| key.clone()),
                },
            ));
        }
    }
    best.map(|(_, spec)| spec)
}

fn file_stem(file: &str) -> &str {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    name.rsplit_once('.').map_or(name, |(stem, _)| stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_csv;

    #[test]
    fn payments_join_orders_many_to_one_and_unmatched_keys_are_counted() {
        let mut payments = read_csv(
            "payments.csv",
            b"order_id,payment_value\no1,10\no1,5\no2,7\no9,1\n,3\n",
        )
        .unwrap();
        let orders = read_csv(
            "orders.csv",
            b"order_id,customer_id,order_status\no1,c1,delivered\no2,c2,canceled\no2,c3,x\n",
        )
        .unwrap();
        let spec = suggest(&payments, &orders, "orders.csv").unwrap();
        assert_eq!(spec.on, "order_id");
        let outcome = join(&mut payments, &orders, &spec).unwrap();
        assert_eq!(
            (outcome.matched, outcome.unmatched, outcome.empty_keys),
            (3, 1, 1)
        );
        assert_eq!(outcome.unmatched_examples, vec![("o9".to_string(), 5)]);
        assert_eq!(outcome.duplicate_keys, 1);
        assert_eq!(outcome.columns, vec!["customer_id", "order_status"]);
        let customers: Vec<Cow<str>> = payments.columns[2].iter().collect();
        assert_eq!(
            customers,
            vec!["c1", "c1", "c2", "", ""],
            "the first o2 row wins"
        );
    }

    #[test]
    fn clashing_names_are_prefixed_with_the_file_stem() {
        let mut table = read_csv("t.csv", b"user_id,region\nu1,north\n").unwrap();
        let users = read_csv("data/users.csv", b"user_id,region\nu1,south\n").unwrap();
        let spec = JoinSpec::parse("data/users.csv:user_id").unwrap();
        let outcome = join(&mut table, &users, &spec).unwrap();
        assert_eq!(outcome.columns, vec!["users.region"]);
        assert_eq!(table.columns[2].get(0), "south");
    }

    #[test]
    fn join_specs_parse_and_bad_columns_are_named() {
        assert_eq!(
            JoinSpec::parse("users.csv:customer_id=user_id"),
            Some(JoinSpec {
                file: "users.csv".into(),
                on: "customer_id".into(),
                key: Some("user_id".into())
            })
        );
        assert_eq!(JoinSpec::parse("users.csv"), None);
        let mut table = read_csv("t.csv", b"a\n1\n").unwrap();
        let lookup = read_csv("l.csv", b"b\n1\n").unwrap();
        let error = join(&mut table, &lookup, &JoinSpec::parse("l.csv:a").unwrap()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot join l.csv: it has no column \"a\""
        );
    }
}
