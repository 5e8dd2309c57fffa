//! The native core (`cargo bench --bench core`): reading the CSV bytes into a table, the report of
//! the core dashboard (daily grain, whole file), a second report of the same dataset with another
//! grain and a filter, and `report_from` alone on a prebuilt frame for the views the page
//! re-aggregates when a control changes (grain, filter, date range, segment). The browser
//! comparison with DuckDB-WASM is `make bench` (bench/run.mjs).
//!
//! The data is 100,000 generated rows (`paymetrics gen --seed 1`, built in memory) unless
//! `PAYMETRICS_BENCH_FILE` names a transactions CSV, e.g. the 1M-row file of `make bench`:
//! `PAYMETRICS_BENCH_FILE=bench/data/1m/transactions.csv cargo bench --bench core`. The
//! `users.csv` and `merchants.csv` beside it, if present, are loaded as lookups, as the page
//! loads the sample's.
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use paymetrics::report::{build_frame, report_from};
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::{analyze, read_csv, Dataset, Options};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const ROWS: usize = 100_000;

/// A file's name and bytes.
type File = (String, Vec<u8>);

/// Where the data comes from, the transactions CSV's bytes, and the lookups: the file named by
/// `PAYMETRICS_BENCH_FILE` and its neighbours, else the generated sample.
fn data() -> (String, Vec<u8>, Vec<File>) {
    match std::env::var_os("PAYMETRICS_BENCH_FILE") {
        Some(path) => {
            let path = Path::new(&path);
            let bytes = std::fs::read(path)
                .unwrap_or_else(|e| panic!("PAYMETRICS_BENCH_FILE {}: {e}", path.display()));
            let lookups = ["users.csv", "merchants.csv"]
                .into_iter()
                .filter_map(|name| {
                    let bytes = std::fs::read(path.with_file_name(name)).ok()?;
                    Some((name.to_string(), bytes))
                })
                .collect();
            (path.display().to_string(), bytes, lookups)
        }
        None => {
            let tables = generate(&SampleOptions {
                rows: ROWS,
                seed: 1,
            });
            let lookups = vec![
                ("users.csv".to_string(), tables.users.into_bytes()),
                ("merchants.csv".to_string(), tables.merchants.into_bytes()),
            ];
            (
                format!("generated {ROWS}"),
                tables.transactions.into_bytes(),
                lookups,
            )
        }
    }
}

/// Options as the page sends them: through serde, so only the public `Options` type is needed.
fn options(json: &str) -> Options {
    serde_json::from_str(json).expect("options parse")
}

fn core(c: &mut Criterion) {
    let (source, bytes, lookups) = data();
    let table = read_csv("transactions.csv", &bytes).expect("transactions read");
    let rows = table.row_count();
    eprintln!("bench data: {source} ({rows} rows)");
    let dataset = Dataset::new(table.clone());
    let dashboard = Options::default();
    let reaggregation =
        options(r#"{"grain": "month", "filters": [{"column": "channel", "values": ["app_qr"]}]}"#);

    let mut group = c.benchmark_group("core");
    // Each iteration takes a good fraction of a second: 10 flat samples keep a run to ~1 minute.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(BenchmarkId::new("read_csv", rows), |b| {
        b.iter(|| read_csv("transactions.csv", black_box(&bytes)).expect("csv reads"))
    });
    group.throughput(Throughput::Elements(rows as u64));
    group.bench_function(BenchmarkId::new("analyze_day", rows), |b| {
        b.iter(|| analyze(black_box(&dataset), &dashboard).expect("report"))
    });
    group.bench_function(BenchmarkId::new("analyze_month_filtered", rows), |b| {
        b.iter(|| analyze(black_box(&dataset), &reaggregation).expect("report"))
    });
    group.finish();

    // Re-aggregation: the page's worker keeps the frame and calls `report_from` per view. With
    // the users file loaded, as the page has the sample's, so the funnel and retention read
    // signups.
    let mut dataset = Dataset::new(table);
    for (name, bytes) in &lookups {
        dataset.add_lookup(read_csv(name, bytes).expect("lookup reads"));
    }
    let frame = build_frame(&dataset, &dashboard).expect("frame");
    let views = [
        ("day", r#"{"grain": "day"}"#),
        (
            "month_app_qr",
            r#"{"grain": "month", "filters": [{"column": "channel", "values": ["app_qr"]}]}"#,
        ),
        (
            "range_30d",
            r#"{"grain": "day", "range": {"from": "2025-09-01", "to": "2025-09-30"}}"#,
        ),
        (
            "segment_channel",
            r#"{"grain": "day", "segment": "channel"}"#,
        ),
    ];
    let mut group = c.benchmark_group("report_from");
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(rows as u64));
    for (name, json) in views {
        let view = options(json);
        assert!(frame.fits(&view), "{name}: a view option changed the frame");
        // The first report fills the frame's caches (coded columns...), as the page's first
        // report does; the bench times the ones after it.
        report_from(&dataset, &frame, &view).expect("report");
        group.bench_function(BenchmarkId::new(name, rows), |b| {
            b.iter(|| report_from(black_box(&dataset), &frame, &view).expect("report"))
        });
    }
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
