//! Property tests (proptest): numbers and times written the ways exports write them read back as
//! the value they were written from, and every data record of a messy file is accounted for.
//! Each expected value is computed here from the generated value (by `str::parse::<f64>` of the
//! plain digits, by chrono's formatting), never by the code under test.
use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use paymetrics::number::{parse_number, Decimal};
use paymetrics::time::{DateOrder, Timestamp, TimestampParser, Zone};
use paymetrics::{analyze, read_csv, Dataset, Options};
use proptest::prelude::*;

/// `1234567` as `1,234,567` with `separator` between groups of three.
fn grouped(digits: &str, separator: &str) -> String {
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(separator);
        }
        out.push(c);
    }
    out
}

/// ASCII digits and punctuation as their full-width forms (`１２３．４５`).
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' | '.' | ',' | '-' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c),
            _ => c,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// An amount of cents written in every export style reads back as the plain decimal parses.
    #[test]
    fn amounts_read_back_in_every_export_style(cents in -1_000_000_000_000_000i64..1_000_000_000_000_000, style in 0usize..12) {
        let negative = cents < 0;
        let (int, frac) = (cents.unsigned_abs() / 100, cents.unsigned_abs() % 100);
        let int = int.to_string();
        let plain = format!("{}{int}.{frac:02}", if negative { "-" } else { "" });
        let expected: f64 = plain.parse().unwrap();
        let minus = if negative { "-" } else { "" };
        let (text, decimal, currency) = match style {
            0 => (plain.clone(), Decimal::Point, None),
            1 => (format!("{minus}{}.{frac:02}", grouped(&int, ",")), Decimal::Point, None),
            2 => (format!("{minus}{},{frac:02}", grouped(&int, ".")), Decimal::Comma, None),
            3 => (format!("{minus}{},{frac:02}", grouped(&int, "\u{a0}")), Decimal::Comma, None),
            4 => (format!("{minus}{}.{frac:02}", grouped(&int, "'")), Decimal::Point, None),
            5 => (format!("{minus}${}.{frac:02}", grouped(&int, ",")), Decimal::Point, Some("USD")),
            6 => (format!("{minus}¥{int}.{frac:02}"), Decimal::Point, Some("CNY")),
            7 => (format!("{minus}{int}.{frac:02}元"), Decimal::Point, Some("CNY")),
            8 => (format!("EUR {minus}{},{frac:02}", grouped(&int, ".")), Decimal::Comma, Some("EUR")),
            // Accounting parentheses and a trailing minus for negatives.
            9 if negative => (format!("({}.{frac:02})", grouped(&int, ",")), Decimal::Point, None),
            10 if negative => (format!("{int}.{frac:02}-"), Decimal::Point, None),
            11 => (full_width(&plain), Decimal::Point, None),
            _ => (format!("{}{int}.{frac:02}", if negative { "\u{2212}" } else { "+" }), Decimal::Point, None),
        };
        let number = parse_number(&text, decimal);
        prop_assert!(number.is_some(), "{text:?} was not read");
        let number = number.unwrap();
        prop_assert_eq!(number.value.to_bits(), expected.to_bits(), "{:?}", text);
        prop_assert_eq!(number.currency, currency, "{:?}", text);
    }

    /// Any finite double, as Rust or a spreadsheet prints it, reads back bit for bit.
    #[test]
    fn doubles_read_back_bit_for_bit(x in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL) {
        for text in [format!("{x}"), format!("{x:e}"), format!("{x:E}")] {
            let read = parse_number(&text, Decimal::Point).map(|n| n.value.to_bits());
            prop_assert_eq!(read, Some(x.to_bits()), "{}", text);
        }
    }

    /// An instant (1970-2100) written in the forms payment exports use reads back as that instant
    /// (to the precision written), or as that wall-clock time for forms without an offset.
    #[test]
    fn instants_read_back_in_every_export_form(millis in 0i64..4_102_444_800_000, quarter_hours in -48i32..=56) {
        let offset = FixedOffset::east_opt(quarter_hours * 15 * 60).unwrap();
        let at = DateTime::<Utc>::from_timestamp_millis(millis).unwrap();
        let local = at.with_timezone(&offset);
        let seconds = millis.div_euclid(1000) * 1000;
        let utc = |text: String, expected: i64| (text, Ok(expected));
        let wall = |text: String, expected: i64| (text, Err(expected));
        // The wall clock of `local`, to the second and to the minute, as milliseconds.
        let wall_millis = local.naive_local().and_utc().timestamp_millis();
        let wall_seconds = wall_millis.div_euclid(1000) * 1000;
        let wall_minutes = wall_millis.div_euclid(60_000) * 60_000;
        let hour12 = match local.hour() % 12 { 0 => 12, h => h };
        let meridiem = if local.hour() < 12 { "AM" } else { "PM" };
        let cases = [
            utc(local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(), millis),
            utc(local.format("%Y-%m-%d %H:%M:%S %z").to_string(), seconds),
            utc(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), millis),
            utc(at.format("%Y-%m-%d %H:%M:%S UTC").to_string(), seconds),
            wall(local.format("%Y-%m-%d %H:%M:%S").to_string(), wall_seconds),
            wall(format!("{}/{}/{} {}:{:02}", local.year(), local.month(), local.day(), local.hour(), local.minute()), wall_minutes),
            wall(local.format("%d.%m.%Y %H:%M:%S").to_string(), wall_seconds),
            wall(format!("{}年{}月{}日 {:02}:{:02}:{:02}", local.year(), local.month(), local.day(), local.hour(), local.minute(), local.second()), wall_seconds),
        ];
        let mut parser = TimestampParser::with_order(DateOrder::DayFirst);
        for (text, expected) in cases {
            let read = parser.parse(&text);
            match expected {
                Ok(instant) => prop_assert_eq!(read.map(|t| t.utc_millis(Zone::utc())), Some(instant), "{}", text),
                Err(wall) => prop_assert_eq!(read, Some(Timestamp::Local(wall)), "{}", text),
            }
        }
        let american = format!("{}/{}/{} {}:{:02}:{:02} {meridiem}", local.month(), local.day(), local.year(), hour12, local.minute(), local.second());
        let read = TimestampParser::with_order(DateOrder::MonthFirst).parse(&american);
        prop_assert_eq!(read, Some(Timestamp::Local(wall_seconds)), "{}", american);
        // Unix epochs: seconds (9-11 digits) and milliseconds (12-14 digits), from 1973 on.
        if millis >= 100_000_000_000 {
            let read = parser.parse(&(millis / 1000).to_string());
            prop_assert_eq!(read, Some(Timestamp::Utc(seconds)));
            prop_assert_eq!(parser.parse(&millis.to_string()), Some(Timestamp::Utc(millis)));
        }
    }

}

