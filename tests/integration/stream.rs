//! Streamed reports (`paymetrics report --stream`, `paymetrics::stream`): the hand-computed
//! numbers of every fixture, and a file read in many batches and several reads giving the
//! numbers of reading it whole. (The DuckDB oracle checks streamed reports of a generated file
//! too; `tests/memory.rs` checks that their memory does not grow with the rows.)
use super::{assert_fixture_cases, cli, data};
use paymetrics::join::JoinSpec;
use paymetrics::options::{CohortBasis, DateRange, Filter};
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::stream::{stream_report, Batching};
use paymetrics::{analyze, read_csv, Dataset, Grain, Options, Report};

/// The streamed report of `bytes`, joined to `lookups`, read in `batching`.
fn streamed(
    name: &str,
    bytes: &[u8],
    lookups: &[paymetrics::RawTable],
    options: &Options,
    batching: Batching,
) -> Report {
    let mut open = || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(bytes)) };
    stream_report(name, &mut open, lookups, options, batching, &mut |_| {}).unwrap()
}

/// Batches of 2 rows, chunks of 5 bytes, and no value kept before its bin is narrowed to a
/// few: every percentile takes several reads.
const TINY: Batching = Batching {
    rows: 2,
    chunk_bytes: 5,
    keep_values: 3,
};

#[test]
fn a_streamed_report_has_the_hand_computed_numbers_of_every_fixture() {
    assert_fixture_cases(&|name, options| {
        let bytes = std::fs::read(data(name)).unwrap();
        streamed(name, &bytes, &[], options, TINY)
    });
}

