//! SQL export: every catalog metric as SQL in the DuckDB, Spark SQL or BigQuery dialect, for the
//! view of a report (grain, time zone, week start, range, filters, segment, thresholds), over a
//! table `transactions` whose columns are the user's own. Teams that outgrow one machine run the
//! same definitions on their warehouse; `tests/oracle/sql_check.py` runs the DuckDB script on the
//! CSV and compares it with the core's report, value by value.
//!
//! The script is text, built from what the report resolved (the role → column mapping, the raw
//! status values and their normal forms, the reporting time zone): the SQL does not re-guess any
//! of it. Everything that differs between dialects is in `impl Dialect`.
//!
//! The shape (also in docs/sql.md): one statement per level, each preceded by a line
//! `-- paymetrics: <level>`: `totals` (one row), `series` (one row per time bucket), and with a
//! segment `segment_totals` and `segment_series` (the same per segment value). Each row has its
//! keys then one column per computable metric, named by its id, in catalog order.
use crate::error::{Error, ErrorKind, Result};
use crate::expr::{BinaryOp, Expr, ExprKind, UnaryOp};
use crate::metrics::CATALOG;
use crate::options::Options;
use crate::report::{analyze, Report};
use crate::schema::{Role, Status};
use crate::time::{Grain, WeekStart, Zone};
use crate::Dataset;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The SQL dialects the export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    Spark,
    BigQuery,
}

/// The reporting time zone as the SQL needs it: DuckDB knows zone names but not bare offsets, so
/// a fixed offset is applied by arithmetic there.
#[derive(Debug, Clone, PartialEq)]
enum ZoneSql {
    /// Seconds east of UTC.
    Fixed(i32),
    Named(String),
}

impl ZoneSql {
    fn of(tz: &str) -> Result<ZoneSql> {
        let zone = Zone::parse(tz).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOption(format!(
                "time zone {tz:?} is neither a UTC offset nor a zone name"
            )))
        })?;
        Ok(match (zone.fixed_offset_seconds(), zone.name()) {
            (Some(seconds), _) => ZoneSql::Fixed(seconds),
            (None, Some(name)) => ZoneSql::Named(name.to_string()),
            (None, None) => ZoneSql::Fixed(0),
        })
    }

    /// `+08:00`: the form Spark and BigQuery accept as a zone.
    fn offset_text(seconds: i32) -> String {
        let sign = if seconds < 0 { '-' } else { '+' };
        let abs = seconds.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60)
    }
}

impl Dialect {
    pub fn parse(text: &str) -> Option<Dialect> {
        match text.trim().to_ascii_lowercase().as_str() {
            "duckdb" => Some(Dialect::DuckDb),
            "spark" | "sparksql" | "spark-sql" => Some(Dialect::Spark),
            "bigquery" | "bq" => Some(Dialect::BigQuery),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dialect::DuckDb => "DuckDB",
            Dialect::Spark => "Spark SQL",
            Dialect::BigQuery => "BigQuery",
        }
    }

    /// A quoted identifier: double quotes in DuckDB, backticks in Spark and BigQuery.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            Dialect::BigQuery => format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`")),
        }
    }

    /// A string literal. DuckDB strings are standard SQL (only `'` is doubled); Spark and
    /// BigQuery read backslash escapes in them, so backslashes and quotes are escaped.
    pub fn string(self, text: &str) -> String {
        match self {
            Dialect::DuckDb => format!("'{}'", text.replace('\'', "''")),
            Dialect::Spark | Dialect::BigQuery => {
                let mut out = String::from("'");
                for c in text.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\'' => out.push_str("\\'"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        _ => out.push(c),
                    }
                }
                out.push('\'');
                out
            }
        }
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::DuckDb => "VARCHAR",
            Dialect::Spark | Dialect::BigQuery => "STRING",
        }
    }

    fn double_type(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Spark => "DOUBLE",
            Dialect::BigQuery => "FLOAT64",
        }
    }

    fn bool_type(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Spark => "BOOLEAN",
            Dialect::BigQuery => "BOOL",
        }
    }

    fn int_type(self) -> &'static str {
        match self {
            Dialect::DuckDb | Dialect::Spark => "BIGINT",
            Dialect::BigQuery => "INT64",
        }
    }

    /// A cast that gives NULL instead of failing on text that does not read as `ty`.
    fn try_cast(self, expr: &str, ty: &str) -> String {
        match self {
            Dialect::DuckDb => format!("TRY_CAST({expr} AS {ty})"),
            Dialect::Spark => format!("try_cast({expr} AS {ty})"),
            Dialect::BigQuery => format!("SAFE_CAST({expr} AS {ty})"),
        }
    }

    fn to_double(self, expr: &str) -> String {
        format!("CAST({expr} AS {})", self.double_type())
    }

    /// True when `expr` matches the regular expression `pattern` (anchored with ^ and $ by the
    /// caller; patterns use no backslash, so they read the same in every dialect's literals).
    fn matches(self, expr: &str, pattern: &str) -> String {
        let pattern = self.string(pattern);
        match self {
            Dialect::DuckDb => format!("regexp_matches({expr}, {pattern})"),
            Dialect::Spark => format!("({expr} RLIKE {pattern})"),
            Dialect::BigQuery => format!("REGEXP_CONTAINS({expr}, {pattern})"),
        }
    }

    /// The instant of a time cell (`text`: trimmed text). Unix epochs (10 digits: seconds, 13:
    /// milliseconds) and times with an offset or `Z` are absolute; a wall-clock time without
    /// offset is read in the reporting zone, as the core reads it.
    fn instant(self, text: &str, zone: &ZoneSql) -> String {
        let epoch_s = self.matches(text, "^[0-9]{10}$");
        let epoch_ms = self.matches(text, "^[0-9]{13}$");
        let with_offset = self.matches(
            text,
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$",
        );
        let integer = self.try_cast(text, self.int_type());
        let (seconds, millis, absolute, wall) = match self {
            Dialect::DuckDb => {
                let naive = format!("TRY_CAST({text} AS TIMESTAMP)");
                let wall = match zone {
                    ZoneSql::Fixed(off) => {
                        format!("timezone('UTC', {naive} - INTERVAL ({off}) SECOND)")
                    }
                    // A wall-clock time that a daylight-saving change skips or repeats is read
                    // as the core reads it (`Zone::local_to_utc_millis`): with the offset in
                    // force before the change, unless only the offset after it gives back that
                    // wall-clock time. The two offsets are those 14 hours before and after it.
                    ZoneSql::Named(name) => {
                        let zone = self.string(name);
                        let offset_at = |instant: String| {
                            format!("(timezone({zone}, timezone('UTC', {instant})) - {instant})")
                        };
                        let before = format!(
                            "({naive} - {})",
                            offset_at(format!("({naive} - INTERVAL 14 HOUR)"))
                        );
                        let after = format!(
                            "({naive} - {})",
                            offset_at(format!("({naive} + INTERVAL 14 HOUR)"))
                        );
                        let shows = |instant: &str| {
                            format!("timezone({zone}, timezone('UTC', {instant})) = {naive}")
                        };
                        format!(
                            "timezone('UTC', CASE WHEN {} OR NOT {} THEN {before} ELSE {after} END)",
                            shows(&before),
                            shows(&after)
                        )
                    }
                };
                (
                    format!("timezone('UTC', epoch_ms({integer} * 1000))"),
                    format!("timezone('UTC', epoch_ms({integer}))"),
                    format!("TRY_CAST({text} AS TIMESTAMPTZ)"),
                    wall,
                )
            }
            Dialect::Spark => (
                format!("timestamp_seconds({integer})"),
                format!("timestamp_millis({integer})"),
                format!("try_cast({text} AS TIMESTAMP)"),
                // The session time zone is UTC (set at the top of the script), so a wall-clock
                // time cast to TIMESTAMP is that time in UTC, then moved to the reporting zone.
                format!(
                    "to_utc_timestamp(try_cast({text} AS TIMESTAMP), {})",
                    self.zone_literal(zone)
                ),
            ),
            Dialect::BigQuery => (
                format!("TIMESTAMP_SECONDS({integer})"),
                format!("TIMESTAMP_MILLIS({integer})"),
                format!("SAFE_CAST({text} AS TIMESTAMP)"),
                format!(
                    "TIMESTAMP(SAFE_CAST({text} AS DATETIME), {})",
                    self.zone_literal(zone)
                ),
            ),
        };
        format!(
            "CASE WHEN {epoch_s} THEN {seconds} WHEN {epoch_ms} THEN {millis} \
             WHEN {with_offset} THEN {absolute} ELSE {wall} END"
        )
    }

    /// The zone as a string literal, for Spark and BigQuery (which accept `+08:00`).
    fn zone_literal(self, zone: &ZoneSql) -> String {
        match zone {
            ZoneSql::Fixed(seconds) => self.string(&ZoneSql::offset_text(*seconds)),
            ZoneSql::Named(name) => self.string(name),
        }
    }

    /// The local date of an instant in the reporting zone.
    fn local_date(self, instant: &str, zone: &ZoneSql) -> String {
        match (self, zone) {
            (Dialect::DuckDb, ZoneSql::Fixed(off)) => {
                format!("CAST(timezone('UTC', {instant}) + INTERVAL ({off}) SECOND AS DATE)")
            }
            (Dialect::DuckDb, ZoneSql::Named(name)) => {
                format!("CAST(timezone({}, {instant}) AS DATE)", self.string(name))
            }
            (Dialect::Spark, zone) => format!(
                "to_date(from_utc_timestamp({instant}, {}))",
                self.zone_literal(zone)
            ),
            (Dialect::BigQuery, zone) => {
                format!("DATE({instant}, {})", self.zone_literal(zone))
            }
        }
    }

    /// Milliseconds since the Unix epoch of an instant (an integer: durations compare exactly).
    fn epoch_ms(self, instant: &str) -> String {
        match self {
            Dialect::DuckDb => format!("epoch_ms({instant})"),
            Dialect::Spark => format!("unix_millis({instant})"),
            Dialect::BigQuery => format!("UNIX_MILLIS({instant})"),
        }
    }

    /// `date` plus `days` days.
    fn add_days(self, date: &str, days: i64) -> String {
        let n = days.unsigned_abs();
        match (self, days < 0) {
            (Dialect::DuckDb, false) => format!("({date} + {n})"),
            (Dialect::DuckDb, true) => format!("({date} - {n})"),
            (Dialect::Spark, false) => format!("date_add({date}, {n})"),
            (Dialect::Spark, true) => format!("date_sub({date}, {n})"),
            (Dialect::BigQuery, false) => format!("DATE_ADD({date}, INTERVAL {n} DAY)"),
            (Dialect::BigQuery, true) => format!("DATE_SUB({date}, INTERVAL {n} DAY)"),
        }
    }

    fn date_literal(self, date: &str) -> String {
        format!("DATE {}", self.string(date))
    }

    /// The first day of the bucket holding `date`.
    fn bucket_start(self, date: &str, grain: Grain, week_start: WeekStart) -> String {
        match (self, grain) {
            (_, Grain::Day) => date.to_string(),
            (Dialect::DuckDb, Grain::Week) => match week_start {
                // date_trunc('week') starts weeks on Monday: a Sunday start is the Monday
                // week of the next day, one day earlier.
                WeekStart::Monday => format!("CAST(date_trunc('week', {date}) AS DATE)"),
                WeekStart::Sunday => {
                    format!("(CAST(date_trunc('week', {date} + 1) AS DATE) - 1)")
                }
            },
            (Dialect::DuckDb, Grain::Month) => format!("CAST(date_trunc('month', {date}) AS DATE)"),
            (Dialect::Spark, Grain::Week) => match week_start {
                WeekStart::Monday => format!("to_date(date_trunc('WEEK', {date}))"),
                WeekStart::Sunday => {
                    format!("date_sub(to_date(date_trunc('WEEK', date_add({date}, 1))), 1)")
                }
            },
            (Dialect::Spark, Grain::Month) => format!("trunc({date}, 'MM')"),
            (Dialect::BigQuery, Grain::Week) => match week_start {
                WeekStart::Monday => format!("DATE_TRUNC({date}, WEEK(MONDAY))"),
                WeekStart::Sunday => format!("DATE_TRUNC({date}, WEEK(SUNDAY))"),
            },
            (Dialect::BigQuery, Grain::Month) => format!("DATE_TRUNC({date}, MONTH)"),
        }
    }

    /// A bucket's label, as the report writes it: `2025-07-01` (days, weeks), `2025-07` (months).
    fn bucket_label(self, start: &str, grain: Grain) -> String {
        match (self, grain) {
            (Dialect::DuckDb, Grain::Month) => format!("strftime({start}, '%Y-%m')"),
            (Dialect::Spark, Grain::Month) => format!("date_format({start}, 'yyyy-MM')"),
            (Dialect::BigQuery, Grain::Month) => format!("FORMAT_DATE('%Y-%m', {start})"),
            _ => format!("CAST({start} AS {})", self.text_type()),
        }
    }

    /// A query of one column `day`: every date from `from` to `to` (columns of `source`).
    fn day_spine(self, source: &str, from: &str, to: &str) -> String {
        match self {
            Dialect::DuckDb => format!(
                "SELECT CAST(unnest(generate_series({from}, {to}, INTERVAL 1 DAY)) AS DATE) AS day FROM {source}"
            ),
            Dialect::Spark => {
                format!("SELECT explode(sequence({from}, {to}, INTERVAL 1 DAY)) AS day FROM {source}")
            }
            Dialect::BigQuery => {
                format!("SELECT day FROM {source}, UNNEST(GENERATE_DATE_ARRAY({from}, {to})) AS day")
            }
        }
    }

    /// A query giving, per `g, pk` of `source`, the exact percentiles `(name, expr, q)`,
    /// interpolated linearly (DuckDB's quantile_cont, Spark's percentile; BigQuery has
    /// PERCENTILE_CONT only as an analytic function, so it is taken once per partition).
    fn percentiles(self, source: &str, specs: &[(&str, String, f64)]) -> String {
        match self {
            Dialect::DuckDb | Dialect::Spark => {
                let function = match self {
                    Dialect::DuckDb => "quantile_cont",
                    _ => "percentile",
                };
                let columns: Vec<String> = specs
                    .iter()
                    .map(|(name, expr, q)| format!("{function}({expr}, {q}) AS {name}"))
                    .collect();
                format!(
                    "SELECT g, pk, {} FROM {source} GROUP BY g, pk",
                    columns.join(", ")
                )
            }
            Dialect::BigQuery => {
                let inner: Vec<String> = specs
                    .iter()
                    .map(|(name, expr, q)| {
                        format!("PERCENTILE_CONT({expr}, {q}) OVER (PARTITION BY g, pk) AS {name}")
                    })
                    .collect();
                let outer: Vec<String> = specs
                    .iter()
                    .map(|(name, _, _)| format!("ANY_VALUE({name}) AS {name}"))
                    .collect();
                format!(
                    "SELECT g, pk, {} FROM (SELECT g, pk, {} FROM {source}) AS x GROUP BY g, pk",
                    outer.join(", "),
                    inner.join(", ")
                )
            }
        }
    }
}

