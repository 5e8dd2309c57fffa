// Issue 7, "Hardening": no data leaves the browser (every request the page and its workers make
// is a GET of one of its own static files, through every feature), the Content-Security-Policy
// forbids inline script and foreign origins, and the contents of a file (or its name) are never
// interpreted as HTML or script, wherever the page shows them.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DIST, serverAndBrowser, settle, text, waitForStatus } from './helpers.mjs';

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
  const started = serverAndBrowser();

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
    const { context, page } = await watchedPage(started.browser, started.server.url);
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
    const { context, page, seen } = await watchedPage(started.browser, started.server.url);
    const origin = new URL(started.server.url).origin;

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
    const other = await watchedPage(started.browser, link, { wait: false });
    await other.page.waitForSelector('#share-request:not([hidden])');
    // Waited for by its result, not by the next action to settle: the page of the link may still
    // be settling its start when the file is given, and the file's load begins only after its
    // check (a clean clone's run once read the status between the two).
    await other.page.setInputFiles('#file-input', join(DIST, '..', 'tests', 'data', 'basic.csv'));
    await other.page.waitForFunction(
      () =>
        document.getElementById('share-request').hidden &&
        document.getElementById('app').dataset.status === 'ready' &&
        [...document.querySelectorAll('#files [data-file]')].some((e) => e.dataset.file === 'basic.csv'),
      null,
      { timeout: 30000 },
    );

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

// ---- file contents are text, never markup ----------------------------------------------------------

const EVIL = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=2">',
  'javascript:window.__pwned=3',
  '"><svg onload=window.__pwned=4>',
  '\u202Egnp.exe\u200B\u200F right-to-left',
  'plain',
];
const H_SCRIPT = EVIL[0];
const H_IMG = EVIL[1];
const H_SVG = EVIL[3];
const H_LONG = `${'L'.repeat(4990)}<b>long</b>`;
const LONG_CELL = `${'A'.repeat(199_980)}<script>x</script>`;
const FILE_NAME = '<img src=x onerror=window.__pwned=5>.csv';

const csvCell = (v) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** A transactions CSV whose headers, cells and bad rows carry markup, scripts and odd text. */
function evilCsv() {
  const head = ['txn_id', 'created_at', 'user_id', 'amount', 'status', 'channel', H_SCRIPT, H_IMG, 'link', H_SVG, H_LONG, 'note'];
  const lines = [head.map(csvCell).join(',')];
  for (let i = 0; i < 240; i++) {
    const day = String(1 + (i % 20)).padStart(2, '0');
    const evil = EVIL[i % EVIL.length];
    let created = `2025-07-${day}T10:00:00+08:00`;
    let amount = (1 + (i % 7)).toFixed(2);
    // Rows the core skips, with the markup in the cell it cannot read.
    if (i === 7) amount = EVIL[1];
    if (i === 11) created = EVIL[0];
    if (i === 13) amount = EVIL[3];
    const row = [`T${i}`, created, i % 10 === 0 ? EVIL[3] : `U${i % 40}`, amount, i % 9 === 0 ? 'failed' : 'success', evil, EVIL[(i + 1) % EVIL.length], EVIL[(i + 2) % EVIL.length], EVIL[2], EVIL[4], `v${i % 3}`, i === 5 ? LONG_CELL : evil];
    lines.push(row.map(csvCell).join(','));
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'utf8');
}

/** Markup from the data in the page: elements and attributes that no part of the page makes. */
function injected(page) {
  return page.evaluate(() => {
    const found = [];
    for (const el of document.querySelectorAll('*')) {
      const tag = el.localName;
      if (tag === 'img' && el.getAttribute('src') === 'x') found.push('img src=x');
      if (tag === 'script' && !el.src) found.push(`inline script ${el.textContent.slice(0, 40)}`);
      if (tag === 'b' && el.textContent === 'long') found.push('<b> from a header');
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) found.push(`${tag} ${a.name}=${a.value.slice(0, 40)}`);
        if (/^(href|src|action|formaction|xlink:href)$/i.test(a.name) && /^\s*javascript:/i.test(a.value)) found.push(`${tag} ${a.name}=${a.value}`);
      }
    }
    return found;
  });
}

