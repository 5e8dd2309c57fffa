//! Breakdowns of the transactions by the values of a text column: the mixes (channel, funding
//! source, type, region, KYC), the decline reasons, the columns offered for filters and
//! segments, and the distributions (histograms) of ticket size and latency.
use super::engine::{
    bucket_table, from_order_key, is_successful, order_key, percentiles, Calendar, Params,
    Selection,
};
use crate::ingest::RawTable;
use crate::schema::{Role, Status};
use crate::transactions::Transactions;
use serde::Serialize;
use std::borrow::Cow;

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
    pub codes: Codes,
    pub values: Vec<String>,
}

/// Each transaction's code, in as few bytes as the number of values allows. The columns mixed,
/// filtered and segmented (channel, status, funding source, type) have a few values each, and
/// the frame keeps every column it codes: at a `u32` a row, the four mixes of a report alone
/// kept 16 bytes a row (1M rows: ~14% of what the frame and a report hold).
pub enum Codes {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Codes {
    /// `codes`, each below `values`, narrowed.
    fn narrow(codes: Vec<u32>, values: usize) -> Codes {
        if values <= 1 << 8 {
            Codes::U8(codes.into_iter().map(|c| c as u8).collect())
        } else if values <= 1 << 16 {
            Codes::U16(codes.into_iter().map(|c| c as u16).collect())
        } else {
            Codes::U32(codes)
        }
    }

    /// The code of transaction `row`.
    #[inline(always)]
    pub fn get(&self, row: usize) -> u32 {
        match self {
            Codes::U8(codes) => u32::from(codes[row]),
            Codes::U16(codes) => u32::from(codes[row]),
            Codes::U32(codes) => codes[row],
        }
    }

