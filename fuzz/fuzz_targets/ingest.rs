//! Bytes -> table -> report, as a dropped file takes it. Checks, beyond "no panic":
//! - reading the bytes whole and in three chunks gives the same table or the same error: the
//!   page reads files in chunks. The cuts depend on the bytes, so mutations move them; the input
//!   is the file itself, so the fixtures in tests/data are the seed corpus as they are;
//! - every data record is accounted for: rows read = rows kept + rows skipped, in the table
//!   and again after typing, in the report.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paymetrics::ingest::CsvStream;
use paymetrics::{analyze, read_csv, render_text, Dataset, Options, RawTable, Result};

fuzz_target!(|data: &[u8]| {
    let bytes = data;
    let cut = bytes.iter().fold(bytes.len(), |h, &b| {
        h.wrapping_mul(31).wrapping_add(b.into())
    });
    let whole = read_csv("fuzz.csv", bytes);
    match (&whole, &read_in_three(bytes, cut)) {
        (Ok(x), Ok(y)) => assert_same_table(x, y),
        (Err(x), Err(y)) => assert_eq!(x, y),
        (x, y) => panic!("whole: {x:?}\nin chunks: {y:?}"),
    }
    let Ok(table) = whole else { return };
    assert_eq!(
        table.rows_read,
        table.row_count() as u64 + table.skipped.total(),
        "rows read = kept + skipped"
    );
    let dataset = Dataset::new(table);
    if let Ok(report) = analyze(&dataset, &Options::default()) {
        let quality = &report.quality;
        assert_eq!(
            quality.rows_read,
            quality.rows_loaded + quality.rows_skipped
        );
        render_text(&report);
    }
});

/// Reads `bytes` in three chunks: cut at `cut` (modulo the length) and at the middle of what is
/// left.
fn read_in_three(bytes: &[u8], cut: usize) -> Result<RawTable> {
    let first = cut % (bytes.len() + 1);
    let second = first + (bytes.len() - first) / 2;
    let mut stream = CsvStream::new("fuzz.csv");
    for chunk in [&bytes[..first], &bytes[first..second], &bytes[second..]] {
        stream.push(chunk)?;
    }
    stream.finish()
}

fn assert_same_table(a: &RawTable, b: &RawTable) {
    assert_eq!(a.headers, b.headers);
    assert_eq!(a.dialect, b.dialect);
    assert_eq!(a.file_columns, b.file_columns);
    assert_eq!(a.lines, b.lines);
    assert_eq!(a.rows_read, b.rows_read);
    assert_eq!(a.skipped, b.skipped);
    assert_eq!(a.lines_skipped, b.lines_skipped);
    assert_eq!(a.warnings, b.warnings);
    assert_eq!(a.columns.len(), b.columns.len());
    for (x, y) in a.columns.iter().zip(&b.columns) {
        assert!(x.iter().eq(y.iter()), "cells differ");
    }
}
