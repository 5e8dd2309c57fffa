//! The memory a frame and its reports take beyond the table, per row, against the budget the
//! page reserves for them (`FRAME_BYTES_PER_ROW` in www/src/worker.js; issue 5). A test binary
//! of its own: it counts every allocation of the process, so no other test may run beside it.
use paymetrics::options::{Filter, Options};
use paymetrics::report::{build_frame, report_from};
use paymetrics::sample::{generate, SampleOptions};
use paymetrics::{read_csv, Dataset};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

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
