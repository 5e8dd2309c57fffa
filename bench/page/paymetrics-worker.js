// Paymetrics in a Web Worker, as on the page (www/src/worker.js): the size build of www/pkg at
// start; for a file of SPEED_BUILD_FROM bytes or more, the speed build of www/pkg-fast, fetched,
// compiled and warmed up (speed-build.js, warmUp) at the start of the first run on such a file
// (its time is in that run's wall time, and reported as speed_build_ms) and kept after it, as the
// page's worker does. The file's bytes are transferred in and read as the page reads a file:
// from PARTS_FROM bytes on two cores (www/src/parts.js: this worker reads the first half, a spare
// second worker running the same compiled speed build the second, started when the speed build
// is and after each read, as the page's worker does), else pushed in 4 MiB chunks to a CsvUpload
// told the size (readInChunks); then `report`.
// Times are taken in the worker too, to split the page-measured wall time into its parts.
import initSizeBuild, * as sizeBuild from '../../www/pkg/paymetrics.js';
import { SPEED_BUILD_FROM, warmUp } from '../../www/src/speed-build.js';
import { PARTS_FROM, blobSource, bytesSource, prepareHelper, readInParts, readsInParts } from '../../www/src/parts.js';
import { blobChunks, byteChunks } from '../../www/src/file-chunks.js';
import { DASHBOARD_OPTIONS, REAGG_OPTIONS, fromReport, fromReagg } from './workload.js';

const CHUNK_BYTES = 4 << 20;
let build = sizeBuild;
let buildName = 'size';
let wasm = null;
let wb = null;
// The speed build's compiled module, for the second reader (as www/src/worker.js keeps it).
let speedModule = null;

/** The page's switch (www/src/worker.js, switchToSpeedBuild): a fresh Workbench of the speed build, warmed up. */
async function switchToSpeedBuild() {
  const fast = await import('../../www/pkg-fast/paymetrics_fast.js');
  speedModule = await WebAssembly.compileStreaming(fetch(new URL('../../www/pkg-fast/paymetrics_fast_bg.wasm', import.meta.url)));
  // As the page's worker does when a file to be read in parts makes it switch.
  if (readsInParts(PARTS_FROM)) prepareHelper(speedModule);
  wasm = await fast.default({ module_or_path: speedModule });
  warmUp(fast);
  wb.free();
  build = fast;
  buildName = 'speed';
  wb = new build.Workbench();
}

const methods = {
  async init() {
    const t0 = performance.now();
    wasm = await initSizeBuild();
    wb = new build.Workbench();
    return { init_ms: performance.now() - t0 };
  },
  // Bytes in memory -> every number of the dashboard ready (the report is a JS object).
  async run({ name, buffer, file }) {
    let speedBuildMs = null;
    const size = file ? file.size : buffer.byteLength;
    if (buildName === 'size' && size >= SPEED_BUILD_FROM) {
      const t = performance.now();
      await switchToSpeedBuild();
      speedBuildMs = performance.now() - t;
    }
    const t0 = performance.now();
    const bytes = file ? null : new Uint8Array(buffer);
    let loaded;
    let parts = null;
    const inParts = speedModule !== null && readsInParts(size);
    if (inParts) {
      const upload = new build.CsvUpload(name);
      parts = await readInParts({
        upload,
        source: file ? blobSource(file) : bytesSource(bytes),
        module: speedModule,
        chunkBytes: 4 << 20,
        progress: () => {},
        cancelled: () => false,
        onCancel: () => new Error('not cancelled'),
      });
      loaded = wb.finishCsv(upload);
    } else {
      // As the page's worker reads a file (readInChunks): 4 MiB pushes to a stream told the size.
      const upload = new build.CsvUpload(name);
      upload.expectBytes(size);
      for await (const chunk of file ? blobChunks(file, CHUNK_BYTES) : byteChunks(bytes, CHUNK_BYTES)) upload.push(chunk);
      loaded = wb.finishCsv(upload);
    }
    const t1 = performance.now();
    const report = wb.report(DASHBOARD_OPTIONS);
    const t2 = performance.now();
    return {
      build: buildName,
      read_in_parts: inParts,
      parts,
      speed_build_ms: speedBuildMs,
      load_ms: t1 - t0,
      report_ms: t2 - t1,
      rows_read: loaded.rows_read,
      numbers: fromReport(report),
      wasm_memory_bytes: wasm.memory.buffer.byteLength,
    };
  },
  // Lets go of the loaded file (outside the timed window): a one-row file takes its place.
  release() {
    wb.loadCsv('release.csv', new TextEncoder().encode('created_at,amount\n2025-07-01,1\n'));
    return { wasm_memory_bytes: wasm.memory.buffer.byteLength };
  },
  // Another grain and a filter on the loaded file.
  reagg() {
    const t0 = performance.now();
    const report = wb.report(REAGG_OPTIONS);
    const t1 = performance.now();
    return { reagg_ms: t1 - t0, series: fromReagg(report), wasm_memory_bytes: wasm.memory.buffer.byteLength };
  },
  // Two changes of view on the loaded file, as a user makes them on the dashboard (issue 5: each
  // under 100 ms): a segment by channel at daily grain (the dashboard's other parts are kept),
  // then weekly grain with it. Timed in the worker; their numbers are not compared with DuckDB's.
  changes() {
    const time = (options) => {
      const t0 = performance.now();
      const report = wb.report(options);
      return [performance.now() - t0, report];
    };
    const [segment_ms, segmented] = time({ ...DASHBOARD_OPTIONS, segment: 'channel' });
    const [segment_grain_ms] = time({ ...DASHBOARD_OPTIONS, segment: 'channel', grain: 'week' });
    return { segment_ms, segment_grain_ms, segments: segmented.segments?.values?.length ?? 0, wasm_memory_bytes: wasm.memory.buffer.byteLength };
  },
};

self.onmessage = async ({ data: { id, method, params } }) => {
  try {
    self.postMessage({ id, ok: true, result: await methods[method](params || {}) });
  } catch (err) {
    self.postMessage({ id, ok: false, error: String(err?.stack || err) });
  }
};
