//! The engine: fills a `Tally` for a period (the whole range) and one per time bucket, from the
//! typed transactions, in a few passes over the rows. Each metric's value is then a function of
//! a tally (see `catalog`, where every metric is defined).
//!
//! What is exact: counts and sums; distinct counts (ids are dictionary-encoded integers, sorted
//! and de-duplicated, never estimated); percentiles (the values of each period are sorted and
//! interpolated linearly, like DuckDB's `quantile_cont`).
use super::funnel::PaymentsByUser;
use crate::schema::Status;
use crate::time::{bucket_start, local_day, next_bucket, Grain, WeekStart, Zone};
use crate::transactions::{Times, Transactions, NO_ID};

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
    /// The largest latency (the latency histogram's last edge).
    pub latency_max: Option<f64>,
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
    /// The payers' facts found in the walk, when asked to keep them (`PayersFrom::Walk`, with
    /// payers and days): the same rows over the same range at another grain can be given them
    /// (`PayersFrom::Facts`) rather than find them again.
    pub payer_facts: Option<PayerFacts>,
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

/// Facts about the rows that do not depend on the view: each row's local day and times, the
/// data's first and last days, and the rows in day order. Computed once per frame.
pub struct Calendar {
    /// Local day of each transaction; empty without a time column.
    pub day: Vec<i32>,
    /// First and last local day of the loaded data.
    pub span: Option<(i64, i64)>,
    /// The latest `created_at` of the data (UTC milliseconds): "now" for unsettled payments.
    pub data_end_millis: Option<i64>,
    pub zone: Zone,
    /// The rows in order of local day (ties in file order); the identity without times. The
    /// engine walks them in this order, so each bucket's rows come together and distinct counts
    /// per bucket need no sorting; a range of days is a contiguous run of them.
    pub order: Vec<u32>,
    /// Each row's `settled_at` minus its `created_at`, in milliseconds, or for a payment that
    /// has not settled its age at the data's end (see `Settlement`); empty unless both columns
    /// are mapped. Read in every report (the SLA and settlement time), so converted once here
    /// rather than per report. (The unsettled payments' ages are all that the metrics read of
    /// `created_at` to the millisecond: kept instead of every row's time, 8 bytes a row less.)
    pub settle_delta: Vec<i64>,
    /// The rows that have a dispute date, with the dispute's local day. Disputes are few, and
    /// counted by that date whatever the row's own: a short list beats a check on every row.
    pub disputes: Vec<(i64, u32)>,
}

/// What [`Calendar::settle_delta`] holds for a payment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Settlement {
    /// Settled this many milliseconds after it was created.
    Settled(i64),
    /// Not settled, and created this many milliseconds before the data's last `created_at`.
    Unsettled(i64),
}

/// An unsettled payment's age is held as `i64::MIN` plus the age (ages are never negative); a
/// delay below this (settled some 146 million years early) is held as this.
const UNSETTLED_BELOW: i64 = i64::MIN / 2;

impl Settlement {
    fn encode(self) -> i64 {
        match self {
            Settlement::Settled(delta) => delta.max(UNSETTLED_BELOW),
            Settlement::Unsettled(age) => i64::MIN + age.clamp(0, i64::MAX / 2),
        }
    }

    #[inline(always)]
    pub fn of(held: i64) -> Settlement {
        match held < UNSETTLED_BELOW {
            true => Settlement::Unsettled(held - i64::MIN),
            false => Settlement::Settled(held),
        }
    }
}

impl Calendar {
    /// The calendar of `len` rows with these times. The times are dropped as they are read:
    /// the calendar is what the metrics use of them.
    pub fn new(times: Times, len: usize, zone: Zone) -> Calendar {
        let Times {
            created_at,
            settled_at,
            disputed_at,
        } = times;
        let millis: Vec<i64> = created_at
            .map(|times| times.iter().map(|t| t.utc_millis(zone)).collect())
            .unwrap_or_default();
        // Days since 1970 as `i32` (4 bytes a row less): ±5.8 million years, clamped beyond.
        let day: Vec<i32> = millis
            .iter()
            .map(|&m| local_day(m, zone).clamp(i32::MIN.into(), i32::MAX.into()) as i32)
            .collect();
        let span = day
            .iter()
            .min()
            .zip(day.iter().max())
            .map(|(&a, &b)| (i64::from(a), i64::from(b)));
        let order = day_order(&day, span, len);
        let data_end_millis = millis.iter().max().copied();
        let settle_delta = match (settled_at, data_end_millis) {
            (Some(settled), Some(end)) => settled
                .iter()
                .zip(&millis)
                .map(|(at, &created)| {
                    match at {
                        Some(at) => Settlement::Settled(at.utc_millis(zone) - created),
                        None => Settlement::Unsettled(end - created),
                    }
                    .encode()
                })
                .collect(),
            _ => Vec::new(),
        };
        drop(millis);
        let disputes = disputed_at
            .map(|disputed| {
                disputed
                    .iter()
                    .map(|&(row, at)| (local_day(at.utc_millis(zone), zone), row))
                    .collect()
            })
            .unwrap_or_default();
        Calendar {
            data_end_millis,
            day,
            span,
            zone,
            order,
            settle_delta,
            disputes,
        }
    }

    /// The local day a row's time falls on, for a time other than `created_at`.
    pub fn day_of(&self, time: crate::time::Timestamp) -> i64 {
        local_day(time.utc_millis(self.zone), self.zone)
    }

