//! The page's SQL export (issue 6): the speed build's `sqlScript` writes the script from the report
//! the page shows and the options it was computed under (`sql::script_from`), without the dataset.
//! These tests take the page's path on the native core (the report as JSON, the fields the page
//! sends, the options as the JSON the page sends) and check that it gives, byte for byte, the
//! script `paymetrics sql` prints (`export_sql`) for the same file and view.
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::sql::{export_sql, script_from, Dialect, ScriptInput};
use paymetrics::{analyze, read_csv, Dataset, Options};
use serde_json::{json, Value};

const DIALECTS: [Dialect; 3] = [Dialect::DuckDb, Dialect::Spark, Dialect::BigQuery];

/// The fields of a report that share-ui.js sends with its SQL request.
const SENT: [&str; 8] = [
    "file",
    "tz",
    "mapping",
    "columns",
    "statuses",
    "currencies",
    "currency",
    "custom",
];

fn sample() -> Dataset {
    let tables = generate(&SampleOptions {
        rows: 3_000,
        seed: 11,
    });
    let mut dataset = Dataset::new(
        read_csv("sample-transactions.csv", tables.transactions.as_bytes()).expect("the sample"),
    );
    dataset.add_lookup(read_csv("sample-users.csv", tables.users.as_bytes()).expect("users"));
    dataset.add_lookup(
        read_csv("sample-merchants.csv", tables.merchants.as_bytes()).expect("merchants"),
    );
    dataset
}

fn fixture(name: &str) -> Dataset {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let bytes = std::fs::read(&path).expect("the fixture");
    Dataset::new(read_csv(name, &bytes).expect("the fixture reads"))
}

/// Checks the page's path against the CLI's for one view (`options`: the page's JSON).
#[track_caller]
fn same_script(dataset: &Dataset, options: Value) -> String {
    // The page's options reach the core as JSON text (src/wasm.rs, options_of).
    let options: Options = serde_json::from_value(options.clone()).expect("page options");
    let report = analyze(dataset, &options).expect("the report");
    // The report reaches the page as JSON (src/wasm.rs, Workbench::report).
    let report_json: Value = serde_json::to_value(&report).expect("report JSON");
    let sent: serde_json::Map<String, Value> = SENT
        .iter()
        .map(|field| {
            let value = report_json.get(*field).cloned().unwrap_or(Value::Null);
            (field.to_string(), value)
        })
        .collect();
    let from_fields: ScriptInput = serde_json::from_value(Value::Object(sent)).expect("fields");
    // The whole report reads as the same input (other fields are ignored).
    let from_report: ScriptInput = serde_json::from_value(report_json).expect("whole report");
    assert_eq!(from_fields, from_report);
    assert_eq!(from_fields, ScriptInput::of(&report));
    let mut duckdb = String::new();
    for dialect in DIALECTS {
        let cli = export_sql(dataset, &options, dialect).expect("the CLI's script");
        let page = script_from(&from_fields, &options, dialect).expect("the page's script");
        assert_eq!(page, cli, "{dialect:?}");
        if dialect == Dialect::DuckDb {
            duckdb = page;
        }
    }
    duckdb
}

#[test]
fn page_sql_equals_the_cli_for_a_monthly_filtered_segmented_view_with_a_custom_metric() {
    let sql = same_script(
        &sample(),
        json!({
            "grain": "month",
            "tz": "Asia/Shanghai",
            "mapping": {},
            "joins": [],
            "filters": [{ "column": "channel", "values": ["app_qr", "web"], "exclude": false }],
            "segment": "funding_source",
            "metrics": ["app_qr_tpv = sum(amount where status = \"success\" and channel = \"app_qr\")"],
        }),
    );
    assert!(sql.contains("-- Segment: funding_source"));
    assert!(sql.contains("-- Filter: channel in app_qr, web."));
    assert!(sql.contains("-- Custom metric: app_qr_tpv = "));
    assert!(sql.contains("AS \"app_qr_tpv\""));
    assert!(sql.contains("-- Reporting time zone: Asia/Shanghai; grain: month"));
    assert!(sql.contains("-- paymetrics: segment_series"));
}

#[test]
fn page_sql_equals_the_cli_for_ranges_offsets_exclusions_weeks_and_overrides() {
    let sql = same_script(
        &fixture("basic.csv"),
        json!({
            "grain": "week",
            "tz": "-05:30",
            "week_start": "sunday",
            "range": { "from": "2025-07-01", "to": "2025-07-02" },
            "filters": [{ "column": "funding_source", "values": ["cash"], "exclude": true }],
            "statuses": { "pending": "failed" },
            "mapping": { "fee": null },
            "large_amount": 50,
            "metrics": [
                "web_share = share(where channel = \"web\")",
                "broken = sum(amuont)",
                "per_payer = tpv / active_payers",
            ],
        }),
    );
    assert!(sql.contains("-- Period: 2025-07-01 to 2025-07-02"));
    assert!(sql.contains("-- Left out: custom metric broken ("));
    assert!(sql.contains("-- Left out: take_rate (needs fee)."));
}

#[test]
fn page_sql_equals_the_cli_with_exchange_rates_and_the_data_s_own_zone() {
    // The time zone found in the data (no tz option) and money converted with the user's rates.
    same_script(
        &fixture("basic.csv"),
        json!({ "grain": "day", "rates": { "USD": 7.1 }, "currency": "CNY", "segment": "channel" }),
    );
    // Currencies read from signs in the amounts, wall-clock times, a raw status in the data.
    same_script(
        &fixture("locale/mixed_currencies.csv"),
        json!({ "grain": "day", "tz": "Europe/Berlin" }),
    );
}

#[test]
fn a_request_that_is_not_a_report_is_refused_with_what_is_missing() {
    let error = serde_json::from_value::<ScriptInput>(json!({ "file": "x.csv" }))
        .expect_err("not a report");
    assert!(error.to_string().contains("missing field"), "{error}");
}
