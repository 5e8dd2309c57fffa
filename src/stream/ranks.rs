//! Exact order statistics of more values than memory holds, found in rounds, each round a read
//! of every value: the first round's histogram of the values' top 16 bits (as `order_key`s)
//! narrows each wanted rank to one bin; each later round either keeps the values of that bin,
//! when they are few enough, and reads the rank from them, or counts them by their next 8 bits,
//! narrowing the bin 256-fold. Memory is a fixed histogram per bin being narrowed, and the
//! values kept: never the values themselves.
//!
//! Hand-written because sketches (t-digest, KLL) give approximate quantiles, and the catalog's
//! percentiles are exact, like DuckDB's `quantile_cont` and the in-memory engine's.
use std::collections::{BTreeMap, HashMap};

/// Bits of the first round's bins (`first_bin`).
pub(crate) const FIRST_BITS: u32 = 16;
/// Bits each later round narrows a bin by: a dense histogram of 256 counts (2 KiB) per bin.
const ROUND_BITS: u32 = 8;

/// The first round's bin of a value's `order_key`.
pub(crate) fn first_bin(key: u64) -> u16 {
    (key >> (64 - FIRST_BITS)) as u16
}

/// Where a wanted rank stands: the bin it is in (its keys' top `bits` bits are `prefix`), how
/// many values of its group lie in lower bins (`below`), and how many the bin holds.
#[derive(Debug, Clone, Copy)]
struct Place {
    prefix: u64,
    bits: u32,
    below: u64,
    in_bin: u64,
}

impl Place {
    fn holds(&self, key: u64) -> bool {
        key >> (64 - self.bits) == self.prefix
    }
}

/// What a round does in one bin: keeps its values, or counts them by their next bits.
enum Probe {
    Keep(Vec<u64>),
    Count(Box<[u64; 1 << ROUND_BITS]>),
}

struct Wanted {
    group: usize,
    /// 0-based rank among the group's values, from the smallest.
    rank: u64,
    place: Place,
    /// The key at `rank`, once found.
    found: Option<u64>,
    /// The values changed between rounds: the rank cannot be found.
    lost: bool,
    /// The probe of the current round that serves this rank.
    probe: usize,
}

/// The ranks wanted in several groups of values (one group per metric and period), found over
/// as many rounds as needed.
pub(crate) struct Selection {
    wanted: Vec<Wanted>,
    /// This round's probes, each one bin of one group, with the bin's place.
    probes: Vec<(usize, Place, Probe)>,
    /// Each group's probes.
    by_group: Vec<Vec<usize>>,
    /// The most values kept in one round, over every probe.
    keep_budget: u64,
}

impl Selection {
    /// `groups`: each group's first-round histogram (`first_bin` to count) and the ranks wanted
    /// in it (each below the group's count). At most `keep_budget` values are kept per round.
    pub(crate) fn new(groups: &[(BTreeMap<u16, u64>, Vec<u64>)], keep_budget: u64) -> Selection {
        let mut wanted = Vec::new();
        for (group, (histogram, ranks)) in groups.iter().enumerate() {
            for &rank in ranks {
                let bins = histogram.iter().map(|(&bin, &n)| (u64::from(bin), n));
                if let Some(place) = narrow(bins, rank, 0, (0, 0), FIRST_BITS) {
                    wanted.push(Wanted {
                        group,
                        rank,
                        place,
                        found: None,
                        lost: false,
                        probe: usize::MAX,
                    });
                }
            }
        }
        let mut selection = Selection {
            wanted,
            probes: Vec::new(),
            by_group: vec![Vec::new(); groups.len()],
            keep_budget,
        };
        selection.start_round();
        selection
    }

    /// True once every wanted rank is found: no more rounds are needed.
    pub(crate) fn done(&self) -> bool {
        self.probes.is_empty()
    }

    /// Notes a value of `group` (as its `order_key`) in this round.
    #[inline]
    pub(crate) fn see(&mut self, group: usize, key: u64) {
        for &p in &self.by_group[group] {
            let (_, place, probe) = &mut self.probes[p];
            if place.holds(key) {
                match probe {
                    Probe::Keep(keys) => keys.push(key),
                    Probe::Count(counts) => {
                        let shift = 64 - place.bits - ROUND_BITS;
                        counts[((key >> shift) & 0xff) as usize] += 1;
                    }
                }
            }
        }
    }

    /// Ends a round (every value was seen once): finds the ranks it can, narrows the others,
    /// and starts the next round.
    pub(crate) fn end_round(&mut self) {
        let mut probes = std::mem::take(&mut self.probes);
        for probe in &mut probes {
            if let (_, _, Probe::Keep(keys)) = probe {
                keys.sort_unstable();
            }
        }
        for wanted in self
            .wanted
            .iter_mut()
            .filter(|w| w.found.is_none() && !w.lost)
        {
            let (_, place, probe) = &probes[wanted.probe];
            let within = wanted.rank - place.below;
            match probe {
                Probe::Keep(keys) => match keys.get(within as usize) {
                    Some(&key) => wanted.found = Some(key),
                    None => wanted.lost = true,
                },
                Probe::Count(counts) => {
                    let bins = counts.iter().enumerate().map(|(b, &n)| (b as u64, n));
                    let parent = (place.prefix, place.bits);
                    match narrow(bins, wanted.rank, place.below, parent, ROUND_BITS) {
                        Some(next) if next.bits == 64 => {
                            // Every value of a 64-bit bin is the same value.
                            wanted.found = Some(next.prefix);
                        }
                        Some(next) => wanted.place = next,
                        // This round saw fewer values than the first (the values changed
                        // between reads): the rank is not found.
                        None => wanted.lost = true,
                    }
                }
            }
        }
        self.start_round();
    }

