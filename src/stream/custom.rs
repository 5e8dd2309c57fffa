//! Custom metrics in a streamed report: each aggregate of each metric folded per local day, a
//! batch at a time, into state that grows with the days (and a distinct count's values), not the
//! rows; the periods, buckets and segments then merge their days, as the catalog's tallies do.
//!
//! A batch's rows are read by the same `custom::Evaluator` as a file held in memory (its formulas
//! compiled against the batch's table), so each row gives the same numbers and values. What is
//! kept of them:
//! - `count`, `sum`, `avg`, `min`, `max`, `share`: an `Accumulator` per day;
//! - `count_distinct`: each (value, day) seen, the values as ids of the file's;
//! - percentiles (`median`, `p1`…`p99`): how many values fall in each first-round bin per day;
//!   their exact ranks are found in the reads after the fold, with the catalog's (`ranks`).
//!
//! Sums may differ from the in-memory report's in their last bits (added in another order).
//! The definitions are parsed against the first batch, as the mapping and time zone are pinned
//! by it; a column's decimal separator is decided by the first batch that reads it as numbers.
use super::ranks::{first_bin, Selection};
use super::{quantile, ranks_of, Kept, Map, Periods, Set};
use crate::dataset::{decimal_cells, Dataset, FormulaTable};
use crate::error::{Error, ErrorKind, Result};
use crate::metrics::custom::{Accumulator, Evaluator, Function, Seen, Tallies};
use crate::metrics::engine::order_key;
use crate::number::Decimal;
use crate::report::{CustomParsed, Frame};
use crate::schema::Mapping;
use std::cell::OnceCell;
use std::collections::BTreeMap;

/// The custom metrics of a streamed report (`Options::metrics`), folded per day.
pub(super) struct CustomFold {
    definitions: Vec<String>,
    /// The definitions parsed and compiled against the first batch.
    parsed: Option<CustomParsed>,
    /// Each aggregate's function (every valid metric's, in order), and where each metric's
    /// start: the first batch's evaluator's.
    functions: Vec<Function>,
    starts: Vec<usize>,
    decimals: Vec<OnceCell<Decimal>>,
    /// The first batch's mapping (a later read's frame maps only the roles it types).
    mapping: Option<Mapping>,
    aggregates: Vec<Days>,
}

/// What one aggregate has seen, per day.
enum Days {
    Plain(Map<i32, Accumulator>),
    /// A distinct count's values as the file's ids, and each (id, day) seen (`id_day`).
    Distinct {
        ids: Map<String, u32>,
        seen: Set<u64>,
    },
    /// Percentile `q`'s values per day and first-round bin (`ranks::first_bin`).
    Quantile {
        q: f64,
        bins: Map<(i32, u16), u64>,
    },
}

fn id_day(id: u32, day: i32) -> u64 {
    (u64::from(id) << 32) | u64::from(day as u32)
}

/// A batch as custom metrics read it: its table through formulas, its kept rows, their days.
pub(super) struct Batch<'a> {
    pub dataset: &'a Dataset,
    pub frame: &'a Frame,
    pub rows: &'a Kept,
    pub decimal: Option<Decimal>,
}

impl CustomFold {
    pub fn new(definitions: &[String]) -> CustomFold {
        CustomFold {
            definitions: definitions.to_vec(),
            parsed: None,
            functions: Vec::new(),
            starts: Vec::new(),
            decimals: Vec::new(),
            mapping: None,
            aggregates: Vec::new(),
        }
    }

