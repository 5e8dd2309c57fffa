//! The activation funnel and cohort retention of the hand-built fixture `tests/data/cohorts/`
//! (transactions.csv + users.csv), compared with the numbers derived by hand in
//! tests/expected-cohorts.md, for both bases and in UTC and UTC+8 (two payments at 23:30 UTC are
//! the next day in UTC+8, which moves them to another week or month).
//!
//! Expected values are written as the fractions of the derivation ("5/7"); `null` is a cell whose
//! period has not elapsed.
use paymetrics::join::JoinSpec;
use paymetrics::options::{CohortBasis, DateRange};
use paymetrics::stream::{stream_report, Batching};
use paymetrics::{analyze, read_csv, Dataset, Options};
use serde_json::{json, Value};
use std::path::Path;

fn fixture(name: &str) -> paymetrics::RawTable {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cohorts")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_csv(name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The report's JSON for the fixture; `users` loads and joins users.csv.
fn report(users: bool, options: Options) -> Value {
    let mut dataset = Dataset::new(fixture("transactions.csv"));
    let mut options = options;
    if users {
        dataset.add_lookup(fixture("users.csv"));
        options.joins = vec![JoinSpec {
            file: "users.csv".into(),
            on: "user_id".into(),
            key: None,
        }];
    }
    let report = analyze(&dataset, &options).expect("the fixture is analysed");
    let json = serde_json::to_value(&report).expect("the report serialises");
    // The streamed report (`report --stream`: the payers' days folded in batches of 2 rows)
    // has the same funnel and retention, so every hand value below checks it too.
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cohorts/transactions.csv"),
    )
    .unwrap();
    let mut open = || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(&bytes[..])) };
    let tiny = Batching {
        rows: 2,
        chunk_bytes: 5,
        keep_values: 3,
    };
    let streamed = stream_report(
        "transactions.csv",
        &mut open,
        &dataset.lookups,
        &options,
        tiny,
        &mut |_| {},
    )
    .expect("the fixture is streamed");
    let streamed = serde_json::to_value(&streamed).expect("the report serialises");
    for part in ["funnel", "retention"] {
        assert_eq!(streamed[part], json[part], "{part}, streamed");
    }
    json
}

fn options(tz: &str) -> Options {
    Options {
        tz: Some(tz.into()),
        ..Default::default()
    }
}

/// A hand value: a number, null, or a fraction written "a/b".
fn expected_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.split_once('/') {
            Some((a, b)) => Some(a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?),
            None => s.trim().parse::<f64>().ok(),
        },
        _ => None,
    }
}

/// Compares `actual` with `expected` recursively: numbers to 1e-12 (fractions "a/b" allowed in
/// `expected`), everything else exactly; objects must have the same keys.
fn assert_matches(path: &str, actual: &Value, expected: &Value) {
    match (actual, expected) {
        (Value::Number(a), e) if expected_number(e).is_some() => {
            let a = a.as_f64().unwrap_or(f64::NAN);
            let e = expected_number(e).unwrap_or(f64::NAN);
            assert!((a - e).abs() <= 1e-12, "{path}: got {a}, expected {e}");
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "{path}: length of {actual} vs {expected}");
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_matches(&format!("{path}[{i}]"), a, e);
            }
        }
        (Value::Object(a), Value::Object(e)) => {
            let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(e), "{path}: keys");
            for (key, e) in e {
                assert_matches(&format!("{path}.{key}"), &a[key], e);
            }
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// A funnel step as in docs/report.md, from the hand values.
fn step(id: &str, users: u64, step: &str, overall: &str) -> Value {
    let name = match id {
        "signup" => "Signed up",
        "funded" => "Linked a card / funded",
        "first_payment" => "First payment",
        _ => "Second payment",
    };
    json!({ "id": id, "name": name, "users": users,
            "step_conversion": step, "overall_conversion": overall })
}

fn funnel(
    basis: &str,
    window: u32,
    cohort: (&str, &str),
    excluded: u64,
    steps: Vec<Value>,
) -> Value {
    json!({ "basis": basis, "window_days": window,
            "cohort": { "from": cohort.0, "to": cohort.1 },
            "excluded_recent": excluded, "steps": steps })
}

