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
    /// The rows in order of local day (ties in file order); the identity without times. The
    /// engine walks them in this order, so each bucket's rows come together and distinct counts
    /// per bucket need no sorting.
    pub order: Vec<u32>,
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
        let mut order: Vec<u32> = (0..transactions.len as u32).collect();
        if !day.is_empty() {
            order.sort_by_key(|&row| day[row as usize]);
        }
        Calendar {
            data_end_millis: millis.iter().max().copied(),
            day,
            span,
            zone,
            order,
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
///
/// One walk over the rows in day order (`Calendar::order`) fills every tally: buckets then come
/// one after another, so distinct payers and merchants per bucket are counted with a "last
/// bucket seen" per id, and merchants' volumes per bucket with one dense array reset between
/// buckets. Percentiles select (not sort) within each period's values.
pub fn compute(
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    selection: Selection,
    series: bool,
) -> Computed {
    let has_days = !calendar.day.is_empty();
    // The period: the chosen range, else the data's days.
    let range = selection.range.or(calendar.span);
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
    let in_range = |day: i64| range.is_none_or(|(from, to)| (from..=to).contains(&day));

    let status = transactions.status.as_deref();
    let amount = transactions.amount.as_deref();
    let users = transactions.user.as_deref();
    let merchants = transactions.merchant.as_deref();
    let user_of = |row: usize| users.map(|u| u[row]).filter(|&u| u != NO_ID);
    let successful = |row: usize| status.is_some_and(|s| is_successful(s[row]));
    let filtered = |row: usize| selection.passes_filters(row);

    // Over the filtered rows of every date, not only the range's: each payer's first successful
    // day (for new payers) and their active days (trailing windows look back across the start
    // of the range). In day order, the first day seen is the first.
    let mut first_day: Option<Vec<i64>> =
        (has_days && users.is_some()).then(|| vec![i64::MAX; transactions.user_count]);
    let mut windows = match (has_days, calendar.span, &first_day) {
        (true, Some(span), Some(_)) => Some(ActiveWindows::new(span, transactions.user_count)),
        _ => None,
    };
    if let (Some(first), Some(windows)) = (first_day.as_mut(), windows.as_mut()) {
        for &row in &calendar.order {
            let row = row as usize;
            if filtered(row) && successful(row) {
                if let Some(user) = user_of(row) {
                    let day = calendar.day[row];
                    let f = &mut first[user as usize];
                    *f = (*f).min(day);
                    windows.add(user, day);
                }
            }
        }
        windows.finish();
    }

    let sla_millis = (params.sla_hours * 3_600_000.0).round() as i64;
    let mut totals = Tally::default();
    let mut buckets = vec![Tally::default(); bucket_count];
    // Per-period value lists; the last index (`bucket_count`) is the whole period.
    let whole = bucket_count;
    let mut tickets: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    let mut latencies: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    let mut settlements: Vec<Vec<f64>> = vec![Vec::new(); bucket_count + 1];
    // Distinct ids: the last bucket each was counted in (buckets come in order), and whether it
    // was counted in the whole period.
    let mut payers = Distinct::new(transactions.user_count);
    let mut verified = Distinct::new(transactions.user_count);
    let mut merchants_seen = Distinct::new(transactions.merchant_count);
    let mut merchant_volume = MerchantVolumes::new(transactions.merchant_count);

    for &row in &calendar.order {
        let row = row as usize;
        if !filtered(row) {
            continue;
        }
        // Dispute activity is dated by the dispute, whatever the transaction's date.
        if let Some(disputed) = transactions.disputed_at.as_ref().and_then(|d| d[row]) {
            let day = calendar.day_of(disputed);
            if in_range(day) {
                totals.disputes_opened += 1;
                if let Some(b) = bucket_of_day(day) {
                    buckets[b].disputes_opened += 1;
                }
            }
        }
        let bucket = if has_days {
            let day = calendar.day[row];
            if !in_range(day) {
                continue;
            }
            bucket_of_day(day)
        } else {
            None
        };
        let row_status = status.map(|s| s[row]);
        let success = row_status.is_some_and(is_successful);
        let value = amount.map_or(f64::NAN, |a| a[row]);
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
            let (in_whole, in_bucket) = payers.see(user, bucket);
            totals.active_payers += u64::from(in_whole);
            if let (Some(b), true) = (bucket, in_bucket) {
                buckets[b].active_payers += 1;
            }
            if transactions.kyc_verified.as_ref().is_some_and(|k| k[row]) {
                let (in_whole, in_bucket) = verified.see(user, bucket);
                totals.kyc_verified_payers += u64::from(in_whole);
                if let (Some(b), true) = (bucket, in_bucket) {
                    buckets[b].kyc_verified_payers += 1;
                }
            }
        }
        if let Some(merchant) = merchants.map(|m| m[row]).filter(|&m| m != NO_ID) {
            let (in_whole, in_bucket) = merchants_seen.see(merchant, bucket);
            totals.active_merchants += u64::from(in_whole);
            if let (Some(b), true) = (bucket, in_bucket) {
                buckets[b].active_merchants += 1;
            }
            if !value.is_nan() {
                if let Some((b, top10, hhi)) = merchant_volume.add(merchant, value, bucket) {
                    buckets[b].top10_merchant_amount = top10;
                    buckets[b].merchant_hhi = hhi;
                }
            }
        }
    }
    if let Some((b, top10, hhi)) = merchant_volume.flush_bucket() {
        buckets[b].top10_merchant_amount = top10;
        buckets[b].merchant_hhi = hhi;
    }
    (totals.top10_merchant_amount, totals.merchant_hhi) = merchant_volume.whole();

    let mut with_tally = |period: usize, f: &mut dyn FnMut(&mut Tally)| {
        if period == whole {
            f(&mut totals)
        } else {
            f(&mut buckets[period])
        }
    };
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
    if let (Some((from, to)), Some((_, data_last)), Some(windows)) =
        (range, calendar.span, windows.as_ref())
    {
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

/// Counts distinct ids over the whole period and per bucket, for rows that come bucket by
/// bucket (in day order).
struct Distinct {
    in_whole: Vec<bool>,
    last_bucket: Vec<u32>,
}

impl Distinct {
    fn new(ids: usize) -> Distinct {
        Distinct {
            in_whole: vec![false; ids],
            last_bucket: vec![u32::MAX; ids],
        }
    }

    /// Notes `id` in `bucket`: whether it is new to the whole period, and new to the bucket.
    fn see(&mut self, id: u32, bucket: Option<usize>) -> (bool, bool) {
        let id = id as usize;
        let new_whole = !std::mem::replace(&mut self.in_whole[id], true);
        let new_bucket = bucket.is_some_and(|b| {
            let b = b as u32;
            std::mem::replace(&mut self.last_bucket[id], b) != b
        });
        (new_whole, new_bucket)
    }
}

/// Merchants' TPV (gross) over the whole period and in the current bucket (dense arrays; the
/// bucket's is reset when the next bucket starts).
struct MerchantVolumes {
    whole: Vec<f64>,
    bucket: Vec<f64>,
    /// Merchants with volume in the current bucket, and which bucket that is.
    touched: Vec<u32>,
    current: Option<usize>,
}

impl MerchantVolumes {
    fn new(merchants: usize) -> MerchantVolumes {
        MerchantVolumes {
            whole: vec![0.0; merchants],
            bucket: vec![0.0; merchants],
            touched: Vec::new(),
            current: None,
        }
    }

    /// Adds a payment; when it starts a new bucket, returns the finished bucket's concentration.
    fn add(
        &mut self,
        merchant: u32,
        value: f64,
        bucket: Option<usize>,
    ) -> Option<(usize, f64, Option<f64>)> {
        let m = merchant as usize;
        self.whole[m] += value;
        let bucket = bucket?;
        let finished = if self.current != Some(bucket) {
            let finished = self.flush_bucket();
            self.current = Some(bucket);
            finished
        } else {
            None
        };
        if self.bucket[m] == 0.0 {
            self.touched.push(merchant);
        }
        self.bucket[m] += value;
        finished
    }

    /// The current bucket's (index, top-10 volume, HHI), and a fresh bucket.
    fn flush_bucket(&mut self) -> Option<(usize, f64, Option<f64>)> {
        let bucket = self.current.take()?;
        let mut volumes: Vec<f64> = Vec::with_capacity(self.touched.len());
        for &m in &self.touched {
            volumes.push(std::mem::take(&mut self.bucket[m as usize]));
        }
        self.touched.clear();
        let (top10, hhi) = concentration(&volumes);
        Some((bucket, top10, hhi))
    }

    fn whole(&self) -> (f64, Option<f64>) {
        let volumes: Vec<f64> = self.whole.iter().copied().filter(|&v| v != 0.0).collect();
        concentration(&volumes)
    }
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
/// `quantile_cont`). Reorders `values`: each quantile is found by selection, in linear time,
/// rather than by sorting.
pub fn percentiles(values: &mut [f64], quantiles: &[f64]) -> Vec<Option<f64>> {
    quantiles
        .iter()
        .map(|&q| {
            if values.is_empty() {
                return None;
            }
            let position = q * (values.len() - 1) as f64;
            let lo = position.floor() as usize;
            let (_, &mut low, above) = values.select_nth_unstable_by(lo, f64::total_cmp);
            let fraction = position - lo as f64;
            if fraction == 0.0 {
                return Some(low);
            }
            // The next rank up is the smallest value above the selected one.
            let high = above.iter().copied().min_by(f64::total_cmp).unwrap_or(low);
            Some(low + fraction * (high - low))
        })
        .collect()
}

/// Distinct active payers in trailing windows, for any end day. Built from the payments in day
/// order: a payer active on day d counts in the W-day windows ending on d .. d+W-1, so each
/// payment adds +1 where its payer's coverage starts anew and -1 after it ends; prefix sums then
/// give every day's count.
struct ActiveWindows {
    /// First day of the arrays below: the data's first day.
    origin: i64,
    daily: Vec<i64>,
    weekly: Vec<i64>,
    monthly: Vec<i64>,
    /// Per payer: the last day counted in `daily`, and the last day their coverage reaches in
    /// the weekly and monthly windows.
    last_day: Vec<i64>,
    week_until: Vec<i64>,
    month_until: Vec<i64>,
}

impl ActiveWindows {
    fn new(span: (i64, i64), users: usize) -> ActiveWindows {
        let length = (span.1 - span.0 + 31).max(31) as usize;
        ActiveWindows {
            origin: span.0,
            daily: vec![0; length],
            weekly: vec![0; length + 1],
            monthly: vec![0; length + 1],
            last_day: vec![i64::MIN; users],
            week_until: vec![i64::MIN; users],
            month_until: vec![i64::MIN; users],
        }
    }

    /// Notes a payment; payments must come in day order.
    fn add(&mut self, user: u32, day: i64) {
        let u = user as usize;
        let index = |day: i64| (day - self.origin) as usize;
        if self.last_day[u] != day {
            self.last_day[u] = day;
            self.daily[index(day)] += 1;
        }
        for (width, until, delta) in [
            (7, &mut self.week_until, &mut self.weekly),
            (30, &mut self.month_until, &mut self.monthly),
        ] {
            let end = day + width - 1;
            let start = day.max(until[u].saturating_add(1));
            if start <= end {
                delta[(start - self.origin) as usize] += 1;
                delta[(end - self.origin + 1) as usize] -= 1;
            }
            until[u] = until[u].max(end);
        }
    }

    /// Turns the +1/-1 marks into counts.
    fn finish(&mut self) {
        for delta in [&mut self.weekly, &mut self.monthly] {
            let mut running = 0;
            for d in delta.iter_mut() {
                running += *d;
                *d = running;
            }
        }
    }

    fn count(series: &[i64], origin: i64, day: i64) -> u64 {
        usize::try_from(day - origin)
            .ok()
            .and_then(|i| series.get(i))
            .map_or(0, |&n| n.max(0) as u64)
    }

    fn at(&self, end: i64) -> ActiveWindow {
        let first = (end - 29).max(self.origin);
        let total: u64 = (first..=end)
            .map(|d| Self::count(&self.daily, self.origin, d))
            .sum();
        let days = (end - first + 1).max(1);
        ActiveWindow {
            dau: Self::count(&self.daily, self.origin, end),
            wau: Self::count(&self.weekly, self.origin, end),
            mau: Self::count(&self.monthly, self.origin, end),
            mean_daily_actives: total as f64 / days as f64,
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
        // user 0 active on days 10 and 12 (twice); user 1 on day 3; user 2 on day 12.
        let mut windows = ActiveWindows::new((0, 12), 3);
        for (user, day) in [(1, 3), (0, 10), (0, 12), (2, 12), (0, 12)] {
            windows.add(user, day);
        }
        windows.finish();
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
