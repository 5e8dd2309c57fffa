//! Metrics: the catalog of definitions (`catalog`) and the engine that evaluates them over typed
//! transactions, for the whole range and per time bucket (`engine`).
pub mod catalog;
pub mod engine;

pub use catalog::{catalog_markdown, Good, Metric, Stakeholder, Threshold, Tier, Unit, CATALOG};
pub use engine::{compute, Bucket, Calendar, Computed, Params, Selection, Tally, Want};
pub mod breakdown;
pub mod custom;
pub mod funnel;
pub mod retention;