/// A cohort row from its size and the hand counts ("-" = not elapsed): shares are count / size.
fn cohort(start: &str, size: u64, active: &str, later: &str) -> Value {
    let cells = |counts: &str| -> Vec<Option<u64>> {
        counts
            .split_whitespace()
            .map(|c| c.parse::<u64>().ok())
            .collect()
    };
    let shares = |counts: &[Option<u64>]| -> Vec<Value> {
        counts
            .iter()
            .map(|c| c.map_or(Value::Null, |c| json!(format!("{c}/{size}"))))
            .collect()
    };
    let (active, later) = (cells(active), cells(later));
    json!({ "start": start, "size": size, "classic": shares(&active),
            "unbounded": shares(&later), "active": active })
}

fn fractions(text: &str) -> Value {
    Value::Array(text.split(',').map(|f| json!(f.trim())).collect())
}

fn table(cohorts: Vec<Value>, classic: &str, unbounded: &str) -> Value {
    json!({ "cohorts": cohorts,
            "average": { "classic": fractions(classic), "unbounded": fractions(unbounded) } })
}

// ---- Funnel -----------------------------------------------------------------------------------

#[test]
fn signup_funnel_utc() {
    let json = report(true, options("+00:00"));
    let expected = funnel(
        "signup",
        30,
        ("2025-07-01", "2025-08-16"),
        3,
        vec![
            step("signup", 10, "1", "1"),
            step("funded", 8, "8/10", "8/10"),
            step("first_payment", 7, "7/8", "7/10"),
            step("second_payment", 5, "5/7", "5/10"),
        ],
    );
    assert_matches("funnel", &json["funnel"], &expected);
}

#[test]
fn signup_funnel_utc_plus_8() {
    let json = report(true, options("+08:00"));
    let expected = funnel(
        "signup",
        30,
        ("2025-07-01", "2025-08-16"),
        4,
        vec![
            step("signup", 9, "1", "1"),
            step("funded", 7, "7/9", "7/9"),
            step("first_payment", 6, "6/7", "6/9"),
            step("second_payment", 3, "3/6", "3/9"),
        ],
    );
    assert_matches("funnel", &json["funnel"], &expected);
}

#[test]
fn signup_funnel_with_a_14_day_window() {
    let json = report(
        true,
        Options {
            funnel_days: Some(14),
            ..options("+00:00")
        },
    );
    let expected = funnel(
        "signup",
        14,
        ("2025-07-01", "2025-09-01"),
        1,
        vec![
            step("signup", 12, "1", "1"),
            step("funded", 10, "10/12", "10/12"),
            step("first_payment", 9, "9/10", "9/12"),
            step("second_payment", 3, "3/9", "3/12"),
        ],
    );
    assert_matches("funnel", &json["funnel"], &expected);
}

fn august_on() -> Option<DateRange> {
    Some(DateRange {
        from: "2025-08-01".into(),
        to: "2025-09-14".into(),
    })
}

#[test]
fn signup_funnel_and_retention_over_a_range() {
    let json = report(
        true,
        Options {
            range: august_on(),
            ..options("+00:00")
        },
    );
    let expected = funnel(
        "signup",
        30,
        ("2025-08-01", "2025-08-16"),
        3,
        vec![
            step("signup", 3, "1", "1"),
            step("funded", 2, "2/3", "2/3"),
            step("first_payment", 2, "1", "2/3"),
            step("second_payment", 2, "1", "2/3"),
        ],
    );
    assert_matches("funnel", &json["funnel"], &expected);
    let week = table(
        vec![
            cohort("2025-07-28", 1, "1 0 0 0 1 0 0", "1 1 1 1 1 0 0"),
            cohort("2025-08-04", 1, "0 0 0 0 0 0 -", "0 0 0 0 0 0 -"),
            cohort("2025-08-11", 2, "0 2 1 0 1 - -", "2 2 2 1 1 - -"),
            cohort("2025-09-01", 1, "1 0 - - - - -", "1 0 - - - - -"),
            cohort("2025-09-08", 1, "0 - - - - - -", "0 - - - - - -"),
        ],
        "2/6, 2/5, 1/4, 0/4, 2/4, 0/2, 0/1",
        "4/6, 3/5, 3/4, 2/4, 2/4, 0/2, 0/1",
    );
    let month = table(
        vec![
            cohort("2025-08", 4, "3", "3"),
            cohort("2025-09", 2, "-", "-"),
        ],
        "3/4",
        "3/4",
    );
    let expected = json!({ "basis": "signup", "week": week, "month": month });
    assert_matches("retention", &json["retention"], &expected);
}

