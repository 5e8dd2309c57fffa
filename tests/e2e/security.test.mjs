// Issue 7, "Hardening": no data leaves the browser (every request the page and its workers make
// is a GET of one of its own static files, through every feature), the Content-Security-Policy
// forbids inline script and foreign origins, and the contents of a file (or its name) are never
// interpreted as HTML or script, wherever the page shows them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, launch, serveStatic, settle, text, waitForStatus } from './helpers.mjs';

// ---- the page, with everything that could send data watched --------------------------------------

/**
 * Runs in the page before its own scripts: records every securitypolicyviolation, every use of
 * the APIs that send data without a fetch Playwright would see as an ordinary request (beacons,
 * sockets, event streams, peer connections), every alert/confirm/prompt, and keeps `__pwned`
 * observable (a payload that sets it is caught even if the value is later deleted).
 */
function watchInPage() {
  const log = { csp: [], beacons: [], sockets: [], pwned: [] };
  Object.defineProperty(window, '__securityLog', { value: log });
  document.addEventListener('securitypolicyviolation', (e) => log.csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
  const beacon = navigator.sendBeacon?.bind(navigator);
  navigator.sendBeacon = (url, data) => {
    log.beacons.push(String(url));
    return beacon ? beacon(url, data) : false;
  };
  for (const name of ['WebSocket', 'EventSource', 'RTCPeerConnection', 'webkitRTCPeerConnection']) {
    const Original = window[name];
    if (!Original) continue;
    window[name] = new Proxy(Original, {
      construct(target, args) {
        log.sockets.push(`${name} ${String(args[0] ?? '')}`);
        return Reflect.construct(target, args);
      },
    });
  }
  let pwned;
  Object.defineProperty(window, '__pwned', {
    configurable: false,
    get: () => pwned,
    set: (v) => {
      pwned = v;
      log.pwned.push(String(v));
    },
  });
}

/** A fresh context and page watched as above; `requests` holds what the page and its workers asked. */
async function watchedPage(browser, url, { wait = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await context.addInitScript(watchInPage);
  const page = await context.newPage();
  const seen = { requests: [], dialogs: [], pageErrors: [] };
  // The context sees the requests of the page and of its dedicated workers.
  context.on('request', (r) => seen.requests.push({ url: r.url(), method: r.method(), type: r.resourceType() }));
  page.on('dialog', (d) => {
    seen.dialogs.push(`${d.type()}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => seen.pageErrors.push(String(e)));
  await page.goto(url);
  if (wait) await waitForStatus(page, 'ready', 60000);
  return { context, page, seen };
}

const securityLog = (page) => page.evaluate(() => ({ ...window.__securityLog }));

/**
 * Every request must be a GET, to the page's own origin, of a file that exists in dist/.
 * data: and blob: URLs are local: returned apart, for the record.
 */
function checkRequests(requests, origin, what) {
  const local = [];
  const bad = [];
  for (const r of requests) {
    if (/^(data|blob):/.test(r.url)) {
      local.push(r.url.slice(0, 40));
      continue;
    }
    const u = new URL(r.url);
    const path = decodeURIComponent(u.pathname).replace(/^\/+/, '') || 'index.html';
    const file = join(DIST, path);
    const exists = existsSync(file) && statSync(file).isFile();
    if (r.method !== 'GET' || u.origin !== origin || !exists) bad.push(`${r.method} ${r.url} (${r.type})`);
  }
  assert.deepEqual(bad, [], `${what}: only GETs of the page's own files`);
  return local;
}

async function save(page, click) {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
}

// ---- the CSP --------------------------------------------------------------------------------------

/** The policy of dist/index.html's meta tag, as { directive: [sources] }. */
function builtPolicy() {
  const html = readFileSync(join(DIST, 'index.html'), 'utf8');
  const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]*)"/i.exec(html);
  assert.ok(meta, 'dist/index.html has its Content-Security-Policy');
  return Object.fromEntries(
    meta[1]
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

describe('no data leaves the browser', () => {
  let server;
  let browser;
  before(async () => {
    server = await serveStatic();
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('the built page keeps a strict Content-Security-Policy', () => {
    const csp = builtPolicy();
    assert.deepEqual(csp['default-src'], ["'self'"]);
    assert.ok(csp['script-src'], 'script-src is set');
    for (const s of csp['script-src']) assert.ok(["'self'", "'wasm-unsafe-eval'"].includes(s), `script-src allows only the page's files and wasm, not ${s}`);
    assert.deepEqual(csp['connect-src'], ["'self'"], 'the page connects only to its own origin');
    assert.deepEqual(csp['object-src'], ["'none'"]);
    assert.deepEqual(csp['form-action'], ["'none'"]);
    for (const [name, sources] of Object.entries(csp)) {
      for (const s of sources) {
        assert.doesNotMatch(s, /^(https?:|wss?:|\*|[\w-]+\.[\w.-]+)/i, `${name}: no foreign origin (${s})`);
        assert.notEqual(s, "'unsafe-eval'", `${name}: no eval`);
      }
    }
    assert.ok(!csp['style-src']?.includes("'unsafe-inline'"), 'no inline styles either');
  });

  test('an inline script is blocked and reported', async () => {
    const { context, page } = await watchedPage(browser, server.url);
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1;';
      document.head.append(s);
      const a = document.createElement('div');
      a.setAttribute('onclick', 'window.__inline = 2;');
      document.body.append(a);
      a.click();
    });
    await page.waitForFunction(() => window.__securityLog.csp.length >= 2);
    assert.equal(await page.evaluate(() => window.__inline), undefined, 'neither ran');
    assert.ok((await securityLog(page)).csp.every((v) => /^script-src/.test(v)));
    await context.close();
  });

  test('load, file, every change, every export, a share link: nothing but the page\'s own files', async () => {
    const { context, page, seen } = await watchedPage(browser, server.url);
    const origin = new URL(server.url).origin;

    // A file of the user's.
    await settle(page, () => page.setInputFiles('#file-input', join(DIST, '..', 'tests', 'data', 'basic.csv')));
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await settle(page, () => page.selectOption('#tz', 'Europe/Berlin'));
    await settle(page, () => page.selectOption('#segment', { index: 1 }));
    await page.click('#add-filter');
    await page.selectOption('#filter-column', { index: 0 });
    await page.locator('#filter-values input[type="checkbox"]').first().check();
    await settle(page, () => page.click('#filter-apply'));
    await page.fill('#metric-input', 'big = count(where amount > 10)');
    await settle(page, () => page.click('.metric-form button[type="submit"]'));

    // Every export.
    for (const kind of ['metrics-csv', 'series-csv', 'json', 'html']) {
      const file = await save(page, () => page.click(`[data-export="${kind}"]`));
      assert.ok(file.bytes.length > 0, kind);
    }
    const chart = '[data-chart="tpv"]';
    await page.locator(chart).scrollIntoViewIfNeeded();
    await page.waitForSelector(`${chart}[data-rendered] + .chart-actions [data-chart-export="png"]`, { timeout: 30000 });
    for (const kind of ['png', 'svg']) await save(page, () => page.click(`${chart} + .chart-actions [data-chart-export="${kind}"]`));
    await page.click('[data-export="sql"]');
    await page.waitForSelector('#sql-dialog[data-ready="duckdb"]', { timeout: 60000 });
    await save(page, () => page.click('#sql-download'));
    await page.keyboard.press('Escape');

    // A share link, opened in a new page (which asks for the file, then reads it).
    await page.click('#share-link');
    await page.waitForFunction(() => document.getElementById('share-url').value.includes('#v=1&'));
    const link = await page.inputValue('#share-url');
    const other = await watchedPage(browser, link, { wait: false });
    await other.page.waitForSelector('#share-request:not([hidden])');
    await settle(other.page, () => other.page.setInputFiles('#file-input', join(DIST, '..', 'tests', 'data', 'basic.csv')));

    for (const [p, s, what] of [
      [page, seen, 'the page'],
      [other.page, other.seen, 'the page of the link'],
    ]) {
      const local = checkRequests(s.requests, origin, what);
      const log = await securityLog(p);
      assert.deepEqual(log.csp, [], `${what}: no CSP violation`);
      assert.deepEqual(log.beacons, [], `${what}: no beacon`);
      assert.deepEqual(log.sockets, [], `${what}: no socket, event stream or peer connection`);
      assert.deepEqual(s.dialogs, []);
      assert.deepEqual(s.pageErrors, []);
      // For the record: what stayed inside the browser.
      if (local.length) console.log(`${what}: ${local.length} local data:/blob: URLs`);
    }
    // The requests were seen, the lazy parts included: the check had something to check.
    for (const file of [/paymetrics_bg.*\.wasm$/, /echarts.*\.js$/, /paymetrics_fast_bg.*\.wasm$/]) {
      assert.ok(seen.requests.some((r) => file.test(r.url)), `${file} was fetched`);
    }
    assert.equal(await text(page, '#dataset-name'), await text(other.page, '#dataset-name'));
    assert.ok((await page.$$eval('[data-metric="big"]', (els) => els.length)) > 0, 'the custom metric has its card');
    // And the check does fail on what it must refuse.
    for (const r of [
      { url: `${origin}/no-such-file.js`, method: 'GET' },
      { url: `${origin}/index.html`, method: 'POST' },
      { url: 'https://example.com/collect', method: 'GET' },
    ]) {
      assert.throws(() => checkRequests([r], origin, 'a bad request'), /only GETs/);
    }
    await other.context.close();
    await context.close();
  });
});
