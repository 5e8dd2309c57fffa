//! Cohort retention of issue 4, by calendar week and by calendar month.
//!
//! The definition is [`DEFINITION`], also printed in docs/metrics.md.
use crate::metrics::funnel::{PaymentsByUser, Signup};
use crate::options::CohortBasis;
use crate::time::{bucket_label, bucket_start, Grain, WeekStart};
use serde::Serialize;

/// The definition, for people: printed in docs/metrics.md under "Cohort retention".
pub const DEFINITION: &str = r#"*Activity* is a payment: a successful transaction (status success, refunded or disputed) that
has a user id, after column filters, over all dates of the data. Days are local calendar days
of the reporting time zone; `first_day` and `last_day` are the first and last local days of
the transactions data, and `range` the period reported (the whole data when none is chosen).
Periods are calendar weeks (starting on the chosen `week_start`) or calendar months.

- **Cohort.** Basis `signup` (a users file is loaded): every signup belongs to the cohort of
  the period containing its signup day, whether or not the user ever transacted (one who never
  paid is simply never active). Basis `first_payment`: every payer belongs to the cohort of the
  period containing their first payment day.
- **Cohorts listed**: those whose period starts on or after the start of the period containing
  `first_day` (earlier cohorts' activity is not in the data), and whose start lies between the
  start of the period containing `range`'s first day and `range`'s last day, both included.
  Cohorts of size 0 are not listed.
- **Period index** `N` of an activity: the number of periods from the cohort's period to the
  activity's period (`N = 0` is the cohort's own period). Activity before the cohort's period
  is ignored.
- **Elapsed.** Period `N` of a cohort has elapsed when its last day is on or before `last_day`.
  A cell of a period that has not elapsed is `null`.
- `classic[N]` = share of the cohort active in period `N` exactly; `active[N]` is that number
  of users.
- `unbounded[N]` = share of the cohort active in period `N` or in any later period (activity in
  a period that has not elapsed yet counts: it happened).
- Rows run from `N = 0` to the largest `N` elapsed for the oldest cohort listed, so every row
  has the same length, the younger cohorts' rows ending in `null`s.
- `average.classic[N]` (and `average.unbounded[N]`) = the active users in period `N` (or in `N`
  or later) summed over the cohorts whose period `N` has elapsed, divided by the sum of those
  cohorts' sizes: weighted by size, and only over users for whom period `N` has elapsed. An `N`
  no cohort has elapsed is left out.

