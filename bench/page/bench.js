// The bench page: bench/run.mjs (Playwright) drives it step by step through `window.bench`.
// Each engine runs in a Web Worker; a run copies the dataset's bytes (not timed), then times
// bytes in the page's memory -> every number ready, then the re-aggregation.
import * as duckdb from '@duckdb/duckdb-wasm';
import * as W from './workload.js';

const DUCKDB_DIST = new URL('../../node_modules/@duckdb/duckdb-wasm/dist/', import.meta.url).href;
// DuckDB-WASM's "eh" bundle: the one its selectBundle() picks in a page that is not
// cross-origin isolated, i.e. what a typical deployment gets (single-threaded).
const DUCKDB_BUNDLE = {
  name: 'eh',
  mainModule: `${DUCKDB_DIST}duckdb-eh.wasm`,
  mainWorker: `${DUCKDB_DIST}duckdb-browser-eh.worker.js`,
};
const FLOOR_WASM = new URL('../../target/bench-floor/wasm32-unknown-unknown/release/paymetrics_bench_floor.wasm', import.meta.url).href;

const datasets = new Map(); // name -> { file, buffer }

function rpc(worker) {
  let next = 0;
  const pending = new Map();
  worker.onmessage = ({ data }) => {
    const p = pending.get(data.id);
    pending.delete(data.id);
    if (data.ok) p.resolve(data.result);
    else p.reject(new Error(data.error));
  };
  worker.onerror = (e) => {
    for (const p of pending.values()) p.reject(new Error(`worker error: ${e.message}`));
    pending.clear();
  };
  return (method, params, transfer = []) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, method, params }, transfer);
    });
}

/** Memory of the page and its workers right now (wasm memories never shrink: their peak). */
async function memory() {
  const out = {
    cross_origin_isolated: self.crossOriginIsolated,
    js_heap_used_bytes: performance.memory?.usedJSHeapSize ?? null,
    uasm: null,
  };
  if (typeof performance.measureUserAgentSpecificMemory === 'function') {
    try {
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 30 s')), 30000));
      const m = await Promise.race([performance.measureUserAgentSpecificMemory(), timeout]);
      out.uasm = {
        bytes: m.bytes,
        breakdown: m.breakdown
          .filter((b) => b.bytes > 0)
          .map((b) => ({ bytes: b.bytes, types: b.types, urls: b.attribution.map((a) => a.url || a.scope) })),
      };
    } catch (err) {
      out.uasm_error = String(err);
    }
  }
  return out;
}

async function load(name, url) {
  const t0 = performance.now();
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const buffer = await res.arrayBuffer();
  datasets.set(name, { file: url.split('/').pop(), buffer });
  return { bytes: buffer.byteLength, fetch_ms: performance.now() - t0 };
}

function copyOf(name) {
  const d = datasets.get(name);
  if (!d) throw new Error(`dataset ${name} is not loaded`);
  return { file: d.file, buffer: d.buffer.slice(0) };
}

/** A plain JS pass over the bytes, counting newlines: a different, JS-only reference. */
function jsNewlines(name) {
  const bytes = new Uint8Array(datasets.get(name).buffer);
  const t0 = performance.now();
  let lines = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) lines++;
  return { wall_ms: performance.now() - t0, lines };
}

// ---- the engines: started once per dataset, run several times, then stopped ---------------------
// Run 1 of an engine is its cold run (its wasm code tiers up while it works); later runs reuse
// the same instance, as a page does when a second file is dropped. Between runs each engine
// lets go of the previous file (outside the timed window), so no run holds two files.

const engines = {};

const floorEngine = {
  async start() {
    const worker = new Worker(new URL('./floor-worker.js', import.meta.url));
    const call = rpc(worker);
    const { init_ms } = await call('init', { url: FLOOR_WASM });
    return { worker, call, init: { init_ms } };
  },
  async run(e, name) {
    const { buffer } = copyOf(name);
    const t0 = performance.now();
    const r = await call(e, 'run', { buffer }, [buffer]);
    return { wall_ms: performance.now() - t0, ...r };
  },
  async stop(e) {
    e.worker.terminate();
  },
};