    /// Compiles the metrics against `batch` and hands `read` the evaluator, the batch's kept
    /// rows, each typed row's day, and each aggregate's function and state.
    fn with_evaluator<T>(
        &mut self,
        batch: &Batch,
        read: impl FnOnce(&mut Evaluator, &[u32], &[i32], (&[Function], &mut [Days])) -> T,
    ) -> Result<T> {
        let (dataset, frame) = (batch.dataset, batch.frame);
        let table = frame.table(dataset);
        if self.decimals.len() != table.columns.len() {
            self.decimals = decimal_cells(table);
        }
        let mapping = self.mapping.get_or_insert_with(|| frame.mapping.clone());
        let formulas = FormulaTable::new(table, mapping, batch.decimal, &self.decimals);
        let first = self.parsed.is_none();
        let parsed = self
            .parsed
            .get_or_insert_with(|| CustomParsed::parse(&self.definitions, &formulas, mapping));
        let read_number = |column: usize, text: &str| formulas.read_number(column, text);
        let transactions = &frame.typed.transactions;
        let codes = |column: usize| {
            let coded = frame.coded(dataset, column);
            (&coded.codes, coded.values.len())
        };
        let mut evaluator = parsed.compile(&formulas, &read_number, &transactions.rows, &codes);
        if first {
            self.functions = evaluator.functions();
            self.starts = evaluator.starts().to_vec();
            self.aggregates = (self.functions.iter())
                .map(|function| match function {
                    Function::CountDistinct => Days::Distinct {
                        ids: Map::default(),
                        seen: Set::default(),
                    },
                    Function::Quantile(q) => Days::Quantile {
                        q: *q,
                        bins: Map::default(),
                    },
                    _ => Days::Plain(Map::default()),
                })
                .collect();
        } else if evaluator.functions() != self.functions {
            // Every batch has the first one's columns: its formulas compile the same way.
            return Err(Error::new(ErrorKind::InvalidOption(
                "a custom metric reads the file's batches differently: run the report without --stream"
                    .into(),
            )));
        }
        let rows: Vec<u32> = (batch.rows.iter(transactions.len))
            .map(|row| row as u32)
            .collect();
        Ok(read(
            &mut evaluator,
            &rows,
            &frame.calendar.day,
            (&self.functions, &mut self.aggregates),
        ))
    }

    /// Folds a batch's kept rows in.
    pub fn fold(&mut self, batch: &Batch) -> Result<()> {
        self.with_evaluator(batch, |evaluator, rows, day, (functions, aggregates)| {
            let day_of = |i: usize| day[rows[i] as usize];
            for (index, days) in aggregates.iter_mut().enumerate() {
                let function = functions[index];
                match days {
                    Days::Plain(days) => {
                        // Files are mostly in time order: the day's accumulator is looked up
                        // when the day changes.
                        let mut current: Option<(i32, Accumulator)> = None;
                        evaluator.see(index, rows, |i, seen| {
                            let Seen::Number { value, kept } = seen else {
                                return;
                            };
                            let day = day_of(i);
                            if current.as_ref().is_none_or(|(d, _)| *d != day) {
                                if let Some((d, acc)) = current.take() {
                                    days.insert(d, acc);
                                }
                                let acc = days
                                    .remove(&day)
                                    .unwrap_or_else(|| Accumulator::new(function));
                                current = Some((day, acc));
                            }
                            if let Some((_, acc)) = current.as_mut() {
                                acc.add(value, kept);
                            }
                        });
                        if let Some((d, acc)) = current {
                            days.insert(d, acc);
                        }
                    }
                    Days::Distinct { ids, seen } => {
                        let mut found: Vec<(u32, i32)> = Vec::new();
                        evaluator.see(index, rows, |i, s| {
                            if let Seen::Id(id) = s {
                                found.push((id, day_of(i)));
                            }
                        });
                        // The batch's ids to the file's, each looked up once.
                        let values = evaluator.distinct_values(index);
                        let mut file_id: Vec<Option<u32>> = vec![None; values.len()];
                        for (id, day) in found {
                            let id = *file_id[id as usize].get_or_insert_with(|| {
                                let next = ids.len() as u32;
                                *ids.entry(values[id as usize].to_string()).or_insert(next)
                            });
                            seen.insert(id_day(id, day));
                        }
                    }
                    Days::Quantile { bins, .. } => {
                        evaluator.see(index, rows, |i, seen| {
                            if let Seen::Number { value, .. } = seen {
                                let bin = first_bin(order_key(value));
                                *bins.entry((day_of(i), bin)).or_insert(0) += 1;
                            }
                        });
                    }
                }
            }
        })
    }

