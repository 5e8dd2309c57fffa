// The only place that touches the wasm core. The page talks to it by messages, so a long parse or
// report never freezes the UI, and a crash of the core (a Rust panic surfaces as a RuntimeError,
// "unreachable") is caught here and reported as an ordinary error reply.
//
// Protocol (see client.js):
//   request  { id, method, params }
//   reply    { id, ok: true, result }
//          | { id, ok: false, error: { name, message, fatal } }
// `fatal` is true when the wasm instance itself trapped: its state can no longer be trusted and the
// page should start a fresh worker.
import init, { Workbench } from '../pkg/paymetrics.js';

let workbench = null;
let ready = null;

function engine() {
  if (!ready) {
    ready = init().then(() => {
      workbench = new Workbench();
      return workbench;
    });
  }
  return ready;
}

const SAMPLE_KINDS = ['transactions', 'users', 'merchants'];

const methods = {
  // Starts the wasm instance; the page calls it first so a load failure shows up early.
  ping: async () => {
    await engine();
    return { ok: true };
  },
  roles: async () => (await engine()).roles(),
  loadSample: async ({ rows, seed }) => loadSample(await engine(), rows, seed),
  // `buffer` is an ArrayBuffer transferred (not copied) from the page.
  loadCsv: async ({ name, buffer }) => {
    const wb = await engine();
    return readFile(buffer, (b) => wb.loadCsv(name, b), (b, enc) => wb.loadDecodedCsv(name, b, enc));
  },
  // A lookup file (users, merchants, orders…) added to the current dataset, replacing one of the
  // same name; joined through the report options' `joins`.
  loadLookup: async ({ name, buffer }) => {
    const wb = await engine();
    return readFile(buffer, (b) => wb.loadLookup(name, b), (b, enc) => wb.loadDecodedLookup(name, b, enc));
  },
  removeLookup: async ({ name }) => {
    (await engine()).removeLookup(name);
    return { ok: true };
  },
  report: async ({ options }) => (await engine()).report(options),
  // The three CSVs of the last generated sample, as text, for the download links.
  sampleFiles: async () => {
    const wb = await engine();
    const out = {};
    for (const kind of SAMPLE_KINDS) out[kind] = wb.sampleFile(kind);
    return out;
  },
};

// The core decodes UTF-8 and UTF-16 itself but carries no GB18030 (GBK) tables: they would add
// ~125 KB gzip to every page load, and the browser has them. For such a file it throws an Error
// named NeedsDecoding whose `encoding` is the TextDecoder label; the text goes back as UTF-8 with
// that name, which the data-quality panel shows (src/ingest.rs, docs/size.md).
function readFile(buffer, load, loadDecoded) {
  const bytes = new Uint8Array(buffer);
  try {
    return load(bytes);
  } catch (err) {
    if (err?.name !== 'NeedsDecoding') throw err;
    const utf8 = new TextEncoder().encode(new TextDecoder(err.encoding).decode(bytes));
    return loadDecoded(utf8, err.encoding);
  }
}

// The sample is generated once per (rows, seed); "Load sample" again, "Start over" and a restarted
// engine read its three CSVs back, about four times faster than generating them anew. The names
// are the core's (src/wasm.rs), checked against what it reports for the transactions table.
let sampleKey = null; // the (rows, seed) of the sample this Workbench generated
let sampleCache = null; // its CSVs as bytes, made on the first reload

function loadSample(wb, rows, seed) {
  const key = `${rows}/${seed}`;
  if (sampleKey === key) {
    if (!sampleCache) {
      const encoder = new TextEncoder();
      const table = (kind) => ({ name: `sample-${kind}.csv`, bytes: encoder.encode(wb.sampleFile(kind)) });
      sampleCache = { transactions: table('transactions'), lookups: [table('users'), table('merchants')] };
    }
    const info = wb.loadCsv(sampleCache.transactions.name, sampleCache.transactions.bytes);
    for (const l of sampleCache.lookups) wb.loadLookup(l.name, l.bytes);
    return info;
  }
  sampleCache = null;
  const info = wb.loadSample(rows, seed);
  sampleKey = info?.file === 'sample-transactions.csv' ? key : null;
  return info;
}

function describe(err) {
  if (err instanceof Error) {
    const fatal = err instanceof WebAssembly.RuntimeError || /unreachable|RuntimeError/.test(String(err.name));
    let message = err.message || String(err);
    if (fatal) message = `The metrics engine crashed (${err.name}: ${message}). It has been restarted.`;
    return { name: err.name, message, fatal };
  }
  // wasm-bindgen may throw plain strings or JsValues.
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    message = String(err);
  }
  return { name: 'Error', message: message || 'Unknown error', fatal: false };
}

// Messages are handled strictly one after another, in arrival order.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, method, params } = event.data || {};
  queue = queue.then(async () => {
    try {
      const fn = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : null;
      if (!fn) throw new Error(`Unknown worker method: ${String(method)}`);
      const result = await fn(params || {});
      self.postMessage({ id, ok: true, result });
    } catch (err) {
      const error = describe(err);
      if (error.fatal) {
        // Drop the trapped instance; a fresh worker will be started by the page.
        workbench = null;
        ready = Promise.reject(new Error('engine stopped after a crash'));
        ready.catch(() => {});
      }
      self.postMessage({ id, ok: false, error });
    }
  });
};
