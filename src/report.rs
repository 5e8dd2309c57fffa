//! The report: everything the user sees about one file, as one serialisable value (the shape is
//! documented in docs/report.md), plus its plain-text rendering for the CLI.
use crate::error::{Error, ErrorKind};
type Result<T> = crate::error::Result<T>;
use crate::dataset::{decimal_cells, derived_roles, prepare, Dataset, Derived, FormulaTable};
use crate::expr::ParseError;
use crate::ingest::RawTable;
use crate::join::{JoinOutcome, JoinSpec};
use crate::metrics::breakdown::{
    breakdowns, decline_reasons, dimension, histograms, mix_series, selected_rows, Breakdown,
    Coded, Codes, DeclineReasons, Dimension, Histogram, MixGroups, MIX_ROLES, UNLISTED,
};
use crate::metrics::custom::{parse_all, CustomMetric, Evaluator, Tallies};
use crate::metrics::engine::bucket_table;
use crate::metrics::engine::{PayerFacts, Payers, PayersFrom, Rows};
use crate::metrics::funnel::{
    find_users_table, funnel_of, read_signups, Funnel, PaymentsByUser, Signup, UserIndex,
};
use crate::metrics::retention::{retention_of, Retention};
use crate::metrics::{
    compute, Calendar, Computed, Good, Metric, Params, Selection, Stakeholder, Tally, Threshold,
    Tier, Unit, Want, CATALOG,
};
pub use crate::options::Options;
use crate::options::{CohortBasis, DateRange, Filter};
use crate::quality::Quality;
use crate::schema::{resolve_mapping, Mapping, Role, Source, Status};
use crate::time::{
    bucket_label, bucket_start_rfc3339, date_of_day, Grain, Timestamp, WeekStart, Zone,
};
use crate::transactions::Transactions;
use crate::transactions::{type_table, Typed};
use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;

/// A metric's id: a catalog id, or a custom metric's name.
pub type MetricId = Cow<'static, str>;
/// Metric id -> value.
pub type Values = BTreeMap<MetricId, Option<f64>>;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricValue {
    pub id: MetricId,
    pub name: MetricId,
    pub tier: Tier,
    pub stakeholders: &'static [Stakeholder],
    pub good: Good,
    pub unit: Unit,
    pub description: MetricId,
    #[serde(serialize_with = "json_number")]
    pub value: Option<f64>,
    /// The value over the previous period (as many days just before the range).
    #[serde(serialize_with = "json_number")]
    pub previous: Option<f64>,
    /// (value - previous) / |previous|.
    pub change: Option<f64>,
    pub thresholds: &'static [Threshold],
    /// Roles that are not mapped; when non-empty, `value` is `None`.
    pub needs: Vec<&'static str>,
    /// Why the value is missing when it is not a missing column (e.g. mixed currencies).
    pub note: Option<String>,
}

/// What one custom metric definition (`Options::metrics`) gave.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CustomOutcome {
    /// The definition as the user wrote it.
    pub definition: String,
    /// The metric's id (its name), when the definition parses.
    pub id: Option<String>,
    /// The formula as it was understood (every operation in parentheses).
    pub formula: Option<String>,
    /// Why the metric has no values, with the position in the definition (1-based, in
    /// characters) and what would fit there.
    pub error: Option<FormulaError>,
}

/// A formula's error, for the page's editor to underline and explain.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FormulaError {
    /// `at column N: what is wrong`.
    pub message: String,
    /// The part of the definition at fault: 0-based character offsets, end exclusive.
    pub start: usize,
    pub end: usize,
    pub suggestion: Option<String>,
}

impl FormulaError {
    fn of(error: &ParseError) -> FormulaError {
        FormulaError {
            message: error.to_string(),
            start: error.position,
            end: error.end,
            suggestion: error.suggestion.clone(),
        }
    }
}

/// The money metrics of one currency, when the data mixes currencies and no rates convert them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurrencyTotals {
    pub currency: String,
    #[serde(serialize_with = "json_numbers")]
    pub totals: Values,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesPoint {
    pub bucket: String,
    pub start: String,
    /// Metric id -> value in this bucket.
    #[serde(flatten, serialize_with = "json_numbers")]
    pub values: Values,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoleMapping {
    pub role: &'static str,
    pub column: Option<String>,
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusValue {
    pub raw: String,
    pub status: Status,
    pub count: u64,
}

/// Local dates, both included.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dates {
    pub from: String,
    pub to: String,
}

impl Dates {
    pub(crate) fn of(range: (i64, i64)) -> Dates {
        let text = |day: i64| date_of_day(day).format("%Y-%m-%d").to_string();
        Dates {
            from: text(range.0),
            to: text(range.1),
        }
    }
}

/// The thresholds and windows a report was computed with.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReportParams {
    pub large_amount: f64,
    pub sla_hours: f64,
    pub funnel_days: u32,
}

/// Every metric broken down by the values of one column.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segments {
    pub column: String,
    pub values: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segment {
    pub value: String,
    pub rows: u64,
    #[serde(serialize_with = "json_numbers")]
    pub totals: Values,
    pub series: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub file: String,
    pub tz: String,
    pub grain: Grain,
    pub week_start: WeekStart,
    /// The thresholds and windows in force (the user's, else the defaults).
    pub params: ReportParams,
    /// Local dates of the loaded data (`None` without times).
    pub data_range: Option<Dates>,
    /// The period reported: the chosen range, else the data's.
    pub range: Option<Dates>,
    /// As many days just before `range`, when a range was chosen.
    pub previous: Option<Dates>,
    /// Metric id -> whole-range value (`None` where a needed column is missing).
    #[serde(serialize_with = "json_numbers")]
    pub totals: Values,
    /// Metric id -> value over `previous` (empty without one).
    #[serde(serialize_with = "json_numbers")]
    pub previous_totals: Values,
    pub metrics: Vec<MetricValue>,
    pub series: Vec<SeriesPoint>,
    pub segments: Option<Segments>,
    pub breakdowns: Vec<Breakdown>,
    pub decline_reasons: Option<DeclineReasons>,
    /// The activation funnel (see `metrics::funnel`).
    pub funnel: Option<Funnel>,
    /// Cohort retention (see `metrics::retention`).
    pub retention: Option<Retention>,
    pub histograms: Vec<Histogram>,
    pub dimensions: Vec<Dimension>,
    pub mapping: Vec<RoleMapping>,
    pub columns: Vec<String>,
    pub statuses: Vec<StatusValue>,
    pub currencies: Vec<String>,
    /// The currency of the money metrics; `None` when currencies are mixed (see `by_currency`).
    pub currency: Option<String>,
    /// Every metric per currency, when the data mixes currencies without exchange rates.
    pub by_currency: Vec<CurrencyTotals>,
    pub quality: Quality,
    /// What each join did (matched and unmatched keys).
    pub joins: Vec<JoinOutcome>,
    /// What each derived-column definition did, or why it was not applied.
    pub derived: Vec<Derived>,
    /// What each custom metric definition gave, or why it has no values.
    pub custom: Vec<CustomOutcome>,
    /// The lookup files loaded, with how each was read.
    pub lookups: Vec<LookupQuality>,
    /// Joins the user could make: lookups sharing a column name with the transactions.
    pub suggested_joins: Vec<JoinSpec>,
}

/// How a lookup file was read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LookupQuality {
    #[serde(flatten)]
    pub quality: Quality,
    pub columns: Vec<String>,
}

/// Writes whole numbers as JSON integers, so that counts read `42`, not `42.0`.
fn json_number<S: Serializer>(
    value: &Option<f64>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match *value {
        // Beyond 2^53 an f64 no longer holds every integer: leave those as floats.
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => serializer.serialize_i64(v as i64),
        Some(v) => serializer.serialize_f64(v),
        None => serializer.serialize_none(),
    }
}