    /// The percentile aggregates, in order: their index, quantile and bins.
    fn quantiles(&self) -> impl Iterator<Item = (usize, f64, &Map<(i32, u16), u64>)> + '_ {
        (self.aggregates.iter().enumerate()).filter_map(|(index, days)| match days {
            Days::Quantile { q, bins } => Some((index, *q, bins)),
            _ => None,
        })
    }

    /// The percentiles' groups of values for `ranks::Selection`, after the catalog's (from
    /// `first_group`): one per percentile aggregate and period, each with its first-round
    /// histogram and the ranks wanted.
    pub fn first_round(&self, periods: &Periods) -> Vec<(BTreeMap<u16, u64>, Vec<u64>)> {
        let count = periods.count();
        let mut groups = Vec::new();
        for (_, q, bins) in self.quantiles() {
            let mut histograms = vec![BTreeMap::new(); count];
            for (&(day, bin), &n) in bins {
                for period in periods.of_day(i64::from(day)) {
                    *histograms[period].entry(bin).or_insert(0) += n;
                }
            }
            groups.extend(histograms.into_iter().map(|histogram| {
                let n: u64 = histogram.values().sum();
                (histogram, ranks_of(q, n))
            }));
        }
        groups
    }

    /// Feeds a batch's percentile values to this round of the selection (groups from
    /// `first_group`, as `first_round` made them).
    pub fn see_values(
        &mut self,
        batch: &Batch,
        periods: &Periods,
        (selection, first_group): (&mut Selection, usize),
    ) -> Result<()> {
        let quantiles: Vec<usize> = self.quantiles().map(|(index, _, _)| index).collect();
        if quantiles.is_empty() {
            return Ok(());
        }
        let count = periods.count();
        self.with_evaluator(batch, |evaluator, rows, day, _| {
            for (j, &index) in quantiles.iter().enumerate() {
                let group = first_group + j * count;
                evaluator.see(index, rows, |i, seen| {
                    if let Seen::Number { value, .. } = seen {
                        let key = order_key(value);
                        for period in periods.of_day(i64::from(day[rows[i] as usize])) {
                            selection.see(group + period, key);
                        }
                    }
                });
            }
        })
    }

    /// The aggregates' values in the range (and its buckets) and in the previous period, once
    /// the percentiles' ranks are found (`counts`: each group's values, from `first_group`).
    pub fn tallies(
        &self,
        periods: &Periods,
        (selection, counts, first_group): (&Selection, &[u64], usize),
    ) -> (Tallies, Option<Tallies>) {
        let count = periods.count();
        // Each aggregate's value per period.
        let mut values: Vec<Vec<Option<f64>>> = Vec::with_capacity(self.functions.len());
        let mut quantile_group = first_group;
        for (&function, days) in self.functions.iter().zip(&self.aggregates) {
            values.push(match days {
                Days::Plain(days) => {
                    let mut periods_acc = vec![Accumulator::new(function); count];
                    // In day order, as the in-memory report adds its rows.
                    let mut sorted: Vec<(&i32, &Accumulator)> = days.iter().collect();
                    sorted.sort_unstable_by_key(|(day, _)| **day);
                    for (&day, acc) in sorted {
                        for period in periods.of_day(i64::from(day)) {
                            periods_acc[period].merge(acc);
                        }
                    }
                    periods_acc.iter_mut().map(|a| a.result(function)).collect()
                }
                Days::Distinct { seen, .. } => {
                    let mut keys: Vec<u64> = seen.iter().copied().collect();
                    keys.sort_unstable();
                    // Keys come by id: a period counts an id once, at its first day in it.
                    let mut distinct = vec![0u64; count];
                    let mut last_id = vec![u64::MAX; count];
                    for key in keys {
                        let (id, day) = (key >> 32, key as u32 as i32);
                        for period in periods.of_day(i64::from(day)) {
                            if last_id[period] != id {
                                last_id[period] = id;
                                distinct[period] += 1;
                            }
                        }
                    }
                    distinct.into_iter().map(|n| Some(n as f64)).collect()
                }
                Days::Quantile { q, .. } => {
                    let first = quantile_group;
                    quantile_group += count;
                    (0..count)
                        .map(|period| {
                            let group = first + period;
                            let n = counts.get(group).copied().unwrap_or(0);
                            quantile(*q, n, |rank| selection.found(group, rank))
                        })
                        .collect()
                }
            });
        }
        let of_period =
            |period: usize| -> Vec<Option<f64>> { values.iter().map(|v| v[period]).collect() };
        let buckets = (2..count).map(of_period).collect();
        let period = Tallies::new(of_period(0), buckets, self.starts.clone());
        let previous = periods
            .previous
            .map(|_| Tallies::new(of_period(1), Vec::new(), self.starts.clone()));
        (period, previous)
    }

    pub fn definitions(&self) -> &[String] {
        &self.definitions
    }

    /// The definitions as parsed and compiled (`None` before the first batch).
    pub fn parsed(&self) -> Option<&CustomParsed> {
        self.parsed.as_ref()
    }
}
