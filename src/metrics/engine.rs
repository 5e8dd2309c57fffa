//! The engine: fills a `Tally` for a period (the whole range) and one per time bucket, from the
//! typed transactions, in a few passes over the rows. Each metric's value is then a function of
//! a tally (see `catalog`, where every metric is defined).
//!
//! What is exact: counts and sums; distinct counts (ids are dictionary-encoded integers, sorted
//! and de-duplicated, never estimated); percentiles (the values of each period are sorted and
//! interpolated linearly, like DuckDB's `quantile_cont`).
use crate::schema::Status;
use crate::time::{bucket_start, local_day, next_bucket, Grain, WeekStart, Zone};
use crate::transactions::{Transactions, NO_ID};

/// The facts about a set of transactions from which the metrics follow (see `catalog` for the
/// definitions). Counts and sums are additive; distinct counts, percentiles, windows and
/// concentration are computed per set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub attempts: u64,
    /// Successful transactions: success, refunded or disputed.
    pub successes: u64,
    pub failures: u64,
    /// Successful transactions with a (non-missing) amount.
    pub successes_with_amount: u64,
    /// Sum of amount over successful transactions (TPV gross).
    pub success_amount: f64,
    /// Sum of amount over failed transactions.
    pub failure_amount: f64,
    pub refunds: u64,
    pub refund_amount: f64,
    /// Disputed transactions, by transaction date.
    pub disputes: u64,
    /// Transactions whose `disputed_at` falls in the period.
    pub disputes_opened: u64,
    /// Successful transactions flagged as fraud, and their amount.
    pub frauds: u64,
    pub fraud_amount: f64,
    /// Sum of fee over successful transactions.
    pub revenue: f64,
    /// Successful transactions with an amount at or above the large-amount threshold.
    pub large: u64,
    /// Successful transactions whose settlement can be judged against the SLA, and the breaches.
    pub sla_judged: u64,
    pub sla_breaches: u64,
    /// Successful transactions that have a user id.
    pub payer_successes: u64,
    /// Distinct users with a successful transaction (not additive across buckets).
    pub active_payers: u64,
    pub active_merchants: u64,
    /// Payers whose first successful transaction falls in the period, and the TPV (gross) of
    /// new and of returning payers in the period.
    pub new_payers: u64,
    pub new_payer_amount: f64,
    pub returning_payer_amount: f64,
    pub kyc_verified_payers: u64,
    /// DAU / WAU / MAU as of the period's last day; `None` without times.
    pub window: Option<ActiveWindow>,
    pub ticket_p50: Option<f64>,
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    pub latency_p99: Option<f64>,
    pub settlement_p50_h: Option<f64>,
    pub settlement_p95_h: Option<f64>,
    /// TPV (gross) of the 10 merchants with the most of it, and the HHI of merchants' shares
    /// of their total TPV (gross).
    pub top10_merchant_amount: f64,
    pub merchant_hhi: Option<f64>,
}

/// Trailing-window active payers, as of one day.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActiveWindow {
    pub dau: u64,
    pub wau: u64,
    pub mau: u64,
    /// Mean daily active payers over the MAU window's days that are on or after the first day
    /// of the data.
    pub mean_daily_actives: f64,
}

/// One time bucket: its first local day (days since 1970-01-01) and its tally.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start_day: i64,
    pub tally: Tally,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Computed {
    pub totals: Tally,
    /// Every bucket of the range, empty ones included; empty when no time column is mapped or
    /// when series were not asked for.
    pub buckets: Vec<Bucket>,
}

/// How to compute: the calendar and the thresholds the user chose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub zone: Zone,
    pub grain: Grain,
    pub week_start: WeekStart,
    pub sla_hours: f64,
    pub large_amount: f64,
}

/// Facts about the rows that do not depend on the selection: each row's local day and the
/// data's first and last days, computed once per report.
pub struct Calendar {
    /// Local day of each transaction; empty without a time column.
    pub day: Vec<i64>,
    /// First and last local day of the loaded data.
    pub span: Option<(i64, i64)>,
    /// The latest `created_at` of the data (UTC milliseconds): "now" for unsettled payments.
    pub data_end_millis: Option<i64>,
    pub zone: Zone,
}

