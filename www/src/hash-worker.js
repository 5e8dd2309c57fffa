// Hashes one file (a File, posted by file-hash.js) off the page's main thread and posts back its
// SHA-256 as { hex } or { error }. crypto.subtle.digest takes the whole file at once and, in
// Chromium, holds up the thread that called it while it runs (~4 ms per MB on this machine): here
// that thread is this worker's, so the page keeps responding.
self.onmessage = async ({ data: file }) => {
  try {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    self.postMessage({ hex: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') });
  } catch (err) {
    self.postMessage({ error: String(err?.message || err) });
  }
};
