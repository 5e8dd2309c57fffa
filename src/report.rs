//! The report: everything the user sees about one file, as one serialisable value (the shape is
//! documented in docs/report.md), plus its plain-text rendering for the CLI.
use crate::error::{Error, ErrorKind};
type Result<T> = crate::error::Result<T>;
use crate::dataset::{derived_roles, prepare, Dataset, Derived};
use crate::ingest::RawTable;
use crate::join::{JoinOutcome, JoinSpec};
use crate::metrics::{
    compute, compute_where, Good, Metric, Stakeholder, Tally, Tier, Unit, CATALOG,
};
pub use crate::options::Options;
use crate::quality::Quality;
use crate::schema::{resolve_mapping, Role, Source, Status};
use crate::time::{bucket_label, bucket_start_rfc3339, Grain, Timestamp, Zone};
use crate::transactions::type_table;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricValue {
    pub id: &'static str,
    pub name: &'static str,
    pub tier: Tier,
    pub stakeholders: &'static [Stakeholder],
    pub good: Good,
    pub unit: Unit,
    pub description: &'static str,
    #[serde(serialize_with = "json_number")]
    pub value: Option<f64>,
    /// Roles that are not mapped; when non-empty, `value` is `None`.
    pub needs: Vec<&'static str>,
    /// Why the value is missing when it is not a missing column (e.g. mixed currencies).
    pub note: Option<String>,
}

/// The money metrics of one currency, when the data mixes currencies and no rates convert them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CurrencyTotals {
    pub currency: String,
    #[serde(serialize_with = "json_numbers")]
    pub totals: BTreeMap<&'static str, Option<f64>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeriesPoint {
    pub bucket: String,
    pub start: String,
    /// Metric id -> value in this bucket.
    #[serde(flatten, serialize_with = "json_numbers")]
    pub values: BTreeMap<&'static str, Option<f64>>,
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

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub file: String,
    pub tz: String,
    pub grain: Grain,
    /// Metric id -> whole-range value (`None` where a needed column is missing).
    #[serde(serialize_with = "json_numbers")]
    pub totals: BTreeMap<&'static str, Option<f64>>,
    pub metrics: Vec<MetricValue>,
    pub series: Vec<SeriesPoint>,
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
    values: &BTreeMap<&'static str, Option<f64>>,
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

