// The SHA-256 of the user's files, for share links (share.js): computed once per File and kept,
// so that the address bar's link (live-link.js), the Share panel and a recipient's check
// (share-ui.js) never hash the same file twice.
//
// The hash runs in a worker of its own (hash-worker.js): crypto.subtle.digest takes the whole
// file at once and, in Chromium, holds up the calling thread while it runs; on the main thread a
// 60 MB file froze the page for 200–300 ms on this 2-core machine (a 256 MB one would for over a
// second). It still takes a while, so the page says what it is doing: `onCheck(name)` is called
// when a file is about to be read for its hash.
import { sha256Hex } from './share.js';

// Files above this are not hashed (the page would hold all of it in memory at once): a link
// then checks the recipient's copy by name and size only, and says so.
export const HASH_LIMIT = 256 * 1024 * 1024;

const hashes = new WeakMap(); // File -> Promise of its hex SHA-256 (null above HASH_LIMIT)
const known = new WeakMap(); // File -> hex SHA-256, once computed

/** The SHA-256 of `file` as 64 hex digits (null when too large to hash); computed once. */
export function hashFile(file, onCheck = null) {
  if (!file || file.size > HASH_LIMIT) return Promise.resolve(null);
  if (known.has(file)) return Promise.resolve(known.get(file));
  onCheck?.(file.name);
  let pending = hashes.get(file);
  if (!pending) {
    // A file that cannot be read (changed or removed on disk since it was picked) is not
    // hashed: its link checks the recipient's copy by name and size only, as above the limit.
    pending = hashOffThread(file)
      .catch(() => file.arrayBuffer().then(sha256Hex)) // no worker: on this thread after all
      .catch(() => null);
    hashes.set(file, pending);
    pending.then((hex) => known.set(file, hex));
  }
  return pending;
}

/** The SHA-256 of `file`, computed by a worker started for it (and ended once it answers). */
function hashOffThread(file) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (typeof data?.hex === 'string') resolve(data.hex);
      else reject(new Error(data?.error || 'no hash'));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(event.message || 'the hash worker failed'));
    };
    worker.postMessage(file);
  });
}

/**
 * The hash of `file` if it is known now: a string, null (too large: never hashed), or
 * undefined (not computed yet).
 */
export function knownHash(file) {
  if (!file || file.size > HASH_LIMIT) return null;
  return known.get(file);
}

/** A hash checked elsewhere (the embedded data of a link, against the link's SHA-256). */
export function rememberHash(file, hex) {
  known.set(file, hex);
  hashes.set(file, Promise.resolve(hex));
}
