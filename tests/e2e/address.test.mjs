// Issue 6, "Share links": the address bar always holds the view on screen (live-link.js). Every
// change of the view replaces the URL fragment with the view's link (no history entry), so that
// reloading the page or opening its address in another page gives the same view and numbers; the
// default view keeps a clean address and the first load carries no share code; a view of the
// user's file names it by name, size and SHA-256 (hashed in the background, "Checking …"), never
// with its data.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressFollows, DATA, openLink, settle, snapshot, startPage, text, upload, waitForStatus, writeCsv } from './helpers.mjs';
import { decodeView, encodeView, sha256Hex } from '../../www/src/share.js';

const SAMPLE = { kind: 'sample', seed: 42, rows: 50000 };
const METRIC = 'app_payers = count_distinct(user_id where channel = "app_qr")';
// The chunks of the share code (share-ui.js, live-link.js and what they import).
const SHARE_CHUNK = /\/assets\/(share|share-ui|live-link|file-hash)-[^/]+\.js$/;

/** The view in the address bar, as share.js reads it. */
function addressView(page) {
  const decoded = decodeView(new URL(page.url()).hash);
  assert.equal(decoded.error, undefined, `the address holds a valid link: ${page.url()}`);
  return decoded.view;
}

/** Records every text `selector` shows from now on (a status can come and go in a moment). */
function recordTexts(page, selector) {
  return page.evaluate((sel) => {
    const node = document.querySelector(sel);
    window.__texts = window.__texts || {};
    const seen = (window.__texts[sel] = []);
    new MutationObserver(() => node.textContent && seen.push(node.textContent)).observe(node, { childList: true, characterData: true, subtree: true });
  }, selector);
}
const recorded = (page, selector) => page.evaluate((sel) => window.__texts[sel], selector);

