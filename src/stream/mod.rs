//! The streamed report (`paymetrics report --stream`): a file of any size folded, a batch of
//! rows at a time, into state whose size depends on the days, payers and merchants it holds,
//! not on its rows.
//!
//! Why a second path: the in-memory report (`report::analyze`) keeps every row, ~170 bytes a
//! row with its frame, so a file larger than the memory cannot be read whole. Here each batch of
//! rows (`Batching`) is read and typed as the in-memory path reads and types a file
//! (`report::build_frame` on the batch, with the first batch's mapping and time zone), folded,
//! and dropped. What is kept:
//! - each local day's counts and sums (`Tally::add_counts`);
//! - each (payer, day) with a payment, 8 bytes, and apart those by a verified payer and those
//!   with a second payment: active, new and verified payers, the trailing windows, the funnel
//!   and retention follow from them (the distinct-count sets: they grow with the payers and
//!   their days, not the rows). New and returning payers'
//!   volume is summed in the second read, once each payer's first day is known;
//! - each (merchant, day) with a payment, and its volume: active merchants, top-10 share, HHI;
//! - each mix's sums per (value, day): the mixes by channel, funding source, type, region and
//!   KYC (`breakdown::mix`, from the same `mix_weight`), and the decline reasons (failed
//!   transactions per reason and day);
//! - a histogram per metric and day of the percentiles' values, whose exact ranks are then
//!   found in more reads of the file (`ranks`). Payments not settled are judged against the SLA
//!   in the second read too: their age counts to the data's last time, known after the first.
//!
//! Each metric is defined once: rows give the same `RowFacts`, `Tally`, `Sampled` values and
//! `CatalogReader` metrics as in memory. Counts, distinct counts and percentiles are the same;
//! sums may differ in their last bits, being added in another order.
//!
//! Filters fold only the rows they keep, in every read; lookups (held in memory) are joined to
//! each batch and derived columns computed on it, as `report::build_frame` does for a whole file.
//! The funnel and retention follow from the payers' days (with a users file's signups), as in
//! memory (`report::cohorts_of`). The histograms are counted in the second read (`Histograms`).
//! The segments are a fold per group of values, read together after the file's
//! (`stream_segments`). Custom metrics fold each aggregate per day (`custom`). Mixed currencies
//! need exchange rates.
mod custom;
mod ranks;

use crate::dataset::{Dataset, Derived};
use crate::error::{Error, ErrorKind, Result};
use crate::ingest::{CsvStream, RawTable};
use crate::join::{JoinOutcome, JoinSpec, UNMATCHED_EXAMPLES};
use crate::metrics::breakdown::{
    dimension_counts, dimension_of, edges_up_to, latency_histogram, mix, mix_weight,
    one_two_five_edges_of, reasons_of, ticket_histogram, Binner, Breakdown, Coded, Codes,
    DeclineReasons, Histogram, MixPoint, Tallies, MAX_DIMENSION_DISTINCT, MIX_ROLES, MIX_VALUES,
    UNLISTED,
};
use crate::metrics::custom::Tallies as CustomValues;
use crate::metrics::engine::{
    bucket_table, concentration, from_order_key, is_successful, order_key, sla_millis,
    ActiveWindows, Bucket, Computed, RowFacts, Sampled, Settlement, Tally,
};
use crate::metrics::funnel::{find_users_table, Funnel, PaymentsByUser, UserIndex};
use crate::metrics::retention::Retention;
use crate::options::{CohortBasis, Filter, Options};
use crate::quality::{Quality, SkipLog};
use crate::report::{
    add_view_warnings, build_frame, check_definitions, cohorts_of, column_named,
    dimension_candidates, filter_mask, parse_range, place_custom_metrics, role_mappings,
    unmapped_columns, CatalogReader, CustomOutcome, CustomPlaces, CustomTallies, Dates, Frame,
    LookupQuality, Report, ReportParams, Segment, Segments, Signups, StatusValue, SEGMENT_VALUES,
};
use crate::schema::{Mapping, Role, Status};
use crate::time::Zone;
use crate::time::{bucket_label, Grain, WeekStart};
use crate::transactions::{Transactions, NO_ID};
use custom::{Batch, CustomFold};
use ranks::{first_bin, Selection};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::rc::Rc;

type Map<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
type Set<K> = HashSet<K, foldhash::fast::FixedState>;

/// A payer's day in `Fold::payer_days`.
fn payer_day(payer: u32, day: i32) -> u64 {
    (u64::from(payer) << 32) | u64::from(day as u32)
}

fn payer_and_day(key: u64) -> (u32, i32) {
    ((key >> 32) as u32, key as u32 as i32)
}

/// How much a streamed report holds at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Batching {
    /// Rows typed and folded at a time (at least: a batch ends after a chunk).
    pub rows: usize,
    /// Bytes read from the source at a time.
    pub chunk_bytes: usize,
    /// The most percentile values kept in one read of the file (see `ranks`).
    pub keep_values: u64,
}

impl Default for Batching {
    /// A batch of 1,048,576 rows takes ~170 MB with its frame; the values kept, 32 MB.
    fn default() -> Batching {
        Batching {
            rows: 1 << 20,
            chunk_bytes: 1 << 20,
            keep_values: 1 << 22,
        }
    }
}

/// How far a read of the file has got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamProgress {
    /// Which read of the file this is, from 1.
    pub read: u32,
    pub bytes: u64,
    /// Data records read so far in this read.
    pub rows: u64,
}

/// Opens the file's bytes, once per read.
pub type Open<'a> = dyn FnMut() -> std::io::Result<Box<dyn Read + 'a>> + 'a;

/// The streamed report of `file`, whose bytes `open` gives (once per read of the file, see the
/// module's documentation), with `lookups` to join as `options.joins` say (they are held in
/// memory), under `options`. `progress` is called as the bytes are read.
pub fn stream_report(
    file: &str,
    open: &mut Open,
    lookups: &[RawTable],
    options: &Options,
    batching: Batching,
    progress: &mut dyn FnMut(StreamProgress),
) -> Result<Report> {
    let mut kept = None;
    let source = (file, open, lookups);
    stream_report_keeping(source, options, batching, progress, &mut kept)
}

/// What the reads of a file found under some data options (`Folded::key`), kept between the
/// views of a host that reports the same file again (the page): a view that changes only the
/// grain, week start or range then reads the file once (for its percentiles and new payers'
/// volume) rather than twice. It holds the distinct-count sets, so it takes the memory the
/// report took; it belongs to one file and its lookups: drop it when either changes.
pub struct Folded {
    key: String,
    fold: Fold,
    first: First,
}

impl Folded {
    /// What each custom metric definition would give on the file (its columns, with lookups
    /// joined and columns derived, and its mapping, as the first batch had them), without
    /// reading it: the page's metric editor checks a definition as it is typed.
    pub fn check_custom_metrics(&self, definitions: &[String]) -> Vec<CustomOutcome> {
        let table = RawTable::of_headers(&self.first.quality.file, &self.first.headers);
        check_definitions(&table, &self.first.mapping, definitions)
    }
}

/// The options the fold depends on: all but the view's period and buckets.
fn fold_key(options: &Options) -> String {
    let data = Options {
        grain: Default::default(),
        week_start: Default::default(),
        range: None,
        funnel_days: None,
        cohort: None,
        // Counted in the first read, or with the percentiles when a kept fold lacks them.
        segment: None,
        ..options.clone()
    };
    format!("{data:?}")
}