    /// The run of `rows` (a subsequence of `order`) whose day is in `range`, both included.
    pub(crate) fn within<'a>(&self, rows: &'a [u32], (from, to): (i64, i64)) -> &'a [u32] {
        let start = rows.partition_point(|&r| i64::from(self.day[r as usize]) < from);
        let end = rows.partition_point(|&r| i64::from(self.day[r as usize]) <= to);
        &rows[start..end.max(start)]
    }
}

/// The rows sorted by day, ties in row order (a stable sort). Days span few distinct values, so
/// a counting sort does it in linear time; a span far wider than the rows (a stray date decades
/// away) falls back to a comparison sort.
fn day_order(day: &[i32], span: Option<(i64, i64)>, rows: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let Some((first, last)) = span else {
        return order;
    };
    let days = (last - first + 1) as usize;
    if days > 4 * rows + 1024 {
        order.sort_by_key(|&row| day[row as usize]);
        return order;
    }
    let mut starts = vec![0u32; days + 1];
    for &d in day {
        starts[(i64::from(d) - first) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    for (row, &d) in day.iter().enumerate() {
        let slot = &mut starts[(i64::from(d) - first) as usize];
        order[*slot as usize] = row as u32;
        *slot += 1;
    }
    order
}

/// Which rows to count: `mask` (the column filters; `None` keeps every row) and the period
/// `range` of local days, both included (`None`: every day).
#[derive(Clone, Copy)]
pub struct Selection<'a> {
    pub mask: Option<&'a [bool]>,
    pub range: Option<(i64, i64)>,
}

/// The rows one computation covers, on every date: the filters applied (and for a segment, its
/// value). The period is chosen apart (see `compute`).
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    /// The rows in day order: `Calendar::order` less the rows left out.
    pub order: &'a [u32],
    /// Whether a row is one of them. Read only for the rows with a dispute (few), which count
    /// by the dispute's date.
    pub contains: &'a dyn Fn(usize) -> bool,
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

/// The payments (successful transactions with a user id) of a set of rows, on every date,
/// grouped by payer: what new payers, the trailing windows (DAU / WAU / MAU), the funnel and
/// retention stand on. It depends on the rows only, not on the period or grain, so one serves
/// the period and the previous one, and the frame keeps the one of the unfiltered rows.
pub struct Payers {
    /// Each payer's payment days, earliest first.
    pub(crate) by_user: PaymentsByUser,
    facts: PayerFacts,
}

impl Payers {
    /// The payers of `rows` (in day order); `None` without times or user ids.
    pub fn new(transactions: &Transactions, calendar: &Calendar, rows: &[u32]) -> Option<Payers> {
        let users = transactions.user.as_deref()?;
        if calendar.day.is_empty() {
            return None;
        }
        let status = transactions.status.as_deref();
        let payments = || {
            rows.iter().filter_map(move |&row| {
                let row = row as usize;
                let user = users[row];
                (user != NO_ID && status.is_some_and(|s| is_successful(s[row])))
                    .then(|| (user, i64::from(calendar.day[row])))
            })
        };
        let by_user = PaymentsByUser::from_day_order(transactions.user_count, payments);
        let first_day = (0..by_user.users() as u32)
            .map(|user| by_user.days(user).first().copied().unwrap_or(i64::MAX))
            .collect();
        let windows = calendar.span.map(|span| ActiveWindows::of(span, &by_user));
        Some(Payers {
            by_user,
            facts: PayerFacts { first_day, windows },
        })
    }

    /// What the engine reads of them.
    pub fn facts(&self) -> &PayerFacts {
        &self.facts
    }
}

/// What the engine reads of a set of rows' payers (see `Payers`): each user's first payment day
/// and the trailing windows.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerFacts {
    /// Each user's first payment day; `i64::MAX` for a user without one.
    first_day: Vec<i64>,
    windows: Option<ActiveWindows>,
}

/// What one row adds to a tally.
pub(crate) struct RowFacts {
    status: Option<Status>,
    pub(crate) success: bool,
    pub(crate) value: f64,
    fee: f64,
    fraud: bool,
    /// How the payment stands against the settlement SLA: `Some(breached)` when judged.
    sla: Option<bool>,
    has_user: bool,
}

impl RowFacts {
    /// The facts of transaction `row`. A payment not settled is judged against the SLA
    /// (`sla_millis`) by its age at the data's end when `judge_unsettled`; the streamed report
    /// judges it apart, once it knows where the data ends (`stream`).
    #[inline(always)]
    pub(crate) fn of(
        transactions: &Transactions,
        settle: Option<&[i64]>,
        row: usize,
        sla_millis: i64,
        judge_unsettled: bool,
    ) -> RowFacts {
        let status = transactions.status.as_deref().map(|s| s[row]);
        let success = status.is_some_and(is_successful);
        let sla = match (success, settle) {
            (true, Some(settle)) => match Settlement::of(settle[row]) {
                // Judged once it is late at the data's end.
                Settlement::Unsettled(age) => (judge_unsettled && age > sla_millis).then_some(true),
                Settlement::Settled(delta) => Some(delta > sla_millis),
            },
            _ => None,
        };
        RowFacts {
            status,
            success,
            value: transactions.amount.as_deref().map_or(f64::NAN, |a| a[row]),
            fee: transactions.fee.as_deref().map_or(f64::NAN, |f| f[row]),
            fraud: transactions.fraud.as_deref().is_some_and(|f| f[row]),
            sla,
            has_user: transactions
                .user
                .as_deref()
                .is_some_and(|u| u[row] != NO_ID),
        }
    }
}

