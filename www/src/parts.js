// Reading a large CSV file on two cores (issue 5), on machines of MIN_CORES or more (below).
//
// Reading is two thirds of the time from a file's bytes to its dashboard, and it is one core's
// work in one wasm instance. Wasm threads would need COOP/COEP headers, which static hosts such as
// GitHub Pages do not send; so a second Web Worker (part-worker.js) with its own instance of the
// speed build reads the second half of the file while the engine's worker reads the first, and
// hands its rows over as bytes (src/ingest: CsvStream::finish_part, append_part). The table is the
// same as one worker reading the whole file: the core's tests check it for every fixture, split at
// every line.
//
// The split is put just after a line break in the middle of the file. If a quoted field with line
// breaks runs across it, the first half does not end between two records (atRecordBoundary), the
// helper's part is dropped and the engine reads on from the split itself, as it would have without
// a helper. Files are read in parts only from PARTS_FROM bytes (below, a worker's start costs more
// than it saves) up to PARTS_UP_TO (above, the part's bytes, held in the helper and then copied
// into the engine's memory beside the table, would crowd the 1 GiB budget; those files are read
// by one worker in bounded memory, as before).
import { SPEED_BUILD_FROM } from './speed-build.js';
import { blobChunks, byteChunks } from './file-chunks.js';

export const PARTS_FROM = SPEED_BUILD_FROM;
export const PARTS_UP_TO = 256 * 2 ** 20;
// The bytes read before the helper is sent its part: the header is decided on the first 64 KiB.
const HEADER_BYTES = 64 << 10;
// How far past the middle the split may look for a line break.
const SPLIT_SEARCH_BYTES = 1 << 20;
// How often a wait for the helper looks for a cancel.
const CANCEL_POLL_MS = 50;

// The share of the file the engine reads: a little more than half, because the helper begins
// later (its part is sent after the header is read) and must then write its rows as bytes, which
// the engine waits for. Measured in the benchmark (1M rows, 2 cores, a spare helper): the two
// halves end within ~5-40 ms of each other.
const FIRST_SHARE = 0.55;

/** A helper worker, its module instantiating at once. */
function spawn(module) {
  const worker = new Worker(new URL('./part-worker.js', import.meta.url), { type: 'module', name: 'paymetrics-part' });
  worker.postMessage({ module });
  return worker;
}

// A helper started ahead of the read that needs it. Started with the read, a helper began its
// part ~60 ms after the engine began (the worker's script and wasm instance), so the engine read
// more than half and waited for the rest all the same; a spare begins at once. A helper reads one
// part only: its wasm memory, grown to hold half a table, is never given back, so it is let go
// after its part (once the report that follows has had the cores: SPARE_AFTER_MS) and a fresh one
// takes its place, holding only an empty instance (~2 MB) until the next large file.
let spare = null; // { worker, module }
const SPARE_AFTER_MS = 500;

/** Starts a spare helper for `module` (the speed build's compiled module), unless one is ready. */
export function prepareHelper(module) {
  if (spare?.module === module) return;
  spare?.worker.terminate();
  spare = { worker: spawn(module), module };
}

/** The spare helper for `module`, or a new one. */
function takeHelper(module) {
  if (spare?.module !== module) prepareHelper(module);
  const { worker } = spare;
  spare = null;
  return worker;
}

/**
 * After a read: a helper never sent a part becomes the spare again; one that may still be reading
 * (a cancel, a failure) stops at once; one that handed its part over is let go after the report,
 * and a fresh spare started then.
 */
function retire(worker, module, state) {
  if (state === 'unused' && !spare) {
    spare = { worker, module };
    return;
  }
  if (state !== 'done') worker.terminate();
  setTimeout(() => {
    worker.terminate();
    prepareHelper(module);
  }, SPARE_AFTER_MS);
}

/**
 * Lets the worker's event loop run (a message, a nested worker's start) between two chunks. A
 * chunk from memory comes back in a resolved promise, which yields to nothing but microtasks; a
 * message channel's task is not delayed the way a zero timeout is after a few nested ones.
 */
function yieldToEventLoop() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * A File or Blob as a source: read from its stream (file-chunks.js); the helper gets a Blob of its
 * part (a handle).
 */
export function blobSource(blob) {
  return {
    size: blob.size,
    read: async (from, to) => new Uint8Array(await blob.slice(from, to).arrayBuffer()),
    chunks: (from, to, chunkBytes) => blobChunks(blob.slice(from, to), chunkBytes),
    part: (from, to) => ({ message: { blob: blob.slice(from, to) }, transfer: [] }),
  };
}

/** Bytes in memory as a source (the benchmark): the helper gets a copy of its part, transferred. */
export function bytesSource(bytes) {
  return {
    size: bytes.length,
    read: async (from, to) => bytes.subarray(from, to),
    chunks: (from, to, chunkBytes) => byteChunks(bytes.subarray(from, to), chunkBytes),
    part: (from, to) => {
      const copy = bytes.slice(from, to);
      return { message: { bytes: copy }, transfer: [copy.buffer] };
    },
  };
}

// The cores a machine needs for a file to be read in parts. Session 6 asked for 4: on the 2-core
// machine of `make bench`, two readers took both cores from the browser's own threads, and the
// report right after the read lost what the read gained (the helper was started with the read and
// torn down at its end, beside the report). With a spare helper started beforehand and let go
// after the report (above), two cores gain: bytes to numbers on 1M rows went from ~545 to
// ~465 ms in Chromium (session 12, medians of 5; reading ~335 -> ~255 ms, the report unchanged).
export const MIN_CORES = 2;