/// `stream_report`, reusing and then keeping in `kept` the file's fold (see `Folded`).
pub fn stream_report_keeping(
    (file, open, lookups): (&str, &mut Open, &[RawTable]),
    options: &Options,
    batching: Batching,
    progress: &mut dyn FnMut(StreamProgress),
    kept: &mut Option<Folded>,
) -> Result<Report> {
    let chosen = options.range.as_ref().map(parse_range).transpose()?;
    let key = fold_key(options);
    // `judged`: the payments not settled have been judged against the SLA (in a second read).
    let (mut fold, first, mut reads, judged) = match kept.take() {
        Some(folded) if folded.key == key => (folded.fold, folded.first, 0, true),
        _ => {
            let mut fold = Fold::new(options);
            fold.segment = options.segment.as_deref().map(SegmentCounts::new);
            read_batches(file, open, (1, batching), progress, &mut |table| {
                let headers = table.headers.clone();
                fold.add(dataset_of(table, lookups))?;
                Ok(fold.first_read_columns(&headers))
            })?;
            let first = fold
                .first
                .take()
                .ok_or_else(|| Error::new(ErrorKind::Empty))?;
            (fold, first, 1, false)
        }
    };
    fold.check_currency(options, &first)?;

    let range = chosen.or(fold.span);
    let periods = Periods {
        range,
        previous: chosen.map(|(from, to)| (from - (to - from + 1), from - 1)),
        buckets: range.and_then(|r| bucket_table(r, options.grain, options.week_start)),
    };
    // More reads: the percentiles' ranks; in the second, the SLA of payments not settled and
    // new and returning payers' volume.
    let mut ranking = Ranking::new(&fold, &periods, batching.keep_values, judged);
    // The histograms are counted in the same read as the second's parts (the latency's values,
    // by value: its edges need the 99th percentile, known once the ranks are found).
    let mut histograms = Histograms::new(&fold, &first, periods.range, batching.keep_values);
    // A kept fold counted another segment column, or none: the view's is counted in that read.
    let wanted = options.segment.as_deref();
    let mut counting = match fold.segment.as_ref().map(|s| s.name.as_str()) == wanted {
        true => None,
        false => wanted.map(SegmentCounts::new),
    };
    if counting.is_some() || wanted.is_none() {
        fold.segment = None;
    }
    let sla = sla_millis(options.sla_hours());
    while ranking.reading() {
        reads += 1;
        let second = ranking.second_read();
        let pinned = &fold.values_only(second);
        let source = (file, &mut *open, lookups);
        let name = counting.as_ref().map(|c| c.name.clone());
        read_again(
            source,
            (pinned, name.as_deref()),
            (reads, batching),
            progress,
            &mut |dataset, frame, rows| {
                if second {
                    histograms.see(frame, rows);
                    if let Some(counts) = counting.as_mut() {
                        counts.count(frame.table(dataset), frame, rows)?;
                    }
                }
                ranking.see(&mut fold, (dataset, frame, rows), &periods, sla)
            },
        )?;
        if let Some(counts) = counting.take() {
            fold.segment = Some(counts);
        }
        ranking.end_read(&mut fold);
    }
    // The latency histogram's edges, from the range's 99th percentile and largest value.
    let latency = fold.sampled.iter().position(|s| *s == Sampled::Latency);
    let tail = latency.and_then(|index| {
        let group = index * periods.count();
        let found = |q| ranking.quantile(q, group);
        found(0.99).zip(found(1.0))
    });
    if histograms.bin_latencies(tail) {
        // Too many latency values to count by value: one more read, with the edges known.
        reads += 1;
        let pinned = &fold.values_only(false);
        let source = (file, &mut *open, lookups);
        read_again(
            source,
            (pinned, None),
            (reads, batching),
            progress,
            &mut |_, frame, rows| {
                histograms.count_latencies(frame, rows);
                Ok(())
            },
        )?;
    }
    let (segments, segments_custom) = match &fold.segment {
        Some(counts) => {
            let catalog = CatalogReader::unmixed(&first.mapping);
            let source = (file, &mut *open, lookups);
            let view = (&periods, options, (&catalog, first.zone));
            let (segments, custom) = stream_segments(
                source,
                &fold,
                counts,
                view,
                (&mut reads, batching),
                progress,
            )?;
            (Some(segments), custom)
        }
        None => (None, Vec::new()),
    };
    let read = (reads, batching.rows);
    let (funnel, retention, mut notes) = fold.cohorts(&first, lookups, periods.range, options);
    if histograms.latency_left_out {
        notes.push(
            "the latency histogram needs the file in memory when a latency is negative".into(),
        );
    }
    let found = (&ranking.selection, &ranking.counts[..]);
    let report = fold.report(
        &first,
        options,
        &periods,
        found,
        read,
        (funnel, retention, notes),
    );
    let mut report = Report {
        histograms: histograms.finish(),
        segments,
        lookups: lookups
            .iter()
            .map(|t| LookupQuality {
                quality: Quality::of_table(t),
                columns: t.headers.clone(),
            })
            .collect(),
        ..report
    };
    if let (Some(custom), Some((period, previous))) =
        (&fold.custom, fold.custom_tallies(&periods, found))
    {
        if let Some(parsed) = custom.parsed() {
            let tallies = CustomTallies {
                period,
                previous,
                segments: segments_custom,
            };
            let places = CustomPlaces {
                metrics: &mut report.metrics,
                series: &mut report.series,
                previous_totals: &mut report.previous_totals,
                segments: report.segments.as_mut(),
                // Mixed currencies are converted or refused.
                mixed_note: None,
            };
            report.custom = place_custom_metrics(custom.definitions(), parsed, tallies, places);
            report.totals = (report.metrics.iter())
                .map(|m| (m.id.clone(), m.value))
                .collect();
        }
    }
    *kept = Some(Folded { key, fold, first });
    Ok(report)
}

/// Reads the file once, handing `fold` a table of up to `BATCH_ROWS` rows at a time.
fn read_batches(
    file: &str,
    open: &mut Open,
    (read, batching): (u32, Batching),
    progress: &mut dyn FnMut(StreamProgress),
    fold: &mut dyn FnMut(RawTable) -> Result<Vec<bool>>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::new(ErrorKind::Io(e.to_string())).in_file(file);
    let mut input = open().map_err(io)?;
    let mut stream = CsvStream::new(file);
    let mut left = false;
    let mut chunk = vec![0; batching.chunk_bytes.max(1)];
    loop {
        let got = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        stream.push(&chunk[..got])?;
        let at = stream.progress();
        progress(StreamProgress {
            read,
            bytes: at.bytes,
            rows: at.rows,
        });
        if stream.rows_kept() >= batching.rows {
            if let Some(table) = stream.take_rows() {
                let read = fold(table)?;
                // The next batches' cells of columns no typed role reads are not stored.
                if !left {
                    let unread: Vec<bool> = read.iter().map(|read| !read).collect();
                    stream.leave_columns(&unread);
                    left = true;
                }
            }
        }
    }
    fold(stream.finish()?).map(|_| ())
}

/// The segments of a view, as `report_from` makes them: a fold per group of the segment
/// column's values (the 10 with most rows in the range, the rest as "(other)"), each group's rows
/// as one more filter, with payers of their own. The groups' folds are read together: once for
/// their folds (sharing each batch's frame), then for their ranks and new payers' volume.
fn stream_segments(
    (file, open, lookups): (&str, &mut Open, &[RawTable]),
    main: &Fold,
    counts: &SegmentCounts,
    (periods, options, (catalog, zone)): (&Periods, &Options, (&CatalogReader, Zone)),
    (reads, batching): (&mut u32, Batching),
    progress: &mut dyn FnMut(StreamProgress),
) -> Result<(Segments, Vec<CustomValues>)> {
    let (group_of, labels) = counts.groups(periods.range);
    let mut folds: Vec<Fold> = (0..labels.len())
        .map(|group| {
            let values = (counts.values.iter().zip(&group_of))
                .filter(|(_, &g)| g as usize == group)
                .map(|(value, _)| value.clone())
                .collect();
            let mut pinned = main.pinned.clone();
            pinned.filters.push(Filter {
                column: counts.header.clone(),
                values,
                exclude: false,
            });
            let mut fold = Fold::new(&pinned);
            fold.lean = true;
            fold.users = Rc::clone(&main.users);
            fold.shares_payers = true;
            fold
        })
        .collect();
    let Some(read_as) = folds.first().map(|fold| fold.pinned.clone()) else {
        let segments = Segments {
            column: counts.header.clone(),
            values: Vec::new(),
        };
        return Ok((segments, Vec::new()));
    };
    *reads += 1;
    read_batches(file, open, (*reads, batching), progress, &mut |table| {
        let dataset = dataset_of(table, lookups);
        let frame = build_frame(&dataset, &main.pinned)?;
        for fold in folds.iter_mut() {
            fold.add_frame(&dataset, &frame)?;
        }
        Ok(read_columns(&read_as, &dataset.transactions.headers))
    })?;
    let keep = batching.keep_values / folds.len() as u64;
    let mut rankings: Vec<Ranking> = (folds.iter())
        .map(|fold| Ranking::new(fold, periods, keep, false))
        .collect();
    let sla = sla_millis(options.sla_hours());
    while rankings.iter().any(Ranking::reading) {
        *reads += 1;
        let payers = rankings.iter().any(Ranking::second_read);
        let pinned = folds[0].values_only(payers);
        let reading: Vec<bool> = rankings.iter().map(Ranking::reading).collect();
        read_batches(file, open, (*reads, batching), progress, &mut |table| {
            let dataset = dataset_of(table, lookups);
            let frame = build_frame(&dataset, &pinned)?;
            let groups = folds.iter_mut().zip(rankings.iter_mut()).zip(&reading);
            for ((fold, ranking), _) in groups.filter(|(_, &reading)| reading) {
                let rows = Kept::of(&dataset, &frame, &fold.pinned.filters)?;
                ranking.see(fold, (&dataset, &frame, &rows), periods, sla)?;
            }
            Ok(read_columns(&pinned, &dataset.transactions.headers))
        })?;
        let groups = folds.iter_mut().zip(rankings.iter_mut()).zip(&reading);
        for ((fold, ranking), _) in groups.filter(|(_, &reading)| reading) {
            ranking.end_read(fold);
        }
    }
    let values = (folds.iter().zip(&rankings).zip(labels))
        .map(|((fold, ranking), label)| {
            let view = (periods, options.grain, zone);
            fold.segment_of(label, catalog, view, (&ranking.selection, &ranking.counts))
        })
        .collect();
    // Each segment's custom metrics (their range's and buckets').
    let custom = (folds.iter().zip(&rankings))
        .filter_map(|(fold, ranking)| {
            let found = (&ranking.selection, &ranking.counts[..]);
            Some(fold.custom_tallies(periods, found)?.0)
        })
        .collect();
    let segments = Segments {
        column: counts.header.clone(),
        values,
    };
    Ok((segments, custom))
}

/// Reads the file again under `pinned` (the first read's options, typing only some columns:
/// `Fold::values_only`), handing `see` each batch's frame and the rows the filters keep.
fn read_again(
    (file, open, lookups): (&str, &mut Open, &[RawTable]),
    (pinned, also): (&Options, Option<&str>),
    (read, batching): (u32, Batching),
    progress: &mut dyn FnMut(StreamProgress),
    see: &mut dyn FnMut(&Dataset, &Frame, &Kept) -> Result<()>,
) -> Result<()> {
    read_batches(file, open, (read, batching), progress, &mut |table| {
        let dataset = dataset_of(table, lookups);
        let frame = build_frame(&dataset, pinned)?;
        let rows = Kept::of(&dataset, &frame, &pinned.filters)?;
        see(&dataset, &frame, &rows)?;
        // The columns typing reads, and `also` (a segment column being counted).
        let headers = &dataset.transactions.headers;
        let mut read = read_columns(pinned, headers);
        let also = also.and_then(|name| dataset.transactions.column_index(name));
        if let Some(read) = also.and_then(|column| read.get_mut(column)) {
            *read = true;
        }
        Ok(read)
    })
}

