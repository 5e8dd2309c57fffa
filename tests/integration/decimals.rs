//! Amounts stored as numbers while the file is read (`ingest::decimals`) report what reading
//! their text reports. The same file is read twice: once as written, its amounts all with two
//! decimals (stored as numbers), and once with the first amount written with a plus sign, the
//! same value under either decimal convention, which keeps the whole column as text. Every number of the two reports
//! must agree, under each decimal convention, with custom metrics and a derived column that
//! read the amounts, read whole and streamed.
use paymetrics::number::Decimal;
use paymetrics::stream::{stream_report, Batching};
use paymetrics::{analyze, read_csv, Dataset, Options, RawTable, Report};
use serde_json::Value;

/// 12,000 payments with ~9,000 distinct amounts (more than a column's dictionary holds), some
/// empty, some negative; the first amount is `first_amount`.
fn payments(first_amount: &str) -> Vec<u8> {
    let mut csv =
        String::from("txn_id,created_at,user_id,merchant_id,amount,currency,status,fee\n");
    for i in 0..12_000u64 {
        let amount = match i {
            0 => first_amount.to_string(),
            _ if i % 97 == 0 => String::new(),
            _ => format!(
                "{}{}.{:02}",
                if i % 41 == 0 { "-" } else { "" },
                (i * 7919) % 4999,
                (i * 31) % 100
            ),
        };
        let status = ["success", "success", "failed", "refunded"][(i % 4) as usize];
        csv += &format!(
            "T{i},2025-07-{:02}T{:02}:00:00+08:00,U{},M{},{amount},CNY,{status},0.{:02}\n",
            1 + i % 28,
            i % 24,
            i % 900,
            i % 40,
            i % 50
        );
    }
    csv.into_bytes()
}

/// The numbers of the file's report, read whole and streamed (batches of 10,000 rows: the
/// first batch's amounts are stored as numbers too): everything but the quality section, which
/// counts the table's bytes.
fn numbers(csv: &[u8], decimal: Option<Decimal>) -> [Value; 2] {
    let options = Options {
        decimal,
        derive: vec!["amount_usd = amount * 0.14".into()],
        metrics: vec![
            "paid = sum(amount where status = \"success\")".into(),
            "large = count(where amount > 2000)".into(),
            "p90_usd = p90(amount_usd)".into(),
            "distinct_amounts = count_distinct(amount)".into(),
        ],
        ..Options::default()
    };
    let table = read_csv("payments.csv", csv).unwrap();
    let whole = analyze(&Dataset::new(table), &options).unwrap();
    let mut open = || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(csv)) };
    let batching = Batching {
        rows: 10_000,
        ..Batching::default()
    };
    let streamed = stream_report(
        "payments.csv",
        &mut open,
        &[],
        &options,
        batching,
        &mut |_| {},
    )
    .unwrap();
    [whole, streamed].map(|report: Report| {
        let mut value = serde_json::to_value(&report).unwrap();
        value.as_object_mut().unwrap().remove("quality");
        value
    })
}

#[test]
fn amounts_stored_as_numbers_report_what_their_text_reads_as() {
    let (stored, text) = (payments("1.50"), payments("+1.50"));
    let (stored_table, text_table): (RawTable, RawTable) = (
        read_csv("payments.csv", &stored).unwrap(),
        read_csv("payments.csv", &text).unwrap(),
    );
    let amount = stored_table
        .headers
        .iter()
        .position(|h| h == "amount")
        .unwrap();
    let cells = |table: &RawTable| -> Vec<String> {
        (0..12_000)
            .map(|row| table.columns[amount].get(row).into_owned())
            .collect()
    };
    assert!(stored_table.columns[amount].stored_decimals().is_some());
    assert!(text_table.columns[amount].stored_decimals().is_none());
    let mut written = cells(&text_table);
    written[0] = "1.50".into();
    assert_eq!(cells(&stored_table), written);
    for decimal in [None, Some(Decimal::Point), Some(Decimal::Comma)] {
        let [whole, streamed] = numbers(&stored, decimal);
        let [text_whole, text_streamed] = numbers(&text, decimal);
        assert!(whole == text_whole, "{decimal:?}: the reports differ");
        assert!(
            streamed == text_streamed,
            "{decimal:?}: the streamed reports differ"
        );
        if decimal != Some(Decimal::Comma) {
            // Worked out from the cells' text: successful rows are those with i % 4 < 2.
            let paid: f64 = (0..12_000)
                .filter(|i| i % 4 < 2)
                .filter_map(|i| written[i].parse::<f64>().ok())
                .sum();
            let large = written
                .iter()
                .filter_map(|c| c.parse::<f64>().ok())
                .filter(|&v| v > 2000.0)
                .count();
            for report in [&whole, &streamed] {
                let got = report["totals"]["paid"].as_f64().unwrap();
                assert!(
                    (got - paid).abs() < 1e-6 * paid.abs(),
                    "paid: {got} against {paid}"
                );
                assert_eq!(report["totals"]["large"].as_f64(), Some(large as f64));
            }
        }
    }
}