#[test]
fn first_payment_funnel_without_a_users_file() {
    for (tz, second) in [("+00:00", 8), ("+08:00", 7)] {
        let json = report(false, options(tz));
        let ratio = format!("{second}/9");
        let expected = funnel(
            "first_payment",
            30,
            ("2025-07-01", "2025-08-16"),
            3,
            vec![
                step("first_payment", 9, "1", "1"),
                step("second_payment", second, &ratio, &ratio),
            ],
        );
        assert_matches(&format!("funnel {tz}"), &json["funnel"], &expected);
    }
}

// ---- Retention --------------------------------------------------------------------------------

/// Signup-basis retention; `utc8` moves u05's and u08's 23:30 UTC payments to the next day.
fn signup_retention(utc8: bool) -> Value {
    let w4 = if utc8 {
        cohort(
            "2025-07-28",
            1,
            "1 0 0 0 0 1 0 - - - -",
            "1 1 1 1 1 1 0 - - - -",
        )
    } else {
        cohort(
            "2025-07-28",
            1,
            "1 0 0 0 1 0 0 - - - -",
            "1 1 1 1 1 0 0 - - - -",
        )
    };
    let week = table(
        vec![
            cohort(
                "2025-06-30",
                3,
                "2 2 0 0 1 1 0 0 0 1 0",
                "3 3 2 2 2 1 1 1 1 1 0",
            ),
            cohort(
                "2025-07-07",
                2,
                "1 1 0 1 0 0 0 0 0 0 -",
                "1 1 1 1 0 0 0 0 0 0 -",
            ),
            cohort(
                "2025-07-14",
                2,
                "1 1 0 0 0 2 0 0 0 - -",
                "2 2 2 2 2 2 0 0 0 - -",
            ),
            w4,
            cohort(
                "2025-08-04",
                1,
                "0 0 0 0 0 0 - - - - -",
                "0 0 0 0 0 0 - - - - -",
            ),
            cohort(
                "2025-08-11",
                2,
                "0 2 1 0 1 - - - - - -",
                "2 2 2 1 1 - - - - - -",
            ),
            cohort(
                "2025-09-01",
                1,
                "1 0 - - - - - - - - -",
                "1 0 - - - - - - - - -",
            ),
            cohort(
                "2025-09-08",
                1,
                "0 - - - - - - - - - -",
                "0 - - - - - - - - - -",
            ),
        ],
        if utc8 {
            "6/13, 6/12, 1/11, 1/11, 2/11, 4/9, 0/8, 0/7, 0/7, 1/5, 0/3"
        } else {
            "6/13, 6/12, 1/11, 1/11, 3/11, 3/9, 0/8, 0/7, 0/7, 1/5, 0/3"
        },
        if utc8 {
            "10/13, 9/12, 8/11, 7/11, 6/11, 4/9, 1/8, 1/7, 1/7, 1/5, 0/3"
        } else {
            "10/13, 9/12, 8/11, 7/11, 6/11, 3/9, 1/8, 1/7, 1/7, 1/5, 0/3"
        },
    );
    let july_n1 = if utc8 { "5" } else { "4" };
    let month = table(
        vec![
            cohort(
                "2025-07",
                7,
                &format!("6 {july_n1}"),
                &format!("6 {july_n1}"),
            ),
            cohort("2025-08", 4, "3 -", "3 -"),
            cohort("2025-09", 2, "- -", "- -"),
        ],
        &format!("9/11, {july_n1}/7"),
        &format!("9/11, {july_n1}/7"),
    );
    json!({ "basis": "signup", "week": week, "month": month })
}