/// A batch of rows with the lookups to join to it (cheap copies: their columns are shared).
fn dataset_of(table: RawTable, lookups: &[RawTable]) -> Dataset {
    let mut dataset = Dataset::new(table);
    for lookup in lookups {
        dataset.add_lookup(lookup.clone());
    }
    dataset
}

/// The columns of `headers` that typing reads under `options` (whose mapping names a column
/// for each role, or none): the columns of the roles `transactions::type_table` reads, of the
/// filters and of the joins' keys; every column when columns are derived (a formula may read
/// any).
fn read_columns(options: &Options, headers: &[String]) -> Vec<bool> {
    // A formula (a derived column's, a custom metric's) may read any column.
    if !options.derive.is_empty() || !options.metrics.is_empty() {
        return vec![true; headers.len()];
    }
    const TYPED: [Role; 17] = [
        Role::DeclineReason,
        Role::Channel,
        Role::FundingSource,
        Role::Type,
        Role::Region,
        Role::CreatedAt,
        Role::Amount,
        Role::Currency,
        Role::Status,
        Role::UserId,
        Role::MerchantId,
        Role::Fee,
        Role::LatencyMs,
        Role::SettledAt,
        Role::Fraud,
        Role::DisputedAt,
        Role::Kyc,
    ];
    let read: Vec<&String> = TYPED
        .iter()
        .filter_map(|role| options.mapping.get(role.id())?.as_ref())
        .chain(options.filters.iter().map(|filter| &filter.column))
        .chain(options.joins.iter().map(|join| &join.on))
        .collect();
    headers.iter().map(|name| read.contains(&name)).collect()
}

/// The period of a report a day belongs to: the whole range (0), the previous period (1) and
/// the range's buckets (2 on).
struct Periods {
    range: Option<(i64, i64)>,
    previous: Option<(i64, i64)>,
    /// The buckets' start days, and a day -> bucket table from the first one's start.
    buckets: Option<(Vec<i64>, i64, Vec<u32>)>,
}

impl Periods {
    fn count(&self) -> usize {
        2 + self
            .buckets
            .as_ref()
            .map_or(0, |(starts, _, _)| starts.len())
    }

    /// The periods `day` is in (at most three: the range and its bucket, or the previous one).
    fn of_day(&self, day: i64) -> impl Iterator<Item = usize> {
        let within = |range: Option<(i64, i64)>| range.is_some_and(|(a, b)| (a..=b).contains(&day));
        let in_range = within(self.range);
        let bucket = self
            .buckets
            .as_ref()
            .filter(|_| in_range)
            .and_then(|(_, first, table)| table.get(usize::try_from(day - first).ok()?))
            .map(|&b| 2 + b as usize);
        [
            in_range.then_some(0),
            within(self.previous).then_some(1),
            bucket,
        ]
        .into_iter()
        .flatten()
    }

    /// The first day of period `period`, the day from which a payer is new in it.
    fn start(&self, period: usize) -> i64 {
        match period {
            0 => self.range.map_or(i64::MIN, |r| r.0),
            1 => self.previous.map_or(i64::MIN, |r| r.0),
            b => self.buckets.as_ref().map_or(i64::MIN, |(s, _, _)| s[b - 2]),
        }
    }
}

/// What the first batch decided for the whole file.
struct First {
    mapping: Mapping,
    headers: Vec<String>,
    zone: Zone,
    currency: Option<String>,
    quality: Quality,
}

/// The rows of each value of the segment column per day (over the kept rows), from which the
/// segments of any range follow (`report_from`: the 10 values with most rows, the rest as
/// "(other)").
struct SegmentCounts {
    /// The column's name, then its index in the batches' tables (from the first batch).
    name: String,
    column: Option<usize>,
    /// The column's header, as the report names it.
    header: String,
    ids: Map<String, u32>,
    values: Vec<String>,
    days: Map<(u32, i32), u64>,
}

impl SegmentCounts {
    fn new(name: &str) -> SegmentCounts {
        SegmentCounts {
            name: name.to_string(),
            column: None,
            header: String::new(),
            ids: Map::default(),
            values: Vec::new(),
            days: Map::default(),
        }
    }

    fn count(&mut self, table: &RawTable, frame: &Frame, rows: &Kept) -> Result<()> {
        let column = match self.column {
            Some(column) => column,
            None => {
                let column = column_named(table, &self.name, "segment by")?;
                self.header = table.headers[column].clone();
                *self.column.insert(column)
            }
        };
        let transactions = &frame.typed.transactions;
        let coded = Coded::new(table, column, transactions);
        let mut id_of = vec![NO_ID; coded.values.len()];
        for row in rows.iter(transactions.len) {
            let code = coded.codes.get(row);
            let id = intern(&mut self.ids, &mut id_of, &coded.values, code);
            if self.values.len() < self.ids.len() {
                self.values.push(coded.values[code as usize].clone());
            }
            *self.days.entry((id, frame.calendar.day[row])).or_insert(0) += 1;
        }
        Ok(())
    }

    /// The segments of `range`: each value's group (`UNLISTED`: no row in the range) and the
    /// groups' labels, as `Coded::top` makes them in memory.
    fn groups(&self, range: Option<(i64, i64)>) -> (Vec<u32>, Vec<String>) {
        let mut rows = vec![0u64; self.values.len()];
        for (&(id, day), &n) in &self.days {
            if range.is_some_and(|(a, b)| (a..=b).contains(&i64::from(day))) {
                rows[id as usize] += n;
            }
        }
        let weight: Vec<f64> = rows.iter().map(|&n| n as f64).collect();
        let coded = Coded {
            codes: Codes::U32(Vec::new()),
            values: self.values.clone(),
        };
        coded.top(&weight, &rows, SEGMENT_VALUES)
    }
}

/// The funnel, retention and the warnings about the users file (`report::cohorts_of`).
type Cohorts = (Option<Funnel>, Option<Retention>, Vec<String>);

/// What the funnel and retention depend on beyond the fold: the range, week start, funnel
/// window and cohort basis.
type CohortsKey = (Option<(i64, i64)>, WeekStart, u32, Option<CohortBasis>);

/// A column that may be a dimension: its index in the batches' tables (with joined and derived
/// columns) and its rows per value.
struct DimensionFold {
    column: usize,
    role: Option<&'static str>,
    counts: Map<String, u64>,
}

/// The state a file is folded into (see the module's documentation).
struct Fold {
    /// The options every batch is read with: the user's, with the first batch's mapping and time
    /// zone, so that a batch cannot read a column differently.
    pinned: Options,
    first: Option<First>,
    days: Map<i32, Tally>,
    /// Each (payer, day) with a payment (`payer_day`), and those with one by a verified payer.
    payer_days: Set<u64>,
    verified_days: Set<u64>,
    /// The (payer, day)s with a second payment: the funnel's second payment may be on the day of
    /// the first.
    repeat_days: Set<u64>,
    /// Each day's smallest and largest successful amount above 0: the ticket histogram's edges.
    ticket_extremes: Map<i32, (f64, f64)>,
    /// The days with a negative latency (the latency histogram then needs the file in memory).
    negative_latency_days: Set<i32>,
    /// The last funnel and retention, with the view options they depend on (a kept fold's next
    /// view of another grain reuses them).
    cohorts: Option<(CohortsKey, Cohorts)>,
    merchant_days: Map<(u32, i32), f64>,
    /// What joining each batch's lookups and deriving its columns found, summed.
    joins: Vec<JoinOutcome>,
    derived: Vec<Derived>,
    /// The mixes, in the report's order (`breakdown::MIX_ROLES`, those mapped), and the
    /// decline reasons (their failures per value and day).
    mixes: Vec<MixFold>,
    declines: Option<MixFold>,
    /// The file's id of each payer met. A segment's fold shares its file's (`shares_payers`):
    /// its rows are some of the file's, so every payer it meets has an id there already, and the
    /// groups then do not each hold a copy of the payers' ids (a segment by channel on 8M rows:
    /// five copies of ~1M ids).
    users: Rc<Map<String, u32>>,
    shares_payers: bool,
    merchants: Map<String, u32>,
    /// How many values of each percentile metric fall in each bin (`ranks::first_bin`), per day.
    first_bins: Map<(u8, i32, u16), u64>,
    /// Which percentile metrics have columns.
    sampled: Vec<Sampled>,
    span: Option<(i64, i64)>,
    /// The data's latest `created_at` (UTC milliseconds).
    data_end: Option<i64>,
    /// A successful payment has not settled: the SLA judges it once `data_end` is known.
    has_unsettled: bool,
    /// New and returning payers' volume per period (`SecondRead`).
    volumes: Vec<Tally>,
    statuses: Vec<(String, Status, u64)>,
    /// The columns that may still be dimensions (`report::dimension_candidates`), with the rows
    /// of each value so far: counted in the first read, over every loaded row, as in memory.
    dimensions: Vec<DimensionFold>,
    /// The joins the first batch suggests (`Dataset::suggested_joins`).
    suggested_joins: Vec<JoinSpec>,
    /// The segment column's rows per value and day, when the view has a segment.
    segment: Option<SegmentCounts>,
    /// A segment's fold (`stream_segments`): only the catalog's tallies, no mixes, dimensions or
    /// suggested joins.
    lean: bool,
    /// Each currency met, in order, with its rows.
    currencies: Vec<(String, u64)>,
    /// The custom metrics (`Options::metrics`), when there are any.
    custom: Option<CustomFold>,
    rows_read: u64,
    rows_loaded: u64,
    skipped: SkipLog,
    lines_skipped: SkipLog,
    warnings: Vec<String>,
}

/// The most distinct warnings kept from the batches.
const MAX_WARNINGS: usize = 20;

