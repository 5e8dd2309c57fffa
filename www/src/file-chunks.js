// Reading a File (or Blob) in chunks, for the core's incremental parser (issue 5).
//
// From the file's stream, not from slices: each `blob.slice(a, b).arrayBuffer()` costs a round
// trip to the browser's process, and a 137 MB file took ~170-250 ms to read in 4 MiB slices (one
// at a time, or one slice ahead) where its stream gave the same bytes in ~60 ms, and in ~20 ms
// read into one reused buffer (a "BYOB" reader: no new ArrayBuffer a chunk). Measured in a worker
// of headless Chromium 156 on the bench's 2-core machine; the page's reading of a 1M-row file
// from a File went from ~500 to ~270 ms, within ~15 ms of the same bytes from memory.

/**
 * The bytes of `blob` in chunks of `chunkBytes` (the last one shorter). A chunk is valid until
 * the next one is asked for: they share one buffer, which the caller copies from (into wasm).
 * Leaving the loop early (a cancel, an error) cancels the stream.
 */
export async function* blobChunks(blob, chunkBytes) {
  const stream = blob.stream();
  let reader;
  let chunks;
  try {
    reader = stream.getReader({ mode: 'byob' });
    chunks = byobChunks(reader, chunkBytes);
  } catch {
    // A browser without readers into a given buffer: the stream's own chunks, as they come.
    reader = stream.getReader();
    chunks = streamChunks(reader);
  }
  try {
    yield* chunks;
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Chunks of `chunkBytes` read into one buffer by a BYOB `reader`, which takes the buffer over for
 * each read and gives it back (as `value.buffer`) with bytes in it.
 */
async function* byobChunks(reader, chunkBytes) {
  let buffer = new ArrayBuffer(chunkBytes);
  for (let done = false; !done; ) {
    let length = 0;
    while (length < chunkBytes && !done) {
      const read = await reader.read(new Uint8Array(buffer, length, chunkBytes - length));
      buffer = read.value.buffer;
      length += read.value.byteLength;
      done = read.done;
    }
    if (length > 0) yield new Uint8Array(buffer, 0, length);
  }
}

/** The chunks of a default `reader`, as the stream gives them. */
async function* streamChunks(reader) {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

/** The bytes of `bytes` (in memory) in chunks of `chunkBytes`, as views. */
export function* byteChunks(bytes, chunkBytes) {
  for (let at = 0; at < bytes.length; at += chunkBytes) yield bytes.subarray(at, at + chunkBytes);
}
