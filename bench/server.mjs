// A tiny static file server for the bench page: only the files the bench needs, only on
// 127.0.0.1, with the headers that make the page cross-origin isolated (COOP + COEP), which
// Chromium requires for performance.measureUserAgentSpecificMemory().
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.cjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.csv': 'text/csv; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const HEADERS = {
  'cache-control': 'no-store',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * Starts the server on a free port of 127.0.0.1; resolves to { url, close }.
 * `allowed`: URL prefixes served, each from the same path under `root` (the repository);
 * `pages`: URL path -> text served in place of the file (the page with its import map).
 */
export function serve(root, { allowed, pages = {} }) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (Object.hasOwn(pages, path)) {
      const body = Buffer.from(pages[path]);
      res.writeHead(200, { 'content-type': TYPES[extname(path)], 'content-length': body.length, ...HEADERS });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const file = normalize(join(root, path));
    const ok =
      (req.method === 'GET' || req.method === 'HEAD') &&
      file.startsWith(root + sep) &&
      allowed.some((p) => path.startsWith(p));
    let stat = null;
    try {
      stat = ok ? statSync(file) : null;
    } catch {
      stat = null;
    }
    if (!stat || !stat.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] || 'application/octet-stream',
      'content-length': stat.size,
      ...HEADERS,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      const close = () =>
        new Promise((r) => {
          server.closeAllConnections();
          server.close(r);
        });
      resolve({ url: `http://127.0.0.1:${port}`, close });
    });
  });
}