impl Fold {
    fn new(options: &Options) -> Fold {
        Fold {
            pinned: options.clone(),
            first: None,
            days: Map::default(),
            payer_days: Set::default(),
            verified_days: Set::default(),
            repeat_days: Set::default(),
            ticket_extremes: Map::default(),
            negative_latency_days: Set::default(),
            cohorts: None,
            merchant_days: Map::default(),
            mixes: Vec::new(),
            declines: None,
            joins: Vec::new(),
            derived: Vec::new(),
            users: Rc::default(),
            shares_payers: false,
            merchants: Map::default(),
            first_bins: Map::default(),
            sampled: Vec::new(),
            span: None,
            data_end: None,
            has_unsettled: false,
            volumes: Vec::new(),
            statuses: Vec::new(),
            dimensions: Vec::new(),
            suggested_joins: Vec::new(),
            segment: None,
            lean: false,
            currencies: Vec::new(),
            custom: (!options.metrics.is_empty()).then(|| CustomFold::new(&options.metrics)),
            rows_read: 0,
            rows_loaded: 0,
            skipped: SkipLog::default(),
            lines_skipped: SkipLog::default(),
            warnings: Vec::new(),
        }
    }

    /// Folds a batch of rows in.
    fn add(&mut self, dataset: Dataset) -> Result<()> {
        let frame = build_frame(&dataset, &self.pinned)?;
        self.add_frame(&dataset, &frame)
    }

    /// Folds a batch in, read as `frame` (built with options that differ from this fold's in
    /// their filters at most: a segment's fold shares the frame of the file's).
    fn add_frame(&mut self, dataset: &Dataset, frame: &Frame) -> Result<()> {
        // The batch as read, and with lookups joined and columns derived.
        let (table, prepared) = (&dataset.transactions, frame.table(dataset));
        let transactions = &frame.typed.transactions;
        let calendar = &frame.calendar;
        if self.first.is_none() {
            self.pin(prepared, frame)?;
            if !self.lean {
                self.suggested_joins = dataset.suggested_joins(&self.pinned.joins);
            }
        }
        self.count_dimensions(prepared, transactions);
        self.merge_outcomes(frame);
        if transactions.money_currency.is_none() && transactions.currencies.len() > 1 {
            return Err(Error::new(ErrorKind::InvalidOption(format!(
                "the data mixes currencies ({}): a streamed report needs an exchange rate for each (--rate CODE=RATE)",
                transactions.currencies.join(", ")
            )))
            .in_file(&table.file));
        }
        let batch_currency = transactions.money_currency.as_ref();
        if let (Some(first), Some(batch)) = (self.first.as_mut(), batch_currency) {
            match &first.currency {
                None => first.currency = Some(batch.clone()),
                Some(known) if known != batch => {
                    return Err(Error::new(ErrorKind::InvalidOption(format!(
                        "the data's currency changes from {known} to {batch} part way through: a streamed report needs exchange rates (--rate CODE=RATE)"
                    )))
                    .in_file(&table.file))
                }
                Some(_) => {}
            }
        }
        for (index, code) in transactions.currencies.iter().enumerate() {
            let rows = transactions.currency.as_deref().map_or(0, |c| {
                c.iter().filter(|&&c| usize::from(c) == index).count() as u64
            });
            match self.currencies.iter_mut().find(|(known, _)| known == code) {
                Some(known) => known.1 += rows,
                None => self.currencies.push((code.clone(), rows)),
            }
        }
        self.rows_read += table.rows_read;
        self.rows_loaded += transactions.len as u64;
        self.skipped.extend(&table.skipped);
        self.skipped.extend(&frame.typed.skipped);
        self.lines_skipped.extend(&table.lines_skipped);
        for warning in table.warnings.iter().chain(&frame.typed.warnings) {
            if self.warnings.len() < MAX_WARNINGS && !self.warnings.contains(warning) {
                self.warnings.push(warning.clone());
            }
        }
        for (raw, status, count) in &transactions.status_values {
            match self.statuses.iter_mut().find(|(r, _, _)| r == raw) {
                Some(known) => known.2 += count,
                None => self.statuses.push((raw.clone(), *status, *count)),
            }
        }
        if let Some((from, to)) = calendar.span {
            self.span = Some(
                self.span
                    .map_or((from, to), |(a, b)| (a.min(from), b.max(to))),
            );
        }
        self.data_end = self.data_end.max(calendar.data_end_millis);
        let rows = Kept::of(dataset, frame, &self.pinned.filters)?;
        if let Some(segment) = self.segment.as_mut() {
            segment.count(prepared, frame, &rows)?;
        }
        self.fold_rows(frame, &rows);
        for mix in self.mixes.iter_mut().chain(&mut self.declines) {
            mix.fold(prepared, frame, &rows);
        }
        if let Some(custom) = self.custom.as_mut() {
            let decimal = self.pinned.decimal;
            custom.fold(&Batch {
                dataset,
                frame,
                rows: &rows,
                decimal,
            })?;
        }
        Ok(())
    }

    /// Adds what the batch's joins and derived columns found to the file's.
    fn merge_outcomes(&mut self, frame: &Frame) {
        if self.joins.is_empty() && self.derived.is_empty() {
            (self.joins, self.derived) = (frame.joins.clone(), frame.derived.clone());
            return;
        }
        for (file, batch) in self.joins.iter_mut().zip(&frame.joins) {
            file.matched += batch.matched;
            file.unmatched += batch.unmatched;
            file.empty_keys += batch.empty_keys;
            for example in &batch.unmatched_examples {
                let known = file
                    .unmatched_examples
                    .iter()
                    .any(|(key, _)| *key == example.0);
                if file.unmatched_examples.len() < UNMATCHED_EXAMPLES && !known {
                    file.unmatched_examples.push(example.clone());
                }
            }
        }
        for (file, batch) in self.derived.iter_mut().zip(&frame.derived) {
            file.empty += batch.empty;
        }
    }

    /// With exchange rates and no currency chosen, the batches were converted into the first
    /// one's currency; reading the file whole converts into the one currency without a rate,
    /// else the most common one. When that is another, the user is asked to choose.
    fn check_currency(&self, options: &Options, first: &First) -> Result<()> {
        if options.rates.is_empty() || options.currency.is_some() {
            return Ok(());
        }
        let unrated: Vec<&String> = self
            .currencies
            .iter()
            .map(|(code, _)| code)
            .filter(|code| !options.rates.contains_key(*code))
            .collect();
        let whole = match unrated[..] {
            [only] => Some(only),
            _ => self
                .currencies
                .iter()
                .rev()
                .max_by_key(|(_, rows)| *rows)
                .map(|(code, _)| code),
        };
        match (whole, &first.currency) {
            (Some(whole), Some(pinned)) if whole != pinned => Err(Error::new(
                ErrorKind::InvalidOption(format!(
                    "the report's currency would be {whole} for the whole file, not {pinned} as in its first rows: choose it with --currency"
                )),
            )
            .in_file(&first.quality.file)),
            _ => Ok(()),
        }
    }

    /// The options of the reads after the first: only the columns of the percentiles' values
    /// and the SLA are typed, and the payers' in the second read (the same rows are kept: only
    /// times and amounts skip rows).
    fn values_only(&self, payers: bool) -> Options {
        const READ: [Role; 6] = [
            Role::CreatedAt,
            Role::Amount,
            Role::Currency,
            Role::Status,
            Role::LatencyMs,
            Role::SettledAt,
        ];
        let read = |role: &Role| READ.contains(role) || (payers && *role == Role::UserId);
        let mut options = self.pinned.clone();
        for role in Role::ALL.into_iter().filter(|role| !read(role)) {
            options.mapping.insert(role.id().to_string(), None);
        }
        options
    }

    /// Takes the first batch's mapping and time zone for every batch.
    fn pin(&mut self, table: &RawTable, frame: &Frame) -> Result<()> {
        let mapping = frame.mapping.clone();
        if mapping.column(Role::CreatedAt).is_none() {
            return Err(Error::new(ErrorKind::InvalidOption(
                "a streamed report needs a created_at column (map one with --map created_at=COLUMN)"
                    .into(),
            ))
            .in_file(&table.file));
        }
        let zone = frame.calendar.zone;
        self.pinned.tz = Some(zone.to_string());
        // Rates convert every batch into the first one's currency (see `check_currency`).
        if !self.pinned.rates.is_empty() && self.pinned.currency.is_none() {
            self.pinned.currency = frame.typed.transactions.money_currency.clone();
        }
        self.pinned.mapping = role_mappings(&mapping, &table.headers)
            .into_iter()
            .map(|m| (m.role.to_string(), m.column))
            .collect();
        let fold_of = |role: Role| {
            let column = mapping.column(role)?;
            Some(MixFold {
                role,
                column: table.headers[column].clone(),
                ids: Map::default(),
                values: Vec::new(),
                cells: Map::default(),
            })
        };
        if !self.lean {
            self.mixes = MIX_ROLES.into_iter().filter_map(fold_of).collect();
            self.declines = fold_of(Role::DeclineReason);
        }
        self.sampled = Sampled::ALL
            .into_iter()
            .filter(|s| s.available(&frame.typed.transactions, &frame.calendar))
            .collect();
        self.dimensions = dimension_candidates(table, &mapping)
            .into_iter()
            .filter(|_| !self.lean)
            .map(|(column, role)| DimensionFold {
                column,
                role,
                counts: Map::default(),
            })
            .collect();
        self.first = Some(First {
            mapping,
            headers: table.headers.clone(),
            zone,
            currency: frame.typed.transactions.money_currency.clone(),
            quality: Quality::of_table(table),
        });
        Ok(())
    }

    /// What the histograms' edges need of a row: a successful amount above 0 (the ticket
    /// histogram's, as `breakdown::histograms` reads them), a negative latency.
    fn see_histogram_extremes(&mut self, columns: &HistogramColumns, row: usize, day: i32) {
        if let Some((amount, status)) = columns.ticket {
            let value = amount[row];
            if is_successful(status[row]) && value > 0.0 {
                let (min, max) = self.ticket_extremes.entry(day).or_insert((value, value));
                if value < *min {
                    *min = value;
                }
                if value > *max {
                    *max = value;
                }
            }
        }
        if let Some(latency) = columns.latency {
            if !latency[row].is_nan() && latency[row].is_sign_negative() {
                self.negative_latency_days.insert(day);
            }
        }
    }

