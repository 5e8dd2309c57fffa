//! Every metric, defined once: id, name, unit, definition in words, the roles it needs, and how
//! its value follows from a bucket's tallies. The CLI, the page and the docs all read this list.
use super::engine::Tally;
use crate::schema::Role;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// An amount of money, in the report's currency.
    Currency,
    /// A number of things (transactions, payers).
    Count,
    /// A fraction between 0 and 1.
    Ratio,
    /// Basis points: parts per 10 000.
    Bps,
    /// Hours.
    Hours,
    /// Milliseconds.
    Milliseconds,
    /// A dimensionless index (the Herfindahl–Hirschman index, 0..10 000).
    Index,
    /// A plain number (a custom metric whose unit does not follow from its formula).
    Number,
}

/// Where a metric sits in the success-metrics hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// The one number that sums up value delivered.
    NorthStar,
    /// What the business is run by, reviewed every week.
    Core,
    /// Explains movements of the core metrics.
    Supporting,
    /// Must not get worse while the others improve.
    Guardrail,
    /// Defined by the user (`metrics::custom`).
    Custom,
}

/// Who a metric speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stakeholder {
    Consumers,
    Merchants,
    Platform,
    FinancialInstitutions,
    Regulators,
}

/// Which way is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Good {
    Up,
    Down,
    /// Neither direction is good in itself (e.g. the average ticket).
    Neutral,
}

/// A reference line drawn on a guardrail's chart, in the metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    pub value: f64,
    pub label: &'static str,
}

pub struct Metric {
    /// Stable id: used by the CLI JSON, share links and the SQL export. Never renamed.
    pub id: &'static str,
    pub name: &'static str,
    pub tier: Tier,
    pub stakeholders: &'static [Stakeholder],
    pub good: Good,
    pub unit: Unit,
    /// The definition in words; precise enough to write the SQL from (the DuckDB oracle is).
    pub description: &'static str,
    /// Roles that must be mapped for the metric to have a value.
    pub needs: &'static [Role],
    pub thresholds: &'static [Threshold],
    pub value: fn(&Tally) -> Option<f64>,
}

impl Metric {
    /// True when the value sums or compares money: with mixed currencies and no exchange rates
    /// it is then given per currency, never over amounts in different currencies.
    pub fn uses_money(&self) -> bool {
        self.needs
            .iter()
            .any(|r| matches!(r, Role::Amount | Role::Fee))
    }
}

/// `numerator / denominator`, or no value when there is nothing to divide by.
fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

fn count(n: u64) -> f64 {
    n as f64
}

use Role::{
    Amount, CreatedAt, DisputedAt, Fee, Fraud, Kyc, LatencyMs, MerchantId, SettledAt, Status,
    UserId,
};
use Stakeholder::{Consumers, FinancialInstitutions, Merchants, Platform, Regulators};

/// The terms the definitions use (printed at the top of docs/metrics.md).
pub const TERMS: &str =
    "Terms: a transaction is *successful* when its status is success, refunded or \
disputed (the payment went through; refunds and disputes come after). It is *decided* when it is \
successful or failed: pending and unrecognised statuses are neither. Missing amounts, fees and \
latencies are left out of sums, averages and percentiles. Percentiles are exact, interpolated \
linearly between the two nearest values (DuckDB's `quantile_cont`); distinct counts are exact. \
Every metric is over the rows left by the filters and the date range, except that new payers look \
at every date to find a payer's first payment and DAU, WAU and MAU look back across the start of \
the range (MAU on the range's first day counts the 29 days before it); the *period* is the whole range (totals) or one time \
bucket (series). Days, weeks and months are local to the reporting time zone.\n";

