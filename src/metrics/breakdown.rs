//! Breakdowns of the transactions by the values of a text column: the mixes (channel, funding
//! source, type, region, KYC), the decline reasons, the columns offered for filters and
//! segments, and the distributions (histograms) of ticket size and latency.
use super::engine::{bucket_table, is_successful, percentiles, Calendar, Params, Selection};
use crate::ingest::RawTable;
use crate::schema::Status;
use crate::transactions::Transactions;
use serde::Serialize;
use std::collections::HashMap;

/// The definitions, for people: printed in docs/metrics.md under "Mixes and distributions".
pub const DEFINITION: &str = r#"Over the rows left by the filters and the date range:

- **Mixes** by channel, funding source, type, region and KYC level (each when its column is
  mapped): per value, attempts, successful transactions, their volume (TPV gross), the success
  rate (successful / decided), and the value's share of all successful transactions and of TPV
  (gross); per time bucket, successful transactions and volume per value (the stacked bars). The 12
  values with most volume are listed, the rest grouped as "(other)"; an empty cell is "(empty)".
- **Decline reasons**: failed transactions per `decline_reason` value and their share of all
  failed ones, most frequent first; a failed payment without a reason is "(none given)".
- **Segments** (`segment`): every metric, totals and series, per value of the chosen column — the
  10 values with most rows, the rest as "(other)"; each segment is computed as if its value were
  one more filter (so a payer's first payment, for new payers, is their first in the segment).
  Mixes and segments list only values that have rows in the selection.
- **Histograms**: ticket size (amounts of successful transactions above 0) in 1-2-5 steps, which
  read well on a log scale; latency in equal steps up to the 99th percentile, plus one bin for the
  tail up to the maximum. A bin holds `edge[i] <= x < edge[i + 1]`; the last bin includes its top.
"#;

/// Shown for an empty cell.
pub const EMPTY_LABEL: &str = "(empty)";
/// Stands for every value beyond the ones listed.
pub const OTHER_LABEL: &str = "(other)";

/// The group of a value that `Coded::top` does not list.
pub const UNLISTED: u32 = u32::MAX;

/// A text column of the transactions, dictionary-encoded: each transaction's value as an index
/// into `values`.
pub struct Coded {
    pub codes: Vec<u32>,
    pub values: Vec<String>,
}

impl Coded {
    pub fn new(table: &RawTable, column: usize, transactions: &Transactions) -> Coded {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut values: Vec<String> = Vec::new();
        let cells = &table.columns[column];
        let codes = transactions
            .rows
            .iter()
            .map(|&row| {
                let text = cells.get(row as usize).trim();
                *index.entry(text).or_insert_with(|| {
                    values.push(text.to_string());
                    (values.len() - 1) as u32
                })
            })
            .collect();
        Coded { codes, values }
    }

    /// Groups the values: the `keep` largest by `weight` each on its own (largest first), the
    /// rest together as "(other)". Returns each code's group (`UNLISTED` for a value without
    /// `rows`) and the groups' labels.
    pub fn top(&self, weight: &[f64], rows: &[u64], keep: usize) -> (Vec<u32>, Vec<String>) {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by(|&a, &b| {
            weight[b]
                .total_cmp(&weight[a])
                .then_with(|| self.values[a].cmp(&self.values[b]))
        });
        // Values with no selected row are not listed at all.
        order.retain(|&code| rows[code] > 0);
        let mut group_of = vec![UNLISTED; self.values.len()];
        let mut labels: Vec<String> = Vec::new();
        let other = order.len() > keep;
        for (rank, &code) in order.iter().enumerate() {
            if rank < keep || !other {
                group_of[code] = labels.len() as u32;
                labels.push(label(&self.values[code]));
            } else {
                group_of[code] = keep as u32;
            }
        }
        if other {
            labels.push(OTHER_LABEL.to_string());
        }
        (group_of, labels)
    }
}

fn label(value: &str) -> String {
    if value.is_empty() {
        EMPTY_LABEL.to_string()
    } else {
        value.to_string()
    }
}

/// One value of a mix.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MixValue {
    pub value: String,
    pub attempts: u64,
    pub successes: u64,
    /// TPV (gross) of the value.
    pub volume: f64,
    /// Successes / decided attempts (successful + failed).
    pub success_rate: Option<f64>,
    /// Of all successful transactions, and of TPV (gross).
    pub count_share: Option<f64>,
    pub volume_share: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MixPoint {
    pub bucket: String,
    /// Successful transactions and their volume per value, in the order of `values`.
    pub counts: Vec<u64>,
    pub volumes: Vec<f64>,
}

/// The mix of one dimension: by value over the period and per time bucket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breakdown {
    pub dimension: &'static str,
    pub column: String,
    pub values: Vec<MixValue>,
    pub series: Vec<MixPoint>,
}

