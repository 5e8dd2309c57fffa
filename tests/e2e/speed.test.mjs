// End-to-end: the speed build (www/pkg-fast, docs/size.md "The speed build"). The page starts on
// the size build; the worker fetches the speed build when a transactions file of 16 MiB or more is
// loaded, and keeps it. The page's test seam `?speed-build-from=BYTES` (README, "Page hooks")
// lowers that size, so that small files show the switch: the numbers are those of the size build,
// Cancel and "too large" behave as before, and a speed build that cannot be fetched leaves the
// size build at work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose, fileNames, kpiValues, openPage, seriesRows, settle, startPage, text, waitForStatus, writeCsv } from './helpers.mjs';

const SPEED_BUILD = /\/assets\/paymetrics_fast[-_][^/]*\.(js|wasm)$/;
const speedRequests = (log) => log.requests.filter((u) => SPEED_BUILD.test(u));
// The second reader of a file read in two parts (www/src/parts.js).
const PART_WORKER = /\/assets\/part-worker[-_][^/]*\.js$/;
const partRequests = (log) => log.requests.filter((u) => PART_WORKER.test(u));

/**
 * The CSV at `from` with one row's `column` given a quoted value of many lines, long enough that
 * the middle of the file (where a second reader would start) falls inside it.
 */
function withQuotedLinesAcrossTheMiddle(from, to, column) {
  const lines = readFileSync(from, 'utf8').split('\n');
  const index = lines[0].split(',').indexOf(column);
  assert.ok(index >= 0, `the file has a ${column} column`);
  const row = Math.floor(lines.length / 2);
  const cells = lines[row].split(',');
  cells[index] = `"${'a note over\nmany lines, with ""quotes""\n'.repeat(20000)}"`;
  lines[row] = cells.join(',');
  const text = lines.join('\n');
  // The quoted value spans the middle byte of the file.
  const start = lines.slice(0, row).join('\n').length;
  assert.ok(start < text.length / 2 && text.length / 2 < start + lines[row].length, 'the middle is inside the quoted value');
  writeFileSync(to, text);
}

/** Every number the dashboard shows in its KPI cards and its series table. */
async function numbers(page) {
  return { kpis: await kpiValues(page), series: await seriesRows(page) };
}

/**
 * Clicks Cancel once 1/`fraction` of the file being loaded is read, from inside the page (no round
 * trip to delay it); `window.__cancelledAt` then holds the bytes read.
 */
function cancelOnceRead(page, fraction) {
  return page.evaluate((fraction) => {
    const panel = document.getElementById('load');
    new MutationObserver((_, observer) => {
      const d = panel.dataset;
      if (Number(d.bytes) > Number(d.total) / fraction) {
        observer.disconnect();
        window.__cancelledAt = Number(d.bytes);
        document.getElementById('load-cancel').click();
      }
    }).observe(panel, { attributes: true, subtree: true });
  }, fraction);
}

/** A page on `url` with the threshold lowered to `from` bytes (and other parameters). */
async function reopen(browser, base, query) {
  const opened = await openPage(browser, new URL(`?${query}`, base).href);
  await waitForStatus(opened.page, 'ready', 45000);
  return opened;
}