fn json_numbers<S: Serializer>(
    values: &Values,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    struct JsonNumber(Option<f64>);
    impl Serialize for JsonNumber {
        fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
            json_number(&self.0, serializer)
        }
    }
    serializer.collect_map(values.iter().map(|(id, value)| (id, JsonNumber(*value))))
}

/// What a report stands on that depends only on the data and the options that read it (mapping,
/// joins, derived columns, statuses, number and date conventions, currencies, time zone): the
/// prepared table and its typed columns. Built once and reused while the user only changes the
/// view (grain, range, filters, segment, thresholds), so that re-aggregating never re-parses.
///
/// A frame belongs to the dataset it was built from, lookups included: the caches below read
/// them (the page's worker drops the frame whenever a file is loaded or removed).
pub struct Frame {
    /// The options the frame was built with, as far as they matter to it (see `data_key`).
    key: String,
    /// The transactions with lookups joined and derived columns added; `None` when there is
    /// nothing to join or derive (the dataset's own table is then used as is).
    prepared: Option<RawTable>,
    pub(crate) joins: Vec<JoinOutcome>,
    pub(crate) derived: Vec<Derived>,
    pub(crate) mapping: Mapping,
    pub(crate) typed: Typed,
    pub(crate) calendar: Calendar,
    /// The columns offered for filters and segments (counted over every loaded row).
    dimensions: Vec<Dimension>,
    /// Each column of the table dictionary-encoded, when first needed (mixes, filters, segments,
    /// custom metrics).
    coded: Vec<OnceCell<Coded>>,
    /// Each column's decimal separator, when a custom metric first reads it as numbers.
    decimals: Vec<OnceCell<crate::number::Decimal>>,
    /// How dates like 03/04/2025 are read (the users file's signups are read like the data).
    date_order: Option<crate::time::DateOrder>,
    /// The payers of the unfiltered rows (`Payers`), the first time a report without filters
    /// needs them: the walk that groups the payments by payer then happens once per frame.
    payers: OnceCell<Option<Payers>>,
    /// The rows and payers of the last filters used (`Filtered`): a view that changes only the
    /// grain, range, segment or thresholds under the same filters reuses them.
    filtered: RefCell<Option<Rc<Filtered>>>,
    /// The users file's signups, read the first time the funnel or retention needs them (parsing
    /// its times is the costliest part of those two).
    signups: OnceCell<Option<Signups>>,
    /// Joins the user could make (they depend on the files and the joins made, not the view).
    suggested_joins: OnceCell<Vec<JoinSpec>>,
    /// Parts of the last report, each with the view options it depends on (see `Memo`).
    memos: Memos,
}

/// The last value of one part of a report, with the view options it was computed under: a view
/// that changes only options the part does not depend on reuses it rather than walking the rows
/// again (1M rows: changing the grain keeps the previous period, histograms, decline reasons,
/// funnel and retention; adding a segment keeps every part but the segments). Parts hold no
/// array per row, so keeping the last of each costs little memory.
struct Memo<K, V> {
    last: RefCell<Option<(K, Rc<V>)>>,
}

impl<K: PartialEq, V> Memo<K, V> {
    fn get(&self, key: K, make: impl FnOnce() -> V) -> Rc<V> {
        if let Some((last, value)) = self.last.borrow().as_ref() {
            if *last == key {
                return Rc::clone(value);
            }
        }
        let value = Rc::new(make());
        *self.last.borrow_mut() = Some((key, Rc::clone(&value)));
        value
    }
}

impl<K: PartialEq, V> Memo<K, V> {
    /// The value kept for `key`, if it was the last one's.
    fn peek(&self, key: &K) -> Option<Rc<V>> {
        match self.last.borrow().as_ref() {
            Some((last, value)) if last == key => Some(Rc::clone(value)),
            _ => None,
        }
    }

    fn put(&self, key: K, value: V) {
        *self.last.borrow_mut() = Some((key, Rc::new(value)));
    }
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Memo {
            last: RefCell::new(None),
        }
    }
}

/// The rows a part reads: the filters and the chosen range (local days).
type SelectionKey = (Vec<Filter>, Option<(i64, i64)>);

/// The most first payment days (8 bytes each: a payer's in a segment) a report keeps for the
/// segments' changes of grain: 8 MiB, kept between views, so that a file held whole near the
/// memory budget is not pushed past it (a million payers in 5 segments keep none, as before).
const MAX_KEPT_PAYER_DAYS: usize = 1 << 20;

/// A segment's totals, and its payers' facts when kept (see `Memos::segment_totals`).
type SegmentKnown = (Tally, Option<PayerFacts>);

/// The thresholds of `Params`, as bits (so that keys compare as equal or not, NaN included).
type ThresholdsKey = (u64, u64);

/// The parts of a report that `Memo` keeps, by what each depends on.
#[derive(Default)]
struct Memos {
    /// The period's totals and series.
    period: Memo<(SelectionKey, ThresholdsKey, Grain, WeekStart), Computed>,
    /// The period's totals, and each segment's (by the segment's column): they do not depend on
    /// the grain, so a change of grain computes the series only (see `Want::SeriesOnly`).
    totals: Memo<(SelectionKey, ThresholdsKey), Tally>,
    /// Each segment's totals and its payers' facts (while small: `MAX_KEPT_PAYER_DAYS`), for
    /// the same segments at another grain.
    segment_totals: Memo<(SelectionKey, ThresholdsKey, usize), Vec<SegmentKnown>>,
    /// The previous period's totals, and the totals per currency.
    before: Memo<(SelectionKey, ThresholdsKey), (Option<Computed>, Vec<CurrencyTotals>)>,
    mixes: Memo<(SelectionKey, Grain, WeekStart), Vec<Breakdown>>,
    /// The mixes at the grain they were first computed at, with how each was summed: their
    /// values' sums serve any grain of the same rows (`mix_series`).
    mix_values: Memo<SelectionKey, (Vec<Breakdown>, Vec<MixGroups>)>,
    /// The histograms and decline reasons.
    distributions: Memo<SelectionKey, (Vec<Histogram>, Option<DeclineReasons>)>,
    /// The funnel, retention and what reading the users file warned of.
    cohorts: Memo<(SelectionKey, WeekStart, u32, Option<CohortBasis>), Cohorts>,
}

type Cohorts = (Option<Funnel>, Option<Retention>, Vec<String>);

/// What a set of column filters selects, on every date: which rows pass, those rows in day order,
/// and their payers. It depends on the filters only, not on the period or grain.
struct Filtered {
    filters: Vec<Filter>,
    mask: Vec<bool>,
    order: Vec<u32>,
    payers: Option<Payers>,
}

/// The signups of a users file, with what reading them found.
pub(crate) struct Signups {
    signups: Vec<Signup>,
    /// Whether the file has a funding column (the funnel's `funded` step).
    funded: bool,
    warnings: Vec<String>,
}

impl Signups {
    /// The signups of the users file among `lookups`, if one has a signup date, with each user
    /// numbered as `index` numbers the transactions' user ids (`NO_ID`: none).
    pub(crate) fn of(
        lookups: &[RawTable],
        index: &UserIndex,
        zone: Zone,
        date_order: Option<crate::time::DateOrder>,
    ) -> Option<Signups> {
        let columns = find_users_table(lookups)?;
        let (signups, warnings) =
            read_signups(&lookups[columns.table], &columns, index, zone, date_order);
        Some(Signups {
            signups,
            funded: columns.funding.is_some(),
            warnings,
        })
    }
}

impl Frame {
    /// True when the frame was built for the data options of `options`.
    pub fn fits(&self, options: &Options) -> bool {
        self.key == data_key(options)
    }

    pub(crate) fn table<'a>(&'a self, dataset: &'a Dataset) -> &'a RawTable {
        self.prepared.as_ref().unwrap_or(&dataset.transactions)
    }

