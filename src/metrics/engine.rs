//! The engine: one pass over the typed transactions fills a `Tally` for the whole range and one
//! per time bucket; each metric's value is then a function of a tally (see `catalog`).
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
    /// TPV (gross) of the merchant-identified successful transactions, of the 10 largest
    /// merchants among them, and the HHI of merchants' shares.
    pub merchant_amount: f64,
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
    /// of data.
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
    /// Every bucket from the first transaction's to the last one's, empty ones included; empty
    /// when no time column is mapped.
    pub buckets: Vec<Bucket>,
}

/// Days of data beyond which a series is refused: a stray epoch-zero date must not make us
/// allocate a bucket per day since 1970 in a daily chart (about 100 years).
const MAX_SERIES_DAYS: i64 = 36_600;

/// Evaluates every tally over all transactions.
pub fn compute(transactions: &Transactions, zone: Zone, grain: Grain) -> Computed {
    compute_where(transactions, zone, grain, &|_| true)
}

/// Evaluates every tally over the transactions for which `include(row)` holds (e.g. the rows of
/// one currency). Buckets still span the whole data, so series of subsets line up.
pub fn compute_where(
    transactions: &Transactions,
    zone: Zone,
    grain: Grain,
    include: &dyn Fn(usize) -> bool,
) -> Computed {
    let rows = transactions.len;
    let success_at = |row: usize| {
        transactions
            .status
            .as_ref()
            .is_some_and(|s| s[row] == Status::Success)
    };

    // Each row's bucket index, when the data has times.
    let mut bucket_starts: Vec<i64> = Vec::new();
    let bucket_of_row: Option<Vec<u32>> = transactions.created_at.as_ref().and_then(|times| {
        let days: Vec<i64> = times
            .iter()
            .map(|t| local_day(t.utc_millis(zone), zone))
            .collect();
        let first = bucket_start(*days.iter().min()?, grain, WeekStart::Monday);
        let last = *days.iter().max()?;
        if last - first > MAX_SERIES_DAYS {
            return None;
        }
        // A day -> bucket table turns the calendar work into one lookup per row.
        let mut bucket_of_day = Vec::with_capacity((last - first + 1) as usize);
        let mut start = first;
        while start <= last {
            let next = next_bucket(start, grain);
            let index = bucket_starts.len() as u32;
            bucket_of_day.extend(std::iter::repeat_n(
                index,
                (next.min(last + 1) - start) as usize,
            ));
            bucket_starts.push(start);
            start = next;
        }
        Some(
            days.iter()
                .map(|&d| bucket_of_day[(d - first) as usize])
                .collect(),
        )
    });

    let mut totals = Tally::default();
    let mut buckets = vec![Tally::default(); bucket_starts.len()];
    // (bucket << 32 | user) of each successful payment, for exact distinct payers per bucket.
    let mut payer_keys: Vec<u64> = Vec::new();
    let mut payer_seen = vec![false; transactions.user_count];

    for row in (0..rows).filter(|&row| include(row)) {
        let bucket = bucket_of_row.as_ref().map(|b| b[row]);
        let success = success_at(row);
        let amount = transactions.amount.as_ref().map_or(f64::NAN, |a| a[row]);
        let refund = transactions
            .status
            .as_ref()
            .is_some_and(|s| s[row] == Status::Refunded);
        for tally in std::iter::once(&mut totals).chain(bucket.map(|b| &mut buckets[b as usize])) {
            tally.attempts += 1;
            tally.refunds += u64::from(refund);
            if success {
                tally.successes += 1;
                if !amount.is_nan() {
                    tally.successes_with_amount += 1;
                    tally.success_amount += amount;
                }
            }
        }
        if success {
            if let Some(user) = transactions.user.as_ref().map(|u| u[row]) {
                if user != NO_ID {
                    if !payer_seen[user as usize] {
                        payer_seen[user as usize] = true;
                        totals.active_payers += 1;
                    }
                    if let Some(bucket) = bucket {
                        payer_keys.push((u64::from(bucket) << 32) | u64::from(user));
                    }
                }
            }
        }
    }

    payer_keys.sort_unstable();
    payer_keys.dedup();
    for key in payer_keys {
        buckets[(key >> 32) as usize].active_payers += 1;
    }

    Computed {
        totals,
        buckets: bucket_starts
            .into_iter()
            .zip(buckets)
            .map(|(start_day, tally)| Bucket { start_day, tally })
            .collect(),
    }
}
