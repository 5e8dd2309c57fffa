//! Deterministic sample data for an Alipay-like payment service.
//!
//! [`generate`] builds three CSV tables (transactions, users, merchants) for a fixed 92-day window,
//! 2025-07-01 to 2025-09-30 in China Standard Time (+08:00). The output depends only on
//! [`SampleOptions`]: the same rows and seed give byte-identical text on every platform, natively
//! and in wasm32, because
//! - the generator is ChaCha8, whose stream is specified independently of the platform;
//! - integers are drawn as fixed-width `u32`/`i64`, never `usize`, which is 32 bits on wasm32;
//! - every transcendental function (`exp`, `ln`) runs inside `rand_distr`, which computes them
//!   with the pure-Rust `libm` crate (as long as nothing turns on `num-traits/std`) rather than
//!   the platform's maths library; this file itself uses only operations that IEEE 754 defines
//!   exactly (`+ - * /`, `sqrt`, `round`, conversions), so they agree everywhere;
//! - there is no clock and no OS randomness.
//!
//! The shapes aim at what a metrics dashboard should show: an intraday curve with lunch and
//! evening peaks, busier weekends, a mild growth trend, heavy-tailed payers and amounts, and
//! a Zipf-like merchant concentration. Each payment also has a kind (`type`: mostly purchases,
//! bills paid in the app and online, transfers to street vendors' QR codes), a decline reason
//! when it failed (balances run out, banks decline credit cards), a fraud flag on about ten
//! basis points of successful payments (online and resellable goods most, disputed payments far
//! more often) and, when disputed, the date the dispute was opened.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

/// How much sample data to make, and from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleOptions {
    /// Number of transactions, exactly.
    pub rows: usize,
    /// Seed of the generator: the same seed gives the same tables.
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        SampleOptions {
            rows: 50_000,
            seed: 42,
        }
    }
}

/// The ChaCha stream of the transactions' later columns (the main stream is 0).
const DETAILS_STREAM: u64 = 1;

/// The generated tables as CSV text: UTF-8, a header row, `\n` line ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleTables {
    /// `txn_id,created_at,user_id,merchant_id,amount,currency,status,channel,funding_source,fee,latency_ms,settled_at,type,decline_reason,is_fraud,disputed_at`:
    /// `settled_at` is empty for failed and pending payments, `decline_reason` is empty unless
    /// the payment failed, `is_fraud` is `1` for a few basis points of successful (success,
    /// refunded, disputed) payments and `0` otherwise, `disputed_at` is empty unless the status
    /// is disputed and then 2 to 60 days after `created_at` (possibly after the window).
    pub transactions: String,
    /// `user_id,signup_at,first_funding_at,region,platform,kyc_level`
    pub users: String,
    /// `merchant_id,onboarded_at,category,region`
    pub merchants: String,
}

/// Generates the three tables for `options`; see the module documentation for the shapes.
pub fn generate(options: &SampleOptions) -> SampleTables {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let calendar = Calendar::new();
    // One table serves both transaction times and in-window signups, since people sign up when
    // they are using their phones anyway.
    let traffic = HourlyTraffic::new(&calendar);

    let user_count = (options.rows / ROWS_PER_USER).max(MIN_USERS);
    let merchant_count = (options.rows / ROWS_PER_MERCHANT).max(MIN_MERCHANTS);
    let users = Users::generate(user_count, &calendar, &traffic, &mut rng);
    let merchants = Merchants::generate(merchant_count, &mut rng);

    // The later columns (type, decline reason, fraud flag, dispute date) draw from a stream of
    // their own: adding them left every earlier column of a seed's sample byte-identical, so
    // numbers already quoted for the sample stay true, and the next column can do the same.
    let mut details = ChaCha8Rng::seed_from_u64(options.seed);
    details.set_stream(DETAILS_STREAM);

    SampleTables {
        transactions: write_transactions(
            options.rows,
            &users,
            &merchants,
            &traffic,
            &mut rng,
            &mut details,
        ),
        users: users.to_csv(),
        merchants: merchants.to_csv(),
    }
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// Times are kept as seconds since the window start, in +08:00 wall-clock time: China has no
/// daylight saving, so a day is always 86 400 of them and day boundaries are plain divisions.
type Seconds = i64;

const SECONDS_PER_HOUR: Seconds = 3_600;
const SECONDS_PER_DAY: Seconds = 86_400;
const WINDOW_DAYS: Seconds = 92;
const WINDOW_SECONDS: Seconds = WINDOW_DAYS * SECONDS_PER_DAY;
const UTC_OFFSET_SECONDS: i32 = 8 * 3_600;
const UTC_OFFSET_TEXT: &[u8] = b"+08:00";

/// 2025-07-01T00:00:00+08:00, the first instant of the window.
fn window_start() -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(UTC_OFFSET_SECONDS).expect("+08:00 is a valid offset");
    NaiveDate::from_ymd_opt(2025, 7, 1)
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .and_then(|local| local.and_local_timezone(offset).single())
        .expect("2025-07-01T00:00:00+08:00 exists")
}

/// Calendar facts about day numbers relative to the window start (negative before it).
struct Calendar {
    start_days_from_ce: i64,
    start_weekday_from_monday: i64,
}

impl Calendar {
    fn new() -> Self {
        let start = window_start().date_naive();
        Calendar {
            start_days_from_ce: i64::from(start.num_days_from_ce()),
            start_weekday_from_monday: i64::from(start.weekday().num_days_from_monday()),
        }
    }

    /// 0 for Monday .. 6 for Sunday.
    fn weekday(&self, day: i64) -> usize {
        (self.start_weekday_from_monday + day).rem_euclid(7) as usize
    }

    fn is_weekend(&self, day: i64) -> bool {
        self.weekday(day) >= 5
    }

    fn date(&self, day: i64) -> NaiveDate {
        i32::try_from(self.start_days_from_ce + day)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .expect("sample dates stay within a few years of 2025")
    }
}

/// Relative share of a weekday's traffic in each hour: quiet from 2 to 6 am, a commute bump,
/// the lunch peak at 12 and the evening peak from 19 to 21.
const WEEKDAY_HOURLY_SHAPE: [f64; 24] = [
    2.2, 1.3, 0.7, 0.45, 0.4, 0.55, 1.3, 3.2, 4.6, 4.0, 4.2, 5.6, //
    7.2, 6.0, 4.4, 4.2, 4.4, 5.4, 6.4, 7.2, 7.6, 6.8, 5.0, 3.4,
];
/// Weekends start later, have no commute bump and stay up later.
const WEEKEND_HOURLY_SHAPE: [f64; 24] = [
    3.0, 2.0, 1.0, 0.6, 0.45, 0.45, 0.8, 1.6, 2.8, 3.8, 4.8, 6.0, //
    7.4, 6.6, 5.6, 5.4, 5.4, 5.8, 6.6, 7.4, 7.8, 7.0, 5.6, 4.2,
];
/// Whole-day volume by weekday, Monday first: Friday and the weekend are busier.
const WEEKDAY_VOLUME: [f64; 7] = [0.96, 0.95, 0.97, 0.99, 1.06, 1.14, 1.10];
/// Volume grows by this fraction from the first to the last day of the window.
const GROWTH_OVER_WINDOW: f64 = 0.15;
/// Qixi (Chinese Valentine's Day), 2025-08-29, day 59 of the window: dining, gifts and cinema
/// lift the whole day.
const FESTIVAL_DAY: i64 = 59;
const FESTIVAL_VOLUME: f64 = 1.2;

/// The probability of a transaction falling in each hour of the window.
struct HourlyTraffic {
    hours: WeightedTable,
    weekday_hours: WeightedTable,
    weekend_hours: WeightedTable,
}

