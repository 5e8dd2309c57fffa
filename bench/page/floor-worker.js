// The tokenise floor, in a Web Worker like the engines: the bytes transferred in, copied into wasm
// memory, and tokenised by csv-core (bench/floor, raw exports, no wasm-bindgen).
let ex = null;

const methods = {
  async init({ url }) {
    const t0 = performance.now();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url), {});
    ex = instance.exports;
    return { init_ms: performance.now() - t0 };
  },
  run({ buffer }) {
    const t0 = performance.now();
    const bytes = new Uint8Array(buffer);
    ex.reset();
    const ptr = ex.alloc(bytes.length) >>> 0; // a wasm32 pointer: unsigned
    if (!ptr) throw new Error(`floor: cannot allocate ${bytes.length} bytes`);
    new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
    const t1 = performance.now();
    const records = Number(ex.tokenise(ptr, bytes.length));
    const t2 = performance.now();
    return {
      copy_ms: t1 - t0,
      tokenise_ms: t2 - t1,
      records,
      fields: Number(ex.fields()),
      wasm_memory_bytes: ex.memory.buffer.byteLength,
    };
  },
};

self.onmessage = async ({ data: { id, method, params } }) => {
  try {
    self.postMessage({ id, ok: true, result: await methods[method](params || {}) });
  } catch (err) {
    self.postMessage({ id, ok: false, error: String(err?.stack || err) });
  }
};