    /// Adds the batch's rows of each value to the dimensions', dropping a column once it has
    /// more than `MAX_DIMENSION_DISTINCT` values.
    fn count_dimensions(&mut self, table: &RawTable, transactions: &Transactions) {
        self.dimensions.retain_mut(|dimension| {
            let Some(counts) = dimension_counts(table, dimension.column, transactions) else {
                return false;
            };
            for (value, count) in counts {
                match dimension.counts.get_mut(value.as_ref()) {
                    Some(known) => *known += count,
                    None => {
                        dimension.counts.insert(value.into_owned(), count);
                    }
                }
            }
            dimension.counts.len() <= MAX_DIMENSION_DISTINCT
        });
    }

    /// The columns the first read stores after its first batch: those typing reads, and those
    /// that may still be dimensions.
    fn first_read_columns(&self, headers: &[String]) -> Vec<bool> {
        let mut read = read_columns(&self.pinned, headers);
        let segment = self.segment.as_ref().and_then(|s| s.column);
        if let Some(read) = segment.and_then(|column| read.get_mut(column)) {
            *read = true;
        }
        for dimension in &self.dimensions {
            if let Some(read) = read.get_mut(dimension.column) {
                *read = true;
            }
        }
        read
    }

    /// Folds the batch's rows in: counts per day, payers and merchants per day, and the
    /// percentiles' first histograms.
    fn fold_rows(&mut self, frame: &Frame, rows: &Kept) {
        let transactions = &frame.typed.transactions;
        let calendar = &frame.calendar;
        let settle = (!calendar.settle_delta.is_empty()).then_some(&calendar.settle_delta[..]);
        let sla = sla_millis(self.pinned.sla_hours());
        let large = self.pinned.large_amount();
        let users = transactions.user.as_deref();
        let merchants = transactions.merchant.as_deref();
        let kyc = transactions.kyc_verified.as_deref();
        let histogram_columns = HistogramColumns::of(transactions);
        // Batch codes to the file's ids, found the first time a code is met.
        let mut user_ids = vec![NO_ID; transactions.user_ids.len()];
        let mut merchant_ids = vec![NO_ID; transactions.merchant_ids.len()];
        // The day of the last row and its tally's place: files are mostly in time order.
        let mut tally_of = DayTallies::default();
        for row in rows.iter(transactions.len) {
            let day = calendar.day[row];
            let facts = RowFacts::of(transactions, settle, row, sla, false);
            tally_of.get(day).add(&facts, large);
            for (index, sampled) in self.sampled.iter().enumerate() {
                if let Some(value) = sampled.value(transactions, calendar, row) {
                    let bin = first_bin(order_key(value));
                    *self.first_bins.entry((index as u8, day, bin)).or_insert(0) += 1;
                }
            }
            self.see_histogram_extremes(&histogram_columns, row, day);
            if !facts.success {
                continue;
            }
            if settle.is_some_and(|s| matches!(Settlement::of(s[row]), Settlement::Unsettled(_))) {
                self.has_unsettled = true;
            }
            let volume = if facts.value.is_nan() {
                0.0
            } else {
                facts.value
            };
            if let Some(code) = users.map(|u| u[row]).filter(|&u| u != NO_ID) {
                let names = &transactions.user_ids;
                let id = match self.shares_payers {
                    true => known_id(&self.users, &mut user_ids, names, code),
                    false => Some(intern(
                        Rc::make_mut(&mut self.users),
                        &mut user_ids,
                        names,
                        code,
                    )),
                };
                if let Some(id) = id {
                    if !self.payer_days.insert(payer_day(id, day)) {
                        self.repeat_days.insert(payer_day(id, day));
                    }
                    if kyc.is_some_and(|k| k[row]) {
                        self.verified_days.insert(payer_day(id, day));
                    }
                }
            }
            if let Some(code) = merchants.map(|m| m[row]).filter(|&m| m != NO_ID) {
                let id = intern(
                    &mut self.merchants,
                    &mut merchant_ids,
                    &transactions.merchant_ids,
                    code,
                );
                *self.merchant_days.entry((id, day)).or_insert(0.0) += volume;
            }
        }
        for &(day, _) in calendar
            .disputes
            .iter()
            .filter(|(_, row)| rows.has(*row as usize))
        {
            tally_of.get(clamp_day(day)).disputes_opened += 1;
        }
        for (day, tally) in tally_of.days {
            self.days.entry(day).or_default().add_counts(&tally);
        }
    }

    /// The first of the custom metrics' percentile groups in `first_round`'s: after one per
    /// catalog percentile metric and period.
    fn custom_groups(&self, periods: &Periods) -> usize {
        self.sampled.len() * periods.count()
    }

    /// The custom metrics' aggregates in the range (and its buckets) and the previous period.
    fn custom_tallies(
        &self,
        periods: &Periods,
        (selection, counts): (&Selection, &[u64]),
    ) -> Option<(CustomValues, Option<CustomValues>)> {
        let first_group = self.custom_groups(periods);
        let custom = self.custom.as_ref()?;
        Some(custom.tallies(periods, (selection, counts, first_group)))
    }

    /// The percentiles' groups (one per metric and period), each with its histogram and the
    /// ranks its quantiles need: the rounds that find them, and each group's count of values.
    fn first_round(&self, periods: &Periods, keep_values: u64) -> (Selection, Vec<u64>) {
        let mut histograms = vec![BTreeMap::new(); self.sampled.len() * periods.count()];
        for (&(index, day, bin), &count) in &self.first_bins {
            for period in periods.of_day(i64::from(day)) {
                let group = usize::from(index) * periods.count() + period;
                *histograms[group].entry(bin).or_insert(0) += count;
            }
        }
        let mut groups: Vec<(BTreeMap<u16, u64>, Vec<u64>)> = histograms
            .into_iter()
            .enumerate()
            .map(|(group, histogram)| {
                let sampled = self.sampled[group / periods.count()];
                let n: u64 = histogram.values().sum();
                let ranks = sampled
                    .quantiles()
                    .iter()
                    .flat_map(|&q| ranks_of(q, n))
                    .collect();
                (histogram, ranks)
            })
            .collect();
        // The custom metrics' percentiles, after the catalog's (`custom_groups`).
        if let Some(custom) = &self.custom {
            groups.extend(custom.first_round(periods));
        }
        let counts = groups.iter().map(|(h, _)| h.values().sum()).collect();
        (Selection::new(&groups, keep_values), counts)
    }

    /// The range's and each bucket's tallies, and the previous period's.
    fn computed(
        &self,
        periods: &Periods,
        (selection, counts): (&Selection, &[u64]),
    ) -> (Computed, Option<Tally>) {
        let mut tallies = vec![Tally::default(); periods.count()];
        let mut days: Vec<(&i32, &Tally)> = self.days.iter().collect();
        days.sort_unstable_by_key(|(day, _)| **day);
        for (&day, tally) in days {
            for period in periods.of_day(i64::from(day)) {
                tallies[period].add_counts(tally);
            }
        }
        self.add_payers(periods, &mut tallies);
        for (tally, volumes) in tallies.iter_mut().zip(&self.volumes) {
            tally.new_payer_amount = volumes.new_payer_amount;
            tally.returning_payer_amount = volumes.returning_payer_amount;
        }
        self.add_merchants(periods, &mut tallies);
        for (index, sampled) in self.sampled.iter().enumerate() {
            for (period, tally) in tallies.iter_mut().enumerate() {
                let group = index * periods.count() + period;
                let n = counts[group];
                let values: Vec<Option<f64>> = sampled
                    .quantiles()
                    .iter()
                    .map(|&q| quantile(q, n, |rank| selection.found(group, rank)))
                    .collect();
                sampled.set(tally, &values);
            }
        }

        let mut tallies = tallies.into_iter();
        let totals = tallies.next().unwrap_or_default();
        let previous = tallies.next().filter(|_| periods.previous.is_some());
        let computed = Computed {
            totals,
            buckets: match &periods.buckets {
                Some((starts, _, _)) => starts
                    .iter()
                    .zip(tallies)
                    .map(|(&start_day, tally)| Bucket { start_day, tally })
                    .collect(),
                None => Vec::new(),
            },
            payer_facts: None,
        };
        (computed, previous)
    }

    /// The segment `value` (its label), from a fold of the segment's rows (`stream_segments`).
    fn segment_of(
        &self,
        value: String,
        catalog: &CatalogReader,
        (periods, grain, zone): (&Periods, Grain, Zone),
        ranks: (&Selection, &[u64]),
    ) -> Segment {
        let (computed, _) = self.computed(periods, ranks);
        Segment {
            value,
            rows: computed.totals.attempts,
            totals: catalog.values_of(&computed.totals),
            series: catalog.series(&computed, grain, zone),
        }
    }