/**
 * Whether a file of `size` bytes is read in parts, given the machine. `lowered` (the page's test
 * seam, ?parts-from=) can only lower PARTS_FROM.
 */
export function readsInParts(size, lowered = null) {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const from = Number.isFinite(lowered) && lowered >= 0 ? Math.min(PARTS_FROM, lowered) : PARTS_FROM;
  return cores >= MIN_CORES && size >= from && size <= PARTS_UP_TO;
}

/**
 * Reads `source` into `upload` (a CsvUpload of the speed build, UTF-8, nothing pushed yet), the
 * second half by a helper worker running `module` (the speed build's compiled WebAssembly.Module).
 * `progress({ bytes, rows, memory_bytes })` hears both halves; `cancelled()` is polled, and
 * `onCancel()` makes the error to throw. Falls back to reading the rest itself when the file
 * cannot be split or the helper fails; the upload then holds the same rows either way.
 *
 * Returns how it went, for the benchmark: `{ parts, first_half_ms, wait_ms, append_ms }` (parts 2
 * when the helper's rows were appended, else 1; the times from the start of the call).
 */
export async function readInParts({ upload, source, module, chunkBytes, helperLimit, progress, cancelled, onCancel }) {
  const total = source.size;
  const started = performance.now();
  const since = () => performance.now() - started;
  const how = { parts: 1, first_half_ms: null, wait_ms: null, append_ms: null };
  let at = 0;
  let last = { bytes: 0, rows: 0, memory_bytes: 0 };
  const helperRead = { bytes: 0, rows: 0 };
  const tell = () => progress({ bytes: at + helperRead.bytes, rows: last.rows + helperRead.rows, memory_bytes: last.memory_bytes });
  const pushUpTo = async (end) => {
    if (cancelled()) throw onCancel();
    for await (const bytes of source.chunks(at, end, chunkBytes)) {
      if (cancelled()) throw onCancel();
      last = upload.push(bytes);
      at += bytes.length;
      tell();
      await yieldToEventLoop();
    }
  };
  // Taken first: a helper not ready yet starts (its script, its wasm instance: ~0.1 s) while the
  // engine reads the first chunk.
  const worker = takeHelper(module);
  let state = 'unused'; // -> 'reading' once sent its part -> 'done' once it handed it over
  try {
    // The header comes first: the helper needs it (the continuation). It is nearly always in the
    // first HEADER_BYTES, which the engine reads before it sends the helper its part, so that the
    // helper begins at once; else the first chunk.
    await pushUpTo(Math.min(total, HEADER_BYTES));
    if (at < total && !upload.continuation()) await pushUpTo(Math.min(total, chunkBytes));
    const continuation = at < total ? upload.continuation() : null;
    const split = continuation ? await findSplit(source, at, total) : null;
    if (split === null) {
      await pushUpTo(total);
      return how;
    }
    how.helper_started_ms = since();
    state = 'reading';
    const helper = startHelper({ worker, source, split, total, continuation, helperLimit, chunkBytes, helperRead, tell });
    await pushUpTo(split);
    how.first_half_ms = since();
    if (upload.atRecordBoundary()) {
      const part = await waitFor(helper.part, cancelled, onCancel);
      state = 'done';
      how.wait_ms = since();
      if (part) {
        upload.appendPart(part);
        how.parts = 2;
        how.append_ms = since();
        how.helper = helperRead.times;
        // When the helper began its part, on this worker's clock.
        if (helperRead.times?.started_at) how.helper.began_ms = helperRead.times.started_at - performance.timeOrigin - started;
        at = total;
        helperRead.bytes = 0;
        helperRead.rows = 0;
        last = upload.progress();
        tell();
        return how;
      }
    }
  } finally {
    retire(worker, module, state);
  }
  helperRead.bytes = 0;
  helperRead.rows = 0;
  await pushUpTo(total);
  return how;
}

/** The byte after the first line break past FIRST_SHARE of the file (and past `from`), or null. */
async function findSplit(source, from, total) {
  const middle = Math.max(from, Math.floor(total * FIRST_SHARE));
  const end = Math.min(total, middle + SPLIT_SEARCH_BYTES);
  if (middle >= end) return null;
  const bytes = await source.read(middle, end);
  const index = bytes.indexOf(10);
  if (index < 0 || middle + index + 1 >= total) return null;
  return middle + index + 1;
}

function startHelper({ worker, source, split, total, continuation, helperLimit, chunkBytes, helperRead, tell }) {
  const { message, transfer } = source.part(split, total);
  // The part's bytes, or null when the helper failed (the engine reads the part itself then).
  const part = new Promise((resolve) => {
    worker.onmessage = ({ data }) => {
      if (data.progress) {
        helperRead.bytes = data.progress.bytes;
        helperRead.rows = data.progress.rows;
        tell();
      } else if (data.part) {
        helperRead.times = data.times;
        resolve(data.part);
      } else {
        if (data.error) console.warn('The second reader failed; the engine reads its part.', data.error);
        resolve(null);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      console.warn('The second reader could not run; the engine reads its part.', event.message);
      resolve(null);
    };
  });
  worker.postMessage({ continuation, limit: helperLimit, chunkBytes, ...message }, transfer);
  return { worker, part };
}

/** `promise`, unless the load is cancelled first. */
async function waitFor(promise, cancelled, onCancel) {
  let timer;
  const cancel = new Promise((_, reject) => {
    const poll = () => {
      if (cancelled()) reject(onCancel());
      else timer = setTimeout(poll, CANCEL_POLL_MS);
    };
    poll();
  });
  try {
    return await Promise.race([promise, cancel]);
  } finally {
    clearTimeout(timer);
  }
}