impl HourlyTraffic {
    fn new(calendar: &Calendar) -> Self {
        let weekday_total: f64 = WEEKDAY_HOURLY_SHAPE.iter().sum();
        let weekend_total: f64 = WEEKEND_HOURLY_SHAPE.iter().sum();
        let hour_weight = |hour: Seconds| {
            let day = hour / 24;
            let hour_of_day = (hour % 24) as usize;
            // Normalising each shape lets WEEKDAY_VOLUME alone decide a day's total.
            let share = if calendar.is_weekend(day) {
                WEEKEND_HOURLY_SHAPE[hour_of_day] / weekend_total
            } else {
                WEEKDAY_HOURLY_SHAPE[hour_of_day] / weekday_total
            };
            let trend = 1.0 + GROWTH_OVER_WINDOW * day as f64 / (WINDOW_DAYS - 1) as f64;
            let festival = if day == FESTIVAL_DAY {
                FESTIVAL_VOLUME
            } else {
                1.0
            };
            share * WEEKDAY_VOLUME[calendar.weekday(day)] * trend * festival
        };
        HourlyTraffic {
            hours: WeightedTable::new((0..WINDOW_DAYS * 24).map(hour_weight)),
            weekday_hours: WeightedTable::new(WEEKDAY_HOURLY_SHAPE),
            weekend_hours: WeightedTable::new(WEEKEND_HOURLY_SHAPE),
        }
    }

    /// A random instant of the window, following the traffic shape.
    fn sample_in_window(&self, rng: &mut ChaCha8Rng) -> Seconds {
        let hour = self.hours.sample(rng) as Seconds;
        hour * SECONDS_PER_HOUR + Seconds::from(rng.random_range(0..3_600_u32))
    }

    /// A random instant of `day`, following that day's intraday shape (for days outside the window).
    fn sample_on_day(&self, day: i64, calendar: &Calendar, rng: &mut ChaCha8Rng) -> Seconds {
        let shape = if calendar.is_weekend(day) {
            &self.weekend_hours
        } else {
            &self.weekday_hours
        };
        let hour = shape.sample(rng) as Seconds;
        day * SECONDS_PER_DAY
            + hour * SECONDS_PER_HOUR
            + Seconds::from(rng.random_range(0..3_600_u32))
    }
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// About one payer per eight transactions: the window's whole user base, not only the active.
const ROWS_PER_USER: usize = 8;
const MIN_USERS: usize = 100;
/// Share of users who signed up before the window; the rest sign up during it.
const SIGNED_UP_BEFORE_WINDOW: f64 = 0.6;
/// Earlier signups reach back this far before the window.
const SIGNUP_HISTORY_DAYS: f64 = 730.0;
/// Share of users who add a funding source at all (some of them only after the window ends).
const FUNDING_PROPENSITY: f64 = 0.87;
/// Median delay from signup to the first funding source, and its spread (lognormal sigma):
/// minutes for many, weeks for a few.
const MEDIAN_FUNDING_DELAY_SECONDS: f64 = 3.0 * 3_600.0;
const FUNDING_DELAY_SIGMA: f64 = 2.0;
const MIN_FUNDING_DELAY_SECONDS: Seconds = 30;
/// Spread of the lognormal activity weight: a few very active payers, many occasional ones.
const ACTIVITY_SIGMA: f64 = 1.25;
/// How often a payer uses their habitual funding source rather than any source.
const HABITUAL_FUNDING_SHARE: f64 = 0.7;

/// Regions in English, weighted roughly by their share of digital payments.
const REGIONS: [(&str, f64); 31] = [
    ("Guangdong", 14.0),
    ("Zhejiang", 10.0),
    ("Jiangsu", 9.0),
    ("Shanghai", 7.0),
    ("Beijing", 6.0),
    ("Shandong", 6.0),
    ("Sichuan", 5.5),
    ("Henan", 5.0),
    ("Hubei", 4.5),
    ("Fujian", 4.5),
    ("Hunan", 4.0),
    ("Anhui", 3.5),
    ("Hebei", 3.5),
    ("Chongqing", 3.0),
    ("Shaanxi", 2.5),
    ("Liaoning", 2.5),
    ("Tianjin", 2.0),
    ("Yunnan", 2.0),
    ("Guangxi", 2.0),
    ("Jiangxi", 2.0),
    ("Shanxi", 1.5),
    ("Guizhou", 1.5),
    ("Heilongjiang", 1.5),
    ("Jilin", 1.0),
    ("Inner Mongolia", 1.0),
    ("Xinjiang", 1.0),
    ("Gansu", 0.8),
    ("Hainan", 0.8),
    ("Ningxia", 0.3),
    ("Qinghai", 0.2),
    ("Tibet", 0.1),
];

const PLATFORMS: [(&str, f64); 4] = [
    ("android", 0.52),
    ("ios", 0.30),
    ("mini_program", 0.13),
    ("web", 0.05),
];

/// KYC level weights (levels 0..=3). Adding a bank card requires verifying one's identity, so
/// users who funded their account are rarely at level 0: only those whose balance came from
/// transfers, who may pay small amounts unverified. (They keep `kyc_verified_share` below 100%.)
const KYC_WEIGHTS_FUNDED: [f64; 4] = [0.04, 0.12, 0.68, 0.16];
const KYC_WEIGHTS_UNFUNDED: [f64; 4] = [0.55, 0.35, 0.10, 0.0];

struct Users {
    /// Indexed by user number; user ids are handed out in signup order, as a real sequence would.
    signup_at: Vec<Seconds>,
    first_funding_at: Vec<Option<Seconds>>,
    region: Vec<u8>,
    platform: Vec<u8>,
    kyc_level: Vec<u8>,
    habitual_funding: Vec<u8>,
    /// Funded users by first funding time: only they can pay, and only after that time.
    payers: EligibleBy,
}

impl Users {
    fn generate(
        count: usize,
        calendar: &Calendar,
        traffic: &HourlyTraffic,
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let before_window = ((count as f64 * SIGNED_UP_BEFORE_WINDOW) as usize).max(1);
        let mut signup_at: Vec<Seconds> = (0..count)
            .map(|index| {
                if index < before_window {
                    // sqrt skews signups towards the window: the user base has been growing.
                    let recency = 1.0 - rng.random::<f64>().sqrt();
                    let days_before = 1 + (SIGNUP_HISTORY_DAYS * recency) as i64;
                    traffic.sample_on_day(-days_before, calendar, rng)
                } else {
                    traffic.sample_in_window(rng)
                }
            })
            .collect();
        signup_at.sort_unstable();

        let region_table = WeightedTable::new(REGIONS.iter().map(|&(_, weight)| weight));
        let platform_table = WeightedTable::new(PLATFORMS.iter().map(|&(_, weight)| weight));
        let kyc_funded = WeightedTable::new(KYC_WEIGHTS_FUNDED);
        let kyc_unfunded = WeightedTable::new(KYC_WEIGHTS_UNFUNDED);
        let funding_table = WeightedTable::new(FUNDING_SOURCES.iter().map(|source| source.share));
        let funding_delay = lognormal(FUNDING_DELAY_SIGMA);
        let activity = lognormal(ACTIVITY_SIGMA);

        let mut users = Users {
            signup_at,
            first_funding_at: Vec::with_capacity(count),
            region: Vec::with_capacity(count),
            platform: Vec::with_capacity(count),
            kyc_level: Vec::with_capacity(count),
            habitual_funding: Vec::with_capacity(count),
            payers: EligibleBy::default(),
        };
        let mut activity_weight = Vec::with_capacity(count);
        for &signup in &users.signup_at {
            let first_funding = if rng.random::<f64>() < FUNDING_PROPENSITY {
                let delay = MEDIAN_FUNDING_DELAY_SECONDS * funding_delay.sample(rng);
                let at = signup + (delay as Seconds).max(MIN_FUNDING_DELAY_SECONDS);
                // The data is extracted at the window's end: later funding has not happened yet.
                (at < WINDOW_SECONDS).then_some(at)
            } else {
                None
            };
            users.first_funding_at.push(first_funding);
            users.region.push(region_table.sample(rng) as u8);
            users.platform.push(platform_table.sample(rng) as u8);
            let kyc = if first_funding.is_some() {
                &kyc_funded
            } else {
                &kyc_unfunded
            };
            users.kyc_level.push(kyc.sample(rng) as u8);
            users.habitual_funding.push(funding_table.sample(rng) as u8);
            activity_weight.push(activity.sample(rng));
        }
        users.ensure_a_payer_before_window();
        users.payers = EligibleBy::new(&users.first_funding_at, &activity_weight);
        users
    }