    /// The report, from the folded state and the ranks found.
    fn report(
        &self,
        first: &First,
        options: &Options,
        periods: &Periods,
        (selection, counts): (&Selection, &[u64]),
        (reads, batch_rows): (u32, usize),
        (funnel, retention, notes): Cohorts,
    ) -> Report {
        let (computed, previous) = self.computed(periods, (selection, counts));
        let zone = first.zone;
        let catalog = CatalogReader::unmixed(&first.mapping);
        let metrics = catalog.metrics(&computed.totals, previous.as_ref());
        // In the order `transactions::read_statuses` gives them.
        let mut statuses = self.statuses.clone();
        statuses.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        let mut warnings = self.warnings.clone();
        // What reading the users file found, and what a histogram left out.
        warnings.extend(notes);
        let no_series = self.span.is_some() && periods.buckets.is_none();
        add_view_warnings(&mut warnings, no_series, &statuses);
        let times = match reads {
            1 => "once".to_string(),
            n => format!("{n} times"),
        };
        warnings.push(format!(
            "streamed: the file was read {times} for this view, {batch_rows} rows at a time"
        ));
        let has_amount = first.mapping.column(Role::Amount).is_some();
        let mapping = &first.mapping;
        let quality = Quality {
            rows_read: self.rows_read,
            rows_loaded: self.rows_loaded,
            rows_skipped: self.skipped.total(),
            skipped: self.skipped.groups().to_vec(),
            lines_skipped: self.lines_skipped.groups().to_vec(),
            unmapped_columns: unmapped_columns(mapping, &first.headers),
            warnings,
            ..first.quality.clone()
        };
        Report {
            file: quality.file.clone(),
            tz: zone.to_string(),
            grain: options.grain,
            week_start: options.week_start,
            params: ReportParams {
                large_amount: options.large_amount(),
                sla_hours: options.sla_hours(),
                funnel_days: options.funnel_days(),
            },
            data_range: self.span.map(Dates::of),
            range: periods.range.map(Dates::of),
            previous: periods.previous.map(Dates::of),
            totals: metrics.iter().map(|m| (m.id.clone(), m.value)).collect(),
            previous_totals: previous
                .as_ref()
                .map(|p| catalog.values_of(p))
                .unwrap_or_default(),
            metrics,
            custom: Vec::new(),
            series: catalog.series(&computed, options.grain, zone),
            segments: None,
            breakdowns: self
                .mixes
                .iter()
                .map(|mix| mix.breakdown(periods, options, has_amount))
                .collect(),
            decline_reasons: self.declines.as_ref().map(|d| d.reasons(periods)),
            funnel,
            retention,
            histograms: Vec::new(),
            dimensions: self
                .dimensions
                .iter()
                .filter_map(|d| {
                    let column = &first.headers.get(d.column)?;
                    dimension_of(column, d.role, d.counts.iter().map(|(v, &n)| (v, n)))
                })
                .collect(),
            mapping: role_mappings(mapping, &first.headers),
            columns: first.headers.clone(),
            statuses: statuses
                .into_iter()
                .map(|(raw, status, count)| StatusValue { raw, status, count })
                .collect(),
            currencies: self
                .currencies
                .iter()
                .map(|(code, _)| code.clone())
                .collect(),
            currency: first.currency.clone(),
            by_currency: Vec::new(),
            quality,
            joins: self.joins.clone(),
            derived: self.derived.clone(),
            lookups: Vec::new(),
            suggested_joins: self.suggested_joins.clone(),
        }
    }

    /// The funnel and retention (`report::cohorts_of`, as in memory) from the payers' days, with
    /// the signups of a users file among `lookups`.
    fn cohorts(
        &mut self,
        first: &First,
        lookups: &[RawTable],
        range: Option<(i64, i64)>,
        options: &Options,
    ) -> Cohorts {
        let key = (
            range,
            options.week_start,
            options.funnel_days(),
            options.cohort,
        );
        if self.cohorts.as_ref().is_none_or(|(known, _)| *known != key) {
            let cohorts = self.cohorts_of(first, lookups, range, options);
            self.cohorts = Some((key, cohorts));
        }
        (self.cohorts.as_ref())
            .map(|(_, cohorts)| cohorts.clone())
            .unwrap_or_default()
    }

    fn cohorts_of(
        &self,
        first: &First,
        lookups: &[RawTable],
        range: Option<(i64, i64)>,
        options: &Options,
    ) -> Cohorts {
        let mapped = |role| first.mapping.column(role).is_some();
        let (true, true, Some(span), Some(range)) =
            (mapped(Role::UserId), mapped(Role::Status), self.span, range)
        else {
            return (None, None, Vec::new());
        };
        // Each payer's days, a day twice when it had a second payment.
        let by_user = PaymentsByUser::from_unordered(self.users.len(), || {
            let days = self.payer_days.iter().chain(&self.repeat_days);
            days.map(|&key| payer_and_day(key))
                .map(|(payer, day)| (payer, i64::from(day)))
        });
        let signups = find_users_table(lookups).and_then(|_| {
            let index: UserIndex = (self.users.iter())
                .map(|(id, &payer)| (id.as_str(), payer))
                .collect();
            Signups::of(lookups, &index, first.zone, self.pinned.date_order)
        });
        cohorts_of(&by_user, signups.as_ref(), span, range, options)
    }

    /// Each payer's first payment day (by the file's payer ids; `i32::MAX`: none).
    fn first_days(&self) -> Vec<i32> {
        let mut first = vec![i32::MAX; self.users.len()];
        for &key in &self.payer_days {
            let (payer, day) = payer_and_day(key);
            let first = &mut first[payer as usize];
            *first = (*first).min(day);
        }
        first
    }

    /// Active, verified and new payers per period, and the trailing windows, from each payer's
    /// days.
    fn add_payers(&self, periods: &Periods, tallies: &mut [Tally]) {
        let (Some(span), false) = (self.span, self.users.is_empty()) else {
            return;
        };
        let mut payer_days: Vec<u64> = self.payer_days.iter().copied().collect();
        payer_days.sort_unstable();
        let mut windows = ActiveWindows::new(span);
        let (mut counted, mut verified) = (vec![NO_ID; tallies.len()], vec![NO_ID; tallies.len()]);
        let mut days: Vec<i64> = Vec::new();
        for payer in payer_days.chunk_by(|a, b| a >> 32 == b >> 32) {
            let (user, first) = payer_and_day(payer[0]);
            for period in periods.of_day(i64::from(first)) {
                tallies[period].new_payers += 1;
            }
            days.clear();
            for &key in payer {
                let day = i64::from(payer_and_day(key).1);
                days.push(day);
                let kyc = self.verified_days.contains(&key);
                for period in periods.of_day(day) {
                    let tally = &mut tallies[period];
                    if counted[period] != user {
                        counted[period] = user;
                        tally.active_payers += 1;
                    }
                    if kyc && verified[period] != user {
                        verified[period] = user;
                        tally.kyc_verified_payers += 1;
                    }
                }
            }
            windows.add(&days);
        }
        windows.finish();
        // As of each period's last day (or the data's last day if earlier), as `compute` does.
        let as_of = |last: i64, first: i64| {
            let end = last.min(span.1);
            (end >= first).then(|| windows.at(end))
        };
        if let Some((from, to)) = periods.range {
            tallies[0].window = as_of(to, from);
            if let Some((starts, _, _)) = &periods.buckets {
                for (b, &start) in starts.iter().enumerate() {
                    let last = starts.get(b + 1).map_or(to, |next| (next - 1).min(to));
                    tallies[2 + b].window = as_of(last, start.max(from));
                }
            }
        }
        if let Some((from, to)) = periods.previous {
            tallies[1].window = as_of(to, from);
        }
    }

    /// Active merchants, and the top 10's volume and the HHI, per period.
    fn add_merchants(&self, periods: &Periods, tallies: &mut [Tally]) {
        let mut merchant_days: Vec<(u32, i32, f64)> = self
            .merchant_days
            .iter()
            .map(|(&(merchant, day), &volume)| (merchant, day, volume))
            .collect();
        merchant_days.sort_unstable_by_key(|&(merchant, day, _)| (merchant, day));
        let mut volumes: Vec<Vec<f64>> = vec![Vec::new(); tallies.len()];
        let mut volume = vec![0.0; tallies.len()];
        let mut touched: Vec<usize> = Vec::new();
        for merchant in merchant_days.chunk_by(|a, b| a.0 == b.0) {
            for &(_, day, amount) in merchant {
                for period in periods.of_day(i64::from(day)) {
                    if !touched.contains(&period) {
                        touched.push(period);
                    }
                    volume[period] += amount;
                }
            }
            for period in touched.drain(..) {
                tallies[period].active_merchants += 1;
                volumes[period].push(std::mem::take(&mut volume[period]));
            }
        }
        for (tally, volumes) in tallies.iter_mut().zip(&volumes) {
            (tally.top10_merchant_amount, tally.merchant_hhi) = concentration(volumes);
        }
    }
}

/// The rows of a batch that the filters keep (all of them without filters).
struct Kept(Option<Vec<bool>>);

impl Kept {
    fn of(dataset: &Dataset, frame: &Frame, filters: &[Filter]) -> Result<Kept> {
        Ok(Kept(match filters.is_empty() {
            true => None,
            false => Some(filter_mask(dataset, frame, filters)?),
        }))
    }

    fn has(&self, row: usize) -> bool {
        self.0.as_ref().is_none_or(|mask| mask[row])
    }

    /// The kept rows of `len`.
    fn iter(&self, len: usize) -> impl Iterator<Item = usize> + '_ {
        (0..len).filter(|&row| self.has(row))
    }
}

/// A mix's sums per value and day.
struct MixFold {
    role: Role,
    column: String,
    /// Each value's id, and the values by id.
    ids: Map<String, u32>,
    values: Vec<String>,
    cells: Map<(u32, i32), MixCell>,
}

/// What a value's rows of one day add to a mix (`breakdown::breakdowns`' sums).
#[derive(Default, Clone, Copy)]
struct MixCell {
    present: u64,
    weight: f64,
    successes: u64,
    failures: u64,
    /// Successful transactions' volume.
    volume: f64,
}

impl MixCell {
    fn add(&mut self, other: &MixCell) {
        self.present += other.present;
        self.weight += other.weight;
        self.successes += other.successes;
        self.failures += other.failures;
        self.volume += other.volume;
    }
}