/// Every metric of the catalog, whole and per bucket, and the file's accounting, as reading it
/// whole gives them: counts exactly, sums within 1e-9 (they are added in another order).
fn assert_same_metrics(what: &str, streamed: &Report, whole: &Report) {
    let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => a == b,
    };
    let compare = |label: &str, a: &paymetrics::report::Values, b: &paymetrics::report::Values| {
        assert_eq!(a.len(), b.len(), "{what} {label}");
        for (id, value) in a {
            assert!(
                close(*value, b[id]),
                "{what} {label} {id}: streamed {value:?}, whole {:?}",
                b[id]
            );
        }
    };
    compare("totals", &streamed.totals, &whole.totals);
    // Custom metrics: each definition's outcome, and their values in the metrics' list (their
    // values in each place are compared with the catalog's, as `totals`, `previous_totals`,
    // the series and the segments hold both).
    assert_eq!(streamed.custom, whole.custom, "{what}: custom metrics");
    assert_eq!(
        streamed.metrics.len(),
        whole.metrics.len(),
        "{what}: metrics"
    );
    for (a, b) in streamed.metrics.iter().zip(&whole.metrics) {
        assert_eq!((&a.id, a.unit), (&b.id, b.unit), "{what}");
        assert!(close(a.value, b.value), "{what} {}: value", b.id);
        assert!(close(a.previous, b.previous), "{what} {}: previous", b.id);
    }
    compare(
        "previous",
        &streamed.previous_totals,
        &whole.previous_totals,
    );
    assert_eq!(streamed.series.len(), whole.series.len(), "{what} buckets");
    for (a, b) in streamed.series.iter().zip(&whole.series) {
        assert_eq!(a.bucket, b.bucket, "{what}");
        compare(&a.bucket, &a.values, &b.values);
    }
    let (a, b) = (&streamed.quality, &whole.quality);
    assert_eq!(
        (a.rows_read, a.rows_loaded, a.rows_skipped),
        (b.rows_read, b.rows_loaded, b.rows_skipped),
        "{what}: rows"
    );
    assert_eq!(a.skipped, b.skipped, "{what}: skipped rows");
    assert_eq!(a.lines_skipped, b.lines_skipped, "{what}: lines skipped");
    assert_eq!(streamed.statuses, whole.statuses, "{what}: statuses");
    assert_eq!(
        (&streamed.tz, &streamed.range, &streamed.previous),
        (&whole.tz, &whole.range, &whole.previous),
        "{what}: period"
    );
    assert_eq!(streamed.mapping, whole.mapping, "{what}: mapping");
    assert_eq!(streamed.joins, whole.joins, "{what}: joins");
    assert_eq!(streamed.derived, whole.derived, "{what}: derived columns");
    // What the page offers to filter by, counted over every loaded row in both.
    assert_eq!(streamed.dimensions, whole.dimensions, "{what}: dimensions");
    // The funnel and retention follow the payers' days (and the users file's signups).
    assert_eq!(streamed.funnel, whole.funnel, "{what}: funnel");
    assert_eq!(streamed.retention, whole.retention, "{what}: retention");
    // The histograms: the same edges (from the same extremes and percentiles) and counts.
    assert_eq!(streamed.histograms, whole.histograms, "{what}: histograms");
    // The segments: the same groups, and each its metrics and series.
    match (&streamed.segments, &whole.segments) {
        (Some(a), Some(b)) => {
            assert_eq!(a.column, b.column, "{what}: segment column");
            let labels = |s: &paymetrics::report::Segments| {
                s.values
                    .iter()
                    .map(|v| (v.value.clone(), v.rows))
                    .collect::<Vec<_>>()
            };
            assert_eq!(labels(a), labels(b), "{what}: segments");
            for (x, y) in a.values.iter().zip(&b.values) {
                let label = format!("segment {}", y.value);
                compare(&label, &x.totals, &y.totals);
                assert_eq!(x.series.len(), y.series.len(), "{what} {label}: buckets");
                for (p, q) in x.series.iter().zip(&y.series) {
                    assert_eq!(p.bucket, q.bucket, "{what} {label}");
                    compare(&format!("{label} {}", q.bucket), &p.values, &q.values);
                }
            }
        }
        (a, b) => assert_eq!(a.is_some(), b.is_some(), "{what}: segments"),
    }
    assert_eq!(
        streamed.suggested_joins, whole.suggested_joins,
        "{what}: suggested joins"
    );
    assert_eq!(
        streamed.breakdowns.len(),
        whole.breakdowns.len(),
        "{what}: mixes"
    );
    for (a, b) in streamed.breakdowns.iter().zip(&whole.breakdowns) {
        let what = format!("{what} mix {}", b.dimension);
        assert_eq!((a.dimension, &a.column), (b.dimension, &b.column), "{what}");
        assert_eq!(a.values.len(), b.values.len(), "{what}: values");
        for (x, y) in a.values.iter().zip(&b.values) {
            assert_eq!(
                (&x.value, x.attempts, x.successes),
                (&y.value, y.attempts, y.successes),
                "{what}"
            );
            for (m, n) in [
                (Some(x.volume), Some(y.volume)),
                (x.success_rate, y.success_rate),
                (x.count_share, y.count_share),
                (x.volume_share, y.volume_share),
            ] {
                assert!(close(m, n), "{what} {}: {m:?} against {n:?}", y.value);
            }
        }
        assert_eq!(a.series.len(), b.series.len(), "{what}: buckets");
        for (x, y) in a.series.iter().zip(&b.series) {
            assert_eq!((&x.bucket, &x.counts), (&y.bucket, &y.counts), "{what}");
            for (m, n) in x.volumes.iter().zip(&y.volumes) {
                assert!(
                    close(Some(*m), Some(*n)),
                    "{what} {}: {m} against {n}",
                    y.bucket
                );
            }
        }
    }
}