impl Calendar {
    pub fn new(transactions: &Transactions, zone: Zone) -> Calendar {
        let millis: Vec<i64> = transactions
            .created_at
            .as_ref()
            .map(|times| times.iter().map(|t| t.utc_millis(zone)).collect())
            .unwrap_or_default();
        let day: Vec<i64> = millis.iter().map(|&m| local_day(m, zone)).collect();
        let span = day
            .iter()
            .min()
            .zip(day.iter().max())
            .map(|(&a, &b)| (a, b));
        Calendar {
            data_end_millis: millis.iter().max().copied(),
            day,
            span,
            zone,
        }
    }

    /// The local day a row's time falls on, for a time other than `created_at`.
    pub fn day_of(&self, time: crate::time::Timestamp) -> i64 {
        local_day(time.utc_millis(self.zone), self.zone)
    }
}

/// Which rows to count: `mask` (the column filters; `None` keeps every row) and the period
/// `range` of local days, both included (`None`: every day).
#[derive(Clone, Copy)]
pub struct Selection<'a> {
    pub mask: Option<&'a [bool]>,
    pub range: Option<(i64, i64)>,
}

impl Selection<'_> {
    fn passes_filters(&self, row: usize) -> bool {
        self.mask.is_none_or(|m| m[row])
    }
}

/// Days of data beyond which a series is refused: a stray epoch-zero date must not make us
/// allocate a bucket per day since 1970 in a daily chart (about 100 years).
pub const MAX_SERIES_DAYS: i64 = 36_600;

/// The buckets covering `range`: their start days, and a day -> bucket table from the first
/// bucket's start. `None` when the range is too long to draw.
pub fn bucket_table(
    range: (i64, i64),
    grain: Grain,
    week_start: WeekStart,
) -> Option<(Vec<i64>, i64, Vec<u32>)> {
    let first = bucket_start(range.0, grain, week_start);
    let last = range.1;
    if last < first || last - first > MAX_SERIES_DAYS {
        return None;
    }
    let mut starts = Vec::new();
    let mut bucket_of_day = Vec::with_capacity((last - first + 1) as usize);
    let mut start = first;
    while start <= last {
        let next = next_bucket(start, grain);
        bucket_of_day.extend(std::iter::repeat_n(
            starts.len() as u32,
            (next.min(last + 1) - start) as usize,
        ));
        starts.push(start);
        start = next;
    }
    Some((starts, first, bucket_of_day))
}

/// Is the transaction successful (the payment went through, whatever came after)?
pub fn is_successful(status: Status) -> bool {
    matches!(
        status,
        Status::Success | Status::Refunded | Status::Disputed
    )
}

