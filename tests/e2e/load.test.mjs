// End-to-end: files read in chunks by the worker (issue 5). A progress bar with bytes, rows and
// the time left; Cancel mid-way, which leaves the data as it was; a file past the memory limit
// gets a message that points to the command-line tool; a GB18030 file larger than the 64 KiB the
// core sniffs is read a second time through the browser's decoder.
//
// The test files are generated into the system's temporary directory (the big one is ~120 MB) and
// removed at the end. The too-large case uses the page's test seam `?memory-limit=BYTES` (README,
// "Page hooks"), which lowers the memory a table may take, instead of a file of a gigabyte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA, assertClose, fileNames, kpiValues, settle, startPage, text, waitForStatus, writeCsv } from './helpers.mjs';


/**
 * Records what the load panel shows (its data-* numbers, text and bar) at every change, in the
 * page, from now on. With `cancel`, clicks Cancel from inside the page (no round trip to the test
 * to delay it) as soon as the time left is estimated, or half the file is read.
 */
function recordLoad(page, { cancel = false } = {}) {
  return page.evaluate((cancel) => {
    const panel = document.getElementById('load');
    const bar = document.getElementById('load-bar');
    const log = [];
    window.__loadLog = log;
    const condition = (p) => / left$/.test(p.detail) || p.bytes > p.total * 0.75;
    let cancelled = false;
    new MutationObserver(() => {
      const d = panel.dataset;
      if (d.bytes === undefined || panel.hidden) return;
      const p = {
        bytes: Number(d.bytes),
        total: Number(d.total),
        rows: Number(d.rows),
        phase: d.phase,
        visible: !panel.hidden,
        detail: document.getElementById('load-detail').textContent,
        title: document.getElementById('load-title').textContent,
        value: bar.value,
        valuetext: bar.getAttribute('aria-valuetext'),
      };
      const last = log[log.length - 1];
      if (!last || last.bytes !== p.bytes || last.phase !== p.phase || last.detail !== p.detail || last.title !== p.title) log.push(p);
      if (cancel && !cancelled && condition(p)) {
        cancelled = true;
        p.cancelledHere = true;
        document.getElementById('load-cancel').click();
      }
    }).observe(panel, { attributes: true, subtree: true, childList: true, characterData: true });
  }, cancel);
}

/** As the page writes sizes (format.js, bytes). */
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

const loadLog = (page) => page.evaluate(() => window.__loadLog);

/**
 * The Alipay bill (tests/data/wallets/alipay-gbk.csv: 24 lines of notes, a header and 5 rows, in
 * GB18030) with its rows repeated `times` times, written to `path`. tests/expected.md,
 * "wallets/": the five rows' TPV is 222,377.58.
 */
function repeatedAlipayBill(path, times) {
  const bytes = readFileSync(join(DATA, 'wallets/alipay-gbk.csv'));
  let start = 0;
  for (let line = 0; line < 25; line++) start = bytes.indexOf(0x0a, start) + 1;
  const rows = bytes.subarray(start);
  writeFileSync(path, Buffer.concat([bytes.subarray(0, start), ...Array(times).fill(rows)]));
}

const ALIPAY_TPV = 222377.58;

/** Checks what the page shows of the repeated Alipay bill (`repeatedAlipayBill`, `times`). */
async function assertAlipayBillShown(page, times) {
  assert.equal(await text(page, '#quality [data-fact="encoding"]'), 'GB18030');
  assert.equal(await text(page, '#quality [data-fact="header-line"]'), '25');
  const q = (k) => page.$eval(`#quality [data-quality="${k}"] .qstat-value`, (e) => e.textContent.trim());
  assert.equal(await q('read'), (5 * times).toLocaleString('en-US'));
  assert.equal(await text(page, '[data-role-summary="amount"]'), 'amount ← 金额');
  // Rows of January and February 2023: the page shows all of them.
  const kpis = await kpiValues(page);
  assertClose(kpis.txn_count, 5 * times, 'txn_count');
  assertClose(kpis.tpv, times * ALIPAY_TPV, 'tpv');
}