/// Custom metrics of every aggregate, with filters, catalog metrics and arithmetic, and two
/// that are refused (an unknown column, a syntax error).
fn custom_metrics() -> Vec<String> {
    [
        r#"app_success = sum(amount where status = "success" and channel = "app_qr")"#,
        "payers = count_distinct(user_id)",
        r#"card_payers = count_distinct(user_id where funding_source = "credit_card")"#,
        r#"failed = count(where status = "failed")"#,
        "with_fee = count(fee)",
        "latency_median = median(latency_ms)",
        "latency_p95 = p95(latency_ms)",
        r#"amount_p90 = p90(amount where status = "success")"#,
        r#"card_share = share(where funding_source = "credit_card")"#,
        r#"online_share = share(amount where channel = "online")"#,
        r#"avg_fee = avg(fee where channel = "app_qr")"#,
        "smallest = min(amount)",
        "largest = max(amount) / count_distinct(user_id)",
        "tpv_of_amount = round(tpv / sum(amount), 4)",
        "unknown = sum(no_such_column)",
        "broken = sum(amount",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_file_read_in_many_batches_gives_the_numbers_of_reading_it_whole() {
    let sample = generate(&SampleOptions {
        rows: 8_000,
        seed: 5,
    });
    let mut csv = sample.transactions;
    let users = read_csv("users.csv", sample.users.as_bytes()).unwrap();
    // A bad row and a row with an unreadable amount part way through, and summary lines at
    // the end: each batch keeps the file's accounting.
    let at = csv.match_indices('\n').nth(5_432).unwrap().0 + 1;
    csv.insert_str(at, "only,three,fields\n");
    csv.push_str("Total,,,,\nExported by a test\n");
    let bytes = csv.as_bytes();
    let whole = |options: &Options| {
        let mut dataset = Dataset::new(read_csv("t.csv", bytes).unwrap());
        dataset.add_lookup(users.clone());
        analyze(&dataset, options).unwrap()
    };
    let joined = || JoinSpec {
        file: "users.csv".into(),
        on: "user_id".into(),
        key: None,
    };
    let batching = Batching {
        rows: 499,
        chunk_bytes: 4096,
        keep_values: 300,
    };
    let views = [
        Options::default(),
        Options {
            grain: Grain::Week,
            tz: Some("Asia/Shanghai".into()),
            sla_hours: Some(20.0),
            segment: Some("channel".into()),
            metrics: custom_metrics(),
            ..Options::default()
        },
        Options {
            filters: vec![
                Filter {
                    column: "channel".into(),
                    values: vec!["app_qr".into(), "online".into()],
                    exclude: false,
                },
                Filter {
                    column: "funding_source".into(),
                    values: vec!["credit_card".into()],
                    exclude: true,
                },
            ],
            grain: Grain::Week,
            ..Options::default()
        },
        // The users file joined (regions, KYC levels), a derived column and a filter on it.
        Options {
            joins: vec![joined()],
            derive: vec!["big = amount >= 300".into()],
            filters: vec![Filter {
                column: "big".into(),
                values: vec!["false".into()],
                exclude: false,
            }],
            // A joined column of more than ten values: "(other)" groups the rest.
            segment: Some("region".into()),
            // Custom metrics that read the joined and the derived columns.
            metrics: vec![
                "regions = count_distinct(region)".into(),
                r#"small_share = share(amount where big = "false")"#.into(),
                "amount_p75 = p75(amount)".into(),
            ],
            ..Options::default()
        },
        Options {
            joins: vec![joined()],
            grain: Grain::Month,
            range: Some(DateRange {
                from: "2025-08-01".into(),
                to: "2025-08-31".into(),
            }),
            large_amount: Some(500.0),
            metrics: custom_metrics(),
            ..Options::default()
        },
    ];
    for options in &views {
        let what = format!(
            "{:?} {:?} {:?}",
            options.grain, options.range, options.filters
        );
        let report = streamed(
            "t.csv",
            bytes,
            std::slice::from_ref(&users),
            options,
            batching,
        );
        assert_same_metrics(&what, &report, &whole(options));
        // A custom metric with a value in total (above 0) and in each segment.
        let has_values = |id: &str| {
            assert!(report.totals[id].is_some_and(|v| v > 0.0), "{what}: {id}");
            for segment in report.segments.iter().flat_map(|s| &s.values) {
                assert!(
                    segment.totals[id].is_some(),
                    "{what}: {id} {}",
                    segment.value
                );
            }
        };
        if options.metrics.len() == 3 {
            // Read from the joined and the derived columns.
            ["regions", "small_share", "amount_p75"]
                .into_iter()
                .for_each(has_values);
        } else if !options.metrics.is_empty() {
            // The custom metrics have values, in total, per bucket and per segment.
            let refused: Vec<&str> = (report.custom.iter())
                .filter(|c| c.error.is_some())
                .map(|c| c.definition.as_str())
                .collect();
            assert_eq!(
                refused,
                ["unknown = sum(no_such_column)", "broken = sum(amount"],
                "{what}"
            );
            for id in [
                "payers",
                "latency_p95",
                "amount_p90",
                "online_share",
                "smallest",
            ] {
                has_values(id);
                let point = &report.series[report.series.len() / 2];
                assert!(point.values[id].is_some_and(|v| v > 0.0), "{what}: {id}");
            }
        }
        // The users file's signups make the cohorts (the funnel and retention compared above).
        let basis = report.funnel.as_ref().map(|funnel| funnel.basis);
        assert_eq!(basis, Some(CohortBasis::Signup), "{what}");
        assert!(report.quality.rows_skipped >= 1, "{what}: the bad row");
        let note = report.quality.warnings.last().unwrap();
        assert!(note.starts_with("streamed: the file was read "), "{note}");
        assert!(
            !note.contains("read 2 times"),
            "{what}: more than 2 reads: {note}"
        );
    }
}

#[test]
fn what_a_streamed_report_cannot_give_is_refused_with_the_reason() {
    let csv = generate(&SampleOptions { rows: 50, seed: 1 }).transactions;
    let mut open =
        || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(csv.as_bytes())) };
    let mut refused = |options: Options| {
        stream_report(
            "t.csv",
            &mut open,
            &[],
            &options,
            Batching::default(),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string()
    };
    // A segment on a column that is not there: the in-memory message.
    let error = refused(Options {
        segment: Some("shop".into()),
        ..Options::default()
    });
    assert!(
        error.contains("cannot segment by \"shop\": no such column"),
        "{error}"
    );

    // One currency, then another, without exchange rates: lines of one length, read a line
    // at a time after the first 64 KiB (all in dollars), so that no batch holds both.
    let line = |i: usize, n: usize, code: &str| {
        format!("{i}{n:04},2025-07-01T10:00:00Z,u{n:04},1.5,{code},success\n")
    };
    let mut mixed = String::from("id,created_at,user_id,amount,currency,status\n");
    for (i, code) in ["USD", "CNY"].iter().enumerate() {
        for n in 0..3000 {
            mixed.push_str(&line(i, n, code));
        }
    }
    let mut open =
        || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(mixed.as_bytes())) };
    let batching = Batching {
        rows: 1,
        chunk_bytes: line(0, 0, "USD").len(),
        ..Batching::default()
    };
    let error = stream_report(
        "m.csv",
        &mut open,
        &[],
        &Options::default(),
        batching,
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("m.csv: the data's currency changes from USD to CNY part way through"),
        "{error}"
    );
}