    /// Calls `f` with every transaction's code, in order (one loop per width).
    pub fn for_each(&self, f: impl FnMut(u32)) {
        match self {
            Codes::U8(codes) => codes.iter().map(|&c| u32::from(c)).for_each(f),
            Codes::U16(codes) => codes.iter().map(|&c| u32::from(c)).for_each(f),
            Codes::U32(codes) => codes.iter().copied().for_each(f),
        }
    }
}

impl Coded {
    pub fn new(table: &RawTable, column: usize, transactions: &Transactions) -> Coded {
        // Cells are trimmed when read, and joined or derived cells are built from trimmed ones.
        let rows = transactions.rows.iter().map(|&row| row as usize);
        let (codes, values) = table.columns[column].encode(rows, false, UNLISTED);
        Coded {
            codes: Codes::narrow(codes, values.len()),
            values: values.into_iter().map(Cow::into_owned).collect(),
        }
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

/// The time buckets of the selected range (the data's span when no range is chosen); `None`
/// when there are no dated rows.
fn selection_buckets(
    calendar: &Calendar,
    selection: &Selection<'_>,
    params: &Params,
) -> Option<(Vec<i64>, i64, Vec<u32>)> {
    if calendar.day.is_empty() {
        return None;
    }
    let range = selection.range.or(calendar.span)?;
    bucket_table(range, params.grain, params.week_start)
}

/// How many values a mix lists before grouping the rest as "(other)".
pub(crate) const MIX_VALUES: usize = 12;

/// The roles whose columns a report mixes, in the report's order.
pub(crate) const MIX_ROLES: [Role; 5] = [
    Role::Channel,
    Role::FundingSource,
    Role::Type,
    Role::Region,
    Role::Kyc,
];

/// How much a row weighs in ranking a mix's values: its volume when the data has amounts and
/// statuses, else whether it succeeded, else 1 (each attempt).
#[inline(always)]
pub(crate) fn mix_weight(transactions: &Transactions, row: usize, success: bool) -> f64 {
    match (
        transactions.amount.as_deref(),
        transactions.status.as_deref(),
    ) {
        (Some(a), Some(_)) if success && !a[row].is_nan() => a[row],
        (Some(_), Some(_)) => 0.0,
        (None, Some(_)) => f64::from(u8::from(success)),
        _ => 1.0,
    }
}

/// The mixes of the transactions selected by `selection`, one per `(dimension, column, coded)`:
/// the same as `breakdown` for each, from one walk over `rows` for all of them.
///
/// The walk sums by value (code), not by group: the groups are known only once the values'
/// weights are, at the end. A listed group is one value, so its sums are that value's, added in
/// the same order. "(other)" gathers several values, and summing their sums would round
/// differently from summing its rows: a mix with an "(other)" group is walked again by
/// `breakdown` (so are mixes whose per-bucket array would be too large).
///
/// Also gives each mix's `MixGroups`, for `mix_series` at another grain.
pub fn breakdowns(
    dimensions: Vec<(&'static str, String, &Coded)>,
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    rows: &[u32],
) -> (Vec<Breakdown>, Vec<MixGroups>) {
    /// One value's sums. A row touches one of these and one `Cell` per mix: side by side, they
    /// cost a few loads per row rather than one per sum.
    #[derive(Clone, Copy, Default)]
    struct ValueSums {
        present: u64,
        weight: f64,
        successes: u64,
        failures: u64,
        volume: f64,
    }
    /// A mix's sums per value; `cells` are per bucket and value (`bucket * values + code`).
    struct Sums<'a> {
        /// The mix's place in `dimensions`.
        index: usize,
        dimension: &'static str,
        column: String,
        coded: &'a Coded,
        values: Vec<ValueSums>,
        cells: Vec<Cell>,
    }
    let status = transactions.status.as_deref();
    let amount = transactions.amount.as_deref();
    let buckets = selection_buckets(calendar, &selection, params);
    let bucket_count = buckets.as_ref().map_or(0, |b| b.0.len());
    let (mut sums, mut walk_again): (Vec<Sums>, Vec<Sums>) = dimensions
        .into_iter()
        .enumerate()
        .map(|(index, (dimension, column, coded))| Sums {
            index,
            dimension,
            column,
            coded,
            values: vec![ValueSums::default(); coded.values.len()],
            cells: Vec::new(),
        })
        .partition(|s| s.coded.values.len().saturating_mul(bucket_count) <= MAX_BUCKET_CELLS);
    for s in &mut sums {
        s.cells = vec![Cell::default(); s.coded.values.len() * bucket_count];
    }
    if !sums.is_empty() {
        for row in rows.iter().map(|&row| row as usize) {
            let row_status = status.map(|s| s[row]);
            let success = row_status.is_some_and(is_successful);
            let value = amount.map_or(f64::NAN, |a| a[row]);
            let w = mix_weight(transactions, row, success);
            let failed = u64::from(row_status == Some(Status::Failed));
            let bucket = match &buckets {
                Some((_, first, table)) if success => {
                    usize::try_from(i64::from(calendar.day[row]) - first)
                        .ok()
                        .and_then(|i| table.get(i))
                        .map(|&b| b as usize)
                }
                _ => None,
            };
            for s in sums.iter_mut() {
                let code = s.coded.codes.get(row) as usize;
                let v = &mut s.values[code];
                v.present += 1;
                v.weight += w;
                v.failures += failed;
                if !success {
                    continue;
                }
                v.successes += 1;
                if !value.is_nan() {
                    v.volume += value;
                }
                if let Some(b) = bucket {
                    let cell = &mut s.cells[b * s.values.len() + code];
                    cell.count += 1;
                    if !value.is_nan() {
                        cell.volume += value;
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for s in sums {
        let weight: Vec<f64> = s.values.iter().map(|v| v.weight).collect();
        let present: Vec<u64> = s.values.iter().map(|v| v.present).collect();
        let (group_of, labels) = s.coded.top(&weight, &present, MIX_VALUES);
        // The one value of each group, unless a group has several ("(other)").
        let mut code_of = vec![usize::MAX; labels.len()];
        let mut single = true;
        for (code, &group) in group_of.iter().enumerate() {
            if group != UNLISTED {
                let slot = &mut code_of[group as usize];
                single &= *slot == usize::MAX;
                *slot = code;
            }
        }
        if !single {
            walk_again.push(s);
            continue;
        }
        let series = series_of(buckets.as_ref(), &s.cells, s.values.len(), &code_of, params);
        let of_groups = |sum: fn(&ValueSums) -> u64| -> Vec<u64> {
            code_of.iter().map(|&c| sum(&s.values[c])).collect()
        };
        let tallies = Tallies {
            attempts: of_groups(|v| v.present),
            successes: of_groups(|v| v.successes),
            failures: of_groups(|v| v.failures),
            volume: code_of.iter().map(|&c| s.values[c].volume).collect(),
        };
        out.push((
            s.index,
            mix(
                (s.dimension, s.column),
                amount.is_some(),
                labels,
                tallies,
                series,
            ),
            Some(code_of),
        ));
    }
    for s in walk_again {
        out.push((
            s.index,
            breakdown(
                (s.dimension, s.column),
                s.coded,
                transactions,
                calendar,
                params,
                selection,
                rows,
            ),
            None,
        ));
    }
    out.sort_by_key(|(index, _, _)| *index);
    out.into_iter()
        .map(|(_, mix, groups)| (mix, groups))
        .unzip()
}

/// How `breakdowns` summed a mix: `Some` with the code of each listed value, in the mix's order,
/// when each group is one value (summed by value in one walk); `None` when it walked the mix
/// again by group (an "(other)" group, or too many cells per bucket).
pub type MixGroups = Option<Vec<usize>>;

/// Successful transactions and their volume, of one value in one bucket.
#[derive(Clone, Copy, Default)]
struct Cell {
    count: u64,
    volume: f64,
}

/// A mix's points per bucket from its cells (`bucket * values + code`), its groups' codes in order.
fn series_of(
    buckets: Option<&(Vec<i64>, i64, Vec<u32>)>,
    cells: &[Cell],
    values: usize,
    code_of: &[usize],
    params: &Params,
) -> Vec<MixPoint> {
    let Some((starts, _, _)) = buckets else {
        return Vec::new();
    };
    starts
        .iter()
        .enumerate()
        .map(|(b, &start)| MixPoint {
            bucket: crate::time::bucket_label(start, params.grain),
            counts: code_of
                .iter()
                .map(|&c| cells[b * values + c].count)
                .collect(),
            volumes: code_of
                .iter()
                .map(|&c| cells[b * values + c].volume)
                .collect(),
        })
        .collect()
}

/// The mixes of `breakdowns` at another grain (or week start) of the same rows: `known` (with
/// their `groups`) at any grain give every value's sums, which do not depend on the grain, so
/// only the per-bucket cells are summed, in a walk over the successful rows that adds the same
/// values in the same order as `breakdowns` (the same bits). A mix `breakdowns` walked again by
/// group, or whose cells would now be too many, is computed whole by `breakdown`, as
/// `breakdowns` would. Why: the mixes were ~8% of a change of grain with a segment on 1M rows.
#[allow(clippy::too_many_arguments)]
pub fn mix_series(
    dimensions: Vec<(&'static str, String, &Coded)>,
    known: &[Breakdown],
    groups: &[MixGroups],
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    rows: &[u32],
) -> Vec<Breakdown> {
    let buckets = selection_buckets(calendar, &selection, params);
    let bucket_count = buckets.as_ref().map_or(0, |b| b.0.len());
    // (mix, coded, its groups' codes, its cells) for the mixes summed here.
    let mut walked: Vec<(usize, &Coded, &[usize], Vec<Cell>)> = Vec::new();
    let mut out: Vec<Option<Breakdown>> = Vec::with_capacity(dimensions.len());
    for (index, (dimension, column, coded)) in dimensions.into_iter().enumerate() {
        let cells = coded.values.len().saturating_mul(bucket_count);
        match (groups.get(index), known.get(index)) {
            (Some(Some(code_of)), Some(_)) if cells <= MAX_BUCKET_CELLS => {
                walked.push((index, coded, code_of, vec![Cell::default(); cells]));
                out.push(None);
            }
            _ => out.push(Some(breakdown(
                (dimension, column),
                coded,
                transactions,
                calendar,
                params,
                selection,
                rows,
            ))),
        }
    }
    let walk = buckets.as_ref().filter(|_| !walked.is_empty());
    if let (Some((_, first, table)), Some(status)) = (walk, transactions.status.as_deref()) {
        let amount = transactions.amount.as_deref();
        for row in rows.iter().map(|&row| row as usize) {
            if !is_successful(status[row]) {
                continue;
            }
            let Some(b) = usize::try_from(i64::from(calendar.day[row]) - first)
                .ok()
                .and_then(|i| table.get(i))
                .map(|&b| b as usize)
            else {
                continue;
            };
            let value = amount.map_or(f64::NAN, |a| a[row]);
            for (_, coded, _, cells) in walked.iter_mut() {
                let n = coded.values.len();
                let cell = &mut cells[b * n + coded.codes.get(row) as usize];
                cell.count += 1;
                if !value.is_nan() {
                    cell.volume += value;
                }
            }
        }
    }
    for (index, coded, code_of, cells) in walked {
        let mut mix = known[index].clone();
        mix.series = series_of(
            buckets.as_ref(),
            &cells,
            coded.values.len(),
            code_of,
            params,
        );
        out[index] = Some(mix);
    }
    out.into_iter().flatten().collect()
}

/// Per-bucket cells (buckets x values) beyond which `breakdowns` leaves a mix to `breakdown`,
/// whose per-bucket arrays are per group: a column of thousands of values over a long daily range.
const MAX_BUCKET_CELLS: usize = 1 << 22;

/// A mix's sums per group.
pub(crate) struct Tallies {
    pub(crate) attempts: Vec<u64>,
    pub(crate) successes: Vec<u64>,
    pub(crate) failures: Vec<u64>,
    pub(crate) volume: Vec<f64>,
}

/// The mix from its groups' labels and sums.
pub(crate) fn mix(
    (dimension, column): (&'static str, String),
    has_amount: bool,
    labels: Vec<String>,
    t: Tallies,
    series: Vec<MixPoint>,
) -> Breakdown {
    let all_successes: u64 = t.successes.iter().sum();
    let all_volume: f64 = t.volume.iter().sum();
    let share = |part: f64, whole: f64| (whole > 0.0).then(|| part / whole);
    Breakdown {
        dimension,
        column,
        values: labels
            .into_iter()
            .enumerate()
            .map(|(g, value)| MixValue {
                value,
                attempts: t.attempts[g],
                successes: t.successes[g],
                volume: t.volume[g],
                success_rate: share(
                    t.successes[g] as f64,
                    (t.successes[g] + t.failures[g]) as f64,
                ),
                count_share: share(t.successes[g] as f64, all_successes as f64),
                volume_share: has_amount.then(|| share(t.volume[g], all_volume)).flatten(),
            })
            .collect(),
        series,
    }
}

/// The mix of the transactions selected by `selection` over the values of `coded`.
pub fn breakdown(
    (dimension, column): (&'static str, String),
    coded: &Coded,
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    rows: &[u32],
) -> Breakdown {
    let status = transactions.status.as_deref();
    let amount = transactions.amount.as_deref();
    // Rank values by volume, else by successes, else by attempts.
    let mut weight = vec![0.0; coded.values.len()];
    let mut present = vec![0u64; coded.values.len()];
    for row in rows.iter().map(|&row| row as usize) {
        present[coded.codes.get(row) as usize] += 1;
        let success = status.is_some_and(|s| is_successful(s[row]));
        weight[coded.codes.get(row) as usize] += mix_weight(transactions, row, success);
    }
    let (group_of, labels) = coded.top(&weight, &present, MIX_VALUES);
    let buckets = selection_buckets(calendar, &selection, params);
    let bucket_count = buckets.as_ref().map_or(0, |b| b.0.len());
    let groups = labels.len();
    let mut attempts = vec![0u64; groups];
    let mut successes = vec![0u64; groups];
    let mut failures = vec![0u64; groups];
    let mut volume = vec![0.0; groups];
    let mut bucket_counts = vec![vec![0u64; groups]; bucket_count];
    let mut bucket_volumes = vec![vec![0.0; groups]; bucket_count];
    for row in rows.iter().map(|&row| row as usize) {
        let g = group_of[coded.codes.get(row) as usize] as usize;
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
            if let Some(&b) = usize::try_from(i64::from(calendar.day[row]) - first)
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
    let series = buckets
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
        .unwrap_or_default();
    let tallies = Tallies {
        attempts,
        successes,
        failures,
        volume,
    };
    mix(
        (dimension, column),
        amount.is_some(),
        labels,
        tallies,
        series,
    )
}

/// The rows of the selection: filters passed and created in the range.
pub fn selected_rows(
    transactions: &Transactions,
    calendar: &Calendar,
    selection: Selection,
) -> Vec<u32> {
    let rows = 0..transactions.len as u32;
    let day = &calendar.day;
    // Without a chosen range the period is the data's span, which holds every row's day: only
    // the filters select (a check per row fewer, and none at all without filters).
    match (selection.mask, selection.range, day.is_empty()) {
        (None, None, _) | (None, _, true) => rows.collect(),
        (Some(mask), None, _) | (Some(mask), _, true) => {
            rows.filter(|&row| mask[row as usize]).collect()
        }
        (mask, Some((from, to)), false) => rows
            .filter(|&row| {
                let row = row as usize;
                mask.is_none_or(|m| m[row]) && (from..=to).contains(&i64::from(day[row]))
            })
            .collect(),
    }
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
    rows: &[u32],
) -> DeclineReasons {
    let Some(status) = transactions.status.as_deref() else {
        return DeclineReasons {
            column,
            values: Vec::new(),
        };
    };
    let mut counts = vec![0u64; coded.values.len()];
    for row in rows.iter().map(|&row| row as usize) {
        if status[row] == Status::Failed {
            counts[coded.codes.get(row) as usize] += 1;
        }
    }
    reasons_of(column, &coded.values, &counts)
}

/// The decline reasons from each value's failed transactions (`counts`, by code).
pub(crate) fn reasons_of(column: String, reasons: &[String], counts: &[u64]) -> DeclineReasons {
    let total: u64 = counts.iter().sum();
    let mut values: Vec<ReasonCount> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(code, &n)| ReasonCount {
            value: if reasons[code].is_empty() {
                NO_REASON_LABEL.to_string()
            } else {
                reasons[code].clone()
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

/// The column `column` of `table` as a dimension, if it has few enough distinct values (over
/// the loaded transactions) to filter or segment by.
pub fn dimension(
    table: &RawTable,
    column: usize,
    role: Option<&'static str>,
    transactions: &Transactions,
) -> Option<Dimension> {
    let counts = dimension_counts(table, column, transactions)?;
    dimension_of(&table.headers[column], role, counts)
}

/// How many of the loaded transactions hold each value of column `column`; `None` past
/// `MAX_DIMENSION_DISTINCT` values.
pub(crate) fn dimension_counts<'a>(
    table: &'a RawTable,
    column: usize,
    transactions: &Transactions,
) -> Option<Vec<(Cow<'a, str>, u64)>> {
    let rows = transactions.rows.iter().map(|&row| row as usize);
    table.columns[column].value_counts(rows, MAX_DIMENSION_DISTINCT)
}

/// The dimension of a column from the rows of each of its values (at most
/// `MAX_DIMENSION_DISTINCT`); `None` when it has none.
pub(crate) fn dimension_of<S: ToString>(
    column: &str,
    role: Option<&'static str>,
    counts: impl IntoIterator<Item = (S, u64)>,
) -> Option<Dimension> {
    let mut values: Vec<DimensionValue> = counts
        .into_iter()
        .map(|(value, count)| DimensionValue {
            value: value.to_string(),
            count,
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    let distinct = values.len();
    values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    values.truncate(DIMENSION_VALUES);
    Some(Dimension {
        column: column.to_string(),
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
/// `latency_tail` is the 99th percentile and the largest of the rows' latencies when the caller
/// has them (the engine selects them over the same rows), so that they are not selected again.
pub fn histograms(
    transactions: &Transactions,
    rows: &[u32],
    latency_tail: Option<(f64, f64)>,
) -> Vec<Histogram> {
    let mut out = Vec::new();
    if let (Some(amount), Some(status)) = (&transactions.amount, &transactions.status) {
        let mut values: Vec<f64> = Vec::with_capacity(rows.len());
        values.extend(
            rows.iter()
                .map(|&r| r as usize)
                .filter(|&r| is_successful(status[r]) && amount[r] > 0.0)
                .map(|r| amount[r]),
        );
        let mut histogram = ticket_histogram(one_two_five_edges(&values));
        fill(&mut histogram, &values);
        out.push(histogram);
    }
    if let Some(latency) = &transactions.latency_ms {
        let mut values: Vec<f64> = Vec::with_capacity(rows.len());
        values.extend(
            rows.iter()
                .map(|&r| latency[r as usize])
                .filter(|v| !v.is_nan()),
        );
        let edges = match latency_tail {
            // `linear_edges` starts at the smaller of 0 and whichever value its selection leaves
            // first: 0 when no value is negative, whichever that is.
            Some((p99, max)) if !values.iter().any(|v| v.is_sign_negative()) => {
                edges_up_to(0.0, p99, max)
            }
            _ => linear_edges(&mut values),
        };
        let mut histogram = latency_histogram(edges);
        fill(&mut histogram, &values);
        out.push(histogram);
    }
    out
}

/// The ticket-size histogram with `edges`, its counts 0.
pub(crate) fn ticket_histogram(edges: Vec<f64>) -> Histogram {
    Histogram {
        id: "ticket",
        title: "Ticket size",
        unit: "currency",
        counts: vec![0; edges.len().saturating_sub(1)],
        edges,
    }
}

/// The latency histogram with `edges`, its counts 0.
pub(crate) fn latency_histogram(edges: Vec<f64>) -> Histogram {
    Histogram {
        id: "latency",
        title: "Latency",
        unit: "milliseconds",
        counts: vec![0; edges.len().saturating_sub(1)],
        edges,
    }
}

fn one_two_five_edges(values: &[f64]) -> Vec<f64> {
    // Compared with `<` and `>` rather than `f64::min` and `max`, which wasm calls as functions
    // (their NaN rule): the values are amounts above 0, never NaN, so the extremes are the same.
    let Some(&first) = values.first() else {
        return Vec::new();
    };
    let (min, max) = values.iter().fold((first, first), |(min, max), &v| {
        (if v < min { v } else { min }, if v > max { v } else { max })
    });
    one_two_five_edges_of(min, max)
}

/// Edges in 1-2-5 steps from the power of ten at or below `min` past `max` (amounts above 0).
pub(crate) fn one_two_five_edges_of(min: f64, max: f64) -> Vec<f64> {
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
    edges_up_to(low, p99, max)
}

/// Equal steps of a round width from `low` past `p99`, then one bin up to `max`.
pub(crate) fn edges_up_to(low: f64, p99: f64, max: f64) -> Vec<f64> {
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
    let binner = Binner::new(&histogram.edges);
    let mut counts = vec![0u64; binner.bins];
    for &v in values {
        if let Some(bin) = binner.bin(v) {
            counts[bin] += 1;
        }
    }
    histogram.counts = counts;
}

/// Finds the bin of a value among ascending edges: the bin whose lower edge is the last one
/// <= v (the first bin below the first edge); the top edge belongs to the last bin. (The streamed
/// report counts its values in batches with it too.)
pub(crate) struct Binner {
    bins: usize,
    /// The upper edges, then a NaN (see `bin`).
    upper: Vec<f64>,
    /// `edges_below_cells` of the upper edges.
    below: Vec<u32>,
}

impl Binner {
    pub(crate) fn new(edges: &[f64]) -> Binner {
        let bins = edges.len().saturating_sub(1);
        let mut upper = edges.get(1..).unwrap_or_default().to_vec();
        upper.push(f64::NAN);
        let below = match bins {
            0 => Vec::new(),
            _ => edges_below_cells(&upper[..bins]),
        };
        Binner { bins, upper, below }
    }

    /// The bin of `v`; `None` when there are no bins.
    pub(crate) fn bin(&self, v: f64) -> Option<usize> {
        if self.bins == 0 {
            return None;
        }
        // A NaN is at or above no edge (the callers leave NaNs out).
        if v.is_nan() {
            return Some(0);
        }
        // The count of upper edges at or below v, at most the last bin. Edges ascend, so that
        // count is found from the one at the start of v's cell (`below`, a sixteenth of an
        // octave), plus the edges within the cell, rarely more than one: rather than by
        // comparing v with every edge (1M rows: 2M values against ~20 edges took a tenth of a
        // report). The NaN ends `upper`, at or below no value, so that the step past the last
        // edge needs no bounds check.
        let upper = &self.upper;
        let mut i = self.below[(order_key(v) >> CELL_SHIFT) as usize] as usize;
        // The first edge within the cell, without a branch; then any more.
        i += usize::from(upper[i] <= v);
        while upper[i] <= v {
            i += 1;
        }
        Some(i.min(self.bins - 1))
    }
}

/// `order_key` shifted by this keeps its top 16 bits: the sign, the exponent and 4 bits of the
/// mantissa, so that each value of the shifted key is a sixteenth of an octave of numbers.
const CELL_SHIFT: u32 = 48;

/// For each cell of numbers (see `CELL_SHIFT`), how many of the ascending `edges` are at or below
/// its smallest number: the count for every number of the cell but the edges within it.
fn edges_below_cells(edges: &[f64]) -> Vec<u32> {
    let mut below = Vec::with_capacity(1 << (64 - CELL_SHIFT));
    let mut count = 0;
    for cell in 0..1u64 << (64 - CELL_SHIFT) {
        let smallest = from_order_key(cell << CELL_SHIFT);
        while count < edges.len() && edges[count] <= smallest {
            count += 1;
        }
        below.push(count as u32);
    }
    below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_take_the_fewest_bytes_their_values_allow() {
        for (values, width) in [(1, 1), (256, 1), (257, 2), (65_536, 2), (65_537, 4)] {
            let codes: Vec<u32> = (0..values as u32).chain([values as u32 - 1, 0]).collect();
            let narrow = Codes::narrow(codes.clone(), values);
            let got = match &narrow {
                Codes::U8(_) => 1,
                Codes::U16(_) => 2,
                Codes::U32(_) => 4,
            };
            assert_eq!(got, width, "{values} values");
            assert!((0..codes.len()).all(|row| narrow.get(row) == codes[row]));
            let mut each = Vec::new();
            narrow.for_each(|code| each.push(code));
            assert_eq!(each, codes);
        }
    }

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

    #[test]
    fn bins_found_from_cells_are_those_of_every_edge_compared() {
        let edge_sets = [
            vec![
                -50.0, -0.0, 0.0, 1e-310, 0.1, 0.2, 0.5, 1.0, 1.0, 3.0, 1e300,
            ],
            (0..40).map(|i| -100.0 + 7.3 * f64::from(i)).collect(),
            vec![5.0],
            vec![1.0, 2.0],
        ];
        let mut values = vec![f64::INFINITY, -f64::INFINITY, -0.0, 0.0, 1e-320, -1e-320];
        values.extend(edge_sets.iter().flatten().copied());
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(f64::from_bits(x));
            values.push((x % 20_000) as f64 / 97.0 - 103.0);
        }
        values.retain(|v| !v.is_nan());
        for edges in edge_sets {
            let bins = edges.len().saturating_sub(1);
            let mut want = vec![0u64; bins];
            for &v in &values {
                let i = edges[1..].iter().filter(|&&e| e <= v).count();
                if bins > 0 {
                    want[i.min(bins - 1)] += 1;
                }
            }
            let mut h = Histogram {
                id: "x",
                title: "x",
                unit: "count",
                edges,
                counts: vec![],
            };
            fill(&mut h, &values);
            assert_eq!(h.counts, want, "{:?}", h.edges);
        }
    }
}