    /// Column `column` of the table, dictionary-encoded (once per frame).
    pub(crate) fn coded(&self, dataset: &Dataset, column: usize) -> &Coded {
        self.coded[column]
            .get_or_init(|| Coded::new(self.table(dataset), column, &self.typed.transactions))
    }

    /// The payers of every loaded row (no filter).
    fn payers(&self) -> Option<&Payers> {
        self.payers
            .get_or_init(|| {
                Payers::new(
                    &self.typed.transactions,
                    &self.calendar,
                    &self.calendar.order,
                )
            })
            .as_ref()
    }

    /// The rows and payers that `filters` (not empty) select: those of the last call when the
    /// filters are the same, else computed and kept in their place.
    fn filtered(&self, dataset: &Dataset, filters: &[Filter]) -> Result<Rc<Filtered>> {
        if let Some(last) = self.filtered.borrow().as_ref() {
            if last.filters == filters {
                return Ok(Rc::clone(last));
            }
        }
        let mask = filter_mask(dataset, self, filters)?;
        let order: Vec<u32> = self
            .calendar
            .order
            .iter()
            .copied()
            .filter(|&row| mask[row as usize])
            .collect();
        let payers = Payers::new(&self.typed.transactions, &self.calendar, &order);
        let filtered = Rc::new(Filtered {
            filters: filters.to_vec(),
            mask,
            order,
            payers,
        });
        *self.filtered.borrow_mut() = Some(Rc::clone(&filtered));
        Ok(filtered)
    }

    /// The signups of the first lookup that is a users file, if any.
    fn signups(&self, dataset: &Dataset) -> Option<&Signups> {
        self.signups
            .get_or_init(|| {
                // Not built when there is no users file: an index of every user id.
                find_users_table(&dataset.lookups)?;
                let index: UserIndex = (self.typed.transactions.user_ids.iter())
                    .enumerate()
                    .map(|(i, id)| (id.as_str(), i as u32))
                    .collect();
                Signups::of(
                    &dataset.lookups,
                    &index,
                    self.calendar.zone,
                    self.date_order,
                )
            })
            .as_ref()
    }
}

/// The options that decide how the data is read, as text: two option sets with the same key read
/// the same frame.
fn data_key(options: &Options) -> String {
    format!(
        "{:?}",
        (
            &options.tz,
            &options.mapping,
            &options.joins,
            &options.statuses,
            &options.date_order,
            &options.decimal,
            &options.rates,
            &options.currency,
            &options.derive,
        )
    )
}

/// Computes the report of a dataset under the user's options.
pub fn analyze(dataset: &Dataset, options: &Options) -> Result<Report> {
    let frame = build_frame(dataset, options)?;
    report_from(dataset, &frame, options)
}

/// Reads the dataset through the data options of `options` (see `Frame`).
pub fn build_frame(dataset: &Dataset, options: &Options) -> Result<Frame> {
    if let Some((code, rate)) = options
        .rates
        .iter()
        .find(|(_, r)| !(r.is_finite() && **r > 0.0))
    {
        return Err(Error::new(ErrorKind::InvalidOption(format!(
            "the exchange rate for {code} must be a positive number, not {rate}"
        ))));
    }
    let prepared = prepare(dataset, options)?;
    let table: &RawTable = &prepared.table;
    let derived = derived_roles(&prepared.derived, table);
    let mapping = resolve_mapping(table, &options.mapping, &derived)?;
    let mut typed = type_table(table, &mapping, options);
    // The calendar takes the time columns and keeps what the metrics use of them.
    let times = std::mem::take(&mut typed.times);
    let transactions = &typed.transactions;
    let zone = match &options.tz {
        Some(text) => Zone::parse(text).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOption(format!(
                "time zone {text:?} is neither a UTC offset like +08:00 nor a zone name like Asia/Shanghai"
            )))
        })?,
        None => times
            .created_at
            .as_deref()
            .and_then(most_common_offset)
            .unwrap_or_else(Zone::utc),
    };
    let calendar = Calendar::new(times, transactions.len, zone);
    let dimensions = dimensions(table, &mapping, transactions);
    let coded = (0..table.headers.len()).map(|_| OnceCell::new()).collect();
    let decimals = decimal_cells(table);
    let (joins, derived) = (prepared.joins, prepared.derived);
    let prepared = match prepared.table {
        Cow::Owned(table) => Some(table),
        Cow::Borrowed(_) => None,
    };
    Ok(Frame {
        key: data_key(options),
        prepared,
        joins,
        derived,
        mapping,
        typed,
        calendar,
        dimensions,
        coded,
        decimals,
        date_order: options.date_order,
        payers: OnceCell::new(),
        filtered: RefCell::new(None),
        signups: OnceCell::new(),
        suggested_joins: OnceCell::new(),
        memos: Memos::default(),
    })
}

/// The columns offered for filters and segments: every column but ids, times and numbers of a
/// known role, with few enough distinct values.
fn dimensions(table: &RawTable, mapping: &Mapping, transactions: &Transactions) -> Vec<Dimension> {
    dimension_candidates(table, mapping)
        .into_iter()
        .filter_map(|(c, role)| dimension(table, c, role, transactions))
        .collect()
}

/// The columns that may be dimensions (every column but ids, times and numbers of a known
/// role), each with its role.
pub(crate) fn dimension_candidates(
    table: &RawTable,
    mapping: &Mapping,
) -> Vec<(usize, Option<&'static str>)> {
    let role_of_column = |c: usize| {
        Role::ALL
            .into_iter()
            .find(|&role| mapping.column(role) == Some(c))
    };
    (0..table.headers.len())
        .map(|c| (c, role_of_column(c)))
        .filter(|(_, role)| {
            !role.is_some_and(|role| {
                matches!(
                    role,
                    Role::TxnId
                        | Role::CreatedAt
                        | Role::UserId
                        | Role::Amount
                        | Role::Fee
                        | Role::LatencyMs
                        | Role::SettledAt
                        | Role::DisputedAt
                )
            })
        })
        .map(|(c, role)| (c, role.map(Role::id)))
        .collect()
}

/// The report of a dataset from its frame, under the view options of `options` (the frame must
/// fit them: see `Frame::fits`).
/// The catalog's metrics read from tallies, as a report gives them: a metric whose columns are
/// not mapped has no value, nor has one that sums money when the data mixes currencies.
pub(crate) struct CatalogReader<'a> {
    mapping: &'a Mapping,
    /// Why money metrics have no value: amounts in different currencies are never summed (they
    /// are given per currency instead).
    mixed_note: Option<String>,
}