describe('Loading files in chunks', { timeout: 300000 }, () => {
  let dir;
  let small; // ~6 MB: two chunks
  let smallSize;
  // ~300 MB: read by one worker (above PARTS_UP_TO) for ~0.8 s here, long enough to show the
  // time left (from 0.3 s on) and to cancel. At ~120 MB, read in two parts from the File's
  // stream, it was read in ~0.25 s.
  let big;
  let session;
  let page;
  let log;
  let sample; // the sample's KPIs, as first shown

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paymetrics-e2e-'));
    small = join(dir, 'payments-60k.csv');
    smallSize = writeCsv(small, 60000);
    big = join(dir, 'payments-big.csv');
    writeCsv(big, 3000000);
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
    sample = await kpiValues(page);
  });

  after(async () => {
    await session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the progress bar shows the bytes and rows read, then the file is loaded', async () => {
    assert.equal(await page.isVisible('#load'), false, 'no load panel before a load');
    await recordLoad(page);
    await settle(page, () => page.setInputFiles('#file-input', small));
    const seen = await loadLog(page);
    assert.ok(seen.length >= 2, `progress was shown: ${JSON.stringify(seen)}`);
    assert.ok(seen.every((p) => p.visible && p.total === smallSize), 'visible, with the file size as total');
    assert.equal(seen[0].bytes, 0);
    const last = seen[seen.length - 1];
    assert.equal(last.bytes, smallSize, 'every byte read');
    assert.equal(last.rows, 60000, 'every row counted');
    assert.equal(last.value, 100);
    assert.equal(last.detail, `${mb(smallSize)} of ${mb(smallSize)} · 60,000 rows · finishing the table…`);
    assert.match(last.valuetext, /^100% · 60,000 rows · /);
    // Bytes and rows only grow; the bar follows the bytes.
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i].bytes >= seen[i - 1].bytes && seen[i].rows >= seen[i - 1].rows, 'monotonic');
      assertClose(seen[i].value, Math.round((1000 * seen[i].bytes) / seen[i].total) / 10, 'bar value');
    }
    // The bar is an accessible progressbar named by the panel's title.
    assert.equal(await page.$eval('#load-bar', (b) => b.tagName), 'PROGRESS');
    assert.equal(await page.getAttribute('#load-bar', 'aria-labelledby'), 'load-title');

    assert.equal(await page.isVisible('#load'), false, 'the panel goes once the file is loaded');
    assert.deepEqual(await fileNames(page), ['payments-60k.csv']);
    const kpis = await kpiValues(page);
    assertClose(kpis.txn_count, 60000, 'txn_count');
    assertClose(kpis.tpv, 60000, 'tpv');
    assertClose(kpis.active_payers, 1000, 'active_payers');
  });

  test('Cancel stops a load mid-way; the data shown before stays, and the page works', async () => {
    await settle(page, () => page.click('#start-over'));
    assert.deepEqual(await kpiValues(page), sample, 'the sample again');
    await recordLoad(page, { cancel: true });
    await settle(page, () => page.setInputFiles('#file-input', big));
    const seen = await loadLog(page);
    const at = seen.find((p) => p.cancelledHere);
    assert.ok(at, `Cancel was clicked: ${JSON.stringify(seen.slice(-3))}`);
    assert.ok(at.bytes < at.total, 'mid-way');
    assert.ok(seen.every((p) => p.phase !== 'finishing'), 'the file was not read to its end');
    assert.ok(seen.some((p) => /(about \d+ (s|min)|less than a second) left$/.test(p.detail)), `the time left was shown: ${JSON.stringify(seen.map((p) => p.detail))}`);

    assert.equal(await page.isVisible('#load'), false);
    assert.equal(await page.getAttribute('#app', 'data-status'), 'ready');
    assert.match(await text(page, '#error-banner'), /^Loading cancelled Loading payments-big\.csv was cancelled\. The data shown is the data from before\./);
    assert.ok(await page.$eval('#error-banner', (b) => b.classList.contains('is-info')), 'a notice, not an error');
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    assert.deepEqual(await kpiValues(page), sample, 'the KPIs as before');
    // The engine still holds the sample: a new report of it gives the same numbers.
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await settle(page, () => page.click('#grain [data-grain="day"]'));
    assert.deepEqual(await kpiValues(page), sample, 'recomputed, the same');
    // And another file loads after it.
    await settle(page, () => page.setInputFiles('#file-input', small));
    assertClose((await kpiValues(page)).txn_count, 60000, 'the next file');
  });

  test('a GB18030 file larger than the sniffed head is decoded by the browser as it is read', async () => {
    // The Alipay bill with its rows repeated 400 times: ~0.6 MB, so the core asks for decoding
    // while reading, not at the end, and the worker reads the file again through TextDecoder.
    const file = join(dir, 'alipay-gbk-big.csv');
    repeatedAlipayBill(file, 400);
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => page.setInputFiles('#file-input', file));
    await assertAlipayBillShown(page, 400);
  });

  test('no request leaves the machine, no CSP violation, no uncaught error', async () => {
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.csp, []);
    assert.deepEqual(log.pageErrors, []);
  });
});