/// The SLA in whole milliseconds, as the engine compares settlement delays with it.
pub(crate) fn sla_millis(sla_hours: f64) -> i64 {
    (sla_hours * 3_600_000.0).round() as i64
}

impl Tally {
    /// Adds another tally's counts and sums, the additive facts (`add` and `disputes_opened`);
    /// distinct counts, windows, percentiles and concentration are left as they are.
    pub(crate) fn add_counts(&mut self, other: &Tally) {
        self.attempts += other.attempts;
        self.successes += other.successes;
        self.failures += other.failures;
        self.successes_with_amount += other.successes_with_amount;
        self.success_amount += other.success_amount;
        self.failure_amount += other.failure_amount;
        self.refunds += other.refunds;
        self.refund_amount += other.refund_amount;
        self.disputes += other.disputes;
        self.disputes_opened += other.disputes_opened;
        self.frauds += other.frauds;
        self.fraud_amount += other.fraud_amount;
        self.revenue += other.revenue;
        self.large += other.large;
        self.sla_judged += other.sla_judged;
        self.sla_breaches += other.sla_breaches;
        self.payer_successes += other.payer_successes;
    }

    /// Adds a row's counts and sums, but for its payer's (see `add_payment`).
    #[inline(always)]
    pub(crate) fn add(&mut self, row: &RowFacts, large_amount: f64) {
        self.attempts += 1;
        let value = row.value;
        match row.status {
            Some(Status::Failed) => {
                self.failures += 1;
                if !value.is_nan() {
                    self.failure_amount += value;
                }
            }
            Some(Status::Refunded) => {
                self.refunds += 1;
                if !value.is_nan() {
                    self.refund_amount += value;
                }
            }
            Some(Status::Disputed) => self.disputes += 1,
            _ => {}
        }
        if !row.success {
            return;
        }
        self.successes += 1;
        if !value.is_nan() {
            self.successes_with_amount += 1;
            self.success_amount += value;
            if value >= large_amount {
                self.large += 1;
            }
            if row.fraud {
                self.fraud_amount += value;
            }
        }
        if row.fraud {
            self.frauds += 1;
        }
        if !row.fee.is_nan() {
            self.revenue += row.fee;
        }
        if let Some(breached) = row.sla {
            self.sla_judged += 1;
            self.sla_breaches += u64::from(breached);
        }
        if row.has_user {
            self.payer_successes += 1;
        }
    }

    /// Adds a payment's volume to new or returning payers' (`period_start`: the period's first
    /// day; `first`: the payer's first payment day).
    #[inline(always)]
    pub(crate) fn add_payment(&mut self, value: f64, first: i64, period_start: i64) {
        // Without a branch on the payer's state, which is read out of cache (see `compute`): the
        // other sum adds +0.0, which leaves it as it is (a sum that starts at +0.0 is never -0.0).
        let new = first >= period_start;
        self.new_payer_amount += if new { value } else { 0.0 };
        self.returning_payer_amount += if new { 0.0 } else { value };
    }
}

/// The facts that are percentiles of a value per row: each one's value, its quantiles, and
/// where they go in a tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sampled {
    /// The amount of each successful payment.
    Ticket,
    /// Each transaction's latency in milliseconds.
    Latency,
    /// Each successful, settled payment's settlement delay in hours.
    Settlement,
}

impl Sampled {
    pub(crate) const ALL: [Sampled; 3] = [Sampled::Ticket, Sampled::Latency, Sampled::Settlement];

    /// Whether the columns the values come from are mapped.
    pub(crate) fn available(self, transactions: &Transactions, calendar: &Calendar) -> bool {
        match self {
            Sampled::Ticket => transactions.amount.is_some(),
            Sampled::Latency => transactions.latency_ms.is_some(),
            Sampled::Settlement => !calendar.settle_delta.is_empty(),
        }
    }

    /// Row `row`'s value, if it has one (missing values are not values).
    #[inline(always)]
    pub(crate) fn value(
        self,
        transactions: &Transactions,
        calendar: &Calendar,
        row: usize,
    ) -> Option<f64> {
        let success = || {
            transactions
                .status
                .as_deref()
                .is_some_and(|s| is_successful(s[row]))
        };
        match self {
            Sampled::Ticket => transactions
                .amount
                .as_deref()
                .map(|a| a[row])
                .filter(|v| !v.is_nan() && success()),
            Sampled::Latency => transactions
                .latency_ms
                .as_deref()
                .map(|l| l[row])
                .filter(|v| !v.is_nan()),
            Sampled::Settlement => match Settlement::of(*calendar.settle_delta.get(row)?) {
                Settlement::Settled(delta) if success() => Some(delta as f64 / 3_600_000.0),
                _ => None,
            },
        }
    }

    /// The quantiles reported (1.0: the largest value).
    pub(crate) fn quantiles(self) -> &'static [f64] {
        match self {
            Sampled::Ticket => &[0.5],
            Sampled::Latency => &[0.5, 0.95, 0.99, 1.0],
            Sampled::Settlement => &[0.5, 0.95],
        }
    }

    /// Puts the quantiles (in the order of `quantiles`) in their places in `tally`.
    pub(crate) fn set(self, tally: &mut Tally, p: &[Option<f64>]) {
        match self {
            Sampled::Ticket => tally.ticket_p50 = p[0],
            Sampled::Latency => {
                (tally.latency_p50, tally.latency_p95) = (p[0], p[1]);
                (tally.latency_p99, tally.latency_max) = (p[2], p[3]);
            }
            Sampled::Settlement => (tally.settlement_p50_h, tally.settlement_p95_h) = (p[0], p[1]),
        }
    }
}

