// Promise-based calls into the worker that owns the wasm core. The page never touches wasm itself.
//
//   const engine = new Engine({ onDeath });
//   const info = await engine.call('loadCsv', { name, buffer }, [buffer]);   // buffer is transferred
//
//   const abort = new AbortController();
//   const info = await engine.call('loadFile', { file, name, role }, [], {
//     onProgress: (p) => show(p.bytes, p.total, p.rows),   // about ten times a second
//     signal: abort.signal,                                 // abort.abort() cancels the load
//   });
//
// A cancelled call rejects with an EngineError whose `kind` is 'Cancelled', once the worker has
// stopped reading (so the next call finds it idle). A call made with `stopOnCancel` (a streamed
// report: the core reads synchronously and hears no message until it is done: the text to reject
// with) is cancelled by stopping the worker: it rejects at once, and the next call starts a fresh worker, empty (the
// page loads its files again, as after a crash; a cancel is not counted as one).
// Every call rejects with an Error whose message is readable text. When the worker dies (a script
// error, or the wasm instance trapped), pending calls reject, `onDeath(message)` is called, and
// the next call starts a fresh worker. A core that crashes again and again (MAX_CRASHES within
// CRASH_WINDOW_MS) is not restarted any more: calls reject with kind 'Halted' until `resume()`,
// so that a page that retries after a crash cannot loop on restarts.

export class EngineError extends Error {
  constructor(message, { fatal = false, name = 'Error', released = false } = {}) {
    super(message);
    this.name = 'EngineError';
    this.kind = name;
    this.fatal = fatal;
    // The engine let go of its dataset for this call, which then failed: load the files again.
    this.released = released;
  }
}

// Three crashes in two minutes is no longer bad luck (a panic the data or the view triggers every
// time): restarting again would only repeat it, and each restart reloads the files.
export const MAX_CRASHES = 3;
export const CRASH_WINDOW_MS = 120_000;

export class Engine {
  constructor({ onDeath } = {}) {
    this.onDeath = onDeath || (() => {});
    this.worker = null;
    this.nextId = 1;
    this.pending = new Map();
    this.generation = 0;
    this.crashes = []; // times of the recent crashes
    this.halted = null; // why the engine is not restarted any more, or null
  }

  /** Lets the engine be restarted again after it was halted (the user asked to try again). */
  resume() {
    this.halted = null;
    this.crashes = [];
  }

  /** Counts a crash; halts the engine when there were too many of them lately. */
  #crashed() {
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
    this.crashes.push(now);
    if (this.crashes.length >= MAX_CRASHES) {
      this.halted = `The metrics engine crashed ${this.crashes.length} times in ${Math.round(CRASH_WINDOW_MS / 60000)} minutes, so it was not restarted again. Undo the last change and try again, or reload the page.`;
    }
  }

  start() {
    if (this.worker) return this.worker;
    if (this.halted) throw new EngineError(this.halted, { name: 'Halted' });
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

  /**
   * Calls `method` in the worker. `onProgress(progress)` hears the progress messages the method
   * sends (loadFile does); aborting `signal` asks the worker to cancel the call.
   */
  call(method, params = {}, transfer = [], { onProgress = null, signal = null, stopOnCancel = null } = {}) {
    let worker;
    try {
      worker = this.start();
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      let cleanup = () => {};
      const settle = (fn) => (value) => {
        cleanup();
        fn(value);
      };
      this.pending.set(id, { resolve: settle(resolve), reject: settle(reject), onProgress, method, generation: this.generation });
      if (signal) {
        // The worker answers a cancel by rejecting the call (or it had finished already).
        const cancel = () => {
          if (!this.pending.has(id) || this.worker !== worker) return;
          if (stopOnCancel) this.#stop(this.generation, stopOnCancel, 'Cancelled');
          else worker.postMessage({ method: 'cancel', params: { id } });
        };
        if (signal.aborted) cancel();
        else {
          signal.addEventListener('abort', cancel, { once: true });
          cleanup = () => signal.removeEventListener('abort', cancel);
        }
      }
      try {
        worker.postMessage({ id, method, params }, transfer);
      } catch (err) {
        this.pending.delete(id);
        cleanup();
        reject(new EngineError(`Could not send ${method} to the metrics engine: ${err.message}`));
      }
    });
  }

  #reply(message) {
    const { id, ok, result, error, progress } = message || {};
    const entry = this.pending.get(id);
    if (!entry) return;
    if (progress !== undefined) {
      try {
        entry.onProgress?.(progress);
      } catch (err) {
        console.error(err);
      }
      return;
    }
    this.pending.delete(id);
    if (ok) {
      entry.resolve(result);
      return;
    }
    const err = new EngineError(error?.message || `${entry.method} failed`, { fatal: !!error?.fatal, name: error?.name, released: !!error?.released });
    entry.reject(err);
    // The wasm instance trapped: its memory can no longer be trusted. Start over on the next call.
    if (err.fatal && entry.generation === this.generation) {
      this.#crashed();
      this.#stop(entry.generation, 'The metrics engine was restarted after a crash.');
    }
  }

  // The worker itself failed (script error, failed import, out of memory). The page hears it
  // first; then each pending call rejects with the same detail.
  #die(generation, detail) {
    if (generation !== this.generation) return;
    this.#crashed();
    this.onDeath(detail);
    this.#stop(generation, `The metrics engine stopped: ${detail}`);
  }

  // Stops the worker; its pending calls reject with `message`, as fatal (a crash: the page
  // restarts its action) unless `name` says otherwise (a cancel).
  #stop(generation, message, name = 'Error') {
    if (generation !== this.generation) return;
    const worker = this.worker;
    this.worker = null;
    worker?.terminate();
    for (const [id, entry] of this.pending) {
      if (entry.generation === generation) {
        this.pending.delete(id);
        entry.reject(new EngineError(message, { fatal: name === 'Error', name }));
      }
    }
  }
}