describe('The speed build', { timeout: 300000 }, () => {
  let dir;
  let sampleCsv; // the sample's transactions table, as a file of the user's (~50,000 rows)
  let big; // ~40 MB: long enough to cancel
  let session;
  let sizeBuild; // what the size build shows for sampleCsv
  let sample; // the sample's KPIs, as first shown
  const opened = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'paymetrics-e2e-'));
    session = await startPage();
    await waitForStatus(session.page, 'ready', 45000);
    sample = await kpiValues(session.page);
    // The sample's transactions CSV, from the page's download link: every column the dashboard uses.
    await session.page.waitForFunction(() => document.querySelector('#dl-transactions')?.href.startsWith('blob:'));
    const [download] = await Promise.all([session.page.waitForEvent('download'), session.page.click('#dl-transactions')]);
    sampleCsv = join(dir, 'payments.csv');
    await download.saveAs(sampleCsv);
    big = join(dir, 'payments-big.csv');
    writeCsv(big, 400000);
  });

  after(async () => {
    for (const o of opened) await o.context.close().catch(() => {});
    await session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a fresh visit and a file under the threshold use the size build only', async () => {
    const { page, log } = session;
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.deepEqual(await fileNames(page), ['payments.csv']);
    sizeBuild = await numbers(page);
    assert.ok(sizeBuild.kpis.txn_count > 10000, `the file's rows are counted: ${sizeBuild.kpis.txn_count}`);
    assert.ok(sizeBuild.series.length > 10, 'a series of days');
    assert.deepEqual(speedRequests(log), [], 'the speed build was not fetched');
  });

  test('past the threshold the worker switches to the speed build, with the same numbers', async () => {
    const o = await reopen(session.browser, session.server.url, 'speed-build-from=0');
    opened.push(o);
    const { page, log } = o;
    assert.deepEqual(speedRequests(log), [], 'not fetched before a file is loaded');
    assert.deepEqual(await kpiValues(page), sample, 'the sample, from the size build');
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    const fetched = speedRequests(log);
    assert.ok(fetched.some((u) => u.endsWith('.wasm')) && fetched.some((u) => u.endsWith('.js')), `the speed build's glue and wasm were fetched: ${fetched}`);
    assert.deepEqual(await fileNames(page), ['payments.csv']);
    assert.deepEqual(await numbers(page), sizeBuild, 'the numbers of the size build');
    // Another grain and back: reports from the speed build's dataset.
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await settle(page, () => page.click('#grain [data-grain="day"]'));
    assert.deepEqual(await numbers(page), sizeBuild, 'recomputed, the same');
    // Start over: the sample, now generated by the speed build; fetched once only.
    await settle(page, () => page.click('#start-over'));
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    assert.deepEqual(await kpiValues(page), sample, 'the sample again');
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.deepEqual(await numbers(page), sizeBuild, 'the file again');
    assert.equal(speedRequests(log).length, fetched.length, 'the speed build is fetched once');
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.csp, []);
  });

  test('a file read in two parts, by two workers, shows the same numbers', async () => {
    const o = await reopen(session.browser, session.server.url, 'speed-build-from=0&parts-from=0');
    opened.push(o);
    const { page, log } = o;
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.ok(partRequests(log).length > 0, `the second reader was started: ${log.requests.filter((u) => u.includes('/assets/'))}`);
    assert.deepEqual(await fileNames(page), ['payments.csv']);
    assert.deepEqual(await numbers(page), sizeBuild, 'the numbers of one reader');
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.offsite, []);
  });

  test('a quoted value with line breaks across the middle: the engine reads on by itself, with the same numbers', async () => {
    const quoted = join(dir, 'payments-notes.csv');
    withQuotedLinesAcrossTheMiddle(sampleCsv, quoted, 'decline_reason');
    // One reader (the file is under the lowered speed-build threshold's parts size of 16 MiB).
    const one = await reopen(session.browser, session.server.url, 'speed-build-from=0');
    opened.push(one);
    await settle(one.page, () => one.page.setInputFiles('#file-input', quoted));
    assert.deepEqual(partRequests(one.log), [], 'one reader');
    const expected = await numbers(one.page);
    assert.equal(expected.kpis.txn_count, sizeBuild.kpis.txn_count, 'the row with the note is one row');
    const two = await reopen(session.browser, session.server.url, 'speed-build-from=0&parts-from=0');
    opened.push(two);
    await settle(two.page, () => two.page.setInputFiles('#file-input', quoted));
    assert.ok(partRequests(two.log).length > 0, 'the second reader was started');
    assert.deepEqual(await numbers(two.page), expected, 'the same numbers');
    assert.deepEqual(two.log.pageErrors, []);
  });

  test('Cancel while a file is read in two parts leaves the data shown before, and a file loads after it', async () => {
    const o = await reopen(session.browser, session.server.url, 'speed-build-from=0&parts-from=0');
    opened.push(o);
    const { page, log } = o;
    // Cancel once a fifth of the file is read (both readers' bytes).
    await cancelOnceRead(page, 5);
    await settle(page, () => page.setInputFiles('#file-input', big));
    assert.ok(partRequests(log).length > 0, 'the second reader was started');
    assert.ok(await page.evaluate(() => window.__cancelledAt), 'Cancel was clicked');
    assert.match(await text(page, '#error-banner'), /^Loading cancelled Loading payments-big\.csv was cancelled\. The data shown is the data from before\./);
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    assert.deepEqual(await kpiValues(page), sample, 'the KPIs as before');
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.deepEqual(await numbers(page), sizeBuild, 'a file loads after it, in two parts, with the numbers of one reader');
    assert.deepEqual(log.pageErrors, []);
  });

  test('Cancel during the first load on the speed build leaves the data shown before', async () => {
    const o = await reopen(session.browser, session.server.url, 'speed-build-from=0');
    opened.push(o);
    const { page, log } = o;
    await cancelOnceRead(page, 10);
    await settle(page, () => page.setInputFiles('#file-input', big));
    assert.ok(speedRequests(log).some((u) => u.endsWith('.wasm')), 'the speed build was fetched');
    assert.ok(await page.evaluate(() => window.__cancelledAt), 'Cancel was clicked');
    assert.match(await text(page, '#error-banner'), /^Loading cancelled Loading payments-big\.csv was cancelled\. The data shown is the data from before\./);
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    assert.deepEqual(await kpiValues(page), sample, 'the KPIs as before');
    // The size build's dataset was let go with it: the page loads the sample again, into the
    // speed build, at the next change; the numbers are the same.
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await settle(page, () => page.click('#grain [data-grain="day"]'));
    assert.deepEqual(await kpiValues(page), sample, 'recomputed, the same');
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.deepEqual(await numbers(page), sizeBuild, 'and a file loads after it');
    assert.deepEqual(log.pageErrors, []);
  });

  test('a file too large to hold is streamed by the speed build, with the numbers of holding it', async () => {
    // Tables may take 2 MiB at most (the sample file needs more): the speed build streams the
    // file (docs/architecture.md, section 4) where the size build refuses it (load.test.mjs).
    const o = await reopen(session.browser, session.server.url, 'speed-build-from=0&memory-limit=2097152');
    opened.push(o);
    const { page, log } = o;
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.ok(speedRequests(log).some((u) => u.endsWith('.wasm')), 'the speed build was fetched');
    assert.equal(await page.isVisible('#streamed-note'), true);
    assert.deepEqual(await fileNames(page), ['payments.csv']);
    // A streamed file shows all of its data (not read again for the last 30 days): the size
    // build's view is the last 30 days.
    assert.equal(await page.inputValue('#period'), 'all');
    await settle(page, () => page.selectOption('#period', '30'));
    const streamed = await numbers(page);
    assert.deepEqual(Object.keys(streamed.kpis).sort(), Object.keys(sizeBuild.kpis).sort());
    for (const [id, value] of Object.entries(sizeBuild.kpis)) {
      if (value === null) assert.equal(streamed.kpis[id], null, id);
      else assertClose(streamed.kpis[id], value, id);
    }
    // The daily table: sums are added in another order, so they may differ in the last bits.
    assert.equal(streamed.series.length, sizeBuild.series.length, 'days');
    for (const [i, { bucket, values }] of sizeBuild.series.entries()) {
      const row = streamed.series[i];
      assert.equal(row.bucket, bucket);
      assert.deepEqual(Object.keys(row.values).sort(), Object.keys(values).sort(), bucket);
      for (const [col, value] of Object.entries(values)) assertClose(row.values[col], value, `${bucket} ${col}`);
    }
    // A filter from the columns the stream counted (its dimensions), against the same filter on
    // the file held by the size build.
    const filtered = async (p) => {
      await p.click('#add-filter');
      await p.selectOption('#filter-column', 'channel');
      await p.check('[data-filter-value="online"]');
      await settle(p, () => p.click('#filter-apply'));
      return kpiValues(p);
    };
    const streamedOnline = await filtered(page);
    const held = await reopen(session.browser, session.server.url, '');
    opened.push(held);
    await settle(held.page, () => held.page.setInputFiles('#file-input', sampleCsv));
    const heldOnline = await filtered(held.page);
    assert.ok(heldOnline.txn_count < sizeBuild.kpis.txn_count, 'the filter keeps some rows');
    for (const [id, value] of Object.entries(heldOnline)) {
      if (value === null) assert.equal(streamedOnline[id], null, id);
      else assertClose(streamedOnline[id], value, `${id}, channel online`);
    }
    // A segment, read from the file in more reads, against the same segment held.
    const segmentTable = async (p) => {
      await settle(p, () => p.selectOption('#segment', 'funding_source'));
      return p.$$eval('#segment-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td, th')].map((c) => c.textContent.trim())));
    };
    const streamedSegments = await segmentTable(page);
    const heldSegments = await segmentTable(held.page);
    assert.ok(streamedSegments.length >= 2, `a row per value: ${JSON.stringify(streamedSegments)}`);
    assert.deepEqual(streamedSegments, heldSegments, 'the table of key metrics per value');
    assert.deepEqual(log.pageErrors, []);
  });

  test('when the speed build cannot be fetched, the size build reads the file', async () => {
    const context = await session.browser.newContext();
    opened.push({ context });
    const blocked = [];
    await context.route(SPEED_BUILD, (route) => {
      blocked.push(route.request().url());
      return route.abort('internetdisconnected');
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(new URL('?speed-build-from=0', session.server.url).href);
    await waitForStatus(page, 'ready', 45000);
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.ok(blocked.length > 0, 'the speed build was asked for');
    assert.deepEqual(await numbers(page), sizeBuild, 'the numbers, from the size build');
    // Not asked for again: the size build carries on.
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => page.setInputFiles('#file-input', sampleCsv));
    assert.deepEqual(await numbers(page), sizeBuild);
    assert.equal(blocked.length, 1, `asked for once: ${blocked}`);
    assert.deepEqual(errors, []);
  });
});