#[test]
fn cli_report_stream_prints_the_report_and_the_speed_from_a_file_or_standard_input() {
    let out = cli()
        .args(["report", "--stream", "--json"])
        .arg(data("basic.csv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let whole = cli()
        .args(["report", "--json", "--quiet"])
        .arg(data("basic.csv"))
        .output()
        .unwrap();
    let whole: serde_json::Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(json["totals"], whole["totals"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("rows, read 2 times in") && stderr.contains("MB/s)"),
        "{stderr}"
    );

    // Standard input is copied to a temporary file by the first read, for the second; the copy
    // is removed at the end.
    let child = cli()
        .args(["report", "--stream", "--json", "-"])
        .stdin(std::fs::File::open(data("basic.csv")).unwrap())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let spool = format!("paymetrics-stdin-{}-", child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let piped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(piped["totals"], whole["totals"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("streamed -: "));
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&spool))
        .collect();
    assert!(
        left.is_empty(),
        "the copy of standard input is left: {left:?}"
    );
}

/// A host that keeps the fold between views (the page) reads the file once for a change of
/// grain or range, and twice again when the data options change; every view has the numbers of
/// reading the file whole.
#[test]
fn a_kept_fold_serves_a_change_of_grain_or_range_in_one_read() {
    use paymetrics::stream::stream_report_keeping;
    let sample = generate(&SampleOptions {
        rows: 6_000,
        seed: 9,
    });
    // Every 40th payment not settled (settled_at, the 12th column, empty): the first view's
    // second read judges them against the SLA, once.
    let csv: Vec<String> = sample
        .transactions
        .lines()
        .enumerate()
        .map(|(i, line)| match i % 40 {
            39 => {
                let mut cells: Vec<&str> = line.split(',').collect();
                cells[11] = "";
                cells.join(",")
            }
            _ => line.to_string(),
        })
        .collect();
    let csv = csv.join("\n") + "\n";
    let bytes = csv.as_bytes();
    let whole = |options: &Options| {
        analyze(&Dataset::new(read_csv("t.csv", bytes).unwrap()), options).unwrap()
    };
    let unsettled = whole(&Options::default()).totals["settlement_sla_breach"];
    assert!(unsettled.is_some_and(|share| share > 0.01), "{unsettled:?}");
    let batching = Batching {
        rows: 700,
        chunk_bytes: 4096,
        ..Batching::default()
    };
    let channel = Filter {
        column: "channel".into(),
        values: vec!["app_qr".into()],
        exclude: false,
    };
    let views = [
        (Options::default(), 2),
        (
            Options {
                grain: Grain::Week,
                ..Options::default()
            },
            1,
        ),
        (
            Options {
                grain: Grain::Month,
                range: Some(DateRange {
                    from: "2025-08-01".into(),
                    to: "2025-08-31".into(),
                }),
                ..Options::default()
            },
            1,
        ),
        (
            Options {
                filters: vec![channel.clone()],
                ..Options::default()
            },
            2,
        ),
        (
            Options {
                filters: vec![channel],
                grain: Grain::Week,
                ..Options::default()
            },
            1,
        ),
        (
            Options {
                sla_hours: Some(20.0),
                ..Options::default()
            },
            2,
        ),
        // A segment: two reads more, for the segments' folds and then their ranks; at another
        // grain the file's fold (with the segment column's counts) is kept, the segments' are
        // not.
        (
            Options {
                segment: Some("channel".into()),
                ..Options::default()
            },
            4,
        ),
        (
            Options {
                segment: Some("channel".into()),
                grain: Grain::Week,
                ..Options::default()
            },
            3,
        ),
        // Without the segment: the file's fold is kept.
        (
            Options {
                grain: Grain::Week,
                ..Options::default()
            },
            1,
        ),
        // Another segment on the kept fold: its column is counted in the percentiles' read.
        (
            Options {
                segment: Some("funding_source".into()),
                grain: Grain::Week,
                ..Options::default()
            },
            3,
        ),
    ];
    let mut kept = None;
    for (options, reads) in &views {
        // Custom metrics too: kept per day with the fold, their percentiles found in its reads.
        let options = &Options {
            metrics: custom_metrics(),
            ..options.clone()
        };
        let what = format!(
            "{:?} {:?} {:?}",
            options.grain, options.range, options.filters
        );
        let mut opened = 0;
        let mut open = || -> std::io::Result<Box<dyn std::io::Read + '_>> {
            opened += 1;
            Ok(Box::new(bytes))
        };
        let source = ("t.csv", &mut open as &mut paymetrics::stream::Open, &[][..]);
        let report =
            stream_report_keeping(source, options, batching, &mut |_| {}, &mut kept).unwrap();
        assert_eq!(opened, *reads, "{what}: reads");
        assert_same_metrics(&what, &report, &whole(options));
        let basis = report.retention.as_ref().map(|retention| retention.basis);
        assert_eq!(basis, Some(CohortBasis::FirstPayment), "{what}");
    }
}

#[test]
fn a_streamed_file_checks_custom_metrics_without_reading_it() {
    use paymetrics::stream::stream_report_keeping;
    let csv = generate(&SampleOptions { rows: 300, seed: 4 }).transactions;
    let mut open =
        || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(csv.as_bytes())) };
    let options = Options {
        derive: vec!["big = amount >= 300".into()],
        ..Options::default()
    };
    let mut kept = None;
    let source = ("t.csv", &mut open as &mut paymetrics::stream::Open, &[][..]);
    stream_report_keeping(
        source,
        &options,
        Batching::default(),
        &mut |_| {},
        &mut kept,
    )
    .unwrap();
    let kept = kept.expect("the fold is kept");
    let definitions = [
        r#"big_share = share(where big = "true")"#,
        "per_payer = sum(amount) / count_distinct(user_id)",
        "typo = sum(amuont)",
        "tpv = count()",
    ]
    .map(String::from);
    let outcomes = kept.check_custom_metrics(&definitions);
    let errors: Vec<Option<&str>> = (outcomes.iter())
        .map(|o| o.error.as_ref().map(|e| e.message.as_str()))
        .collect();
    assert_eq!(errors[0], None, "a derived column");
    assert_eq!(errors[1], None);
    assert_eq!(
        errors[2],
        Some("at column 12: unknown column \"amuont\" — did you mean \"amount\"?")
    );
    assert!(errors[3].unwrap().contains("already a catalog metric"));
    assert_eq!(
        outcomes[1].formula.as_deref(),
        Some("sum(amount) / count_distinct(user_id)")
    );
}