const paymetricsEngine = {
  async start() {
    const worker = new Worker(new URL('./paymetrics-worker.js', import.meta.url), { type: 'module' });
    const call = rpc(worker);
    const { init_ms } = await call('init');
    return { worker, call, init: { init_ms } };
  },
  // `source`: 'memory' (the bytes, transferred to the worker, as DuckDB-WASM is given them) or
  // 'file' (a File, read as the page reads a file the user picks).
  async run(e, name, { source = 'memory' } = {}) {
    const { file, buffer } = copyOf(name);
    const asFile = source === 'file' ? new File([buffer], file) : null;
    // A File made from memory is handed to the browser's process after it is made: waited for
    // here, as a file the user picks is on disk already.
    if (asFile) await asFile.slice(asFile.size - 1).arrayBuffer();
    const t0 = performance.now();
    const r = asFile ? await call(e, 'run', { name: file, file: asFile }) : await call(e, 'run', { name: file, buffer }, [buffer]);
    const t1 = performance.now();
    // A segment added to the dashboard (the report's other parts kept from it), then another
    // grain with it; then the re-aggregation (another grain and a filter).
    const changes = await call(e, 'changes');
    if (!changes.segments) throw new Error('the segmented report has no segments');
    const t1b = performance.now();
    const re = await call(e, 'reagg');
    const t2 = performance.now();
    const out = {
      wall_ms: t1 - t0,
      build: r.build,
      speed_build_ms: r.speed_build_ms,
      read_in_parts: r.read_in_parts,
      parts: r.parts,
      load_ms: r.load_ms,
      report_ms: r.report_ms,
      reagg_ms: t2 - t1b,
      reagg_worker_ms: re.reagg_ms,
      segment_worker_ms: changes.segment_ms,
      segment_grain_worker_ms: changes.segment_grain_ms,
      rows_read: r.rows_read,
      wasm_memory_bytes: Math.max(changes.wasm_memory_bytes, re.wasm_memory_bytes),
      numbers: { ...r.numbers, reagg: re.series },
      memory: await memory(),
    };
    await call(e, 'release');
    return out;
  },
  async stop(e) {
    e.worker.terminate();
  },
};

const duckdbEngine = {
  async start() {
    const t0 = performance.now();
    const worker = new Worker(DUCKDB_BUNDLE.mainWorker);
    const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
    await db.instantiate(DUCKDB_BUNDLE.mainModule);
    await db.open({ query: { castBigIntToDouble: true } });
    const conn = await db.connect();
    // Nothing may be fetched from extensions.duckdb.org (the bench blocks the network anyway).
    await conn.query('SET autoinstall_known_extensions = false');
    await conn.query('SET autoload_known_extensions = false');
    const version = rowsOf(await conn.query('SELECT version() AS v'))[0].v;
    return { db, conn, init: { init_ms: performance.now() - t0, version, bundle: DUCKDB_BUNDLE.name } };
  },
  async run({ db, conn }, name) {
    const { file, buffer } = copyOf(name);
    const t0 = performance.now();
    await db.registerFileBuffer(file, new Uint8Array(buffer));
    const tr = performance.now();
    await conn.query(W.loadSql(file));
    const t1 = performance.now();
    const { tzs } = rowsOf(await conn.query(W.TZ_SQL))[0];
    await conn.query(W.localSql(tzs, W.tzString(tzs)));
    await conn.query('DROP TABLE tx');
    const daily = rowsOf(await conn.query(W.DAILY_SQL));
    const totals = rowsOf(await conn.query(W.TOTALS_SQL))[0];
    const channels = rowsOf(await conn.query(W.CHANNELS_SQL));
    const rows = rowsOf(await conn.query('SELECT count(*) AS n FROM r'))[0].n;
    const t2 = performance.now();
    const reagg = rowsOf(await conn.query(W.REAGG_SQL));
    const t3 = performance.now();
    const duckdb_memory_bytes = rowsOf(await conn.query('SELECT CAST(sum(memory_usage_bytes) AS DOUBLE) AS b FROM duckdb_memory()'))[0].b;
    const out = {
      wall_ms: t2 - t0,
      load_ms: t1 - t0,
      register_ms: tr - t0,
      report_ms: t2 - t1,
      reagg_ms: t3 - t2,
      duckdb_memory_bytes,
      numbers: { tz: W.tzString(tzs), rows, totals, daily, channels, reagg },
      memory: await memory(),
    };
    await conn.query('DROP TABLE r');
    await db.dropFile(file);
    return out;
  },
  async stop({ conn, db }) {
    await conn.close();
    await db.terminate();
  },
};

const ENGINES = { floor: floorEngine, paymetrics: paymetricsEngine, duckdb: duckdbEngine };

function call(e, method, params, transfer) {
  return e.call(method, params, transfer);
}

async function start(engine) {
  engines[engine] = await ENGINES[engine].start();
  return engines[engine].init;
}

async function run(engine, name, options) {
  return ENGINES[engine].run(engines[engine], name, options);
}

async function stop(engine) {
  const e = engines[engine];
  delete engines[engine];
  if (e) await ENGINES[engine].stop(e);
}

function rowsOf(table) {
  return table.toArray().map((row) => row.toJSON());
}

/** A full garbage collection of the page (Chromium runs with --js-flags=--expose-gc), then a pause. */
async function collect() {
  self.gc?.();
  await new Promise((r) => setTimeout(r, 200));
}

window.bench = { collect, load, unload: (name) => datasets.delete(name), jsNewlines, start, run, stop, memory };
document.getElementById('status').textContent = 'ready';
