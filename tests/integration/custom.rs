//! Custom metrics (issue 6) on tests/data/basic.csv. Every expected number is worked out by hand
//! from the file's twelve rows; in +08:00 they fall on three days (day, id, payer, amount,
//! status, channel, funding source, fee, latency):
//! 07-01: T001 U1 7.25 success app card 0.05 110 · T002 U1 10 success app card 0.10 120 ·
//!        T003 U2 25.5 success web wallet 0.25 95 · T004 U3 40 failed app card - 300
//! 07-02: T005 U4 100 success web card 1.00 150 · T006 U1 12.5 refunded app wallet 0.12 130 ·
//!        T007 (no payer) 5 success pos cash 0.00 80 · T008 U2 60 pending web card - 200
//! 07-03: T009 U5 30 disputed app card 0.30 140 · T010 U2 15.75 success web wallet 0.15 100 ·
//!        T011 U3 20 failed app card - 250 · T012 U1 8 success pos card 0.08 90
//! The amounts add up to 334; web rows to 201.25. Sorted latencies: 80 90 95 100 110 120 130
//! 140 150 200 250 300.
use paymetrics::metrics::{Tier, Unit};
use paymetrics::options::{DateRange, Filter};
use paymetrics::stream::{stream_report, Batching};
use paymetrics::{analyze, read_csv, Dataset, Options, Report};

fn basic(metrics: &[&str], change: impl FnOnce(&mut Options)) -> Report {
    let [(_, whole), _] = both(metrics, change);
    whole
}

/// The report of basic.csv read whole, and streamed (`report --stream`) in batches of two rows
/// with its percentiles found over several reads: the numbers below hold for both.
fn both(metrics: &[&str], change: impl FnOnce(&mut Options)) -> [(&'static str, Report); 2] {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/basic.csv");
    let bytes = std::fs::read(path).unwrap();
    let table = read_csv("basic.csv", &bytes).unwrap();
    let mut options = Options {
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        ..Options::default()
    };
    change(&mut options);
    let mut open = || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(&bytes[..])) };
    let batching = Batching {
        rows: 2,
        chunk_bytes: 7,
        keep_values: 2,
    };
    let streamed =
        stream_report("basic.csv", &mut open, &[], &options, batching, &mut |_| {}).unwrap();
    [
        ("whole", analyze(&Dataset::new(table), &options).unwrap()),
        ("streamed", streamed),
    ]
}

#[track_caller]
fn assert_value(what: &str, actual: Option<f64>, expected: Option<f64>) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert!(
            (a - e).abs() <= 1e-9 * e.abs().max(1.0),
            "{what}: got {a}, expected {e}"
        ),
        (a, e) => assert_eq!(a, e, "{what}"),
    }
}

/// The metric's total and its value on each of the three days.
#[track_caller]
fn assert_metric(report: &Report, id: &str, total: f64, days: [Option<f64>; 3]) {
    assert_value(&format!("{id} total"), report.totals[id], Some(total));
    assert_eq!(report.series.len(), 3);
    for (point, expected) in report.series.iter().zip(days) {
        let what = format!("{id} on {}", point.bucket);
        assert_value(&what, point.values[id], expected);
    }
}

const METRICS: [&str; 10] = [
    r#"app_success = sum(amount where status = "success" and channel = "app")"#,
    "payers = count_distinct(user_id)",
    r#"failed = count(where status = "failed")"#,
    "latency_median = median(latency_ms)",
    r#"card_share = share(where funding_source = "card")"#,
    r#"web_share = share(amount where channel = "web")"#,
    "latency_p90 = p90(latency_ms)",
    r#"avg_app_fee = avg(fee where channel = "app")"#,
    "tpv_of_amount = tpv / sum(amount)",
    "max_per_payer = max(amount) / count_distinct(user_id)",
];

#[test]
fn every_aggregate_in_total_and_per_day() {
    for (how, report) in both(&METRICS, |_| {}) {
        println!("read {how}");
        every_aggregate_has_its_hand_computed_values(&report);
    }
}

