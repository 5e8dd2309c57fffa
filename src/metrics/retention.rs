//! Cohort retention of issue 4, by calendar week and by calendar month.
//!
//! # Definition
//!
//! *Activity* is a payment: a successful transaction (status success, refunded or disputed) that
//! has a user id, after column filters, over all dates of the data. Days are local calendar days
//! of the reporting time zone; `first_day` and `last_day` are the first and last local days of
//! the transactions data, and `range` the period reported (the whole data when none is chosen).
//! Periods are calendar weeks (starting on the chosen `week_start`) or calendar months.
//!
//! - **Cohort.** Basis `signup` (a users file is loaded): every signup belongs to the cohort of
//!   the period containing its signup day, whether or not the user ever transacted (one who never
//!   paid is simply never active). Basis `first_payment`: every payer belongs to the cohort of the
//!   period containing their first payment day.
//! - **Cohorts listed**: those whose period starts on or after the start of the period containing
//!   `first_day` (earlier cohorts' activity is not in the data), and whose start lies between the
//!   start of the period containing `range`'s first day and `range`'s last day, both included.
//!   Cohorts of size 0 are not listed.
//! - **Period index** `N` of an activity: the number of periods from the cohort's period to the
//!   activity's period (`N = 0` is the cohort's own period). Activity before the cohort's period
//!   is ignored.
//! - **Elapsed.** Period `N` of a cohort has elapsed when its last day is on or before `last_day`.
//!   A cell of a period that has not elapsed is `null`.
//! - `classic[N]` = share of the cohort active in period `N` exactly; `active[N]` is that number
//!   of users.
//! - `unbounded[N]` = share of the cohort active in period `N` or in any later period (activity in
//!   a period that has not elapsed yet counts: it happened).
//! - Rows run from `N = 0` to the largest `N` elapsed for the oldest cohort listed, so every row
//!   has the same length, the younger cohorts' rows ending in `null`s.
//! - `average.classic[N]` (and `average.unbounded[N]`) = the active users in period `N` (or in `N`
//!   or later) summed over the cohorts whose period `N` has elapsed, divided by the sum of those
//!   cohorts' sizes: weighted by size, and only over users for whom period `N` has elapsed. An `N`
//!   no cohort has elapsed is left out.
//!
//! Cost: the payments are grouped by user once (linear, then each user's few days sorted); each
//! cohort member then walks their own payment days, so the whole is O(payments log payments).
use crate::metrics::funnel::{PaymentsByUser, Signup};
use crate::options::CohortBasis;
use crate::time::{bucket_label, bucket_start, date_of_day, Grain, WeekStart};
use chrono::Datelike;
use serde::Serialize;
use std::collections::BTreeMap;

/// One cohort's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// The period's first day: `YYYY-MM-DD` for weeks, `YYYY-MM` for months.
    pub start: String,
    /// Users in the cohort.
    pub size: u64,
    /// Share of the cohort active in period N; `None` while period N has not elapsed.
    pub classic: Vec<Option<f64>>,
    /// Share of the cohort active in period N or later; `None` while period N has not elapsed.
    pub unbounded: Vec<Option<f64>>,
    /// Users of the cohort active in period N (the numerators of `classic`).
    pub active: Vec<Option<u64>>,
}

/// Size-weighted averages over the cohorts whose period N has elapsed.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Average {
    pub classic: Vec<f64>,
    pub unbounded: Vec<f64>,
}

/// The cohorts of one kind of period.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RetentionTable {
    /// Oldest first.
    pub cohorts: Vec<Cohort>,
    pub average: Average,
}

/// Retention by calendar week and by calendar month (see the module documentation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    pub basis: CohortBasis,
    pub week: RetentionTable,
    pub month: RetentionTable,
}

/// Cohort retention: on the `signup` basis when `signups` is given, else on the `first_payment`
/// basis. `payments` are `(user index, local day)` of every payment; `first_day` and `last_day`
/// are the data's first and last local days, `range` the reported days, both included.
pub fn retention(
    payments: &[(u32, i64)],
    signups: Option<&[Signup]>,
    week_start: WeekStart,
    first_day: i64,
    last_day: i64,
    range: (i64, i64),
) -> Retention {
    let by_user = PaymentsByUser::new(payments);
    retention_of(&by_user, signups, week_start, first_day, last_day, range)
}

pub(crate) fn retention_of(
    by_user: &PaymentsByUser,
    signups: Option<&[Signup]>,
    week_start: WeekStart,
    first_day: i64,
    last_day: i64,
    range: (i64, i64),
) -> Retention {
    // Each member: the day that places them in a cohort, and their payment days, earliest first.
    let (basis, members): (CohortBasis, Vec<(i64, &[i64])>) = match signups {
        Some(signups) => (
            CohortBasis::Signup,
            signups
                .iter()
                .map(|s| (s.signup_day, by_user.days(s.user)))
                .collect(),
        ),
        None => (
            CohortBasis::FirstPayment,
            by_user.payers().map(|days| (days[0], days)).collect(),
        ),
    };
    let table = |periods: Periods| table(&members, periods, first_day, last_day, range);
    Retention {
        basis,
        week: table(Periods::Week(week_start)),
        month: table(Periods::Month),
    }
}

