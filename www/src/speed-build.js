// When the worker fetches the speed build of the core (www/pkg-fast): a transactions file of this
// many bytes or more. Shared by the worker and the benchmark (bench/page/paymetrics-worker.js), so
// that the bench measures the build a user gets for its file.
//
// Warm, the speed build reads and reports 1.5-3.5 s faster than the size build on the bench's
// 137 MB file, so ~0.2-0.4 s at 16 MiB (less on its first file: its code starts cold); fetching
// and compiling it (~396 KB gzip) took 30-100 ms from a local server, ~0.3 s more at 10 Mbit/s.
// Measurements: docs/size.md, "The speed build".
export const SPEED_BUILD_FROM = 16 * 2 ** 20;

// Rows of the warm-up sample (see warmUp).
const WARM_UP_ROWS = 2_000;

/**
 * Runs a freshly instantiated speed build once on a small generated sample (read, a daily report,
 * a filtered monthly one), then lets it go. V8 first runs wasm code from its baseline compiler and
 * swaps in optimised code only on a function's next call: it cannot replace a loop that is already
 * running. The first large file's frame and report are each one long call, so on a cold module
 * they would run entirely in the baseline tier. After the warm-up the hot functions have been
 * called, and their optimised code is used from the file's first chunk on. `make bench`, 1M rows
 * in Chromium: the first run took 2.79-2.88 s without a warm-up or with a 10,000-row one (which
 * itself took ~250 ms), and 1.81 s with this 2,000-row one (~90 ms), as fast as the warm runs
 * (docs/size.md, "The speed build").
 */
export function warmUp(build) {
  const wb = new build.Workbench();
  try {
    wb.loadSample(WARM_UP_ROWS, 1);
    wb.report({ grain: 'day' });
    wb.report({ grain: 'month', filters: [{ column: 'channel', values: ['app_qr'] }] });
  } finally {
    wb.free();
  }
}