describe('The address follows the view', { timeout: 300000 }, () => {
  let session;

  before(async () => {
    session = await startPage();
    await waitForStatus(session.page, 'ready', 45000);
  });

  after(() => session?.close());

  test('the default view keeps a clean address, and the first load has no share code', async () => {
    const { page, log } = session;
    assert.equal(await page.getAttribute('#app', 'data-address'), 'clean');
    assert.equal(new URL(page.url()).hash, '');
    assert.deepEqual(log.requests.filter((u) => SHARE_CHUNK.test(u)), [], 'share code fetched before any change');
  });

  test('each change of the view is in the address at once, without a history entry; a reload gives the same view and numbers', async () => {
    const { page, log } = session;
    const entries = await page.evaluate(() => history.length);

    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await addressFollows(page);
    assert.deepEqual(addressView(page).dataset, SAMPLE);
    assert.equal(addressView(page).grain, 'week');
    assert.ok(log.requests.some((u) => SHARE_CHUNK.test(u)), 'the address writer is imported after the first change');

    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'channel');
    await page.check('[data-filter-value="online"]');
    await page.check('[data-filter-value="app_qr"]');
    await settle(page, () => page.click('#filter-apply'));
    await addressFollows(page);
    const [filter] = addressView(page).filters;
    assert.deepEqual({ ...filter, values: [...filter.values].sort() }, { column: 'channel', values: ['app_qr', 'online'], exclude: false });

    await settle(page, () => page.selectOption('#segment', 'funding_source'));
    await addressFollows(page);
    assert.equal(addressView(page).segment, 'funding_source');

    await settle(page, () => page.selectOption('#tz', 'Europe/Berlin'));
    await addressFollows(page);
    assert.equal(addressView(page).tz, 'Europe/Berlin');

    await settle(page, () => page.selectOption('#period', '90'));
    await addressFollows(page);
    assert.equal(addressView(page).period, '90');

    // The mapping: the fee column unmapped (revenue and take rate then say what they need).
    await settle(page, () => page.selectOption('select[data-role="fee"]', ''));
    await addressFollows(page);
    assert.deepEqual(addressView(page).mapping, { fee: null });

    await page.fill('#metric-input', METRIC);
    await settle(page, () => page.click('.metric-form button[type="submit"]'));
    await addressFollows(page);
    assert.deepEqual(addressView(page).metrics, [METRIC]);

    // A tab is no new report (the page draws it from the one it has): the address follows too.
    await page.click('#views [data-view="merchants"]');
    await addressFollows(page);
    assert.equal(addressView(page).view, 'merchants');
    const view = addressView(page);
    assert.equal(view.grain, 'week', 'the earlier changes are still there');
    assert.equal(view.segment, 'funding_source');
    assert.equal(view.tz, 'Europe/Berlin');
    assert.equal(await page.evaluate(() => history.length), entries, 'replaceState: no history entry per change');

    const before = await snapshot(page);
    assert.equal(typeof before.kpis.app_payers, 'number', 'the custom metric has its card');
    assert.ok(before.kpis.app_payers > 0);
    assert.equal(before.tab, 'merchants');
    assert.deepEqual(before.filters.length, 1);
    const address = page.url();

    await page.reload();
    await waitForStatus(page, 'ready', 45000);
    await addressFollows(page);
    assert.deepEqual(await snapshot(page), before, 'the reloaded page shows the same view and numbers');
    assert.equal(await page.inputValue('[data-metric-definition="0"]'), METRIC);
    assert.equal(await page.inputValue('#tz'), 'Europe/Berlin');
    assert.equal(await page.inputValue('#period'), '90');
    assert.equal(await page.inputValue('select[data-role="fee"]'), '');
    assert.equal(page.url(), address, 'the address is the same link');
    assert.equal(await page.isHidden('#error-banner'), true, 'no error');

    // The address bar's URL, in a new page of its own: the same numbers.
    const other = await openLink(session.browser, address);
    try {
      assert.deepEqual(await snapshot(other.page), before);
      assert.deepEqual(other.log.offsite, [], 'no request off this machine');
      assert.deepEqual(other.log.pageErrors, []);
      assert.deepEqual(other.log.csp, []);
    } finally {
      await other.context.close();
    }
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.pageErrors, []);
  });

  test('back to the default view, the address is clean again; the skip link does not take the view out of it', async () => {
    const { page, context } = await openLink(session.browser, session.server.url);
    try {
      await settle(page, () => page.click('#grain [data-grain="month"]'));
      await addressFollows(page);
      assert.equal(addressView(page).grain, 'month');
      await settle(page, () => page.click('#grain [data-grain="day"]'));
      await addressFollows(page, 'clean');
      assert.equal(new URL(page.url()).hash, '');

      await settle(page, () => page.click('#grain [data-grain="week"]'));
      await addressFollows(page);
      const address = page.url();
      await page.focus('.skip-link');
      await page.keyboard.press('Enter');
      await page.waitForFunction((want) => window.location.href === want, address);
      await page.reload();
      await waitForStatus(page, 'ready', 45000);
      assert.equal((await snapshot(page)).grain, 'week');
    } finally {
      await context.close();
    }
  });

  test("a view of the user's file names it by name, size and SHA-256, checked in the background; a reload asks for the file", async () => {
    const { page, log } = session;
    await recordTexts(page, '#link-status');
    await settle(page, () => upload(page, 'basic.csv'));
    await addressFollows(page);
    const bytes = readFileSync(join(DATA, 'basic.csv'));
    const view = addressView(page);
    assert.deepEqual(view.dataset, { kind: 'files', files: [{ name: 'basic.csv', size: bytes.length, sha256: await sha256Hex(bytes), role: 'transactions' }] });
    assert.doesNotMatch(page.url(), /[&#]data=/, 'never the data');
    assert.ok((await recorded(page, '#link-status')).includes('Checking basic.csv… (for the link in the address)'), 'the page said it was checking the file');
    assert.equal(await text(page, '#link-status'), '', 'and no more once done');
    await page.click('#views [data-view="consumers"]');
    await addressFollows(page);
    const before = await snapshot(page);
    const address = page.url();

    // The page cannot keep the file: a reload asks for it, and the address keeps the link meanwhile.
    await page.reload();
    await waitForStatus(page, 'ready', 45000);
    await page.waitForSelector('#share-request:not([hidden])');
    assert.equal(page.url(), address);
    await recordTexts(page, '#share-request-status');
    await settle(page, () => upload(page, 'basic.csv'));
    assert.ok((await recorded(page, '#share-request-status')).includes('Checking basic.csv…'), 'the check of the file is shown');
    assert.deepEqual(await snapshot(page), before);
    await addressFollows(page);
    assert.equal(page.url(), address, 'the same link: the file was hashed once, when it was checked');
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.pageErrors, []);
  });

  test('the Share panel gives the link in the address, and follows the view while it is open', async () => {
    const { page } = session;
    await page.click('#share-link');
    await page.waitForFunction(() => document.getElementById('share-url').value.includes('#v=1&'));
    assert.equal(await page.inputValue('#share-url'), page.url());
    const first = page.url();
    await settle(page, () => page.click('#grain [data-grain="month"]'));
    await addressFollows(page);
    await page.waitForFunction((old) => document.getElementById('share-url').value !== old, first);
    assert.equal(await page.inputValue('#share-url'), page.url(), 'not the link of the view before');
    assert.equal(addressView(page).grain, 'month');
    assert.match(await text(page, '#share-status'), /view changed.*Copy it again/);
    await page.click('#share-close');
  });

  test('a large file is checked with "Checking …" shown, and the page keeps responding meanwhile', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'paymetrics-hash-'));
    try {
      const big = join(dir, 'big.csv');
      const size = writeCsv(big, 600000); // ~60 MB: about half a second of hashing here
      // A link naming big.csv with another size: the dropped file is hashed, then flagged (and
      // not loaded), so only the hash is timed.
      const fragment = encodeView({ dataset: { kind: 'files', files: [{ name: 'big.csv', size: size + 1, sha256: 'a'.repeat(64), role: 'transactions' }] } });
      const { page, context, log } = await openLink(session.browser, `${session.server.url}#${fragment}`);
      try {
        await page.waitForSelector('#share-request:not([hidden])');
        await recordTexts(page, '#share-request-status');
        // The longest the main thread went without running a timer, from the drop to the verdict.
        await page.evaluate(() => {
          window.__gap = 0;
          let last = performance.now();
          const tick = () => {
            const now = performance.now();
            window.__gap = Math.max(window.__gap, now - last);
            last = now;
            if (!window.__stop) setTimeout(tick, 0);
          };
          tick();
        });
        await page.setInputFiles('#file-input', big);
        await page.waitForSelector('#share-request[data-state="mismatch"]', { timeout: 60000 });
        const gap = await page.evaluate(() => {
          window.__stop = true;
          return window.__gap;
        });
        assert.ok((await recorded(page, '#share-request-status')).includes('Checking big.csv…'));
        assert.equal(await text(page, '#share-request-status'), '', 'gone once checked');
        assert.match(await text(page, '#share-request-problem'), new RegExp(`big\\.csv is ${size} bytes`));
        // Hashed in a worker (hash-worker.js): on the main thread this file held the page up
        // 200–300 ms; off it the longest pause is ~60–75 ms (the drop, the panel) on this machine.
        t.diagnostic(`${size} bytes hashed; the main thread's longest pause: ${Math.round(gap)} ms`);
        assert.ok(gap < 150, `the main thread was blocked ${Math.round(gap)} ms`);
        assert.deepEqual(log.pageErrors, []);
        assert.deepEqual(log.csp, [], 'the hash worker is allowed by the page CSP');
      } finally {
        await context.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