/// Calendar periods numbered consecutively, so that `N` is a difference of numbers.
#[derive(Debug, Clone, Copy)]
enum Periods {
    Week(WeekStart),
    Month,
}

impl Periods {
    /// The number of the period containing `day`.
    fn of(self, day: i64) -> i64 {
        match self {
            // Week starts are 7 days apart and share one remainder mod 7, so floor division by 7
            // numbers them consecutively.
            Periods::Week(week_start) => bucket_start(day, Grain::Week, week_start).div_euclid(7),
            Periods::Month => {
                let date = date_of_day(day);
                i64::from(date.year()) * 12 + i64::from(date.month0())
            }
        }
    }

    /// The label of the period containing `day`: `YYYY-MM-DD` of its first day for weeks,
    /// `YYYY-MM` for months.
    fn label(self, day: i64) -> String {
        let (grain, week_start) = match self {
            Periods::Week(week_start) => (Grain::Week, week_start),
            Periods::Month => (Grain::Month, WeekStart::Monday),
        };
        bucket_label(bucket_start(day, grain, week_start), grain)
    }
}

/// What is counted for one cohort while its members are walked.
struct Tally {
    /// A day of the cohort's period, for its label.
    day: i64,
    size: u64,
    /// Members active in period N, for N below the rows' length.
    active: Vec<u64>,
    /// Members whose last active period is N (the last index also holds later ones): summed from
    /// the end, members active in N or later.
    last_active: Vec<u64>,
}

fn table(
    members: &[(i64, &[i64])],
    periods: Periods,
    first_day: i64,
    last_day: i64,
    range: (i64, i64),
) -> RetentionTable {
    // Period p has elapsed when p < end: its last day is before the period of `last_day + 1`.
    let end = periods.of(last_day + 1);
    let lowest = periods.of(first_day).max(periods.of(range.0));
    let highest = periods.of(range.1);
    let listed: Vec<(i64, i64, &[i64])> = members
        .iter()
        .map(|&(day, days)| (periods.of(day), day, days))
        .filter(|&(cohort, _, _)| lowest <= cohort && cohort <= highest)
        .collect();
    let Some(oldest) = listed.iter().map(|m| m.0).min() else {
        return RetentionTable::default();
    };
    // The oldest cohort has the most periods elapsed; every row has that many cells.
    let len = usize::try_from(end - oldest).unwrap_or(0);
    let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
    for &(cohort, day, days) in &listed {
        let tally = tallies.entry(cohort).or_insert_with(|| Tally {
            day,
            size: 0,
            active: vec![0; len],
            last_active: vec![0; len],
        });
        tally.size += 1;
        let mut previous = None;
        let mut last = None;
        for &paid in days {
            let period = periods.of(paid);
            // Days are sorted, so periods come in order: each is counted once per member.
            if period < cohort || previous == Some(period) {
                continue;
            }
            previous = Some(period);
            let n = usize::try_from(period - cohort).unwrap_or(usize::MAX);
            if let Some(count) = tally.active.get_mut(n) {
                *count += 1;
            }
            last = Some(n);
        }
        if let (Some(n), Some(cap)) = (last, len.checked_sub(1)) {
            tally.last_active[n.min(cap)] += 1;
        }
    }

    let mut cohorts = Vec::with_capacity(tallies.len());
    let mut sums = vec![(0u64, 0u64, 0u64); len]; // (active, active in N or later, size)
    for (&cohort, tally) in &tallies {
        let elapsed = usize::try_from(end - cohort).unwrap_or(0);
        let mut later = 0;
        let mut unbounded_counts = vec![0u64; len];
        for n in (0..len).rev() {
            later += tally.last_active[n];
            unbounded_counts[n] = later;
        }
        let size = tally.size as f64;
        let mut cohort_row = Cohort {
            start: periods.label(tally.day),
            size: tally.size,
            classic: Vec::with_capacity(len),
            unbounded: Vec::with_capacity(len),
            active: Vec::with_capacity(len),
        };
        for n in 0..len {
            let shown = n < elapsed;
            let (active, reached) = (tally.active[n], unbounded_counts[n]);
            cohort_row
                .classic
                .push(shown.then(|| active as f64 / size));
            cohort_row
                .unbounded
                .push(shown.then(|| reached as f64 / size));
            cohort_row.active.push(shown.then_some(active));
            if shown {
                let sum = &mut sums[n];
                sum.0 += active;
                sum.1 += reached;
                sum.2 += tally.size;
            }
        }
        cohorts.push(cohort_row);
    }
    let mut average = Average::default();
    for &(active, reached, size) in sums.iter().take_while(|s| s.2 > 0) {
        average.classic.push(active as f64 / size as f64);
        average.unbounded.push(reached as f64 / size as f64);
    }
    RetentionTable { cohorts, average }
}
