// Paymetrics in a Web Worker, as on the page (www/src/worker.js): the wasm build of www/pkg, the
// file's bytes transferred in, `Workbench.loadCsv` then `report`. Times are taken in the worker
// too, to split the page-measured wall time into its parts.
import init, { Workbench } from '../../www/pkg/paymetrics.js';
import { DASHBOARD_OPTIONS, REAGG_OPTIONS, fromReport, fromReagg } from './workload.js';

let wasm = null;
let wb = null;

const methods = {
  async init() {
    const t0 = performance.now();
    wasm = await init();
    wb = new Workbench();
    return { init_ms: performance.now() - t0 };
  },
  // Bytes in memory -> every number of the dashboard ready (the report is a JS object).
  run({ name, buffer }) {
    const t0 = performance.now();
    const loaded = wb.loadCsv(name, new Uint8Array(buffer));
    const t1 = performance.now();
    const report = wb.report(DASHBOARD_OPTIONS);
    const t2 = performance.now();
    return {
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
};

self.onmessage = async ({ data: { id, method, params } }) => {
  try {
    self.postMessage({ id, ok: true, result: await methods[method](params || {}) });
  } catch (err) {
    self.postMessage({ id, ok: false, error: String(err?.stack || err) });
  }
};
