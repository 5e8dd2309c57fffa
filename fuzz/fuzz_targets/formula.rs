//! Formula text -> parser -> planner -> evaluation, as a user types it in the page. The text is
//! tried as an expression, as a custom metric (`m = TEXT`: the live check, then a report) and as
//! a derived column (`d = TEXT`), over tests/data/basic.csv. Checks, beyond "no panic": an
//! error's span lies within the text it marks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use paymetrics::expr::parse_expr;
use paymetrics::report::{build_frame, check_custom_metrics, Frame};
use paymetrics::{analyze, read_csv, Dataset, Options};
use std::cell::OnceCell;

thread_local! {
    /// The fixture, read and framed once (the frame's memos are per thread, so not a static).
    static BASIC: OnceCell<(Dataset, Frame)> = const { OnceCell::new() };
}

fn with_basic(run: impl FnOnce(&Dataset, &Frame)) {
    BASIC.with(|cell| {
        let (dataset, frame) = cell.get_or_init(|| {
            let bytes = include_bytes!("../../tests/data/basic.csv");
            let dataset = Dataset::new(read_csv("basic.csv", bytes).expect("the fixture reads"));
            let frame = build_frame(&dataset, &Options::default()).expect("the fixture frames");
            (dataset, frame)
        });
        run(dataset, frame)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Chromium's own limit on what a user pastes is far beyond this; deeper nesting is refused
    // with a message, which a long input only reaches more slowly.
    if text.len() > 4096 {
        return;
    }
    if let Err(error) = parse_expr(text) {
        assert!(error.position <= error.end && error.end <= text.chars().count() + 1);
        assert!(!error.message.is_empty());
    }
    with_basic(|dataset, frame| {
        let metric = format!("m = {text}");
        for outcome in check_custom_metrics(dataset, frame, std::slice::from_ref(&metric)) {
            if let Some(error) = outcome.error {
                assert!(error.start <= error.end && error.end <= metric.chars().count() + 1);
            }
        }
        let options = Options {
            metrics: vec![metric],
            derive: vec![format!("d = {text}")],
            ..Options::default()
        };
        let _ = analyze(dataset, &options);
    });
});
