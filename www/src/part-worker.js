// The second reader of a large file (see parts.js): reads one part of it with its own instance
// of the speed build, starting at a record boundary with the header the engine found, and sends
// the rows back as bytes. It reads one part; the engine's worker terminates it after that.
//
//   in   { module }                                  first, as soon as it is started: instantiate
//        { continuation, limit, chunkBytes, blob | bytes }   then the part to read
//   out  { progress: { bytes, rows } }*  then  { part: Uint8Array, times } | { error: { name, message } }
//        (times: { started_at, init_ms, read_ms, finish_ms }: when the part arrived, as
//        performance.timeOrigin + now, and the times from then on; for the benchmark)
import init, { CsvUpload } from '../pkg-fast/paymetrics_fast.js';
import { blobChunks, byteChunks } from './file-chunks.js';

let ready = null;

self.onmessage = async ({ data }) => {
  if (data.module) {
    ready = init({ module_or_path: data.module });
    ready.catch(() => {});
    return;
  }
  const { continuation, limit, chunkBytes, blob, bytes } = data;
  let upload = null;
  const started = performance.now();
  const times = { started_at: performance.timeOrigin + started };
  try {
    if (!ready) throw new Error('the part worker got a part before its module');
    await ready;
    times.init_ms = performance.now() - started;
    upload = CsvUpload.resume(continuation, limit);
    const total = blob ? blob.size : bytes.length;
    upload.expectBytes(total);
    let at = 0;
    for await (const chunk of blob ? blobChunks(blob, chunkBytes) : byteChunks(bytes, chunkBytes)) {
      const progress = upload.push(chunk);
      at += chunk.length;
      self.postMessage({ progress: { bytes: at, rows: progress.rows } });
    }
    times.read_ms = performance.now() - started;
    // finishPart takes the upload over, even when it throws (its part is refused, e.g. a quote
    // never closed): freeing it again in the catch below threw "null pointer passed to rust",
    // the error was never posted, and the engine waited for the part for ever.
    const finishing = upload;
    upload = null;
    const part = finishing.finishPart();
    times.finish_ms = performance.now() - started;
    self.postMessage({ part, times }, [part.buffer]);
  } catch (err) {
    upload?.free();
    self.postMessage({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  }
};