/// `numerator / denominator`, NULL unless the denominator is above 0 (as the catalog's `ratio`).
fn ratio(dialect: Dialect, numerator: &str, denominator: &str) -> String {
    format!(
        "CASE WHEN {denominator} > 0 THEN {} / ({denominator}) END",
        dialect.to_double(numerator)
    )
}

/// Each catalog metric's value from the per-period facts of `facts` (see `Script::query`).
fn metric_sql(dialect: Dialect, id: &str) -> Option<String> {
    let r = |n: &str, d: &str| ratio(dialect, n, d);
    Some(match id {
        "tpv" => "success_amount - refund_amount".into(),
        "tpv_gross" => "success_amount".into(),
        "txn_count" => "attempts".into(),
        "success_count" => "successes".into(),
        "success_rate" => r("successes", "successes + failures"),
        "success_rate_volume" => r("success_amount", "success_amount + failure_amount"),
        "active_payers" => "active_payers".into(),
        "dau" => "dau".into(),
        "wau" => "wau".into(),
        "mau" => "mau".into(),
        "stickiness" => r("mean_daily_actives", "mau"),
        "avg_ticket" => r("success_amount", "successes_with_amount"),
        "median_ticket" => "ticket_p50".into(),
        "txns_per_payer" => r("payer_successes", "active_payers"),
        "new_payers" => "new_payers".into(),
        "active_merchants" => "active_merchants".into(),
        "revenue" => "revenue".into(),
        "take_rate" => r("revenue", "success_amount - refund_amount"),
        "arpu" => r("revenue", "active_payers"),
        "new_payer_volume" => "new_payer_amount".into(),
        "returning_payer_volume" => "returning_payer_amount".into(),
        "top10_merchant_share" => r("top10_amount", "success_amount"),
        "merchant_hhi" => "hhi".into(),
        "settlement_p50_h" => "settle_p50".into(),
        "settlement_p95_h" => "settle_p95".into(),
        "latency_p50_ms" => "latency_p50".into(),
        "latency_p95_ms" => "latency_p95".into(),
        "latency_p99_ms" => "latency_p99".into(),
        "refund_rate" => r("refunds", "successes"),
        "refund_rate_volume" => r("refund_amount", "success_amount"),
        "dispute_rate_bps" => r("disputes * 10000", "successes"),
        "disputes_opened" => "disputes_opened".into(),
        "fraud_rate_bps" => r("frauds * 10000", "successes"),
        "fraud_rate_volume_bps" => r("fraud_amount * 10000", "success_amount"),
        "failure_rate" => r("failures", "successes + failures"),
        "settlement_sla_breach" => r("sla_breaches", "sla_judged"),
        "large_txn_count" => "large".into(),
        "kyc_verified_share" => r("kyc_verified_payers", "active_payers"),
        _ => return None,
    })
}

/// The four levels a script can hold.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Level {
    Totals,
    Series,
    SegmentTotals,
    SegmentSeries,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Totals => "totals",
            Level::Series => "series",
            Level::SegmentTotals => "segment_totals",
            Level::SegmentSeries => "segment_series",
        }
    }
    fn series(self) -> bool {
        matches!(self, Level::Series | Level::SegmentSeries)
    }
    fn segmented(self) -> bool {
        matches!(self, Level::SegmentTotals | Level::SegmentSeries)
    }
}

/// Computes the report of `dataset` under `options` (for the mapping, statuses and time zone it
/// resolves) and writes the SQL of its view in `dialect`.
pub fn export_sql(dataset: &Dataset, options: &Options, dialect: Dialect) -> Result<String> {
    let report = analyze(dataset, options)?;
    script(&report, options, dialect)
}

/// The SQL script of a report's view (`report` must have been computed under `options`).
pub fn script(report: &Report, options: &Options, dialect: Dialect) -> Result<String> {
    script_from(&ScriptInput::of(report), options, dialect)
}

/// The SQL script of a view from the parts of its report that the script reads (`input` must come
/// from a report computed under `options`). The page calls this through the speed build's
/// `sqlScript` with the report it shows: no dataset is needed, so the binding is stateless.
pub fn script_from(input: &ScriptInput, options: &Options, dialect: Dialect) -> Result<String> {
    Script::new(input, options, dialect)?.write()
}

/// The parts of a report the script is written from: the file's name, the reporting zone, the
/// role -> column mapping, the file's columns, the raw statuses and their normal forms, the
/// currencies, and what became of each custom metric. Each field has the name and shape it has in
/// a report's JSON (`paymetrics report --json`, the page's report object), and other fields are
/// ignored, so a report's JSON, or just these fields of it, reads as a `ScriptInput`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptInput {
    pub file: String,
    pub tz: String,
    pub mapping: Vec<MappedRole>,
    pub columns: Vec<String>,
    pub statuses: Vec<RawStatus>,
    pub currencies: Vec<String>,
    #[serde(default)]
    pub currency: Option<String>,
    pub custom: Vec<CustomName>,
}

/// A role and the column it is mapped to (`None`: not mapped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappedRole {
    pub role: String,
    #[serde(default)]
    pub column: Option<String>,
}

/// A raw status value of the data and its normal form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawStatus {
    pub raw: String,
    pub status: Status,
}

/// What the core made of a custom metric definition: its id, or why it refused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomName {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub error: Option<CustomRefusal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomRefusal {
    pub message: String,
}

impl ScriptInput {
    pub fn of(report: &Report) -> ScriptInput {
        ScriptInput {
            file: report.file.clone(),
            tz: report.tz.clone(),
            mapping: report
                .mapping
                .iter()
                .map(|m| MappedRole {
                    role: m.role.to_string(),
                    column: m.column.clone(),
                })
                .collect(),
            columns: report.columns.clone(),
            statuses: report
                .statuses
                .iter()
                .map(|s| RawStatus {
                    raw: s.raw.clone(),
                    status: s.status,
                })
                .collect(),
            currencies: report.currencies.clone(),
            currency: report.currency.clone(),
            custom: report
                .custom
                .iter()
                .map(|c| CustomName {
                    id: c.id.clone(),
                    error: c.error.as_ref().map(|e| CustomRefusal {
                        message: e.message.clone(),
                    }),
                })
                .collect(),
        }
    }
}

/// What the script is written from.
struct Script<'a> {
    dialect: Dialect,
    options: &'a Options,
    report: &'a ScriptInput,
    zone: ZoneSql,
    /// The column of each mapped role.
    columns: Vec<(Role, String)>,
    /// The chosen range, as checked dates.
    range: Option<(String, String)>,
    /// The metrics written, and those left out with why.
    included: Vec<&'static str>,
    left_out: Vec<(&'static str, String)>,
    /// The custom metrics (`Options.metrics`) by name: their SQL, or why they are left out.
    custom: Vec<(String, std::result::Result<CustomSql, String>)>,
    /// The table columns the custom metrics read (`x<index>` in `src`).
    custom_columns: Vec<String>,
    /// With exchange rates: the currency money is reported in, and the rate of each other
    /// currency into it.
    conversion: Option<(String, Vec<(String, f64)>)>,
}