    /// The key at each wanted rank of `group`, in the order the ranks were asked for (`None`
    /// for a rank not found: the rounds saw the values differently from the first).
    pub(crate) fn found(&self, group: usize, rank: u64) -> Option<u64> {
        self.wanted
            .iter()
            .find(|w| w.group == group && w.rank == rank)
            .and_then(|w| w.found)
    }

    /// Makes this round's probes: one per bin that holds a rank still wanted. The smallest bins
    /// keep their values, up to the budget; the others are counted by their next bits.
    fn start_round(&mut self) {
        self.probes.clear();
        for probes in &mut self.by_group {
            probes.clear();
        }
        let mut index: HashMap<(usize, u64, u32), usize> = HashMap::new();
        let mut order: Vec<usize> = (0..self.wanted.len())
            .filter(|&w| self.wanted[w].found.is_none() && !self.wanted[w].lost)
            .collect();
        order.sort_by_key(|&w| self.wanted[w].place.in_bin);
        let mut kept = 0u64;
        for w in order {
            let wanted = &mut self.wanted[w];
            let place = wanted.place;
            let key = (wanted.group, place.prefix, place.bits);
            wanted.probe = *index.entry(key).or_insert_with(|| {
                let probe = if kept + place.in_bin <= self.keep_budget {
                    kept += place.in_bin;
                    Probe::Keep(Vec::with_capacity(place.in_bin as usize))
                } else {
                    Probe::Count(Box::new([0; 1 << ROUND_BITS]))
                };
                self.probes.push((wanted.group, place, probe));
                self.by_group[wanted.group].push(self.probes.len() - 1);
                self.probes.len() - 1
            });
        }
    }
}

/// The bin of `bins` that holds `rank`, given `below` values in lower bins before them. Each
/// bin is `(bin, count)`, in order; a bin's keys start with the `parent_bits` bits of `parent`,
/// then the bin's `bin_bits` bits.
fn narrow(
    bins: impl Iterator<Item = (u64, u64)>,
    rank: u64,
    mut below: u64,
    (parent, parent_bits): (u64, u32),
    bin_bits: u32,
) -> Option<Place> {
    for (bin, count) in bins {
        if rank < below + count {
            return Some(Place {
                prefix: (parent << bin_bits) | bin,
                bits: parent_bits + bin_bits,
                below,
                in_bin: count,
            });
        }
        below += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::engine::{from_order_key, order_key};

    /// Runs the rounds over `values` split into groups, and checks every rank against sorting.
    fn check(groups: &[Vec<f64>], budget: u64) -> usize {
        let keys: Vec<Vec<u64>> = groups
            .iter()
            .map(|g| g.iter().map(|&v| order_key(v)).collect())
            .collect();
        let first: Vec<(BTreeMap<u16, u64>, Vec<u64>)> = keys
            .iter()
            .map(|g| {
                let mut histogram = BTreeMap::new();
                for &k in g {
                    *histogram.entry(first_bin(k)).or_insert(0) += 1;
                }
                let n = g.len() as u64;
                let ranks = [
                    0,
                    n / 2,
                    n.saturating_sub(1) * 95 / 100,
                    n.saturating_sub(1),
                ];
                (histogram, ranks.into_iter().filter(|&r| r < n).collect())
            })
            .collect();
        let mut selection = Selection::new(&first, budget);
        let mut rounds = 1;
        while !selection.done() {
            for (group, g) in keys.iter().enumerate() {
                for &k in g {
                    selection.see(group, k);
                }
            }
            selection.end_round();
            rounds += 1;
            assert!(rounds < 12, "the rounds end");
        }
        for (group, (g, (_, ranks))) in keys.iter().zip(&first).enumerate() {
            let mut sorted = g.clone();
            sorted.sort_unstable();
            for &rank in ranks {
                let found = selection.found(group, rank).map(from_order_key);
                assert_eq!(
                    found,
                    Some(from_order_key(sorted[rank as usize])),
                    "rank {rank}"
                );
            }
        }
        rounds
    }

    #[test]
    fn ranks_are_exact_however_the_values_fall() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let spread: Vec<f64> = (0..20_000).map(|_| next() * 1000.0).collect();
        let ties: Vec<f64> = (0..20_000).map(|i| f64::from(i % 3)).collect();
        let close: Vec<f64> = (0..20_000).map(|i| 100.0 + f64::from(i) * 1e-12).collect();
        let signs: Vec<f64> = (0..5_000).map(|_| next() * 200.0 - 100.0).collect();
        let one = vec![42.5];
        let groups = [
            spread,
            ties,
            close,
            signs,
            one,
            vec![-0.0, 0.0, f64::INFINITY],
        ];
        // Room to keep every bin's values: one round after the first.
        assert_eq!(check(&groups, 1 << 30), 2);
        // No room to keep anything: bins are narrowed down to single values.
        assert!(check(&groups, 0) > 2);
        // Some room.
        check(&groups, 500);
    }
}
