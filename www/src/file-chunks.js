// Reading a File (or Blob) in chunks, for the core's incremental parser (issue 5).
//
// From the file's stream, not from slices: each `blob.slice(a, b).arrayBuffer()` costs a round
// trip to the browser's process, and a 137 MB file took ~170-250 ms to read in 4 MiB slices (one
// at a time, or one slice ahead) where its stream gave the same bytes in ~60 ms, and in ~20 ms
// read into one reused buffer (a "BYOB" reader: no new ArrayBuffer a chunk). Measured in a worker
// of headless Chromium 156 on the bench's 2-core machine; the page's reading of a 1M-row file
// from a File went from ~500 to ~260 ms, as fast as from memory.

/**
 * The bytes of `blob` in chunks of `chunkBytes` (the last one shorter). A chunk is valid until
 * the next one is asked for: they share one buffer, which the caller copies from (into wasm).
 * Leaving the loop early (a cancel, an error) cancels the stream.
 */
export async function* blobChunks(blob, chunkBytes) {
  const stream = blob.stream();
  let reader = null;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    // A browser without readers into a given buffer: the stream's own chunks, as they come.
    reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value;
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }
  let buffer = new ArrayBuffer(chunkBytes);
  try {
    for (let done = false; !done; ) {
      let filled = 0;
      while (filled < chunkBytes) {
        // The read takes the buffer over and gives it back (as `value.buffer`) with bytes in it.
        const read = await reader.read(new Uint8Array(buffer, filled, chunkBytes - filled));
        buffer = read.value.buffer;
        filled += read.value.byteLength;
        if (read.done) {
          done = true;
          break;
        }
      }
      if (filled > 0) yield new Uint8Array(buffer, 0, filled);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** The bytes of `bytes` (in memory) in chunks of `chunkBytes`, as views. */
export function* byteChunks(bytes, chunkBytes) {
  for (let at = 0; at < bytes.length; at += chunkBytes) yield bytes.subarray(at, at + chunkBytes);
}
