//! What the user chose: everything the page's controls and the CLI's flags can set. Every field
//! is optional; the defaults give the automatic view. Crosses the wasm boundary as a plain object
//! (see docs/report.md, "Options").
use crate::join::JoinSpec;
use crate::number::Decimal;
use crate::schema::Status;
use crate::time::{DateOrder, Grain, WeekStart};
use serde::{Deserialize, Serialize};
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
    /// Custom metrics, `name = formula` over aggregates, catalog metric ids and arithmetic, e.g.
    /// `app_qr_tpv_per_payer = sum(amount where status = "success" and channel = "app_qr") /
    /// count_distinct(user_id)` (see `metrics::custom`). Reported after the catalog's metrics.
    pub metrics: Vec<String>,
    /// The first day of weekly buckets and weekly cohorts.
    pub week_start: WeekStart,
    /// Only the days from `from` to `to` (local dates, both included); KPIs compare them with
    /// as many days just before.
    pub range: Option<DateRange>,
    /// Only the rows whose column has one of the values (or none of them, with `exclude`).
    pub filters: Vec<Filter>,
    /// A column to break every metric down by (its most common values, the rest as "(other)").
    pub segment: Option<String>,
    /// Settlement SLA in hours for `settlement_sla_breach` (default 48).
    pub sla_hours: Option<f64>,
    /// Amount at or above which a payment counts as large for `large_txn_count` (default 50 000).
    pub large_amount: Option<f64>,
    /// The funnel's conversion window in days, counted from signup (default 30).
    pub funnel_days: Option<u32>,
    /// What a retention cohort is: users by signup date, or payers by first payment date.
    /// Default: signup when a users file with signup dates is joined, else first payment.
    pub cohort: Option<CohortBasis>,
}

pub const DEFAULT_SLA_HOURS: f64 = 48.0;
pub const DEFAULT_LARGE_AMOUNT: f64 = 50_000.0;
pub const DEFAULT_FUNNEL_DAYS: u32 = 30;

impl Options {
    pub fn sla_hours(&self) -> f64 {
        self.sla_hours.unwrap_or(DEFAULT_SLA_HOURS)
    }
    pub fn large_amount(&self) -> f64 {
        self.large_amount.unwrap_or(DEFAULT_LARGE_AMOUNT)
    }
    pub fn funnel_days(&self) -> u32 {
        self.funnel_days.unwrap_or(DEFAULT_FUNNEL_DAYS)
    }
}

/// Local dates, `YYYY-MM-DD`, both included.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DateRange {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// A column of the transactions (after joins and derived columns), by its header.
    pub column: String,
    /// The values kept (compared as text, after trimming); an empty cell is `""`.
    pub values: Vec<String>,
    /// Keep the rows whose value is *not* among `values` instead.
    #[serde(default)]
    pub exclude: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CohortBasis {
    Signup,
    FirstPayment,
}
