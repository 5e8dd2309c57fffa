// Issue 6, "Share links" and "Exports": the view in the URL fragment (share.js), opened again in
// another page with the same numbers; refused links; file links that ask for the file and check
// it; embedded data only after the warning; CSV, JSON, PNG, SVG and one-file HTML exports.
// The first suite needs no browser: share.js and export.js are pure modules.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DATA, kpiValues, openLink, seriesRows, settle, snapshot, startPage, text, upload, waitForStatus } from './helpers.mjs';
import { csvCell, metricsCsv, seriesCsv, toCsv, escapeHtml, htmlReport } from '../../www/src/export.js';
import { compareFiles, decodeView, deflate, encodeView, sha256Hex, toBase64Url, unpackEmbedded, viewOfState } from '../../www/src/share.js';

/** RFC 4180 CSV as rows of strings. */
function parseCsv(textIn) {
  const rows = [];
  let row = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < textIn.length; i++) {
    const c = textIn[i];
    if (quoted) {
      if (c === '"' && textIn[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && textIn[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell || row.length) rows.push([...row, cell]);
  return rows;
}

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const SAMPLE = { kind: 'sample', seed: 42, rows: 50000 };

// ---- the pure modules ----------------------------------------------------------------------------------

describe('share.js and export.js, without a browser', () => {
  test('a view goes through a fragment and comes back the same', () => {
    const view = {
      dataset: SAMPLE,
      grain: 'week',
      weekStart: 'sunday',
      period: 'custom',
      custom: { from: '2025-08-01', to: '2025-08-31' },
      filters: [{ column: 'channel', values: ['online', '=cmd|x', ''], exclude: true }],
      segment: 'funding_source',
      view: 'merchants',
      seriesMetric: 'success_rate',
      tz: 'America/Argentina/Buenos_Aires',
      mapping: { amount: 'Amount (CNY)', user: null },
      statuses: { 已转账: 'success' },
      derive: ['net = amount - fee'],
      joins: [{ file: 'sample-users.csv', on: 'user_id', key: null, enabled: false }],
      metrics: ['big = count() where amount > 1000'],
      largeAmount: 20000,
      funnelDays: 7,
      cohort: 'first_payment',
      retention: { grain: 'month', kind: 'unbounded' },
      currency: 'CNY',
      rates: { USD: '7.1' },
    };
    const fragment = encodeView(view);
    assert.match(fragment, /^v=1&s=[A-Za-z0-9_-]+$/);
    const { view: back, data, error } = decodeView(`#${fragment}`);
    assert.equal(error, undefined);
    assert.equal(data, null);
    for (const [k, v] of Object.entries(view)) assert.deepEqual(back[k], v, k);
    // Left out: the defaults.
    const short = decodeView(encodeView({ dataset: SAMPLE })).view;
    assert.equal(short.grain, 'day');
    assert.deepEqual(short.filters, []);
    assert.deepEqual(short.metrics, []);
  });

  test("viewOfState keeps what differs from the defaults, and the page's metrics", () => {
    const state = {
      overrides: {}, statuses: {}, derive: [], decimal: '', dateOrder: '', tz: 'Asia/Shanghai', grain: 'month', weekStart: 'monday', period: 'auto', custom: { from: '', to: '' },
      filters: [], segment: null, seriesMetric: 'tpv', view: 'all', largeAmount: 50000, funnelDays: 30, cohort: null, retention: { grain: 'week', kind: 'classic' },
      currency: '', rates: {}, joins: new Map([['u.csv', { on: 'user_id', key: null, enabled: true }]]), metrics: ['m = count()'],
    };
    const view = viewOfState(state, SAMPLE);
    assert.deepEqual(Object.keys(view).sort(), ['dataset', 'grain', 'joins', 'metrics', 'tz']);
    assert.deepEqual(decodeView(encodeView(view)).view.metrics, ['m = count()']);
  });

  test('malformed and tampered fragments are refused with a message', () => {
    const ok = { dataset: SAMPLE };
    const cases = [
      ['v=2&s=' + b64(ok), /version 2/],
      ['s=' + b64(ok), /no version/],
      ['v=1', /no view/],
      ['v=1&s=' + b64('{"dataset":'), /not valid JSON/],
      ['v=1&s=%%%', /base64url/],
      ['v=1&s=' + b64(ok) + '&x=1', /unknown part/],
      ['v=1&s=' + b64({ ...ok, grain: 'year' }), /grain/i],
      ['v=1&s=' + b64({ ...ok, evil: 1 }), /unknown field/],
      ['v=1&s=' + b64({ dataset: { ...SAMPLE, rows: 1e9 } }), /sample size/],
      ['v=1&s=' + b64({ dataset: { ...SAMPLE, seed: 'x' } }), /seed/],
      ['v=1&s=' + b64({ ...ok, filters: [{ column: 'c', values: 'x' }] }), /list/],
      ['v=1&s=' + b64({ ...ok, filters: [{ column: 'c', values: [] }] }), /keeps no value/],
      ['v=1&s=' + b64({ ...ok, filters: Array.from({ length: 51 }, (_, i) => ({ column: `c${i}`, values: ['a'] })) }), /more than 50/],
      ['v=1&s=' + b64({ ...ok, segment: 'x'.repeat(600) }), /longer than/],
      ['v=1&s=' + b64({ ...ok, tz: '../../etc' }), /time zone/],
      ['v=1&s=' + b64({ ...ok, period: 'custom' }), /custom period/],
      ['v=1&s=' + b64({ ...ok, metrics: [42] }), /text/],
      ['v=1&s=' + b64({ ...ok, mapping: { amount: 'a\u0000b' } }), /control/],
      ['v=1&s=' + b64({ dataset: { kind: 'files', files: [{ name: 'a.csv', size: 1, sha256: 'zz', role: 'transactions' }] } }), /SHA-256/],
      ['v=1&s=' + b64({ dataset: { kind: 'files', files: [{ name: 'a.csv', size: 1, sha256: null, role: 'lookup' }] } }), /transactions file/],
      ['v=1&s=' + b64({ dataset: { kind: 'embedded', files: [{ name: 'a.csv', size: 1, sha256: 'a'.repeat(64), role: 'transactions' }] } }), /embeds data but has none/],
      ['v=1&s=' + b64(ok) + '&data=AAAA', /not embedded/],
      ['v=1&s=' + b64([]), /must be an object/],
      ['v=1&s=' + b64('"x"'), /must be an object/],
      ['v=1&s=' + 'A'.repeat(300000), /too long/],
      ['v=1&s=' + b64({ dataset: SAMPLE, ['__proto__']: 1 }), /unknown field/],
    ];
    for (const [fragment, want] of cases) {
      const got = decodeView(fragment);
      assert.equal(got.view, undefined, fragment.slice(0, 80));
      assert.match(got.error, want, `${fragment.slice(0, 80)} → ${got.error}`);
    }
  });

  test('embedded data: compressed, checked by size and SHA-256 on the way back', async () => {
    const bytes = readFileSync(join(DATA, 'basic.csv'));
    const sha256 = await sha256Hex(bytes);
    const data = [await deflate(bytes)];
    const view = { dataset: { kind: 'embedded', files: [{ name: 'basic.csv', size: bytes.length, sha256, role: 'transactions' }] } };
    const decoded = decodeView(encodeView(view, data));
    const [file] = await unpackEmbedded(decoded.view, decoded.data);
    assert.equal(Buffer.from(file.bytes).toString(), bytes.toString());
    // Tampered data: other bytes of the same size.
    const other = Buffer.from(bytes);
    other[10] ^= 1;
    const tampered = decodeView(encodeView(view, [await deflate(other)]));
    await assert.rejects(unpackEmbedded(tampered.view, tampered.data), /not what the link says/);
    // More bytes than declared: the inflation stops there.
    const bomb = decodeView(encodeView(view, [await deflate(new Uint8Array(10_000_000))]));
    await assert.rejects(unpackEmbedded(bomb.view, bomb.data), /larger than it says/);
    // Garbage instead of deflate.
    const garbage = decodeView(`v=1&s=${toBase64Url(Buffer.from(JSON.stringify(view)))}&data=${toBase64Url(new Uint8Array([255, 255, 255, 255]))}`);
    await assert.rejects(unpackEmbedded(garbage.view, garbage.data), /damaged|larger/);
  });

  test('files are compared by name, size and hash', () => {
    const want = [{ name: 'a.csv', size: 10, sha256: 'a'.repeat(64), role: 'transactions' }];
    assert.equal(compareFiles(want, [{ name: 'a.csv', size: 10, sha256: 'a'.repeat(64) }]).ok, true);
    assert.match(compareFiles(want, [{ name: 'a.csv', size: 10, sha256: 'b'.repeat(64) }]).problems.join(), /different content/);
    assert.match(compareFiles(want, [{ name: 'a.csv', size: 11, sha256: 'a'.repeat(64) }]).problems.join(), /11 bytes/);
    assert.match(compareFiles(want, [{ name: 'b.csv', size: 10, sha256: 'a'.repeat(64) }]).problems.join(), /named b\.csv/);
    assert.deepEqual(compareFiles([...want, { name: 'u.csv', size: 1, sha256: null, role: 'lookup' }], [{ name: 'a.csv', size: 10, sha256: 'a'.repeat(64) }]).missing, ['u.csv']);
  });

  test('CSV: RFC 4180 quoting; formula-like text escaped, numbers left alone', () => {
    assert.equal(csvCell('=SUM(A1:A9)'), "'=SUM(A1:A9)");
    assert.equal(csvCell('+1'), "'+1");
    assert.equal(csvCell('-12.5'), "'-12.5", 'text that looks like a number is still text');
    assert.equal(csvCell('@cmd'), "'@cmd");
    assert.equal(csvCell('\tx'), "'\tx");
    assert.equal(csvCell('\rx'), "\"'\rx\"");
    assert.equal(csvCell(-12.5), '-12.5');
    assert.equal(csvCell(0), '0');
    assert.equal(csvCell(null), '');
    assert.equal(csvCell(NaN), '');
    assert.equal(csvCell('a,"b"\nc'), '"a,""b""\nc"');
    assert.equal(csvCell('=a,b'), `"'=a,b"`);
    assert.equal(toCsv([['a', 1], ['b', -2]]), 'a,1\r\nb,-2\r\n');
    const report = {
      metrics: [
        { id: 'tpv', name: 'TPV', tier: 'north_star', unit: 'currency', value: 10, previous: 8, change: 0.25 },
        { id: 'x', name: '=HYPERLINK("http://evil")', tier: 'core', unit: 'count', value: -3, previous: null, change: null },
      ],
      series: [{ bucket: '2025-07-01', tpv: 4, x: -1 }, { bucket: '2025-07-02', tpv: null, x: 2 }],
    };
    const rows = parseCsv(metricsCsv(report));
    assert.deepEqual(rows[0], ['id', 'name', 'tier', 'unit', 'value', 'previous', 'change']);
    assert.deepEqual(rows[1], ['tpv', 'TPV', 'north_star', 'currency', '10', '8', '0.25']);
    assert.deepEqual(rows[2], ['x', `'=HYPERLINK("http://evil")`, 'core', 'count', '-3', '', '']);
    assert.deepEqual(parseCsv(seriesCsv(report)), [['bucket', 'tpv', 'x'], ['2025-07-01', '4', '-1'], ['2025-07-02', '', '2']]);
  });

  test('the HTML report escapes every text and has no script', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = htmlReport({
      title: '<script>alert(1)</script>.csv',
      params: [['Filters', 'channel is <img src=x onerror=alert(1)>']],
      metrics: [{ id: 'tpv', name: 'TPV <b>', tier: 'north_star', value: '¥1', previous: '¥2', change: '▼ −50%', tone: 'bad' }],
      charts: [],
    });
    assert.doesNotMatch(html, /<script|<img|<b>/i);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;\.csv/);
    assert.match(html, /TPV &lt;b&gt;/);
  });
});

// ---- in the page -------------------------------------------------------------------------------------------

/** The link the Share link button makes (it is in the panel's text field, and in the address). */
async function shareLink(page) {
  await page.click('#share-link');
  await page.waitForFunction(() => document.getElementById('share-url').value.includes('#v=1&'));
  const url = await page.inputValue('#share-url');
  assert.equal(new URL(page.url()).hash, new URL(url).hash, 'the address shows the link');
  return url;
}


describe('Share links in the page', { timeout: 240000 }, () => {
  let session;

  before(async () => {
    session = await startPage();
    await waitForStatus(session.page, 'ready', 45000);
  });

  after(() => session?.close());

  test('the link of a changed view of the sample opens the same view, with the same numbers', async () => {
    const { page, browser, log } = session;
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'channel');
    await page.check('[data-filter-value="online"]');
    await settle(page, () => page.click('#filter-apply'));
    await settle(page, () => page.selectOption('#segment', 'funding_source'));
    await page.click('#views [data-view="merchants"]');
    const before = await snapshot(page);
    assert.equal(before.tab, 'merchants');
    assert.equal(before.grain, 'week');
    assert.ok(Object.values(before.kpis).some((v) => typeof v === 'number'), 'KPIs on screen');

    const url = await shareLink(page);
    assert.doesNotMatch(url, /[&#]data=/, 'no data in a sample link');
    const view = decodeView(new URL(url).hash).view;
    assert.deepEqual(view.dataset, SAMPLE);
    assert.equal(view.segment, 'funding_source');

    const other = await openLink(browser, url);
    try {
      assert.deepEqual(await snapshot(other.page), before);
      assert.equal(await other.page.isHidden('#error-banner'), true, 'no error');
      assert.deepEqual(other.log.offsite, [], 'no request off this machine');
      assert.deepEqual(other.log.pageErrors, []);
      assert.deepEqual(other.log.csp, []);
    } finally {
      await other.context.close();
    }
    assert.deepEqual(log.pageErrors, []);
  });

  test('malformed or tampered links say so and show the default view', async () => {
    const { browser, server } = session;
    const bad = {
      'bad version': ['v=9&s=' + b64({ dataset: SAMPLE }), /version 9/],
      'bad JSON': ['v=1&s=' + b64('{"dataset": {'), /not valid JSON/],
      'bad field': ['v=1&s=' + b64({ dataset: SAMPLE, grain: '<img src=x onerror=window.__xss=1>' }), /grain/],
      'unknown field': ['v=1&s=' + b64({ dataset: SAMPLE, script: 'alert(1)' }), /unknown field/],
    };
    for (const [what, [fragment, want]] of Object.entries(bad)) {
      const { page, context, log } = await openLink(browser, `${server.url}#${fragment}`);
      try {
        assert.equal(await page.isVisible('#error-banner'), true, `${what}: the banner`);
        assert.equal(await text(page, '#error-title'), 'This link could not be opened', what);
        assert.match(await text(page, '#error-message'), want, what);
        assert.match(await text(page, '#error-message'), /default view/, what);
        const s = await snapshot(page);
        assert.equal(s.grain, 'day', what);
        assert.equal(s.tab, 'all', what);
        assert.deepEqual(s.filters, [], what);
        assert.equal(s.dataset, 'sample-transactions.csv', what);
        assert.equal(new URL(page.url()).hash, '', `${what}: the link is taken out of the address`);
        assert.equal(await page.evaluate(() => window.__xss), undefined);
        assert.deepEqual(log.pageErrors, [], what);
      } finally {
        await context.close();
      }
    }
  });

  test('a file link asks for the file, flags the wrong one and opens the view with the right one', async () => {
    const { page, browser } = session;
    await settle(page, () => upload(page, 'basic.csv'));
    // The grain stays from the sample's view (week): back to days, on another tab.
    await settle(page, () => page.click('#grain [data-grain="day"]'));
    await page.click('#views [data-view="consumers"]');
    const before = await snapshot(page);
    assert.equal(before.dataset, 'basic.csv');
    if (await page.isVisible('#share-panel')) await page.click('#share-close');
    const url = await shareLink(page);
    assert.doesNotMatch(url, /[&#]data=/, 'no data in the link without consent');
    assert.match(await text(page, '#share-note'), /not your data.*basic\.csv/);
    const { dataset } = decodeView(new URL(url).hash).view;
    const bytes = readFileSync(join(DATA, 'basic.csv'));
    assert.deepEqual(dataset, { kind: 'files', files: [{ name: 'basic.csv', size: bytes.length, sha256: await sha256Hex(bytes), role: 'transactions' }] });

    const other = await openLink(browser, url);
    try {
      const p = other.page;
      await p.waitForSelector('#share-request:not([hidden])');
      assert.match(await text(p, '#share-request-files'), new RegExp(`basic\\.csv .*${bytes.length} bytes`));
      // The wrong file: said so, with a way to load it anyway or cancel.
      await upload(p, 'synonyms.csv');
      await p.waitForSelector('#share-request[data-state="mismatch"]');
      assert.match(await text(p, '#share-request-problem'), /synonyms\.csv.*basic\.csv/);
      assert.equal(await p.isVisible('#share-request-anyway'), true);
      assert.equal(await text(p, '#dataset-name'), 'sample-transactions.csv', 'nothing loaded yet');
      await p.click('#share-request-cancel');
      assert.equal(await p.getAttribute('#share-request', 'data-state'), 'waiting');
      // The right one: loaded with the view of the link.
      await settle(p, () => upload(p, 'basic.csv'));
      assert.equal(await p.isHidden('#share-request'), true);
      assert.deepEqual(await snapshot(p), before);
      assert.deepEqual(other.log.offsite, []);
      assert.deepEqual(other.log.pageErrors, []);
    } finally {
      await other.context.close();
    }
  });

  test('a link of a transactions file and its lookup asks for both, and joins them again', async () => {
    const { browser, server } = session;
    const first = await openLink(browser, server.url);
    let url;
    let before;
    try {
      await settle(first.page, () => upload(first.page, 'cohorts/transactions.csv', 'cohorts/users.csv'));
      await settle(first.page, () => first.page.click('#grain [data-grain="month"]'));
      before = await snapshot(first.page);
      url = await shareLink(first.page);
    } finally {
      await first.context.close();
    }
    const files = decodeView(new URL(url).hash).view.dataset.files;
    assert.deepEqual(files.map((f) => [f.name, f.role]), [['transactions.csv', 'transactions'], ['users.csv', 'lookup']]);
    const other = await openLink(browser, url);
    try {
      const p = other.page;
      await p.waitForSelector('#share-request:not([hidden])');
      assert.equal(await p.$$eval('#share-request-files li', (els) => els.length), 2);
      await upload(p, 'cohorts/transactions.csv');
      await p.waitForSelector('#share-request[data-state="mismatch"]');
      assert.match(await text(p, '#share-request-problem'), /also needs users\.csv/);
      await p.click('#share-request-cancel');
      await settle(p, () => upload(p, 'cohorts/users.csv', 'cohorts/transactions.csv'));
      assert.deepEqual(await snapshot(p), before);
    } finally {
      await other.context.close();
    }
  });

  test('a link pasted into the address of an open page opens its view', async () => {
    const { browser, server } = session;
    const { page, context } = await openLink(browser, server.url);
    try {
      const fragment = encodeView({ dataset: SAMPLE, grain: 'month', view: 'regulators', seriesMetric: 'dispute_rate_bps' });
      await settle(page, () => page.evaluate((f) => (window.location.hash = f), fragment));
      const s = await snapshot(page);
      assert.equal(s.grain, 'month');
      assert.equal(s.tab, 'regulators');
    } finally {
      await context.close();
    }
  });

  test("a link's custom metrics are restored and sent to the core (options.metrics)", async () => {
    const { browser, server } = session;
    const metrics = ['payers_app = count_distinct(user_id where channel = "app_qr")'];
    const { page, context, log } = await openLink(browser, `${server.url}#${encodeView({ dataset: SAMPLE, grain: 'month', metrics })}`);
    try {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="json"]')]);
      const json = JSON.parse(readFileSync(await download.path(), 'utf8'));
      assert.deepEqual(json.options.metrics, metrics);
      assert.deepEqual(json.view.metrics, metrics);
      assert.equal(json.options.grain, 'month');
      // The core computed it: the card and the editor show the report's value.
      const value = json.report.totals.payers_app;
      assert.equal(typeof value, 'number');
      assert.ok(value > 0, 'app_qr payers in the sample');
      assert.equal(Number(await page.getAttribute('[data-metric="payers_app"]', 'data-value')), value);
      assert.equal(await page.inputValue('[data-metric-definition="0"]'), metrics[0]);
      assert.equal(json.report.series.every((point) => typeof point.payers_app === 'number'), true, 'a value per month');
      assert.deepEqual(log.pageErrors, []);
    } finally {
      await context.close();
    }
  });

  test('a file with the right name and size but other content is flagged', async () => {
    const { browser, server } = session;
    const bytes = readFileSync(join(DATA, 'basic.csv'));
    const fragment = encodeView({ dataset: { kind: 'files', files: [{ name: 'basic.csv', size: bytes.length, sha256: 'f'.repeat(64), role: 'transactions' }] } });
    const { page, context } = await openLink(browser, `${server.url}#${fragment}`);
    try {
      await upload(page, 'basic.csv');
      await page.waitForSelector('#share-request[data-state="mismatch"]');
      assert.match(await text(page, '#share-request-problem'), /different content/);
      await settle(page, () => page.click('#share-request-anyway'));
      assert.equal(await text(page, '#dataset-name'), 'basic.csv', 'loaded anyway');
    } finally {
      await context.close();
    }
  });

  test('embedding the data needs the warning to be accepted; the link then opens without the file', async () => {
    const { page, browser } = session;
    const before = await snapshot(page);
    assert.equal(before.dataset, 'basic.csv');
    await page.click('#share-close');
    await shareLink(page);
    await page.click('#share-embed-ask');
    await page.waitForSelector('#share-embed-warning:not([hidden])');
    assert.match(await text(page, '#share-embed-text'), /Anyone who gets the link.*can read all of that data/);
    assert.doesNotMatch(await page.inputValue('#share-url'), /data=/, 'not before the warning is accepted');
    await page.click('#share-embed-confirm');
    await page.waitForFunction(() => /&data=/.test(document.getElementById('share-url').value));
    const url = await page.inputValue('#share-url');
    assert.ok(url.length < 10000, `a small link: ${url.length}`);
    // The consent was for that link: the address bar drops the data at the next change.
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    await page.waitForSelector('#app[data-address="current"]');
    assert.doesNotMatch(page.url(), /[&#]data=/, 'the address embeds nothing on its own');
    assert.equal(decodeView(new URL(page.url()).hash).view.dataset.kind, 'files');
    await settle(page, () => page.click('#grain [data-grain="day"]'));

    const other = await openLink(browser, url);
    try {
      const p = other.page;
      assert.deepEqual(await snapshot(p), before);
      assert.equal(await p.isHidden('#share-request'), true);
      // The recipient's address keeps the data it came with, through changes of the view: a
      // reload could not find the file otherwise.
      await settle(p, () => p.click('#grain [data-grain="month"]'));
      await p.waitForSelector('#app[data-address="current"]');
      assert.match(p.url(), /&data=/);
      const changed = await snapshot(p);
      await p.reload();
      await waitForStatus(p, 'ready', 45000);
      assert.deepEqual(await snapshot(p), changed);
      assert.equal(await p.isHidden('#share-request'), true, 'no file asked for');
      assert.deepEqual(other.log.offsite, []);
      assert.deepEqual(other.log.pageErrors, []);
    } finally {
      await other.context.close();
    }
  });
});

describe('Exports', { timeout: 240000 }, () => {
  let session;

  before(async () => {
    session = await startPage();
    await waitForStatus(session.page, 'ready', 45000);
  });

  after(() => session?.close());

  async function save(page, click) {
    const [download] = await Promise.all([page.waitForEvent('download'), click()]);
    const path = await download.path();
    return { name: download.suggestedFilename(), bytes: readFileSync(path) };
  }

  test('metrics and series as CSV, the view as JSON', async () => {
    const { page } = session;
    const kpis = await kpiValues(page);
    const metrics = await save(page, () => page.click('[data-export="metrics-csv"]'));
    assert.match(metrics.name, /^paymetrics-metrics-.*\.csv$/);
    const rows = parseCsv(metrics.bytes.toString('utf8'));
    assert.deepEqual(rows[0], ['id', 'name', 'tier', 'unit', 'value', 'previous', 'change']);
    const byId = Object.fromEntries(rows.slice(1).map((r) => [r[0], r]));
    for (const id of ['tpv', 'txn_count', 'success_rate', 'active_payers']) {
      assert.ok(byId[id], `${id} in the CSV`);
      assert.equal(Number(byId[id][4]), kpis[id], `${id}: the value on the card`);
    }
    // Negative numbers stay numbers (no apostrophe): only text is escaped.
    const negative = rows.slice(1).filter((r) => r[6].startsWith('-') || r[6].startsWith("'"));
    assert.ok(negative.length > 0, 'some metric went down');
    for (const r of negative) assert.ok(Number.isFinite(Number(r[6])), `${r[0]}: change ${r[6]} is a number`);

    const series = await save(page, () => page.click('[data-export="series-csv"]'));
    const srows = parseCsv(series.bytes.toString('utf8'));
    assert.equal(srows[0][0], 'bucket');
    assert.ok(srows[0].includes('tpv'));
    const shown = await seriesRows(page);
    assert.equal(srows.length - 1, shown.length);
    const tpvAt = srows[0].indexOf('tpv');
    assert.equal(Number(srows[1][tpvAt]), shown[0].values.tpv);

    const json = JSON.parse((await save(page, () => page.click('[data-export="json"]'))).bytes.toString('utf8'));
    assert.equal(json.view.dataset.kind, 'sample');
    assert.equal(json.report.metrics.find((m) => m.id === 'tpv').value, kpis.tpv);
  });

  test('a chart as PNG and as SVG', async () => {
    const { page } = session;
    const main = page.locator('[data-chart="tpv"]');
    await main.scrollIntoViewIfNeeded();
    await page.waitForSelector('[data-chart="tpv"][data-rendered] + .chart-actions [data-chart-export="png"]');
    const png = await save(page, () => page.click('[data-chart="tpv"] + .chart-actions [data-chart-export="png"]'));
    assert.match(png.name, /\.png$/);
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG signature');
    assert.ok(png.bytes.length > 5000 && png.bytes.length < 5e6, `PNG of ${png.bytes.length} bytes`);
    const width = png.bytes.readUInt32BE(16);
    assert.ok(width >= 400, `PNG ${width} px wide`);

    const svg = await save(page, () => page.click('[data-chart="tpv"] + .chart-actions [data-chart-export="svg"]'));
    const body = svg.bytes.toString('utf8');
    assert.match(svg.name, /\.svg$/);
    assert.match(body, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.doesNotMatch(body, /<script|<foreignObject|\son\w+=/i);
    assert.ok((body.match(/<path/g) || []).length > 5, 'bars drawn as paths');
    assert.deepEqual(session.log.pageErrors, []);
  });

  test("a custom metric: its row in the metrics CSV, its chart in its dialog as PNG and SVG", async () => {
    const { page, browser } = session;
    const id = 'app_payers';
    await page.fill('#metric-input', `${id} = count_distinct(user_id where channel = "app_qr")`);
    await settle(page, () => page.click('.metric-form button[type="submit"]'));
    const value = (await kpiValues(page))[id];
    assert.equal(typeof value, 'number', 'the metric has its card');
    assert.ok(value > 0);

    // The CSV has the metric's row, with the value on its card.
    const rows = parseCsv((await save(page, () => page.click('[data-export="metrics-csv"]'))).bytes.toString('utf8'));
    const row = rows.find((r) => r[0] === id);
    assert.ok(row, `${id} in the CSV`);
    assert.equal(row[2], 'custom');
    assert.equal(Number(row[4]), value, 'the value on the card');

    // Its card opens its dialog; the dialog's chart downloads as PNG and SVG.
    await page.click(`[data-open-metric="${id}"]`);
    await page.locator('#metric-dialog').waitFor({ state: 'visible' });
    const actions = '#metric-dialog-chart[data-rendered] + .chart-actions';
    await page.waitForSelector(`${actions} [data-chart-export="png"]`);
    const box = await page.$eval('#metric-dialog-chart', (el) => ({ width: el.clientWidth, height: el.clientHeight }));
    const png = await save(page, () => page.click(`${actions} [data-chart-export="png"]`));
    assert.equal(png.name, 'paymetrics-metric-app-payers.png');
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'the PNG signature');
    assert.equal(png.bytes.subarray(12, 16).toString('latin1'), 'IHDR', 'the first chunk is the header');
    assert.ok(png.bytes.length > 5000 && png.bytes.length < 5e6, `PNG of ${png.bytes.length} bytes`);
    // At twice the chart's pixels (pixelRatio 2), whatever the window.
    const [width, height] = [png.bytes.readUInt32BE(16), png.bytes.readUInt32BE(20)];
    assert.ok(Math.abs(width - 2 * box.width) <= 2 && Math.abs(height - 2 * box.height) <= 2, `PNG ${width}×${height} for a chart of ${box.width}×${box.height}`);

    const svg = await save(page, () => page.click(`${actions} [data-chart-export="svg"]`));
    assert.equal(svg.name, 'paymetrics-metric-app-payers.svg');
    const body = svg.bytes.toString('utf8');
    assert.doesNotMatch(body, /<script|<foreignObject|\son\w+=/i);
    // Parsed as XML by the browser, in a blank page of its own (not the app's).
    const blank = await browser.newContext();
    try {
      const parsed = await (await blank.newPage()).evaluate((source) => {
        const doc = new DOMParser().parseFromString(source, 'image/svg+xml');
        const root = doc.documentElement;
        return { error: doc.getElementsByTagName('parsererror').length, root: root.localName, ns: root.namespaceURI, title: root.querySelector('title')?.textContent, paths: root.getElementsByTagName('path').length };
      }, body);
      assert.equal(parsed.error, 0, 'well-formed XML');
      assert.equal(parsed.root, 'svg');
      assert.equal(parsed.ns, 'http://www.w3.org/2000/svg');
      assert.match(parsed.title, new RegExp(`^${id} by day`), "the SVG's title names the metric");
      assert.ok(parsed.paths > 5, 'drawn');
    } finally {
      await blank.close();
    }
    await page.click('#metric-dialog-close');

    // "Chart it" puts it in the time series, whose SVG is named after it too.
    await page.click(`[data-chart-metric="${id}"]`);
    await page.waitForSelector(`[data-chart="${id}"][data-rendered] + .chart-actions [data-chart-export="svg"]`);
    const series = await save(page, () => page.click(`[data-chart="${id}"] + .chart-actions [data-chart-export="svg"]`));
    assert.match(series.bytes.toString('utf8'), new RegExp(`<title>[^<]*${id}`));
    assert.deepEqual(session.log.pageErrors, []);
  });

  test('the one-file HTML report: no script, the metrics and charts, opens offline', async () => {
    const { page, browser } = session;
    const names = await page.$$eval('[data-metric-card]', (cards) => cards.map((c) => c.querySelector('.kpi-name, h3, [class*="name"]')?.textContent?.trim()).filter(Boolean));
    const report = await save(page, () => page.click('[data-export="html"]'));
    const html = report.bytes.toString('utf8');
    assert.match(report.name, /\.html$/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /\s(src|href)="(?!#|data:)/i, 'no external resources');
    assert.match(html, /data-metric="tpv"/);
    for (const n of names.slice(0, 5)) assert.ok(html.includes(escapeHtml(n)), `metric ${n} in the report`);
    assert.ok((html.match(/<svg/g) || []).length >= 3, 'charts as inline SVG');

    // Offline, from a file: it shows, and asks for nothing.
    const context = await browser.newContext({ offline: true });
    try {
      const p = await context.newPage();
      const requests = [];
      p.on('request', (r) => requests.push(r.url()));
      const file = join(process.env.TMPDIR || '/tmp', `paymetrics-report-${process.pid}.html`);
      writeFileSync(file, html);
      await p.goto(pathToFileURL(file).href);
      assert.ok((await p.$$eval('svg', (els) => els.length)) >= 3);
      assert.ok((await p.$$eval('tr[data-metric]', (els) => els.length)) > 5);
      assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), []);
    } finally {
      await context.close();
    }
  });
});
