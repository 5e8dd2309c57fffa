//! A dataset: one transactions file plus any number of lookup files (users, merchants, orders),
//! and the preparation that turns it into the one table the metrics read: lookups joined on, then
//! derived columns added.
use crate::error::{Error, ErrorKind, Result};
use crate::expr::{compile_definition, parse_definition, Row};
use crate::ingest::{ColumnBuilder, RawTable};
use crate::join::{join, suggest, JoinOutcome, JoinSpec};
use crate::number::{column_decimal, parse_number, Decimal};
use crate::options::Options;
use crate::schema::{auto_map, resolve_mapping, Mapping, Role};
use serde::Serialize;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::Arc;

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

    /// A suggested join for every lookup not joined by `joins` that shares a column name with
    /// the transactions (joined lookups are skipped first: suggesting scans the lookup's keys).
    pub fn suggested_joins(&self, joins: &[JoinSpec]) -> Vec<JoinSpec> {
        self.lookups
            .iter()
            .filter(|lookup| !joins.iter().any(|j| j.file == lookup.file))
            .filter_map(|lookup| suggest(&self.transactions, lookup, &lookup.file))
            .collect()
    }
}

impl From<RawTable> for Dataset {
    fn from(transactions: RawTable) -> Dataset {
        Dataset::new(transactions)
    }
}

/// The transactions with lookups joined on and derived columns added; borrowed as is when there
/// is nothing to join or derive.
pub struct Prepared<'a> {
    pub table: Cow<'a, RawTable>,
    pub joins: Vec<JoinOutcome>,
    pub derived: Vec<Derived>,
}

/// What one derived-column definition did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// The definition as the user wrote it.
    pub definition: String,
    /// The column it defines (`None` when the definition does not parse).
    pub column: Option<String>,
    /// True when it rewrites an existing column rather than adding one.
    pub replaces: bool,
    /// Rows where the formula gave no value (an empty cell).
    pub empty: u64,
    /// Why the definition was not applied, with the position in the formula.
    pub error: Option<String>,
}

pub fn prepare<'a>(dataset: &'a Dataset, options: &Options) -> Result<Prepared<'a>> {
    let (joins, derive) = (&options.joins, &options.derive);
    if joins.is_empty() && derive.is_empty() {
        return Ok(Prepared {
            table: Cow::Borrowed(&dataset.transactions),
            joins: Vec::new(),
            derived: Vec::new(),
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
    let mut derived: Vec<Derived> = Vec::with_capacity(derive.len());
    for definition in derive {
        let outcome = apply_definition(&mut table, definition, options, &derived);
        derived.push(outcome);
    }
    Ok(Prepared {
        table: Cow::Owned(table),
        joins: outcomes,
        derived,
    })
}

/// The roles taken by derived columns named after them (`amount = quantity * unit_price`).
pub fn derived_roles(derived: &[Derived], table: &RawTable) -> Vec<(Role, usize)> {
    derived
        .iter()
        .filter(|d| d.error.is_none() && !d.replaces)
        .filter_map(|d| {
            let name = d.column.as_deref()?;
            Some((Role::from_id(name)?, table.column_index(name)?))
        })
        .collect()
}

/// A table as formulas see it: its columns by header, then each mapped role's id standing for
/// the role's column (unless a column already has that name), each column's numbers read with
/// its own decimal separator. Derived columns and custom metrics both read rows through it.
pub struct FormulaTable<'t> {
    pub table: &'t RawTable,
    /// The names a formula may use: the headers, then the role aliases.
    pub names: Vec<String>,
    own: usize,
    /// The column each role alias stands for.
    targets: Vec<usize>,
    forced: Option<Decimal>,
    /// Each column's decimal separator, found the first time a formula reads it as a number
    /// (finding it reads the whole column): the caller keeps them (see `decimal_cells`), so
    /// that a frame finds each column's once.
    decimals: &'t [OnceCell<Decimal>],
}

/// Room for the decimal separators of a table's columns (see `FormulaTable::new`).
pub fn decimal_cells(table: &RawTable) -> Vec<OnceCell<Decimal>> {
    (0..table.columns.len()).map(|_| OnceCell::new()).collect()
}

impl<'t> FormulaTable<'t> {
    pub fn new(
        table: &'t RawTable,
        mapping: &Mapping,
        forced: Option<Decimal>,
        decimals: &'t [OnceCell<Decimal>],
    ) -> Self {
        let mut names = table.headers.clone();
        let mut targets: Vec<usize> = Vec::new();
        for role in Role::ALL {
            let taken = names.iter().any(|n| n.eq_ignore_ascii_case(role.id()));
            if let (Some(column), false) = (mapping.column(role), taken) {
                names.push(role.id().to_string());
                targets.push(column);
            }
        }
        FormulaTable {
            table,
            names,
            own: table.headers.len(),
            targets,
            forced,
            decimals,
        }
    }

    /// The table's column that formula column `index` (a header or an alias) reads.
    pub fn target(&self, index: usize) -> usize {
        if index < self.own {
            index
        } else {
            self.targets[index - self.own]
        }
    }

    /// A cell of formula column `column` read as a number, with that column's conventions. A
    /// percentage reads as its fraction: `amount * fee_rate` with a fee_rate of 0.6%.
    pub fn read_number(&self, column: usize, text: &str) -> Option<f64> {
        parse_number(text, self.decimal(self.target(column))).map(|n| n.value)
    }

    /// The decimal convention of the table's column `target`.
    fn decimal(&self, target: usize) -> Decimal {
        *self.decimals[target]
            .get_or_init(|| column_decimal(self.table.columns[target].iter(), self.forced).0)
    }

    /// A cursor over the rows (see `FormulaRow::go_to`).
    pub fn row(&self) -> FormulaRow<'_> {
        FormulaRow {
            formulas: self,
            row: 0,
            written: vec![OnceCell::new(); self.table.columns.len()],
        }
    }
}