impl<'a> Script<'a> {
    fn new(report: &'a ScriptInput, options: &'a Options, dialect: Dialect) -> Result<Script<'a>> {
        let zone = ZoneSql::of(&report.tz)?;
        let columns: Vec<(Role, String)> = report
            .mapping
            .iter()
            .filter_map(|m| {
                let role = Role::ALL.into_iter().find(|r| r.id() == m.role)?;
                Some((role, m.column.clone()?))
            })
            .collect();
        let range = match &options.range {
            Some(range) => {
                let check = |text: &str| {
                    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                        .map(|d| d.format("%Y-%m-%d").to_string())
                        .map_err(|_| {
                            Error::new(ErrorKind::InvalidOption(format!(
                                "{text:?} is not a date like 2025-07-01"
                            )))
                        })
                };
                Some((check(&range.from)?, check(&range.to)?))
            }
            None => None,
        };
        let mapped = |role: Role| columns.iter().any(|(r, _)| *r == role);
        // Amounts in different currencies are never summed: the core then has no value for the
        // money metrics (it gives them per currency), and neither does the script.
        // Money in several currencies: the core converts with the user's rates into
        // `report.currency`, or, without rates, has no value for money metrics (it gives them
        // per currency). The script converts by the currency column; currencies read from signs
        // in the amounts (¥28.16) are not exported.
        let converting = !options.rates.is_empty() && !report.currencies.is_empty();
        let money_out = match (&report.currency, converting) {
            (None, _) if report.currencies.len() > 1 => Some(format!(
                "mixed currencies without exchange rates: {}",
                report.currencies.join(", ")
            )),
            (_, true) if !mapped(Role::Currency) => {
                Some("currencies read from signs in the amounts".to_string())
            }
            _ => None,
        };
        let conversion = match (&report.currency, converting && money_out.is_none()) {
            (Some(target), true) => Some((
                target.clone(),
                options
                    .rates
                    .iter()
                    .filter(|(code, _)| *code != target)
                    .map(|(code, rate)| (code.to_uppercase(), *rate))
                    .collect(),
            )),
            _ => None,
        };
        let mut included = Vec::new();
        let mut left_out = Vec::new();
        for metric in CATALOG {
            let missing: Vec<&str> = metric
                .needs
                .iter()
                .filter(|r| !mapped(**r))
                .map(|r| r.id())
                .collect();
            if !missing.is_empty() {
                left_out.push((metric.id, format!("needs {}", missing.join(", "))));
            } else if let (Some(why), true) = (&money_out, metric.uses_money()) {
                left_out.push((metric.id, why.clone()));
            } else if metric_sql(dialect, metric.id).is_none() {
                left_out.push((metric.id, "no SQL for it yet".to_string()));
            } else {
                included.push(metric.id);
            }
        }
        let mut script = Script {
            dialect,
            options,
            report,
            zone,
            columns,
            range,
            included,
            left_out,
            custom: Vec::new(),
            custom_columns: Vec::new(),
            conversion,
        };
        let mut compiler = CustomCompiler {
            script: &script,
            columns: Vec::new(),
        };
        let custom: Vec<(String, std::result::Result<CustomSql, String>)> = options
            .metrics
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let name = text
                    .split_once('=')
                    .map_or(text.as_str(), |(name, _)| name)
                    .trim()
                    .trim_matches('`')
                    .to_string();
                // The core checked the definition first (the report's `custom`): its message,
                // with the position, says what is wrong; the export adds its own reasons only
                // for definitions the core accepts.
                let refused = report
                    .custom
                    .get(index)
                    .and_then(|outcome| outcome.error.as_ref())
                    .map(|error| error.message.clone());
                let name = report
                    .custom
                    .get(index)
                    .and_then(|outcome| outcome.id.clone())
                    .unwrap_or(name);
                match refused {
                    Some(message) => (name, Err(message)),
                    None => (name, compiler.metric(index, text)),
                }
            })
            .collect();
        let custom_columns = compiler.columns;
        script.custom = custom;
        script.custom_columns = custom_columns;
        Ok(script)
    }

    fn column(&self, role: Role) -> Option<&str> {
        self.columns
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, c)| c.as_str())
    }

    /// The trimmed text of a table column (cast first, so typed columns work too).
    fn text_of(&self, column: &str) -> String {
        let d = self.dialect;
        format!("trim(CAST({} AS {}))", d.ident(column), d.text_type())
    }

    /// The trimmed text of a role's column; `None` when it is not mapped.
    fn text(&self, role: Role) -> Option<String> {
        self.column(role).map(|c| self.text_of(c))
    }

    fn write(&self) -> Result<String> {
        let d = self.dialect;
        let mut out = String::new();
        self.header(&mut out);
        if d == Dialect::Spark {
            // Wall-clock times are read in the reporting zone from UTC (see `Dialect::instant`).
            out.push_str("-- paymetrics: setup\nSET spark.sql.session.timeZone = UTC;\n\n");
        }
        let mut levels = vec![Level::Totals];
        if self.column(Role::CreatedAt).is_some() {
            levels.push(Level::Series);
        }
        if self.options.segment.is_some() {
            levels.push(Level::SegmentTotals);
            if self.column(Role::CreatedAt).is_some() {
                levels.push(Level::SegmentSeries);
            }
        }
        for level in levels {
            let _ = writeln!(out, "-- paymetrics: {}", level.name());
            out.push_str(&self.query(level)?);
            out.push_str(";\n\n");
        }
        Ok(out)
    }

    fn header(&self, out: &mut String) {
        let d = self.dialect;
        let o = self.options;
        let r = self.report;
        let _ = writeln!(
            out,
            "-- Paymetrics metrics in {} SQL, generated by `paymetrics sql` from {}.",
            d.name(),
            r.file
        );
        out.push_str(
            "-- Assumptions: a table `transactions` with the columns named as below (read as text\n\
             -- is fine: every column is cast to text and trimmed, then read); times are Unix epochs\n\
             -- (10 or 13 digits), or ISO 8601 times with an offset or Z, or wall-clock times without\n\
             -- one (read in the reporting zone); numbers are plain (1234.5). A row whose created_at\n\
             -- does not read as a time, or whose amount is not empty and not a number, is left out,\n\
             -- as the report skips it.\n",
        );
        if d == Dialect::Spark {
            out.push_str("-- Spark: the script sets the session time zone to UTC first.\n");
        }
        out.push_str("-- Columns:\n");
        for (role, column) in &self.columns {
            let _ = writeln!(out, "--   {} = {}", role.id(), one_line(column));
        }
        let _ = writeln!(
            out,
            "-- Reporting time zone: {}; grain: {}; weeks start on {}.",
            r.tz,
            o.grain.name(),
            match o.week_start {
                WeekStart::Monday => "Monday",
                WeekStart::Sunday => "Sunday",
            }
        );
        match &self.range {
            Some((from, to)) => {
                let _ = writeln!(out, "-- Period: {from} to {to} (local dates, included).");
            }
            None => out.push_str("-- Period: the local dates of the data (first to last).\n"),
        }
        for filter in &o.filters {
            let _ = writeln!(
                out,
                "-- Filter: {} {} {}.",
                one_line(&filter.column),
                if filter.exclude { "not in" } else { "in" },
                one_line(&filter.values.join(", "))
            );
        }
        if let Some(segment) = &o.segment {
            let _ = writeln!(
                out,
                "-- Segment: {} (its 10 values with the most rows in the period, the rest as (other)).",
                one_line(segment)
            );
        }
        let _ = writeln!(
            out,
            "-- Settlement SLA: {} hours; large amount: {}.",
            o.sla_hours(),
            o.large_amount()
        );
        if let Some((target, rates)) = &self.conversion {
            let rates: Vec<String> = rates
                .iter()
                .map(|(code, rate)| format!("{code} × {rate}"))
                .collect();
            let _ = writeln!(
                out,
                "-- Money in {target}, converted by the currency column: {} (other currencies: no value).",
                rates.join(", ")
            );
        }
        if !o.joins.is_empty() || !o.derive.is_empty() {
            out.push_str(
                "-- Joined and derived columns are taken to be columns of `transactions` already.\n",
            );
        }
        if self.column(Role::Status).is_some() {
            out.push_str(
                "-- Statuses: the raw values of the data and their normal forms (any other value is\n\
                 -- unknown: an attempt, neither successful nor failed):\n",
            );
            for (raw, status) in self.statuses() {
                let _ = writeln!(out, "--   {} -> {}", one_line(&raw), status_name(status));
            }
        }
        for (id, why) in &self.left_out {
            let _ = writeln!(out, "-- Left out: {id} ({why}).");
        }
        for (text, (name, sql)) in self.options.metrics.iter().zip(&self.custom) {
            match sql {
                Ok(_) => {
                    let _ = writeln!(out, "-- Custom metric: {}", one_line(text));
                }
                Err(why) => {
                    let _ = writeln!(
                        out,
                        "-- Left out: custom metric {} ({}).",
                        one_line(name),
                        one_line(why)
                    );
                }
            }
        }
        out.push_str(
            "-- Output: one statement per level, after a line `-- paymetrics: <level>`; one column per\n\
             -- metric id, in the order of the catalog (docs/metrics.md).\n\n",
        );
    }

    /// The raw status values and their normal forms: those of the data, then overrides the user
    /// gave for values not in it.
    fn statuses(&self) -> Vec<(String, Status)> {
        let mut out: Vec<(String, Status)> = self
            .report
            .statuses
            .iter()
            .map(|s| (s.raw.trim().to_string(), s.status))
            .collect();
        for (raw, status) in &self.options.statuses {
            let raw = raw.trim().to_string();
            if !out.iter().any(|(r, _)| *r == raw) {
                out.push((raw, *status));
            }
        }
        out
    }

    /// The filters' condition over `transactions`, `TRUE` without filters.
    fn filter_condition(&self) -> String {
        let d = self.dialect;
        let conditions: Vec<String> = self
            .options
            .filters
            .iter()
            .map(|filter| {
                let values: Vec<String> =
                    filter.values.iter().map(|v| d.string(v.trim())).collect();
                let value = format!("coalesce({}, '')", self.text_of(&filter.column));
                format!(
                    "{value} {}IN ({})",
                    if filter.exclude { "NOT " } else { "" },
                    values.join(", ")
                )
            })
            .collect();
        if conditions.is_empty() {
            "TRUE".to_string()
        } else {
            conditions.join(" AND ")
        }
    }

    /// The rows of `transactions`, typed: the CTEs `src` and `loaded`.
    fn loaded(&self) -> String {
        let d = self.dialect;
        let null_text = format!("CAST(NULL AS {})", d.text_type());
        let null_double = format!("CAST(NULL AS {})", d.double_type());
        let text_or_null = |role: Role| self.text(role).unwrap_or_else(|| null_text.clone());
        let id = |role: Role| match self.text(role) {
            Some(text) => format!("nullif({text}, '')"),
            None => null_text.clone(),
        };
        let status = match self.text(Role::Status) {
            Some(text) => {
                let mut case = String::from("CASE coalesce(");
                case.push_str(&text);
                case.push_str(", '')");
                for (raw, status) in self.statuses() {
                    let _ = write!(
                        case,
                        " WHEN {} THEN '{}'",
                        d.string(&raw),
                        status_name(status)
                    );
                }
                case.push_str(" ELSE 'unknown' END");
                case
            }
            None => "'unknown'".to_string(),
        };
        // Flags and KYC levels as the core reads them (`transactions::parse_flag`,
        // `kyc_verified`).
        let fraud = match self.text(Role::Fraud) {
            Some(text) => format!(
                "coalesce(lower({text}) IN ('1', 'true', 'yes', 'y', 't', 'fraud', '是', '1.0'), FALSE)"
            ),
            None => "FALSE".to_string(),
        };
        let kyc = match self.text(Role::Kyc) {
            Some(text) => format!(
                "coalesce({} > 0 OR lower({text}) IN ('yes', 'y', 'true', 'verified', 'full', '是', '已实名', '已认证'), FALSE)",
                d.try_cast(&text, d.double_type())
            ),
            None => "FALSE".to_string(),
        };
        let segment = match &self.options.segment {
            Some(column) => format!("coalesce({}, '')", self.text_of(column)),
            None => "''".to_string(),
        };
        let number = |role: Role| match self.text(role) {
            Some(text) => d.try_cast(&text, d.double_type()),
            None => null_double.clone(),
        };
        // Amounts and fees converted as the core converts them: a row without a currency keeps
        // its value, one in a currency without a rate has none.
        let money = |role: Role| {
            let value = number(role);
            match (&self.conversion, self.text(Role::Currency)) {
                (Some((target, rates)), Some(currency)) if self.text(role).is_some() => {
                    let mut case = format!(
                        "CASE WHEN nullif({currency}, '') IS NULL OR upper({currency}) = {} THEN {value}",
                        d.string(target)
                    );
                    for (code, rate) in rates {
                        let _ = write!(
                            case,
                            " WHEN upper({currency}) = {} THEN {value} * {}",
                            d.string(code),
                            number_literal(d, *rate)
                        );
                    }
                    case.push_str(" END");
                    case
                }
                _ => value,
            }
        };
        let src = vec![
            format!("{} AS t_created", text_or_null(Role::CreatedAt)),
            format!("{} AS t_settled", text_or_null(Role::SettledAt)),
            format!("{} AS t_disputed", text_or_null(Role::DisputedAt)),
            format!("{} AS t_amount", text_or_null(Role::Amount)),
            format!("{} AS amount_read", number(Role::Amount)),
            format!("{} AS amount", money(Role::Amount)),
            format!("{} AS fee", money(Role::Fee)),
            format!("{} AS latency_ms", number(Role::LatencyMs)),
            format!("{status} AS status"),
            format!("{} AS user_id", id(Role::UserId)),
            format!("{} AS merchant_id", id(Role::MerchantId)),
            format!("{fraud} AS fraud"),
            format!("{kyc} AS kyc"),
            format!("{segment} AS seg_value"),
            format!("{} AS kept", self.filter_condition()),
        ];
        let mut src = src;
        for (index, column) in self.custom_columns.iter().enumerate() {
            src.push(format!("nullif({}, '') AS x{index}", self.text_of(column)));
        }
        let instants = [
            format!("{} AS created_i", d.instant("t_created", &self.zone)),
            format!("{} AS settled_i", d.instant("t_settled", &self.zone)),
            format!("{} AS disputed_i", d.instant("t_disputed", &self.zone)),
        ];
        format!(
            "src AS (\n  SELECT {}\n  FROM transactions\n),\n\
             timed AS (\n  SELECT src.*, {}\n  FROM src\n),\n\
             -- The rows the report keeps: a readable created_at, and an amount that is empty or a number.\n\
             loaded AS (\n  SELECT timed.*,\n    {} AS day,\n    {} AS created_ms,\n    {} AS settled_ms,\n    {} AS disputed_day,\n    \
             status IN ('success', 'refunded', 'disputed') AS succ\n  FROM timed\n  \
             WHERE {}(t_amount IS NULL OR t_amount = '' OR amount_read IS NOT NULL)\n)",
            src.join(",\n    "),
            instants.join(",\n    "),
            d.local_date("created_i", &self.zone),
            d.epoch_ms("created_i"),
            d.epoch_ms("settled_i"),
            d.local_date("disputed_i", &self.zone),
            if self.column(Role::CreatedAt).is_some() {
                "created_i IS NOT NULL AND "
            } else {
                ""
            },
        )
    }

    /// One level's statement.
    fn query(&self, level: Level) -> Result<String> {
        let d = self.dialect;
        let o = self.options;
        let has_time = self.column(Role::CreatedAt).is_some();
        let mut ctes: Vec<String> = vec![self.loaded()];
        let (from, to) = match &self.range {
            Some((from, to)) => (d.date_literal(from), d.date_literal(to)),
            None => ("data_first".to_string(), "data_last".to_string()),
        };
        ctes.push(format!(
            "-- The period (d0..d1), the data's first and last local days, and its last created_at.\n\
             span AS (\n  SELECT {from} AS d0, {to} AS d1, data_first, data_last, data_end_ms\n  \
             FROM (SELECT min(day) AS data_first, max(day) AS data_last, max(created_ms) AS data_end_ms FROM loaded) AS bounds\n)"
        ));
        // f0: the rows the filters keep, on every date; r0: those of the period.
        ctes.push(
            "-- f0: the rows the filters keep, on every date; r0: those of the period.\n\
             f0 AS (SELECT * FROM loaded WHERE kept)"
                .to_string(),
        );
        let in_period = if has_time {
            "f0.day BETWEEN span.d0 AND span.d1"
        } else {
            "TRUE"
        };
        ctes.push(format!(
            "r0 AS (SELECT f0.* FROM f0 CROSS JOIN span WHERE {in_period})"
        ));
        if level.segmented() {
            // The segment's values with the most rows in the period (ties by value), the rest
            // as (other); values without a row in the period are in no segment.
            ctes.push(
                "seg_ranked AS (\n  SELECT v, row_number() OVER (ORDER BY n DESC, v) AS k\n  \
                 FROM (SELECT seg_value AS v, count(*) AS n FROM r0 GROUP BY seg_value) AS counts\n)"
                    .to_string(),
            );
            ctes.push(
                "seg_groups AS (\n  SELECT v, CASE WHEN k <= 10 THEN (CASE WHEN v = '' THEN '(empty)' ELSE v END) ELSE '(other)' END AS g,\n    \
                 CASE WHEN k <= 10 THEN k ELSE 11 END AS k\n  FROM seg_ranked\n)"
                    .to_string(),
            );
            ctes.push("grp AS (SELECT g, min(k) AS k FROM seg_groups GROUP BY g)".to_string());
            ctes.push(
                "f AS (SELECT f0.*, seg_groups.g FROM f0 JOIN seg_groups ON f0.seg_value = seg_groups.v)"
                    .to_string(),
            );
        } else {
            ctes.push("grp AS (SELECT 'all' AS g, 1 AS k)".to_string());
            ctes.push("f AS (SELECT f0.*, 'all' AS g FROM f0)".to_string());
        }
        let in_period = if has_time {
            "f.day BETWEEN span.d0 AND span.d1"
        } else {
            "TRUE"
        };
        ctes.push(format!(
            "r AS (SELECT f.* FROM f CROSS JOIN span WHERE {in_period})"
        ));
        // Periods: `pk` keys them, `ps` is the first day a payer's first payment must be on to be
        // new (the bucket's start, or the range's), `d0`..`d1` their days in the range, `l` the
        // day the trailing windows end on (the last day with data, when the period ends later).
        if level.series() {
            ctes.push(format!("days AS ({})", d.day_spine("span", "d0", "d1")));
            let start = d.bucket_start("day", o.grain, o.week_start);
            ctes.push(format!(
                "buckets AS (SELECT pk, min(day) AS d0, max(day) AS d1 FROM (SELECT {start} AS pk, day FROM days) AS x GROUP BY pk)"
            ));
            ctes.push(
                "periods AS (\n  SELECT grp.g, grp.k, buckets.pk, buckets.pk AS ps, buckets.d0, buckets.d1, LEAST(buckets.d1, span.data_last) AS l\n  \
                 FROM grp CROSS JOIN buckets CROSS JOIN span\n)"
                    .to_string(),
            );
            let row_start = d.bucket_start("r.day", o.grain, o.week_start);
            ctes.push(format!("pr AS (SELECT r.*, {row_start} AS pk FROM r)"));
        } else {
            ctes.push(
                "periods AS (\n  SELECT grp.g, grp.k, 0 AS pk, span.d0 AS ps, span.d0, span.d1, LEAST(span.d1, span.data_last) AS l\n  \
                 FROM grp CROSS JOIN span\n)"
                    .to_string(),
            );
            ctes.push("pr AS (SELECT r.*, 0 AS pk FROM r)".to_string());
        }
        let large = sql_number(o.large_amount());
        // The core compares whole milliseconds (`sla_hours` rounded to the millisecond).
        let sla_ms = (o.sla_hours() * 3_600_000.0).round();
        let sla_ms = sla_number(sla_ms);
        ctes.push(format!(
            "base AS (\n  SELECT g, pk,\n    count(*) AS attempts,\n    \
             count(CASE WHEN succ THEN 1 END) AS successes,\n    \
             count(CASE WHEN status = 'failed' THEN 1 END) AS failures,\n    \
             count(CASE WHEN succ THEN amount END) AS successes_with_amount,\n    \
             sum(CASE WHEN succ THEN amount END) AS success_amount,\n    \
             sum(CASE WHEN status = 'failed' THEN amount END) AS failure_amount,\n    \
             count(CASE WHEN status = 'refunded' THEN 1 END) AS refunds,\n    \
             sum(CASE WHEN status = 'refunded' THEN amount END) AS refund_amount,\n    \
             count(CASE WHEN status = 'disputed' THEN 1 END) AS disputes,\n    \
             count(CASE WHEN succ AND fraud THEN 1 END) AS frauds,\n    \
             sum(CASE WHEN succ AND fraud THEN amount END) AS fraud_amount,\n    \
             sum(CASE WHEN succ THEN fee END) AS revenue,\n    \
             count(CASE WHEN succ AND amount >= {large} THEN 1 END) AS large,\n    \
             count(DISTINCT CASE WHEN succ THEN user_id END) AS active_payers,\n    \
             count(CASE WHEN succ THEN user_id END) AS payer_successes,\n    \
             count(DISTINCT CASE WHEN succ THEN merchant_id END) AS active_merchants,\n    \
             count(DISTINCT CASE WHEN succ AND kyc THEN user_id END) AS kyc_verified_payers,\n    \
             -- Judged against the SLA: settled, or unsettled when the SLA had passed at the data's\n    \
             -- last created_at (those still within it are left out).\n    \
             count(CASE WHEN succ AND (settled_ms IS NOT NULL OR span.data_end_ms - created_ms > {sla_ms}) THEN 1 END) AS sla_judged,\n    \
             count(CASE WHEN succ AND ((settled_ms IS NOT NULL AND settled_ms - created_ms > {sla_ms})\n      \
             OR (settled_ms IS NULL AND span.data_end_ms - created_ms > {sla_ms})) THEN 1 END) AS sla_breaches\n  \
             FROM pr CROSS JOIN span\n  GROUP BY g, pk\n)"
        ));
        let settle_h = format!(
            "CASE WHEN succ AND settled_ms IS NOT NULL THEN {} / 3600000.0 END",
            d.to_double("settled_ms - created_ms")
        );
        let specs = [
            (
                "ticket_p50",
                "CASE WHEN succ THEN amount END".to_string(),
                0.5,
            ),
            ("latency_p50", "latency_ms".to_string(), 0.5),
            ("latency_p95", "latency_ms".to_string(), 0.95),
            ("latency_p99", "latency_ms".to_string(), 0.99),
            ("settle_p50", settle_h.clone(), 0.5),
            ("settle_p95", settle_h, 0.95),
        ];
        ctes.push(format!("pct AS ({})", d.percentiles("pr", &specs)));
        // Merchants' TPV (gross): the 10 largest, and the HHI of their shares (merchants with a
        // volume of exactly 0 have no share).
        ctes.push(
            "mv AS (\n  SELECT g, pk, merchant_id, sum(amount) AS v FROM pr\n  \
             WHERE succ AND merchant_id IS NOT NULL AND amount IS NOT NULL GROUP BY g, pk, merchant_id\n)"
                .to_string(),
        );
        ctes.push(
            "mr AS (\n  SELECT g, pk, v, row_number() OVER (PARTITION BY g, pk ORDER BY v DESC, merchant_id) AS rank_n,\n    \
             sum(v) OVER (PARTITION BY g, pk) AS total\n  FROM mv WHERE v <> 0\n)"
                .to_string(),
        );
        ctes.push(
            "merchants AS (\n  SELECT g, pk, sum(CASE WHEN rank_n <= 10 THEN v END) AS top10_amount,\n    \
             CASE WHEN max(total) > 0 THEN sum(POWER(100.0 * v / total, 2)) END AS hhi\n  \
             FROM mr GROUP BY g, pk\n)"
                .to_string(),
        );
        let mut joins = vec![
            "LEFT JOIN base ON base.g = p.g AND base.pk = p.pk",
            "LEFT JOIN pct ON pct.g = p.g AND pct.pk = p.pk",
            "LEFT JOIN merchants m ON m.g = p.g AND m.pk = p.pk",
            "LEFT JOIN disputes dp ON dp.g = p.g AND dp.pk = p.pk",
        ];
        let disputed_in = if has_time {
            "f.disputed_day BETWEEN p.d0 AND p.d1"
        } else {
            "f.disputed_day IS NOT NULL"
        };
        ctes.push(format!(
            "-- Disputes by dispute date, whatever the transaction's date.\n\
             disputes AS (\n  SELECT p.g, p.pk, count(*) AS disputes_opened\n  \
             FROM periods p JOIN f ON f.g = p.g AND {disputed_in}\n  GROUP BY p.g, p.pk\n)"
        ));
        if has_time {
            // Payers' payment days on every date after the filters: the trailing windows look
            // back across the start of the range, and a payer is new in the period holding
            // their first payment.
            ctes.push(
                "payer_days AS (SELECT DISTINCT g, user_id, day FROM f WHERE succ AND user_id IS NOT NULL)"
                    .to_string(),
            );
            ctes.push(format!(
                "-- DAU, WAU and MAU as of the period's last day with data (l).\n\
                 windows AS (\n  SELECT p.g, p.pk,\n    \
                 count(DISTINCT CASE WHEN pd.day = p.l THEN pd.user_id END) AS dau,\n    \
                 count(DISTINCT CASE WHEN pd.day > {} THEN pd.user_id END) AS wau,\n    \
                 count(DISTINCT pd.user_id) AS mau\n  \
                 FROM periods p LEFT JOIN payer_days pd ON pd.g = p.g AND pd.day BETWEEN {} AND p.l\n  \
                 GROUP BY p.g, p.pk\n)",
                d.add_days("p.l", -7),
                d.add_days("p.l", -29)
            ));
            ctes.push(format!(
                "all_days AS ({})",
                d.day_spine("span", "data_first", "data_last")
            ));
            ctes.push(
                "daily AS (SELECT g, day, count(*) AS n FROM payer_days GROUP BY g, day)"
                    .to_string(),
            );
            // The MAU window's days on or after the data's first day (`all_days` starts there).
            ctes.push(format!(
                "stick AS (\n  SELECT p.g, p.pk, AVG(coalesce(daily.n, 0)) AS mean_daily_actives\n  \
                 FROM periods p JOIN all_days ON all_days.day BETWEEN {} AND p.l\n  \
                 LEFT JOIN daily ON daily.g = p.g AND daily.day = all_days.day\n  GROUP BY p.g, p.pk\n)",
                d.add_days("p.l", -29)
            ));
            ctes.push(
                "-- Each payer's first successful day, on every date after the filters.\n\
                 first_pay AS (SELECT g, user_id, min(day) AS first_day FROM f WHERE succ AND user_id IS NOT NULL GROUP BY g, user_id)"
                    .to_string(),
            );
            ctes.push(
                "newp AS (\n  SELECT p.g, p.pk, count(*) AS new_payers\n  \
                 FROM periods p JOIN first_pay fp ON fp.g = p.g AND fp.first_day BETWEEN p.d0 AND p.d1\n  \
                 GROUP BY p.g, p.pk\n)"
                    .to_string(),
            );
            ctes.push(
                "payvol AS (\n  SELECT p.g, p.pk,\n    \
                 sum(CASE WHEN fp.first_day >= p.ps THEN pr.amount END) AS new_payer_amount,\n    \
                 sum(CASE WHEN fp.first_day < p.ps THEN pr.amount END) AS returning_payer_amount\n  \
                 FROM pr JOIN periods p ON p.g = pr.g AND p.pk = pr.pk\n  \
                 JOIN first_pay fp ON fp.g = pr.g AND fp.user_id = pr.user_id\n  \
                 WHERE pr.succ\n  GROUP BY p.g, p.pk\n)"
                    .to_string(),
            );
            joins.extend([
                "LEFT JOIN windows w ON w.g = p.g AND w.pk = p.pk",
                "LEFT JOIN stick s ON s.g = p.g AND s.pk = p.pk",
                "LEFT JOIN newp np ON np.g = p.g AND np.pk = p.pk",
                "LEFT JOIN payvol pv ON pv.g = p.g AND pv.pk = p.pk",
            ]);
        }
        let custom: Vec<&CustomSql> = self
            .custom
            .iter()
            .filter_map(|(_, c)| c.as_ref().ok())
            .collect();
        let aggregates: Vec<&(String, String, bool)> =
            custom.iter().flat_map(|c| &c.aggregates).collect();
        let percentiles: Vec<(&str, String, f64)> = custom
            .iter()
            .flat_map(|c| &c.percentiles)
            .map(|(alias, sql, q)| (alias.as_str(), sql.clone(), *q))
            .collect();
        if !aggregates.is_empty() {
            let columns: Vec<String> = aggregates
                .iter()
                .map(|(alias, sql, _)| format!("{sql} AS {alias}"))
                .collect();
            ctes.push(format!(
                "custom AS (\n  SELECT g, pk,\n    {}\n  FROM pr GROUP BY g, pk\n)",
                columns.join(",\n    ")
            ));
            joins.push("LEFT JOIN custom cu ON cu.g = p.g AND cu.pk = p.pk");
        }
        if !percentiles.is_empty() {
            ctes.push(format!(
                "custom_pct AS ({})",
                d.percentiles("pr", &percentiles)
            ));
            joins.push("LEFT JOIN custom_pct cp ON cp.g = p.g AND cp.pk = p.pk");
        }
        let zero = |expr: &str| format!("coalesce({expr}, 0)");
        let mut facts = vec![
            "p.g".to_string(),
            "p.k".to_string(),
            "p.pk".to_string(),
            "p.d0".to_string(),
            "p.d1".to_string(),
        ];
        for count in [
            "attempts",
            "successes",
            "failures",
            "successes_with_amount",
            "refunds",
            "disputes",
            "frauds",
            "large",
            "active_payers",
            "payer_successes",
            "active_merchants",
            "kyc_verified_payers",
            "sla_judged",
            "sla_breaches",
        ] {
            facts.push(format!("{} AS {count}", zero(&format!("base.{count}"))));
        }
        for sum in [
            "success_amount",
            "failure_amount",
            "refund_amount",
            "fraud_amount",
            "revenue",
        ] {
            facts.push(format!(
                "{} AS {sum}",
                zero(&d.to_double(&format!("base.{sum}")))
            ));
        }
        for p in [
            "ticket_p50",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "settle_p50",
            "settle_p95",
        ] {
            facts.push(format!("pct.{p}"));
        }
        facts.push(format!(
            "{} AS top10_amount",
            zero(&d.to_double("m.top10_amount"))
        ));
        facts.push("m.hhi".to_string());
        facts.push(format!("{} AS disputes_opened", zero("dp.disputes_opened")));
        if has_time {
            // No window when the data ends before the period starts.
            for w in ["dau", "wau", "mau"] {
                facts.push(format!(
                    "CASE WHEN p.l >= p.d0 THEN {} END AS {w}",
                    zero(&format!("w.{w}"))
                ));
            }
            facts.push(
                "CASE WHEN p.l >= p.d0 THEN s.mean_daily_actives END AS mean_daily_actives"
                    .to_string(),
            );
            facts.push(format!("{} AS new_payers", zero("np.new_payers")));
            for v in ["new_payer_amount", "returning_payer_amount"] {
                facts.push(format!("{} AS {v}", zero(&d.to_double(&format!("pv.{v}")))));
            }
        }
        for (alias, _, zero_default) in &aggregates {
            facts.push(match zero_default {
                true => format!("{} AS {alias}", zero(&format!("cu.{alias}"))),
                false => format!("cu.{alias}"),
            });
        }
        for (alias, _, _) in &percentiles {
            facts.push(format!("cp.{alias}"));
        }
        ctes.push(format!(
            "facts AS (\n  SELECT {}\n  FROM periods p\n  {}\n)",
            facts.join(",\n    "),
            joins.join("\n  ")
        ));
        let mut select: Vec<String> = Vec::new();
        if level.segmented() {
            select.push(format!("g AS {}", d.ident("segment")));
        }
        if level.series() {
            select.push(format!(
                "{} AS {}",
                d.bucket_label("pk", o.grain),
                d.ident("bucket")
            ));
            select.push(format!("pk AS {}", d.ident("bucket_start")));
        } else {
            select.push(format!("d0 AS {}", d.ident("range_from")));
            select.push(format!("d1 AS {}", d.ident("range_to")));
        }
        for id in &self.included {
            // `included` holds only ids with SQL (see `Script::new`).
            let expr = metric_sql(d, id).unwrap_or_else(|| "NULL".to_string());
            select.push(format!("{expr} AS {}", d.ident(id)));
        }
        for (name, sql) in &self.custom {
            if let Ok(sql) = sql {
                select.push(format!("{} AS {}", sql.value, d.ident(name)));
            }
        }
        Ok(format!(
            "WITH\n{}\nSELECT\n  {}\nFROM facts\nORDER BY k, pk",
            ctes.join(",\n"),
            select.join(",\n  ")
        ))
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Failed => "failed",
        Status::Refunded => "refunded",
        Status::Disputed => "disputed",
        Status::Pending => "pending",
        Status::Unknown => "unknown",
    }
}

