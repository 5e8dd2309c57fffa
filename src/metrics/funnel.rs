//! The activation funnel of issue 4, and the reader of the users file it (and cohort retention)
//! starts from.
//!
//! The definition is [`DEFINITION`], also printed in docs/metrics.md.
use crate::ingest::RawTable;
use crate::options::CohortBasis;
use crate::quality::UnreadableValues;
use crate::schema::normalise_header;
use crate::time::{date_of_day, infer_table_column, local_day, DateOrder, TimestampParser, Zone};
use crate::transactions::NO_ID;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// The transactions' user ids to their dictionary index. With foldhash rather than the default
/// SipHash: built and probed once per user id when signups are read (100,000s of ids), where
/// SipHash was most of the cost.
pub type UserIndex<'a> = HashMap<&'a str, u32, foldhash::fast::FixedState>;

/// The definition, for people: printed in docs/metrics.md under "Activation funnel".
pub const DEFINITION: &str = r#"A *payment* is a successful transaction (status success, refunded or disputed) that has a user
id, after column filters, over all dates of the data (not only the reported range). Days are
local calendar days of the reporting time zone. The conversion window is `W` days
(`funnel_days`, default 30); `first_day` and `last_day` are the first and last local days of
the transactions data, and `range` the period reported (the whole data when none is chosen).

**Basis `signup`** (a users file with signup times is loaded). The cohort is the users whose
signup day is within `range` *and* whose whole window lies within the data:
`signup_day + W - 1 <= last_day`. Users who signed up in `range` but too recently for that are
counted in `excluded_recent`, not in the cohort. The steps are nested — a user counts in a step
only if they count in every earlier step — and every event must happen on or before the
window's last day, `signup_day + W - 1`:

1. `signup` — every user of the cohort;
2. `funded` — the user's first funding day (card linked, account funded) is known and on or
   before the window's end; this step is present only when the users file has a funding column;
3. `first_payment` — the user's first payment is on or before the window's end;
4. `second_payment` — the user's second payment (the second-earliest payment row: two payments
   on one day count as two) is on or before the window's end.

**Basis `first_payment`** (no users file). The cohort is the payers whose first payment day is
within `range` and whose window lies within the data: `first_payment_day + W - 1 <= last_day`
(other payers whose first payment is in `range` are counted in `excluded_recent`). The steps
are `first_payment` (every payer of the cohort) and `second_payment` (the second payment is on
or before `first_payment_day + W - 1`).

Each step reports its users, `step_conversion` = users / users of the previous step (1 for the
first step) and `overall_conversion` = users / users of the first step; a conversion whose
denominator is 0 is `null`. The cohort is reported as the signup (or first payment) days it
covers: `from` = the range's first day, `to` = the earlier of the range's last day and
`last_day - W + 1`; `to` is before `from` when no day of the range has a whole window in the
data, and the cohort is then empty.

A window of 0 days is read as 1 (the day of signup alone): a window must hold at least the day
it starts on.
"#;

/// One row of the users file: who signed up when, and when they first funded their account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signup {
    /// Index into the transactions' user dictionary, or [`NO_ID`] when the user never transacted.
    pub user: u32,
    /// Local day (days since 1970-01-01 in the reporting zone) of the signup.
    pub signup_day: i64,
    /// Local day of the first funding (card linked, account funded), when known.
    pub funded_day: Option<i64>,
}

/// Which columns of which lookup file hold the users: found by [`find_users_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsersColumns {
    /// Index of the users file in the lookups given to [`find_users_table`].
    pub table: usize,
    /// The user id column (the key the transactions' user ids are matched against).
    pub key: usize,
    /// The signup time column.
    pub signup: usize,
    /// The first funding time column, when the file has one.
    pub funding: Option<usize>,
}

/// Normalised headers (see [`normalise_header`]) of a signup time, most specific first. Only
/// signup-ish names: `created_at` would also match orders or merchants files.
const SIGNUP_HEADERS: &[&str] = &[
    "signup_at",
    "signup_time",
    "signup_date",
    "signed_up_at",
    "sign_up_at",
    "sign_up_time",
    "sign_up_date",
    "registered_at",
    "registration_date",
    "registration_time",
    "register_time",
    "register_date",
    "注册时间",
    "注册日期",
];