describe('file contents are never interpreted as HTML or script', () => {
  const started = serverAndBrowser();
  let session;
  const file = { name: FILE_NAME, mimeType: 'text/csv', buffer: evilCsv() };

  before(async () => {
    session = await watchedPage(started.browser, started.server.url);
  });

  async function assertClean(page, seen, what) {
    const log = await securityLog(page);
    assert.deepEqual(log.pwned, [], `${what}: no payload ran`);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(await injected(page), [], `${what}: no markup from the data in the page`);
    assert.deepEqual(log.csp, [], `${what}: no CSP violation (nothing tried to run)`);
    assert.deepEqual(seen.dialogs, [], `${what}: no dialog`);
    assert.deepEqual(seen.pageErrors, [], `${what}: no uncaught error`);
    // The long strings are cut on screen, not the page widened.
    const { overflow, culprits } = await page.evaluate(() => {
      const W = window.innerWidth;
      const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > W + 1 && ![...e.children].some((c) => c.getBoundingClientRect().right > W + 1));
      return { overflow: document.documentElement.scrollWidth - W, culprits: wide.slice(0, 5).map((e) => `${e.localName}#${e.id}.${e.getAttribute('class')} in ${e.parentElement?.getAttribute('class')}`) };
    });
    assert.ok(overflow <= 0, `${what}: the page is ${overflow} px wider than the window: ${culprits.join('; ')}`);
  }

  test('loaded: file name, headers and cells are shown as text', async () => {
    const { page, seen } = session;
    await settle(page, () => page.setInputFiles('#file-input', file), { expect: null });
    assert.equal(await page.getAttribute('#app', 'data-status'), 'ready', await text(page, '#error-banner'));
    assert.ok((await text(page, '#dataset-name')).includes(FILE_NAME), 'the file name, as text');
    // The mapping dropdowns list the headers as text.
    const options = await page.$$eval('#mapping select option', (os) => os.map((o) => o.textContent));
    for (const h of [H_SCRIPT, H_IMG, H_SVG]) assert.ok(options.some((o) => o.includes(h)), `header ${h} in the mapping`);
    // The skipped rows, with their cells, in the data-quality panel.
    await page.$$eval('#quality-body details', (ds) => ds.forEach((d) => (d.open = true)));
    const quality = await text(page, '#quality-body');
    assert.match(quality, /skipped/i);
    await assertClean(page, seen, 'loaded');
  });

  test('as segment, filter values and custom metric', async () => {
    const { page, seen } = session;
    await settle(page, () => page.selectOption('#segment', H_SCRIPT));
    assert.equal(await page.isVisible('#segment-wrap'), true);
    const segments = await text(page, '#segment-wrap');
    assert.ok(segments.includes(EVIL[1]), 'a segment named by its markup, as text');

    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'channel');
    const values = await page.$$eval('#filter-values label', (ls) => ls.map((l) => l.textContent));
    for (const v of EVIL.slice(0, 4)) assert.ok(values.some((t) => t.includes(v)), `filter value ${v}`);
    const boxes = page.locator('#filter-values input[type="checkbox"]');
    for (let i = 0; i < 4; i++) await boxes.nth(i).check();
    await settle(page, () => page.click('#filter-apply'));
    assert.ok((await text(page, '#filter-chips')).length > 0);

    // A filter on the column with the 200,000-character cell: its value list stays inside the page.
    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'note');
    await assertClean(page, seen, 'the value list of the long cells');
    await page.click('#filter-cancel');

    await page.fill('#metric-input', `evil = count(where channel = "${EVIL[0]}")`);
    await settle(page, () => page.click('.metric-form button[type="submit"]'));
    assert.equal(typeof (await page.$eval('[data-metric="evil"]', (e) => e.dataset.value)), 'string');
    // A name the language refuses: the error says so, as text.
    await page.fill('#metric-input', `${EVIL[1]} = count(where channel = "${EVIL[0]}")`);
    await settle(page, () => page.click('.metric-form button[type="submit"]'), { expect: null });
    await page.fill('#metric-input', '');

    await assertClean(page, seen, 'segment, filter, metric');
  });

  test('in chart tooltips', async () => {
    const { page, seen } = session;
    const chart = page.locator('[data-chart="tpv"]');
    await chart.scrollIntoViewIfNeeded();
    await page.waitForSelector('[data-chart="tpv"][data-rendered]', { timeout: 30000 });
    const box = await chart.boundingBox();
    let tip = '';
    for (let x = box.x + box.width * 0.1; x < box.x + box.width * 0.95 && !tip; x += box.width / 12) {
      await page.mouse.move(x, box.y + box.height * 0.6);
      await page.waitForTimeout(150);
      tip = await page.evaluate(() => [...document.querySelectorAll('.chart-tip')].map((t) => t.textContent).join(' '));
    }
    assert.ok(tip, 'a tooltip showed');
    assert.ok(EVIL.slice(0, 4).some((v) => tip.includes(v)), `the segments' markup is in the tooltip as text: ${tip.slice(0, 200)}`);
    await assertClean(page, seen, 'tooltips');
  });

  test('in the HTML report: no script or handler from the data', async () => {
    const { page } = session;
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="html"]')]);
    const html = readFileSync(await download.path(), 'utf8');
    assert.ok(html.includes('&lt;script&gt;window.__pwned=1'), 'the markup is in the report, escaped');
    const blank = await started.browser.newContext({ javaScriptEnabled: false, offline: true });
    try {
      const found = await (await blank.newPage()).evaluate((source) => {
        const doc = new DOMParser().parseFromString(source, 'text/html');
        const bad = [];
        for (const el of doc.querySelectorAll('script, img, iframe, object, embed, foreignObject, link, base, form')) bad.push(el.localName);
        for (const el of doc.querySelectorAll('*')) {
          for (const a of el.attributes) if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)) bad.push(`${el.localName} ${a.name}`);
        }
        return bad;
      }, html);
      assert.deepEqual(found, []);
    } finally {
      await blank.close();
    }
  });

  test('in a share link, opened; and the page is still usable', async () => {
    const { page, seen } = session;
    await page.click('#share-link');
    await page.waitForFunction(() => document.getElementById('share-url').value.includes('#v=1&'));
    const link = await page.inputValue('#share-url');
    const other = await watchedPage(started.browser, link, { wait: false });
    try {
      await other.page.waitForSelector('#share-request:not([hidden])');
      assert.ok((await text(other.page, '#share-request-files')).includes(FILE_NAME), 'the file asked for, by its name as text');
      await assertClean(other.page, other.seen, 'the link, asking for the file');
      await settle(other.page, () => other.page.setInputFiles('#file-input', file), { expect: null });
      assert.equal(await other.page.getAttribute('#app', 'data-status'), 'ready');
      assert.equal(await other.page.$eval('#segment', (s) => s.value), H_SCRIPT, 'the segment of the link');
      assert.ok(await other.page.isVisible('[data-metric="evil"]'));
      await assertClean(other.page, other.seen, 'the link, opened');
    } finally {
      await other.context.close();
    }

    await page.click('#share-link');
    await assertClean(page, seen, 'after the link');
  });

  test('in the column mapping; and the page is still usable', async () => {
    const { page, seen } = session;
    // Roles mapped to columns named with markup, and with the 5,000-character header.
    // Roles that do not decide which rows count (a time or amount column of markup would leave none).
    const roles = ['merchant_id', 'region'];
    const offered = await page.$$eval('#mapping select', (ss) => ss.map((s) => s.dataset.role));
    for (const r of roles) assert.ok(offered.includes(r), `the mapping offers ${r}`);
    for (const [role, header] of [
      [roles[0], H_IMG],
      [roles[1], H_LONG],
    ]) {
      const select = `#mapping select[data-role="${role}"]`;
      const value = await page.$eval(select, (s, h) => [...s.options].find((o) => o.textContent === h)?.value, header);
      await settle(page, () => page.selectOption(select, value), { expect: null });
      assert.ok((await text(page, `[data-role-summary="${role}"]`)).includes(header.slice(0, 40)), `${role} ← the column, as text`);
    }
    // A view that names a 5,000-character column cannot be a link: the Share panel says why.
    await page.click('#share-link');
    await page.waitForFunction(() => /Could not make the link/.test(document.getElementById('share-status').textContent));
    assert.match(await text(page, '#share-status'), /longer than/);
    await page.click('#share-link');
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    const count = await page.$eval('[data-metric="txn_count"]', (e) => e.dataset.value);
    assert.ok(Number(count) > 0, `numbers after all that (roles ${roles}: ${count})`);
    await assertClean(page, seen, 'at the end');
  });
});