/// Text for a comment line: no line breaks.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// A number literal that reads back as the same f64 in every dialect.
fn sql_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:?}")
    } else {
        "NULL".to_string()
    }
}

/// A whole number of milliseconds as an integer literal.
fn sla_number(millis: f64) -> String {
    if millis.is_finite() && millis.abs() < 9.0e15 {
        format!("{}", millis as i64)
    } else {
        "NULL".to_string()
    }
}

// ------------------------------------------------------------------------------------------------
// Custom metrics: `name = formula` (Options.metrics) compiled from the formula's syntax tree.
// ------------------------------------------------------------------------------------------------

/// A custom metric as SQL: its value over the columns of `facts`, and the aggregates it needs,
/// computed per period over the period's rows (`pr`).
#[derive(Debug, Default)]
struct CustomSql {
    value: String,
    /// (alias, aggregate over `pr`, 0 rather than NULL for a period without rows) computed
    /// with GROUP BY.
    aggregates: Vec<(String, String, bool)>,
    /// (alias, value over `pr`, quantile): exact percentiles (`Dialect::percentiles`).
    percentiles: Vec<(String, String, f64)>,
}

/// What a row-level expression is, for how the SQL reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Number,
    Text,
    Bool,
    Null,
    /// A column's trimmed text (NULL when empty): a number where a number is needed, as the
    /// formula language reads columns.
    Cell,
}