/// Normalised headers of the first funding time.
const FUNDING_HEADERS: &[&str] = &[
    "first_funding_at",
    "funded_at",
    "first_funded_at",
    "card_linked_at",
    "first_card_linked_at",
    "linked_card_at",
    "首次绑卡时间",
    "绑卡时间",
];

/// Normalised headers of a user id in a users file: the common ones among `Role::UserId`'s
/// synonyms (whose list is private to the schema, where it also serves content sniffing).
const USER_KEY_HEADERS: &[&str] = &[
    "user_id",
    "user",
    "customer_id",
    "uid",
    "member_id",
    "account_id",
    "payer_id",
    "buyer_id",
    "用户id",
    "用户编号",
    "会员id",
    "客户id",
];

/// The column of `table` whose normalised header is the earliest of `names`.
fn column_named(table: &RawTable, names: &[&str]) -> Option<usize> {
    let headers: Vec<String> = table.headers.iter().map(|h| normalise_header(h)).collect();
    names
        .iter()
        .find_map(|name| headers.iter().position(|h| h == name))
}

/// The first lookup that has a user id column and a signup time column, with its funding column
/// if any. Lookups without both (merchants, orders) are passed over.
pub fn find_users_table(lookups: &[RawTable]) -> Option<UsersColumns> {
    lookups.iter().enumerate().find_map(|(index, table)| {
        Some(UsersColumns {
            table: index,
            key: column_named(table, USER_KEY_HEADERS)?,
            signup: column_named(table, SIGNUP_HEADERS)?,
            funding: column_named(table, FUNDING_HEADERS),
        })
    })
}

/// Where a column is, for messages: `line 7 column 2`, or `line 7` for a column not from the file.
fn place(table: &RawTable, row: usize, column: usize) -> (u64, Option<u64>) {
    (table.line(row), table.column_number(column))
}

/// One warning about rows or values of a users-file column, naming the first one.
fn users_warning(file: &str, header: &str, seen: &UnreadableValues, what: &str) -> Option<String> {
    let (line, column, value) = seen.first.as_ref()?;
    let at = match column {
        Some(column) => format!("line {line} column {column}"),
        None => format!("line {line}"),
    };
    let n = seen.count;
    let rows = if n == 1 { "row" } else { "rows" };
    Some(format!(
        "{file}: {header}: {n} {rows} {what}, first at {at} ({value:?})"
    ))
}