fn every_aggregate_has_its_hand_computed_values(report: &Report) {
    assert!(
        report.custom.iter().all(|c| c.error.is_none()),
        "{:?}",
        report.custom
    );
    assert_metric(
        report,
        "app_success",
        17.25,
        [Some(17.25), Some(0.0), Some(0.0)],
    );
    assert_metric(report, "payers", 5.0, [Some(3.0), Some(3.0), Some(4.0)]);
    assert_metric(report, "failed", 2.0, [Some(1.0), Some(0.0), Some(1.0)]);
    // Day medians: (110+120)/2, (130+150)/2, (100+140)/2.
    assert_metric(
        report,
        "latency_median",
        125.0,
        [Some(115.0), Some(140.0), Some(120.0)],
    );
    assert_metric(
        report,
        "card_share",
        8.0 / 12.0,
        [Some(0.75), Some(0.5), Some(0.75)],
    );
    // Web amounts per day: 25.5 of 82.75; 160 of 177.5; 15.75 of 73.75.
    assert_metric(
        report,
        "web_share",
        201.25 / 334.0,
        [Some(25.5 / 82.75), Some(160.0 / 177.5), Some(15.75 / 73.75)],
    );
    // quantile_cont: position 0.9 × 11 = 9.9 between 200 and 250.
    assert_value("latency_p90", report.totals["latency_p90"], Some(245.0));
    // App fees: 0.05, 0.10, 0.12, 0.30 (T004 and T011 have none).
    assert_value(
        "avg_app_fee",
        report.totals["avg_app_fee"],
        Some(0.57 / 4.0),
    );
    // TPV: successful amounts 214 less the refunded 12.5.
    assert_value(
        "tpv_of_amount",
        report.totals["tpv_of_amount"],
        Some(201.5 / 334.0),
    );
    assert_value("max_per_payer", report.totals["max_per_payer"], Some(20.0));
}

#[test]
fn custom_metrics_are_listed_with_units_after_the_catalog() {
    let report = basic(&METRICS, |_| {});
    let custom: Vec<_> = report
        .metrics
        .iter()
        .filter(|m| m.tier == Tier::Custom)
        .collect();
    assert_eq!(custom.len(), METRICS.len());
    assert_eq!(report.metrics.last().unwrap().id, "max_per_payer");
    let unit = |id: &str| report.metrics.iter().find(|m| m.id == id).unwrap().unit;
    assert_eq!(unit("app_success"), Unit::Currency);
    assert_eq!(unit("payers"), Unit::Count);
    assert_eq!(unit("card_share"), Unit::Ratio);
    assert_eq!(unit("latency_median"), Unit::Milliseconds);
    assert_eq!(unit("tpv_of_amount"), Unit::Number);
    assert_eq!(
        report.custom[2].formula.as_deref(),
        Some(r#"count(where status = "failed")"#)
    );
}

#[test]
fn filters_segments_and_the_previous_period_apply_to_custom_metrics() {
    for read in [0, 1] {
        println!("read {}", ["whole", "streamed"][read]);
        filters_segments_and_the_previous_period_apply(read);
    }
}

fn filters_segments_and_the_previous_period_apply(read: usize) {
    let metrics = [
        "payers = count_distinct(user_id)",
        r#"failed = count(where status = "failed")"#,
    ];
    let basic = |metrics: &[&str], change: &dyn Fn(&mut Options)| {
        let [whole, streamed] = both(metrics, change);
        [whole, streamed][read].1.clone()
    };
    let app = basic(&metrics, &|o| {
        o.filters = vec![Filter {
            column: "channel".into(),
            values: vec!["app".into()],
            exclude: false,
        }]
    });
    // App rows' payers: U1, U3, U1, U5, U3.
    assert_value("payers in app", app.totals["payers"], Some(3.0));
    assert_value("failed in app", app.totals["failed"], Some(2.0));

    let by_channel = basic(&metrics, &|o| o.segment = Some("channel".into()));
    let segments = by_channel.segments.as_ref().unwrap();
    let web = segments.values.iter().find(|s| s.value == "web").unwrap();
    assert_value("payers in web", web.totals["payers"], Some(2.0));
    assert_value("failed in web", web.totals["failed"], Some(0.0));
    assert_value(
        "web payers on 07-02",
        web.series[1].values["payers"],
        Some(2.0),
    );

    let ranged = basic(&metrics, &|o| {
        o.range = Some(DateRange {
            from: "2025-07-02".into(),
            to: "2025-07-03".into(),
        })
    });
    assert_value("payers 07-02..03", ranged.totals["payers"], Some(5.0));
    assert_value("payers 07-01", ranged.previous_totals["payers"], Some(3.0));
    let failed = ranged.metrics.iter().find(|m| m.id == "failed").unwrap();
    assert_eq!(
        (failed.value, failed.previous, failed.change),
        (Some(1.0), Some(1.0), Some(0.0))
    );
}

#[test]
fn a_bad_definition_says_why_and_the_others_still_compute() {
    for (how, report) in both(
        &[
            "typo = sum(amuont)",
            "bare = amount",
            "tpv = count()",
            "n = count()",
            "n = count()",
            r#"s = share(channel = "app")"#,
            "nested = sum(sum(amount))",
            r#"outside = count() where status = "failed""#,
            "ok = count()",
        ],
        |_| {},
    ) {
        println!("read {how}");
        a_bad_definition_says_why(&report);
    }
}

fn a_bad_definition_says_why(report: &Report) {
    let error = |index: usize| {
        report.custom[index]
            .error
            .as_ref()
            .map(|e| e.message.as_str())
    };
    assert_eq!(
        error(0),
        Some("at column 12: unknown column \"amuont\" — did you mean \"amount\"?")
    );
    assert!(
        error(1).unwrap().contains("amount is a column"),
        "{:?}",
        error(1)
    );
    assert!(error(2).unwrap().contains("already a catalog metric"));
    assert_eq!(error(3), None);
    assert!(error(4)
        .unwrap()
        .contains("already a custom metric named n"));
    assert!(error(5).unwrap().contains("share() needs a where"));
    assert!(error(6).unwrap().contains("cannot be inside another"));
    assert!(error(7).unwrap().contains("goes inside its aggregates"));
    assert_value("ok", report.totals["ok"], Some(12.0));
    assert_value("n", report.totals["n"], Some(12.0));
    assert!(!report.totals.contains_key("typo"));
}

/// `count()` counts the rows the catalog's `txn_count` counts, in total and in every bucket, on
/// every fixture: rows the typing skipped (no time, a bad date) are left out of both.
#[test]
fn count_of_rows_matches_the_catalog_on_every_fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.ends_with(".csv") || name.ends_with(".tsv")) {
            continue;
        }
        let Ok(table) = read_csv(&name, &std::fs::read(&path).unwrap()) else {
            continue;
        };
        let options = Options {
            metrics: vec!["rows = count()".into()],
            ..Options::default()
        };
        let Ok(report) = analyze(&Dataset::new(table), &options) else {
            continue;
        };
        assert_eq!(report.totals["rows"], report.totals["txn_count"], "{name}");
        for point in &report.series {
            assert_eq!(
                point.values["rows"], point.values["txn_count"],
                "{name} {}",
                point.bucket
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} fixtures");
}

