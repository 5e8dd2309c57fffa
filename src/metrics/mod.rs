//! Metrics: the catalog of definitions (`catalog`) and the engine that evaluates them over typed
//! transactions, for the whole range and per time bucket (`engine`).
pub mod catalog;
pub mod engine;

pub use catalog::{catalog_markdown, Good, Metric, Stakeholder, Tier, Unit, CATALOG};
pub use engine::{compute, compute_where, Bucket, Computed, Tally};
