// When the worker fetches the speed build of the core (www/pkg-fast): a transactions file of this
// many bytes or more. Shared by the worker and the benchmark (bench/page/paymetrics-worker.js), so
// that the bench measures the build a user gets for its file.
//
// The speed build reads and reports ~40% faster than the size build, i.e. ~1.5 s less on the
// bench's 137 MB file, ~0.2 s less at 16 MiB; fetching and compiling it (~390 KB gzip) takes
// 50-100 ms from a local server, ~0.3 s at 10 Mbit/s. Measurements: docs/size.md.
export const SPEED_BUILD_FROM = 16 * 2 ** 20;