/// The page checks a definition as it is typed: the same errors as the report, without a value.
#[test]
fn a_definition_is_checked_without_computing_it() {
    use paymetrics::report::{build_frame, check_custom_metrics};
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/basic.csv");
    let table = read_csv("basic.csv", &std::fs::read(path).unwrap()).unwrap();
    let dataset = Dataset::new(table);
    let frame = build_frame(&dataset, &Options::default()).unwrap();
    let definitions: Vec<String> = [
        r#"ok = share(where channel = "app")"#,
        "typo = p95(latncy_ms)",
        "x = 1 +",
    ]
    .iter()
    .map(|d| d.to_string())
    .collect();
    let outcomes = check_custom_metrics(&dataset, &frame, &definitions);
    assert_eq!(outcomes[0].error, None);
    assert_eq!(
        outcomes[0].formula.as_deref(),
        Some(r#"share(where channel = "app")"#)
    );
    let typo = outcomes[1].error.as_ref().unwrap();
    assert_eq!(typo.suggestion.as_deref(), Some("latency_ms"));
    assert_eq!((typo.start, typo.end), (11, 20));
    assert!(outcomes[2]
        .error
        .as_ref()
        .unwrap()
        .message
        .starts_with("at column 8:"));
}

/// The CLI prints custom metrics in their own tier, and says why one was not computed.
#[test]
fn the_cli_prints_custom_metrics_and_their_errors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/basic.csv");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_paymetrics"))
        .args(["report", path, "--quiet"])
        .args(["--metric", r#"app_share = share(where channel = "app")"#])
        .args(["--metric", "bad = sum(amuont)"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    // Six of the twelve rows are app payments.
    assert!(text.contains("\ncustom\n  app_share "), "{text}");
    assert!(text.contains("50.00%"), "{text}");
    assert!(text.contains(
        "custom metrics not computed\n  bad = sum(amuont)\n    at column 11: unknown column \"amuont\" — did you mean \"amount\"?"
    ));
}