/// Compiles the custom metrics' formulas. Aggregates get aliases `c<metric>_<n>`; the table
/// columns they read are added to `src` as `x<n>`.
struct CustomCompiler<'s, 'a> {
    script: &'s Script<'a>,
    /// Table columns read by the formulas, in order (their `src` alias is `x<index>`).
    columns: Vec<String>,
}

type Compiled = std::result::Result<String, String>;

impl CustomCompiler<'_, '_> {
    fn dialect(&self) -> Dialect {
        self.script.dialect
    }

    /// The `src` alias of a column named in a formula: a column of the table (exactly, else
    /// ignoring case), else a role id standing for its mapped column.
    fn column(&mut self, name: &str) -> Compiled {
        let headers = &self.script.report.columns;
        let found = headers
            .iter()
            .find(|h| *h == name)
            .or_else(|| headers.iter().find(|h| h.eq_ignore_ascii_case(name)))
            .cloned()
            .or_else(|| {
                Role::ALL
                    .into_iter()
                    .find(|r| r.id().eq_ignore_ascii_case(name))
                    .and_then(|r| self.script.column(r).map(str::to_string))
            })
            .ok_or_else(|| format!("no column {name:?}"))?;
        let index = match self.columns.iter().position(|c| *c == found) {
            Some(index) => index,
            None => {
                self.columns.push(found);
                self.columns.len() - 1
            }
        };
        Ok(format!("x{index}"))
    }

