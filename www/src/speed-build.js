// When the worker fetches the speed build of the core (www/pkg-fast): a transactions file of this
// many bytes or more. Shared by the worker and the benchmark (bench/page/paymetrics-worker.js), so
// that the bench measures the build a user gets for its file.
//
// Warm, the speed build reads and reports 1.5-3.5 s faster than the size build on the bench's
// 137 MB file, so ~0.2-0.4 s at 16 MiB (less on its first file: its code starts cold); fetching
// and compiling it (~396 KB gzip) took 30-100 ms from a local server, ~0.3 s more at 10 Mbit/s.
// Measurements: docs/size.md, "The speed build".
export const SPEED_BUILD_FROM = 16 * 2 ** 20;