proptest! {
    // Each case reads a file and computes a whole report (~40 ms in the debug build).
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// A file of good rows and every kind of bad one: each data record written is loaded, or
    /// skipped with a reason, or set aside as a summary line; none is lost.
    #[test]
    fn every_record_is_loaded_or_skipped(kinds in proptest::collection::vec(0u8..9, 0..60), seed in 0u32..1000) {
        let mut csv = String::from("id,created_at,user_id,amount,status\n");
        let mut records = 0u64;
        // Three good rows first, so that the header and the columns' types are clear.
        for (i, kind) in [0u8, 0, 0].iter().chain(&kinds).enumerate() {
            let day = 1 + (i as u32 + seed) % 28;
            let good = format!("t{i},2025-03-{day:02}T10:00:00Z,u{},{}.50,success", i % 7, i + 1);
            let line = match kind {
                0..=2 => good,
                3 => format!("t{i},not a date,u1,5.00,success"),
                4 => format!("t{i},2025-03-{day:02}T10:00:00Z,u1,five,success"),
                5 => format!("t{i},2025-03-{day:02}T10:00:00Z,u1"),
                6 => format!("{good},extra,cells"),
                7 => format!("t{i},2025-03-{day:02}T10:00:00Z,\"u,{i}\",\"1,234.00\",failed"),
                // A blank line is not a record.
                _ => String::new(),
            };
            if !line.is_empty() {
                records += 1;
            }
            csv.push_str(&line);
            csv.push('\n');
        }
        let table = read_csv("t.csv", csv.as_bytes()).unwrap();
        let summaries = table.lines_skipped.total();
        let report = analyze(&Dataset::new(table), &Options::default()).unwrap();
        let quality = &report.quality;
        prop_assert_eq!(quality.rows_read, quality.rows_loaded + quality.rows_skipped);
        prop_assert_eq!(records, quality.rows_read + summaries, "{}", csv);
    }
}
