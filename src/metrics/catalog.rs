//! Every metric, defined once: id, name, unit, definition in words, the roles it needs, and how
//! its value follows from a bucket's tallies. The CLI, the page and the docs all read this list.
use super::engine::Tally;
use crate::schema::Role;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// An amount of money, in the file's currency.
    Currency,
    /// A number of things (transactions, payers).
    Count,
    /// A fraction between 0 and 1.
    Ratio,
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

pub struct Metric {
    /// Stable id: used by the CLI JSON, share links and the SQL export. Never renamed.
    pub id: &'static str,
    pub name: &'static str,
    pub tier: Tier,
    pub stakeholders: &'static [Stakeholder],
    pub good: Good,
    pub unit: Unit,
    pub description: &'static str,
    /// Roles that must be mapped for the metric to have a value.
    pub needs: &'static [Role],
    pub value: fn(&Tally) -> Option<f64>,
}

/// `numerator / denominator`, or no value when there is nothing to divide by.
fn ratio(numerator: f64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator / denominator as f64)
}

pub static CATALOG: &[Metric] = &[
    Metric {
        id: "tpv",
        name: "TPV",
        tier: Tier::NorthStar,
        stakeholders: &[Stakeholder::Platform, Stakeholder::Merchants],
        good: Good::Up,
        unit: Unit::Currency,
        description: "Total payment volume: sum of amount over successful transactions",
        needs: &[Role::Amount, Role::Status],
        value: |t| Some(t.success_amount),
    },
    Metric {
        id: "txn_count",
        name: "Transactions",
        tier: Tier::Core,
        stakeholders: &[Stakeholder::Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Payment attempts: every loaded transaction, whatever its status",
        needs: &[],
        value: |t| Some(t.attempts as f64),
    },
    Metric {
        id: "success_rate",
        name: "Success rate",
        tier: Tier::Core,
        stakeholders: &[
            Stakeholder::Consumers,
            Stakeholder::Merchants,
            Stakeholder::FinancialInstitutions,
        ],
        good: Good::Up,
        unit: Unit::Ratio,
        description: "Successful transactions / all attempts, by count",
        needs: &[Role::Status],
        value: |t| ratio(t.successes as f64, t.attempts),
    },
    Metric {
        id: "active_payers",
        name: "Active payers",
        tier: Tier::Core,
        stakeholders: &[Stakeholder::Consumers, Stakeholder::Platform],
        good: Good::Up,
        unit: Unit::Count,
        description: "Distinct users with at least one successful transaction",
        needs: &[Role::UserId, Role::Status],
        value: |t| Some(t.active_payers as f64),
    },
    Metric {
        id: "avg_ticket",
        name: "Average ticket",
        tier: Tier::Core,
        stakeholders: &[Stakeholder::Merchants],
        good: Good::Neutral,
        unit: Unit::Currency,
        description: "TPV / successful transactions that have an amount",
        needs: &[Role::Amount, Role::Status],
        value: |t| ratio(t.success_amount, t.successes_with_amount),
    },
    Metric {
        id: "refund_rate",
        name: "Refund rate",
        tier: Tier::Guardrail,
        stakeholders: &[Stakeholder::Consumers, Stakeholder::Merchants],
        good: Good::Down,
        unit: Unit::Ratio,
        description: "Refunded transactions / all attempts, by count",
        needs: &[Role::Status],
        value: |t| ratio(t.refunds as f64, t.attempts),
    },
];

impl Tier {
    pub fn title(self) -> &'static str {
        match self {
            Tier::NorthStar => "North star",
            Tier::Core => "Core",
            Tier::Supporting => "Supporting",
            Tier::Guardrail => "Guardrails",
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
         Ids are stable: the CLI's JSON, share links and the SQL export use them.\n",
    );
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
            "\n## {}\n\n| id | name | definition | unit | good | for | needs |\n| --- | --- | --- | --- | --- | --- | --- |\n",
            tier.title()
        ));
        for m in metrics {
            let unit = match m.unit {
                Unit::Currency => "money",
                Unit::Count => "count",
                Unit::Ratio => "ratio (0–1)",
            };
            let good = match m.good {
                Good::Up => "higher",
                Good::Down => "lower",
                Good::Neutral => "—",
            };
            let stakeholders: Vec<&str> = m.stakeholders.iter().map(|s| s.title()).collect();
            let needs: Vec<String> = m.needs.iter().map(|r| format!("`{}`", r.id())).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {unit} | {good} | {} | {} |\n",
                m.id,
                m.name,
                m.description,
                stakeholders.join(", "),
                if needs.is_empty() {
                    "—".to_string()
                } else {
                    needs.join(", ")
                },
            ));
        }
    }
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