    /// The first transaction needs someone able to pay at the window start. The earliest user
    /// almost always is one; this makes it certain, even for unlucky seeds.
    fn ensure_a_payer_before_window(&mut self) {
        let earliest_funding = self.first_funding_at[0];
        if earliest_funding.is_some_and(|at| at < 0) {
            return;
        }
        let signup = self.signup_at[0].min(-SECONDS_PER_DAY);
        self.signup_at[0] = signup;
        self.first_funding_at[0] = Some(signup + SECONDS_PER_HOUR);
        if self.kyc_level[0] == 0 {
            self.kyc_level[0] = 2;
        }
    }

    fn to_csv(&self) -> String {
        let mut writer = csv_writer(self.signup_at.len().saturating_mul(80));
        write_row(&mut writer, &USER_COLUMNS.map(str::as_bytes));
        let mut clock = TimestampWriter::new();
        let (mut id, mut signup, mut funding) = (Field::new(), Field::new(), Field::new());
        for index in 0..self.signup_at.len() {
            id.set_id(b'U', index as u64 + 1, 7);
            signup.clear();
            clock.write(self.signup_at[index], &mut signup);
            funding.clear();
            if let Some(at) = self.first_funding_at[index] {
                clock.write(at, &mut funding);
            }
            let record: [&[u8]; 6] = [
                id.as_bytes(),
                signup.as_bytes(),
                funding.as_bytes(),
                REGIONS[usize::from(self.region[index])].0.as_bytes(),
                PLATFORMS[usize::from(self.platform[index])].0.as_bytes(),
                &DIGITS[usize::from(self.kyc_level[index])..][..1],
            ];
            write_row(&mut writer, &record);
        }
        finish_csv(writer)
    }
}

const USER_COLUMNS: [&str; 6] = [
    "user_id",
    "signup_at",
    "first_funding_at",
    "region",
    "platform",
    "kyc_level",
];

// ---------------------------------------------------------------------------------------------
// Merchants
// ---------------------------------------------------------------------------------------------

/// About one merchant per 150 transactions, so that most merchants see a handful of sales and the
/// popular ones thousands.
const ROWS_PER_MERCHANT: usize = 150;
const MIN_MERCHANTS: usize = 20;
/// Share of merchants already on board before the window; the others join during it.
const ONBOARDED_BEFORE_WINDOW: f64 = 0.92;
const ONBOARDING_HISTORY_DAYS: u32 = 3 * 365;
/// The biggest merchants are long-standing: this also guarantees the window's first
/// transaction a merchant.
const ESTABLISHED_TOP_MERCHANTS: usize = 5;

struct Category {
    name: &'static str,
    /// Target share of all transactions; the shares add up to 1.
    transaction_share: f64,
    /// Median ticket in CNY and the spread (lognormal sigma) around it.
    median_amount: f64,
    amount_sigma: f64,
    /// Merchant discount rate in basis points (0.38% for everyday and public services, up to
    /// 0.6% for discretionary spending).
    fee_basis_points: u64,
    /// Share of completed payments later refunded: high for goods bought online, low for
    /// consumed services.
    refund_rate: f64,
    /// Weights of `CHANNELS`: scanning in shops, paying online for travel and electronics.
    channel_weights: [f64; 5],
    /// Billers (utilities): every payment to them is a `bill_payment`, whatever the channel.
    biller: bool,
    /// How much likelier than average a payment here is to be fraud: resellable goods and
    /// tickets attract stolen credentials, a bus fare or a bowl of noodles rarely does.
    fraud_factor: f64,
}

const CATEGORIES: [Category; 10] = [
    Category {
        name: "food_beverage",
        transaction_share: 0.30,
        median_amount: 22.0,
        amount_sigma: 0.65,
        fee_basis_points: 38,
        refund_rate: 0.013,
        channel_weights: [45.0, 25.0, 2.0, 10.0, 18.0],
        biller: false,
        fraud_factor: 0.4,
    },
    Category {
        name: "retail",
        transaction_share: 0.17,
        median_amount: 58.0,
        amount_sigma: 0.9,
        fee_basis_points: 55,
        refund_rate: 0.038,
        channel_weights: [35.0, 25.0, 20.0, 10.0, 10.0],
        biller: false,
        fraud_factor: 1.5,
    },
    Category {
        name: "supermarket",
        transaction_share: 0.14,
        median_amount: 42.0,
        amount_sigma: 0.8,
        fee_basis_points: 38,
        refund_rate: 0.011,
        channel_weights: [35.0, 50.0, 5.0, 5.0, 5.0],
        biller: false,
        fraud_factor: 0.5,
    },
    Category {
        name: "transport",
        transaction_share: 0.14,
        median_amount: 9.0,
        amount_sigma: 0.7,
        fee_basis_points: 38,
        refund_rate: 0.006,
        channel_weights: [40.0, 25.0, 5.0, 15.0, 15.0],
        biller: false,
        fraud_factor: 0.3,
    },
    Category {
        name: "travel",
        transaction_share: 0.03,
        median_amount: 520.0,
        amount_sigma: 1.0,
        fee_basis_points: 60,
        refund_rate: 0.066,
        channel_weights: [5.0, 3.0, 45.0, 35.0, 12.0],
        biller: false,
        fraud_factor: 3.0,
    },
    Category {
        name: "electronics",
        transaction_share: 0.04,
        median_amount: 460.0,
        amount_sigma: 1.1,
        fee_basis_points: 60,
        refund_rate: 0.05,
        channel_weights: [10.0, 10.0, 50.0, 25.0, 5.0],
        biller: false,
        fraud_factor: 4.0,
    },
    Category {
        name: "utilities",
        transaction_share: 0.05,
        median_amount: 120.0,
        amount_sigma: 0.6,
        fee_basis_points: 38,
        refund_rate: 0.003,
        channel_weights: [5.0, 2.0, 35.0, 45.0, 13.0],
        biller: true,
        fraud_factor: 0.3,
    },
    Category {
        name: "entertainment",
        transaction_share: 0.07,
        median_amount: 75.0,
        amount_sigma: 0.8,
        fee_basis_points: 60,
        refund_rate: 0.028,
        channel_weights: [20.0, 10.0, 30.0, 25.0, 15.0],
        biller: false,
        fraud_factor: 1.5,
    },
    Category {
        name: "education",
        transaction_share: 0.02,
        median_amount: 260.0,
        amount_sigma: 1.0,
        fee_basis_points: 50,
        refund_rate: 0.033,
        channel_weights: [15.0, 5.0, 40.0, 25.0, 15.0],
        biller: false,
        fraud_factor: 1.0,
    },
    Category {
        name: "healthcare",
        transaction_share: 0.04,
        median_amount: 95.0,
        amount_sigma: 0.9,
        fee_basis_points: 38,
        refund_rate: 0.017,
        channel_weights: [40.0, 20.0, 10.0, 15.0, 15.0],
        biller: false,
        fraud_factor: 0.5,
    },
];

struct Merchants {
    /// Indexed by merchant number; ids are handed out in onboarding order.
    onboarded_at: Vec<Seconds>,
    category: Vec<u8>,
    region: Vec<u8>,
    /// Merchants by onboarding time, weighted by popularity.
    sellers: EligibleBy,
}

impl Merchants {
    fn generate(count: usize, rng: &mut ChaCha8Rng) -> Self {
        let region_table = WeightedTable::new(REGIONS.iter().map(|&(_, weight)| weight));
        // Built in order of popularity rank: the merchant of rank r gets weight 1/r (Zipf, s = 1),
        // so the top 1% of merchants carries about half of all transactions.
        let mut categories = CategoryBalancer::default();
        let mut by_rank: Vec<(Seconds, f64, u8, u8)> = (1..=count)
            .map(|rank| {
                let popularity = 1.0 / rank as f64;
                let category = categories.assign(popularity, rng);
                let established = rank <= ESTABLISHED_TOP_MERCHANTS
                    || rng.random::<f64>() < ONBOARDED_BEFORE_WINDOW;
                let onboarded_at = if established {
                    let days_before = i64::from(rng.random_range(1..=ONBOARDING_HISTORY_DAYS));
                    // Merchants are signed up by sales staff during office hours.
                    let office_time = rng.random_range(9 * 3_600..18 * 3_600_u32);
                    -days_before * SECONDS_PER_DAY + Seconds::from(office_time)
                } else {
                    rng.random_range(0..WINDOW_SECONDS)
                };
                (
                    onboarded_at,
                    popularity,
                    category,
                    region_table.sample(rng) as u8,
                )
            })
            .collect();
        // Stable sort: equal times keep rank order, so the result does not depend on the sort.
        by_rank.sort_by_key(|&(onboarded_at, ..)| onboarded_at);

        let onboarded_at: Vec<Seconds> = by_rank.iter().map(|m| m.0).collect();
        let popularity: Vec<f64> = by_rank.iter().map(|m| m.1).collect();
        let onboarded: Vec<Option<Seconds>> = onboarded_at.iter().copied().map(Some).collect();
        Merchants {
            sellers: EligibleBy::new(&onboarded, &popularity),
            onboarded_at,
            category: by_rank.iter().map(|m| m.2).collect(),
            region: by_rank.iter().map(|m| m.3).collect(),
        }
    }