    fn metric(&mut self, index: usize, text: &str) -> std::result::Result<CustomSql, String> {
        let definition = crate::expr::parse_definition(text).map_err(|e| e.to_string())?;
        if definition.condition.is_some() {
            return Err("a trailing `where` on a metric: put filters inside the aggregates, as in sum(amount where channel = \"app\")".into());
        }
        let mut out = CustomSql::default();
        out.value = self.outer(&definition.expr, index, &mut out)?;
        Ok(out)
    }

    /// The formula outside aggregates: numbers, catalog metric ids, aggregates and arithmetic.
    fn outer(&mut self, expr: &Expr, index: usize, out: &mut CustomSql) -> Compiled {
        let d = self.dialect();
        match &expr.kind {
            ExprKind::Number(n) => Ok(number_literal(d, *n)),
            ExprKind::Null => Ok(format!("CAST(NULL AS {})", d.double_type())),
            ExprKind::Column { name, .. } => {
                let id = name.to_ascii_lowercase();
                match crate::metrics::catalog::metric(&id) {
                    Some(metric) if self.script.included.contains(&metric.id) => {
                        let sql = metric_sql(d, metric.id).ok_or("no SQL")?;
                        Ok(format!("({sql})"))
                    }
                    Some(metric) => Err(format!(
                        "it uses {}, which has no value here ({})",
                        metric.id,
                        self.script
                            .left_out
                            .iter()
                            .find(|(id, _)| *id == metric.id)
                            .map_or("left out", |(_, why)| why.as_str())
                    )),
                    None => Err(format!(
                        "{name:?} is not a catalog metric id; columns are read inside aggregates, as in sum({name})"
                    )),
                }
            }
            ExprKind::Unary {
                op: UnaryOp::Negate,
                operand,
            } => Ok(format!("(-{})", self.outer(operand, index, out)?)),
            ExprKind::Binary { op, left, right } if op.is_arithmetic() => {
                let (l, r) = (
                    self.outer(left, index, out)?,
                    self.outer(right, index, out)?,
                );
                Ok(arithmetic(d, *op, &l, &r))
            }
            ExprKind::Call { name, args } => {
                let lower = name.to_ascii_lowercase();
                if crate::expr::is_aggregate(&lower) {
                    return self.aggregate(&lower, args, index, out);
                }
                match (lower.as_str(), args.as_slice()) {
                    ("abs", [x]) => Ok(format!("ABS({})", self.outer(x, index, out)?)),
                    ("round", [x]) => Ok(format!("ROUND({})", self.outer(x, index, out)?)),
                    ("round", [x, digits]) => match digits.kind {
                        ExprKind::Number(n) if n.fract() == 0.0 && n.abs() < 100.0 => Ok(format!(
                            "ROUND({}, {})",
                            self.outer(x, index, out)?,
                            n as i64
                        )),
                        _ => Err("round's digits must be a whole number".into()),
                    },
                    _ => Err(format!(
                        "{name}() outside an aggregate is not exported to SQL"
                    )),
                }
            }
            _ => Err(format!(
                "{expr} is not a number: a metric is arithmetic over aggregates, catalog metric ids and numbers"
            )),
        }
    }

    /// An aggregate call: its alias in `facts`.
    fn aggregate(
        &mut self,
        name: &str,
        args: &[Expr],
        index: usize,
        out: &mut CustomSql,
    ) -> Compiled {
        let d = self.dialect();
        let (value, condition) = match args {
            [] => (None, None),
            [arg] => match &arg.kind {
                // `count(where c)`: no value, each row.
                ExprKind::Filter {
                    value, condition, ..
                } if value.kind == ExprKind::Rows => (None, Some(&**condition)),
                ExprKind::Filter {
                    value, condition, ..
                } => (Some(&**value), Some(&**condition)),
                _ => (Some(arg), None),
            },
            _ => return Err(format!("{name}() takes one argument")),
        };
        let condition = match condition {
            Some(c) => {
                let (sql, ty) = self.row(c)?;
                Some(as_bool(d, &sql, ty)?)
            }
            None => None,
        };
        let when = |sql: &str| match &condition {
            Some(c) => format!("CASE WHEN {c} THEN {sql} END"),
            None => sql.to_string(),
        };
        let number = |this: &mut Self| -> Compiled {
            let value =
                value.ok_or_else(|| format!("{name}() needs a value, as in {name}(amount)"))?;
            let (sql, ty) = this.row(value)?;
            as_number(d, &sql, ty)
        };
        let alias = format!("c{index}_{}", out.aggregates.len() + out.percentiles.len());
        let quantile = match name {
            "median" => Some(0.5),
            _ => name
                .strip_prefix('p')
                .and_then(|digits| digits.parse::<u8>().ok())
                .map(|p| f64::from(p) / 100.0),
        };
        if let Some(q) = quantile {
            let sql = when(&number(self)?);
            out.percentiles.push((alias.clone(), sql, q));
            return Ok(alias);
        }
        let aggregate = match name {
            // The sum of nothing is 0.
            "sum" => format!("coalesce(sum({}), 0)", when(&number(self)?)),
            // count() counts rows; count(x) the rows where x is not null.
            "count" => match value {
                None => match &condition {
                    Some(c) => format!("count(CASE WHEN {c} THEN 1 END)"),
                    None => "count(*)".to_string(),
                },
                Some(value) => {
                    let (sql, _) = self.row(value)?;
                    format!("count({})", when(&sql))
                }
            },
            // Distinct non-null values, compared as trimmed text.
            "count_distinct" => {
                let value = value.ok_or("count_distinct() needs a value")?;
                let (sql, ty) = self.row(value)?;
                format!("count(DISTINCT {})", when(&as_text(d, &sql, ty)?))
            }
            "avg" => format!("AVG({})", when(&number(self)?)),
            "min" => format!("MIN({})", when(&number(self)?)),
            "max" => format!("MAX({})", when(&number(self)?)),
            "share" => {
                // share(where c): the fraction of rows where c holds; share(x where c) =
                // sum(x where c) / sum(x).
                let Some(c) = &condition else {
                    return Err("share() needs a where: share(where c) or share(x where c)".into());
                };
                if value.is_none() {
                    let part = format!("count(CASE WHEN {c} THEN 1 END)");
                    let whole = "count(*)";
                    return {
                        let sql = format!(
                            "CASE WHEN {whole} <> 0 THEN CAST({part} AS {double}) / {whole} END",
                            double = d.double_type()
                        );
                        out.aggregates.push((alias.clone(), sql, false));
                        Ok(alias)
                    };
                }
                let x = number(self)?;
                let part = format!("sum(CASE WHEN {c} THEN {x} END)");
                let whole = format!("sum({x})");
                format!("CASE WHEN {whole} <> 0 THEN coalesce({part}, 0) / {whole} END")
            }
            _ => return Err(format!("{name}() is not exported to SQL")),
        };
        let zero = matches!(name, "sum" | "count" | "count_distinct");
        out.aggregates.push((alias.clone(), aggregate, zero));
        Ok(alias)
    }

