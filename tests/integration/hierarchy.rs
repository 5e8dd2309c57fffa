//! The selection options of issue 4 — date range with the previous period, filters, segments,
//! week start — on tests/data/basic.csv. Every expected number is worked out by hand from the
//! file's twelve rows (listed in tests/expected.md); in +08:00 they fall on three days:
//! 07-01: T001 U1 7.25 success app card · T002 U1 10 success app card ·
//!        T003 U2 25.5 success web wallet · T004 U3 40 failed app card
//! 07-02: T005 U4 100 success web card · T006 U1 12.5 refunded app wallet ·
//!        T007 (no user) 5 success pos cash · T008 U2 60 pending web card
//! 07-03: T009 U5 30 disputed app card · T010 U2 15.75 success web wallet ·
//!        T011 U3 20 failed app card · T012 U1 8 success pos card
use paymetrics::options::{DateRange, Filter};
use paymetrics::time::WeekStart;
use paymetrics::{analyze, read_csv, Dataset, ErrorKind, Grain, Options, Report};

fn basic(options: Options) -> Report {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/basic.csv");
    let table = read_csv("basic.csv", &std::fs::read(path).unwrap()).unwrap();
    analyze(&Dataset::new(table), &options).unwrap()
}

fn total(report: &Report, id: &str) -> f64 {
    report.totals[id].unwrap_or_else(|| panic!("{id} is null"))
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(1.0)
}

#[track_caller]
fn assert_total(report: &Report, id: &str, expected: f64) {
    let actual = total(report, id);
    assert!(
        close(actual, expected),
        "{id}: got {actual}, expected {expected}"
    );
}

fn range(from: &str, to: &str) -> Option<DateRange> {
    Some(DateRange {
        from: from.into(),
        to: to.into(),
    })
}

#[test]
fn a_range_is_compared_with_as_many_days_just_before() {
    let report = basic(Options {
        range: range("2025-07-03", "2025-07-03"),
        ..Options::default()
    });
    let dates = |d: &Option<paymetrics::report::Dates>| {
        let d = d.as_ref().unwrap();
        (d.from.clone(), d.to.clone())
    };
    assert_eq!(
        dates(&report.range),
        ("2025-07-03".into(), "2025-07-03".into())
    );
    assert_eq!(
        dates(&report.previous),
        ("2025-07-02".into(), "2025-07-02".into())
    );
    assert_eq!(
        dates(&report.data_range),
        ("2025-07-01".into(), "2025-07-03".into())
    );
    // 07-03: T009 (disputed), T010, T012 successful, T011 failed.
    assert_total(&report, "txn_count", 4.0);
    assert_total(&report, "success_rate", 3.0 / 4.0);
    assert_total(&report, "tpv", 30.0 + 15.75 + 8.0);
    assert_total(&report, "active_payers", 3.0); // U5, U2, U1
    assert_total(&report, "new_payers", 1.0); // U5; U1 and U2 first paid on 07-01
    assert_total(&report, "dispute_rate_bps", 10_000.0 / 3.0);
    // Trailing windows look back across the range's start: MAU on 07-03 counts the payers of
    // 07-01..07-03 (U1, U2 | U4, U1 | U5, U2, U1); daily actives 2, 2, 3.
    assert_total(&report, "dau", 3.0);
    assert_total(&report, "wau", 4.0);
    assert_total(&report, "mau", 4.0);
    assert_total(&report, "stickiness", (7.0 / 3.0) / 4.0);
    // 07-02: T005, T006 (refunded), T007 successful; T008 pending is not decided.
    let previous = |id: &str| report.previous_totals[id].unwrap();
    assert!(close(previous("txn_count"), 4.0));
    assert!(close(previous("success_rate"), 1.0));
    assert!(close(previous("tpv_gross"), 100.0 + 12.5 + 5.0));
    assert!(close(previous("tpv"), 100.0 + 5.0));
    assert!(close(previous("new_payers"), 1.0)); // U4
    let tpv = report.metrics.iter().find(|m| m.id == "tpv").unwrap();
    assert_eq!(tpv.previous, Some(105.0));
    assert!(close(tpv.change.unwrap(), (53.75 - 105.0) / 105.0));
    let count = report.metrics.iter().find(|m| m.id == "txn_count").unwrap();
    assert_eq!(count.change, Some(0.0));
    // The series covers the range only.
    let buckets: Vec<&str> = report.series.iter().map(|p| p.bucket.as_str()).collect();
    assert_eq!(buckets, ["2025-07-03"]);
}