impl<'a> CatalogReader<'a> {
    pub(crate) fn new(mapping: &'a Mapping, transactions: &Transactions) -> CatalogReader<'a> {
        let mixed = transactions.money_currency.is_none() && transactions.currencies.len() > 1;
        let mixed_note = mixed.then(|| {
            format!(
                "mixed currencies ({}): shown per currency; enter exchange rates to convert",
                transactions.currencies.join(", ")
            )
        });
        CatalogReader {
            mapping,
            mixed_note,
        }
    }

    /// A reader for data in one currency.
    pub(crate) fn unmixed(mapping: &'a Mapping) -> CatalogReader<'a> {
        CatalogReader {
            mapping,
            mixed_note: None,
        }
    }

    pub(crate) fn mixed_note(&self) -> Option<&str> {
        self.mixed_note.as_deref()
    }

    /// Whether every column the metric needs is mapped.
    pub(crate) fn computable(&self, metric: &Metric) -> bool {
        metric
            .needs
            .iter()
            .all(|role| self.mapping.column(*role).is_some())
    }

    pub(crate) fn value_of(&self, metric: &Metric, tally: &Tally) -> Option<f64> {
        if !self.computable(metric) || (self.mixed_note.is_some() && metric.uses_money()) {
            None
        } else {
            (metric.value)(tally).filter(|v| v.is_finite())
        }
    }

    pub(crate) fn values_of(&self, tally: &Tally) -> Values {
        CATALOG
            .iter()
            .map(|m| (Cow::Borrowed(m.id), self.value_of(m, tally)))
            .collect()
    }

    /// Every metric of the catalog over a period, compared with the previous period's.
    pub(crate) fn metrics(&self, totals: &Tally, previous: Option<&Tally>) -> Vec<MetricValue> {
        CATALOG
            .iter()
            .map(|metric| {
                let value = self.value_of(metric, totals);
                let before = previous.and_then(|p| self.value_of(metric, p));
                MetricValue {
                    id: Cow::Borrowed(metric.id),
                    name: Cow::Borrowed(metric.name),
                    tier: metric.tier,
                    stakeholders: metric.stakeholders,
                    good: metric.good,
                    unit: metric.unit,
                    description: Cow::Borrowed(metric.description),
                    value,
                    previous: before,
                    change: match (value, before) {
                        (Some(now), Some(then)) if then != 0.0 => Some((now - then) / then.abs()),
                        _ => None,
                    },
                    thresholds: metric.thresholds,
                    needs: metric
                        .needs
                        .iter()
                        .filter(|role| self.mapping.column(**role).is_none())
                        .map(|role| role.id())
                        .collect(),
                    note: match metric.uses_money() {
                        true => self.mixed_note.clone(),
                        false => None,
                    },
                }
            })
            .collect()
    }

    /// The series of a computation's buckets.
    pub(crate) fn series(&self, computed: &Computed, grain: Grain, zone: Zone) -> Vec<SeriesPoint> {
        computed
            .buckets
            .iter()
            .map(|bucket| SeriesPoint {
                bucket: bucket_label(bucket.start_day, grain),
                start: bucket_start_rfc3339(bucket.start_day, zone),
                values: self.values_of(&bucket.tally),
            })
            .collect()
    }
}

pub fn report_from(dataset: &Dataset, frame: &Frame, options: &Options) -> Result<Report> {
    let params_check = [
        ("sla_hours", options.sla_hours),
        ("large_amount", options.large_amount),
    ];
    if let Some((name, Some(value))) = params_check
        .iter()
        .find(|(_, v)| v.is_some_and(|v| !(v.is_finite() && v >= 0.0)))
    {
        return Err(Error::new(ErrorKind::InvalidOption(format!(
            "{name} must be a number at or above 0, not {value}"
        ))));
    }
    let table = frame.table(dataset);
    let mapping = &frame.mapping;
    let typed = &frame.typed;
    let transactions = &typed.transactions;
    let calendar = &frame.calendar;
    let zone = calendar.zone;
    let params = Params {
        zone,
        grain: options.grain,
        week_start: options.week_start,
        sla_hours: options.sla_hours(),
        large_amount: options.large_amount(),
    };
    let chosen_range = options.range.as_ref().map(parse_range).transpose()?;
    let range = chosen_range.or(calendar.span);
    let previous_range = chosen_range.map(|(from, to)| (from - (to - from + 1), from - 1));
    // The rows the filters keep, on every date, in day order, and their payers; without
    // filters, the frame's order and payers serve as they are.
    let filtered_rows = match options.filters.is_empty() {
        true => None,
        false => Some(frame.filtered(dataset, &options.filters)?),
    };
    let mask = filtered_rows.as_ref().map(|f| &f.mask[..]);
    let selection = Selection {
        mask,
        range: chosen_range,
    };
    let in_mask = |row: usize| mask.is_none_or(|m| m[row]);
    let (filtered, payers) = match &filtered_rows {
        None => (&calendar.order[..], frame.payers()),
        Some(f) => (&f.order[..], f.payers.as_ref()),
    };
    let rows = Rows {
        order: filtered,
        contains: &in_mask,
    };
    let selection_key: SelectionKey = (options.filters.clone(), chosen_range);
    let thresholds_key = (params.sla_hours.to_bits(), params.large_amount.to_bits());
    let period_key = (
        selection_key.clone(),
        thresholds_key,
        options.grain,
        options.week_start,
    );
    let totals_key = (selection_key.clone(), thresholds_key);
    let computed = frame.memos.period.get(period_key, || {
        let known = frame.memos.totals.peek(&totals_key);
        let want = match known {
            Some(_) => Want::SeriesOnly,
            None => Want::Series,
        };
        let mut computed = compute(
            transactions,
            calendar,
            &params,
            rows,
            PayersFrom::Facts(payers.map(Payers::facts)),
            chosen_range,
            want,
        );
        match known {
            Some(totals) => computed.totals = totals.as_ref().clone(),
            None => frame
                .memos
                .totals
                .put(totals_key.clone(), computed.totals.clone()),
        }
        computed
    });
    // The rows of the period after the filters, for the mixes, histograms and segments (only
    // when one of them is not kept from the last report).
    let selected_cell = OnceCell::new();
    let selected = || -> &Vec<u32> {
        selected_cell.get_or_init(|| selected_rows(transactions, calendar, selection))
    };

    // The filtered rows narrowed to those of `order` (in day order), whose rows are those for
    // which `part(row)` holds (one currency, one segment): computed as if `part` were one more
    // filter, with payers of their own (found in the walk, unless given).
    let compute_within =
        |order: &[u32], part: &dyn Fn(usize) -> bool, payers: PayersFrom, want: Want| {
            let contains = |row: usize| part(row) && in_mask(row);
            let rows = Rows {
                order,
                contains: &contains,
            };
            compute(
                transactions,
                calendar,
                &params,
                rows,
                payers,
                chosen_range,
                want,
            )
        };
    let catalog = CatalogReader::new(mapping, transactions);
    let computable = |metric: &Metric| catalog.computable(metric);
    let values_of = |tally: &Tally| catalog.values_of(tally);
    let by_currency = || -> Vec<CurrencyTotals> {
        match (&transactions.currency, catalog.mixed_note().is_some()) {
            (Some(row_currency), true) => transactions
                .currencies
                .iter()
                .enumerate()
                .map(|(index, code)| {
                    let index = index as u16;
                    let in_currency = |row: usize| row_currency[row] == index;
                    let order: Vec<u32> = filtered
                        .iter()
                        .copied()
                        .filter(|&row| in_currency(row as usize))
                        .collect();
                    let part = compute_within(
                        &order,
                        &in_currency,
                        PayersFrom::Walk { keep: false },
                        Want::Totals,
                    );
                    CurrencyTotals {
                        currency: code.clone(),
                        totals: CATALOG
                            .iter()
                            .map(|m| {
                                let value =
                                    computable(m).then(|| (m.value)(&part.totals)).flatten();
                                (Cow::Borrowed(m.id), value)
                            })
                            .collect(),
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let before = frame
        .memos
        .before
        .get((selection_key.clone(), thresholds_key), || {
            let previous = previous_range.map(|range| {
                compute(
                    transactions,
                    calendar,
                    &params,
                    rows,
                    PayersFrom::Facts(payers.map(Payers::facts)),
                    Some(range),
                    Want::Totals,
                )
            });
            (previous, by_currency())
        });
    let (previous, by_currency) = (&before.0, &before.1);
    let metrics = catalog.metrics(&computed.totals, previous.as_ref().map(|p| &p.totals));
    let series_of = |computed: &Computed| catalog.series(computed, options.grain, zone);
    let series = series_of(&computed);

    // Each segment's rows (in day order), kept for the custom metrics.
    let mut rows_by_segment: Vec<Vec<u32>> = Vec::new();
    let mut segments = match &options.segment {
        Some(name) => {
            let column = column_named(table, name, "segment by")?;
            let coded = frame.coded(dataset, column);
            let mut rows_per_code = vec![0u64; coded.values.len()];
            for &row in selected() {
                rows_per_code[coded.codes.get(row as usize) as usize] += 1;
            }
            let weight: Vec<f64> = rows_per_code.iter().map(|&n| n as f64).collect();
            let (group_of, labels) = coded.top(&weight, &rows_per_code, SEGMENT_VALUES);
            // Each segment's rows in one pass over the filtered rows, rather than a pass per
            // segment: a segment's computation then walks only its own rows.
            let mut segment_rows: Vec<Vec<u32>> = vec![Vec::new(); labels.len()];
            for &row in filtered.iter() {
                let group = group_of[coded.codes.get(row as usize) as usize];
                if group != UNLISTED {
                    segment_rows[group as usize].push(row);
                }
            }
            // Each segment's totals, and its payers' facts, when the last report had them at
            // another grain: a change of grain then computes the series only, without finding
            // the payers again (~6% of it).
            let segment_key = (selection_key.clone(), thresholds_key, column);
            // (The same rows give the same segments: the length check only guards.)
            let known = frame
                .memos
                .segment_totals
                .peek(&segment_key)
                .filter(|known| known.len() == segment_rows.len());
            let want = match known {
                Some(_) => Want::SeriesOnly,
                None => Want::Series,
            };
            // The facts are kept while they are small: a first payment day per payer and segment.
            let keep = known.is_none()
                && transactions.user_count * segment_rows.len() <= MAX_KEPT_PAYER_DAYS;
            let mut parts: Vec<Computed> = segment_rows
                .iter()
                .enumerate()
                .map(|(group, order)| {
                    let known = known.as_ref().and_then(|k| k.get(group));
                    let payers = match known {
                        Some((_, Some(facts))) => PayersFrom::Facts(Some(facts)),
                        _ => PayersFrom::Walk { keep },
                    };
                    let mut part = compute_within(
                        order,
                        &|row| group_of[coded.codes.get(row) as usize] as usize == group,
                        payers,
                        want,
                    );
                    if let Some((totals, _)) = known {
                        part.totals = totals.clone();
                    }
                    part
                })
                .collect();
            if known.is_none() {
                let known = parts
                    .iter_mut()
                    .map(|part| (part.totals.clone(), part.payer_facts.take()))
                    .collect();
                frame.memos.segment_totals.put(segment_key, known);
            }
            let values = labels
                .into_iter()
                .zip(parts)
                .map(|(value, part)| Segment {
                    value,
                    rows: part.totals.attempts,
                    totals: values_of(&part.totals),
                    series: series_of(&part),
                })
                .collect();
            rows_by_segment = segment_rows;
            Some(Segments {
                column: table.headers[column].clone(),
                values,
            })
        }
        None => None,
    };
    let mixes_key = (selection_key.clone(), options.grain, options.week_start);
    let breakdowns = frame.memos.mixes.get(mixes_key, || {
        let mixes = MIX_ROLES
            .into_iter()
            .filter_map(|role| {
                let column = mapping.column(role)?;
                let coded = frame.coded(dataset, column);
                Some((role.id(), table.headers[column].clone(), coded))
            })
            .collect();
        // The same rows at another grain: each value's sums are kept, the cells per bucket
        // summed anew.
        if let Some(known) = frame.memos.mix_values.peek(&selection_key) {
            let (list, groups) = known.as_ref();
            return mix_series(
                mixes,
                list,
                groups,
                transactions,
                calendar,
                &params,
                selection,
                selected(),
            );
        }
        let (list, groups) = breakdowns(
            mixes,
            transactions,
            calendar,
            &params,
            selection,
            selected(),
        );
        frame
            .memos
            .mix_values
            .put(selection_key.clone(), (list.clone(), groups));
        list
    });
    let distributions = frame.memos.distributions.get(selection_key.clone(), || {
        let decline_reasons = mapping.column(Role::DeclineReason).map(|column| {
            let coded = frame.coded(dataset, column);
            decline_reasons(
                table.headers[column].clone(),
                coded,
                transactions,
                selected(),
            )
        });
        // The engine's period is the same rows as `selected`: its latency p99 and maximum serve.
        let latency_tail = computed.totals.latency_p99.zip(computed.totals.latency_max);
        (
            histograms(transactions, selected(), latency_tail),
            decline_reasons,
        )
    });
    let cohorts_key = (
        selection_key,
        options.week_start,
        options.funnel_days(),
        options.cohort,
    );
    let cohort_parts = frame.memos.cohorts.get(cohorts_key, || {
        cohorts(dataset, frame, payers, range, options)
    });
    let (funnel, retention, users_warnings) = cohort_parts.as_ref().clone();
    let (histograms, decline_reasons) = distributions.as_ref().clone();
    let dimensions = frame.dimensions.clone();

    let mut skipped = table.skipped.clone();
    skipped.extend(&typed.skipped);
    let mut warnings = table.warnings.clone();
    warnings.extend(typed.warnings.iter().cloned());
    warnings.extend(users_warnings);
    let no_series = !frame.calendar.day.is_empty() && computed.buckets.is_empty();
    add_view_warnings(&mut warnings, no_series, &transactions.status_values);
    let quality = Quality {
        rows_loaded: transactions.len as u64,
        rows_skipped: skipped.total(),
        skipped: skipped.groups().to_vec(),
        unmapped_columns: unmapped_columns(mapping, &table.headers),
        warnings,
        ..Quality::of_table(table)
    };
    debug_assert_eq!(
        quality.rows_read,
        quality.rows_loaded + quality.rows_skipped
    );

    let mut metrics = metrics;
    let mut series = series;
    let mut previous_totals = previous
        .as_ref()
        .map(|p| values_of(&p.totals))
        .unwrap_or_default();
    let custom = match options.metrics.is_empty() {
        true => Vec::new(),
        false => custom_metrics(
            &options.metrics,
            &FormulaTable::new(table, mapping, options.decimal, &frame.decimals),
            &transactions.rows,
            &|column| {
                let coded = frame.coded(dataset, column);
                (&coded.codes, coded.values.len())
            },
            mapping,
            CustomRows {
                calendar,
                filtered,
                range,
                previous: previous_range,
                grain: options.grain,
                week_start: options.week_start,
                by_segment: &rows_by_segment,
            },
            CustomPlaces {
                metrics: &mut metrics,
                series: &mut series,
                previous_totals: &mut previous_totals,
                segments: segments.as_mut(),
                mixed_note: catalog.mixed_note(),
            },
        ),
    };

    Ok(Report {
        file: table.file.clone(),
        tz: zone.to_string(),
        grain: options.grain,
        week_start: options.week_start,
        params: ReportParams {
            large_amount: params.large_amount,
            sla_hours: params.sla_hours,
            funnel_days: options.funnel_days(),
        },
        data_range: calendar.span.map(Dates::of),
        range: range.map(Dates::of),
        previous: previous_range.map(Dates::of),
        totals: metrics.iter().map(|m| (m.id.clone(), m.value)).collect(),
        previous_totals,
        metrics,
        custom,
        series,
        segments,
        breakdowns: breakdowns.as_ref().clone(),
        decline_reasons,
        funnel,
        retention,
        histograms,
        dimensions,
        mapping: role_mappings(mapping, &table.headers),
        columns: table.headers.clone(),
        statuses: transactions
            .status_values
            .iter()
            .map(|(raw, status, count)| StatusValue {
                raw: raw.clone(),
                status: *status,
                count: *count,
            })
            .collect(),
        currencies: transactions.currencies.clone(),
        currency: transactions.money_currency.clone(),
        by_currency: by_currency.clone(),
        quality,
        joins: frame.joins.clone(),
        derived: frame.derived.clone(),
        lookups: dataset
            .lookups
            .iter()
            .map(|t| LookupQuality {
                quality: Quality::of_table(t),
                columns: t.headers.clone(),
            })
            .collect(),
        suggested_joins: frame
            .suggested_joins
            .get_or_init(|| dataset.suggested_joins(&options.joins))
            .clone(),
    })
}

/// Each role with the column (by name in `headers`) it reads, as a report gives the mapping.
pub(crate) fn role_mappings(mapping: &Mapping, headers: &[String]) -> Vec<RoleMapping> {
    Role::ALL
        .into_iter()
        .map(|role| RoleMapping {
            role: role.id(),
            column: mapping.column(role).map(|c| headers[c].clone()),
            source: mapping.source(role),
        })
        .collect()
}

/// The columns of `headers` that no role reads.
pub(crate) fn unmapped_columns(mapping: &Mapping, headers: &[String]) -> Vec<String> {
    (0..headers.len())
        .filter(|&c| !mapping.uses(c))
        .map(|c| headers[c].clone())
        .collect()
}

/// Warns of a series not drawn (`no_series`) and of status values not recognised.
pub(crate) fn add_view_warnings(
    warnings: &mut Vec<String>,
    no_series: bool,
    statuses: &[(String, Status, u64)],
) {
    if no_series {
        warnings.push(
            "the dates span more than a century, so no time series is drawn; check created_at"
                .to_string(),
        );
    }
    let unknown: Vec<&str> = statuses
        .iter()
        .filter(|(_, status, _)| *status == Status::Unknown)
        .map(|(raw, _, _)| raw.as_str())
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!(
            "status values not recognised (counted as attempts, not as successes or failures): {}",
            unknown.join(", ")
        ));
    }
}

/// The activation funnel and cohort retention: they follow payers across every date (after the
/// column filters: `payers` are those of the filtered rows), and read signups from a users file
/// when one is loaded.
fn cohorts(
    dataset: &Dataset,
    frame: &Frame,
    payers: Option<&Payers>,
    range: Option<(i64, i64)>,
    options: &Options,
) -> (Option<Funnel>, Option<Retention>, Vec<String>) {
    let transactions = &frame.typed.transactions;
    let (Some(payers), Some(_), Some(span), Some(range)) = (
        payers,
        transactions.status.as_deref(),
        frame.calendar.span,
        range,
    ) else {
        return (None, None, Vec::new());
    };
    let signups = frame.signups(dataset);
    cohorts_of(&payers.by_user, signups, span, range, options)
}

/// The funnel and retention of the payments grouped by payer `by_user`, with the users file's
/// `signups`, over the data's days `(first_day, last_day)` and the view's `range`; and the
/// warnings about the users file. (Both the in-memory and the streamed report call it.)
pub(crate) fn cohorts_of(
    by_user: &PaymentsByUser,
    signups: Option<&Signups>,
    (first_day, last_day): (i64, i64),
    range: (i64, i64),
    options: &Options,
) -> (Option<Funnel>, Option<Retention>, Vec<String>) {
    let mut warnings = signups.map(|s| s.warnings.clone()).unwrap_or_default();
    let signup_list = signups.map(|s| s.signups.as_slice());
    let funnel = funnel_of(
        by_user,
        signup_list,
        signups.is_some_and(|s| s.funded),
        options.funnel_days(),
        last_day,
        range,
    );
    if options.cohort == Some(CohortBasis::Signup) && signups.is_none() {
        warnings.push(
            "cohorts by signup need a users file with a signup date; showing cohorts by first payment"
                .to_string(),
        );
    }
    let retention_signups = match options.cohort {
        Some(CohortBasis::FirstPayment) => None,
        _ => signup_list,
    };
    let retention = retention_of(
        by_user,
        retention_signups,
        options.week_start,
        first_day,
        last_day,
        range,
    );
    (Some(funnel), Some(retention), warnings)
}

/// How many values a segmentation lists before grouping the rest as "(other)".
pub(crate) const SEGMENT_VALUES: usize = 10;

/// The column of the prepared table called `name`, or an error listing the columns.
pub(crate) fn column_named(table: &RawTable, name: &str, purpose: &str) -> Result<usize> {
    table.column_index(name).ok_or_else(|| {
        Error::new(ErrorKind::InvalidOption(format!(
            "cannot {purpose} {name:?}: no such column; columns are {}",
            table.headers.join(", ")
        )))
    })
}

/// `YYYY-MM-DD` .. `YYYY-MM-DD` as local day numbers.
pub(crate) fn parse_range(range: &DateRange) -> Result<(i64, i64)> {
    let day = |text: &str| {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(|date| (date - date_of_day(0)).num_days())
            .map_err(|_| {
                Error::new(ErrorKind::InvalidOption(format!(
                    "the date {text:?} is not a date like 2025-09-30"
                )))
            })
    };
    let (from, to) = (day(&range.from)?, day(&range.to)?);
    if from > to {
        return Err(Error::new(ErrorKind::InvalidOption(format!(
            "the range starts ({}) after it ends ({})",
            range.from, range.to
        ))));
    }
    Ok((from, to))
}

/// Which transactions pass every filter.
pub(crate) fn filter_mask(
    dataset: &Dataset,
    frame: &Frame,
    filters: &[Filter],
) -> Result<Vec<bool>> {
    let table = frame.table(dataset);
    let mut mask = vec![true; frame.typed.transactions.len];
    for filter in filters {
        let column = column_named(table, &filter.column, "filter on")?;
        let coded = frame.coded(dataset, column);
        // Whether each distinct value is listed: one lookup per value, not per row.
        let wanted: HashSet<&str> = filter.values.iter().map(|v| v.trim()).collect();
        let listed: Vec<bool> = coded
            .values
            .iter()
            .map(|v| wanted.contains(v.as_str()))
            .collect();
        let mut keep = mask.iter_mut();
        coded.codes.for_each(|code| {
            if let Some(keep) = keep.next() {
                *keep &= listed[code as usize] != filter.exclude;
            }
        });
    }
    Ok(mask)
}

/// The UTC offset written most often in the data, if any time carries one. A file holds few
/// distinct offsets, mostly in runs: each time is compared with the last offset seen, and the
/// offsets (sorted) are searched only when it changes, with no hashing per row.
fn most_common_offset(times: &[Timestamp]) -> Option<Zone> {
    let mut counts: Vec<(i32, u64)> = Vec::new();
    let mut last = usize::MAX;
    for t in times {
        if let Timestamp::WithOffset { offset_seconds, .. } = *t {
            if counts
                .get(last)
                .is_none_or(|&(offset, _)| offset != offset_seconds)
            {
                last = match counts.binary_search_by_key(&offset_seconds, |&(offset, _)| offset) {
                    Ok(index) => index,
                    Err(index) => {
                        counts.insert(index, (offset_seconds, 0));
                        index
                    }
                };
            }
            counts[last].1 += 1;
        }
    }
    // Of two offsets as common and as far from UTC (+01:00 and -01:00), the positive one.
    let (offset, _) = counts
        .into_iter()
        .max_by_key(|&(offset, count)| (count, -offset.abs()))?;
    Zone::fixed(offset)
}

/// What each custom metric definition would give on the frame's table, without computing it:
/// the page checks a definition as it is typed.
pub fn check_custom_metrics(
    dataset: &Dataset,
    frame: &Frame,
    definitions: &[String],
) -> Vec<CustomOutcome> {
    check_definitions(frame.table(dataset), &frame.mapping, definitions)
}

/// What each custom metric definition would give on a table of `table`'s columns mapped by
/// `mapping` (its rows are not read).
pub(crate) fn check_definitions(
    table: &RawTable,
    mapping: &Mapping,
    definitions: &[String],
) -> Vec<CustomOutcome> {
    let decimals = decimal_cells(table);
    let formulas = FormulaTable::new(table, mapping, None, &decimals);
    // Numbers are not read: the compiler only needs a reader to hold.
    let read_number = |_: usize, _: &str| -> Option<f64> { None };
    parse_all(definitions, &formulas, mapping)
        .into_iter()
        .zip(definitions)
        .map(|(parsed, definition)| {
            let error = match &parsed {
                Ok(metric) => metric.check(&formulas.names, &read_number).err(),
                Err(error) => Some(error.clone()),
            };
            CustomOutcome {
                definition: definition.clone(),
                id: parsed.as_ref().ok().map(|m| m.id.clone()),
                formula: parsed.as_ref().ok().map(|m| m.formula.clone()),
                error: error.as_ref().map(FormulaError::of),
            }
        })
        .collect()
}

/// The rows custom metrics are computed over: the filtered rows in day order, the period, the
/// previous period, the buckets, and each segment's rows.
struct CustomRows<'a> {
    calendar: &'a Calendar,
    filtered: &'a [u32],
    range: Option<(i64, i64)>,
    previous: Option<(i64, i64)>,
    grain: Grain,
    week_start: WeekStart,
    by_segment: &'a [Vec<u32>],
}

/// Where the custom metrics' values go: next to the catalog's everywhere.
pub(crate) struct CustomPlaces<'a> {
    pub metrics: &'a mut Vec<MetricValue>,
    pub series: &'a mut [SeriesPoint],
    pub previous_totals: &'a mut Values,
    pub segments: Option<&'a mut Segments>,
    pub mixed_note: Option<&'a str>,
}

/// Custom metric definitions, parsed: each one's outcome so far (`errors`), and which of them
/// compiled against the table.
pub(crate) struct CustomParsed {
    pub parsed: Vec<std::result::Result<CustomMetric, ParseError>>,
    pub errors: Vec<Option<ParseError>>,
    /// The definitions (indices) that parsed and compiled, in order: the evaluator's metrics.
    pub valid: Vec<usize>,
}

impl CustomParsed {
    pub fn parse(definitions: &[String], formulas: &FormulaTable, mapping: &Mapping) -> Self {
        let parsed = parse_all(definitions, formulas, mapping);
        let errors = parsed.iter().map(|p| p.as_ref().err().cloned()).collect();
        CustomParsed {
            parsed,
            errors,
            valid: Vec::new(),
        }
    }

    /// Compiles the metrics that parsed against the table. Compiling can fail for one metric
    /// (an unknown column): it is left out (its error kept) and the others compiled again.
    pub fn compile<'f, 'r>(
        &mut self,
        formulas: &'f FormulaTable<'f>,
        read_number: &'r crate::expr::NumberReader<'r>,
        table_rows: &'f [u32],
        codes: &dyn Fn(usize) -> (&'f Codes, usize),
    ) -> Evaluator<'f, 'r> {
        loop {
            self.valid = (0..self.parsed.len())
                .filter(|&index| self.errors[index].is_none() && self.parsed[index].is_ok())
                .collect();
            match Evaluator::new(&self.metrics(), formulas, read_number, table_rows, codes) {
                Ok(evaluator) => return evaluator,
                Err((failed, error)) => self.errors[self.valid[failed]] = Some(error),
            }
        }
    }

    /// The valid metrics, in the evaluator's order.
    pub fn metrics(&self) -> Vec<&CustomMetric> {
        (self.valid.iter())
            .filter_map(|&index| self.parsed[index].as_ref().ok())
            .collect()
    }
}

/// The custom metrics' aggregates in each place of the report: the period (and its buckets),
/// the previous period, each segment (and its buckets).
pub(crate) struct CustomTallies {
    pub period: Tallies,
    pub previous: Option<Tallies>,
    pub segments: Vec<Tallies>,
}

/// Computes the custom metrics of `definitions` and adds their values to the report's places;
/// a definition that does not parse or fit the table gets its error instead.
fn custom_metrics<'f>(
    definitions: &[String],
    formulas: &'f FormulaTable<'f>,
    table_rows: &'f [u32],
    codes: &dyn Fn(usize) -> (&'f Codes, usize),
    mapping: &Mapping,
    rows: CustomRows,
    places: CustomPlaces,
) -> Vec<CustomOutcome> {
    let mut parsed = CustomParsed::parse(definitions, formulas, mapping);
    let read_number = |column: usize, text: &str| formulas.read_number(column, text);
    let mut evaluator = parsed.compile(formulas, &read_number, table_rows, codes);
    let calendar = rows.calendar;
    let has_days = !calendar.day.is_empty();
    let in_range = |order: &'_ [u32], range: Option<(i64, i64)>| -> Vec<u32> {
        match range {
            Some(range) if has_days => calendar.within(order, range).to_vec(),
            _ => order.to_vec(),
        }
    };
    // The buckets of the series, as the engine made them.
    let table = match (rows.range, places.series.is_empty()) {
        (Some(range), false) if has_days => bucket_table(range, rows.grain, rows.week_start)
            .filter(|(starts, _, _)| starts.len() == places.series.len()),
        _ => None,
    };
    let bucket_count = table.as_ref().map_or(0, |(starts, _, _)| starts.len());
    let bucket_of = |row: u32| -> Option<usize> {
        let (_, first, days) = table.as_ref()?;
        let index = usize::try_from(i64::from(calendar.day[row as usize]) - first).ok()?;
        days.get(index).map(|&b| b as usize)
    };
    let tallies = CustomTallies {
        period: evaluator.tally(
            &in_range(rows.filtered, rows.range),
            &bucket_of,
            bucket_count,
        ),
        previous: rows
            .previous
            .map(|range| evaluator.tally(&in_range(rows.filtered, Some(range)), &|_| None, 0)),
        segments: (rows.by_segment.iter())
            .map(|order| evaluator.tally(&in_range(order, rows.range), &bucket_of, bucket_count))
            .collect(),
    };
    place_custom_metrics(definitions, &parsed, tallies, places)
}

/// Adds the custom metrics' values, from their aggregates' (`tallies`), to the report's places;
/// each definition's outcome.
pub(crate) fn place_custom_metrics(
    definitions: &[String],
    parsed: &CustomParsed,
    tallies: CustomTallies,
    places: CustomPlaces,
) -> Vec<CustomOutcome> {
    let valid = parsed.metrics();
    let values_into = |into: &mut Values, tallies: &Tallies, aggregates: &[Option<f64>]| {
        for (index, metric) in valid.iter().enumerate() {
            let value = {
                let catalog = |id: &'static str| into.get(id).copied().flatten();
                metric.value(tallies.of(aggregates, index), &catalog)
            };
            into.insert(Cow::Owned(metric.id.clone()), value);
        }
    };

    // The period and its buckets.
    let period = &tallies.period;
    let mut totals = Values::new();
    for metric in places.metrics.iter() {
        totals.insert(metric.id.clone(), metric.value);
    }
    values_into(&mut totals, period, &period.totals);
    for (point, aggregates) in places.series.iter_mut().zip(&period.buckets) {
        values_into(&mut point.values, period, aggregates);
    }
    // The previous period.
    if let Some(before) = &tallies.previous {
        values_into(places.previous_totals, before, &before.totals);
    }
    // Each segment.
    if let Some(segments) = places.segments {
        for (segment, part) in segments.values.iter_mut().zip(&tallies.segments) {
            values_into(&mut segment.totals, part, &part.totals);
            for (point, aggregates) in segment.series.iter_mut().zip(&part.buckets) {
                values_into(&mut point.values, part, aggregates);
            }
        }
    }
    for metric in &valid {
        let value = totals.get(metric.id.as_str()).copied().flatten();
        let before = places
            .previous_totals
            .get(metric.id.as_str())
            .copied()
            .flatten();
        places.metrics.push(MetricValue {
            id: Cow::Owned(metric.id.clone()),
            name: Cow::Owned(metric.id.clone()),
            tier: Tier::Custom,
            stakeholders: &[],
            good: Good::Neutral,
            unit: metric.unit,
            description: Cow::Owned(format!("Custom metric: {}", metric.formula)),
            value,
            previous: before,
            change: match (value, before) {
                (Some(now), Some(then)) if then != 0.0 => Some((now - then) / then.abs()),
                _ => None,
            },
            thresholds: &[],
            needs: Vec::new(),
            note: (metric.unit == Unit::Currency)
                .then_some(places.mixed_note)
                .flatten()
                .map(|_| {
                    "amounts are read as written: mixed currencies are not converted".to_string()
                }),
        });
    }
    definitions
        .iter()
        .zip(parsed.parsed.iter().zip(&parsed.errors))
        .map(|(definition, (parsed, error))| CustomOutcome {
            definition: definition.clone(),
            id: parsed.as_ref().ok().map(|m| m.id.clone()),
            formula: parsed.as_ref().ok().map(|m| m.formula.clone()),
            error: error.as_ref().map(FormulaError::of),
        })
        .collect()
}

/// Formats a metric value for people: thousands separators, two decimals for money, % for rates.
pub fn format_value(value: Option<f64>, unit: Unit) -> String {
    let Some(value) = value else {
        return "—".to_string();
    };
    match unit {
        Unit::Count if value.fract() == 0.0 => group_thousands(&format!("{value:.0}")),
        Unit::Count => group_thousands(&format!("{value:.2}")),
        Unit::Currency => group_thousands(&format!("{value:.2}")),
        Unit::Ratio => format!("{:.2}%", value * 100.0),
        Unit::Bps => format!("{value:.1} bps"),
        Unit::Hours => format!("{value:.1} h"),
        Unit::Milliseconds => format!("{} ms", group_thousands(&format!("{value:.0}"))),
        Unit::Index => group_thousands(&format!("{value:.0}")),
        Unit::Number if value.fract() == 0.0 => group_thousands(&format!("{value:.0}")),
        Unit::Number => group_thousands(&format!("{value:.4}")),
    }
}

fn group_thousands(number: &str) -> String {
    let (sign, digits) = match number.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", number),
    };
    let (whole, fraction) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// The metrics the text report's series table shows.
const TEXT_SERIES_METRICS: [&str; 8] = [
    "tpv",
    "txn_count",
    "success_rate",
    "active_payers",
    "new_payers",
    "avg_ticket",
    "refund_rate",
    "dispute_rate_bps",
];

/// How many time buckets the text report prints: a screenful, the most recent ones.
const TEXT_SERIES_ROWS: usize = 60;

/// The report as a readable text table for a terminal.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let q = &report.quality;
    let _ = writeln!(
        out,
        "{}  ({}, delimiter \"{}\", header on line {})",
        report.file, q.encoding, q.delimiter, q.header_line
    );
    let _ = writeln!(
        out,
        "rows: {} read, {} loaded, {} skipped   time zone {}   grain {}",
        q.rows_read,
        q.rows_loaded,
        q.rows_skipped,
        report.tz,
        report.grain.name()
    );
    let _ = writeln!(out, "\nmapping");
    for m in &report.mapping {
        let column = m.column.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  {:<15} <- {}", m.role, column);
    }
    let currency = report
        .currency
        .as_ref()
        .map_or(String::new(), |code| format!(" {code}"));
    if let (Some(range), Some(previous)) = (&report.range, &report.previous) {
        let _ = writeln!(
            out,
            "\nperiod {} to {}, compared with {} to {}",
            range.from, range.to, previous.from, previous.to
        );
    }
    let mut tier = None;
    for m in &report.metrics {
        if tier != Some(m.tier) {
            tier = Some(m.tier);
            let _ = writeln!(out, "\n{}", m.tier.title().to_lowercase());
        }
        let value = if let (Some(note), None) = (&m.note, m.value) {
            note.split(':').next().unwrap_or(note).to_string()
        } else if m.needs.is_empty() {
            let unit = if m.unit == Unit::Currency {
                currency.as_str()
            } else {
                ""
            };
            format!("{}{unit}", format_value(m.value, m.unit))
        } else {
            format!("needs column {}", m.needs.join(", "))
        };
        let change = match (m.previous, m.change) {
            (Some(previous), Some(change)) => format!(
                "{:+.1}% vs {}",
                change * 100.0,
                format_value(Some(previous), m.unit)
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<28} {:>22}  {:<26} {}",
            m.name, value, change, m.description
        );
    }
    // Custom metrics that could not be computed, with the reason.
    let refused: Vec<&CustomOutcome> = report.custom.iter().filter(|c| c.error.is_some()).collect();
    if !refused.is_empty() {
        let _ = writeln!(out, "\ncustom metrics not computed");
        for outcome in refused {
            if let Some(error) = &outcome.error {
                let _ = writeln!(out, "  {}\n    {}", outcome.definition, error.message);
            }
        }
    }
    for part in &report.by_currency {
        let _ = writeln!(out, "\nin {}", part.currency);
        for m in report.metrics.iter().filter(|m| m.unit == Unit::Currency) {
            let value = part.totals.get(&*m.id).copied().flatten();
            let _ = writeln!(out, "  {:<15} {:>22}", m.name, format_value(value, m.unit));
        }
    }
    if !report.series.is_empty() {
        let shown = report.series.len().min(TEXT_SERIES_ROWS);
        let _ = writeln!(out, "\nby {}", report.grain.name());
        if shown < report.series.len() {
            let _ = writeln!(
                out,
                "  (the last {shown} of {} buckets; use a coarser --grain or --json for all)",
                report.series.len()
            );
        }
        // A terminal is not wide enough for every metric: the JSON has them all.
        let columns: Vec<&MetricValue> = report
            .metrics
            .iter()
            .filter(|m| TEXT_SERIES_METRICS.contains(&&*m.id))
            .collect();
        let _ = write!(out, "  {:<10}", "bucket");
        for m in &columns {
            let _ = write!(out, " {:>14}", m.id);
        }
        let _ = writeln!(out);
        for point in &report.series[report.series.len() - shown..] {
            let _ = write!(out, "  {:<10}", point.bucket);
            for m in &columns {
                let value = point.values.get(&*m.id).copied().flatten();
                let _ = write!(out, " {:>14}", format_value(value, m.unit));
            }
            let _ = writeln!(out);
        }
    }
    if !report.joins.is_empty() {
        let _ = writeln!(out, "\njoins");
        for j in &report.joins {
            let key = if j.key == j.on {
                j.on.clone()
            } else {
                format!("{} = {}", j.on, j.key)
            };
            let _ = write!(
                out,
                "  {} on {key}: {} matched, {} not found, {} with no key",
                j.file, j.matched, j.unmatched, j.empty_keys
            );
            if let Some((value, line)) = j.unmatched_examples.first() {
                let _ = write!(out, " (first not found: {value:?} at line {line})");
            }
            let _ = writeln!(out);
            if j.duplicate_keys > 0 {
                let _ = writeln!(
                    out,
                    "    {} repeated keys in {}: the first row of each is used",
                    j.duplicate_keys, j.file
                );
            }
        }
    }
    let skipped_lines = q.lines_skipped.iter().chain(&q.skipped);
    if skipped_lines.clone().next().is_some() || !q.warnings.is_empty() {
        let _ = writeln!(out, "\ndata quality");
        for group in &q.lines_skipped {
            let lines: Vec<String> = group.examples.iter().map(|e| e.line.to_string()).collect();
            let more = if group.count as usize > lines.len() {
                ", ..."
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  skipped {} line(s), {}: lines {}{more}",
                group.count,
                group.reason,
                lines.join(", ")
            );
        }
        for group in &q.skipped {
            let _ = writeln!(out, "  skipped {} row(s): {}", group.count, group.reason);
            for example in &group.examples {
                let _ = writeln!(out, "    {}", example.message);
            }
        }
        for warning in &q.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_for_people() {
        assert_eq!(
            format_value(Some(1234567.891), Unit::Currency),
            "1,234,567.89"
        );
        assert_eq!(format_value(Some(-1234.5), Unit::Currency), "-1,234.50");
        assert_eq!(format_value(Some(999.0), Unit::Count), "999");
        assert_eq!(format_value(Some(0.9012), Unit::Ratio), "90.12%");
        assert_eq!(format_value(None, Unit::Ratio), "—");
    }
}