/// First-payment-basis retention.
fn first_payment_retention(utc8: bool) -> Value {
    let w4 = if utc8 {
        cohort(
            "2025-07-28",
            1,
            "1 0 0 0 0 1 0 - - - -",
            "1 1 1 1 1 1 0 - - - -",
        )
    } else {
        cohort(
            "2025-07-28",
            1,
            "1 0 0 0 1 0 0 - - - -",
            "1 1 1 1 1 0 0 - - - -",
        )
    };
    let week = table(
        vec![
            cohort(
                "2025-06-30",
                4,
                "4 1 1 1 1 1 1 0 0 1 0",
                "4 4 4 4 3 2 2 1 1 1 0",
            ),
            cohort(
                "2025-07-07",
                2,
                "2 1 0 1 0 0 0 0 0 0 -",
                "2 1 1 1 0 0 0 0 0 0 -",
            ),
            cohort(
                "2025-07-14",
                1,
                "1 0 0 0 0 1 0 0 0 - -",
                "1 1 1 1 1 1 0 0 0 - -",
            ),
            cohort(
                "2025-07-21",
                1,
                "1 0 0 0 1 0 0 0 - - -",
                "1 1 1 1 1 0 0 0 - - -",
            ),
            w4,
            cohort(
                "2025-08-18",
                2,
                "2 1 0 1 - - - - - - -",
                "2 2 1 1 - - - - - - -",
            ),
            cohort(
                "2025-09-01",
                1,
                "1 0 - - - - - - - - -",
                "1 0 - - - - - - - - -",
            ),
        ],
        if utc8 {
            "12/12, 3/12, 1/11, 3/11, 2/9, 3/9, 1/9, 0/8, 0/7, 1/6, 0/4"
        } else {
            "12/12, 3/12, 1/11, 3/11, 3/9, 2/9, 1/9, 0/8, 0/7, 1/6, 0/4"
        },
        if utc8 {
            "12/12, 10/12, 9/11, 9/11, 6/9, 4/9, 2/9, 1/8, 1/7, 1/6, 0/4"
        } else {
            "12/12, 10/12, 9/11, 9/11, 6/9, 3/9, 2/9, 1/8, 1/7, 1/6, 0/4"
        },
    );
    let july_n1 = if utc8 { "6" } else { "5" };
    let month = table(
        vec![
            cohort(
                "2025-07",
                8,
                &format!("8 {july_n1}"),
                &format!("8 {july_n1}"),
            ),
            cohort("2025-08", 3, "3 -", "3 -"),
            cohort("2025-09", 1, "- -", "- -"),
        ],
        &format!("11/11, {july_n1}/8"),
        &format!("11/11, {july_n1}/8"),
    );
    json!({ "basis": "first_payment", "week": week, "month": month })
}

#[test]
fn signup_retention_in_both_zones() {
    for (tz, utc8) in [("+00:00", false), ("+08:00", true)] {
        let json = report(true, options(tz));
        assert_matches(
            &format!("retention {tz}"),
            &json["retention"],
            &signup_retention(utc8),
        );
    }
}

#[test]
fn first_payment_retention_with_and_without_the_users_file() {
    for (tz, utc8) in [("+00:00", false), ("+08:00", true)] {
        // Chosen with the users file joined (the funnel stays on the signup basis)...
        let json = report(
            true,
            Options {
                cohort: Some(CohortBasis::FirstPayment),
                ..options(tz)
            },
        );
        assert_matches(
            &format!("retention {tz} chosen"),
            &json["retention"],
            &first_payment_retention(utc8),
        );
        assert_eq!(json["funnel"]["basis"], "signup", "{tz}");
        // ...and the only basis without it.
        let json = report(false, options(tz));
        assert_matches(
            &format!("retention {tz} without users"),
            &json["retention"],
            &first_payment_retention(utc8),
        );
    }
}

#[test]
fn the_unreadable_signup_is_left_out_with_a_warning() {
    let json = report(true, options("+00:00"));
    let mut strings = Vec::new();
    collect_strings(&json, &mut strings);
    let wanted = "users.csv: signup_at: 1 row left out of the funnel and retention";
    assert!(
        strings
            .iter()
            .any(|s| s.starts_with(wanted) && s.contains("line 16 column 2")),
        "no warning about u16's signup in the report"
    );
}

fn collect_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