#[test]
fn without_a_range_there_is_no_previous_period() {
    let report = basic(Options::default());
    assert!(report.previous.is_none());
    assert!(report.previous_totals.is_empty());
    // The defaults in force are echoed.
    let params = &report.params;
    assert_eq!(
        (params.large_amount, params.sla_hours, params.funnel_days),
        (50_000.0, 48.0, 30)
    );
    assert!(report
        .metrics
        .iter()
        .all(|m| m.previous.is_none() && m.change.is_none()));
}

#[test]
fn filters_keep_or_exclude_values() {
    let app = basic(Options {
        filters: vec![Filter {
            column: "channel".into(),
            values: vec!["app".into()],
            exclude: false,
        }],
        ..Options::default()
    });
    // T001 T002 T004 T006 T009 T011: four successful (T006 refunded, T009 disputed), two failed.
    assert_total(&app, "txn_count", 6.0);
    assert_total(&app, "success_rate", 4.0 / 6.0);
    assert_total(&app, "tpv_gross", 7.25 + 10.0 + 12.5 + 30.0);
    assert_total(&app, "tpv", 7.25 + 10.0 + 30.0);
    let not_app = basic(Options {
        filters: vec![Filter {
            column: "channel".into(),
            values: vec!["app".into()],
            exclude: true,
        }],
        ..Options::default()
    });
    // T003 T005 T007 T008 T010 T012: five successful, one pending.
    assert_total(&not_app, "txn_count", 6.0);
    assert_total(&not_app, "success_rate", 1.0);
    assert_total(&not_app, "tpv_gross", 25.5 + 100.0 + 5.0 + 15.75 + 8.0);
}

#[test]
fn segments_break_every_metric_down_by_a_column() {
    let report = basic(Options {
        segment: Some("funding_source".into()),
        ..Options::default()
    });
    let segments = report.segments.as_ref().unwrap();
    assert_eq!(segments.column, "funding_source");
    let values: Vec<(&str, u64)> = segments
        .values
        .iter()
        .map(|s| (s.value.as_str(), s.rows))
        .collect();
    assert_eq!(values, [("card", 8), ("wallet", 3), ("cash", 1)]);
    let tpv_gross: Vec<f64> = segments
        .values
        .iter()
        .map(|s| s.totals["tpv_gross"].unwrap())
        .collect();
    let expected = [7.25 + 10.0 + 100.0 + 30.0 + 8.0, 25.5 + 12.5 + 15.75, 5.0];
    for (got, want) in tpv_gross.iter().zip(expected) {
        assert!(close(*got, want), "{got} vs {want}");
    }
    assert!(close(
        segments.values[1].totals["tpv"].unwrap(),
        25.5 + 15.75
    ));
    assert_eq!(segments.values[0].series.len(), 3);
}

#[test]
fn weeks_start_on_the_chosen_day() {
    // 2025-07-01 is a Tuesday: its week starts on Monday 06-30 or on Sunday 06-29.
    for (week_start, label) in [
        (WeekStart::Monday, "2025-06-30"),
        (WeekStart::Sunday, "2025-06-29"),
    ] {
        let report = basic(Options {
            grain: Grain::Week,
            week_start,
            ..Options::default()
        });
        let buckets: Vec<&str> = report.series.iter().map(|p| p.bucket.as_str()).collect();
        assert_eq!(buckets, [label]);
    }
}

