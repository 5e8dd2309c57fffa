// The only place that touches the wasm core. The page talks to it by messages, so a long parse or
// report never freezes the UI, and a crash of the core (a Rust panic surfaces as a RuntimeError,
// "unreachable") is caught here and reported as an ordinary error reply.
//
// Protocol (see client.js):
//   request  { id, method, params }
//   progress { id, progress }            (zero or more, before the reply; loadFile sends them:
//                                         { phase: reading|finishing, bytes, total, rows,
//                                           table_bytes, wasm_bytes, elapsed_ms, push_ms, encoding })
//   reply    { id, ok: true, result }
//          | { id, ok: false, error: { name, message, fatal, released } }
//   cancel   { method: 'cancel', params: { id } }   (no reply: the call it names rejects with
//                                                    an error named Cancelled)
// `fatal` is true when the wasm instance itself trapped: its state can no longer be trusted and the
// page should start a fresh worker. `released` is true when the engine let go of its dataset to
// make room for a file that then did not load: the page loads its files again.
//
// Two builds of the core: the size build (www/pkg, part of the first load) starts the engine; the
// speed build (www/pkg-fast, ~390 KB gzip) is fetched only when a large transactions file is
// loaded, and from then on every call goes to it (see switchToSpeedBuild); or when the page first
// asks for SQL (sqlScript), which only the speed build writes.
import initSizeBuild, * as sizeBuild from '../pkg/paymetrics.js';
import { SPEED_BUILD_FROM, warmUp } from './speed-build.js';
import { blobSource, prepareHelper, readInParts, readsInParts } from './parts.js';
import { blobChunks } from './file-chunks.js';

// The build in use: its Workbench and CsvUpload classes.
let build = sizeBuild;
let workbench = null;
let ready = null;
// The wasm instance's memory: its size is reported with the progress of a load.
let memory = null;