    fn to_csv(&self) -> String {
        let mut writer = csv_writer(self.onboarded_at.len().saturating_mul(56));
        write_row(&mut writer, &MERCHANT_COLUMNS.map(str::as_bytes));
        let mut clock = TimestampWriter::new();
        let (mut id, mut onboarded) = (Field::new(), Field::new());
        for index in 0..self.onboarded_at.len() {
            id.set_id(b'M', index as u64 + 1, 5);
            onboarded.clear();
            clock.write(self.onboarded_at[index], &mut onboarded);
            let record: [&[u8]; 4] = [
                id.as_bytes(),
                onboarded.as_bytes(),
                CATEGORIES[usize::from(self.category[index])]
                    .name
                    .as_bytes(),
                REGIONS[usize::from(self.region[index])].0.as_bytes(),
            ];
            write_row(&mut writer, &record);
        }
        finish_csv(writer)
    }
}

const MERCHANT_COLUMNS: [&str; 4] = ["merchant_id", "onboarded_at", "category", "region"];

/// Gives merchants categories so that each category's share of *transactions* approaches its
/// target, whatever the seed. Drawing categories independently would let one large travel
/// merchant decide the median ticket of a whole small sample.
#[derive(Default)]
struct CategoryBalancer {
    assigned: [f64; CATEGORIES.len()],
    total: f64,
}

impl CategoryBalancer {
    /// Picks the category furthest below its target share once this merchant is counted, with
    /// a random tilt so that near-ties go either way and the top merchants vary between seeds.
    fn assign(&mut self, popularity: f64, rng: &mut ChaCha8Rng) -> u8 {
        self.total += popularity;
        let mut best = (0, f64::NEG_INFINITY);
        for (index, category) in CATEGORIES.iter().enumerate() {
            let shortfall = category.transaction_share * self.total - self.assigned[index];
            let tilt = rng.random_range(0.5..1.5);
            let score = if shortfall > 0.0 {
                shortfall * tilt
            } else {
                shortfall / tilt
            };
            if score > best.1 {
                best = (index, score);
            }
        }
        self.assigned[best.0] += popularity;
        best.0 as u8
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------------------------

/// The columns added later (`type` onwards) come last, so files read by position keep working.
const TRANSACTION_COLUMNS: [&str; 16] = [
    "txn_id",
    "created_at",
    "user_id",
    "merchant_id",
    "amount",
    "currency",
    "status",
    "channel",
    "funding_source",
    "fee",
    "latency_ms",
    "settled_at",
    "type",
    "decline_reason",
    "is_fraud",
    "disputed_at",
];

const CHANNELS: [&str; 5] = ["app_qr", "app_barcode", "online", "in_app", "mini_program"];
/// Index of `online` in `CHANNELS`.
const ONLINE_CHANNEL: usize = 2;

/// Kinds of payment. Top-ups and withdrawals move the payer's own money, so they are not
/// payments and the sample has none.
const PAYMENT_TYPES: [&str; 3] = ["purchase", "bill_payment", "p2p_transfer"];
const BILL_PAYMENT: usize = 1;
/// Weights of `PAYMENT_TYPES` per channel (in `CHANNELS` order): shop QR codes include street
/// vendors' personal collection codes (transfers); a barcode is always scanned by a till; bills
/// are paid in the app and online.
const PAYMENT_TYPE_WEIGHTS: [[f64; 3]; 5] = [
    [0.86, 0.02, 0.12],
    [0.985, 0.015, 0.0],
    [0.88, 0.10, 0.02],
    [0.72, 0.16, 0.12],
    [0.85, 0.12, 0.03],
];

/// Why a failed payment failed, as a wallet's export says it.
const DECLINE_REASONS: [&str; 7] = [
    "insufficient_funds",
    "risk_control",
    "bank_declined",
    "invalid_card",
    "card_expired",
    "timeout",
    "user_cancelled",
];
/// Index of `risk_control` in `DECLINE_REASONS`.
const RISK_CONTROL: usize = 1;
/// Large payments draw extra risk checks: their risk-control weight is multiplied by this.
const LARGE_PAYMENT_RISK_FACTOR: f64 = 3.0;

/// Fraud: a payment's base probability of being confirmed fraud, before the channel's and the
/// category's factors. Wallets see a few basis points; with the disputed ones (below) the
/// sample lands between 5 and 15 bps of successful payments.
const FRAUD_BASE_RATE: f64 = 0.0004;
/// Fraud factors per channel (in `CHANNELS` order): card-not-present online checkout is where
/// stolen credentials are used; scanning in a shop needs the payer's phone.
const CHANNEL_FRAUD_FACTOR: [f64; 5] = [0.5, 0.2, 3.0, 1.2, 1.0];
/// Merchants refund some payments they suspect, so refunded ones are fraud more often.
const REFUNDED_FRAUD_FACTOR: f64 = 2.0;
/// Many chargebacks are "I did not make this payment": among disputed payments fraud is
/// common, at this rate before the factors. No payment is fraud with more than `MAX_FRAUD_RATE`.
const DISPUTED_FRAUD_RATE: f64 = 0.15;
const MAX_FRAUD_RATE: f64 = 0.8;
/// Fraudsters go for amounts above this many cents twice as often.
const FRAUD_LARGE_CENTS: u64 = 1_000 * 100;
const FRAUD_LARGE_FACTOR: f64 = 2.0;

/// A dispute is opened this long after the payment at the earliest, and before the latest
/// (card schemes allow 120 days; most payers notice within weeks).
const DISPUTE_MIN_DELAY_SECONDS: Seconds = 2 * SECONDS_PER_DAY;
const DISPUTE_DELAY_SPAN_SECONDS: f64 = (58 * SECONDS_PER_DAY) as f64;

struct FundingSource {
    name: &'static str,
    share: f64,
    /// Probability that a payment from this source fails (insufficient balance, bank declines,
    /// risk control); credit cards are declined most often.
    failure_rate: f64,
    /// Weights of `DECLINE_REASONS` when a payment from this source fails: a balance runs
    /// out, a bank declines a card (credit cards most), only cards expire or are invalid, and
    /// credit lines (huabei) hit limits and risk control.
    decline_weights: [f64; 7],
}

const FUNDING_SOURCES: [FundingSource; 5] = [
    FundingSource {
        name: "balance",
        share: 0.22,
        failure_rate: 0.055,
        decline_weights: [0.55, 0.15, 0.0, 0.0, 0.0, 0.12, 0.18],
    },
    FundingSource {
        name: "yuebao",
        share: 0.20,
        failure_rate: 0.05,
        decline_weights: [0.35, 0.20, 0.0, 0.0, 0.0, 0.20, 0.25],
    },
    FundingSource {
        name: "debit_card",
        share: 0.25,
        failure_rate: 0.075,
        decline_weights: [0.30, 0.12, 0.28, 0.06, 0.04, 0.10, 0.10],
    },
    FundingSource {
        name: "credit_card",
        share: 0.13,
        failure_rate: 0.11,
        decline_weights: [0.12, 0.15, 0.42, 0.06, 0.09, 0.08, 0.08],
    },
    FundingSource {
        name: "huabei",
        share: 0.20,
        failure_rate: 0.075,
        decline_weights: [0.40, 0.30, 0.0, 0.0, 0.0, 0.12, 0.18],
    },
];

/// Payments above this many cents draw extra risk checks and fail more often.
const LARGE_PAYMENT_CENTS: u64 = 5_000 * 100;
const LARGE_PAYMENT_FAILURE_FACTOR: f64 = 1.5;
/// Share of payments left pending: awaiting a bank's or the payer's confirmation, unresolved in
/// this extract.
const PENDING_RATE: f64 = 0.005;
/// Share of completed payments the payer disputes.
const DISPUTE_RATE: f64 = 0.0033;
/// No real payment is above this; it only trims the lognormal's far tail.
const MAX_AMOUNT_CENTS: u64 = 500_000 * 100;

/// Latency is lognormal: median 250 ms and sigma 1.07 put the 99th percentile near 3 s.
const MEDIAN_LATENCY_MS: f64 = 250.0;
const LATENCY_SIGMA: f64 = 1.07;
/// Failed payments often wait for a bank's timeout or a retry.
const FAILURE_LATENCY_FACTOR: f64 = 1.6;
/// Online checkout goes through a browser redirect.
const ONLINE_LATENCY_FACTOR: f64 = 1.15;
const MIN_LATENCY_MS: f64 = 20.0;
const MAX_LATENCY_MS: f64 = 60_000.0;

/// Weights of settling 1, 2, ... 7 days after the payment's day: mostly T+1, a tail of days.
const SETTLEMENT_DAY_WEIGHTS: [f64; 7] = [0.86, 0.09, 0.035, 0.006, 0.004, 0.003, 0.002];
/// Settlement batches run overnight, between 01:00 and 09:00.
const SETTLEMENT_BATCH_START: Seconds = 3_600;
const SETTLEMENT_BATCH_SECONDS: u32 = 8 * 3_600;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    Success,
    Failed,
    Refunded,
    Disputed,
    Pending,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Refunded => "refunded",
            Status::Disputed => "disputed",
            Status::Pending => "pending",
        }
    }