/// The values of one percentile metric over a period, in walk order: the values of each bucket
/// come together (rows are walked in day order), so each bucket's values are a run of the
/// period's, and one list serves both.
struct Values {
    /// The values as `order_key`s.
    all: Vec<u64>,
    /// How many values each bucket holds.
    per_bucket: Vec<usize>,
}

impl Values {
    fn new(capacity: usize, buckets: usize) -> Values {
        Values {
            all: Vec::with_capacity(capacity),
            per_bucket: vec![0; buckets],
        }
    }

    /// The values `value` gives for the rows of `runs` (each a bucket's rows, or the period's
    /// without buckets; at most `capacity` rows in all).
    fn of(
        runs: &[(Option<usize>, &[u32])],
        capacity: usize,
        buckets: usize,
        value: impl Fn(usize) -> Option<f64>,
    ) -> Values {
        let mut values = Values::new(capacity, buckets);
        for &(bucket, run) in runs {
            for &row in run {
                if let Some(v) = value(row as usize) {
                    values.push(v, bucket);
                }
            }
        }
        values
    }

    #[inline(always)]
    fn push(&mut self, value: f64, bucket: Option<usize>) {
        self.all.push(order_key(value));
        if let Some(b) = bucket {
            self.per_bucket[b] += 1;
        }
    }

    /// The quantiles of each bucket (`Some(b)`) and, when `whole`, of the whole period (`None`).
    /// Each bucket's run is reordered in place by selection, and the period's after them:
    /// selection only moves values, so the period's order statistics are the same.
    fn quantiles(
        mut self,
        quantiles: &[f64],
        whole: bool,
        mut out: impl FnMut(Option<usize>, &[Option<f64>]),
    ) {
        let bucketed: usize = self.per_bucket.iter().sum();
        debug_assert!(bucketed == 0 || bucketed == self.all.len());
        let mut start = 0;
        for (b, &n) in self.per_bucket.iter().enumerate() {
            let p = key_percentiles(&mut self.all[start..start + n], quantiles);
            out(Some(b), &p);
            start += n;
        }
        if whole {
            let p = key_percentiles(&mut self.all, quantiles);
            out(None, &p);
        }
    }
}

/// Where `compute` finds the payers' facts (first payment days, trailing windows).
#[derive(Clone, Copy)]
pub enum PayersFrom<'a> {
    /// Found before, for rows whose payers serve several computations (`None`: no payers).
    Facts(Option<&'a PayerFacts>),
    /// Found in the walk, over the rows up to the period's end: for rows whose payers serve
    /// once (a segment's). Reading a segment's rows once more for them cost as much as the
    /// walk of payers (1M rows in 5 segments: ~18% of a change of segment). With `keep`, they
    /// are given back (`Computed::payer_facts`) for the same rows at another grain.
    Walk { keep: bool },
}

/// What `compute` is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The period's tally.
    Totals,
    /// The period's tally and one per bucket.
    Series,
    /// The buckets' tallies only, for a caller that has the period's tally from a computation at
    /// another grain (it does not depend on the grain). The period's tally comes back partial
    /// (its distinct counts, not its sums, percentiles or merchant concentration), to be
    /// replaced: the selections over every value of the period are saved (1M rows: ~25 ms of a
    /// grain change), and so are the period's sums per row (~5% of a segmented grain change).
    SeriesOnly,
}

