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

pub struct Metric {
    /// Stable id: used by the CLI JSON, share links and the SQL export. Never renamed.
    pub id: &'static str,
    pub name: &'static str,
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
        unit: Unit::Currency,
        description: "Total payment volume: sum of amount over successful transactions",
        needs: &[Role::Amount, Role::Status],
        value: |t| Some(t.success_amount),
    },
    Metric {
        id: "txn_count",
        name: "Transactions",
        unit: Unit::Count,
        description: "Payment attempts: every loaded transaction, whatever its status",
        needs: &[],
        value: |t| Some(t.attempts as f64),
    },
    Metric {
        id: "success_rate",
        name: "Success rate",
        unit: Unit::Ratio,
        description: "Successful transactions / all attempts, by count",
        needs: &[Role::Status],
        value: |t| ratio(t.successes as f64, t.attempts),
    },
    Metric {
        id: "active_payers",
        name: "Active payers",
        unit: Unit::Count,
        description: "Distinct users with at least one successful transaction",
        needs: &[Role::UserId, Role::Status],
        value: |t| Some(t.active_payers as f64),
    },
    Metric {
        id: "avg_ticket",
        name: "Average ticket",
        unit: Unit::Currency,
        description: "TPV / successful transactions that have an amount",
        needs: &[Role::Amount, Role::Status],
        value: |t| ratio(t.success_amount, t.successes_with_amount),
    },
    Metric {
        id: "refund_rate",
        name: "Refund rate",
        unit: Unit::Ratio,
        description: "Refunded transactions / all attempts, by count",
        needs: &[Role::Status],
        value: |t| ratio(t.refunds as f64, t.attempts),
    },
];

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