/// A row of the table as a formula sees it.
pub struct FormulaRow<'f> {
    formulas: &'f FormulaTable<'f>,
    row: usize,
    /// The text of this row's cells in columns stored as times, written when first asked for.
    written: Vec<OnceCell<String>>,
}

impl FormulaRow<'_> {
    pub fn go_to(&mut self, row: usize) {
        self.row = row;
        self.written.iter_mut().for_each(|text| drop(text.take()));
    }
}

impl Row for FormulaRow<'_> {
    fn column(&self, index: usize) -> &str {
        let column = self.formulas.target(index);
        let cells = &self.formulas.table.columns[column];
        match cells.stored_text(self.row) {
            Some(text) => text,
            None => self.written[column].get_or_init(|| cells.get(self.row).into_owned()),
        }
    }

    fn stored_number(&self, index: usize) -> Option<Option<f64>> {
        let column = self.formulas.target(index);
        let values = self.formulas.table.columns[column].stored_decimals()?;
        (self.formulas.decimal(column) == Decimal::Point).then(|| {
            let value = values[self.row];
            (!value.is_nan()).then_some(value)
        })
    }
}

/// Evaluates a derived-column definition on every row and adds (or rewrites) its column. A
/// definition that does not parse or compile leaves the table as it was and says why.
///
/// Formulas may name roles as well as columns: in a bill export whose amount column is `金额`,
/// `amount = -amount where direction = "收入"` rewrites `金额` where `收/支` is `收入`.
fn apply_definition(
    table: &mut RawTable,
    definition: &str,
    options: &Options,
    earlier: &[Derived],
) -> Derived {
    let failed = |column: Option<String>, error: String| Derived {
        definition: definition.to_string(),
        column,
        replaces: false,
        empty: 0,
        error: Some(error),
    };
    let parsed = match parse_definition(definition) {
        Ok(parsed) => parsed,
        Err(error) => return failed(None, error.to_string()),
    };
    // Role ids that are not column names stand for the column mapped to the role.
    let mapping = resolve_mapping(table, &options.mapping, &derived_roles(earlier, table))
        .unwrap_or_else(|_| auto_map(table));
    let own = table.headers.len();
    let (cells, replaces) = {
        let decimals = decimal_cells(table);
        let formulas = FormulaTable::new(table, &mapping, options.decimal, &decimals);
        let read_number = |column: usize, text: &str| formulas.read_number(column, text);
        let compiled = match compile_definition(&parsed, &formulas.names, &read_number) {
            Ok(compiled) => compiled,
            Err(error) => return failed(Some(parsed.name.clone()), error.to_string()),
        };
        let mut cells = ColumnBuilder::default();
        let mut cells_of_row = formulas.row();
        for row in 0..table.row_count() {
            cells_of_row.go_to(row);
            let value = compiled.eval(&cells_of_row);
            // Trimmed like every cell read from a file, so a value reads the same wherever it came from.
            if let Err(error) = cells.push(value.to_cell().trim()) {
                return failed(Some(parsed.name.clone()), error.to_string());
            }
        }
        // Naming a column rewrites it; naming a role that is not a column adds a column named
        // after the role (which then plays it), keeping the role's original column as it was.
        (
            cells.finish(),
            compiled.replaces().filter(|&index| index < own),
        )
    };
    let empty = cells.empty_cells() as u64;
    match replaces {
        Some(index) => table.columns[index] = Arc::new(cells),
        None => {
            table.headers.push(parsed.name.clone());
            table.columns.push(Arc::new(cells));
        }
    }
    Derived {
        definition: definition.to_string(),
        column: Some(match replaces {
            Some(index) => table.headers[index].clone(),
            None => parsed.name,
        }),
        replaces: replaces.is_some(),
        empty,
        error: None,
    }
}
