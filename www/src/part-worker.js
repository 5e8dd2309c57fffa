// The second reader of a large file (see parts.js): reads one part of it with its own instance
// of the speed build, starting at a record boundary with the header the engine found, and sends
// the rows back as bytes. It holds nothing after that; the engine's worker terminates it.
//
//   in   { module, continuation, limit, chunkBytes, blob | bytes }
//   out  { progress: { bytes, rows } }*  then  { part: Uint8Array } | { error: { name, message } }
import init, { CsvUpload } from '../pkg-fast/paymetrics_fast.js';

self.onmessage = async ({ data: { module, continuation, limit, chunkBytes, blob, bytes } }) => {
  let upload = null;
  try {
    await init({ module_or_path: module });
    upload = CsvUpload.resume(continuation, limit);
    const total = blob ? blob.size : bytes.length;
    upload.expectBytes(total);
    for (let at = 0; at < total; ) {
      const to = Math.min(total, at + chunkBytes);
      const chunk = blob ? new Uint8Array(await blob.slice(at, to).arrayBuffer()) : bytes.subarray(at, to);
      const progress = upload.push(chunk);
      at = to;
      self.postMessage({ progress: { bytes: at, rows: progress.rows } });
    }
    const part = upload.finishPart();
    upload = null;
    self.postMessage({ part }, [part.buffer]);
  } catch (err) {
    upload?.free();
    self.postMessage({ error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) } });
  }
};
