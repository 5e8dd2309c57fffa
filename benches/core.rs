//! The native core on 100,000 generated rows (`cargo bench --bench core`): reading the CSV bytes
//! into a table, the report of the core dashboard (daily grain, whole file), and a second report
//! of the same dataset with another grain and a filter (the re-aggregation the page does when a
//! control changes). The browser comparison with DuckDB-WASM is `make bench` (bench/run.mjs).
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::{analyze, read_csv, Dataset, Options};
use std::hint::black_box;
use std::time::Duration;

const ROWS: usize = 100_000;

fn core(c: &mut Criterion) {
    let csv = generate(&SampleOptions {
        rows: ROWS,
        seed: 1,
    })
    .transactions;
    let bytes = csv.as_bytes();
    let dataset = Dataset::new(read_csv("transactions.csv", bytes).expect("sample reads"));
    let dashboard = Options::default();
    // Through serde, as the page's options arrive: only the public `Options` type is needed.
    let reaggregation: Options = serde_json::from_str(
        r#"{"grain": "month", "filters": [{"column": "channel", "values": ["app_qr"]}]}"#,
    )
    .expect("options parse");

    let mut group = c.benchmark_group("core");
    // Each iteration takes a good fraction of a second: 10 flat samples keep a run to ~1 minute.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(BenchmarkId::new("read_csv", ROWS), |b| {
        b.iter(|| read_csv("transactions.csv", black_box(bytes)).expect("sample reads"))
    });
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(BenchmarkId::new("analyze_day", ROWS), |b| {
        b.iter(|| analyze(black_box(&dataset), &dashboard).expect("report"))
    });
    group.bench_function(BenchmarkId::new("analyze_month_filtered", ROWS), |b| {
        b.iter(|| analyze(black_box(&dataset), &reaggregation).expect("report"))
    });
    group.finish();
}

criterion_group!(benches, core);
criterion_main!(benches);
