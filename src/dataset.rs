//! A dataset: one transactions file plus any number of lookup files (users, merchants, orders),
//! and the preparation that turns it into the one table the metrics read: lookups joined on, then
//! derived columns added.
use crate::error::{Error, ErrorKind, Result};
use crate::ingest::RawTable;
use crate::join::{join, suggest, JoinOutcome, JoinSpec};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct Dataset {
    pub transactions: RawTable,
    pub lookups: Vec<RawTable>,
}

impl Dataset {
    pub fn new(transactions: RawTable) -> Dataset {
        Dataset {
            transactions,
            lookups: Vec::new(),
        }
    }

    /// Adds (or replaces, by file name) a lookup table.
    pub fn add_lookup(&mut self, table: RawTable) {
        self.lookups.retain(|t| t.file != table.file);
        self.lookups.push(table);
    }

    pub fn lookup(&self, file: &str) -> Option<&RawTable> {
        self.lookups.iter().find(|t| t.file == file)
    }

    /// A suggested join for every lookup that shares a column name with the transactions.
    pub fn suggested_joins(&self) -> Vec<JoinSpec> {
        self.lookups
            .iter()
            .filter_map(|lookup| suggest(&self.transactions, lookup, &lookup.file))
            .collect()
    }
}

impl From<RawTable> for Dataset {
    fn from(transactions: RawTable) -> Dataset {
        Dataset::new(transactions)
    }
}

/// The transactions with lookups joined on; borrowed as is when there is nothing to join.
pub struct Prepared<'a> {
    pub table: Cow<'a, RawTable>,
    pub joins: Vec<JoinOutcome>,
}

pub fn prepare<'a>(dataset: &'a Dataset, joins: &[JoinSpec]) -> Result<Prepared<'a>> {
    if joins.is_empty() {
        return Ok(Prepared {
            table: Cow::Borrowed(&dataset.transactions),
            joins: Vec::new(),
        });
    }
    let mut table = dataset.transactions.clone();
    let mut outcomes = Vec::with_capacity(joins.len());
    for spec in joins {
        let lookup = dataset.lookup(&spec.file).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOption(format!(
                "cannot join {}: no such file is loaded",
                spec.file
            )))
        })?;
        outcomes.push(join(&mut table, lookup, spec)?);
    }
    Ok(Prepared {
        table: Cow::Owned(table),
        joins: outcomes,
    })
}
