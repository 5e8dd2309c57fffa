//! The memory a frame and its reports take beyond the table, per row, against the budget the
//! page reserves for them (`FRAME_BYTES_PER_ROW` in www/src/worker.js; issue 5). A test binary
//! of its own: it counts every allocation of the process, so its tests take turns (`ALONE`) and
//! no other test may run beside them. Also: a streamed report's memory does not grow with the
//! file's rows.
use paymetrics::options::{Filter, Options};
use paymetrics::report::{build_frame, report_from};
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::{read_csv, Dataset};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex;

/// Held by each test while it counts.
static ALONE: Mutex<()> = Mutex::new(());

/// The system allocator, counting the bytes held now and the most held since the last reset.
struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now = NOW.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            NOW.fetch_sub(layout.size() - new_size, Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The page reserves 104 bytes a row for the frame and a report (`FRAME_BYTES_PER_ROW` in
/// www/src/worker.js). Natively, at 300,000 rows (where per-user and per-day arrays weigh more
/// per row than at millions), the heap's peak is ~94 bytes a row beyond the table, and was ~120
/// before session 9 (a time per row in milliseconds, 4-byte codes for every coded column,
/// three lists of a period's values at once, a vector of parsed values per number column).
const PEAK_BYTES_PER_ROW: f64 = 104.0;
/// What stays held after the reports (the frame and the parts it keeps for the next view):
/// ~82 bytes a row, ~106 before session 9.
const KEPT_BYTES_PER_ROW: f64 = 92.0;

#[test]
fn a_frame_and_its_reports_fit_in_the_bytes_a_row_the_page_reserves() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let rows = 300_000;
    let csv = generate(&SampleOptions { rows, seed: 9 }).transactions;
    let table = read_csv("transactions.csv", csv.as_bytes()).unwrap();
    drop(csv);
    let dataset = Dataset::new(table);
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let per_row = |bytes: usize| (bytes - base) as f64 / rows as f64;

    let mut options = Options::default();
    let frame = build_frame(&dataset, &options).unwrap();
    let day = report_from(&dataset, &frame, &options).unwrap();
    assert_eq!(day.totals["txn_count"], Some(rows as f64));
    drop(day);
    options.filters = vec![Filter {
        column: "channel".into(),
        values: vec!["app_qr".into()],
        exclude: false,
    }];
    options.segment = Some("funding_source".into());
    let segmented = report_from(&dataset, &frame, &options).unwrap();
    assert!(segmented.segments.is_some());
    drop(segmented);

    let (peak, kept) = (per_row(PEAK.load(Relaxed)), per_row(NOW.load(Relaxed)));
    eprintln!("beyond the table: peak {peak:.1} bytes a row, kept {kept:.1}");
    assert!(
        peak <= PEAK_BYTES_PER_ROW,
        "the frame and its reports peaked at {peak:.1} bytes a row beyond the table"
    );
    assert!(
        kept <= KEPT_BYTES_PER_ROW,
        "the frame and its parts keep {kept:.1} bytes a row beyond the table"
    );
}

/// A file of `rows` payments by the same 1,500 payers at 40 merchants over 28 days: only the
/// rows grow with `rows`. (Payer and day repeat every 10,500 rows, the least common multiple of
/// 1,500 and 28: from 21,000 rows on, every (payer, day) has been seen twice, so the sets of
/// payers' days and of days with a second payment are full.)
fn same_payers_more_rows(rows: usize) -> String {
    let mut csv = String::from(
        "txn_id,created_at,settled_at,user_id,merchant_id,amount,fee,latency_ms,status\n",
    );
    for i in 0..rows {
        let (day, second) = (1 + i % 28, (i * 7) % 86_400);
        let (h, m, s) = (second / 3600, second / 60 % 60, second % 60);
        let amount = (i * 2_654_435_761) % 1_000_000;
        let settled = match i % 10 {
            0 => String::new(),
            _ => format!("2025-08-{:02}T{h:02}:{m:02}:{s:02}Z", day + i % 3),
        };
        csv.push_str(&format!(
            "t{i},2025-07-{day:02}T{h:02}:{m:02}:{s:02}Z,{settled},u{},m{},{}.{:02},{}.50,{},{}\n",
            (i * 7_919) % 1_500,
            i % 40,
            amount / 100,
            amount % 100,
            amount % 7,
            (i * 31) % 5_000,
            if i % 9 == 0 { "failed" } else { "success" },
        ));
    }
    csv
}

#[test]
fn a_streamed_report_takes_the_same_memory_for_four_times_the_rows() {
    use paymetrics::stream::{stream_report, Batching};
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let batching = Batching {
        rows: 4_000,
        chunk_bytes: 64 << 10,
        keep_values: 20_000,
    };
    let mut peaks = Vec::new();
    for rows in [25_000, 100_000] {
        let csv = same_payers_more_rows(rows);
        let mut open =
            || -> std::io::Result<Box<dyn std::io::Read + '_>> { Ok(Box::new(csv.as_bytes())) };
        let base = NOW.load(Relaxed);
        PEAK.store(base, Relaxed);
        // Custom metrics of every kind: their state is per day (and per merchant for the
        // distinct count), not per row.
        let options = Options {
            metrics: vec![
                r#"failed_amount = sum(amount where status = "failed")"#.into(),
                "avg_fee = avg(fee)".into(),
                "slowest = max(latency_ms)".into(),
                "merchants = count_distinct(merchant_id)".into(),
                "latency_p95 = p95(latency_ms)".into(),
            ],
            ..Options::default()
        };
        let report =
            stream_report("t.csv", &mut open, &[], &options, batching, &mut |_| {}).unwrap();
        assert_eq!(report.totals["txn_count"], Some(rows as f64));
        assert_eq!(report.totals["active_payers"], Some(1_500.0));
        assert_eq!(report.totals["merchants"], Some(40.0));
        assert!(report.totals["latency_p95"].is_some_and(|p| p > 4_000.0));
        drop(report);
        let peak = PEAK.load(Relaxed) - base;
        eprintln!("streamed {rows} rows: peak {:.1} MB", peak as f64 / 1e6);
        peaks.push(peak as f64);
    }
    // The batch's table and frame, the per-day, per-payer and per-merchant state (the custom
    // metrics' too), and the percentile values kept: none of them grows with the rows.
    assert!(
        peaks[1] <= peaks[0] * 1.1,
        "the peak grew from {:.1} MB to {:.1} MB with four times the rows",
        peaks[0] / 1e6,
        peaks[1] / 1e6
    );
}