pub static CATALOG: &[Metric] = &[
    // ---------------------------------------------------------------- north star
    Metric {
        id: "tpv",
        name: "TPV (net)",
        tier: Tier::NorthStar,
        stakeholders: &[Platform, Merchants],
        good: Good::Up,
        unit: Unit::Currency,
        description: "Total payment volume net of refunds: sum of amount over successful transactions, minus the amount of refunded ones (a refund is taken as full)",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| Some(t.success_amount - t.refund_amount),
    },
    Metric {
        id: "tpv_gross",
        name: "TPV (gross)",
        tier: Tier::NorthStar,
        stakeholders: &[Platform, Merchants],
        good: Good::Up,
        unit: Unit::Currency,
        description: "Sum of amount over successful transactions, before refunds",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| Some(t.success_amount),
    },
    // ---------------------------------------------------------------- core
    Metric {
        id: "txn_count",
        name: "Transactions",
        tier: Tier::Core,
        stakeholders: &[Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Payment attempts: every loaded transaction, whatever its status",
        needs: &[],
        thresholds: &[],
        value: |t| Some(count(t.attempts)),
    },
    Metric {
        id: "success_count",
        name: "Successful transactions",
        tier: Tier::Core,
        stakeholders: &[Platform, Merchants],
        good: Good::Up,
        unit: Unit::Count,
        description: "Transactions whose status is success, refunded or disputed",
        needs: &[Status],
        thresholds: &[],
        value: |t| Some(count(t.successes)),
    },
    Metric {
        id: "success_rate",
        name: "Success rate",
        tier: Tier::Core,
        stakeholders: &[Consumers, Merchants, FinancialInstitutions],
        good: Good::Up,
        unit: Unit::Ratio,
        description: "Successful transactions / decided ones (successful + failed), by count; pending and unrecognised statuses are left out",
        needs: &[Status],
        thresholds: &[],
        value: |t| ratio(count(t.successes), count(t.successes + t.failures)),
    },
    Metric {
        id: "success_rate_volume",
        name: "Success rate by volume",
        tier: Tier::Core,
        stakeholders: &[Merchants, FinancialInstitutions],
        good: Good::Up,
        unit: Unit::Ratio,
        description: "Sum of amount over successful transactions / sum of amount over decided ones",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| ratio(t.success_amount, t.success_amount + t.failure_amount),
    },
    Metric {
        id: "active_payers",
        name: "Active payers",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct user ids with at least one successful transaction in the period",
        needs: &[UserId, Status],
        thresholds: &[],
        value: |t| Some(count(t.active_payers)),
    },
    Metric {
        id: "dau",
        name: "DAU",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct payers with a successful transaction on the period's last day (the last day with data, when the period ends later)",
        needs: &[UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| t.window.map(|w| count(w.dau)),
    },
    Metric {
        id: "wau",
        name: "WAU",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct payers with a successful transaction in the 7 days ending on the period's last day (as for DAU)",
        needs: &[UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| t.window.map(|w| count(w.wau)),
    },
    Metric {
        id: "mau",
        name: "MAU",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct payers with a successful transaction in the 30 days ending on the period's last day (as for DAU)",
        needs: &[UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| t.window.map(|w| count(w.mau)),
    },
    Metric {
        id: "stickiness",
        name: "Stickiness (DAU/MAU)",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Ratio,
        description: "Average daily active payers over the MAU window's days (those on or after the first day of the data) / MAU",
        needs: &[UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| t.window.and_then(|w| ratio(w.mean_daily_actives, count(w.mau))),
    },
    Metric {
        id: "avg_ticket",
        name: "Average ticket",
        tier: Tier::Core,
        stakeholders: &[Merchants],
        good: Good::Neutral,
        unit: Unit::Currency,
        description: "TPV (gross) / successful transactions that have an amount",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| ratio(t.success_amount, count(t.successes_with_amount)),
    },
    Metric {
        id: "median_ticket",
        name: "Median ticket",
        tier: Tier::Core,
        stakeholders: &[Merchants, Consumers],
        good: Good::Neutral,
        unit: Unit::Currency,
        description: "Median amount of successful transactions",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| t.ticket_p50,
    },
    Metric {
        id: "txns_per_payer",
        name: "Transactions per payer",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Successful transactions that have a user id / active payers",
        needs: &[UserId, Status],
        thresholds: &[],
        value: |t| ratio(count(t.payer_successes), count(t.active_payers)),
    },
    Metric {
        id: "new_payers",
        name: "New payers",
        tier: Tier::Core,
        stakeholders: &[Consumers, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Payers whose first successful transaction in the data (any date; after the column filters) falls in the period",
        needs: &[UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| Some(count(t.new_payers)),
    },
    Metric {
        id: "active_merchants",
        name: "Active merchants",
        tier: Tier::Core,
        stakeholders: &[Merchants, Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct merchant ids with at least one successful transaction in the period",
        needs: &[MerchantId, Status],
        thresholds: &[],
        value: |t| Some(count(t.active_merchants)),
    },
    Metric {
        id: "revenue",
        name: "Revenue",
        tier: Tier::Core,
        stakeholders: &[Platform],
        good: Good::Up,
        unit: Unit::Currency,
        description: "Sum of fee over successful transactions (refunded and disputed ones keep their fee)",
        needs: &[Fee, Status],
        thresholds: &[],
        value: |t| Some(t.revenue),
    },
    Metric {
        id: "take_rate",
        name: "Take rate",
        tier: Tier::Core,
        stakeholders: &[Platform, Merchants],
        good: Good::Neutral,
        unit: Unit::Ratio,
        description: "Revenue / TPV (net); none when TPV (net) is not above 0",
        needs: &[Fee, Amount, Status],
        thresholds: &[],
        value: |t| ratio(t.revenue, t.success_amount - t.refund_amount),
    },
    Metric {
        id: "arpu",
        name: "ARPU",
        tier: Tier::Core,
        stakeholders: &[Platform],
        good: Good::Up,
        unit: Unit::Currency,
        description: "Revenue / active payers",
        needs: &[Fee, UserId, Status],
        thresholds: &[],
        value: |t| ratio(t.revenue, count(t.active_payers)),
    },
    // ---------------------------------------------------------------- supporting
    Metric {
        id: "new_payer_volume",
        name: "New payers' volume",
        tier: Tier::Supporting,
        stakeholders: &[Platform, Merchants],
        good: Good::Up,
        unit: Unit::Currency,
        description: "TPV (gross) of the period's new payers (see new_payers)",
        needs: &[Amount, UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| Some(t.new_payer_amount),
    },
    Metric {
        id: "returning_payer_volume",
        name: "Returning payers' volume",
        tier: Tier::Supporting,
        stakeholders: &[Platform, Merchants],
        good: Good::Up,
        unit: Unit::Currency,
        description: "TPV (gross) of payers whose first successful transaction came before the period",
        needs: &[Amount, UserId, Status, CreatedAt],
        thresholds: &[],
        value: |t| Some(t.returning_payer_amount),
    },
    Metric {
        id: "top10_merchant_share",
        name: "Top-10 merchant share",
        tier: Tier::Supporting,
        stakeholders: &[Platform],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "TPV (gross) of the 10 merchants with the most of it / TPV (gross)",
        needs: &[MerchantId, Amount, Status],
        thresholds: &[],
        value: |t| ratio(t.top10_merchant_amount, t.success_amount),
    },
    Metric {
        id: "merchant_hhi",
        name: "Merchant concentration (HHI)",
        tier: Tier::Supporting,
        stakeholders: &[Platform, Regulators],
        good: Good::Down,
        unit: Unit::Index,
        description: "Herfindahl–Hirschman index of merchants' TPV (gross): sum over merchants of (100 × the merchant's share of the TPV (gross) of transactions that have a merchant id)², from 0 to 10 000",
        needs: &[MerchantId, Amount, Status],
        thresholds: &[
            Threshold { value: 1500.0, label: "moderately concentrated (1 500)" },
            Threshold { value: 2500.0, label: "highly concentrated (2 500)" },
        ],
        value: |t| t.merchant_hhi,
    },
    Metric {
        id: "settlement_p50_h",
        name: "Settlement time p50",
        tier: Tier::Supporting,
        stakeholders: &[Merchants],
        good: Good::Down,
        unit: Unit::Hours,
        description: "Median hours from created_at to settled_at, over successful transactions that have both",
        needs: &[SettledAt, CreatedAt, Status],
        thresholds: &[],
        value: |t| t.settlement_p50_h,
    },
    Metric {
        id: "settlement_p95_h",
        name: "Settlement time p95",
        tier: Tier::Supporting,
        stakeholders: &[Merchants],
        good: Good::Down,
        unit: Unit::Hours,
        description: "95th percentile of hours from created_at to settled_at, over successful transactions that have both",
        needs: &[SettledAt, CreatedAt, Status],
        thresholds: &[],
        value: |t| t.settlement_p95_h,
    },
    Metric {
        id: "latency_p50_ms",
        name: "Latency p50",
        tier: Tier::Supporting,
        stakeholders: &[Consumers, FinancialInstitutions],
        good: Good::Down,
        unit: Unit::Milliseconds,
        description: "Median latency_ms over all attempts that have one",
        needs: &[LatencyMs],
        thresholds: &[],
        value: |t| t.latency_p50,
    },
    Metric {
        id: "latency_p95_ms",
        name: "Latency p95",
        tier: Tier::Supporting,
        stakeholders: &[Consumers, FinancialInstitutions],
        good: Good::Down,
        unit: Unit::Milliseconds,
        description: "95th percentile of latency_ms over all attempts that have one",
        needs: &[LatencyMs],
        thresholds: &[],
        value: |t| t.latency_p95,
    },
    Metric {
        id: "latency_p99_ms",
        name: "Latency p99",
        tier: Tier::Supporting,
        stakeholders: &[Consumers, FinancialInstitutions],
        good: Good::Down,
        unit: Unit::Milliseconds,
        description: "99th percentile of latency_ms over all attempts that have one",
        needs: &[LatencyMs],
        thresholds: &[],
        value: |t| t.latency_p99,
    },
    // ---------------------------------------------------------------- guardrails
    Metric {
        id: "refund_rate",
        name: "Refund rate",
        tier: Tier::Guardrail,
        stakeholders: &[Consumers, Merchants],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "Refunded transactions / successful transactions, by count",
        needs: &[Status],
        thresholds: &[],
        value: |t| ratio(count(t.refunds), count(t.successes)),
    },
    Metric {
        id: "refund_rate_volume",
        name: "Refund rate by volume",
        tier: Tier::Guardrail,
        stakeholders: &[Consumers, Merchants],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "Amount of refunded transactions / TPV (gross)",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| ratio(t.refund_amount, t.success_amount),
    },
    Metric {
        id: "dispute_rate_bps",
        name: "Dispute rate",
        tier: Tier::Guardrail,
        stakeholders: &[Consumers, Merchants, FinancialInstitutions, Regulators],
        good: Good::Down,
        unit: Unit::Bps,
        description: "Disputed transactions / successful transactions × 10 000, by transaction date",
        needs: &[Status],
        thresholds: &[
            Threshold { value: 90.0, label: "Visa dispute monitoring (0.9%)" },
            Threshold { value: 150.0, label: "Mastercard excessive chargebacks (1.5%)" },
        ],
        value: |t| ratio(count(t.disputes) * 10_000.0, count(t.successes)),
    },
    Metric {
        id: "disputes_opened",
        name: "Disputes opened",
        tier: Tier::Guardrail,
        stakeholders: &[Merchants, FinancialInstitutions, Regulators],
        good: Good::Down,
        unit: Unit::Count,
        description: "Transactions whose disputed_at falls in the period (dispute activity by dispute date, whatever the transaction's date; without a chosen range the period is the days of the data)",
        needs: &[DisputedAt],
        thresholds: &[],
        value: |t| Some(count(t.disputes_opened)),
    },
    Metric {
        id: "fraud_rate_bps",
        name: "Fraud rate",
        tier: Tier::Guardrail,
        stakeholders: &[Consumers, FinancialInstitutions, Regulators],
        good: Good::Down,
        unit: Unit::Bps,
        description: "Successful transactions flagged as fraud / successful transactions × 10 000, by count",
        needs: &[Fraud, Status],
        thresholds: &[],
        value: |t| ratio(count(t.frauds) * 10_000.0, count(t.successes)),
    },
    Metric {
        id: "fraud_rate_volume_bps",
        name: "Fraud rate by volume",
        tier: Tier::Guardrail,
        stakeholders: &[FinancialInstitutions, Regulators],
        good: Good::Down,
        unit: Unit::Bps,
        description: "Amount of successful transactions flagged as fraud / TPV (gross) × 10 000",
        needs: &[Fraud, Amount, Status],
        thresholds: &[Threshold { value: 90.0, label: "Visa fraud monitoring (0.9%)" }],
        value: |t| ratio(t.fraud_amount * 10_000.0, t.success_amount),
    },
    Metric {
        id: "failure_rate",
        name: "Failure rate",
        tier: Tier::Guardrail,
        stakeholders: &[Consumers, Merchants, FinancialInstitutions],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "Failed transactions / decided ones (successful + failed), by count",
        needs: &[Status],
        thresholds: &[],
        value: |t| ratio(count(t.failures), count(t.successes + t.failures)),
    },
    Metric {
        id: "settlement_sla_breach",
        name: "Settlement SLA breaches",
        tier: Tier::Guardrail,
        stakeholders: &[Merchants, Regulators],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "Share of successful transactions settled more than the SLA (default 48 h) after created_at, counting as breaches those still unsettled when the SLA had passed at the last created_at of the data; those unsettled and still within the SLA are left out",
        needs: &[SettledAt, CreatedAt, Status],
        thresholds: &[],
        value: |t| ratio(count(t.sla_breaches), count(t.sla_judged)),
    },
    Metric {
        id: "large_txn_count",
        name: "Large transactions",
        tier: Tier::Guardrail,
        stakeholders: &[Regulators],
        good: Good::Neutral,
        unit: Unit::Count,
        description: "Successful transactions with an amount at or above the reporting threshold (default 50 000)",
        needs: &[Amount, Status],
        thresholds: &[],
        value: |t| Some(count(t.large)),
    },
    Metric {
        id: "kyc_verified_share",
        name: "KYC-verified payers",
        tier: Tier::Guardrail,
        stakeholders: &[Regulators],
        good: Good::Up,
        unit: Unit::Ratio,
        description: "Active payers whose KYC value says verified (a number above 0, or one of yes, y, true, verified, full, 是, 已实名, 已认证; case ignored) / active payers; a payer counts as verified when any of their successful transactions in the period says so",
        needs: &[Kyc, UserId, Status],
        thresholds: &[],
        value: |t| ratio(count(t.kyc_verified_payers), count(t.active_payers)),
    },
];

impl Tier {
    pub fn title(self) -> &'static str {
        match self {
            Tier::NorthStar => "North star",
            Tier::Core => "Core",
            Tier::Supporting => "Supporting",
            Tier::Guardrail => "Guardrails",
            Tier::Custom => "Custom",
        }
    }
}

impl Stakeholder {
    pub fn title(self) -> &'static str {
        match self {
            Stakeholder::Consumers => "consumers",
            Stakeholder::Merchants => "merchants",
            Stakeholder::Platform => "the platform",
            Stakeholder::FinancialInstitutions => "banks and card issuers",
            Stakeholder::Regulators => "regulators",
        }
    }
}

/// docs/metrics.md: the catalog for people, generated from this file (`make docs`; a test fails
/// when the committed file is stale).
pub fn catalog_markdown() -> String {
    let mut out = String::from(
        "# Metrics\n\nGenerated from `src/metrics/catalog.rs` by `make docs`; do not edit by hand.\n\
         Ids are stable: the CLI's JSON, share links and the SQL export use them.\n\n",
    );
    out.push_str(TERMS);
    out.push('\n');
    for tier in [
        Tier::NorthStar,
        Tier::Core,
        Tier::Supporting,
        Tier::Guardrail,
    ] {
        let metrics: Vec<&Metric> = CATALOG.iter().filter(|m| m.tier == tier).collect();
        if metrics.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## {}\n\n| id | name | definition | unit | good | for | needs | reference lines |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
            tier.title()
        ));
        for m in metrics {
            let unit = match m.unit {
                Unit::Currency => "money",
                Unit::Count => "count",
                Unit::Ratio => "ratio (0–1)",
                Unit::Bps => "bps",
                Unit::Hours => "hours",
                Unit::Milliseconds => "ms",
                Unit::Index => "index",
                Unit::Number => "number",
            };
            let good = match m.good {
                Good::Up => "higher",
                Good::Down => "lower",
                Good::Neutral => "—",
            };
            let stakeholders: Vec<&str> = m.stakeholders.iter().map(|s| s.title()).collect();
            let needs: Vec<String> = m.needs.iter().map(|r| format!("`{}`", r.id())).collect();
            let lines: Vec<String> = m.thresholds.iter().map(|t| t.label.to_string()).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {unit} | {good} | {} | {} | {} |\n",
                m.id,
                m.name,
                m.description,
                stakeholders.join(", "),
                if needs.is_empty() {
                    "—".to_string()
                } else {
                    needs.join(", ")
                },
                if lines.is_empty() {
                    "—".to_string()
                } else {
                    lines.join("; ")
                },
            ));
        }
    }
    out.push_str("\n## Mixes and distributions\n\n");
    out.push_str(super::breakdown::DEFINITION);
    out.push_str("\n## Activation funnel\n\n");
    out.push_str(super::funnel::DEFINITION);
    out.push_str("\n## Cohort retention\n\n");
    out.push_str(super::retention::DEFINITION);
    out
}

/// The catalog entry with this id.
pub fn metric(id: &str) -> Option<&'static Metric> {
    CATALOG.iter().find(|m| m.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_snake_case() {
        for (i, m) in CATALOG.iter().enumerate() {
            assert!(m
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(
                CATALOG[i + 1..].iter().all(|other| other.id != m.id),
                "{}",
                m.id
            );
            assert!(std::ptr::eq(metric(m.id).unwrap(), m));
        }
    }
}