impl MixFold {
    /// Folds a batch's rows in.
    fn fold(&mut self, table: &RawTable, frame: &Frame, rows: &Kept) {
        let Some(column) = frame.mapping.column(self.role) else {
            return;
        };
        let transactions = &frame.typed.transactions;
        let coded = Coded::new(table, column, transactions);
        // The batch's sums by (code, day), then by the file's value id: in a grid of days and
        // values when it is small (a look-up per row rather than a hash), else in a map.
        let status = transactions.status.as_deref();
        let amount = transactions.amount.as_deref();
        let cell_of = |row: usize| {
            let row_status = status.map(|s| s[row]);
            let success = row_status.is_some_and(is_successful);
            let value = amount.map_or(f64::NAN, |a| a[row]);
            MixCell {
                present: 1,
                weight: mix_weight(transactions, row, success),
                successes: u64::from(success),
                failures: u64::from(row_status == Some(Status::Failed)),
                volume: if success && !value.is_nan() {
                    value
                } else {
                    0.0
                },
            }
        };
        let days = frame.calendar.day.as_slice();
        let values = coded.values.len();
        let mut cells: Map<(u32, i32), MixCell> = Map::default();
        match frame.calendar.span {
            Some((first, last))
                if ((last - first + 1) as usize).saturating_mul(values) <= 1 << 16 =>
            {
                let mut grid = vec![MixCell::default(); (last - first + 1) as usize * values];
                for row in rows.iter(days.len()) {
                    let day = days[row];
                    let place = (i64::from(day) - first) as usize * values;
                    grid[place + coded.codes.get(row) as usize].add(&cell_of(row));
                }
                for (place, cell) in grid.into_iter().enumerate().filter(|(_, c)| c.present > 0) {
                    let day = first + (place / values) as i64;
                    cells.insert(((place % values) as u32, day as i32), cell);
                }
            }
            _ => {
                for row in rows.iter(days.len()) {
                    let day = days[row];
                    let key = (coded.codes.get(row), day);
                    cells.entry(key).or_default().add(&cell_of(row));
                }
            }
        }
        let mut id_of = vec![NO_ID; coded.values.len()];
        for ((code, day), sums) in cells {
            let id = intern(&mut self.ids, &mut id_of, &coded.values, code);
            if self.values.len() < self.ids.len() {
                self.values.push(coded.values[code as usize].clone());
            }
            self.cells.entry((id, day)).or_default().add(&sums);
        }
    }

    /// The failed transactions of each value over the period, as decline reasons.
    fn reasons(&self, periods: &Periods) -> DeclineReasons {
        let mut failures = vec![0; self.values.len()];
        for (&(id, day), cell) in &self.cells {
            if periods.of_day(i64::from(day)).any(|p| p == 0) {
                failures[id as usize] += cell.failures;
            }
        }
        reasons_of(self.column.clone(), &self.values, &failures)
    }

    /// The mix over the period and per bucket.
    fn breakdown(&self, periods: &Periods, options: &Options, has_amount: bool) -> Breakdown {
        let n = self.values.len();
        let buckets = periods.count() - 2;
        let mut whole = vec![MixCell::default(); n];
        let mut per_bucket = vec![MixCell::default(); n * buckets];
        for (&(id, day), cell) in &self.cells {
            for period in periods.of_day(i64::from(day)) {
                match period {
                    0 => whole[id as usize].add(cell),
                    1 => {}
                    b => per_bucket[(b - 2) * n + id as usize].add(cell),
                }
            }
        }
        let weight: Vec<f64> = whole.iter().map(|c| c.weight).collect();
        let present: Vec<u64> = whole.iter().map(|c| c.present).collect();
        let coded = Coded {
            codes: Codes::U8(Vec::new()),
            values: self.values.clone(),
        };
        let (group_of, labels) = coded.top(&weight, &present, MIX_VALUES);
        let groups = labels.len();
        let mut sums = vec![MixCell::default(); groups];
        let mut series: Vec<(Vec<u64>, Vec<f64>)> =
            vec![(vec![0; groups], vec![0.0; groups]); buckets];
        for (id, &group) in group_of.iter().enumerate() {
            if group == UNLISTED {
                continue;
            }
            let g = group as usize;
            sums[g].add(&whole[id]);
            for (b, (counts, volumes)) in series.iter_mut().enumerate() {
                let cell = &per_bucket[b * n + id];
                counts[g] += cell.successes;
                volumes[g] += cell.volume;
            }
        }
        let starts = periods.buckets.as_ref().map_or(&[][..], |(s, _, _)| &s[..]);
        let series = starts
            .iter()
            .zip(series)
            .map(|(&start, (counts, volumes))| MixPoint {
                bucket: bucket_label(start, options.grain),
                counts,
                volumes,
            })
            .collect();
        let tallies = Tallies {
            attempts: sums.iter().map(|s| s.present).collect(),
            successes: sums.iter().map(|s| s.successes).collect(),
            failures: sums.iter().map(|s| s.failures).collect(),
            volume: sums.iter().map(|s| s.volume).collect(),
        };
        mix(
            (self.role.id(), self.column.clone()),
            has_amount,
            labels,
            tallies,
            series,
        )
    }
}

/// The tallies of one batch's days: the last day's place is kept, as rows mostly come in time
/// order.
#[derive(Default)]
struct DayTallies {
    days: Vec<(i32, Tally)>,
    index: Map<i32, usize>,
    last: Option<(i32, usize)>,
}

impl DayTallies {
    fn get(&mut self, day: i32) -> &mut Tally {
        let place = match self.last {
            Some((last, place)) if last == day => place,
            _ => {
                let place = *self.index.entry(day).or_insert_with(|| {
                    self.days.push((day, Tally::default()));
                    self.days.len() - 1
                });
                self.last = Some((day, place));
                place
            }
        };
        &mut self.days[place].1
    }
}

fn clamp_day(day: i64) -> i32 {
    day.clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

/// The file's id for batch code `code`, given each code's id found so far (`NO_ID`: not yet).
/// The id `ids` has for batch code `code` (named `names[code]`), looked up once per batch code
/// (`found`); `None` when it has none.
fn known_id(ids: &Map<String, u32>, found: &mut [u32], names: &[String], code: u32) -> Option<u32> {
    let slot = &mut found[code as usize];
    if *slot == NO_ID {
        *slot = *ids.get(names[code as usize].as_str())?;
    }
    Some(*slot)
}

fn intern(ids: &mut Map<String, u32>, found: &mut [u32], names: &[String], code: u32) -> u32 {
    let slot = &mut found[code as usize];
    if *slot == NO_ID {
        let name = &names[code as usize];
        // Looked up by reference first: most ids were met in an earlier batch, and `entry`
        // would copy the name for each.
        *slot = match ids.get(name.as_str()) {
            Some(&id) => id,
            None => {
                let next = ids.len() as u32;
                ids.insert(name.clone(), next);
                next
            }
        };
    }
    *slot
}

/// The 0-based ranks quantile `q` of `n` values reads: the one at or below its position, and
/// the next one up when the position falls between them (`quantile_cont`).
fn ranks_of(q: f64, n: u64) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let position = q * (n - 1) as f64;
    let lo = position.floor() as u64;
    match position > lo as f64 && lo + 1 < n {
        true => vec![lo, lo + 1],
        false => vec![lo],
    }
}

/// Quantile `q` of `n` values, given the value (as its `order_key`) at a rank: the formula of
/// `engine::percentiles`, so that the same values give the same number.
fn quantile(q: f64, n: u64, at: impl Fn(u64) -> Option<u64>) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let position = q * (n - 1) as f64;
    let lo = position.floor() as u64;
    let low = from_order_key(at(lo)?);
    let fraction = position - lo as f64;
    if fraction == 0.0 {
        return Some(low);
    }
    let high = match lo + 1 < n {
        true => from_order_key(at(lo + 1)?),
        false => low,
    };
    Some(low + fraction * (high - low))
}

/// Feeds one batch's percentile values to this round of the selection.
fn see_values(
    frame: &Frame,
    rows: &Kept,
    sampled: &[Sampled],
    periods: &Periods,
    selection: &mut Selection,
) {
    let transactions = &frame.typed.transactions;
    let calendar = &frame.calendar;
    let count = periods.count();
    for row in rows.iter(transactions.len) {
        let day = i64::from(calendar.day[row]);
        for (index, s) in sampled.iter().enumerate() {
            if let Some(value) = s.value(transactions, calendar, row) {
                let key = order_key(value);
                for period in periods.of_day(day) {
                    selection.see(index * count + period, key);
                }
            }
        }
    }
}

/// The histograms of a view (`breakdown::histograms` in memory: the same rows, edges and bins),
/// counted in the read after the fold: the rows of the view's range.
struct Histograms {
    range: Option<(i64, i64)>,
    /// The most distinct latencies counted by value (`Batching::keep_values`): past it, the
    /// histogram takes a read more.
    keep_values: usize,
    /// The ticket sizes, edges from the range's extremes (`Fold::ticket_extremes`).
    ticket: Option<(Histogram, Binner)>,
    latency: Option<Latencies>,
    /// A latency is negative: its histogram's edges start at a value the in-memory selection
    /// leaves first (`breakdown::linear_edges`), which a stream cannot know.
    latency_left_out: bool,
}

/// The columns the histograms read: amounts with statuses (ticket sizes), latencies.
struct HistogramColumns<'a> {
    ticket: Option<(&'a [f64], &'a [Status])>,
    latency: Option<&'a [f64]>,
}

impl HistogramColumns<'_> {
    fn of(transactions: &Transactions) -> HistogramColumns<'_> {
        HistogramColumns {
            ticket: (transactions.amount.as_deref()).zip(transactions.status.as_deref()),
            latency: transactions.latency_ms.as_deref(),
        }
    }
}

enum Latencies {
    /// The range's latencies by `order_key`, and how many rows had each.
    Values(Map<u64, u64>),
    /// More than `keep_values` distinct values.
    TooMany,
    /// Counted into its bins (`bin_latencies`), or to be counted in another read.
    Binned(Histogram, Binner),
}

