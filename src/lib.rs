//! Paymetrics core: the success metrics of a payment service, from CSV bytes.
//!
//! The core never opens files or touches the network: hosts hand it bytes. The CLI
//! (`src/main.rs`) and the browser bindings (`src/wasm.rs`) are thin layers over this API:
//!
//! ```
//! let csv = b"id,created_at,user_id,amount,status\n1,2025-07-01T10:00:00+08:00,u1,12.50,success\n";
//! let table = paymetrics::read_csv("payments.csv", csv).unwrap();
//! let dataset = paymetrics::Dataset::new(table);
//! let report = paymetrics::analyze(&dataset, &paymetrics::Options::default()).unwrap();
//! assert_eq!(report.totals["tpv"], Some(12.5));
//! assert_eq!(report.tz, "+08:00");
//! ```
pub mod dataset;
pub mod error;
pub mod expr;
pub mod ingest;
pub mod join;
pub mod metrics;
pub mod number;
pub mod options;
pub mod quality;
pub mod report;
pub mod sample;
pub mod schema;
#[cfg(feature = "sql")]
pub mod sql;
pub mod stream;
pub mod time;
pub mod transactions;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use dataset::Dataset;
pub use error::{Error, ErrorKind, Result};
pub use ingest::{read_csv, RawTable};
pub use options::Options;
pub use report::{analyze, render_text, Report};
pub use time::Grain;
