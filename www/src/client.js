// Promise-based calls into the worker that owns the wasm core. The page never touches wasm itself.
//
//   const engine = new Engine({ onDeath });
//   const info = await engine.call('loadCsv', { name, buffer }, [buffer]);   // buffer is transferred
//
// Every call rejects with an Error whose message is readable text. When the worker dies (a script
// error, or the wasm instance trapped), pending calls reject, `onDeath(message)` is called, and
// the next call starts a fresh worker.

export class EngineError extends Error {
  constructor(message, { fatal = false, name = 'Error' } = {}) {
    super(message);
    this.name = 'EngineError';
    this.kind = name;
    this.fatal = fatal;
  }
}

export class Engine {
  constructor({ onDeath } = {}) {
    this.onDeath = onDeath || (() => {});
    this.worker = null;
    this.nextId = 1;
    this.pending = new Map();
    this.generation = 0;
  }

  start() {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'paymetrics-engine' });
    const generation = ++this.generation;
    worker.onmessage = (event) => this.#reply(event.data);
    worker.onerror = (event) => {
      event.preventDefault?.();
      const where = event.filename ? ` (${event.filename}:${event.lineno})` : '';
      this.#die(generation, `${event.message || 'the worker could not be started'}${where}`);
    };
    worker.onmessageerror = () => this.#die(generation, 'a message from the worker could not be read');
    this.worker = worker;
    return worker;
  }

  /** True once a worker has been started and not died since. */
  get alive() {
    return this.worker !== null;
  }

  call(method, params = {}, transfer = []) {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method, generation: this.generation });
      try {
        worker.postMessage({ id, method, params }, transfer);
      } catch (err) {
        this.pending.delete(id);
        reject(new EngineError(`Could not send ${method} to the metrics engine: ${err.message}`));
      }
    });
  }

  #reply(message) {
    const { id, ok, result, error } = message || {};
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    if (ok) {
      entry.resolve(result);
      return;
    }
    const err = new EngineError(error?.message || `${entry.method} failed`, { fatal: !!error?.fatal, name: error?.name });
    entry.reject(err);
    // The wasm instance trapped: its memory can no longer be trusted. Start over on the next call.
    if (err.fatal) this.#stop(entry.generation, 'The metrics engine was restarted after a crash.');
  }

  // The worker itself failed (script error, failed import, out of memory). The page hears it
  // first; then each pending call rejects with the same detail.
  #die(generation, detail) {
    if (generation !== this.generation) return;
    this.onDeath(detail);
    this.#stop(generation, `The metrics engine stopped: ${detail}`);
  }

  #stop(generation, message) {
    if (generation !== this.generation) return;
    const worker = this.worker;
    this.worker = null;
    worker?.terminate();
    for (const [id, entry] of this.pending) {
      if (entry.generation === generation) {
        this.pending.delete(id);
        entry.reject(new EngineError(message, { fatal: true }));
      }
    }
  }
}