describe('A file too large for the browser', { timeout: 120000 }, () => {
  let dir;
  let file;
  let session;
  let page;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paymetrics-e2e-'));
    file = join(dir, 'payments-60k.csv');
    writeCsv(file, 60000);
    session = await startPage();
    page = session.page;
    await waitForStatus(page, 'ready', 45000);
    // The test seam: tables may take 2 MiB at most (the 60,000 rows need ~8).
    await page.goto(new URL('?memory-limit=2097152', page.url()).href);
    await waitForStatus(page, 'ready', 45000);
  });

  after(async () => {
    await session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('gets a message that points to the command-line tool, and the data before stays', async () => {
    const before = await kpiValues(page);
    await settle(page, () => page.setInputFiles('#file-input', file), { expect: 'error' });
    assert.equal(await text(page, '#error-title'), 'Too large for the browser');
    const message = await text(page, '#error-message');
    assert.match(message, /^payments-60k\.csv: the file is too large to load in the browser: after [\d,]+ rows it needs more than 2 MiB, the page's limit\./);
    assert.match(message, /command-line tool .*`paymetrics report --stream FILE`/);
    assert.equal(await page.isVisible('#load'), false);
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    assert.deepEqual(await kpiValues(page), before);
    // The page still works on the data it had.
    await settle(page, () => page.click('#grain [data-grain="month"]'));
    assert.equal((await kpiValues(page)).txn_count, before.txn_count);
  });
});

describe('A file too large to hold is streamed: read from disk again for each view', { timeout: 300000 }, () => {
  let dir;
  let small;
  let big;
  let session;
  let page;
  let log;
  let held; // the small file's KPIs when the page holds it

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paymetrics-e2e-'));
    small = join(dir, 'payments-60k.csv');
    writeCsv(small, 60000);
    big = join(dir, 'payments-big.csv');
    writeCsv(big, 1200000);
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
    await settle(page, () => page.setInputFiles('#file-input', small));
    held = await kpiValues(page);
    // The test seams: tables may take 2 MiB at most (the 60,000 rows need ~8), and the speed
    // build, which streams, reads every transactions file.
    await page.goto(new URL('?memory-limit=2097152&speed-build-from=0', page.url()).href);
    await waitForStatus(page, 'ready', 45000);
  });

  after(async () => {
    await session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('its metrics are those of the file held in memory, read twice with the progress shown', async () => {
    await recordLoad(page);
    await settle(page, () => page.setInputFiles('#file-input', small));
    assert.deepEqual(await fileNames(page), ['payments-60k.csv']);
    const kpis = await kpiValues(page);
    assertClose(kpis.txn_count, 60000, 'txn_count');
    assertClose(kpis.tpv, 60000, 'tpv');
    assertClose(kpis.active_payers, 1000, 'active_payers');
    assert.deepEqual(Object.keys(kpis).sort(), Object.keys(held).sort(), 'the same metrics shown');
    for (const [id, value] of Object.entries(held)) {
      if (value === null) assert.equal(kpis[id], null, id);
      else assertClose(kpis[id], value, id);
    }
    // The load panel showed the two reads of the file, each to its end.
    const seen = await loadLog(page);
    const streaming = seen.filter((p) => p.phase === 'streaming');
    assert.ok(streaming.some((p) => /^Reading payments-60k\.csv…$/.test(p.title)), JSON.stringify(seen.map((p) => p.title)));
    assert.ok(streaming.some((p) => /^Reading payments-60k\.csv again \(read 2: the exact percentiles\)…$/.test(p.title)), JSON.stringify(seen.map((p) => p.title)));
    assert.ok(streaming.every((p) => p.total === streaming[0].total && p.bytes <= p.total));
    // Said on the page: what it is.
    assert.match(await text(page, '#streamed-note'), /^\d+\.\d MB: too large to hold in the browser, so it is read from disk again for each view\. A segment reads it twice more\.$/);
    assert.equal(await page.isVisible('#custom-section'), true, 'custom metrics are streamed too');
    assert.equal(await page.isVisible('[data-section="funnel"]'), true, 'the funnel, from the payers\' days');
    assert.equal(await page.isVisible('[data-hist="ticket"]'), true, 'the histograms, counted in the second read');
    assert.notEqual(await text(page, '#hist-ticket-caption'), '');
    const q = (k) => page.$eval(`#quality [data-quality="${k}"] .qstat-value`, (e) => e.textContent.trim());
    assert.equal(await q('read'), '60,000');
    // Another grain reads the file once more (the fold of the first view is kept: only the
    // percentiles are read again), a month of the same rows.
    await recordLoad(page);
    await settle(page, () => page.click('#grain [data-grain="month"]'));
    assertClose((await kpiValues(page)).txn_count, 60000, 'txn_count by month');
    const again = await loadLog(page);
    assert.ok(again.some((p) => p.phase === 'streaming'), 'read with the progress shown');
    assert.ok(again.every((p) => !/ again /.test(p.title)), `one read: ${JSON.stringify(again.map((p) => p.title))}`);
    // The metric editor checks a definition as it is typed against the file's columns, without
    // reading it again.
    await page.fill('#metric-input', 'late = count_distinct(user_idd)');
    await page.locator('#metric-live .field-error').waitFor({ state: 'visible' });
    assert.match(await text(page, '#metric-live .field-error'), /unknown column "user_idd"/);
    // A custom metric, folded per day as the file streams: the payers of the last ten days
    // (U{n} pays on day 1 + n % 20 of July), and a percentile, found in the second read.
    for (const metric of ['late_payers = count_distinct(user_id where created_at >= "2025-07-11")', 'amount_p95 = p95(amount)']) {
      await page.fill('#metric-input', metric);
      await settle(page, () => page.click('.metric-form button[type="submit"]'), { timeout: 90000 });
    }
    const custom = await kpiValues(page);
    assertClose(custom.late_payers, 500, 'late_payers, streamed');
    assertClose(custom.amount_p95, 1, 'amount_p95, streamed');
    assertClose(custom.txn_count, 60000, 'txn_count with custom metrics');
  });

  test('Cancel stops reading it, the view shown stays, and the next view reads it again', async () => {
    const before = await kpiValues(page);
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => page.setInputFiles('#file-input', big), { timeout: 90000 });
    assertClose((await kpiValues(page)).txn_count, 1200000, 'the big file, streamed');
    const shown = await kpiValues(page);
    await recordLoad(page, { cancel: true });
    await settle(page, () => page.click('#grain [data-grain="week"]'), { timeout: 90000 });
    const seen = await loadLog(page);
    const at = seen.find((p) => p.cancelledHere);
    assert.ok(at && at.phase === 'streaming' && at.bytes < at.total, `cancelled mid-read: ${JSON.stringify(seen.slice(-3))}`);
    assert.match(await text(page, '#error-banner'), /^Loading cancelled Reading payments-big\.csv was cancelled\. The data shown is the data from before\./);
    assert.deepEqual(await kpiValues(page), shown, 'the view before');
    // The worker was stopped: the next view starts another, which streams the file again.
    await settle(page, () => page.click('#grain [data-grain="day"]'), { timeout: 90000 });
    assertClose((await kpiValues(page)).txn_count, 1200000, 'read again');
    assert.notDeepEqual(before, {}, 'the first test ran');
  });

  test('a GB18030 file is decoded by the browser each time it is read', async () => {
    // The Alipay bill with its rows repeated 6,000 times: 30,000 rows, ~9 MB, past the 2 MiB
    // the seam leaves.
    const file = join(dir, 'alipay-gbk-streamed.csv');
    repeatedAlipayBill(file, 6000);
    const size = readFileSync(file).length;
    await settle(page, () => page.click('#start-over'));
    await recordLoad(page);
    await settle(page, () => page.setInputFiles('#file-input', file), { timeout: 90000 });
    assert.equal(await page.isVisible('#streamed-note'), true, 'streamed');
    await assertAlipayBillShown(page, 6000);
    // The progress counts the file's own bytes (not the UTF-8 the core is given, ~1.3x more).
    const streaming = (await loadLog(page)).filter((p) => p.phase === 'streaming');
    assert.ok(streaming.length > 0 && streaming.every((p) => p.total === size && p.bytes <= size), JSON.stringify(streaming.slice(-3)));
  });

  test('no request leaves the machine, no CSP violation, no uncaught error', async () => {
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.csp, []);
    assert.deepEqual(log.pageErrors, []);
  });
});