Cost: the payments are grouped by user once (linear, then each user's few days sorted); each
cohort member then walks their own payment days, so the whole is O(payments log payments).
"#;

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
            Periods::Month => month_number(day),
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

/// `year * 12 + month0` of a local day: the civil-from-days arithmetic of H. Hinnant's
/// `chrono`-compatible date algorithms. Read for every payment of every payer (twice per
/// report), where going through a `NaiveDate` was the costliest step of retention.
fn month_number(day: i64) -> i64 {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months counted from March, so that the leap day is the last of the year.
    let march_month = (5 * day_of_year + 2) / 153;
    let (year, month0) = if march_month < 10 {
        (year_of_era + era * 400, march_month + 2)
    } else {
        (year_of_era + era * 400 + 1, march_month - 10)
    };
    year * 12 + month0
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
    // Every payment day is a day of the data: their periods are looked up rather than computed
    // (once per payment, this was the costliest step). Signups may fall outside.
    let known: Vec<i64> = if last_day - first_day < 1_000_000 {
        (first_day..=last_day).map(|day| periods.of(day)).collect()
    } else {
        Vec::new()
    };
    let period_of = |day: i64| {
        usize::try_from(day - first_day)
            .ok()
            .and_then(|i| known.get(i).copied())
            .unwrap_or_else(|| periods.of(day))
    };
    let cohort_of = |day: i64| Some(period_of(day)).filter(|c| (lowest..=highest).contains(c));
    let (oldest, newest) = members
        .iter()
        .filter_map(|&(day, _)| cohort_of(day))
        .fold((i64::MAX, i64::MIN), |(lo, hi), c| (lo.min(c), hi.max(c)));
    if oldest > newest {
        return RetentionTable::default();
    }
    // The oldest cohort has the most periods elapsed; every row has that many cells.
    let len = usize::try_from(end - oldest).unwrap_or(0);
    // One slot per period from the oldest cohort's to the newest's (cohorts are periods of the
    // data's days, so they are few), indexed directly rather than looked up per member.
    let mut tallies: Vec<Option<Tally>> = (oldest..=newest).map(|_| None).collect();
    for &(day, days) in members {
        let Some(cohort) = cohort_of(day) else {
            continue;
        };
        let tally = tallies[(cohort - oldest) as usize].get_or_insert_with(|| Tally {
            day,
            size: 0,
            active: vec![0; len],
            last_active: vec![0; len],
        });
        tally.size += 1;
        let mut previous = None;
        let mut last = None;
        for &paid in days {
            let period = period_of(paid);
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

    let tallies = (oldest..)
        .zip(tallies)
        .filter_map(|(cohort, t)| Some((cohort, t?)));
    let mut cohorts = Vec::new();
    let mut sums = vec![(0u64, 0u64, 0u64); len]; // (active, active in N or later, size)
    for (cohort, tally) in tallies {
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
            cohort_row.classic.push(shown.then(|| active as f64 / size));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::date_of_day;
    use crate::transactions::NO_ID;
    use chrono::Datelike;

    /// Day numbers of 2025 dates: `d(7, 1)` is 2025-07-01 (a Tuesday).
    fn d(month: u32, day: u32) -> i64 {
        let date = chrono::NaiveDate::from_ymd_opt(2025, month, day).expect("valid test date");
        (date - date_of_day(0)).num_days()
    }

    #[test]
    fn month_numbers_match_chrono() {
        // From 1600 to 2400: leap centuries, and days before 1970.
        for day in -135_000..157_000 {
            let date = date_of_day(day);
            let want = i64::from(date.year()) * 12 + i64::from(date.month0());
            assert_eq!(month_number(day), want, "day {day} ({date})");
        }
    }

    fn shares(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    /// `(start, size, classic, unbounded, active)` of each cohort.
    type Row = (
        String,
        u64,
        Vec<Option<f64>>,
        Vec<Option<f64>>,
        Vec<Option<u64>>,
    );

    fn rows(table: &RetentionTable) -> Vec<Row> {
        table
            .cohorts
            .iter()
            .map(|c| {
                (
                    c.start.clone(),
                    c.size,
                    c.classic.clone(),
                    c.unbounded.clone(),
                    c.active.clone(),
                )
            })
            .collect()
    }

    /// Data from Tue 2025-07-01 to Sun 2025-07-27, first-payment basis. Monday weeks:
    /// A = Jun 30–Jul 6, B = Jul 7–13, C = Jul 14–20, D = Jul 21–27; all four have elapsed
    /// (Jul 27 is D's last day), so rows have 4 cells (the oldest cohort, A, has N = 0..3).
    ///
    /// | payer | payments | cohort | active N |
    /// | --- | --- | --- | --- |
    /// | 0 | Jul 1, Jul 2, Jul 15 | A | 0, 2 |
    /// | 1 | Jul 3, Jul 25 | A | 0, 3 |
    /// | 2 | Jul 8 | B | 0 |
    /// | 3 | Jul 9, Jul 16, Jul 17, Jul 22 | B | 0, 1, 2 |
    /// | 4 | Jul 21 | D | 0 |
    /// | 5 | Jul 27 | D | 0 |
    ///
    /// A (2): classic [2, 0, 1, 1]/2; active in N or later [2, 2, 2, 1]/2.
    /// B (2, N = 0..2 elapsed): classic [2, 1, 1]/2; or later [2, 1, 1]/2.
    /// C has no member: not listed. D (2, N = 0 elapsed): [2]/2, [2]/2.
    /// Average classic: N0 (2+2+2)/6 = 1, N1 (0+1)/4, N2 (1+1)/4, N3 1/2.
    /// Average unbounded: N0 6/6, N1 (2+1)/4, N2 (2+1)/4, N3 1/2.
    #[test]
    fn weekly_first_payment_cohorts_by_hand() {
        let payments = [
            (0, d(7, 15)),
            (0, d(7, 1)),
            (0, d(7, 2)),
            (1, d(7, 3)),
            (1, d(7, 25)),
            (2, d(7, 8)),
            (3, d(7, 22)),
            (3, d(7, 9)),
            (3, d(7, 16)),
            (3, d(7, 17)),
            (4, d(7, 21)),
            (5, d(7, 27)),
            (NO_ID, d(7, 4)),
        ];
        let range = (d(7, 1), d(7, 27));
        let r = retention(&payments, None, WeekStart::Monday, range.0, range.1, range);
        assert_eq!(r.basis, CohortBasis::FirstPayment);
        assert_eq!(
            rows(&r.week),
            vec![
                (
                    "2025-06-30".to_string(),
                    2,
                    shares(&[1.0, 0.0, 0.5, 0.5]),
                    shares(&[1.0, 1.0, 1.0, 0.5]),
                    vec![Some(2), Some(0), Some(1), Some(1)],
                ),
                (
                    "2025-07-07".to_string(),
                    2,
                    vec![Some(1.0), Some(0.5), Some(0.5), None],
                    vec![Some(1.0), Some(0.5), Some(0.5), None],
                    vec![Some(2), Some(1), Some(1), None],
                ),
                (
                    "2025-07-21".to_string(),
                    2,
                    vec![Some(1.0), None, None, None],
                    vec![Some(1.0), None, None, None],
                    vec![Some(2), None, None, None],
                ),
            ]
        );
        assert_eq!(r.week.average.classic, vec![1.0, 0.25, 0.5, 0.5]);
        assert_eq!(r.week.average.unbounded, vec![1.0, 0.75, 0.75, 0.5]);

        // July has not elapsed (the data ends on the 27th): one cohort, no cell yet.
        assert_eq!(
            rows(&r.month),
            vec![("2025-07".to_string(), 6, vec![], vec![], vec![])]
        );
        assert_eq!(r.month.average, Average::default());

        // Sunday weeks: Jun 29–Jul 5, Jul 6–12, Jul 13–19, Jul 20–26, Jul 27–Aug 2. Payers 0–4
        // fall in the same relative weeks as above; payer 5 (Sunday Jul 27) starts a cohort of
        // its own whose week has not elapsed, so it is listed with nulls only.
        let r = retention(&payments, None, WeekStart::Sunday, range.0, range.1, range);
        let starts: Vec<(String, u64)> = r
            .week
            .cohorts
            .iter()
            .map(|c| (c.start.clone(), c.size))
            .collect();
        assert_eq!(
            starts,
            vec![
                ("2025-06-29".to_string(), 2),
                ("2025-07-06".to_string(), 2),
                ("2025-07-20".to_string(), 1),
                ("2025-07-27".to_string(), 1),
            ]
        );
        assert_eq!(r.week.cohorts[3].classic, vec![None, None, None, None]);
        assert_eq!(r.week.cohorts[2].classic, vec![Some(1.0), None, None, None]);
        // N0: (2 + 2 + 1) / 5; the rest as with Monday weeks.
        assert_eq!(r.week.average.classic, vec![1.0, 0.25, 0.5, 0.5]);
        assert_eq!(r.week.average.unbounded, vec![1.0, 0.75, 0.75, 0.5]);
    }

    /// Signup basis by month; data from Jun 15 to Aug 20, so June and July have elapsed and
    /// August has not. Rows have 2 cells (June, the oldest cohort listed, has N = 0, 1).
    ///
    /// | signup | user | payments | cohort | active N |
    /// | --- | --- | --- | --- | --- |
    /// | May 20 | 0 | Jun 20 | May: before the data's first month, not listed | |
    /// | Jun 10 | 1 | Jun 20, Aug 5 | Jun | 0, 2 (2 has not elapsed) |
    /// | Jun 25 | never paid | | Jun | — |
    /// | Jul 3 | 2 | Jun 30 (before the cohort: ignored), Jul 4 | Jul | 0 |
    /// | Jul 15 | 3 | Aug 10 | Jul | 1 (not elapsed) |
    /// | Aug 2 | 4 | Aug 3 | Aug | 0 (not elapsed) |
    ///
    /// Jun (2): classic [1, 0]/2; active in N or later: user 1 (last active N = 2 > 1) in both
    /// cells, [1, 1]/2. Jul (2): classic [1, —]/2; or later: users 2 and 3 (3 is active in
    /// August, which counts even though it has not elapsed) [2, —]/2. Aug (1): [—, —].
    /// Average classic: N0 (1+1)/4, N1 0/2; unbounded: N0 (1+2)/4, N1 1/2.
    #[test]
    fn monthly_signup_cohorts_by_hand() {
        let signup = |user, signup_day| Signup {
            user,
            signup_day,
            funded_day: None,
        };
        let signups = [
            signup(0, d(5, 20)),
            signup(1, d(6, 10)),
            signup(NO_ID, d(6, 25)),
            signup(2, d(7, 3)),
            signup(3, d(7, 15)),
            signup(4, d(8, 2)),
        ];
        let payments = [
            (0, d(6, 20)),
            (1, d(8, 5)),
            (1, d(6, 20)),
            (2, d(6, 30)),
            (2, d(7, 4)),
            (3, d(8, 10)),
            (4, d(8, 3)),
        ];
        let (first, last) = (d(6, 15), d(8, 20));
        let r = retention(
            &payments,
            Some(&signups),
            WeekStart::Monday,
            first,
            last,
            (first, last),
        );
        assert_eq!(r.basis, CohortBasis::Signup);
        assert_eq!(
            rows(&r.month),
            vec![
                (
                    "2025-06".to_string(),
                    2,
                    shares(&[0.5, 0.0]),
                    shares(&[0.5, 0.5]),
                    vec![Some(1), Some(0)],
                ),
                (
                    "2025-07".to_string(),
                    2,
                    vec![Some(0.5), None],
                    vec![Some(1.0), None],
                    vec![Some(1), None],
                ),
                (
                    "2025-08".to_string(),
                    1,
                    vec![None, None],
                    vec![None, None],
                    vec![None, None]
                ),
            ]
        );
        assert_eq!(r.month.average.classic, vec![0.5, 0.0]);
        assert_eq!(r.month.average.unbounded, vec![0.75, 0.5]);

        // A range from Jul 10: cohorts from July (its month) on; rows now have 1 cell.
        let r = retention(
            &payments,
            Some(&signups),
            WeekStart::Monday,
            first,
            last,
            (d(7, 10), last),
        );
        assert_eq!(
            rows(&r.month),
            vec![
                (
                    "2025-07".to_string(),
                    2,
                    vec![Some(0.5)],
                    vec![Some(1.0)],
                    vec![Some(1)]
                ),
                ("2025-08".to_string(), 1, vec![None], vec![None], vec![None]),
            ]
        );
        assert_eq!(r.month.average.classic, vec![0.5]);
        assert_eq!(r.month.average.unbounded, vec![1.0]);
    }

    #[test]
    fn no_cohort_gives_empty_tables() {
        let r = retention(&[], Some(&[]), WeekStart::Monday, 0, 10, (0, 10));
        assert_eq!(r.week, RetentionTable::default());
        assert_eq!(r.month, RetentionTable::default());
        let json = serde_json::to_value(&r).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({
                "basis": "signup",
                "week": { "cohorts": [], "average": { "classic": [], "unbounded": [] } },
                "month": { "cohorts": [], "average": { "classic": [], "unbounded": [] } }
            })
        );
    }

    #[test]
    fn retention_json_has_the_shape_of_docs_report_md() {
        // One payer, paying on Mon Jul 7 and Mon Jul 14; data to Sun Jul 20: two weeks elapsed.
        let payments = [(0, d(7, 7)), (0, d(7, 14))];
        let r = retention(
            &payments,
            None,
            WeekStart::Monday,
            d(7, 7),
            d(7, 20),
            (d(7, 7), d(7, 20)),
        );
        let json = serde_json::to_value(&r).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({
                "basis": "first_payment",
                "week": {
                    "cohorts": [ { "start": "2025-07-07", "size": 1,
                                   "classic": [1.0, 1.0], "unbounded": [1.0, 1.0],
                                   "active": [1, 1] } ],
                    "average": { "classic": [1.0, 1.0], "unbounded": [1.0, 1.0] } },
                "month": {
                    "cohorts": [ { "start": "2025-07", "size": 1,
                                   "classic": [], "unbounded": [], "active": [] } ],
                    "average": { "classic": [], "unbounded": [] } }
            })
        );
    }

    /// A million payments of 100 000 users over two years. Run natively with
    /// `cargo test --release --lib retention::tests::a_million_payments -- --ignored`:
    /// it must take well under a second.
    #[test]
    #[ignore = "timing: run with --release"]
    fn a_million_payments() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let start = d(1, 1);
        let payments: Vec<(u32, i64)> = (0..1_000_000)
            .map(|_| ((next() % 100_000) as u32, start + (next() % 730) as i64))
            .collect();
        let clock = std::time::Instant::now();
        let by_user = PaymentsByUser::new(&payments);
        let r = retention_of(
            &by_user,
            None,
            WeekStart::Monday,
            start,
            start + 729,
            (start, start + 729),
        );
        let f = crate::metrics::funnel::funnel_of(
            &by_user,
            None,
            false,
            30,
            start + 729,
            (start, start + 729),
        );
        let took = clock.elapsed();
        eprintln!("1M payments: {took:?}");
        // Every payer is in exactly one weekly and one monthly cohort (a few of the 100 000 users
        // drew no payment at all).
        let payers = by_user.payers().count() as u64;
        assert!(payers > 99_900, "{payers}");
        assert_eq!(r.week.cohorts.iter().map(|c| c.size).sum::<u64>(), payers);
        assert_eq!(r.month.cohorts.iter().map(|c| c.size).sum::<u64>(), payers);
        assert!(f.steps[0].users > 0);
        assert!(took.as_secs_f64() < 1.0, "{took:?}");
    }
}
