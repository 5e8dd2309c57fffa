//! Crosses the wasm boundary under Node: the `Workbench` the page's worker uses, called the way
//! the worker calls it. Run by `make test-wasm` (wasm-bindgen-test-runner).
#![cfg(target_arch = "wasm32")]
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

use paymetrics::wasm::Workbench;

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

const BASIC: &[u8] = include_bytes!("data/basic.csv");

#[wasm_bindgen_test]
fn loads_a_file_and_reports_the_hand_computed_totals() {
    let mut workbench = Workbench::new();
    let loaded = workbench.load_csv("basic.csv", BASIC).unwrap();
    assert_eq!(get(&loaded, "rows_read").as_f64(), Some(12.0));

    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    let totals = get(&report, "totals");
    // tests/expected.md: 12 attempts; 9 successful (7 success, T006 refunded, T009 disputed)
    // worth 214.00, less 12.50 refunded: tpv = 201.50; payers U1, U2, U4, U5.
    assert_eq!(get(&totals, "tpv").as_f64(), Some(201.5));
    assert_eq!(get(&totals, "txn_count").as_f64(), Some(12.0));
    assert_eq!(get(&totals, "active_payers").as_f64(), Some(4.0));
    assert_eq!(get(&report, "tz").as_string().as_deref(), Some("+08:00"));
    let series = js_sys::Array::from(&get(&report, "series"));
    assert_eq!(series.length(), 3);
}

