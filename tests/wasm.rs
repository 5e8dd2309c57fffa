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
    assert_read_as_the_gbk_alipay_export(&mut workbench);
}

// ---- streaming uploads (the worker's loadFile: a File read slice by slice) -----------------------

use paymetrics::wasm::CsvUpload;

/// The error a call threw, as (name, message).
fn error_parts(error: &JsValue) -> (String, String) {
    (
        get(error, "name").as_string().unwrap_or_default(),
        get(error, "message").as_string().unwrap_or_default(),
    )
}

#[wasm_bindgen_test]
fn a_file_pushed_in_chunks_loads_like_the_whole_file() {
    let mut workbench = Workbench::new();
    let mut upload = CsvUpload::new("basic.csv", None, None, None);
    let mut rows = 0.0;
    for chunk in BASIC.chunks(7) {
        let progress = upload.push(chunk).unwrap();
        let now = get(&progress, "rows").as_f64().unwrap();
        assert!(now >= rows, "rows only grow");
        rows = now;
    }
    let progress = upload.progress().unwrap();
    assert_eq!(
        get(&progress, "bytes").as_f64(),
        Some(BASIC.len() as f64),
        "every byte counted"
    );
    assert!(get(&progress, "memory_bytes").as_f64().unwrap() > 0.0);
    let loaded = workbench.finish_csv(upload).unwrap();
    assert_eq!(get(&loaded, "rows_read").as_f64(), Some(12.0));
    assert!(workbench.heap_bytes() > 0.0);
    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    assert_eq!(get(&get(&report, "totals"), "tpv").as_f64(), Some(201.5));

    // A lookup the same way, joined as in lookups_join_across_the_boundary.
    let mut workbench = Workbench::new();
    let payments: &[u8] = include_bytes!("data/olist/payments.csv");
    let orders: &[u8] = include_bytes!("data/olist/orders.csv");
    let mut upload = CsvUpload::new("payments.csv", None, Some(64.0 * 1024.0 * 1024.0), None);
    upload.push(payments).unwrap();
    workbench.finish_csv(upload).unwrap();
    let mut upload = CsvUpload::new("orders.csv", None, None, None);
    for chunk in orders.chunks(100) {
        upload.push(chunk).unwrap();
    }
    let loaded = workbench.finish_lookup(upload).unwrap();
    assert_eq!(
        get(&loaded, "file").as_string().as_deref(),
        Some("orders.csv")
    );
    let options =
        js_sys::JSON::parse(r#"{"joins":[{"file":"orders.csv","on":"order_id"}]}"#).unwrap();
    let report = workbench.report(options).unwrap();
    assert_eq!(get(&get(&report, "totals"), "tpv").as_f64(), Some(220.0));
}

/// The browser's TextDecoder (here Node's) for `label`, decoding in streaming mode as the worker
/// does: a character cut between two chunks comes out whole with the next one.
struct HostDecoder {
    decoder: JsValue,
    decode: js_sys::Function,
    stream: JsValue,
}

impl HostDecoder {
    fn new(label: &str) -> HostDecoder {
        let class = get(&js_sys::global(), "TextDecoder");
        let decoder = js_sys::Reflect::construct(
            &class.into(),
            &js_sys::Array::of1(&JsValue::from_str(label)),
        )
        .unwrap();
        let stream = js_sys::Object::new();
        js_sys::Reflect::set(&stream, &"stream".into(), &JsValue::TRUE).unwrap();
        HostDecoder {
            decode: get(&decoder, "decode").into(),
            decoder,
            stream: stream.into(),
        }
    }

    /// The UTF-8 text of the next chunk (`None`: the end of the file).
    fn decode(&self, chunk: Option<&[u8]>) -> String {
        match chunk {
            Some(bytes) => self.decode.call2(
                &self.decoder,
                &js_sys::Uint8Array::from(bytes),
                &self.stream,
            ),
            None => self.decode.call0(&self.decoder),
        }
        .unwrap()
        .as_string()
        .unwrap()
    }
}

/// The Alipay bill (GB18030) with its 5 rows repeated `times` times.
fn alipay_repeated(times: usize) -> Vec<u8> {
    let gbk: &[u8] = include_bytes!("data/wallets/alipay-gbk.csv");
    // The header is line 25: the rows start after the 25th line break.
    let start = gbk
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(24)
        .unwrap()
        .0
        + 1;
    let mut bytes = gbk[..start].to_vec();
    for _ in 0..times {
        bytes.extend_from_slice(&gbk[start..]);
    }
    bytes
}

/// The worker's path for a GB18030 file: the upload refuses it (from `push` once it has the
/// 64 KiB it sniffs, or from `finishCsv` for a shorter file), and the file is read again from its
/// first byte through the host's streaming decoder into an upload of decoded text.
#[wasm_bindgen_test]
fn a_gb18030_upload_is_read_again_through_the_hosts_decoder() {
    for (times, rows) in [(1, 5.0), (400, 2000.0)] {
        let gbk = alipay_repeated(times);
        let mut workbench = Workbench::new();
        let mut upload = CsvUpload::new("alipay.csv", None, None, None);
        let mut refused = None;
        for chunk in gbk.chunks(4096) {
            if let Err(error) = upload.push(chunk) {
                refused = Some(error);
                break;
            }
        }
        let error = match refused {
            Some(error) => {
                assert!(
                    times > 1,
                    "a short file is refused at the end, not while read"
                );
                error
            }
            None => workbench.finish_csv(upload).unwrap_err(),
        };
        let (name, _) = error_parts(&error);
        assert_eq!(name, "NeedsDecoding");
        let encoding = get(&error, "encoding").as_string().unwrap();
        assert_eq!(encoding, "GB18030");

        // Again, decoded: chunks of 1,000 bytes cut two-byte characters in half.
        let decoder = HostDecoder::new(&encoding);
        let mut upload = CsvUpload::new("alipay.csv", Some(encoding.clone()), None, None);
        for chunk in gbk.chunks(1000) {
            upload.push(decoder.decode(Some(chunk)).as_bytes()).unwrap();
        }
        upload.push(decoder.decode(None).as_bytes()).unwrap();
        let loaded = workbench.finish_csv(upload).unwrap();
        assert_eq!(get(&loaded, "rows_read").as_f64(), Some(rows));
        let report = assert_read_as_the_gbk_alipay_export(&mut workbench);
        // tests/expected.md, "wallets/": the five rows' TPV is 222,377.58.
        let tpv = get(&get(&report, "totals"), "tpv").as_f64().unwrap();
        assert!(
            (tpv - 222_377.58 * times as f64).abs() < 1e-6 * tpv,
            "{times}: {tpv}"
        );
    }
}

#[wasm_bindgen_test]
fn an_upload_past_its_memory_limit_says_so_and_points_to_the_cli() {
    let mut csv = String::from("txn_id,created_at,amount,status\n");
    for i in 0..100_000 {
        csv.push_str(&format!("T{i},2025-07-01T10:00:00+08:00,{i}.50,success\n"));
    }
    let mut workbench = Workbench::new();
    workbench.load_csv("basic.csv", BASIC).unwrap();
    let mut upload = CsvUpload::new("big.csv", None, Some(1024.0 * 1024.0), None);
    let error = csv
        .as_bytes()
        .chunks(1 << 20)
        .find_map(|chunk| upload.push(chunk).err())
        .expect("the limit stops the upload");
    let (name, message) = error_parts(&error);
    assert_eq!(name, "TooLarge");
    assert!(
        message.starts_with("big.csv: the file is too large to load in the browser"),
        "{message}"
    );
    assert!(message.contains("paymetrics report"), "{message}");
    // The upload reads no more, and the dataset loaded before is still there.
    assert!(upload.push(b"T0,2025-07-01,1,success\n").is_err());
    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    assert_eq!(get(&get(&report, "totals"), "tpv").as_f64(), Some(201.5));
}

/// The report of the GBK Alipay fixture says how the file was read: GB18030, header on line 25.
/// Returns the report.
fn assert_read_as_the_gbk_alipay_export(workbench: &mut Workbench) -> JsValue {
    let report = workbench.report(JsValue::UNDEFINED).unwrap();
    let quality = get(&report, "quality");
    assert_eq!(
        get(&quality, "encoding").as_string().as_deref(),
        Some("GB18030")
    );
    assert_eq!(get(&quality, "header_line").as_f64(), Some(25.0));
    report
}

/// `streamReport`, called as the worker calls it: `open()` gives a reader of the file's bytes,
/// here in slices of 7 bytes at most, and the hand-computed totals come out as from `report`.
#[cfg(feature = "stream")]
#[wasm_bindgen_test]
fn a_streamed_file_reports_the_hand_computed_totals() {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::prelude::Closure;
    use wasm_bindgen::JsCast;

    let mut workbench = Workbench::new();
    workbench.stream_csv("basic.csv", None);
    let opened = Rc::new(Cell::new(0));
    let counted = opened.clone();
    let open = Closure::<dyn FnMut() -> JsValue>::new(move || {
        counted.set(counted.get() + 1);
        let mut at = 0;
        let next = Closure::<dyn FnMut(f64) -> js_sys::Uint8Array>::new(move |max: f64| {
            let end = BASIC.len().min(at + (max as usize).min(7));
            let slice = js_sys::Uint8Array::from(&BASIC[at..end]);
            at = end;
            slice
        });
        next.into_js_value()
    });
    let reads = Rc::new(Cell::new(0u32));
    let seen = reads.clone();
    let progress = Closure::<dyn FnMut(f64, f64, f64)>::new(move |read: f64, _: f64, _: f64| {
        seen.set(seen.get().max(read as u32));
    });
    // Every streamed report of this test reads the file through the same two callbacks.
    let stream = |workbench: &mut Workbench, options: JsValue| {
        workbench.stream_report(
            options,
            open.as_ref().unchecked_ref(),
            progress.as_ref().unchecked_ref(),
        )
    };
    let report = stream(&mut workbench, JsValue::UNDEFINED).unwrap();
    // tests/expected.md, as in the first test above.
    let totals = get(&report, "totals");
    assert_eq!(get(&totals, "tpv").as_f64(), Some(201.5));
    assert_eq!(get(&totals, "txn_count").as_f64(), Some(12.0));
    assert_eq!(get(&totals, "active_payers").as_f64(), Some(4.0));
    assert_eq!(
        get(&get(&report, "quality"), "rows_read").as_f64(),
        Some(12.0)
    );
    // Read at least twice (the second read finds the exact percentiles), each read opened anew.
    assert!(opened.get() >= 2, "opened {} times", opened.get());
    assert_eq!(reads.get(), opened.get());

    // Another grain of the same data: the file is read once more, not twice.
    let before = opened.get();
    let week = js_sys::JSON::parse(r#"{"grain":"week"}"#).unwrap();
    let report = stream(&mut workbench, week).unwrap();
    assert_eq!(opened.get(), before + 1);
    assert_eq!(get(&report, "grain").as_string().as_deref(), Some("week"));
    assert_eq!(get(&get(&report, "totals"), "tpv").as_f64(), Some(201.5));

    // Segments cross as in `report` (basic.csv's channels: tests/expected.md).
    let segment = js_sys::JSON::parse(r#"{"segment":"channel"}"#).unwrap();
    let report = stream(&mut workbench, segment).unwrap();
    let mut held = Workbench::new();
    held.load_csv("basic.csv", BASIC).unwrap();
    let whole = held
        .report(js_sys::JSON::parse(r#"{"segment":"channel"}"#).unwrap())
        .unwrap();
    let json = |value: &JsValue| js_sys::JSON::stringify(value).unwrap().as_string().unwrap();
    let values = |report: &JsValue| json(&get(&get(report, "segments"), "values"));
    assert_eq!(values(&report), values(&whole));

    // A custom metric is streamed too: basic.csv's 12 rows, 4 on each of its three days.
    let metric = js_sys::JSON::parse(r#"{"metrics":["n = count()"]}"#).unwrap();
    let report = stream(&mut workbench, metric).unwrap();
    assert_eq!(get(&get(&report, "totals"), "n").as_f64(), Some(12.0));
    let series = js_sys::Array::from(&get(&report, "series"));
    let per_day: Vec<Option<f64>> = series.iter().map(|p| get(&p, "n").as_f64()).collect();
    assert_eq!(per_day, [Some(4.0); 3]);
    // And a definition is checked against the streamed file's columns, without reading it.
    let reads_before = opened.get();
    let outcomes = workbench
        .check_metrics(vec!["typo = sum(amuont)".into()])
        .unwrap();
    let outcome = js_sys::Array::from(&outcomes).get(0);
    let message = get(&get(&outcome, "error"), "message").as_string().unwrap();
    assert!(message.contains("did you mean \"amount\""), "{message}");
    assert_eq!(opened.get(), reads_before, "not read again");
    // A report of nothing streamed is refused with a readable message.
    let error: JsValue = stream(&mut Workbench::new(), JsValue::UNDEFINED)
        .unwrap_err()
        .into();
    assert_eq!(
        get(&error, "message").as_string().unwrap(),
        "no file is streamed"
    );
}