    /// A row-level expression inside an aggregate.
    fn row(&mut self, expr: &Expr) -> std::result::Result<(String, Ty), String> {
        let d = self.dialect();
        Ok(match &expr.kind {
            ExprKind::Number(n) => (number_literal(d, *n), Ty::Number),
            ExprKind::Text(t) => (d.string(t.trim()), Ty::Text),
            ExprKind::Bool(b) => (if *b { "TRUE" } else { "FALSE" }.to_string(), Ty::Bool),
            ExprKind::Null => ("NULL".to_string(), Ty::Null),
            ExprKind::Column { name, .. } => (self.column(name)?, Ty::Cell),
            ExprKind::Unary { op, operand } => {
                let (sql, ty) = self.row(operand)?;
                match op {
                    UnaryOp::Negate => (format!("(-{})", as_number(d, &sql, ty)?), Ty::Number),
                    UnaryOp::Not => (format!("(NOT {})", as_bool(d, &sql, ty)?), Ty::Bool),
                }
            }
            ExprKind::Binary { op, left, right } => {
                let (l, lt) = self.row(left)?;
                let (r, rt) = self.row(right)?;
                if op.is_arithmetic() {
                    let (l, r) = (as_number(d, &l, lt)?, as_number(d, &r, rt)?);
                    (arithmetic(d, *op, &l, &r), Ty::Number)
                } else if op.is_comparison() {
                    (compare(d, *op, (&l, lt), (&r, rt))?, Ty::Bool)
                } else {
                    let word = if *op == BinaryOp::And { "AND" } else { "OR" };
                    (
                        format!("({} {word} {})", as_bool(d, &l, lt)?, as_bool(d, &r, rt)?),
                        Ty::Bool,
                    )
                }
            }
            ExprKind::In {
                operand,
                list,
                negated,
            } => {
                let operand = self.row(operand)?;
                let mut any = Vec::new();
                for item in list {
                    let item = self.row(item)?;
                    any.push(compare(
                        d,
                        BinaryOp::Equal,
                        (&operand.0, operand.1),
                        (&item.0, item.1),
                    )?);
                }
                let test = format!("({})", any.join(" OR "));
                (
                    if *negated {
                        format!("(NOT {test})")
                    } else {
                        test
                    },
                    Ty::Bool,
                )
            }
            ExprKind::Call { name, args } => self.row_call(name, args)?,
            ExprKind::Filter { .. } | ExprKind::Rows => {
                return Err("'where' only works inside an aggregate's parentheses".into())
            }
        })
    }

    fn row_call(&mut self, name: &str, args: &[Expr]) -> std::result::Result<(String, Ty), String> {
        let d = self.dialect();
        let lower = name.to_ascii_lowercase();
        if crate::expr::is_aggregate(&lower) {
            return Err(format!("{name}() inside another aggregate"));
        }
        let mut compiled = Vec::new();
        for arg in args {
            compiled.push(self.row(arg)?);
        }
        let one = |ty: Ty| -> std::result::Result<(String, Ty), String> {
            match compiled.as_slice() {
                [(sql, t)] => Ok((sql.clone(), if ty == Ty::Null { *t } else { ty })),
                _ => Err(format!("{name}() takes one argument")),
            }
        };
        Ok(match (lower.as_str(), compiled.len()) {
            ("abs", 1) => {
                let (sql, ty) = one(Ty::Number)?;
                (format!("ABS({})", as_number(d, &sql, ty)?), Ty::Number)
            }
            ("round", 1 | 2) => {
                let (sql, ty) = &compiled[0];
                let digits = match args.get(1).map(|a| &a.kind) {
                    None => 0,
                    Some(ExprKind::Number(n)) if n.fract() == 0.0 && n.abs() < 100.0 => *n as i64,
                    Some(_) => return Err("round's digits must be a whole number".into()),
                };
                (
                    format!("ROUND({}, {digits})", as_number(d, sql, *ty)?),
                    Ty::Number,
                )
            }
            ("lower" | "upper" | "trim", 1) => {
                let (sql, ty) = &compiled[0];
                let function = lower.to_ascii_uppercase();
                (format!("{function}({})", as_text(d, sql, *ty)?), Ty::Text)
            }
            ("len", 1) => {
                let (sql, ty) = &compiled[0];
                (format!("LENGTH({})", as_text(d, sql, *ty)?), Ty::Number)
            }
            ("is_null", 1) => (format!("({} IS NULL)", compiled[0].0), Ty::Bool),
            ("contains" | "starts_with", 2) => {
                let a = as_text(d, &compiled[0].0, compiled[0].1)?;
                let b = as_text(d, &compiled[1].0, compiled[1].1)?;
                let sql = match (lower.as_str(), d) {
                    ("contains", Dialect::DuckDb) => format!("contains({a}, {b})"),
                    ("contains", Dialect::Spark) => format!("(instr({a}, {b}) > 0)"),
                    ("contains", Dialect::BigQuery) => format!("(STRPOS({a}, {b}) > 0)"),
                    (_, Dialect::DuckDb) => format!("starts_with({a}, {b})"),
                    (_, Dialect::Spark) => format!("startswith({a}, {b})"),
                    (_, Dialect::BigQuery) => format!("STARTS_WITH({a}, {b})"),
                };
                (sql, Ty::Bool)
            }
            ("coalesce", n) if n > 0 => {
                let ty = unify(&compiled);
                let parts: std::result::Result<Vec<String>, String> = compiled
                    .iter()
                    .map(|(sql, t)| convert(d, sql, *t, ty))
                    .collect();
                (format!("COALESCE({})", parts?.join(", ")), ty)
            }
            ("if", 3) => {
                let condition = as_bool(d, &compiled[0].0, compiled[0].1)?;
                let ty = unify(&compiled[1..]);
                let a = convert(d, &compiled[1].0, compiled[1].1, ty)?;
                let b = convert(d, &compiled[2].0, compiled[2].1, ty)?;
                (format!("CASE WHEN {condition} THEN {a} ELSE {b} END"), ty)
            }
            _ => {
                return Err(format!(
                    "{name}() with {} arguments is not exported to SQL",
                    compiled.len()
                ))
            }
        })
    }
}

/// The common type of a function's values: numbers if any is a number (cells read as numbers
/// then), text if any is text, else cells.
fn unify(values: &[(String, Ty)]) -> Ty {
    let has = |ty: Ty| values.iter().any(|(_, t)| *t == ty);
    if has(Ty::Number) {
        Ty::Number
    } else if has(Ty::Text) {
        Ty::Text
    } else if has(Ty::Bool) {
        Ty::Bool
    } else if has(Ty::Cell) {
        Ty::Cell
    } else {
        Ty::Null
    }
}

fn convert(d: Dialect, sql: &str, from: Ty, to: Ty) -> Compiled {
    match to {
        Ty::Number => as_number(d, sql, from),
        Ty::Text | Ty::Cell => as_text(d, sql, from),
        Ty::Bool => as_bool(d, sql, from),
        Ty::Null => Ok(sql.to_string()),
    }
}

fn as_number(d: Dialect, sql: &str, ty: Ty) -> Compiled {
    match ty {
        Ty::Number => Ok(sql.to_string()),
        Ty::Cell | Ty::Text => Ok(d.try_cast(sql, d.double_type())),
        Ty::Null => Ok(format!("CAST(NULL AS {})", d.double_type())),
        Ty::Bool => Err("a condition where a number is needed".into()),
    }
}

fn as_text(d: Dialect, sql: &str, ty: Ty) -> Compiled {
    match ty {
        Ty::Text | Ty::Cell => Ok(sql.to_string()),
        Ty::Number => Ok(format!("CAST({sql} AS {})", d.text_type())),
        Ty::Null => Ok(format!("CAST(NULL AS {})", d.text_type())),
        Ty::Bool => Ok(format!(
            "CASE WHEN {sql} THEN 'true' WHEN NOT {sql} THEN 'false' END"
        )),
    }
}

fn as_bool(d: Dialect, sql: &str, ty: Ty) -> Compiled {
    match ty {
        Ty::Bool => Ok(sql.to_string()),
        Ty::Null => Ok(format!("CAST(NULL AS {})", d.bool_type())),
        _ => Err(format!("{sql} is not a condition")),
    }
}

/// A comparison as the formula language makes it: numbers with numbers (a cell compared with a
/// number reads as a number), text with text; two cells compare as numbers when both read as
/// numbers, else as text.
fn compare(d: Dialect, op: BinaryOp, (l, lt): (&str, Ty), (r, rt): (&str, Ty)) -> Compiled {
    let symbol = match op {
        BinaryOp::NotEqual => "<>",
        op => op.symbol(),
    };
    Ok(match (lt, rt) {
        (Ty::Null, _) | (_, Ty::Null) => format!("CAST(NULL AS {})", d.bool_type()),
        (Ty::Bool, Ty::Bool) => format!("({l} {symbol} {r})"),
        (Ty::Bool, _) | (_, Ty::Bool) => return Err("a condition compared with a value".into()),
        (Ty::Number, _) | (_, Ty::Number) => format!(
            "({} {symbol} {})",
            as_number(d, l, lt)?,
            as_number(d, r, rt)?
        ),
        (Ty::Cell, Ty::Cell) => {
            let (ln, rn) = (as_number(d, l, lt)?, as_number(d, r, rt)?);
            format!(
                "(CASE WHEN {ln} IS NOT NULL AND {rn} IS NOT NULL THEN {ln} {symbol} {rn} ELSE {l} {symbol} {r} END)"
            )
        }
        _ => format!("({l} {symbol} {r})"),
    })
}

/// Arithmetic; division (and remainder) by zero is NULL.
fn arithmetic(d: Dialect, op: BinaryOp, l: &str, r: &str) -> String {
    match op {
        BinaryOp::Divide => format!("({l} / NULLIF({r}, 0))"),
        BinaryOp::Remainder => match d {
            // BigQuery's MOD is for integers only.
            Dialect::BigQuery => format!("({l} - NULLIF({r}, 0) * TRUNC({l} / NULLIF({r}, 0)))"),
            _ => format!("({l} % NULLIF({r}, 0))"),
        },
        op => format!("({l} {} {r})", op.symbol()),
    }
}