    /// Whether the money moved: only then is there a fee and a settlement.
    fn is_completed(self) -> bool {
        matches!(self, Status::Success | Status::Refunded | Status::Disputed)
    }
}

fn write_transactions(
    rows: usize,
    users: &Users,
    merchants: &Merchants,
    traffic: &HourlyTraffic,
    rng: &mut ChaCha8Rng,
    details: &mut ChaCha8Rng,
) -> String {
    // Drawing all times first and sorting them gives the ascending order without any bias.
    let mut created: Vec<u32> = (0..rows)
        .map(|_| traffic.sample_in_window(rng) as u32)
        .collect();
    created.sort_unstable();

    let amount_shapes: Vec<LogNormal<f64>> = CATEGORIES
        .iter()
        .map(|category| lognormal(category.amount_sigma))
        .collect();
    let channel_tables: Vec<WeightedTable> = CATEGORIES
        .iter()
        .map(|category| WeightedTable::new(category.channel_weights))
        .collect();
    let funding_table = WeightedTable::new(FUNDING_SOURCES.iter().map(|source| source.share));
    let settlement_days = WeightedTable::new(SETTLEMENT_DAY_WEIGHTS);
    let latency_shape = lognormal(LATENCY_SIGMA);
    let type_tables: Vec<WeightedTable> = PAYMENT_TYPE_WEIGHTS
        .iter()
        .map(|&weights| WeightedTable::new(weights))
        .collect();
    let decline_tables: Vec<[WeightedTable; 2]> = FUNDING_SOURCES
        .iter()
        .map(|source| {
            let mut large = source.decline_weights;
            large[RISK_CONTROL] *= LARGE_PAYMENT_RISK_FACTOR;
            [
                WeightedTable::new(source.decline_weights),
                WeightedTable::new(large),
            ]
        })
        .collect();

    // A row is about 150 bytes; reserving a little more avoids copying 100 MB when the buffer grows.
    let mut writer = csv_writer(rows.saturating_mul(160));
    write_row(&mut writer, &TRANSACTION_COLUMNS.map(str::as_bytes));
    let (mut created_clock, mut settled_clock) = (TimestampWriter::new(), TimestampWriter::new());
    let mut disputed_clock = TimestampWriter::new();
    let mut txn_id = Field::new();
    let mut created_at = Field::new();
    let mut user_id = Field::new();
    let mut merchant_id = Field::new();
    let mut amount = Field::new();
    let mut fee = Field::new();
    let mut latency = Field::new();
    let mut settled_at = Field::new();
    let mut disputed_at = Field::new();
    let mut payers = users.payers.cursor();
    let mut sellers = merchants.sellers.cursor();

    for (index, &created_secs) in created.iter().enumerate() {
        let created_secs = Seconds::from(created_secs);
        let user = payers.pick(created_secs, rng);
        let merchant = sellers.pick(created_secs, rng);
        let category_index = usize::from(merchants.category[merchant]);
        let category = &CATEGORIES[category_index];

        let amount_cents = ((category.median_amount * amount_shapes[category_index].sample(rng))
            * 100.0)
            .round()
            .clamp(1.0, MAX_AMOUNT_CENTS as f64) as u64;
        let funding_index = if rng.random::<f64>() < HABITUAL_FUNDING_SHARE {
            usize::from(users.habitual_funding[user])
        } else {
            funding_table.sample(rng)
        };
        let channel_index = channel_tables[category_index].sample(rng);

        let mut failure_rate = FUNDING_SOURCES[funding_index].failure_rate;
        if amount_cents > LARGE_PAYMENT_CENTS {
            failure_rate *= LARGE_PAYMENT_FAILURE_FACTOR;
        }
        let outcome: f64 = rng.random();
        let status = if outcome < PENDING_RATE {
            Status::Pending
        } else if outcome < PENDING_RATE + failure_rate {
            Status::Failed
        } else {
            let aftermath: f64 = rng.random();
            if aftermath < category.refund_rate {
                Status::Refunded
            } else if aftermath < category.refund_rate + DISPUTE_RATE {
                Status::Disputed
            } else {
                Status::Success
            }
        };

        let mut latency_ms = MEDIAN_LATENCY_MS * latency_shape.sample(rng);
        if status == Status::Failed {
            latency_ms *= FAILURE_LATENCY_FACTOR;
        }
        if channel_index == ONLINE_CHANNEL {
            latency_ms *= ONLINE_LATENCY_FACTOR;
        }
        let latency_ms = latency_ms.round().clamp(MIN_LATENCY_MS, MAX_LATENCY_MS) as u64;

        fee.clear();
        settled_at.clear();
        if status.is_completed() {
            // Half-up rounding to the cent, in integers so no float formatting is involved.
            let fee_cents = (amount_cents * category.fee_basis_points + 5_000) / 10_000;
            fee.push_cents(fee_cents);
            let created_day = created_secs.div_euclid(SECONDS_PER_DAY);
            let settle_day = created_day + 1 + settlement_days.sample(rng) as Seconds;
            let settled_secs = settle_day * SECONDS_PER_DAY
                + SETTLEMENT_BATCH_START
                + Seconds::from(rng.random_range(0..SETTLEMENT_BATCH_SECONDS));
            settled_clock.write(settled_secs, &mut settled_at);
        } else {
            fee.push_bytes(b"0.00");
        }

        // The later columns, from their own stream (see `generate`).
        let payment_type = if category.biller {
            BILL_PAYMENT
        } else {
            type_tables[channel_index].sample(details)
        };
        let decline_reason = (status == Status::Failed).then(|| {
            let large = usize::from(amount_cents > LARGE_PAYMENT_CENTS);
            DECLINE_REASONS[decline_tables[funding_index][large].sample(details)]
        });
        let is_fraud = status.is_completed() && {
            let mut rate = if status == Status::Disputed {
                DISPUTED_FRAUD_RATE
            } else {
                FRAUD_BASE_RATE
            } * CHANNEL_FRAUD_FACTOR[channel_index]
                * category.fraud_factor;
            if status == Status::Refunded {
                rate *= REFUNDED_FRAUD_FACTOR;
            }
            if amount_cents > FRAUD_LARGE_CENTS {
                rate *= FRAUD_LARGE_FACTOR;
            }
            details.random::<f64>() < rate.min(MAX_FRAUD_RATE)
        };
        disputed_at.clear();
        if status == Status::Disputed {
            // Squaring a uniform draw skews delays early: most payers notice within weeks.
            let early: f64 = details.random();
            let delay =
                DISPUTE_MIN_DELAY_SECONDS + (DISPUTE_DELAY_SPAN_SECONDS * early * early) as Seconds;
            disputed_clock.write(created_secs + delay, &mut disputed_at);
        }

        txn_id.set_id(b'T', index as u64 + 1, 9);
        created_at.clear();
        created_clock.write(created_secs, &mut created_at);
        user_id.set_id(b'U', user as u64 + 1, 7);
        merchant_id.set_id(b'M', merchant as u64 + 1, 5);
        amount.clear();
        amount.push_cents(amount_cents);
        latency.clear();
        latency.push_padded(latency_ms, 1);

        let record: [&[u8]; 16] = [
            txn_id.as_bytes(),
            created_at.as_bytes(),
            user_id.as_bytes(),
            merchant_id.as_bytes(),
            amount.as_bytes(),
            b"CNY",
            status.name().as_bytes(),
            CHANNELS[channel_index].as_bytes(),
            FUNDING_SOURCES[funding_index].name.as_bytes(),
            fee.as_bytes(),
            latency.as_bytes(),
            settled_at.as_bytes(),
            PAYMENT_TYPES[payment_type].as_bytes(),
            decline_reason.unwrap_or("").as_bytes(),
            if is_fraud { b"1" } else { b"0" },
            disputed_at.as_bytes(),
        ];
        write_row(&mut writer, &record);
    }
    finish_csv(writer)
}