/// Computes the report of a dataset under the user's options.
pub fn analyze(dataset: &Dataset, options: &Options) -> Result<Report> {
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
    let typed = type_table(table, &mapping, options);
    let transactions = &typed.transactions;

    let zone = match &options.tz {
        Some(text) => Zone::parse(text).ok_or_else(|| {
            Error::new(ErrorKind::InvalidOption(format!(
                "time zone {text:?} is neither a UTC offset like +08:00 nor a zone name like Asia/Shanghai"
            )))
        })?,
        None => transactions
            .created_at
            .as_deref()
            .and_then(most_common_offset)
            .unwrap_or_else(Zone::utc),
    };
    let computed = compute(transactions, zone, options.grain);

    let missing = |needs: &[Role]| -> Vec<&'static str> {
        needs
            .iter()
            .filter(|role| mapping.column(**role).is_none())
            .map(|role| role.id())
            .collect()
    };
    // Amounts in different currencies are never summed: money metrics are then given per
    // currency, and the whole-range value says why it is missing.
    let mixed = transactions.money_currency.is_none() && transactions.currencies.len() > 1;
    let mixed_note = mixed.then(|| {
        format!(
            "mixed currencies ({}): shown per currency; enter exchange rates to convert",
            transactions.currencies.join(", ")
        )
    });
    let computable = |metric: &Metric| {
        metric
            .needs
            .iter()
            .all(|role| mapping.column(*role).is_some())
    };
    let value_of = |metric: &Metric, tally: &Tally| {
        if !computable(metric) || (mixed && metric.unit == Unit::Currency) {
            None
        } else {
            (metric.value)(tally)
        }
    };
    let metrics: Vec<MetricValue> = CATALOG
        .iter()
        .map(|metric| MetricValue {
            id: metric.id,
            name: metric.name,
            tier: metric.tier,
            stakeholders: metric.stakeholders,
            good: metric.good,
            unit: metric.unit,
            description: metric.description,
            value: value_of(metric, &computed.totals),
            needs: missing(metric.needs),
            note: if metric.unit == Unit::Currency {
                mixed_note.clone()
            } else {
                None
            },
        })
        .collect();
    let by_currency = match (&transactions.currency, mixed) {
        (Some(row_currency), true) => transactions
            .currencies
            .iter()
            .enumerate()
            .map(|(index, code)| {
                let index = index as u16;
                let part = compute_where(transactions, zone, options.grain, &|row| {
                    row_currency[row] == index
                });
                CurrencyTotals {
                    currency: code.clone(),
                    totals: CATALOG
                        .iter()
                        .map(|m| {
                            let value = computable(m).then(|| (m.value)(&part.totals)).flatten();
                            (m.id, value)
                        })
                        .collect(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let series = computed
        .buckets
        .iter()
        .map(|bucket| SeriesPoint {
            bucket: bucket_label(bucket.start_day, options.grain),
            start: bucket_start_rfc3339(bucket.start_day, zone),
            values: CATALOG
                .iter()
                .map(|metric| (metric.id, value_of(metric, &bucket.tally)))
                .collect(),
        })
        .collect();

    let mut skipped = table.skipped.clone();
    skipped.extend(&typed.skipped);
    let mut warnings = table.warnings.clone();
    warnings.extend(typed.warnings.iter().cloned());
    if transactions.created_at.is_some() && transactions.len > 0 && computed.buckets.is_empty() {
        warnings.push(
            "the dates span more than a century, so no time series is drawn; check created_at"
                .to_string(),
        );
    }
    let unknown: Vec<&str> = transactions
        .status_values
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
    let quality = Quality {
        rows_loaded: transactions.len as u64,
        rows_skipped: skipped.total(),
        skipped: skipped.groups().to_vec(),
        unmapped_columns: (0..table.headers.len())
            .filter(|&c| {
                Role::ALL
                    .iter()
                    .all(|&role| mapping.column(role) != Some(c))
            })
            .map(|c| table.headers[c].clone())
            .collect(),
        warnings,
        ..Quality::of_table(table)
    };
    debug_assert_eq!(
        quality.rows_read,
        quality.rows_loaded + quality.rows_skipped
    );

    Ok(Report {
        file: table.file.clone(),
        tz: zone.to_string(),
        grain: options.grain,
        totals: metrics.iter().map(|m| (m.id, m.value)).collect(),
        metrics,
        series,
        mapping: Role::ALL
            .into_iter()
            .map(|role| RoleMapping {
                role: role.id(),
                column: mapping.column(role).map(|c| table.headers[c].clone()),
                source: mapping.source(role),
            })
            .collect(),
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
        by_currency,
        quality,
        joins: prepared.joins.clone(),
        derived: prepared.derived.clone(),
        lookups: dataset
            .lookups
            .iter()
            .map(|t| LookupQuality {
                quality: Quality::of_table(t),
                columns: t.headers.clone(),
            })
            .collect(),
        suggested_joins: dataset.suggested_joins(&options.joins),
    })
}

/// The UTC offset written most often in the data, if any time carries one.
fn most_common_offset(times: &[Timestamp]) -> Option<Zone> {
    let mut counts: HashMap<i32, u64> = HashMap::new();
    for t in times {
        if let Timestamp::WithOffset { offset_seconds, .. } = t {
            *counts.entry(*offset_seconds).or_insert(0) += 1;
        }
    }
    let (offset, _) = counts
        .into_iter()
        .max_by_key(|&(offset, count)| (count, -offset.abs()))?;
    Zone::fixed(offset)
}

/// Formats a metric value for people: thousands separators, two decimals for money, % for rates.
pub fn format_value(value: Option<f64>, unit: Unit) -> String {
    let Some(value) = value else {
        return "—".to_string();
    };
    match unit {
        Unit::Count => group_thousands(&format!("{value:.0}")),
        Unit::Currency => group_thousands(&format!("{value:.2}")),
        Unit::Ratio => format!("{:.2}%", value * 100.0),
        Unit::Bps => format!("{value:.1} bps"),
        Unit::Hours => format!("{value:.1} h"),
        Unit::Milliseconds => format!("{} ms", group_thousands(&format!("{value:.0}"))),
        Unit::Index => group_thousands(&format!("{value:.0}")),
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
    let _ = writeln!(out, "\nmetrics");
    for m in &report.metrics {
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
        let _ = writeln!(out, "  {:<15} {:>22}   {}", m.name, value, m.description);
    }
    for part in &report.by_currency {
        let _ = writeln!(out, "\nin {}", part.currency);
        for m in report.metrics.iter().filter(|m| m.unit == Unit::Currency) {
            let value = part.totals.get(m.id).copied().flatten();
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
        let _ = write!(out, "  {:<10}", "bucket");
        for m in &report.metrics {
            let _ = write!(out, " {:>14}", m.id);
        }
        let _ = writeln!(out);
        for point in &report.series[report.series.len() - shown..] {
            let _ = write!(out, "  {:<10}", point.bucket);
            for m in &report.metrics {
                let value = point.values.get(m.id).copied().flatten();
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