/// Reads the signups of the users file. `user_index` maps each user id of the transactions to its
/// dictionary index; users that never transacted get [`NO_ID`]. Times are read like the
/// transactions' (`date_order` forces the day/month order, else it is inferred from the column)
/// and turned into local days of `zone`.
///
/// Rows left out, each kind counted in one warning naming the file, the first line and column:
/// an empty or unreadable signup time, an empty user id, and a user id already seen (the first row
/// wins, as in joins). An unreadable funding time reads as "not funded" and is warned about too.
pub fn read_signups(
    table: &RawTable,
    cols: &UsersColumns,
    user_index: &UserIndex,
    zone: Zone,
    date_order: Option<DateOrder>,
) -> (Vec<Signup>, Vec<String>) {
    let header = |c: usize| table.headers.get(c).map_or("", String::as_str);
    let column_parser = |c: usize| -> TimestampParser {
        match table.columns.get(c) {
            Some(column) => infer_table_column(column, date_order).parser,
            None => TimestampParser::default(),
        }
    };
    let cell = |row: usize, c: usize| {
        table
            .columns
            .get(c)
            .map_or(Cow::Borrowed(""), |column| column.get(row))
    };
    let time = |row: usize, c: usize, parser: &mut TimestampParser| {
        table.columns.get(c)?.read_time(row, parser).flatten()
    };
    let mut signup_parser = column_parser(cols.signup);
    let mut funding_parser = cols.funding.map(column_parser);

    let (mut bad_signup, mut no_key, mut repeated, mut bad_funding) = Default::default();
    let note = |seen: &mut UnreadableValues, row: usize, c: usize, value: &str| {
        let (line, column) = place(table, row, c);
        seen.note(line, column, value);
    };
    let mut seen_keys: HashSet<Cow<str>, foldhash::fast::FixedState> =
        HashSet::with_capacity_and_hasher(table.row_count(), Default::default());
    let mut signups = Vec::with_capacity(table.row_count());
    for row in 0..table.row_count() {
        let key = cell(row, cols.key);
        if key.is_empty() {
            note(&mut no_key, row, cols.key, &key);
            continue;
        }
        let Some(signup) = time(row, cols.signup, &mut signup_parser) else {
            note(&mut bad_signup, row, cols.signup, &cell(row, cols.signup));
            continue;
        };
        // Checked after the signup time, so that a row left out for its time does not hide a
        // later, readable row of the same user.
        let user = user_index.get(&*key).copied().unwrap_or(NO_ID);
        if !seen_keys.insert(key) {
            note(&mut repeated, row, cols.key, &cell(row, cols.key));
            continue;
        }
        let funded_day = match (cols.funding, funding_parser.as_mut()) {
            (Some(c), Some(parser)) => {
                let text = cell(row, c);
                if text.is_empty() {
                    None
                } else {
                    let parsed = time(row, c, parser);
                    if parsed.is_none() {
                        note(&mut bad_funding, row, c, &text);
                    }
                    parsed.map(|t| local_day(t.utc_millis(zone), zone))
                }
            }
            _ => None,
        };
        signups.push(Signup {
            user,
            signup_day: local_day(signup.utc_millis(zone), zone),
            funded_day,
        });
    }
    let file = table.file.as_str();
    let warnings = [
        users_warning(
            file,
            header(cols.signup),
            &bad_signup,
            "left out of the funnel and retention: signup time empty or not a date/time",
        ),
        users_warning(
            file,
            header(cols.key),
            &no_key,
            "left out of the funnel and retention: no user id",
        ),
        users_warning(
            file,
            header(cols.key),
            &repeated,
            "left out of the funnel and retention: user id already listed (the first row is used)",
        ),
        cols.funding.and_then(|c| {
            users_warning(
                file,
                header(c),
                &bad_funding,
                "with a funding time that is not a date/time, read as not funded",
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    (signups, warnings)
}

/// Each user's payment days, sorted, in one flat array: the index both the funnel and retention
/// read. Built by counting per user then filling (linear), then sorting each user's few days.
pub(crate) struct PaymentsByUser {
    /// `days[starts[u]..starts[u + 1]]` are user `u`'s payment days.
    starts: Vec<usize>,
    days: Vec<i64>,
}

impl PaymentsByUser {
    pub(crate) fn new(payments: &[(u32, i64)]) -> PaymentsByUser {
        let users = payments
            .iter()
            .filter(|(user, _)| *user != NO_ID)
            .map(|(user, _)| *user as usize + 1)
            .max()
            .unwrap_or(0);
        // Counts at `u + 1`, then running sums: `starts[u]` becomes the payments of users < u.
        let mut starts = vec![0usize; users + 1];
        for &(user, _) in payments.iter().filter(|(user, _)| *user != NO_ID) {
            starts[user as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut days = vec![0i64; starts[users]];
        for &(user, day) in payments.iter().filter(|(user, _)| *user != NO_ID) {
            let slot = &mut next[user as usize];
            days[*slot] = day;
            *slot += 1;
        }
        for pair in starts.windows(2) {
            days[pair[0]..pair[1]].sort_unstable();
        }
        PaymentsByUser { starts, days }
    }

    /// The same index from payments that come in day order (as the engine walks them), for
    /// `users` user indices: each user's days then arrive sorted, so no sort is needed. `payments`
    /// is walked twice (count, then fill) rather than collected.
    pub(crate) fn from_day_order<I>(users: usize, payments: impl Fn() -> I) -> PaymentsByUser
    where
        I: Iterator<Item = (u32, i64)>,
    {
        let by_user = PaymentsByUser::filled(users, payments);
        debug_assert!(by_user
            .starts
            .windows(2)
            .all(|pair| by_user.days[pair[0]..pair[1]].is_sorted()));
        by_user
    }

    /// The same index from payments in any order (a streamed report's payer days, from a hash
    /// set), for `users` user indices; `payments` is walked twice.
    pub(crate) fn from_unordered<I>(users: usize, payments: impl Fn() -> I) -> PaymentsByUser
    where
        I: Iterator<Item = (u32, i64)>,
    {
        let mut by_user = PaymentsByUser::filled(users, payments);
        for pair in by_user.starts.windows(2) {
            by_user.days[pair[0]..pair[1]].sort_unstable();
        }
        by_user
    }

    /// Each user's payment days in the order `payments` gives them.
    fn filled<I>(users: usize, payments: impl Fn() -> I) -> PaymentsByUser
    where
        I: Iterator<Item = (u32, i64)>,
    {
        let mut starts = vec![0usize; users + 1];
        for (user, _) in payments() {
            starts[user as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut days = vec![0i64; starts[users]];
        for (user, day) in payments() {
            let slot = &mut next[user as usize];
            days[*slot] = day;
            *slot += 1;
        }
        PaymentsByUser { starts, days }
    }

    /// How many user indices the index covers (users beyond have no payment).
    pub(crate) fn users(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The user's payment days, earliest first (empty for [`NO_ID`] or a user who never paid).
    pub(crate) fn days(&self, user: u32) -> &[i64] {
        let u = user as usize;
        match (self.starts.get(u), self.starts.get(u + 1)) {
            (Some(&start), Some(&end)) if user != NO_ID => &self.days[start..end],
            _ => &[],
        }
    }

    /// Every user who paid, with their payment days (never empty), earliest first.
    pub(crate) fn payers(&self) -> impl Iterator<Item = &[i64]> + '_ {
        self.starts
            .windows(2)
            .map(|pair| &self.days[pair[0]..pair[1]])
            .filter(|days| !days.is_empty())
    }
}

/// One step of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelStep {
    /// `signup`, `funded`, `first_payment` or `second_payment`.
    pub id: &'static str,
    pub name: &'static str,
    pub users: u64,
    /// Users / users of the previous step (1 for the first step); `None` when that is 0.
    pub step_conversion: Option<f64>,
    /// Users / users of the first step; `None` when that is 0.
    pub overall_conversion: Option<f64>,
}

/// The activation funnel (see the module documentation for the definition).
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub basis: CohortBasis,
    /// The conversion window actually used, in days (at least 1).
    pub window_days: u32,
    /// First local day of the cohort's signups (or first payments).
    pub cohort_from: i64,
    /// Last local day of the cohort's signups (or first payments); before `cohort_from` when the
    /// cohort is empty.
    pub cohort_to: i64,
    /// Users who signed up (or first paid) in the range less than `window_days` before the data's
    /// end: their window has not elapsed, so they are not in the cohort.
    pub excluded_recent: u64,
    pub steps: Vec<FunnelStep>,
}

/// `YYYY-MM-DD` of a local day.
fn day_text(day: i64) -> String {
    date_of_day(day).format("%Y-%m-%d").to_string()
}

/// The JSON of docs/report.md: the cohort's days as `{ "from": "YYYY-MM-DD", "to": ... }`.
impl Serialize for Funnel {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Dates {
            from: String,
            to: String,
        }
        let mut out = serializer.serialize_struct("Funnel", 5)?;
        out.serialize_field("basis", &self.basis)?;
        out.serialize_field("window_days", &self.window_days)?;
        out.serialize_field(
            "cohort",
            &Dates {
                from: day_text(self.cohort_from),
                to: day_text(self.cohort_to),
            },
        )?;
        out.serialize_field("excluded_recent", &self.excluded_recent)?;
        out.serialize_field("steps", &self.steps)?;
        out.end()
    }
}

/// `a / b`, or `None` when `b` is 0.
fn share(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn steps(counts: &[(&'static str, &'static str, u64)]) -> Vec<FunnelStep> {
    let first = counts.first().map_or(0, |c| c.2);
    let mut previous = first;
    counts
        .iter()
        .map(|&(id, name, users)| {
            let step = FunnelStep {
                id,
                name,
                users,
                step_conversion: share(users, previous),
                overall_conversion: share(users, first),
            };
            previous = users;
            step
        })
        .collect()
}

/// The activation funnel: on the `signup` basis when `signups` is given (with the `funded` step
/// when the users file has a funding column, `has_funding`), else on the `first_payment` basis.
/// `payments` are `(user index, local day)` of every payment (see the module documentation);
/// `last_day` is the data's last local day and `range` the reported days, both included.
pub fn funnel(
    payments: &[(u32, i64)],
    signups: Option<&[Signup]>,
    has_funding: bool,
    window_days: u32,
    last_day: i64,
    range: (i64, i64),
) -> Funnel {
    let by_user = PaymentsByUser::new(payments);
    funnel_of(&by_user, signups, has_funding, window_days, last_day, range)
}

pub(crate) fn funnel_of(
    by_user: &PaymentsByUser,
    signups: Option<&[Signup]>,
    has_funding: bool,
    window_days: u32,
    last_day: i64,
    range: (i64, i64),
) -> Funnel {
    let window_days = window_days.max(1);
    // The window's last day is `start + span`.
    let span = i64::from(window_days) - 1;
    let (from, to) = (range.0, range.1.min(last_day - span));
    let in_range = |day: i64| range.0 <= day && day <= range.1;
    let mut excluded_recent = 0;
    let within = |day: Option<&i64>, end: i64| day.is_some_and(|&d| d <= end);
    let (basis, counts) = match signups {
        Some(signups) => {
            let (mut cohort, mut funded, mut first, mut second) = (0, 0, 0, 0);
            for signup in signups.iter().filter(|s| in_range(s.signup_day)) {
                if signup.signup_day > to {
                    excluded_recent += 1;
                    continue;
                }
                let end = signup.signup_day + span;
                cohort += 1;
                if has_funding {
                    if !within(signup.funded_day.as_ref(), end) {
                        continue;
                    }
                    funded += 1;
                }
                let days = by_user.days(signup.user);
                if !within(days.first(), end) {
                    continue;
                }
                first += 1;
                if within(days.get(1), end) {
                    second += 1;
                }
            }
            let mut counts = vec![("signup", "Signed up", cohort)];
            if has_funding {
                counts.push(("funded", "Linked a card / funded", funded));
            }
            counts.push(("first_payment", "First payment", first));
            counts.push(("second_payment", "Second payment", second));
            (CohortBasis::Signup, counts)
        }
        None => {
            let (mut cohort, mut second) = (0, 0);
            for days in by_user.payers() {
                let start = days[0];
                if !in_range(start) {
                    continue;
                }
                if start > to {
                    excluded_recent += 1;
                    continue;
                }
                cohort += 1;
                if within(days.get(1), start + span) {
                    second += 1;
                }
            }
            let counts = vec![
                ("first_payment", "First payment", cohort),
                ("second_payment", "Second payment", second),
            ];
            (CohortBasis::FirstPayment, counts)
        }
    };
    Funnel {
        basis,
        window_days,
        cohort_from: from,
        cohort_to: to,
        excluded_recent,
        steps: steps(&counts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_csv;
    use crate::time::Zone;

    /// Day numbers of 2025 dates: `d(7, 1)` is 2025-07-01.
    fn d(month: u32, day: u32) -> i64 {
        let date = chrono::NaiveDate::from_ymd_opt(2025, month, day).expect("valid test date");
        (date - date_of_day(0)).num_days()
    }

    fn users_of(funnel: &Funnel) -> Vec<(&'static str, u64)> {
        funnel.steps.iter().map(|s| (s.id, s.users)).collect()
    }

    fn signup(user: u32, signup_day: i64, funded_day: Option<i64>) -> Signup {
        Signup {
            user,
            signup_day,
            funded_day,
        }
    }

    #[test]
    fn payments_by_user_sorts_each_users_days_and_keeps_repeats() {
        let by_user = PaymentsByUser::new(&[(2, 9), (0, 5), (2, 3), (NO_ID, 1), (2, 3), (0, 4)]);
        assert_eq!(by_user.days(0), &[4, 5]);
        assert_eq!(by_user.days(1), &[] as &[i64]);
        assert_eq!(by_user.days(2), &[3, 3, 9]);
        assert_eq!(by_user.days(7), &[] as &[i64]);
        assert_eq!(by_user.days(NO_ID), &[] as &[i64]);
        let payers: Vec<&[i64]> = by_user.payers().collect();
        assert_eq!(payers, vec![&[4, 5][..], &[3, 3, 9][..]]);
        assert_eq!(PaymentsByUser::new(&[]).payers().count(), 0);
    }

    /// Window W = 10 days, data from day 100 to day 140, no range chosen.
    ///
    /// | user | signup | funded | payments | window end | steps reached |
    /// | --- | --- | --- | --- | --- | --- |
    /// | 0 | 100 | 100 | 101, 105 | 109 | all four |
    /// | 1 | 102 | 103 | 104, 112 | 111 | funded, first (112 > 111) |
    /// | 2 | 105 | —   | 106, 107 | 114 | signup only: nested, not funded |
    /// | 3 | 110 | 120 | 111, 111 | 119 | signup only: funded after window |
    /// | 4 | 120 | 120 | 121, 121 | 129 | all four (same-day second payment) |
    /// | NO_ID | 125 | 126 | — | 134 | funded |
    /// | 6 | 131 | 131 | 132, 133 | 140 | all four (window ends on last day) |
    /// | 7 | 132 | 132 | 133 | 141 > 140 | excluded_recent |
    /// | 8 | 99 | 99 | 101, 102 | — | signup before the range: not counted |
    ///
    /// Cohort: users 0, 1, 2, 3, 4, NO_ID, 6 = 7; funded: 0, 1, 4, NO_ID, 6 = 5; first payment:
    /// 0, 1, 4, 6 = 4; second payment: 0, 4, 6 = 3. Cohort days 100 ..= 140 - 9 = 131.
    #[test]
    fn signup_funnel_by_hand() {
        let payments = [
            (0, 105),
            (0, 101),
            (1, 112),
            (1, 104),
            (2, 106),
            (2, 107),
            (3, 111),
            (3, 111),
            (4, 121),
            (4, 121),
            (6, 133),
            (6, 132),
            (7, 133),
            (8, 101),
            (8, 102),
            (5, 150), // user 5 is nobody's signup: ignored on this basis
        ];
        let signups = [
            signup(0, 100, Some(100)),
            signup(1, 102, Some(103)),
            signup(2, 105, None),
            signup(3, 110, Some(120)),
            signup(4, 120, Some(120)),
            signup(NO_ID, 125, Some(126)),
            signup(6, 131, Some(131)),
            signup(7, 132, Some(132)),
            signup(8, 99, Some(99)),
        ];
        let f = funnel(&payments, Some(&signups), true, 10, 140, (100, 140));
        assert_eq!(f.basis, CohortBasis::Signup);
        assert_eq!(f.window_days, 10);
        assert_eq!((f.cohort_from, f.cohort_to), (100, 131));
        assert_eq!(f.excluded_recent, 1);
        assert_eq!(
            users_of(&f),
            vec![
                ("signup", 7),
                ("funded", 5),
                ("first_payment", 4),
                ("second_payment", 3)
            ]
        );
        let conversions: Vec<(Option<f64>, Option<f64>)> = f
            .steps
            .iter()
            .map(|s| (s.step_conversion, s.overall_conversion))
            .collect();
        assert_eq!(
            conversions,
            vec![
                (Some(1.0), Some(1.0)),
                (Some(5.0 / 7.0), Some(5.0 / 7.0)),
                (Some(4.0 / 5.0), Some(4.0 / 7.0)),
                (Some(3.0 / 4.0), Some(3.0 / 7.0)),
            ]
        );

        // Without a funding column there is no funded step: users 2 (106) and 3 (111 <= 119)
        // now reach the first payment, and both their second payments (107; 111 on the same
        // day) are in the window. First: 0, 1, 2, 3, 4, 6 = 6; second: 0, 2, 3, 4, 6 = 5.
        let f = funnel(&payments, Some(&signups), false, 10, 140, (100, 140));
        assert_eq!(
            users_of(&f),
            vec![("signup", 7), ("first_payment", 6), ("second_payment", 5)]
        );
        assert_eq!(f.steps[2].step_conversion, Some(5.0 / 6.0));

        // A range of days 105 ..= 125: users 2, 3, 4, NO_ID, all with whole windows.
        // Funded: 4, NO_ID; first: 4; second: 4.
        let f = funnel(&payments, Some(&signups), true, 10, 140, (105, 125));
        assert_eq!((f.cohort_from, f.cohort_to), (105, 125));
        assert_eq!(f.excluded_recent, 0);
        assert_eq!(
            users_of(&f),
            vec![
                ("signup", 4),
                ("funded", 2),
                ("first_payment", 1),
                ("second_payment", 1)
            ]
        );
    }

    /// Payers' first payments (W = 10, data days 100 ..= 140): user 0 at 100 (second 109: in
    /// the window 100 ..= 109), user 1 at 100 (second 110: out), user 2 at 120 (one payment),
    /// user 3 at 131 (second 140, the window's last day), user 4 at 132 (excluded_recent:
    /// 141 > 140), user 5 at 99 (before the range 100 ..= 140), user 6 at 125 twice (same day).
    /// Cohort 0, 1, 2, 3, 6 = 5; second payment 0, 3, 6 = 3.
    #[test]
    fn first_payment_funnel_by_hand() {
        let payments = [
            (0, 109),
            (0, 100),
            (1, 100),
            (1, 110),
            (2, 120),
            (3, 140),
            (3, 131),
            (4, 132),
            (4, 133),
            (5, 99),
            (5, 100),
            (6, 125),
            (6, 125),
            (NO_ID, 101),
        ];
        let f = funnel(&payments, None, true, 10, 140, (100, 140));
        assert_eq!(f.basis, CohortBasis::FirstPayment);
        assert_eq!(f.excluded_recent, 1);
        assert_eq!((f.cohort_from, f.cohort_to), (100, 131));
        assert_eq!(
            users_of(&f),
            vec![("first_payment", 5), ("second_payment", 3)]
        );
        assert_eq!(f.steps[1].step_conversion, Some(0.6));
        assert_eq!(f.steps[1].overall_conversion, Some(0.6));
    }

    #[test]
    fn an_empty_cohort_has_no_conversions() {
        // Data of 5 days with a 30-day window: every signup is too recent.
        let signups = [signup(0, 101, Some(101))];
        let f = funnel(&[(0, 102)], Some(&signups), true, 30, 104, (100, 104));
        assert_eq!(f.excluded_recent, 1);
        assert_eq!((f.cohort_from, f.cohort_to), (100, 75));
        assert!(f.steps.iter().all(|s| s.users == 0));
        assert!(f
            .steps
            .iter()
            .all(|s| s.step_conversion.is_none() && s.overall_conversion.is_none()));
        // A window of 0 days is the day of signup alone.
        let f = funnel(&[(0, 101)], Some(&signups), false, 0, 104, (100, 104));
        assert_eq!(f.window_days, 1);
        assert_eq!(users_of(&f)[..2], [("signup", 1), ("first_payment", 1)]);
    }

    #[test]
    fn funnel_json_has_the_shape_of_docs_report_md() {
        let signups = [signup(0, d(7, 1), Some(d(7, 2)))];
        let f = funnel(
            &[(0, d(7, 3)), (0, d(7, 4))],
            Some(&signups),
            true,
            30,
            d(9, 30),
            (d(7, 1), d(9, 30)),
        );
        let json = serde_json::to_value(&f).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({
                "basis": "signup",
                "window_days": 30,
                "cohort": { "from": "2025-07-01", "to": "2025-09-01" },
                "excluded_recent": 0,
                "steps": [
                    { "id": "signup", "name": "Signed up", "users": 1,
                      "step_conversion": 1.0, "overall_conversion": 1.0 },
                    { "id": "funded", "name": "Linked a card / funded", "users": 1,
                      "step_conversion": 1.0, "overall_conversion": 1.0 },
                    { "id": "first_payment", "name": "First payment", "users": 1,
                      "step_conversion": 1.0, "overall_conversion": 1.0 },
                    { "id": "second_payment", "name": "Second payment", "users": 1,
                      "step_conversion": 1.0, "overall_conversion": 1.0 }
                ]
            })
        );
    }

    fn table(name: &str, text: &str) -> RawTable {
        read_csv(name, text.as_bytes()).expect("test CSV reads")
    }

    #[test]
    fn the_users_table_is_the_lookup_with_a_user_key_and_a_signup_time() {
        let merchants = table("merchants.csv", "merchant_id,created_at\nm1,2025-07-01\n");
        let orders = table("orders.csv", "order_id,customer_id\no1,c1\n");
        let users = table(
            "users.csv",
            "Region,Signed Up At,Customer ID,Card Linked At\neast,2025-07-01,c1,\n",
        );
        let lookups = [merchants, orders, users];
        assert_eq!(
            find_users_table(&lookups),
            Some(UsersColumns {
                table: 2,
                key: 2,
                signup: 1,
                funding: Some(3)
            })
        );
        assert_eq!(find_users_table(&lookups[..2]), None);
        let chinese = table("用户.csv", "用户ID,注册时间,绑卡时间\nu1,2025-07-01,\n");
        assert_eq!(
            find_users_table(&[chinese]),
            Some(UsersColumns {
                table: 0,
                key: 0,
                signup: 1,
                funding: Some(2)
            })
        );
        let no_funding = table("users.csv", "uid,registration_date\nu1,2025-07-01\n");
        assert_eq!(
            find_users_table(&[no_funding]).map(|c| (c.key, c.signup, c.funding)),
            Some((0, 1, None))
        );
    }

    #[test]
    fn signups_are_read_in_the_reporting_zone_and_bad_rows_are_left_out_with_warnings() {
        // Line 1 is the header; rows are lines 2..=9. (Ingest itself drops a row with only one
        // cell filled, so u4's empty signup comes with a funding time.)
        let users = table(
            "users.csv",
            "user_id,signup_at,first_funding_at\n\
             u1,2025-07-01T23:30:00+00:00,2025-07-02T01:00:00+00:00\n\
             u2,2025-07-03 10:00:00,\n\
             u3,not a date,2025-07-05\n\
             ,2025-07-06,2025-07-06\n\
             u4,,2025-07-07\n\
             u1,2025-07-09,2025-07-09\n\
             u5,2025-07-10,soon\n\
             u6,2025-07-11,2025-07-12\n",
        );
        let cols = find_users_table(std::slice::from_ref(&users)).expect("a users table");
        let index: UserIndex = [("u1", 0), ("u2", 1), ("u5", 2)].into_iter().collect();
        let utc = Zone::utc();
        let (signups, warnings) = read_signups(&users, &cols, &index, utc, None);
        assert_eq!(
            signups,
            vec![
                signup(0, d(7, 1), Some(d(7, 2))),
                signup(1, d(7, 3), None),
                signup(2, d(7, 10), None),
                signup(NO_ID, d(7, 11), Some(d(7, 12))),
            ]
        );
        assert_eq!(
            warnings,
            vec![
                "users.csv: signup_at: 2 rows left out of the funnel and retention: signup time \
                 empty or not a date/time, first at line 4 column 2 (\"not a date\")",
                "users.csv: user_id: 1 row left out of the funnel and retention: no user id, \
                 first at line 5 column 1 (\"\")",
                "users.csv: user_id: 1 row left out of the funnel and retention: user id already \
                 listed (the first row is used), first at line 7 column 1 (\"u1\")",
                "users.csv: first_funding_at: 1 row with a funding time that is not a \
                 date/time, read as not funded, first at line 8 column 3 (\"soon\")",
            ]
        );
        // In UTC+8, 23:30 UTC is the next morning, and the wall-clock time of u2 is read there.
        let shanghai = Zone::parse("+08:00").expect("a zone");
        let (signups, _) = read_signups(&users, &cols, &index, shanghai, None);
        assert_eq!(signups[0].signup_day, d(7, 2));
        assert_eq!(signups[0].funded_day, Some(d(7, 2)));
        assert_eq!(signups[1].signup_day, d(7, 3));
    }

    #[test]
    fn signup_dates_follow_the_day_month_order() {
        let users = table(
            "users.csv",
            "user_id,signup_date\nu1,03/04/2025\nu2,05/06/2025\n",
        );
        let cols = find_users_table(std::slice::from_ref(&users)).expect("a users table");
        let index = UserIndex::default();
        let days = |order| {
            read_signups(&users, &cols, &index, Zone::utc(), order)
                .0
                .iter()
                .map(|s| s.signup_day)
                .collect::<Vec<_>>()
        };
        assert_eq!(days(Some(DateOrder::DayFirst)), vec![d(4, 3), d(6, 5)]);
        assert_eq!(days(Some(DateOrder::MonthFirst)), vec![d(3, 4), d(5, 6)]);
    }
}