function engine() {
  if (!ready) {
    ready = initSizeBuild().then((exports) => {
      memory = exports.memory;
      workbench = new build.Workbench();
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
  loadSample: async ({ rows, seed }) => {
    const info = loadSample(await engine(), rows, seed);
    transactionRows = info?.rows_read ?? 0;
    streamed = null;
    return info;
  },
  // `buffer` is an ArrayBuffer transferred (not copied) from the page.
  loadCsv: async ({ name, buffer }) => {
    const wb = await engine();
    const info = readFile(buffer, (b) => wb.loadCsv(name, b), (b, enc) => wb.loadDecodedCsv(name, b, enc));
    transactionRows = info?.rows_read ?? 0;
    streamed = null;
    return info;
  },
  // A lookup file (users, merchants, orders…) added to the current dataset, replacing one of the
  // same name; joined through the report options' `joins`.
  loadLookup: async ({ name, buffer }) => {
    const wb = await engine();
    return readFile(buffer, (b) => wb.loadLookup(name, b), (b, enc) => wb.loadDecodedLookup(name, b, enc));
  },
  // A File or Blob (structured-cloned from the page: a handle, not a copy) read slice by slice
  // into the core; see readFile below. `role` is transactions or lookup.
  loadFile: async (params, call) => loadFile(await engine(), params, call),
  // The wasm memory's size now (it never shrinks: the largest it has been), for tests.
  // `build`: size or speed, the build in use; `retired_wasm_bytes`: the size build's memory once
  // the speed build took over (it is never given back).
  memory: async () => {
    await engine();
    return {
      wasm_bytes: memory.buffer.byteLength,
      heap_bytes: workbench.heapBytes(),
      build: speedBuild === 'in use' ? 'speed' : 'size',
      retired_wasm_bytes: retiredBytes,
    };
  },
  removeLookup: async ({ name }) => {
    (await engine()).removeLookup(name);
    return { ok: true };
  },
  // A streamed file (see streamFile) is read again for each report, with progress.
  report: async ({ options }, call) => {
    const wb = await engine();
    return streamed ? streamReport(wb, options, call) : wb.report(options);
  },
  // What custom metric definitions would give on the last report's data, without computing them
  // (the metric editor checks as the user types).
  checkMetrics: async ({ definitions }) => (await engine()).checkMetrics(definitions),
  // The SQL of the view of `report` (the report on screen, or its fields that src/sql.rs reads)
  // computed under `options` (share-ui.js's SQL panel). Only the speed build writes SQL: the one
  // in use, else the same build loaded beside the size build on first use (docs/size.md).
  sqlScript: async ({ report, options, dialect }) => {
    let writer = build;
    if (writer === sizeBuild) {
      try {
        writer = (await loadSpeedBuild()).fast;
      } catch (err) {
        throw new Error(`The SQL export could not be loaded (${err?.message || err}). Try again when online; the command-line tool writes the same SQL: \`paymetrics sql FILE\`.`);
      }
    }
    return writer.sqlScript(report, options, dialect);
  },
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
// that name, which the data-quality panel shows (src/ingest, docs/size.md).
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

// ---- loading a File in chunks (issue 5: a 1 GB CSV in bounded memory) ---------------------------
//
// Only the current slice of the file is ever in JS memory; the core keeps the table it reads
// (src/ingest, CsvStream). Between two slices the loop awaits the next one, so a `cancel` message
// gets through, and the page hears the progress about ten times a second.

// 4 MiB slices: a push is ~45 ms of the core's time at the bench's 1.5 s per 137 MB (~150 ms on
// a busy 2-core machine), so a cancel is seen within that, while the per-slice costs (a read, a
// message, a copy into wasm) stay small next to it.
const CHUNK_BYTES = 4 << 20;
const PROGRESS_MS = 100;
const MiB = 1 << 20;
// The memory budget (issue 5: wasm memory under 1 GiB with the report computed). The core counts
// the bytes its table holds (capacity included) as it reads; the frame and the report built from a
// table afterwards (report::build_frame: typed columns, calendar, day order; then the report's
// coded columns and percentiles) take about FRAME_BYTES_PER_ROW more per row, whatever the width
// of the file. Measured with the speed build in Node (the same V8 wasm memory as Chromium; wasm
// memory after the report) on a `paymetrics gen` file of 5.1M rows (697 MB, a 358 MiB table):
// 842 MiB after a daily report, 881 MiB with a segment, i.e. table + ~100 (~108) bytes a row,
// start-up memory included. So a file loads while its table + 104 bytes a row stay under BUDGET,
// which leaves room in the GiB for other views (funnel, retention, custom metrics) and allocator
// slack: about 5.2M rows of a 16-column payments export (~710 MB). (Session 8: 128 bytes a row,
// ~4.3M rows; the frame then held a time per row in milliseconds, 4-byte codes for every coded
// column, and typed numbers through a vector of parsed values.)
const BUDGET = 880 * MiB;
const FRAME_BYTES_PER_ROW = 104;
// A joined lookup column is a 4-byte code per transaction: room for 8 of them.
const JOIN_BYTES_PER_ROW = 32;
// A transactions file replaces the dataset. While it is read the old one is still held, so that a
// cancelled or failed load leaves the page as it was; but two large tables at once would not fit
// in the budget, and wasm memory never shrinks. Past this size the old dataset is let go first.
const KEEP_OLD_BELOW = 64 * MiB;

// Rows of the dataset's transactions table: the frame to come is built from them.
let transactionRows = 0;

class Cancelled extends Error {
  constructor(name) {
    super(`Loading ${name} was cancelled.`);
    this.name = 'Cancelled';
  }
}

// The calls that can be cancelled, by request id; and cancels that came before their call started
// (it was queued behind another).
const cancellable = new Map();
const cancelledEarly = new Set();

async function loadFile(wb, { file, name, role = 'transactions', memoryLimit, speedBuildFrom, partsFrom }, call) {
  if (!(file instanceof Blob)) throw new Error('loadFile needs a File or Blob');
  if (role !== 'transactions' && role !== 'lookup') throw new Error(`unknown file role: ${String(role)}`);
  name = name || file.name || 'file.csv';
  const token = { cancelled: cancelledEarly.delete(call.id) };
  cancellable.set(call.id, token);
  let released = false;
  try {
    if (role === 'transactions' && file.size >= speedBuildThreshold(speedBuildFrom)) {
      const switched = await switchToSpeedBuild(readsInParts(file.size, partsFrom));
      if (switched) {
        wb = workbench;
        released = switched.released;
      }
    }
    let held = wb.heapBytes();
    if (role === 'transactions' && held > KEEP_OLD_BELOW) {
      wb = freshWorkbench();
      held = 0;
      released = true;
    }
    // A transactions file's table and frame come on top of the dataset it replaces (held until
    // it is read). A lookup comes on top of the dataset and its frame; a join shares the
    // transactions' columns (dataset::prepare) and adds a 4-byte code per row for each joined
    // column, counted as JOIN_BYTES_PER_ROW.
    // A streamed file's state (its last view's fold, kept for the next: src/stream) is not a
    // table: it is counted as the wasm memory in use beyond the engine's start.
    const transactionsState = streamed
      ? Math.max(0, memory.buffer.byteLength - START_BYTES)
      : transactionRows * (FRAME_BYTES_PER_ROW + JOIN_BYTES_PER_ROW);
    const reserved = role === 'transactions' ? held : held + transactionsState;
    let limit = Math.max(0, BUDGET - reserved - retiredBeyondStart());
    // `memoryLimit` (the page's test seam, ?memory-limit= in the URL) can only lower the limit.
    if (Number.isFinite(memoryLimit) && memoryLimit >= 0) limit = Math.min(limit, memoryLimit);
    const budget = { limit, perRow: role === 'transactions' ? FRAME_BYTES_PER_ROW : 0 };
    // No room left for a lookup (the transactions it joins take it): said before reading. A
    // transactions file always has room to start (an old dataset past KEEP_OLD_BELOW is let go);
    // the core's own check refuses it, with its message, if it will not fit.
    if (limit <= 0 && role === 'lookup') throw lookupTooLarge(name);
    let info;
    let encoding = null;
    try {
      try {
        info = await readInChunks(wb, file, name, role, null, budget, token, call, partsFrom);
      } catch (err) {
        if (err?.name !== 'NeedsDecoding') throw err;
        encoding = err.encoding;
        info = await readInChunks(wb, file, name, role, encoding, budget, token, call);
      }
    } catch (err) {
      if (err?.name !== 'TooLarge' || role !== 'transactions' || !streams()) throw err;
      info = streamFile(file, name, encoding);
    }
    if (role === 'transactions') {
      transactionRows = info?.rows_read ?? 0;
      if (!info?.streamed) streamed = null;
    }
    return info;
  } catch (err) {
    if (released && err && typeof err === 'object') err.released = true;
    throw err;
  } finally {
    cancellable.delete(call.id);
  }
}

/** Drops the dataset (and the frame and the sample tables) with the Workbench that held them. */
function freshWorkbench() {
  workbench.free();
  workbench = new build.Workbench();
  ready = Promise.resolve(workbench);
  sampleKey = null;
  sampleCache = null;
  transactionRows = 0;
  streamed = null;
  return workbench;
}

// ---- a file too large to hold: streamed (issue 5; src/stream, src/wasm.rs streamReport) ---------
//
// A transactions file whose table would not fit the budget (the core throws TooLarge, early: it
// projects the table from the first slice) is not refused when the speed build is in use: the
// engine keeps only the File (a handle, not its bytes) and each report reads it again, in slices,
// folding batches of rows into state that grows with its days, payers and merchants, not its rows
// (the CLI's `report --stream`). Each view then takes one to four reads of the file rather than
// ~0.1 s (a change of grain one, a segment two more), but any size
// loads, in bounded memory (the 8M-row, 1.1 GB file: ~340 MiB, ~500 MiB with 11 segments). A
// GB18030 file is decoded by the browser's TextDecoder as it is read, each time. The core reads synchronously (FileReaderSync, in workers only), so
// a streamed report cannot hear a cancel message: the page cancels it by stopping the worker.

// The File of the streamed dataset, its name and its encoding when the browser decodes it
// (GB18030, after NeedsDecoding), or null.
let streamed = null;

/** Whether the build in use streams files (the speed build: feature `stream`). */
const streams = () => typeof build.Workbench.prototype.streamCsv === 'function' && typeof FileReaderSync === 'function';

/** Makes `file` a streamed dataset: the previous one is let go; lookups are loaded after. */
function streamFile(file, name, encoding = null) {
  const wb = freshWorkbench();
  wb.streamCsv(name, encoding ?? undefined);
  streamed = { file, name, encoding };
  return { file: name, rows_read: null, columns: [], lookups: [], streamed: true, bytes: file.size };
}

// The slices a streamed file is read in (see streamReport's `open`).
const STREAM_SLICE_BYTES = 32 * MiB;

/** The report of the streamed file, which is read once or more; progress as loadFile's. */
function streamReport(wb, options, call) {
  const { file, encoding } = streamed;
  const total = file.size;
  let started = performance.now();
  let lastPost = -Infinity;
  let reading = 0;
  const post = (read, bytes, rows) => {
    lastPost = performance.now();
    call.progress({ phase: 'streaming', read, bytes, total, rows, wasm_bytes: memory.buffer.byteLength, elapsed_ms: lastPost - started });
  };
  // Each read of the file: its bytes, in order, as the core asks for them (up to `max` at a
  // time, 4 MiB). They come from slices of STREAM_SLICE_BYTES: each slice read costs a round trip
  // to the browser's process (~5 ms here), which 4 MiB slices paid 260 times a read of a 1.1 GB
  // file. (The core asks synchronously, so the reads are FileReaderSync's, not the stream's.)
  // With `encoding`, each slice is decoded (TextDecoder in streaming mode: a character cut
  // between slices is kept whole) and the core is given UTF-8: `position()` is then where in
  // the file the core has got to, as its own count is of the UTF-8 bytes.
  let position = null;
  const open = () => {
    const reader = new FileReaderSync();
    const decoder = encoding ? new TextDecoder(encoding) : null;
    const encoder = decoder ? new TextEncoder() : null;
    let at = 0;
    let sliceStart = 0;
    let slice = new Uint8Array(0);
    let used = 0;
    let flushed = !decoder;
    position = () => sliceStart + (slice.length ? Math.round(((at - sliceStart) * used) / slice.length) : 0);
    return (max) => {
      if (used === slice.length && at < total) {
        const end = Math.min(total, at + STREAM_SLICE_BYTES);
        slice = new Uint8Array(reader.readAsArrayBuffer(file.slice(at, end)));
        if (decoder) slice = encoder.encode(decoder.decode(slice, { stream: true }));
        used = 0;
        sliceStart = at;
        at = end;
      } else if (used === slice.length && !flushed) {
        flushed = true;
        slice = encoder.encode(decoder.decode());
        used = 0;
        sliceStart = at;
      }
      const bytes = slice.subarray(used, used + max);
      used += bytes.length;
      return bytes;
    };
  };
  const progress = (read, coreBytes, rows) => {
    const bytes = encoding && position ? position() : coreBytes;
    // The time left is per read: each read starts the clock again.
    if (read !== reading) {
      reading = read;
      started = performance.now();
      post(read, bytes, rows);
    } else if (performance.now() - lastPost >= PROGRESS_MS) post(read, bytes, rows);
  };
  post(1, 0, 0);
  return wb.streamReport(options, open, progress);
}

// ---- the speed build (docs/size.md, "The speed build") --------------------------------------------
// A transactions file of SPEED_BUILD_FROM bytes or more (speed-build.js: why that size) is read by
// the speed build. A lookup file is not: it joins the dataset the build in use holds.

// The engine at start: BUDGET leaves ~40 MiB for it (the size build with the sample and its report
// takes ~26 MiB).
const START_BYTES = 40 * MiB;

let speedBuild = 'not loaded'; // -> 'in use' | 'unavailable'
// The speed build's compiled module, which the second reader of a large file runs too (parts.js).
let speedModule = null;
// The size build's wasm memory once the speed build took over: a wasm memory is never given back,
// so it still counts against the budget (past what BUDGET leaves for the engine's start).
let retiredBytes = 0;

const retiredBeyondStart = () => Math.max(0, retiredBytes - START_BYTES);

/** The threshold, lowered by the page's test seam (?speed-build-from= in the URL), never raised. */
function speedBuildThreshold(lowered) {
  return Number.isFinite(lowered) && lowered >= 0 ? Math.min(SPEED_BUILD_FROM, lowered) : SPEED_BUILD_FROM;
}

/**
 * Moves the engine to the speed build, for good: a new Workbench in the speed build's instance
 * takes the place of the size build's, which is freed; `withHelper`: a spare second reader is started
 * too (parts.js), for the file that asked for the switch. Returns null when nothing changed (the
 * speed build is in use already, or could not be loaded: the size build carries on), else
 * { released }: whether a dataset was let go.
 *
 * It happens at the start of a transactions file, before any byte is read. Such a file replaces
 * the dataset, and the page loads its lookups again after it, so nothing the size build holds is
 * needed once the file is read. Only a cancelled or failed load would need the old dataset, and
 * that is the case the page handles already when the engine lets go of a dataset to make room
 * (KEEP_OLD_BELOW): the error says `released`, and the page loads its files again, now into the
 * speed build, at the next change. The other way, reading into the speed build while the size
 * build keeps the old dataset until the new one is read, would leave two engines in use after a
 * cancel and tie every later call to the question of which one holds what. The sample's state
 * (sampleKey, sampleCache) belongs to the freed Workbench: the sample is generated again if needed.
 */
async function switchToSpeedBuild(withHelper = false) {
  if (speedBuild !== 'not loaded') return null;
  let fast;
  let exports;
  try {
    ({ fast, exports, module: speedModule } = await loadSpeedBuild());
    // The second reader of the file that asked for the switch starts now, while the speed build
    // warms up, so that it is ready when the file's second half is (parts.js).
    if (withHelper) prepareHelper(speedModule);
  } catch (err) {
    // Offline, say: the size build reads the file, only slower. Not tried again in this worker.
    speedBuild = 'unavailable';
    console.warn('The speed build could not be loaded; the size build reads the file.', err);
    return null;
  }
  try {
    warmUp(fast);
  } catch (err) {
    // Only speed is at stake: the file is read all the same.
    console.warn('The speed build could not be warmed up.', err);
  }
  const released = workbench.heapBytes() > 0;
  workbench.free();
  retiredBytes = memory.buffer.byteLength;
  build = fast;
  memory = exports.memory;
  workbench = new build.Workbench();
  ready = Promise.resolve(workbench);
  sampleKey = null;
  sampleCache = null;
  transactionRows = 0;
  streamed = null;
  speedBuild = 'in use';
  return { released };
}

// The speed build's glue, compiled module and instance, loaded once: by the first large file, or
// by the first SQL script (which leaves the size build in use). A failed load is tried again at
// the next SQL script; a large file does not try again (speedBuild is then 'unavailable').
let speedLoad = null;
function loadSpeedBuild() {
  speedLoad ||= (async () => {
    const fast = await import('../pkg-fast/paymetrics_fast.js');
    const module = await compile(new URL('../pkg-fast/paymetrics_fast_bg.wasm', import.meta.url));
    return { fast, module, exports: await fast.default({ module_or_path: module }) };
  })();
  speedLoad.catch(() => (speedLoad = null));
  return speedLoad;
}

/** The wasm module at `url`, compiled (while it downloads, where the server allows). */
async function compile(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not fetch ${url}: ${response.status}`);
  try {
    return await WebAssembly.compileStreaming(response.clone());
  } catch {
    // A server that does not say application/wasm: compiled from the bytes instead.
    return WebAssembly.compile(await response.arrayBuffer());
  }
}

/**
 * A lookup that does not fit, named like the core's TooLarge error (src/error.rs). A lookup may
 * be small and still not fit: it is the dataset it joins that takes the room, and it says so.
 */
function lookupTooLarge(name) {
  const err = new Error(
    `${name}: there is not enough memory left in the browser to add this file to the ${transactionRows.toLocaleString('en-US')} transactions loaded (the page keeps its memory under 1 GiB). The command-line tool joins files of any size: \`paymetrics report FILE --join ${name}\``,
  );
  err.name = 'TooLarge';
  return err;
}

/**
 * One pass over the file. With `encoding` (after NeedsDecoding) each slice is decoded by the
 * browser's TextDecoder in streaming mode, so a character cut between two slices is kept whole,
 * and pushed as UTF-8. A UTF-8 transactions file that the speed build reads, of PARTS_FROM to
 * PARTS_UP_TO bytes, is read in two parts at once, by this worker and a second one (parts.js).
 */
async function readInChunks(wb, file, name, role, encoding, budget, token, call, partsFrom = null) {
  const total = file.size;
  // The core stops at the limit, counting the table and the frame's share per row.
  const upload = new build.CsvUpload(name, encoding, budget.limit, budget.perRow);
  upload.expectBytes(total);
  let owned = true; // finishCsv / finishLookup take the upload over, even when they throw
  const decoder = encoding ? new TextDecoder(encoding) : null;
  const encoder = decoder ? new TextEncoder() : null;
  const started = performance.now();
  let lastPost = -Infinity;
  let progress = { bytes: 0, rows: 0, memory_bytes: 0 };
  let pushMs = 0;
  const post = (read, phase) => {
    lastPost = performance.now();
    call.progress({
      phase,
      bytes: read,
      total,
      rows: progress.rows,
      table_bytes: progress.memory_bytes,
      wasm_bytes: memory.buffer.byteLength,
      elapsed_ms: lastPost - started,
      push_ms: pushMs,
      encoding,
    });
  };
  try {
    post(0, 'reading');
    if (!decoder && role === 'transactions' && speedModule && build !== sizeBuild && readsInParts(total, partsFrom)) {
      await readInParts({
        upload,
        source: blobSource(file),
        module: speedModule,
        chunkBytes: CHUNK_BYTES,
        // The second reader's own instance holds half the table at most: the same budget.
        helperLimit: budget.limit,
        progress: (p) => {
          progress = p;
          if (performance.now() - lastPost >= PROGRESS_MS) post(p.bytes, 'reading');
        },
        cancelled: () => token.cancelled,
        onCancel: () => new Cancelled(name),
      });
    } else {
      let at = 0;
      if (token.cancelled) throw new Cancelled(name);
      for await (const chunk of blobChunks(file, CHUNK_BYTES)) {
        if (token.cancelled) throw new Cancelled(name);
        at += chunk.length;
        let bytes = chunk;
        if (decoder) bytes = encoder.encode(decoder.decode(bytes, { stream: true }));
        const t = performance.now();
        progress = upload.push(bytes);
        pushMs += performance.now() - t;
        if (performance.now() - lastPost >= PROGRESS_MS) post(at, 'reading');
      }
      if (decoder) {
        const tail = decoder.decode();
        if (tail) progress = upload.push(encoder.encode(tail));
      }
    }
    post(total, 'finishing');
    owned = false;
    return role === 'lookup' ? wb.finishLookup(upload) : wb.finishCsv(upload);
  } finally {
    if (owned) upload.free();
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
    // A JS exception that unwound through the core (out of memory in an import, say) leaves a
    // Workbench borrowed for good: wasm-bindgen then refuses every call with "recursive use of an
    // object". The instance is as unusable as after a trap, so it is restarted the same way.
    const fatal =
      err instanceof WebAssembly.RuntimeError ||
      /unreachable|RuntimeError/.test(String(err.name)) ||
      /recursive use of an object detected/.test(String(err.message));
    let message = err.message || String(err);
    if (fatal) {
      message = `The metrics engine crashed (${err.name}: ${message}). It has been restarted.`;
      // A trap after the memory grew large is most likely an allocation that failed: say what to
      // do about it rather than leave a bare "unreachable".
      const size = memory?.buffer.byteLength ?? 0;
      if (size >= 1024 * MiB) {
        message += ` It had used ${Math.round(size / MiB)} MiB of memory, more than a browser tab can be relied on for: for data this large, use the command-line tool (\`paymetrics report --stream FILE\`).`;
      }
    }
    return { name: err.name, message, fatal, released: !!err.released };
  }
  // wasm-bindgen may throw plain strings or JsValues.
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    message = String(err);
  }
  return { name: 'Error', message: message || 'Unknown error', fatal: false, released: false };
}

// Messages are handled strictly one after another, in arrival order; except `cancel`, which must
// reach a load while it runs, and so is handled at once.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, method, params } = event.data || {};
  if (method === 'cancel') {
    const token = cancellable.get(params?.id);
    if (token) token.cancelled = true;
    else cancelledEarly.add(params?.id);
    return;
  }
  const call = { id, progress: (progress) => self.postMessage({ id, progress }) };
  queue = queue.then(async () => {
    try {
      const fn = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : null;
      if (!fn) throw new Error(`Unknown worker method: ${String(method)}`);
      const result = await fn(params || {}, call);
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
