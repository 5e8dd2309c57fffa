//! Limits (issue 7, "Hardening"): files in other formats, named .csv as users rename them, a quote
//! never closed, a header too wide. Each gets a message that says what the file is and what to
//! do, the same from the core and from the CLI (`error: FILE: message`, status 2). Fixtures:
//! tests/data/limits (made by its make.py); large inputs are generated here.
use super::{cli, data};
use paymetrics::read_csv;

const EXCEL: &str =
    "the file is an Excel workbook (.xlsx), not CSV: in Excel, File › Save As › CSV UTF-8";

/// Each fixture of tests/data/limits, and the message reading it must give.
fn cases() -> Vec<(&'static str, String)> {
    let not_csv = |what: &str, advice: &str| format!("the file is {what}, not CSV: {advice}");
    let exported = "export the transactions as CSV from the system they come from";
    vec![
        ("workbook.csv", EXCEL.to_string()),
        (
            "archive.csv",
            not_csv("a ZIP archive", "extract the CSV file from it and load that"),
        ),
        (
            "empty_archive.csv",
            not_csv("a ZIP archive", "extract the CSV file from it and load that"),
        ),
        (
            "sheet.csv",
            not_csv(
                "an OpenDocument spreadsheet (.ods)",
                "in LibreOffice, File › Save As › Text CSV",
            ),
        ),
        (
            "legacy.csv",
            not_csv(
                "an Excel 97-2003 workbook (.xls)",
                "in Excel, File › Save As › CSV UTF-8",
            ),
        ),
        (
            "compressed.csv",
            not_csv(
                "gzip-compressed",
                "decompress it first (gunzip), or pipe it to the command-line tool: gunzip -c FILE | paymetrics report -",
            ),
        ),
        ("document.csv", not_csv("a PDF document", exported)),
        ("photo.csv", not_csv("a JPEG image", exported)),
        (
            "table.csv",
            not_csv(
                "a Parquet file",
                "convert it to CSV first (DuckDB, pandas or Spark can)",
            ),
        ),
        (
            "unclosed_quote.csv",
            "a quote opened on line 3 is never closed: the rest of the file would be one cell. Close the quote, or remove it".to_string(),
        ),
    ]
}

#[test]
fn files_that_are_not_csv_say_what_they_are_and_what_to_do() {
    for (name, message) in cases() {
        let bytes = std::fs::read(data(&format!("limits/{name}"))).unwrap();
        let error = read_csv(name, &bytes).unwrap_err();
        let place = match name {
            "unclosed_quote.csv" => format!("{name}:3:4"),
            _ => name.to_string(),
        };
        assert_eq!(error.to_string(), format!("{place}: {message}"));
    }
    // The PNG of the older fixture is now named as one.
    let png = std::fs::read(data("not_csv.csv")).unwrap();
    assert_eq!(
        read_csv("not_csv.csv", &png).unwrap_err().to_string(),
        "not_csv.csv: the file is a PNG image, not CSV: export the transactions as CSV from the system they come from"
    );
}

#[test]
fn the_cli_says_the_same_and_exits_with_status_2() {
    for (name, message) in cases() {
        let output = cli()
            .current_dir(data("limits"))
            .args(["report", name])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(output.stdout.is_empty(), "{name}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        let line = stderr.lines().last().unwrap_or_default();
        assert!(line.starts_with(&format!("error: {name}")), "{stderr}");
        assert!(line.ends_with(&format!(": {message}")), "{stderr}");
    }
}

#[test]
fn a_header_of_3000_columns_is_refused_by_the_core_and_the_cli() {
    let header: Vec<String> = (1..=3000).map(|c| format!("column {c}")).collect();
    let row: Vec<String> = (1..=3000).map(|c| c.to_string()).collect();
    let csv = format!("{}\n{}\n", header.join(","), row.join(","));
    let message = "wide.csv:1: the header has 3000 columns, more than 2000, the most a file may have: keep the columns you need and save it again";
    let error = read_csv("wide.csv", csv.as_bytes()).unwrap_err();
    assert_eq!(error.to_string(), message);
    assert_eq!((error.line, error.column), (Some(1), None));
    let dir = std::env::temp_dir().join(format!("paymetrics-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wide.csv"), &csv).unwrap();
    let output = cli()
        .current_dir(&dir)
        .args(["report", "wide.csv"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.lines().last(),
        Some(format!("error: {message}").as_str())
    );
}