#[test]
fn bad_selections_are_clear_errors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/basic.csv");
    let table = read_csv("basic.csv", &std::fs::read(path).unwrap()).unwrap();
    let dataset = Dataset::new(table);
    let error = |options: Options| {
        let error = analyze(&dataset, &options).unwrap_err();
        assert!(matches!(error.kind, ErrorKind::InvalidOption(_)));
        error.to_string()
    };
    let message = error(Options {
        segment: Some("chanel".into()),
        ..Options::default()
    });
    assert!(
        message.contains("\"chanel\"") && message.contains("channel"),
        "{message}"
    );
    let message = error(Options {
        range: range("2025-07-03", "2025-07-01"),
        ..Options::default()
    });
    assert!(message.contains("after it ends"), "{message}");
    let message = error(Options {
        range: range("3 July", "2025-07-01"),
        ..Options::default()
    });
    assert!(message.contains("\"3 July\""), "{message}");
}

#[test]
fn mixes_and_segments_list_only_values_left_by_the_filters() {
    let report = basic(Options {
        filters: vec![Filter {
            column: "channel".into(),
            values: vec!["app".into(), "pos".into()],
            exclude: false,
        }],
        segment: Some("channel".into()),
        ..Options::default()
    });
    // app: T001 T002 T004 T006 T009 T011 (6 rows); pos: T007 T012 (2 rows); web is filtered out.
    let segments: Vec<(&str, u64)> = report
        .segments
        .as_ref()
        .unwrap()
        .values
        .iter()
        .map(|s| (s.value.as_str(), s.rows))
        .collect();
    assert_eq!(segments, [("app", 6), ("pos", 2)]);
    let channel = report
        .breakdowns
        .iter()
        .find(|b| b.dimension == "channel")
        .unwrap();
    let mix: Vec<(&str, u64, u64)> = channel
        .values
        .iter()
        .map(|v| (v.value.as_str(), v.attempts, v.successes))
        .collect();
    // By volume: app 7.25 + 10 + 12.5 + 30 = 59.75; pos 5 + 8 = 13.
    assert_eq!(mix, [("app", 6, 4), ("pos", 2, 2)]);
}

#[test]
fn a_frame_serves_every_view_without_rereading() {
    use paymetrics::report::{build_frame, report_from};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hierarchy/small.csv"
    );
    let table = read_csv("small.csv", &std::fs::read(path).unwrap()).unwrap();
    let dataset = Dataset::new(table);
    let frame = build_frame(&dataset, &Options::default()).unwrap();
    let views = [
        Options::default(),
        Options {
            grain: Grain::Week,
            week_start: WeekStart::Sunday,
            segment: Some("channel".into()),
            ..Options::default()
        },
        // Another grain on the same rows and segment: the period's and segments' series only,
        // their totals kept from the view before (`Want::SeriesOnly`).
        Options {
            grain: Grain::Month,
            segment: Some("channel".into()),
            ..Options::default()
        },
        Options {
            segment: Some("channel".into()),
            ..Options::default()
        },
        Options {
            filters: vec![Filter {
                column: "funding_source".into(),
                values: vec!["card".into()],
                exclude: true,
            }],
            large_amount: Some(100.0),
            ..Options::default()
        },
    ];
    // The frame keeps the rows and payers of the last filters: the same filters under another
    // grain and segment reuse them, other filters replace them, and an error keeps them.
    let card = |exclude| Filter {
        column: "funding_source".into(),
        values: vec!["card".into()],
        exclude,
    };
    let views = views.into_iter().chain([
        Options {
            filters: vec![card(true)],
            grain: Grain::Month,
            segment: Some("channel".into()),
            ..Options::default()
        },
        Options {
            filters: vec![card(false)],
            ..Options::default()
        },
        Options {
            filters: vec![card(true), card(false)],
            grain: Grain::Week,
            ..Options::default()
        },
        Options {
            filters: vec![card(true)],
            ..Options::default()
        },
    ]);
    let unknown = Options {
        filters: vec![Filter {
            column: "no_such_column".into(),
            values: vec!["x".into()],
            exclude: false,
        }],
        ..Options::default()
    };
    assert!(report_from(&dataset, &frame, &unknown).is_err());
    for view in views {
        assert!(frame.fits(&view), "view options do not change the frame");
        let reused = report_from(&dataset, &frame, &view).unwrap();
        let fresh = analyze(&dataset, &view).unwrap();
        assert_eq!(reused, fresh);
    }
    // Data options do.
    let other = Options {
        tz: Some("+00:00".into()),
        ..Options::default()
    };
    assert!(!frame.fits(&other));
}
