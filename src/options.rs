//! What the user chose: everything the page's controls and the CLI's flags can set. Every field
//! is optional; the defaults give the automatic view. Crosses the wasm boundary as a plain object
//! (see docs/report.md, "Options").
use crate::join::JoinSpec;
use crate::number::Decimal;
use crate::schema::Status;
use crate::time::{DateOrder, Grain};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub grain: Grain,
    /// A UTC offset such as `+08:00` or a zone name such as `Asia/Shanghai`; `None` means the
    /// offset most common in the data, else UTC.
    pub tz: Option<String>,
    /// Role id -> column name, or `None` to leave the role unmapped. Overrides the automatic map.
    pub mapping: BTreeMap<String, Option<String>>,
    /// Lookup files to join onto the transactions, in order.
    pub joins: Vec<JoinSpec>,
    /// Raw status value -> its normal form, overriding the built-in vocabulary.
    pub statuses: BTreeMap<String, Status>,
    /// The order of day and month in dates like 03/04/2025; `None` infers it per column.
    pub date_order: Option<DateOrder>,
    /// The decimal separator of number columns; `None` infers it per column from the values.
    pub decimal: Option<Decimal>,
    /// Exchange rates into `currency`: code -> how many units of `currency` one unit is worth.
    /// When given, money metrics are converted; without them, mixed currencies are reported
    /// per currency and never summed together.
    pub rates: BTreeMap<String, f64>,
    /// The currency to convert into (default: the most common one in the data).
    pub currency: Option<String>,
    /// Derived columns, applied in order after the joins: `name = formula [where condition]`,
    /// e.g. `amount = quantity * unit_price` or `amount = -amount where direction = "收入"`.
    pub derive: Vec<String>,
}