fn number_literal(d: Dialect, n: f64) -> String {
    format!("CAST({} AS {})", sql_number(n), d.double_type())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{DateRange, Filter};
    use crate::sample::{generate, SampleOptions};

    const DIALECTS: [Dialect; 3] = [Dialect::DuckDb, Dialect::Spark, Dialect::BigQuery];

    fn sample() -> Dataset {
        let tables = generate(&SampleOptions { rows: 400, seed: 3 });
        let table = crate::read_csv("transactions.csv", tables.transactions.as_bytes())
            .expect("the sample reads");
        Dataset::new(table)
    }

    #[test]
    fn every_catalog_metric_has_sql() {
        for dialect in DIALECTS {
            for metric in CATALOG {
                assert!(metric_sql(dialect, metric.id).is_some(), "{}", metric.id);
            }
        }
    }

    #[test]
    fn dialects_parse_by_name() {
        assert_eq!(Dialect::parse("duckdb"), Some(Dialect::DuckDb));
        assert_eq!(Dialect::parse(" Spark "), Some(Dialect::Spark));
        assert_eq!(Dialect::parse("BigQuery"), Some(Dialect::BigQuery));
        assert_eq!(Dialect::parse("postgres"), None);
    }

    #[test]
    fn identifiers_and_strings_are_quoted_per_dialect() {
        assert_eq!(
            Dialect::DuckDb.ident("pay \"value\""),
            "\"pay \"\"value\"\"\""
        );
        assert_eq!(Dialect::Spark.ident("pay`value"), "`pay``value`");
        assert_eq!(Dialect::BigQuery.ident("pay`value"), "`pay\\`value`");
        assert_eq!(Dialect::DuckDb.string("it's a\\b"), "'it''s a\\b'");
        assert_eq!(Dialect::Spark.string("it's a\\b"), "'it\\'s a\\\\b'");
        assert_eq!(Dialect::BigQuery.string("已转账'"), "'已转账\\''");
    }

    #[test]
    fn local_dates_per_dialect() {
        let fixed = ZoneSql::of("+08:00").expect("an offset");
        let named = ZoneSql::of("Asia/Shanghai").expect("a zone");
        assert_eq!(fixed, ZoneSql::Fixed(8 * 3600));
        assert_eq!(
            Dialect::DuckDb.local_date("t", &fixed),
            "CAST(timezone('UTC', t) + INTERVAL (28800) SECOND AS DATE)"
        );
        assert_eq!(
            Dialect::DuckDb.local_date("t", &named),
            "CAST(timezone('Asia/Shanghai', t) AS DATE)"
        );
        assert_eq!(
            Dialect::Spark.local_date("t", &fixed),
            "to_date(from_utc_timestamp(t, '+08:00'))"
        );
        assert_eq!(
            Dialect::BigQuery.local_date("t", &ZoneSql::of("-05:30").expect("an offset")),
            "DATE(t, '-05:30')"
        );
        assert_eq!(
            Dialect::BigQuery.local_date("t", &named),
            "DATE(t, 'Asia/Shanghai')"
        );
    }

    #[test]
    fn percentiles_per_dialect() {
        let specs = [("p95", "x".to_string(), 0.95)];
        assert_eq!(
            Dialect::DuckDb.percentiles("pr", &specs),
            "SELECT g, pk, quantile_cont(x, 0.95) AS p95 FROM pr GROUP BY g, pk"
        );
        assert_eq!(
            Dialect::Spark.percentiles("pr", &specs),
            "SELECT g, pk, percentile(x, 0.95) AS p95 FROM pr GROUP BY g, pk"
        );
        let bigquery = Dialect::BigQuery.percentiles("pr", &specs);
        assert!(bigquery.contains("PERCENTILE_CONT(x, 0.95) OVER (PARTITION BY g, pk) AS p95"));
        assert!(bigquery.contains("ANY_VALUE(p95) AS p95"));
    }

    #[test]
    fn week_truncation_per_dialect() {
        use Grain::{Month, Week};
        use WeekStart::{Monday, Sunday};
        let d = Dialect::DuckDb;
        assert_eq!(
            d.bucket_start("day", Week, Monday),
            "CAST(date_trunc('week', day) AS DATE)"
        );
        assert_eq!(
            d.bucket_start("day", Week, Sunday),
            "(CAST(date_trunc('week', day + 1) AS DATE) - 1)"
        );
        assert_eq!(
            Dialect::Spark.bucket_start("day", Week, Sunday),
            "date_sub(to_date(date_trunc('WEEK', date_add(day, 1))), 1)"
        );
        assert_eq!(
            Dialect::BigQuery.bucket_start("day", Week, Sunday),
            "DATE_TRUNC(day, WEEK(SUNDAY))"
        );
        assert_eq!(
            Dialect::BigQuery.bucket_start("day", Month, Monday),
            "DATE_TRUNC(day, MONTH)"
        );
        assert_eq!(d.bucket_start("day", Grain::Day, Sunday), "day");
    }

    #[test]
    fn each_dialect_writes_every_mapped_metric() {
        let dataset = sample();
        let options = Options {
            grain: Grain::Week,
            range: Some(DateRange {
                from: "2025-07-03".into(),
                to: "2025-08-10".into(),
            }),
            filters: vec![Filter {
                column: "channel".into(),
                values: vec!["online".into(), "it's".into()],
                exclude: false,
            }],
            segment: Some("funding_source".into()),
            ..Options::default()
        };
        for dialect in DIALECTS {
            let sql = export_sql(&dataset, &options, dialect).expect("the script");
            for level in ["totals", "series", "segment_totals", "segment_series"] {
                let marker = format!("-- paymetrics: {level}\n");
                assert_eq!(sql.matches(&marker).count(), 1, "{dialect:?} {level}");
            }
            for metric in CATALOG {
                let column = format!("AS {}", dialect.ident(metric.id));
                let left_out = format!("-- Left out: {} (", metric.id);
                match metric.id {
                    // The sample has no KYC column.
                    "kyc_verified_share" => {
                        assert!(sql.contains(&left_out) && !sql.contains(&column))
                    }
                    id => assert_eq!(sql.matches(&column).count(), 4, "{dialect:?} {id}"),
                }
            }
            assert!(sql.contains(&dialect.string("it's")));
            assert!(sql.contains(&dialect.date_literal("2025-08-10")));
        }
    }

    #[test]
    fn unmapped_roles_leave_metrics_out_with_why() {
        let dataset = sample();
        let mut options = Options::default();
        options.mapping.insert("user_id".into(), None);
        let sql = export_sql(&dataset, &options, Dialect::DuckDb).expect("the script");
        assert!(sql.contains("-- Left out: active_payers (needs user_id)."));
        assert!(!sql.contains("AS \"active_payers\""));
        assert!(sql.contains("AS \"tpv\""));
        // Without a segment: the totals and the series only.
        assert!(!sql.contains("-- paymetrics: segment_totals"));
    }

    #[test]
    fn spark_reads_times_in_utc_sessions() {
        let sql = export_sql(&sample(), &Options::default(), Dialect::Spark).expect("the script");
        assert!(sql.contains("-- paymetrics: setup\nSET spark.sql.session.timeZone = UTC;"));
        assert!(sql.contains("percentile("));
        assert!(
            !sql.contains('"'),
            "Spark quotes identifiers with backticks"
        );
    }

    fn with_metrics(metrics: &[&str], dialect: Dialect) -> String {
        let options = Options {
            metrics: metrics.iter().map(|m| m.to_string()).collect(),
            ..Options::default()
        };
        export_sql(&sample(), &options, dialect).expect("the script")
    }

    #[test]
    fn custom_metrics_compile_from_the_formula() {
        let sql = with_metrics(
            &[
                r#"app_tpv_per_payer = sum(amount where status = "success" and channel = "app_qr") / count_distinct(user_id)"#,
                "rows = count()",
                "p90_latency = p90(latency_ms)",
                "half = tpv / 2",
            ],
            Dialect::DuckDb,
        );
        // The columns the formulas read, once each, as trimmed text (empty is NULL).
        assert!(sql.contains(r#"nullif(trim(CAST("status" AS VARCHAR)), '') AS x0"#));
        assert!(sql.contains(r#"nullif(trim(CAST("amount" AS VARCHAR)), '') AS x2"#));
        assert!(sql.contains(r#"nullif(trim(CAST("user_id" AS VARCHAR)), '') AS x3"#));
        assert!(sql.contains(
            "coalesce(sum(CASE WHEN ((x0 = 'success') AND (x1 = 'app_qr')) THEN TRY_CAST(x2 AS DOUBLE) END), 0) AS c0_0"
        ));
        assert!(sql.contains("count(DISTINCT x3) AS c0_1"));
        assert!(sql.contains("(c0_0 / NULLIF(c0_1, 0)) AS \"app_tpv_per_payer\""));
        assert!(sql.contains("count(*) AS c1_0"));
        assert!(sql.contains("quantile_cont(TRY_CAST(x4 AS DOUBLE), 0.9) AS c2_0"));
        assert!(sql.contains(
            "((success_amount - refund_amount) / NULLIF(CAST(2.0 AS DOUBLE), 0)) AS \"half\""
        ));
        for name in ["app_tpv_per_payer", "rows", "p90_latency", "half"] {
            assert!(
                sql.contains(&format!("-- Custom metric: {name} = ")),
                "{name}"
            );
        }
    }

    #[test]
    fn custom_metrics_that_cannot_be_exported_say_why() {
        let sql = with_metrics(
            &[
                "a = sum(nope)",
                "b = kyc_verified_share * 2",
                "c = amount",
                "d = sum(amount) where channel = \"app\"",
                "e = share(channel = \"app\")",
                "f = sum(",
            ],
            Dialect::DuckDb,
        );
        // The core's messages for what it refuses; the export's own reason for a metric the
        // core accepts but the data cannot give (no kyc column).
        assert!(sql.contains("-- Left out: custom metric a (at column 9: unknown column \"nope\""));
        assert!(sql.contains("-- Left out: custom metric b (it uses kyc_verified_share, which has no value here (needs kyc))."));
        assert!(sql.contains("-- Left out: custom metric c (at column 5: amount is a column"));
        assert!(sql.contains("-- Left out: custom metric d (at column "));
        assert!(sql.contains("-- Left out: custom metric e (at column 5: share() needs a where"));
        assert!(sql.contains("-- Left out: custom metric f (at column "));
        assert!(!sql.contains("custom AS ("));
    }

    #[test]
    fn custom_percentiles_are_analytic_in_bigquery() {
        let sql = with_metrics(
            &["m = median(amount where status = \"success\")"],
            Dialect::BigQuery,
        );
        assert!(sql.contains(
            "PERCENTILE_CONT(CASE WHEN (x0 = 'success') THEN SAFE_CAST(x1 AS FLOAT64) END, 0.5) OVER (PARTITION BY g, pk) AS c0_0"
        ));
        assert!(sql.contains("c0_0 AS `m`"));
    }

    #[test]
    fn money_is_converted_with_the_rates() {
        let options = Options {
            rates: [("CNY".to_string(), 0.14)].into_iter().collect(),
            currency: Some("USD".into()),
            ..Options::default()
        };
        let sql = export_sql(&sample(), &options, Dialect::DuckDb).expect("the script");
        let currency = r#"trim(CAST("currency" AS VARCHAR))"#;
        assert!(sql.contains(&format!(
            "CASE WHEN nullif({currency}, '') IS NULL OR upper({currency}) = 'USD' THEN TRY_CAST"
        )));
        assert!(sql.contains(&format!(
            "WHEN upper({currency}) = 'CNY' THEN TRY_CAST(trim(CAST(\"amount\" AS VARCHAR)) AS DOUBLE) * CAST(0.14 AS DOUBLE) END AS amount"
        )));
        assert!(sql.contains("-- Money in USD, converted by the currency column: CNY × 0.14"));
        assert!(sql.contains("AS \"tpv\""));
    }
}
