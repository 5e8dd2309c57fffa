// Shared by the e2e tests: a tiny static server over dist/ (no dependencies) and the browser.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DIST = join(ROOT, 'dist');
export const DATA = join(ROOT, 'tests', 'data');

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.csv': 'text/csv; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Serve `dir` on 127.0.0.1 at a free port. Resolves to { url, close }. */
export async function serveStatic(dir = DIST) {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
      let file = normalize(join(root, path));
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': MIME[extname(file).toLowerCase()] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The static server and Chromium of a suite: call it in a `describe`; they start before its
 * tests and stop after them. Returns `{ server, browser }`, filled in once started.
 */
export function serverAndBrowser() {
  const started = {};
  before(async () => {
    started.server = await serveStatic();
    started.browser = await launch();
  });
  after(async () => {
    await started.browser?.close();
    await started.server?.close();
  });
  return started;
}

/**
 * A page that records every request and every CSP violation, and collects uncaught errors.
 * `offsite` lists requests to any origin but this machine (blob: and data: URLs are local).
 */
export async function openPage(browser, url, { width = 1440, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, acceptDownloads: true });
  const page = await context.newPage();
  const log = { requests: [], offsite: [], pageErrors: [], console: [], csp: [] };
  const track = (req) => {
    const u = req.url();
    log.requests.push(u);
    if (u.startsWith('blob:') || u.startsWith('data:')) return;
    let host = '';
    try {
      host = new URL(u).hostname;
    } catch {
      /* unparsable: treat as off-site */
    }
    if (!LOCAL_HOSTS.has(host) && !LOCAL_HOSTS.has(`[${host}]`)) log.offsite.push(u);
  };
  // Requests made by the worker are seen by the context too.
  context.on('request', track);
  page.on('pageerror', (err) => log.pageErrors.push(String(err)));
  page.on('console', (msg) => {
    const text = msg.text();
    log.console.push(`${msg.type()}: ${text}`);
    if (/Content Security Policy/i.test(text)) log.csp.push(text);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(url);
  return { context, page, log };
}

/** Wait until the app root says ready (or fail with the banner text on error). */
/**
 * Serves dist/, launches Chromium and opens the page: the set-up every suite shares.
 * `close()` stops the browser and the server.
 */
export async function startPage({ width = 1440, height = 900 } = {}) {
  if (!existsSync(join(DIST, 'index.html'))) throw new Error('dist/index.html is missing: run `make dist` first');
  const server = await serveStatic(DIST);
  const browser = await launch();
  const { page, log } = await openPage(browser, server.url, { width, height });
  return {
    server,
    browser,
    page,
    log,
    async close() {
      await browser.close();
      await server.close();
    },
  };
}

/** Numbers from the page equal the expected ones to 1e-9 relative; `null` means no value. */
export function assertClose(actual, expected, what) {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.equal(typeof actual, 'number', `${what}: expected ${expected}, got ${actual}`);
  const tol = 1e-9 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected}, got ${actual}`);
}

export async function waitForStatus(page, status, timeout = 30000) {
  await page.waitForFunction(
    (want) => {
      const s = document.getElementById('app')?.dataset.status;
      return s === want || (want !== 'error' && s === 'error');
    },
    status,
    { timeout },
  );
  const got = await page.getAttribute('#app', 'data-status');
  if (got !== status) {
    const banner = await page.textContent('#error-banner').catch(() => '');
    throw new Error(`page status is ${got}, wanted ${status}: ${banner?.trim()}`);
  }
}

/** { metricId: number|null } from the KPI cards' data-value. */
export function kpiValues(page) {
  return page.$$eval('[data-metric]', (els) =>
    Object.fromEntries(els.map((e) => [e.dataset.metric, e.dataset.value === '' ? null : Number(e.dataset.value)])),
  );
}

/**
 * Run `action` and wait until the page has settled on the action it started (data-settled grows),
 * then check the status. Returns the status it ended with.
 */
export async function settle(page, action, { expect = 'ready', timeout = 30000 } = {}) {
  const before = Number((await page.getAttribute('#app', 'data-settled')) || 0);
  await action();
  await page.waitForFunction(
    (n) => Number(document.getElementById('app').dataset.settled || 0) > n && document.getElementById('app').dataset.status !== 'loading',
    before,
    { timeout },
  );
  const status = await page.getAttribute('#app', 'data-status');
  if (expect && status !== expect) {
    const banner = (await page.textContent('#error-banner'))?.replace(/\s+/g, ' ').trim();
    throw new Error(`page status is ${status}, wanted ${expect}${banner ? `: ${banner}` : ''}`);
  }
  return status;
}

/** The series table: [{ bucket, values: { metricId: number|null } }]. */
export function seriesRows(page) {
  return page.$$eval('#series-table tbody tr', (rows) =>
    rows.map((tr) => ({
      bucket: tr.dataset.bucket,
      values: Object.fromEntries(
        [...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.dataset.value === '' ? null : Number(td.dataset.value)]),
      ),
    })),
  );
}

/** Upload fixtures (paths under tests/data) through the page's file input, all at once. */
export function upload(page, ...names) {
  return page.setInputFiles('#file-input', names.map((n) => join(DATA, n)));
}

/** The names in the Files panel, in order (the transactions file first). */
export function fileNames(page) {
  return page.$$eval('#files [data-file]', (els) => els.map((e) => e.dataset.file));
}

/** Text of an element with runs of white space collapsed. */
export async function text(page, selector) {
  return ((await page.textContent(selector)) || '').replace(/\s+/g, ' ').trim();
}

const HEADER = 'txn_id,created_at,user_id,amount,status,note\n';
const NOTE = 'padding to make the rows about a hundred bytes long';

/**
 * A transactions CSV of `rows` successful payments of 1.00 each, over 20 days of July 2025 (so the
 * page shows all of it), from 1,000 payers: TPV = txn_count = rows.
 */
export function writeCsv(path, rows) {
  const parts = [HEADER];
  let block = '';
  for (let i = 0; i < rows; i++) {
    const day = String(1 + (i % 20)).padStart(2, '0');
    block += `T${i},2025-07-${day}T10:00:00+08:00,U${i % 1000},1.00,success,${NOTE}\n`;
    if (block.length > 1 << 20) {
      parts.push(block);
      block = '';
    }
  }
  parts.push(block);
  writeFileSync(path, parts.join(''));
  return statSync(path).size;
}

/**
 * The sample's transactions CSV as the page offers it for download (a blob: URL: nothing leaves
 * the page), once the page has made the link.
 */
export async function downloadSampleCsv(page) {
  await page.waitForFunction(() => document.querySelector('#dl-transactions')?.href.startsWith('blob:'));
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dl-transactions')]);
  return readFileSync(await download.path(), 'utf8');
}

/** Everything the view shows that a share link (or the address of the view) must restore. */
export async function snapshot(page) {
  return {
    kpis: await kpiValues(page),
    series: await seriesRows(page),
    grain: await page.$eval('#grain [aria-pressed="true"]', (b) => b.dataset.grain),
    tab: await page.$eval('#views [aria-selected="true"]', (b) => b.dataset.view),
    segment: await page.$eval('#segment', (s) => s.value),
    filters: await page.$$eval('#filter-chips [data-filter] .chip-edit', (els) => els.map((e) => e.textContent)),
    period: [await page.getAttribute('#period-caption', 'data-from'), await page.getAttribute('#period-caption', 'data-to')],
    dataset: await text(page, '#dataset-name'),
  };
}

/** A new page (in its own context) at `url`, once it is ready. */
export async function openLink(browser, url) {
  const opened = await openPage(browser, url);
  await waitForStatus(opened.page, 'ready', 45000);
  return opened;
}

/** Waits until the address holds the view on screen (main.js sets data-address). */
export async function addressFollows(page, want = 'current') {
  await page.waitForSelector(`#app[data-address="${want}"]`, { timeout: 20000 });
}