/// Evaluates the tallies of `rows` over `range` (`None`: the data's days), and per bucket as
/// `want` says. `payers` are the payers of the same rows (`Payers::new`), when there are.
///
/// One walk over the period's rows in day order (a run of `rows.order`) fills every tally:
/// buckets then come one after another, so distinct payers and merchants per bucket are counted
/// with a "last bucket seen" per id, and merchants' volumes per bucket with one dense array reset
/// between buckets. Percentiles select (not sort) within each period's values.
pub fn compute(
    transactions: &Transactions,
    calendar: &Calendar,
    params: &Params,
    rows: Rows,
    payers: PayersFrom,
    range: Option<(i64, i64)>,
    want: Want,
) -> Computed {
    let series = want != Want::Totals;
    let whole = want != Want::SeriesOnly;
    let has_days = !calendar.day.is_empty();
    // The period: the chosen range, else the data's days.
    let range = range.or(calendar.span);
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
    // Without times every row is in the period.
    let walk = match range {
        Some(range) if has_days => calendar.within(rows.order, range),
        _ => rows.order,
    };

    let status = transactions.status.as_deref();
    let amount = transactions.amount.as_deref();
    let users = transactions.user.as_deref();
    let merchants = transactions.merchant.as_deref();
    let kyc = transactions.kyc_verified.as_deref();
    let settle = (!calendar.settle_delta.is_empty()).then_some(&calendar.settle_delta[..]);
    // The payers' facts, given, or found in the walk (`inline`).
    let (facts, inline) = match payers {
        PayersFrom::Facts(facts) => (facts, false),
        PayersFrom::Walk { .. } => (None, users.is_some() && has_days),
    };
    let has_first = facts.is_some() || inline;
    // Each user's first payment day (`i64::MAX` when none, or without payers) and what the
    // distinct counts mark, side by side; found in the walk, `WalkState`s instead.
    let mut user_state: Vec<UserState> = match (facts, inline) {
        (_, true) => Vec::new(),
        (Some(p), false) => p.first_day.iter().map(|&d| UserState::new(d)).collect(),
        (None, false) => vec![UserState::new(i64::MAX); transactions.user_count],
    };
    if !inline {
        user_state.resize(transactions.user_count, UserState::new(i64::MAX));
    }
    let mut windows = match inline {
        true => calendar.span.map(ActiveWindows::new),
        false => None,
    };

    let mut totals = Tally::default();
    let mut buckets = vec![Tally::default(); bucket_count];

    // Dispute activity is dated by the dispute, whatever the transaction's date.
    for &(day, row) in &calendar.disputes {
        if in_range(day) && (rows.contains)(row as usize) {
            totals.disputes_opened += 1;
            if let Some(b) = bucket_of_day(day) {
                buckets[b].disputes_opened += 1;
            }
        }
    }

    let sla_millis = sla_millis(params.sla_hours);
    let whole_start = range.map_or(i64::MIN, |r| r.0);
    let bucket_starts: &[i64] = buckets_info.as_ref().map_or(&[], |(s, _, _)| s);
    // Distinct ids: the last bucket each was counted in (buckets come in order), and whether it
    // was counted in the whole period (for payers, in `user_state`).
    let mut merchants_seen = Distinct::new(transactions.merchant_count);
    let mut merchant_volume = MerchantVolumes::new(transactions.merchant_count);

    // The walk in runs of one bucket each: rows are in day order, so each bucket's rows come
    // together, and its bounds are found by binary search rather than per row. Without buckets,
    // one run of every row.
    let mut runs: Vec<(Option<usize>, &[u32])> = Vec::with_capacity(bucket_count.max(1));
    match &buckets_info {
        Some((starts, _, _)) => {
            let mut rest = walk;
            for b in 0..starts.len() {
                let next = starts.get(b + 1).copied().unwrap_or(i64::MAX);
                let (run, tail) = rest.split_at(
                    rest.partition_point(|&r| i64::from(calendar.day[r as usize]) < next),
                );
                runs.push((Some(b), run));
                rest = tail;
            }
        }
        None => runs.push((None, walk)),
    }
    for &(bucket, run) in &runs {
        for &row in run {
            let row = row as usize;
            let facts = RowFacts::of(transactions, settle, row, sla_millis, true);
            let (success, value) = (facts.success, facts.value);
            // A series alone (`Want::SeriesOnly`) has its period's totals already.
            if whole {
                totals.add(&facts, params.large_amount);
            }
            if let Some(b) = bucket {
                buckets[b].add(&facts, params.large_amount);
            }
            if !success {
                continue;
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
    }
    // The payers, in a walk of their own: each payment reads its payer's state, at random among
    // many users (out of cache), and a loop this short lets the processor wait on several of
    // those reads at once, where the walk above held one or two (1M rows: ~40% of its time).
    // Each sum still adds the same rows in the same order.
    // Each user's first payment day, when found in the walk and asked for (for
    // `Computed::payer_facts`).
    let keep_facts = matches!(payers, PayersFrom::Walk { keep: true });
    let mut walked_first: Option<Vec<i64>> = None;
    if let Some(users) = users {
        let is_payment =
            |row: usize| users[row] != NO_ID && status.is_some_and(|s| is_successful(s[row]));
        // A payment's volume, to new or returning payers (`first`: the payer's first payment
        // day), and its payer, active (`payer`: the mark of `see`), verified (`verified`), and
        // new to the period when `new` (their first payment is in it). A macro rather than a
        // closure, so that both loops below have it inline (the closure was called per payment).
        macro_rules! pay {
            ($first:expr, $payer:expr, $verified:expr, $row:expr, $bucket:expr, $new:expr) => {{
                let (row, bucket): (usize, Option<usize>) = ($row, $bucket);
                if $new {
                    totals.new_payers += 1;
                    if let Some(b) = bucket {
                        buckets[b].new_payers += 1;
                    }
                }
                let value = amount.map_or(f64::NAN, |a| a[row]);
                if has_first && !value.is_nan() {
                    let first: i64 = $first;
                    if whole {
                        totals.add_payment(value, first, whole_start);
                    }
                    if let Some(b) = bucket {
                        buckets[b].add_payment(value, first, bucket_starts[b]);
                    }
                }
                let (in_whole, in_bucket) = see($payer, bucket);
                totals.active_payers += u64::from(in_whole);
                if let Some(b) = bucket {
                    buckets[b].active_payers += u64::from(in_bucket);
                }
                if kyc.is_some_and(|k| k[row]) {
                    let (in_whole, in_bucket) = see($verified, bucket);
                    totals.kyc_verified_payers += u64::from(in_whole);
                    if let Some(b) = bucket {
                        buckets[b].kyc_verified_payers += u64::from(in_bucket);
                    }
                }
            }};
        }
        match (inline, windows.as_mut()) {
            // Found in the walk, a payer's first payment day is the first one met, and each
            // payment marks the windows from the payer's last payment day before it, as
            // `ActiveWindows::add` does; the rows before the period count for that only. (A
            // loop apart from the other: the facts' work stays out of the walk that has them.)
            (true, Some(windows)) => {
                let origin = calendar.span.map_or(0, |(first, _)| first);
                let mut state = vec![WalkState::default(); transactions.user_count];
                let start = match range {
                    Some((from, _)) => rows
                        .order
                        .partition_point(|&r| i64::from(calendar.day[r as usize]) < from),
                    None => 0,
                };
                for &row in &rows.order[..start] {
                    let row = row as usize;
                    if is_payment(row) {
                        state[users[row] as usize].note(
                            i64::from(calendar.day[row]),
                            origin,
                            windows,
                        );
                    }
                }
                for &(bucket, run) in &runs {
                    for &row in run {
                        let row = row as usize;
                        if !is_payment(row) {
                            continue;
                        }
                        let state = &mut state[users[row] as usize];
                        let new = state.note(i64::from(calendar.day[row]), origin, windows);
                        let first = origin + i64::from(state.first);
                        pay!(
                            first,
                            &mut state.payer,
                            &mut state.verified,
                            row,
                            bucket,
                            new
                        );
                    }
                }
                let first_day = |s: &WalkState| match s.first {
                    NO_DAY => i64::MAX,
                    first => origin + i64::from(first),
                };
                if keep_facts {
                    walked_first = Some(state.iter().map(first_day).collect());
                }
            }
            _ => {
                for &(bucket, run) in &runs {
                    for &row in run {
                        let row = row as usize;
                        if is_payment(row) {
                            let state = &mut user_state[users[row] as usize];
                            let first = state.first_day;
                            pay!(
                                first,
                                &mut state.payer,
                                &mut state.verified,
                                row,
                                bucket,
                                false
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(windows) = windows.as_mut() {
        windows.finish();
    }
    if let Some((b, top10, hhi)) = merchant_volume.flush_bucket() {
        buckets[b].top10_merchant_amount = top10;
        buckets[b].merchant_hhi = hhi;
    }
    if whole {
        (totals.top10_merchant_amount, totals.merchant_hhi) = merchant_volume.whole();
    }

    fn tally<'a>(
        totals: &'a mut Tally,
        buckets: &'a mut [Tally],
        p: Option<usize>,
    ) -> &'a mut Tally {
        match p {
            Some(b) => &mut buckets[b],
            None => totals,
        }
    }
    // The percentiles, one metric at a time, each from a walk of its own: the values of one
    // are in memory at a time (8 bytes a row rather than 24, the largest part of a report's
    // peak of memory), and the walks above no longer carry them.
    let (rows, buckets_n) = (walk.len(), bucket_count);
    for sampled in Sampled::ALL {
        if sampled.available(transactions, calendar) {
            let value = |row| sampled.value(transactions, calendar, row);
            Values::of(&runs, rows, buckets_n, value).quantiles(
                sampled.quantiles(),
                whole,
                |period, p| sampled.set(tally(&mut totals, &mut buckets, period), p),
            );
        }
    }

    // New payers: each payer counts in the period holding their first successful day.
    if let (Some(payers), Some((from, to))) = (facts, range) {
        for &day in payers.first_day.iter().filter(|&&d| d != i64::MAX) {
            if (from..=to).contains(&day) {
                totals.new_payers += 1;
                if let Some(b) = bucket_of_day(day) {
                    buckets[b].new_payers += 1;
                }
            }
        }
    }

    // Trailing windows, as of each period's last day (or the data's last day if earlier).
    if let (Some((from, to)), Some((_, data_last)), Some(windows)) = (
        range,
        calendar.span,
        facts.and_then(|p| p.windows.as_ref()).or(windows.as_ref()),
    ) {
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
        payer_facts: walked_first.map(|first_day| PayerFacts { first_day, windows }),
    }
}

/// What the walk reads and marks per user, together so that a payment costs one cache miss
/// rather than one per array (users are many: their arrays do not stay in cache). 16 bytes
/// rather than 24 with a flag and a bucket per mark: more users per cache line.
#[derive(Clone, Copy)]
struct UserState {
    /// The first payment day, for new and returning payers (`i64::MAX`: none).
    first_day: i64,
    /// Counted as an active payer, and as a verified payer (see `see`).
    payer: u32,
    verified: u32,
}

impl UserState {
    fn new(first_day: i64) -> UserState {
        UserState {
            first_day,
            payer: NEVER,
            verified: NEVER,
        }
    }
}

/// `UserState` when the payers' facts are found in the walk (`PayersFrom::Walk`): the first
/// and the last payment days met, counted from the data's first day (`NO_DAY`: none yet).
#[derive(Clone, Copy)]
struct WalkState {
    first: u32,
    last: u32,
    payer: u32,
    verified: u32,
}

impl Default for WalkState {
    fn default() -> WalkState {
        WalkState {
            first: NO_DAY,
            last: NO_DAY,
            payer: NEVER,
            verified: NEVER,
        }
    }
}

/// No day, in `WalkState`.
const NO_DAY: u32 = u32::MAX;

impl WalkState {
    /// Notes the payer's payment on `day` (payments come in day order): marks the windows from
    /// the payer's last payment day before it, as `ActiveWindows::add` does, and returns whether
    /// it is the payer's first. Days count from the data's first day, `origin`: the span fits in
    /// a `u32`, as the windows hold values for each day of it (`ActiveWindows::new`).
    #[inline(always)]
    fn note(&mut self, day: i64, origin: i64, windows: &mut ActiveWindows) -> bool {
        let today = (day - origin) as u32;
        if self.last == today {
            return false;
        }
        let last = (self.last != NO_DAY).then(|| origin + i64::from(self.last));
        windows.mark(last, day);
        self.last = today;
        let first = self.first == NO_DAY;
        if first {
            self.first = today;
        }
        first
    }
}

/// The mark of an id not counted yet in the period (see `see`).
const NEVER: u32 = u32::MAX;

/// Notes an id in `bucket` (ids come bucket by bucket), given its mark: the last bucket it was
/// counted in, `NEVER`, or 0 without buckets (a walk has buckets for every row or for none).
/// Returns whether it is new to the whole period, and new to the bucket. Buckets are far fewer
/// than `NEVER` (see `MAX_SERIES_DAYS`).
#[inline(always)]
fn see(mark: &mut u32, bucket: Option<usize>) -> (bool, bool) {
    let now = bucket.map_or(0, |b| b as u32);
    let before = std::mem::replace(mark, now);
    (before == NEVER, bucket.is_some() && before != now)
}

/// Counts distinct ids over the whole period and per bucket, for rows that come bucket by
/// bucket (in day order): one mark per id (see `see`).
struct Distinct {
    marks: Vec<u32>,
}

impl Distinct {
    fn new(ids: usize) -> Distinct {
        Distinct {
            marks: vec![NEVER; ids],
        }
    }

    /// Notes `id` in `bucket`: whether it is new to the whole period, and new to the bucket.
    fn see(&mut self, id: u32, bucket: Option<usize>) -> (bool, bool) {
        see(&mut self.marks[id as usize], bucket)
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
pub(crate) fn concentration(volumes: &[f64]) -> (f64, Option<f64>) {
    let total: f64 = volumes.iter().sum();
    // The ten largest, as `order_key`s (`total_cmp`'s order: integers compare faster than
    // `total_cmp`), moved to the end by a selection in linear time, then added from the
    // largest. Sorting every merchant's volume per bucket was ~4% of a segmented change of grain
    // (1M rows, natively); the shares' squares need no order.
    let mut keys: Vec<u64> = volumes.iter().map(|&v| order_key(v)).collect();
    let others = keys.len().saturating_sub(10);
    if others > 0 {
        keys.select_nth_unstable_by(others, u64::cmp);
    }
    let top = &mut keys[others..];
    top.sort_unstable();
    let top10 = top.iter().rev().map(|&k| from_order_key(k)).sum();
    let hhi = (total > 0.0).then(|| {
        volumes
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
    quantiles_by(values, quantiles, f64::total_cmp, |v| v)
}

/// `percentiles` over values held as `order_key`s.
pub(crate) fn key_percentiles(keys: &mut [u64], quantiles: &[f64]) -> Vec<Option<f64>> {
    quantiles_by(keys, quantiles, u64::cmp, from_order_key)
}

/// `f64::total_cmp`'s order as an unsigned integer's: selection compares integers much faster
/// than it calls `total_cmp`, and the values it finds are the same.
pub(crate) fn order_key(value: f64) -> u64 {
    let bits = value.to_bits() as i64;
    // As `total_cmp`: negative numbers' other bits flipped, so that the order is an i64's ...
    let ordered = bits ^ ((((bits >> 63) as u64) >> 1) as i64);
    // ... and the sign bit flipped, so that it is a u64's.
    (ordered as u64) ^ (1 << 63)
}

pub(crate) fn from_order_key(key: u64) -> f64 {
    let ordered = (key ^ (1 << 63)) as i64;
    // The flip keeps the sign bit, so the same flip undoes it.
    let bits = ordered ^ ((((ordered >> 63) as u64) >> 1) as i64);
    f64::from_bits(bits as u64)
}

/// The quantiles of `values` in the order `cmp`, read as numbers by `number`. Once a rank is
/// selected, every larger rank lies above it, so a higher quantile selects among those only.
fn quantiles_by<T: Copy>(
    values: &mut [T],
    quantiles: &[f64],
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Copy,
    number: impl Fn(T) -> f64,
) -> Vec<Option<f64>> {
    // Values below `floor` are all at or below the rank selected last.
    let mut floor = 0;
    quantiles
        .iter()
        .map(|&q| {
            if values.is_empty() {
                return None;
            }
            let position = q * (values.len() - 1) as f64;
            let lo = position.floor() as usize;
            let start = if lo >= floor { floor } else { 0 };
            let (_, &mut low, above) = values[start..].select_nth_unstable_by(lo - start, cmp);
            floor = lo + 1;
            let low = number(low);
            let fraction = position - lo as f64;
            if fraction == 0.0 {
                return Some(low);
            }
            // The next rank up is the smallest value above the selected one.
            let high = above.iter().copied().min_by(cmp).map_or(low, &number);
            Some(low + fraction * (high - low))
        })
        .collect()
}

/// Distinct active payers in trailing windows, for any end day. Built from the payments in day
/// order: a payer active on day d counts in the W-day windows ending on d .. d+W-1, so each
/// payment adds +1 where its payer's coverage starts anew and -1 after it ends; prefix sums then
/// give every day's count.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActiveWindows {
    /// First day of the arrays below: the data's first day.
    origin: i64,
    daily: Vec<i64>,
    weekly: Vec<i64>,
    monthly: Vec<i64>,
}

impl ActiveWindows {
    /// The windows of every payer's payment days (`span`: the data's first and last days).
    fn of(span: (i64, i64), by_user: &PaymentsByUser) -> ActiveWindows {
        let mut windows = ActiveWindows::new(span);
        for days in by_user.payers() {
            windows.add(days);
        }
        windows.finish();
        windows
    }

    /// No payer yet, over the data's days (`span`: its first and last days).
    pub(crate) fn new(span: (i64, i64)) -> ActiveWindows {
        let length = (span.1 - span.0 + 31).max(31) as usize;
        ActiveWindows {
            origin: span.0,
            daily: vec![0; length],
            weekly: vec![0; length + 1],
            monthly: vec![0; length + 1],
        }
    }

    /// Notes a payer's payment on `day`, given the payer's last payment day before it (`None`:
    /// none): the marks `add` makes for that day, payers' days coming in day order. A payer's
    /// coverage so far then ends `width - 1` days after their last payment day.
    fn mark(&mut self, last: Option<i64>, day: i64) {
        let origin = self.origin;
        self.daily[(day - origin) as usize] += 1;
        for (width, delta) in [(7, &mut self.weekly), (30, &mut self.monthly)] {
            let end = day + width - 1;
            let start = last.map_or(day, |last| day.max(last + width));
            if start <= end {
                delta[(start - origin) as usize] += 1;
                delta[(end - origin + 1) as usize] -= 1;
            }
        }
    }

    /// Notes one payer's payment days, earliest first. The marks only add up, so payers can
    /// come in any order: each is walked alone, with its state in locals.
    pub(crate) fn add(&mut self, days: &[i64]) {
        let origin = self.origin;
        // The last day counted in `daily`, and the last day the coverage reaches in the weekly
        // and monthly windows.
        let mut last_day = i64::MIN;
        let mut until = [i64::MIN; 2];
        for &day in days {
            if last_day != day {
                last_day = day;
                self.daily[(day - origin) as usize] += 1;
            }
            for (until, (width, delta)) in until
                .iter_mut()
                .zip([(7, &mut self.weekly), (30, &mut self.monthly)])
            {
                let end = day + width - 1;
                let start = day.max(until.saturating_add(1));
                if start <= end {
                    delta[(start - origin) as usize] += 1;
                    delta[(end - origin + 1) as usize] -= 1;
                }
                *until = (*until).max(end);
            }
        }
    }

    /// Turns the +1/-1 marks into counts.
    pub(crate) fn finish(&mut self) {
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

    pub(crate) fn at(&self, end: i64) -> ActiveWindow {
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
        // The same through order keys, and the keys keep `total_cmp`'s order.
        let mut keys: Vec<u64> = [4.0, 1.0, 3.0, 2.0].map(order_key).to_vec();
        assert_eq!(key_percentiles(&mut keys, &[0.5, 0.95, 0.0, 1.0]), got);
        let mut numbers = [
            -f64::INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in numbers.windows(2) {
            assert!(order_key(pair[0]) < order_key(pair[1]), "{pair:?}");
        }
        numbers.iter_mut().for_each(|n| *n = -*n);
        for n in numbers {
            assert_eq!(from_order_key(order_key(n)).to_bits(), n.to_bits());
        }
    }

    #[test]
    fn trailing_windows_count_each_user_once() {
        // user 0 active on days 10 and 12 (twice); user 1 on day 3; user 2 on day 12.
        let by_user = PaymentsByUser::new(&[(1, 3), (0, 10), (0, 12), (2, 12), (0, 12)]);
        let windows = ActiveWindows::of((0, 12), &by_user);
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
    fn windows_marked_in_day_order_are_the_windows_of_each_payer() {
        // (user, day) in day order, users interleaved, repeats on a day and gaps of a week.
        let payments = [
            (1, 3),
            (0, 3),
            (1, 4),
            (0, 10),
            (2, 11),
            (0, 12),
            (0, 12),
            (2, 40),
        ];
        let expected = ActiveWindows::of((0, 45), &PaymentsByUser::new(&payments));
        let mut marked = ActiveWindows::new((0, 45));
        let mut last: [Option<i64>; 3] = [None; 3];
        for (user, day) in payments {
            if last[user as usize] != Some(day) {
                marked.mark(last[user as usize], day);
                last[user as usize] = Some(day);
            }
        }
        marked.finish();
        for day in 0..=45 {
            assert_eq!(marked.at(day), expected.at(day), "day {day}");
        }
    }

    #[test]
    fn settlements_are_held_in_one_number() {
        for settlement in [
            Settlement::Settled(0),
            Settlement::Settled(-3_600_000),
            Settlement::Settled(86_400_000 * 365 * 300),
            Settlement::Unsettled(0),
            Settlement::Unsettled(5_000),
            Settlement::Unsettled(86_400_000 * 365 * 300),
        ] {
            assert_eq!(Settlement::of(settlement.encode()), settlement);
        }
        // Beyond what the data can hold: clamped, never read as the other kind.
        assert_eq!(
            Settlement::of(Settlement::Settled(i64::MIN + 1).encode()),
            Settlement::Settled(UNSETTLED_BELOW)
        );
        assert!(matches!(
            Settlement::of(Settlement::Unsettled(-1).encode()),
            Settlement::Unsettled(0)
        ));
    }

    #[test]
    fn concentration_of_shares() {
        // Shares 50%, 30%, 20% of 100: HHI = 2500 + 900 + 400.
        let (top10, hhi) = concentration(&[30.0, 50.0, 20.0]);
        assert_eq!(top10, 100.0);
        assert_eq!(hhi, Some(3800.0));
        // Fifteen merchants of 1 to 15 (in no order): the ten largest are 6 to 15, 105 of 120;
        // the squares of 1 to 15 add up to 1,240, so HHI = 1,240 × (100 / 120)².
        let volumes = [
            7.0, 1.0, 15.0, 3.0, 12.0, 9.0, 2.0, 14.0, 5.0, 11.0, 8.0, 4.0, 13.0, 6.0, 10.0,
        ];
        let (top10, hhi) = concentration(&volumes);
        assert_eq!(top10, 105.0);
        let expected = 1240.0 * (100.0f64 / 120.0).powi(2);
        assert!(hhi.is_some_and(|h| (h - expected).abs() < 1e-9), "{hhi:?}");
        assert_eq!(concentration(&[]), (0.0, None));
    }
}