#[wasm_bindgen_test]
fn options_cross_as_plain_objects() {
    let mut workbench = Workbench::new();
    workbench.load_csv("basic.csv", BASIC).unwrap();
    let options: JsValue =
        js_sys::JSON::parse(r#"{"grain":"week","tz":"+00:00","mapping":{"user_id":null}}"#)
            .unwrap();
    let report = workbench.report(options).unwrap();
    assert_eq!(get(&report, "grain").as_string().as_deref(), Some("week"));
    // A metric that needs an unmapped column is null, not zero or missing.
    assert!(get(&get(&report, "totals"), "active_payers").is_null());
}

#[wasm_bindgen_test]
fn errors_become_js_errors_with_readable_text() {
    let mut workbench = Workbench::new();
    let error = workbench.load_csv("empty.csv", b"").unwrap_err();
    let message = get(&error, "message").as_string().unwrap();
    assert_eq!(message, "empty.csv: the file is empty");

    let bad_options = js_sys::JSON::parse(r#"{"grain":"fortnight"}"#).unwrap();
    workbench.load_csv("basic.csv", BASIC).unwrap();
    assert!(workbench.report(bad_options).is_err());

    // A misspelt option is refused, not silently ignored.
    let misspelt = js_sys::JSON::parse(r#"{"grian":"week"}"#).unwrap();
    let error: JsValue = workbench.report(misspelt).unwrap_err().into();
    let message = get(&error, "message").as_string().unwrap();
    assert!(message.contains("unknown field `grian`"), "{message}");
}

#[wasm_bindgen_test]
fn the_sample_is_generated_in_the_browser_core() {
    let mut workbench = Workbench::new();
    let loaded = workbench.load_sample(2_000, 42).unwrap();
    assert_eq!(get(&loaded, "rows_read").as_f64(), Some(2_000.0));
    let lookups = js_sys::Array::from(&get(&loaded, "lookups"));
    assert_eq!(
        lookups.length(),
        2,
        "users and merchants come with the sample"
    );
    let users = workbench.sample_file("users").unwrap();
    assert!(users.starts_with("user_id,"));
    assert!(workbench.sample_file("nope").is_err());
}

#[wasm_bindgen_test]
fn lookups_join_across_the_boundary() {
    let mut workbench = Workbench::new();
    workbench
        .load_csv("payments.csv", include_bytes!("data/olist/payments.csv"))
        .unwrap();
    workbench
        .load_lookup("orders.csv", include_bytes!("data/olist/orders.csv"))
        .unwrap();
    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    let suggested = js_sys::Array::from(&get(&report, "suggested_joins"));
    assert_eq!(suggested.length(), 1);
    let options = js_sys::JSON::parse(
        r#"{"joins":[{"file":"orders.csv","on":"order_id"}],"derive":["double = payment_value * 2"]}"#,
    )
    .unwrap();
    let report = workbench.report(options).unwrap();
    // tests/expected.md, "olist": tpv 220.00 over 6 loaded payments.
    assert_eq!(get(&get(&report, "totals"), "tpv").as_f64(), Some(220.0));
    assert_eq!(
        get(&get(&report, "totals"), "txn_count").as_f64(),
        Some(6.0)
    );
}

#[wasm_bindgen_test]
fn ranges_filters_and_segments_cross_the_boundary() {
    let mut workbench = Workbench::new();
    workbench.load_csv("basic.csv", BASIC).unwrap();
    let options = js_sys::JSON::parse(
        r#"{"range":{"from":"2025-07-03","to":"2025-07-03"},"week_start":"sunday",
            "filters":[{"column":"channel","values":["pos"],"exclude":true}],
            "segment":"funding_source"}"#,
    )
    .unwrap();
    let report = workbench.report(options).unwrap();
    // 07-03 without pos: T009 (disputed), T010, T011 (failed); 07-02 without pos: T005, T006, T008.
    assert_eq!(
        get(&get(&report, "totals"), "txn_count").as_f64(),
        Some(3.0)
    );
    assert_eq!(
        get(&get(&report, "previous_totals"), "txn_count").as_f64(),
        Some(3.0)
    );
    // Segments on 07-03: card (T009, T011) and wallet (T010).
    let segments = js_sys::Array::from(&get(&get(&report, "segments"), "values"));
    assert_eq!(segments.length(), 2);
    assert_eq!(
        get(&segments.get(0), "value").as_string().as_deref(),
        Some("card")
    );
    // A misspelt column is a readable error, not a panic.
    let bad = js_sys::JSON::parse(r#"{"segment":"chanel"}"#).unwrap();
    let message = format!("{:?}", workbench.report(bad).unwrap_err());
    assert!(message.contains("chanel"), "{message}");
}

/// The wasm build has no GB18030 tables: the core recognises the file and asks the host to
/// decode it, as the worker does with the browser's TextDecoder (here: Node's).
#[wasm_bindgen_test]
fn a_gb18030_file_is_decoded_by_the_host_and_keeps_its_encoding_name() {
    let gbk: &[u8] = include_bytes!("data/wallets/alipay-gbk.csv");
    let mut workbench = Workbench::new();
    let error = workbench.load_csv("alipay-gbk.csv", gbk).unwrap_err();
    assert_eq!(
        get(&error, "name").as_string().as_deref(),
        Some("NeedsDecoding")
    );
    let encoding = get(&error, "encoding").as_string().unwrap();
    assert_eq!(encoding, "GB18030");

    let decoder_class = get(&js_sys::global(), "TextDecoder");
    let decoder = js_sys::Reflect::construct(
        &decoder_class.into(),
        &js_sys::Array::of1(&JsValue::from_str(&encoding)),
    )
    .unwrap();
    let decode: js_sys::Function = get(&decoder, "decode").into();
    let text = decode
        .call1(&decoder, &js_sys::Uint8Array::from(gbk))
        .unwrap()
        .as_string()
        .unwrap();
    let loaded = workbench
        .load_decoded_csv("alipay-gbk.csv", text.as_bytes(), &encoding)
        .unwrap();
    assert_eq!(get(&loaded, "rows_read").as_f64(), Some(5.0));
    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    let quality = get(&report, "quality");
    assert_eq!(
        get(&quality, "encoding").as_string().as_deref(),
        Some("GB18030")
    );
    assert_eq!(get(&quality, "header_line").as_f64(), Some(25.0));
}