/// Evaluates the tallies of `selection`: over its range, and per bucket when `series` is true.
pub fn compute(
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    series: bool,
) -> Computed {
    let rows = transactions.len;
    let has_days = !calendar.day.is_empty();
    // The period: the chosen range, else the data's days.
    let range = selection.range.or(calendar.span);
    let in_range = |row: usize| -> bool {
        match (has_days, range) {
            (true, Some((from, to))) => (from..=to).contains(&calendar.day[row]),
            _ => true,
        }
    };
    let buckets_info = if series && has_days {
        range.and_then(|r| bucket_table(r, params.grain, params.week_start))
    } else {
        None
    };
    let bucket_count = buckets_info.as_ref().map_or(0, |(s, _, _)| s.len());
    let bucket_of_day = |day: i64| -> Option<usize> {
        let (_, first, table) = buckets_info.as_ref()?;
        let index = usize::try_from(day - first).ok()?;
        table.get(index).map(|&b| b as usize)
    };

    let status = transactions.status.as_deref();
    let successful = |row: usize| status.is_some_and(|s| is_successful(s[row]));
    let amount = |row: usize| transactions.amount.as_ref().map_or(f64::NAN, |a| a[row]);
    let user_of = |row: usize| {
        transactions
            .user
            .as_ref()
            .map(|u| u[row])
            .filter(|&u| u != NO_ID)
    };

    // Over the filtered rows of every date, not only the range's: each payer's first successful
    // day (for new payers) and the (payer, day) of every successful payment (trailing windows
    // look back across the start of the range).
    let mut active_days: Vec<(u32, i64)> = Vec::new();
    let first_day: Option<Vec<i64>> = (has_days && transactions.user.is_some()).then(|| {
        let mut first = vec![i64::MAX; transactions.user_count];
        for row in 0..rows {
            if selection.passes_filters(row) && successful(row) {
                if let Some(user) = user_of(row) {
                    let day = &mut first[user as usize];
                    *day = (*day).min(calendar.day[row]);
                    active_days.push((user, calendar.day[row]));
                }
            }
        }
        first
    });

    let sla_millis = (params.sla_hours * 3_600_000.0).round() as i64;
    let mut totals = Tally::default();
    let mut buckets = vec![Tally::default(); bucket_count];
    // Per-period value lists and keys; the last index (`bucket_count`) is the whole period.
    let whole = bucket_count;
    let mut tickets: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    let mut settlements: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    // (period << 32 | id) of successful payments, for exact distinct counts per period.
    let mut payer_keys: Vec<u64> = Vec::new();
    let mut verified_keys: Vec<u64> = Vec::new();
    let mut merchant_keys: Vec<u64> = Vec::new();
    let mut merchant_volume: Vec<(u64, f64)> = Vec::new();
    let key = |period: usize, id: u32| ((period as u64) << 32) | u64::from(id);

    for row in 0..rows {
        if !selection.passes_filters(row) {
            continue;
        }
        // Dispute activity is dated by the dispute, whatever the transaction's date.
        if let Some(disputed) = transactions.disputed_at.as_ref().and_then(|d| d[row]) {
            let day = calendar.day_of(disputed);
            if range.is_none_or(|(from, to)| (from..=to).contains(&day)) {
                totals.disputes_opened += 1;
                if let Some(b) = bucket_of_day(day) {
                    buckets[b].disputes_opened += 1;
                }
            }
        }
        if !in_range(row) {
            continue;
        }
        let bucket = if has_days {
            bucket_of_day(calendar.day[row])
        } else {
            None
        };
        let row_status = status.map(|s| s[row]);
        let success = row_status.is_some_and(is_successful);
        let value = amount(row);
        let user = user_of(row);
        let fee = transactions.fee.as_ref().map_or(f64::NAN, |f| f[row]);
        let fraud = transactions.fraud.as_ref().is_some_and(|f| f[row]);
        let created_millis = transactions
            .created_at
            .as_ref()
            .map(|t| t[row].utc_millis(calendar.zone));
        // How this payment stands against the settlement SLA: Some(breached) when judged.
        let sla = match (success, created_millis, transactions.settled_at.as_ref()) {
            (true, Some(created), Some(settled)) => match settled[row] {
                Some(at) => Some(at.utc_millis(calendar.zone) - created > sla_millis),
                None => calendar
                    .data_end_millis
                    .filter(|end| end - created > sla_millis)
                    .map(|_| true),
            },
            _ => None,
        };
        // Whether the payer is new in the period (their first successful day falls in it).
        let first = user.and_then(|u| first_day.as_ref().map(|f| f[u as usize]));

        for period in std::iter::once(whole).chain(bucket) {
            let tally = if period == whole {
                &mut totals
            } else {
                &mut buckets[period]
            };
            tally.attempts += 1;
            match row_status {
                Some(Status::Failed) => {
                    tally.failures += 1;
                    if !value.is_nan() {
                        tally.failure_amount += value;
                    }
                }
                Some(Status::Refunded) => {
                    tally.refunds += 1;
                    if !value.is_nan() {
                        tally.refund_amount += value;
                    }
                }
                Some(Status::Disputed) => tally.disputes += 1,
                _ => {}
            }
            if !success {
                continue;
            }
            tally.successes += 1;
            if !value.is_nan() {
                tally.successes_with_amount += 1;
                tally.success_amount += value;
                if value >= params.large_amount {
                    tally.large += 1;
                }
                if fraud {
                    tally.fraud_amount += value;
                }
            }
            if fraud {
                tally.frauds += 1;
            }
            if !fee.is_nan() {
                tally.revenue += fee;
            }
            if let Some(breached) = sla {
                tally.sla_judged += 1;
                tally.sla_breaches += u64::from(breached);
            }
            if user.is_some() {
                tally.payer_successes += 1;
            }
            if let (Some(first), false) = (first, value.is_nan()) {
                let period_start = if period == whole {
                    range.map_or(i64::MIN, |r| r.0)
                } else {
                    buckets_info
                        .as_ref()
                        .map_or(i64::MIN, |(s, _, _)| s[period])
                };
                if first >= period_start {
                    tally.new_payer_amount += value;
                } else {
                    tally.returning_payer_amount += value;
                }
            }
        }

        let periods = std::iter::once(whole).chain(bucket);
        if let Some(latency) = transactions.latency_ms.as_ref().map(|l| l[row]) {
            if !latency.is_nan() {
                periods.clone().for_each(|p| latencies[p].push(latency));
            }
        }
        if !success {
            continue;
        }
        if !value.is_nan() {
            periods.clone().for_each(|p| tickets[p].push(value));
        }
        if let (Some(created), Some(Some(settled))) = (
            created_millis,
            transactions.settled_at.as_ref().map(|s| s[row]),
        ) {
            let hours = (settled.utc_millis(calendar.zone) - created) as f64 / 3_600_000.0;
            periods.clone().for_each(|p| settlements[p].push(hours));
        }
        if let Some(user) = user {
            let verified = transactions.kyc_verified.as_ref().is_some_and(|k| k[row]);
            for p in periods.clone() {
                payer_keys.push(key(p, user));
                if verified {
                    verified_keys.push(key(p, user));
                }
            }
        }
        if let Some(merchant) = transactions
            .merchant
            .as_ref()
            .map(|m| m[row])
            .filter(|&m| m != NO_ID)
        {
            for p in periods {
                merchant_keys.push(key(p, merchant));
                if !value.is_nan() {
                    merchant_volume.push((key(p, merchant), value));
                }
            }
        }
    }

    let mut with_tally = |period: usize, f: &mut dyn FnMut(&mut Tally)| {
        if period == whole {
            f(&mut totals)
        } else {
            f(&mut buckets[period])
        }
    };

    for (period, count) in count_distinct(payer_keys) {
        with_tally(period, &mut |t| t.active_payers = count);
    }
    for (period, count) in count_distinct(verified_keys) {
        with_tally(period, &mut |t| t.kyc_verified_payers = count);
    }
    for (period, count) in count_distinct(merchant_keys) {
        with_tally(period, &mut |t| t.active_merchants = count);
    }
    for (period, volumes) in group_sums(merchant_volume) {
        with_tally(period, &mut |t| {
            let (top10, hhi) = concentration(&volumes);
            t.top10_merchant_amount = top10;
            t.merchant_hhi = hhi;
        });
    }
    for (period, mut values) in tickets.into_iter().enumerate() {
        let p50 = percentiles(&mut values, &[0.5]);
        with_tally(period, &mut |t| t.ticket_p50 = p50[0]);
    }
    for (period, mut values) in latencies.into_iter().enumerate() {
        let p = percentiles(&mut values, &[0.5, 0.95, 0.99]);
        with_tally(period, &mut |t| {
            (t.latency_p50, t.latency_p95, t.latency_p99) = (p[0], p[1], p[2]);
        });
    }
    for (period, mut values) in settlements.into_iter().enumerate() {
        let p = percentiles(&mut values, &[0.5, 0.95]);
        with_tally(period, &mut |t| {
            (t.settlement_p50_h, t.settlement_p95_h) = (p[0], p[1]);
        });
    }

    // New payers: each payer counts in the period holding their first successful day.
    if let (Some(first_day), Some((from, to))) = (&first_day, range) {
        for &day in first_day.iter().filter(|&&d| d != i64::MAX) {
            if (from..=to).contains(&day) {
                totals.new_payers += 1;
                if let Some(b) = bucket_of_day(day) {
                    buckets[b].new_payers += 1;
                }
            }
        }
    }

    // Trailing windows, as of each period's last day (or the data's last day if earlier).
    if let (Some((from, to)), Some((data_first, data_last))) = (range, calendar.span) {
        let windows = ActiveWindows::new(active_days, data_first);
        let as_of = |last_day: i64, first_day: i64| {
            let end = last_day.min(data_last);
            (end >= first_day).then(|| windows.at(end))
        };
        totals.window = as_of(to, from);
        if let Some((starts, _, _)) = &buckets_info {
            for (b, tally) in buckets.iter_mut().enumerate() {
                let last = starts.get(b + 1).map_or(to, |next| (next - 1).min(to));
                tally.window = as_of(last, starts[b].max(from));
            }
        }
    }

    Computed {
        totals,
        buckets: buckets_info
            .map(|(starts, _, _)| {
                starts
                    .into_iter()
                    .zip(buckets)
                    .map(|(start_day, tally)| Bucket { start_day, tally })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// (period << 32 | id) keys -> the number of distinct ids per period.
fn count_distinct(mut keys: Vec<u64>) -> Vec<(usize, u64)> {
    keys.sort_unstable();
    keys.dedup();
    let mut counts: Vec<(usize, u64)> = Vec::new();
    for key in keys {
        let period = (key >> 32) as usize;
        match counts.last_mut() {
            Some((p, n)) if *p == period => *n += 1,
            _ => counts.push((period, 1)),
        }
    }
    counts
}

/// (period << 32 | id, value) -> per period, the sum of value per id.
fn group_sums(mut pairs: Vec<(u64, f64)>) -> Vec<(usize, Vec<f64>)> {
    pairs.sort_unstable_by_key(|&(key, _)| key);
    let mut out: Vec<(usize, Vec<f64>)> = Vec::new();
    let mut last_key = None;
    for (key, value) in pairs {
        let period = (key >> 32) as usize;
        if out.last().is_none_or(|(p, _)| *p != period) {
            out.push((period, Vec::new()));
        }
        let sums = &mut out.last_mut().expect("pushed above").1;
        if last_key == Some(key) {
            *sums.last_mut().expect("same key as the last value") += value;
        } else {
            sums.push(value);
        }
        last_key = Some(key);
    }
    out
}

/// The volume of the 10 largest merchants, and the Herfindahl–Hirschman index of the merchants'
/// shares of their total (in percent, squared and summed: 0..10 000).
fn concentration(volumes: &[f64]) -> (f64, Option<f64>) {
    let total: f64 = volumes.iter().sum();
    let mut sorted = volumes.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let top10 = sorted.iter().take(10).sum();
    let hhi = (total > 0.0).then(|| {
        sorted
            .iter()
            .map(|v| {
                let share = 100.0 * v / total;
                share * share
            })
            .sum()
    });
    (top10, hhi)
}

/// Exact percentiles with linear interpolation between the two nearest ranks (DuckDB's
/// `quantile_cont`); sorts `values`.
pub fn percentiles(values: &mut [f64], quantiles: &[f64]) -> Vec<Option<f64>> {
    values.sort_unstable_by(f64::total_cmp);
    quantiles
        .iter()
        .map(|&q| quantile_of_sorted(values, q))
        .collect()
}

pub fn quantile_of_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (position.floor() as usize, position.ceil() as usize);
    let (low, high) = (sorted[lo], sorted[hi]);
    Some(if lo == hi {
        low
    } else {
        low + (position - lo as f64) * (high - low)
    })
}

/// Distinct active payers in trailing windows, for any end day: built once from the
/// (user, day) pairs of successful payments, then each query is a lookup.
struct ActiveWindows {
    /// First day of the arrays below.
    origin: i64,
    daily: Vec<u64>,
    weekly: Vec<u64>,
    monthly: Vec<u64>,
    /// First day of the data: days before it do not count towards the mean daily actives.
    range_start: i64,
}

impl ActiveWindows {
    fn new(mut pairs: Vec<(u32, i64)>, range_start: i64) -> ActiveWindows {
        pairs.sort_unstable();
        pairs.dedup();
        let origin = pairs.iter().map(|p| p.1).min().unwrap_or(range_start);
        let last = pairs.iter().map(|p| p.1).max().unwrap_or(origin);
        // A user active on day d counts in the W-day windows ending on d .. d+W-1: add +1 at
        // the start of each run of covered days and -1 after it, then take prefix sums.
        let length = (last - origin + 31) as usize;
        let mut daily = vec![0u64; length];
        let window = |width: i64| {
            let mut delta = vec![0i64; length + 1];
            let mut covered_until: Option<(u32, i64)> = None; // (user, last covered day)
            for &(user, day) in &pairs {
                let start = match covered_until {
                    Some((u, until)) if u == user && until >= day => until + 1,
                    _ => day,
                };
                let end = day + width - 1;
                if start <= end {
                    delta[(start - origin) as usize] += 1;
                    delta[(end - origin + 1) as usize] -= 1;
                }
                covered_until = Some((user, end));
            }
            let mut running = 0i64;
            delta[..length]
                .iter()
                .map(|d| {
                    running += d;
                    running as u64
                })
                .collect::<Vec<u64>>()
        };
        for &(_, day) in &pairs {
            daily[(day - origin) as usize] += 1;
        }
        ActiveWindows {
            origin,
            weekly: window(7),
            monthly: window(30),
            daily,
            range_start,
        }
    }

    fn count(series: &[u64], origin: i64, day: i64) -> u64 {
        usize::try_from(day - origin)
            .ok()
            .and_then(|i| series.get(i))
            .copied()
            .unwrap_or(0)
    }

    fn at(&self, end: i64) -> ActiveWindow {
        let first = (end - 29).max(self.range_start);
        let days = (first..=end)
            .map(|d| Self::count(&self.daily, self.origin, d))
            .collect::<Vec<u64>>();
        ActiveWindow {
            dau: Self::count(&self.daily, self.origin, end),
            wau: Self::count(&self.weekly, self.origin, end),
            mau: Self::count(&self.monthly, self.origin, end),
            mean_daily_actives: days.iter().sum::<u64>() as f64 / days.len().max(1) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_quantile_cont() {
        let mut values = vec![4.0, 1.0, 3.0, 2.0];
        // positions 0.5*3 = 1.5 -> 2.5; 0.95*3 = 2.85 -> 3.85; 0 -> 1; 1 -> 4
        let got = percentiles(&mut values, &[0.5, 0.95, 0.0, 1.0]);
        let want = [2.5, 3.85, 1.0, 4.0];
        for (got, want) in got.iter().zip(want) {
            assert!((got.unwrap() - want).abs() < 1e-12, "{got:?} vs {want}");
        }
        assert_eq!(percentiles(&mut [], &[0.5]), vec![None]);
    }

    #[test]
    fn trailing_windows_count_each_user_once() {
        // user 0 active on days 10 and 12; user 1 on day 3; user 2 on day 12.
        let windows = ActiveWindows::new(vec![(0, 10), (0, 12), (1, 3), (2, 12), (0, 12)], 0);
        let at12 = windows.at(12);
        assert_eq!((at12.dau, at12.wau, at12.mau), (2, 2, 3));
        // days 0..=12: actives 1 (day 3) + 1 (day 10) + 2 (day 12) = 4 over 13 days
        assert!((at12.mean_daily_actives - 4.0 / 13.0).abs() < 1e-12);
        let at9 = windows.at(9);
        assert_eq!((at9.dau, at9.wau, at9.mau), (0, 1, 1));
        // The 30 days ending on day 41 start on day 12: users 0 and 2; ending on 42, nobody.
        let at41 = windows.at(41);
        assert_eq!((at41.dau, at41.wau, at41.mau), (0, 0, 2));
        assert_eq!(windows.at(42).mau, 0);
    }

    #[test]
    fn concentration_of_shares() {
        // Shares 50%, 30%, 20% of 100: HHI = 2500 + 900 + 400.
        let (top10, hhi) = concentration(&[30.0, 50.0, 20.0]);
        assert_eq!(top10, 100.0);
        assert_eq!(hhi, Some(3800.0));
    }
}