// ---------------------------------------------------------------------------------------------
// Sampling helpers
// ---------------------------------------------------------------------------------------------

/// A lognormal with median 1 and the given sigma; callers scale it by their median, which keeps
/// `ln` out of this file (see the module documentation on portability).
fn lognormal(sigma: f64) -> LogNormal<f64> {
    LogNormal::new(0.0, sigma).expect("sigma is a finite constant")
}

/// Draws an index with probability proportional to its weight: one uniform draw, then the first
/// running total above it. A guide table (the "cutpoint method") says where to start looking,
/// so a draw costs O(1) on average even among 100 000 payers; the result is exactly that of a
/// binary search, and the same on every platform.
#[derive(Default)]
struct WeightedTable {
    cumulative: Vec<f64>,
    /// `guide[j]`: the first index whose running total exceeds `j / guide.len()` of the total.
    guide: Vec<u32>,
}

impl WeightedTable {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative: Vec<f64> = weights
            .into_iter()
            .map(|weight| {
                total += weight;
                total
            })
            .collect();
        let buckets = cumulative.len();
        let mut guide = Vec::with_capacity(buckets);
        let mut index = 0;
        for bucket in 0..buckets {
            let threshold = total * bucket as f64 / buckets as f64;
            while index + 1 < cumulative.len() && cumulative[index] <= threshold {
                index += 1;
            }
            guide.push(index as u32);
        }
        WeightedTable { cumulative, guide }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        self.sample_prefix(self.cumulative.len(), rng)
    }

    /// Draws among the first `len` entries only.
    fn sample_prefix(&self, len: usize, rng: &mut ChaCha8Rng) -> usize {
        let target = rng.random::<f64>() * self.cumulative[len - 1];
        self.first_above(target, len)
    }

    /// The first index whose running total exceeds `target`, or `len - 1` if none does.
    fn first_above(&self, target: f64, len: usize) -> usize {
        let last = len - 1;
        let total = self.cumulative[self.cumulative.len() - 1];
        let bucket = (target / total * self.guide.len() as f64) as usize;
        let mut index = (self.guide[bucket.min(self.guide.len() - 1)] as usize).min(last);
        // Rounding may put the guess one bucket off either way; these walks correct it.
        while index > 0 && self.cumulative[index - 1] > target {
            index -= 1;
        }
        // The first running total above the target, so zero-weight entries are never chosen.
        while index < last && self.cumulative[index] <= target {
            index += 1;
        }
        index
    }
}

/// Entities that can take part in a transaction only from some time on (a user after their
/// first funding, a merchant after onboarding), weighted by how active they are.
#[derive(Default)]
struct EligibleBy {
    /// Entity indices, ordered by the time they become eligible.
    order: Vec<u32>,
    since: Vec<Seconds>,
    weights: WeightedTable,
}

impl EligibleBy {
    /// `since[i]` is when entity `i` becomes eligible (`None`: never), `weight[i]` its activity.
    fn new(since: &[Option<Seconds>], weight: &[f64]) -> Self {
        let mut order: Vec<u32> = (0..since.len() as u32)
            .filter(|&index| since[index as usize].is_some())
            .collect();
        // Stable, so equal times keep index order and the result does not depend on the sort.
        order.sort_by_key(|&index| since[index as usize]);
        EligibleBy {
            since: order
                .iter()
                .filter_map(|&index| since[index as usize])
                .collect(),
            weights: WeightedTable::new(order.iter().map(|&index| weight[index as usize])),
            order,
        }
    }

    /// A cursor for picking at non-decreasing times, which moves the eligibility boundary
    /// forward instead of searching for it on every pick.
    fn cursor(&self) -> EligibleCursor<'_> {
        EligibleCursor {
            eligible: self,
            count: 0,
        }
    }
}

struct EligibleCursor<'a> {
    eligible: &'a EligibleBy,
    count: usize,
}