impl Histograms {
    fn new(fold: &Fold, first: &First, range: Option<(i64, i64)>, keep_values: u64) -> Histograms {
        let mapped = |role| first.mapping.column(role).is_some();
        let in_range = |day: i64| range.is_some_and(|(a, b)| (a..=b).contains(&day));
        let ticket = (mapped(Role::Amount) && mapped(Role::Status)).then(|| {
            let extremes = (fold.ticket_extremes.iter())
                .filter(|(&day, _)| in_range(i64::from(day)))
                .map(|(_, &extremes)| extremes)
                .reduce(|(a, b), (c, d)| (if c < a { c } else { a }, if d > b { d } else { b }));
            let edges =
                extremes.map_or_else(Vec::new, |(min, max)| one_two_five_edges_of(min, max));
            let binner = Binner::new(&edges);
            (ticket_histogram(edges), binner)
        });
        let negative = (fold.negative_latency_days.iter()).any(|&day| in_range(i64::from(day)));
        let latency_left_out = mapped(Role::LatencyMs) && negative;
        let latency =
            (mapped(Role::LatencyMs) && !negative).then(|| Latencies::Values(Map::default()));
        Histograms {
            range,
            keep_values: usize::try_from(keep_values).unwrap_or(usize::MAX),
            ticket,
            latency,
            latency_left_out,
        }
    }

    /// The kept rows of the range: their days.
    fn rows_in_range<'a>(
        &self,
        frame: &'a Frame,
        rows: &'a Kept,
    ) -> impl Iterator<Item = usize> + 'a {
        let range = self.range;
        let days = &frame.calendar.day;
        rows.iter(frame.typed.transactions.len)
            .filter(move |&row| range.is_some_and(|(a, b)| (a..=b).contains(&i64::from(days[row]))))
    }

    /// Counts a batch's ticket sizes and latencies.
    fn see(&mut self, frame: &Frame, rows: &Kept) {
        let transactions = &frame.typed.transactions;
        let in_range: Vec<usize> = self.rows_in_range(frame, rows).collect();
        if let (Some((histogram, binner)), Some(amount), Some(status)) =
            (&mut self.ticket, &transactions.amount, &transactions.status)
        {
            for &row in &in_range {
                if is_successful(status[row]) && amount[row] > 0.0 {
                    if let Some(bin) = binner.bin(amount[row]) {
                        histogram.counts[bin] += 1;
                    }
                }
            }
        }
        if let (Some(Latencies::Values(values)), Some(latency)) =
            (&mut self.latency, &transactions.latency_ms)
        {
            for &row in &in_range {
                if !latency[row].is_nan() {
                    *values.entry(order_key(latency[row])).or_insert(0) += 1;
                }
            }
            if values.len() > self.keep_values {
                self.latency = Some(Latencies::TooMany);
            }
        }
    }

    /// Bins the latencies with the edges of `tail` (the range's 99th percentile and largest
    /// value: none without a value); true when they are to be counted in another read.
    fn bin_latencies(&mut self, tail: Option<(f64, f64)>) -> bool {
        let Some(latency) = self.latency.take() else {
            return false;
        };
        let edges = tail.map_or_else(Vec::new, |(p99, max)| edges_up_to(0.0, p99, max));
        let binner = Binner::new(&edges);
        let mut histogram = latency_histogram(edges);
        let again = match latency {
            Latencies::Values(values) => {
                for (&key, &count) in &values {
                    if let Some(bin) = binner.bin(from_order_key(key)) {
                        histogram.counts[bin] += count;
                    }
                }
                false
            }
            _ => true,
        };
        self.latency = Some(Latencies::Binned(histogram, binner));
        again
    }

    /// Counts a batch's latencies into their bins (the read after `bin_latencies` said so).
    fn count_latencies(&mut self, frame: &Frame, rows: &Kept) {
        let in_range: Vec<usize> = self.rows_in_range(frame, rows).collect();
        if let (Some(Latencies::Binned(histogram, binner)), Some(latency)) =
            (&mut self.latency, &frame.typed.transactions.latency_ms)
        {
            for row in in_range {
                if let Some(bin) = (!latency[row].is_nan())
                    .then(|| binner.bin(latency[row]))
                    .flatten()
                {
                    histogram.counts[bin] += 1;
                }
            }
        }
    }

    /// The histograms, in the report's order.
    fn finish(self) -> Vec<Histogram> {
        let latency = match self.latency {
            Some(Latencies::Binned(histogram, _)) => Some(histogram),
            _ => None,
        };
        self.ticket
            .map(|(histogram, _)| histogram)
            .into_iter()
            .chain(latency)
            .collect()
    }
}

/// What the reads after a fold's first find: each percentile's ranks (`ranks`), and in the
/// first of them what `SecondRead` adds. The file's fold and each segment's have one.
struct Ranking {
    selection: Selection,
    /// The values of each percentile group (`Fold::first_round`).
    counts: Vec<u64>,
    second: Option<SecondRead>,
}

impl Ranking {
    /// `judged`: the fold's payments not settled were judged against the SLA already (a kept
    /// fold's).
    fn new(fold: &Fold, periods: &Periods, keep_values: u64, judged: bool) -> Ranking {
        let (selection, counts) = fold.first_round(periods, keep_values);
        let second = SecondRead {
            data_end: fold.data_end.filter(|_| fold.has_unsettled && !judged),
            first_days: fold.first_days(),
            volumes: vec![Tally::default(); periods.count()],
        };
        Ranking {
            selection,
            counts,
            second: Some(second),
        }
    }

    /// Whether the file is to be read (again) for this fold.
    fn reading(&self) -> bool {
        !self.selection.done() || self.second.is_some()
    }

    /// Whether the next read is the first after the fold's (which adds `SecondRead`'s parts).
    fn second_read(&self) -> bool {
        self.second.is_some()
    }

    /// Sees a batch's kept rows.
    fn see(
        &mut self,
        fold: &mut Fold,
        (dataset, frame, rows): (&Dataset, &Frame, &Kept),
        periods: &Periods,
        sla: i64,
    ) -> Result<()> {
        if let Some(second) = self.second.as_mut() {
            if let Some(end) = second.data_end {
                judge_unsettled(frame, rows, (end, sla), &mut fold.days);
            }
            second.add_volumes(frame, rows, &fold.users, periods);
        }
        see_values(frame, rows, &fold.sampled, periods, &mut self.selection);
        let first_group = fold.custom_groups(periods);
        if let Some(custom) = fold.custom.as_mut() {
            let decimal = fold.pinned.decimal;
            let batch = Batch {
                dataset,
                frame,
                rows,
                decimal,
            };
            custom.see_values(&batch, periods, (&mut self.selection, first_group))?;
        }
        Ok(())
    }

    /// Ends a read: the ranks narrowed, new and returning payers' volume into the fold.
    fn end_read(&mut self, fold: &mut Fold) {
        self.selection.end_round();
        if let Some(second) = self.second.take() {
            fold.volumes = second.volumes;
        }
    }

    /// Quantile `q` of percentile group `group`, once the ranks are found.
    fn quantile(&self, q: f64, group: usize) -> Option<f64> {
        quantile(q, self.counts[group], |rank| {
            self.selection.found(group, rank)
        })
    }
}

/// What the second read of the file adds: the SLA of payments not settled, and new and
/// returning payers' volume.
struct SecondRead {
    /// The data's last time (UTC milliseconds), when a payment has not settled.
    data_end: Option<i64>,
    /// Each payer's first payment day (`Fold::first_days`).
    first_days: Vec<i32>,
    /// New and returning payers' volume per period (`Tally::add_payment`).
    volumes: Vec<Tally>,
}

impl SecondRead {
    /// Adds each payment's volume to new or returning payers' in each of its periods.
    fn add_volumes(
        &mut self,
        frame: &Frame,
        rows: &Kept,
        users: &Map<String, u32>,
        periods: &Periods,
    ) {
        let transactions = &frame.typed.transactions;
        let (Some(codes), Some(amount)) = (&transactions.user, &transactions.amount) else {
            return;
        };
        let status = transactions.status.as_deref();
        // The file's id of each batch code, found the first time it is met.
        let mut ids = vec![None; transactions.user_ids.len()];
        for row in rows.iter(transactions.len) {
            let (code, value) = (codes[row], amount[row]);
            let success = status.is_some_and(|s| is_successful(s[row]));
            if !success || code == NO_ID || value.is_nan() {
                continue;
            }
            let id = *ids[code as usize]
                .get_or_insert_with(|| users.get(&transactions.user_ids[code as usize]).copied());
            let Some(first) = id.and_then(|id| self.first_days.get(id as usize)) else {
                continue;
            };
            let day = i64::from(frame.calendar.day[row]);
            for period in periods.of_day(day) {
                let start = periods.start(period);
                self.volumes[period].add_payment(value, i64::from(*first), start);
            }
        }
    }
}

/// Judges the batch's payments not settled against the SLA by their age at the data's end,
/// `data_end` (UTC milliseconds): the batch's calendar counted it to the batch's own last time.
fn judge_unsettled(
    frame: &Frame,
    rows: &Kept,
    (data_end, sla): (i64, i64),
    days: &mut Map<i32, Tally>,
) {
    let calendar = &frame.calendar;
    let (Some(batch_end), false) = (calendar.data_end_millis, calendar.settle_delta.is_empty())
    else {
        return;
    };
    let transactions = &frame.typed.transactions;
    let later = data_end - batch_end;
    for row in rows.iter(transactions.len) {
        let success = transactions
            .status
            .as_deref()
            .is_some_and(|s| is_successful(s[row]));
        if let (true, Settlement::Unsettled(age)) =
            (success, Settlement::of(calendar.settle_delta[row]))
        {
            if age + later > sla {
                let tally = days.entry(calendar.day[row]).or_default();
                tally.sla_judged += 1;
                tally.sla_breaches += 1;
            }
        }
    }
}