/// How many values a mix lists before grouping the rest as "(other)".
const MIX_VALUES: usize = 12;

/// The mix of the transactions selected by `selection` over the values of `coded`.
pub fn breakdown(
    (dimension, column): (&'static str, String),
    coded: &Coded,
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    rows: &[usize],
) -> Breakdown {
    let status = transactions.status.as_deref();
    let amount = transactions.amount.as_deref();
    // Rank values by volume, else by successes, else by attempts.
    let mut weight = vec![0.0; coded.values.len()];
    let mut present = vec![0u64; coded.values.len()];
    for &row in rows {
        present[coded.codes[row] as usize] += 1;
        let success = status.is_some_and(|s| is_successful(s[row]));
        let w = match (amount, status) {
            (Some(a), Some(_)) if success && !a[row].is_nan() => a[row],
            (Some(_), Some(_)) => 0.0,
            (None, Some(_)) => f64::from(u8::from(success)),
            _ => 1.0,
        };
        weight[coded.codes[row] as usize] += w;
    }
    let (group_of, labels) = coded.top(&weight, &present, MIX_VALUES);
    let range = selection.range.or(calendar.span);
    let buckets = if calendar.day.is_empty() {
        None
    } else {
        range.and_then(|r| bucket_table(r, params.grain, params.week_start))
    };
    let bucket_count = buckets.as_ref().map_or(0, |b| b.0.len());
    let groups = labels.len();
    let mut attempts = vec![0u64; groups];
    let mut successes = vec![0u64; groups];
    let mut failures = vec![0u64; groups];
    let mut volume = vec![0.0; groups];
    let mut bucket_counts = vec![vec![0u64; groups]; bucket_count];
    let mut bucket_volumes = vec![vec![0.0; groups]; bucket_count];
    for &row in rows {
        let g = group_of[coded.codes[row] as usize] as usize;
        attempts[g] += 1;
        let row_status = status.map(|s| s[row]);
        if row_status == Some(Status::Failed) {
            failures[g] += 1;
        }
        if !row_status.is_some_and(is_successful) {
            continue;
        }
        successes[g] += 1;
        let value = amount.map_or(f64::NAN, |a| a[row]);
        if !value.is_nan() {
            volume[g] += value;
        }
        if let Some((_, first, table)) = &buckets {
            if let Some(&b) = usize::try_from(calendar.day[row] - first)
                .ok()
                .and_then(|i| table.get(i))
            {
                bucket_counts[b as usize][g] += 1;
                if !value.is_nan() {
                    bucket_volumes[b as usize][g] += value;
                }
            }
        }
    }
    let all_successes: u64 = successes.iter().sum();
    let all_volume: f64 = volume.iter().sum();
    let share = |part: f64, whole: f64| (whole > 0.0).then(|| part / whole);
    Breakdown {
        dimension,
        column,
        values: (0..groups)
            .map(|g| MixValue {
                value: labels[g].clone(),
                attempts: attempts[g],
                successes: successes[g],
                volume: volume[g],
                success_rate: share(successes[g] as f64, (successes[g] + failures[g]) as f64),
                count_share: share(successes[g] as f64, all_successes as f64),
                volume_share: amount.and_then(|_| share(volume[g], all_volume)),
            })
            .collect(),
        series: buckets
            .map(|(starts, _, _)| {
                starts
                    .iter()
                    .zip(bucket_counts.into_iter().zip(bucket_volumes))
                    .map(|(&start, (counts, volumes))| MixPoint {
                        bucket: crate::time::bucket_label(start, params.grain),
                        counts,
                        volumes,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The rows of the selection: filters passed and created in the range.
pub fn selected_rows(
    transactions: &Transactions,
    calendar: &Calendar,
    selection: Selection,
) -> Vec<usize> {
    let range = selection.range.or(calendar.span);
    (0..transactions.len)
        .filter(|&row| selection.mask.is_none_or(|m| m[row]))
        .filter(|&row| match (calendar.day.get(row), range) {
            (Some(day), Some((from, to))) => (from..=to).contains(day),
            _ => true,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReasonCount {
    pub value: String,
    pub failures: u64,
    /// Of all failed transactions.
    pub share: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DeclineReasons {
    pub column: String,
    pub values: Vec<ReasonCount>,
}

/// Shown for a failed payment whose reason cell is empty.
pub const NO_REASON_LABEL: &str = "(none given)";

/// Failed transactions of the selection by decline reason, most frequent first.
pub fn decline_reasons(
    column: String,
    coded: &Coded,
    transactions: &Transactions,
    rows: &[usize],
) -> DeclineReasons {
    let Some(status) = transactions.status.as_deref() else {
        return DeclineReasons {
            column,
            values: Vec::new(),
        };
    };
    let mut counts = vec![0u64; coded.values.len()];
    for &row in rows {
        if status[row] == Status::Failed {
            counts[coded.codes[row] as usize] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let mut values: Vec<ReasonCount> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(code, &n)| ReasonCount {
            value: if coded.values[code].is_empty() {
                NO_REASON_LABEL.to_string()
            } else {
                coded.values[code].clone()
            },
            failures: n,
            share: n as f64 / total as f64,
        })
        .collect();
    values.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.value.cmp(&b.value)));
    DeclineReasons { column, values }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DimensionValue {
    pub value: String,
    pub count: u64,
}

/// A column the page offers for filters and segments.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dimension {
    pub column: String,
    /// The role the column plays, if any.
    pub role: Option<&'static str>,
    pub distinct: usize,
    /// The most common values (up to `DIMENSION_VALUES`), most rows first; `""` is empty.
    pub values: Vec<DimensionValue>,
}

/// Columns with more distinct values than this are not offered (ids, amounts, times).
pub const MAX_DIMENSION_DISTINCT: usize = 200;
pub const DIMENSION_VALUES: usize = 50;

/// The columns of `table` with few enough distinct values (over the loaded transactions) to
/// filter or segment by.
pub fn dimension(
    table: &RawTable,
    column: usize,
    role: Option<&'static str>,
    transactions: &Transactions,
) -> Option<Dimension> {
    let cells = &table.columns[column];
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for &row in &transactions.rows {
        let text = cells.get(row as usize).trim();
        if let Some(n) = counts.get_mut(text) {
            *n += 1;
        } else {
            if counts.len() == MAX_DIMENSION_DISTINCT {
                return None;
            }
            counts.insert(text, 1);
        }
    }
    if counts.is_empty() {
        return None;
    }
    let distinct = counts.len();
    let mut values: Vec<DimensionValue> = counts
        .into_iter()
        .map(|(value, count)| DimensionValue {
            value: value.to_string(),
            count,
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    values.truncate(DIMENSION_VALUES);
    Some(Dimension {
        column: table.headers[column].clone(),
        role,
        distinct,
        values,
    })
}

/// A distribution: `counts[i]` values in `edges[i] <= x < edges[i + 1]`, the last bin
/// including its top edge.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Histogram {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// Ticket sizes (amounts of successful transactions) in 1-2-5 steps, which read well on a
/// log scale; latencies in equal steps up to the 99th percentile plus one bin for the tail.
pub fn histograms(transactions: &Transactions, rows: &[usize]) -> Vec<Histogram> {
    let mut out = Vec::new();
    if let (Some(amount), Some(status)) = (&transactions.amount, &transactions.status) {
        let values: Vec<f64> = rows
            .iter()
            .filter(|&&r| is_successful(status[r]) && amount[r] > 0.0)
            .map(|&r| amount[r])
            .collect();
        let mut histogram = Histogram {
            id: "ticket",
            title: "Ticket size",
            unit: "currency",
            edges: one_two_five_edges(&values),
            counts: Vec::new(),
        };
        fill(&mut histogram, &values);
        out.push(histogram);
    }
    if let Some(latency) = &transactions.latency_ms {
        let mut values: Vec<f64> = rows
            .iter()
            .map(|&r| latency[r])
            .filter(|v| !v.is_nan())
            .collect();
        let edges = linear_edges(&mut values);
        let mut histogram = Histogram {
            id: "latency",
            title: "Latency",
            unit: "milliseconds",
            edges,
            counts: Vec::new(),
        };
        fill(&mut histogram, &values);
        out.push(histogram);
    }
    out
}

fn one_two_five_edges(values: &[f64]) -> Vec<f64> {
    let (Some(min), Some(max)) = (
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return Vec::new();
    };
    let mut edge = 10f64.powf(min.log10().floor());
    let mut edges = vec![edge];
    let mut step = 0;
    while edge <= max {
        // 1 -> 2 -> 5 -> 10 ...
        edge = match step % 3 {
            0 => edge * 2.0,
            1 => edge * 2.5,
            _ => edge * 2.0,
        };
        step += 1;
        edges.push(edge);
    }
    edges
}

fn linear_edges(values: &mut [f64]) -> Vec<f64> {
    let p = percentiles(values, &[0.99, 1.0]);
    let (Some(p99), Some(max)) = (p[0], p[1]) else {
        return Vec::new();
    };
    let low = values.first().copied().unwrap_or(0.0).min(0.0);
    let raw = ((p99 - low) / 20.0).max(f64::MIN_POSITIVE);
    let magnitude = 10f64.powf(raw.log10().floor());
    let width = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|w| *w >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut edges = vec![low];
    while edges.last().is_some_and(|&e| e < p99) {
        let next = edges.last().copied().unwrap_or(low) + width;
        edges.push(next);
    }
    if edges.last().is_some_and(|&e| e < max) {
        edges.push(max);
    }
    if edges.len() == 1 {
        edges.push(low + width);
    }
    edges
}

fn fill(histogram: &mut Histogram, values: &[f64]) {
    let edges = &histogram.edges;
    let bins = edges.len().saturating_sub(1);
    let mut counts = vec![0u64; bins];
    if bins > 0 {
        for &v in values {
            // The bin whose lower edge is the last one <= v; the top edge belongs to the last bin.
            let i = edges
                .partition_point(|&e| e <= v)
                .saturating_sub(1)
                .min(bins - 1);
            counts[i] += 1;
        }
    }
    histogram.counts = counts;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_edges_step_one_two_five() {
        let edges = one_two_five_edges(&[3.0, 120.0]);
        assert_eq!(edges, vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0]);
    }

    #[test]
    fn histogram_bins_include_the_top_edge_in_the_last_bin() {
        let mut h = Histogram {
            id: "x",
            title: "x",
            unit: "count",
            edges: vec![0.0, 10.0, 20.0],
            counts: vec![],
        };
        fill(&mut h, &[0.0, 9.9, 10.0, 20.0]);
        assert_eq!(h.counts, vec![2, 2]);
    }
}