impl EligibleCursor<'_> {
    /// An entity eligible strictly before `at`, by weight. `at` must not decrease between calls.
    fn pick(&mut self, at: Seconds, rng: &mut ChaCha8Rng) -> usize {
        let since = &self.eligible.since;
        while self.count < since.len() && since[self.count] < at {
            self.count += 1;
        }
        assert!(self.count > 0, "someone is eligible from before the window");
        let position = self.eligible.weights.sample_prefix(self.count, rng);
        self.eligible.order[position] as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------------------------

const DIGITS: &[u8; 10] = b"0123456789";

/// One CSV field's text, built in place so the row loop formats without allocating.
struct Field {
    bytes: [u8; 32],
    len: usize,
}

impl Field {
    fn new() -> Self {
        Field {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push_bytes(&mut self, text: &[u8]) {
        self.bytes[self.len..self.len + text.len()].copy_from_slice(text);
        self.len += text.len();
    }

    /// `value` in decimal, zero-padded to at least `width` digits.
    fn push_padded(&mut self, mut value: u64, width: usize) {
        let mut reversed = [0u8; 20];
        let mut count = 0;
        while value > 0 || count < width.max(1) {
            reversed[count] = DIGITS[(value % 10) as usize];
            value /= 10;
            count += 1;
        }
        for &digit in reversed[..count].iter().rev() {
            self.bytes[self.len] = digit;
            self.len += 1;
        }
    }

    /// `value` (below 100) as exactly two digits: the hot path of timestamps and cents.
    fn push_two_digits(&mut self, value: u32) {
        self.push_bytes(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]);
    }

    /// A money amount given in cents, as `123.45`.
    fn push_cents(&mut self, cents: u64) {
        self.push_padded(cents / 100, 1);
        self.push_bytes(b".");
        self.push_two_digits((cents % 100) as u32);
    }

    /// An id such as `U0001234`: a letter and a number, zero-padded to `width` digits (wider
    /// only when the number needs it).
    fn set_id(&mut self, letter: u8, number: u64, width: usize) {
        self.clear();
        self.push_bytes(&[letter]);
        self.push_padded(number, width);
    }
}

/// Formats [`Seconds`] as RFC 3339 with the +08:00 offset and whole seconds. Rows come in time
/// order, so the date part is remembered between calls rather than recomputed by chrono.
struct TimestampWriter {
    calendar: Calendar,
    cached_day: Option<i64>,
    date_text: Field,
}

impl TimestampWriter {
    fn new() -> Self {
        TimestampWriter {
            calendar: Calendar::new(),
            cached_day: None,
            date_text: Field::new(),
        }
    }

    fn write(&mut self, at: Seconds, out: &mut Field) {
        let day = at.div_euclid(SECONDS_PER_DAY);
        if self.cached_day != Some(day) {
            let date = self.calendar.date(day);
            let text = &mut self.date_text;
            text.clear();
            text.push_padded(date.year() as u64, 4);
            text.push_bytes(b"-");
            text.push_two_digits(date.month());
            text.push_bytes(b"-");
            text.push_two_digits(date.day());
            text.push_bytes(b"T");
            self.cached_day = Some(day);
        }
        let time_of_day = at.rem_euclid(SECONDS_PER_DAY) as u32;
        out.push_bytes(self.date_text.as_bytes());
        out.push_two_digits(time_of_day / 3_600);
        out.push_bytes(b":");
        out.push_two_digits(time_of_day / 60 % 60);
        out.push_bytes(b":");
        out.push_two_digits(time_of_day % 60);
        out.push_bytes(UTC_OFFSET_TEXT);
    }
}

fn csv_writer(capacity: usize) -> csv::Writer<Vec<u8>> {
    // The csv crate ends records with '\n' by default and quotes only fields that need it.
    csv::Writer::from_writer(Vec::with_capacity(capacity))
}

fn write_row(writer: &mut csv::Writer<Vec<u8>>, record: &[&[u8]]) {
    writer
        .write_record(record)
        .expect("writing CSV to memory cannot fail");
}

fn finish_csv(writer: csv::Writer<Vec<u8>>) -> String {
    let bytes = writer
        .into_inner()
        .expect("flushing CSV to memory cannot fail");
    String::from_utf8(bytes).expect("every field is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sample(rows: usize, seed: u64) -> SampleTables {
        generate(&SampleOptions { rows, seed })
    }

    /// Header and records of a CSV text, checking that every record has the header's width.
    fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect::<Vec<_>>();
        let records = reader
            .records()
            .map(|record| {
                let record = record.expect("well-formed record");
                assert_eq!(record.len(), header.len());
                record.iter().map(String::from).collect()
            })
            .collect();
        (header, records)
    }

    fn column(header: &[String], name: &str) -> usize {
        header
            .iter()
            .position(|column| column == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn parse_time(text: &str) -> DateTime<FixedOffset> {
        let time = DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|error| panic!("{text:?} is not RFC 3339: {error}"));
        assert_eq!(time.offset().local_minus_utc(), UTC_OFFSET_SECONDS);
        time
    }

    #[test]
    fn default_options_are_fifty_thousand_rows_with_seed_42() {
        assert_eq!(
            SampleOptions::default(),
            SampleOptions {
                rows: 50_000,
                seed: 42
            }
        );
    }

    #[test]
    fn same_seed_gives_identical_tables() {
        assert_eq!(sample(3_000, 7), sample(3_000, 7));
    }

    #[test]
    fn different_seeds_give_different_tables() {
        let (first, second) = (sample(3_000, 7), sample(3_000, 8));
        assert_ne!(first.transactions, second.transactions);
        assert_ne!(first.users, second.users);
        assert_ne!(first.merchants, second.merchants);
    }

    #[test]
    fn headers_and_row_count() {
        let tables = sample(2_500, 1);
        let (header, records) = parse(&tables.transactions);
        assert_eq!(header, TRANSACTION_COLUMNS);
        assert_eq!(records.len(), 2_500);
        assert_eq!(parse(&tables.users).0, USER_COLUMNS);
        assert_eq!(parse(&tables.merchants).0, MERCHANT_COLUMNS);
        assert_eq!(CHANNELS[ONLINE_CHANNEL], "online");
        for table in [&tables.transactions, &tables.users, &tables.merchants] {
            assert!(!table.contains('\r'));
            assert!(table.ends_with('\n'));
        }
    }

    #[test]
    fn zero_rows_gives_a_header_only_transactions_file() {
        let tables = sample(0, 42);
        assert_eq!(
            tables.transactions,
            format!("{}\n", TRANSACTION_COLUMNS.join(","))
        );
        assert_eq!(parse(&tables.users).1.len(), MIN_USERS);
        assert_eq!(parse(&tables.merchants).1.len(), MIN_MERCHANTS);
    }

    #[test]
    fn few_funded_users_are_unverified() {
        let tables = sample(40_000, 42);
        let (header, users) = parse(&tables.users);
        let [funding_col, kyc_col] =
            ["first_funding_at", "kyc_level"].map(|name| column(&header, name));
        let funded: Vec<&Vec<String>> = users
            .iter()
            .filter(|u| !u[funding_col].is_empty())
            .collect();
        let unverified = funded.iter().filter(|u| u[kyc_col] == "0").count();
        let share = unverified as f64 / funded.len() as f64;
        assert!(
            (0.01..=0.1).contains(&share),
            "{unverified} of {} funded users at level 0",
            funded.len()
        );
    }

    #[test]
    fn table_sizes_follow_the_row_count() {
        let tables = sample(30_000, 3);
        assert_eq!(parse(&tables.users).1.len(), 30_000 / ROWS_PER_USER);
        assert_eq!(parse(&tables.merchants).1.len(), 30_000 / ROWS_PER_MERCHANT);
    }

    #[test]
    fn transactions_are_consistent_with_users_and_merchants() {
        for seed in [0, 1, 42, u64::MAX] {
            let tables = sample(20_000, seed);
            let (header, records) = parse(&tables.transactions);
            let (user_header, users) = parse(&tables.users);
            let (_, merchants) = parse(&tables.merchants);
            let signup_col = column(&user_header, "signup_at");
            let funding_col = column(&user_header, "first_funding_at");
            let signups: HashMap<&str, (DateTime<FixedOffset>, &str)> = users
                .iter()
                .map(|user| {
                    let signup = parse_time(&user[signup_col]);
                    (user[0].as_str(), (signup, user[funding_col].as_str()))
                })
                .collect();
            let merchant_ids: HashMap<&str, DateTime<FixedOffset>> = merchants
                .iter()
                .map(|merchant| (merchant[0].as_str(), parse_time(&merchant[1])))
                .collect();

            let ids: std::collections::HashSet<&str> =
                records.iter().map(|record| record[0].as_str()).collect();
            assert_eq!(ids.len(), records.len(), "txn_id is unique");

            let (created_col, user_col, merchant_col) = (
                column(&header, "created_at"),
                column(&header, "user_id"),
                column(&header, "merchant_id"),
            );
            for record in &records {
                let created = parse_time(&record[created_col]);
                let (signup, funding) = signups
                    .get(record[user_col].as_str())
                    .unwrap_or_else(|| panic!("unknown user {}", record[user_col]));
                assert!(*signup < created, "{record:?} before its user's signup");
                assert!(parse_time(funding) < created, "{record:?} before funding");
                let onboarded = merchant_ids
                    .get(record[merchant_col].as_str())
                    .unwrap_or_else(|| panic!("unknown merchant {}", record[merchant_col]));
                assert!(*onboarded < created, "{record:?} before onboarding");
            }
        }
    }

    #[test]
    fn statuses_fees_and_settlement_are_consistent() {
        let tables = sample(40_000, 42);
        let (header, records) = parse(&tables.transactions);
        let [status_col, amount_col, fee_col, settled_col, created_col, currency_col] = [
            "status",
            "amount",
            "fee",
            "settled_at",
            "created_at",
            "currency",
        ]
        .map(|name| column(&header, name));
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for record in &records {
            let status = record[status_col].as_str();
            *counts.entry(status).or_default() += 1;
            assert!(
                ["success", "failed", "refunded", "disputed", "pending"].contains(&status),
                "unexpected status {status}"
            );
            assert_eq!(record[currency_col], "CNY");
            let amount: f64 = record[amount_col].parse().expect("amount is a number");
            assert!(amount > 0.0);
            assert_eq!(record[amount_col].split('.').nth(1).map(str::len), Some(2));
            let fee: f64 = record[fee_col].parse().expect("fee is a number");
            let unsettled = status == "failed" || status == "pending";
            assert_eq!(record[settled_col].is_empty(), unsettled, "{record:?}");
            if unsettled {
                assert_eq!(record[fee_col], "0.00");
            } else {
                assert!(fee <= amount * 0.006 + 0.005, "{record:?}");
                assert!(parse_time(&record[settled_col]) > parse_time(&record[created_col]));
            }
        }
        let success_share = counts["success"] as f64 / records.len() as f64;
        assert!(
            (0.85..=0.95).contains(&success_share),
            "success share {success_share}"
        );
        for status in ["failed", "refunded", "disputed", "pending"] {
            assert!(counts.get(status).copied().unwrap_or(0) > 0, "no {status}");
        }
    }

    #[test]
    fn types_decline_reasons_fraud_and_disputes_are_consistent() {
        let tables = sample(40_000, 42);
        let (header, records) = parse(&tables.transactions);
        let [status_col, type_col, reason_col, fraud_col, disputed_col, created_col] = [
            "status",
            "type",
            "decline_reason",
            "is_fraud",
            "disputed_at",
            "created_at",
        ]
        .map(|name| column(&header, name));
        let mut types: HashMap<&str, usize> = HashMap::new();
        let mut reasons: HashMap<&str, usize> = HashMap::new();
        for record in &records {
            let status = record[status_col].as_str();
            *types.entry(&record[type_col]).or_default() += 1;
            let reason = record[reason_col].as_str();
            if status == "failed" {
                assert!(DECLINE_REASONS.contains(&reason), "{record:?}");
                *reasons.entry(reason).or_default() += 1;
            } else {
                assert_eq!(reason, "", "{record:?}");
            }
            let fraud = record[fraud_col].as_str();
            assert!(fraud == "0" || fraud == "1", "{record:?}");
            if status == "failed" || status == "pending" {
                assert_eq!(fraud, "0", "{record:?}");
            }
            if status == "disputed" {
                let delay = parse_time(&record[disputed_col]) - parse_time(&record[created_col]);
                assert!(
                    (chrono::Duration::days(2)..=chrono::Duration::days(60)).contains(&delay),
                    "{record:?}"
                );
            } else {
                assert_eq!(record[disputed_col], "", "{record:?}");
            }
        }
        assert!(types.keys().all(|kind| PAYMENT_TYPES.contains(kind)));
        assert!(
            types["purchase"] > 3 * (types["bill_payment"] + types["p2p_transfer"]),
            "{types:?}"
        );
        // Every reason occurs; a balance's failures are mostly insufficient funds, while a
        // credit card's are mostly its bank declining.
        assert_eq!(reasons.len(), DECLINE_REASONS.len(), "{reasons:?}");
        let funding_col = column(&header, "funding_source");
        let top_reason = |source: &str| {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for record in records
                .iter()
                .filter(|r| r[status_col] == "failed" && r[funding_col] == source)
            {
                *counts.entry(&record[reason_col]).or_default() += 1;
            }
            counts.into_iter().max_by_key(|&(_, n)| n).unwrap().0
        };
        assert_eq!(top_reason("balance"), "insufficient_funds");
        assert_eq!(top_reason("credit_card"), "bank_declined");
    }

    #[test]
    fn fraud_is_a_few_basis_points_concentrated_online_and_in_disputes() {
        let tables = sample(200_000, 3);
        let (header, records) = parse(&tables.transactions);
        let [status_col, fraud_col, channel_col] =
            ["status", "is_fraud", "channel"].map(|name| column(&header, name));
        // (payments, frauds) among successful ones: all, disputed, online, shop barcode.
        let mut tallies: HashMap<&str, (usize, usize)> = HashMap::new();
        for record in &records {
            let status = record[status_col].as_str();
            if !["success", "refunded", "disputed"].contains(&status) {
                continue;
            }
            let fraud = usize::from(record[fraud_col] == "1");
            let mut groups = vec!["all", record[channel_col].as_str()];
            if status == "disputed" {
                groups.push("disputed");
            }
            for group in groups {
                let tally = tallies.entry(group).or_default();
                tally.0 += 1;
                tally.1 += fraud;
            }
        }
        let bps = |group: &str| {
            let (payments, frauds) = tallies[group];
            frauds as f64 * 10_000.0 / payments as f64
        };
        assert!((5.0..=15.0).contains(&bps("all")), "{tallies:?}");
        assert!(bps("disputed") > 20.0 * bps("all"), "{tallies:?}");
        assert!(bps("online") > 5.0 * bps("app_barcode"), "{tallies:?}");
    }

    #[test]
    fn created_at_is_inside_the_window_and_sorted() {
        let tables = sample(20_000, 5);
        let (header, records) = parse(&tables.transactions);
        let created_col = column(&header, "created_at");
        let first = window_start();
        let last = parse_time("2025-09-30T23:59:59+08:00");
        let times: Vec<_> = records
            .iter()
            .map(|record| parse_time(&record[created_col]))
            .collect();
        assert!(times.iter().all(|time| (first..=last).contains(time)));
        assert!(times.windows(2).all(|pair| pair[0] <= pair[1]));
        // Both ends of the window are reached, so the 92 days are really covered.
        assert!(times[0] < parse_time("2025-07-02T00:00:00+08:00"));
        assert!(times[times.len() - 1] > parse_time("2025-09-30T00:00:00+08:00"));
    }

    #[test]
    fn weighted_table_agrees_with_binary_search() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let weights: Vec<f64> = (0..5_000)
            .map(|index| match index % 7 {
                0 => 0.0,
                1 => 1_000.0,
                _ => rng.random::<f64>() * rng.random::<f64>(),
            })
            .collect();
        let table = WeightedTable::new(weights);
        let cumulative = &table.cumulative;
        for len in [1, 2, 3, 100, 4_999, 5_000] {
            let prefix_total = cumulative[len - 1];
            let mut targets: Vec<f64> = (0..2_000)
                .map(|_| rng.random::<f64>() * prefix_total)
                .collect();
            targets.extend([0.0, prefix_total, cumulative[len / 2]]);
            for target in targets {
                let expected = cumulative[..len]
                    .partition_point(|&total| total <= target)
                    .min(len - 1);
                assert_eq!(
                    table.first_above(target, len),
                    expected,
                    "{target} in {len}"
                );
            }
        }
    }

    #[test]
    fn timestamps_match_chrono_rfc3339() {
        let mut writer = TimestampWriter::new();
        let start = window_start();
        for at in [
            -800 * SECONDS_PER_DAY,
            -1,
            0,
            12 * SECONDS_PER_HOUR + 34 * 60 + 56,
            WINDOW_SECONDS - 1,
            WINDOW_SECONDS + 9 * SECONDS_PER_DAY,
        ] {
            let mut field = Field::new();
            writer.write(at, &mut field);
            let expected = (start + chrono::Duration::seconds(at))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            assert_eq!(std::str::from_utf8(field.as_bytes()).unwrap(), expected);
        }
        assert_eq!(
            Calendar::new().date(FESTIVAL_DAY),
            NaiveDate::from_ymd_opt(2025, 8, 29).unwrap()
        );
        let mut field = Field::new();
        writer.write(12 * SECONDS_PER_HOUR + 34 * 60 + 56, &mut field);
        assert_eq!(field.as_bytes(), b"2025-07-01T12:34:56+08:00");
    }

    #[test]
    fn distributions_have_the_intended_shape() {
        let tables = sample(60_000, 11);
        let (header, records) = parse(&tables.transactions);
        let (amount_col, created_col, user_col, merchant_col) = (
            column(&header, "amount"),
            column(&header, "created_at"),
            column(&header, "user_id"),
            column(&header, "merchant_id"),
        );
        let mut amounts: Vec<f64> = records
            .iter()
            .map(|record| record[amount_col].parse().unwrap())
            .collect();
        amounts.sort_by(f64::total_cmp);
        let median = amounts[amounts.len() / 2];
        assert!((25.0..=50.0).contains(&median), "median amount {median}");

        // Lunch is busier than the small hours.
        let hour_count = |hour: &str| {
            records
                .iter()
                .filter(|record| &record[created_col][11..13] == hour)
                .count()
        };
        assert!(hour_count("12") > 5 * hour_count("04"));

        // The busiest 1% of merchants carries a large share; most payers pay rarely.
        let mut per_merchant: HashMap<&str, usize> = HashMap::new();
        let mut per_user: HashMap<&str, usize> = HashMap::new();
        for record in &records {
            *per_merchant.entry(&record[merchant_col]).or_default() += 1;
            *per_user.entry(&record[user_col]).or_default() += 1;
        }
        let mut merchant_counts: Vec<usize> = per_merchant.into_values().collect();
        merchant_counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = merchant_counts.len().div_ceil(100);
        let top_share = merchant_counts[..top].iter().sum::<usize>() as f64 / records.len() as f64;
        assert!(top_share > 0.3, "top merchants' share {top_share}");
        let mut user_counts: Vec<usize> = per_user.into_values().collect();
        user_counts.sort_unstable();
        assert!(user_counts[user_counts.len() - 1] > 10 * user_counts[user_counts.len() / 2]);
    }
}
