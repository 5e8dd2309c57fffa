// Issue 7, "Hardening": accessibility. axe-core (WCAG 2.1 A and AA rules) on every state a user
// meets, with zero serious or critical violations (moderate and minor ones are printed); each
// chart's Table toggle shows the chart's own numbers. The keyboard-only session and visible focus
// are in keyboard.test.mjs, the palette under colour blindness in palette.test.mjs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import AxeBuilder from '@axe-core/playwright';
import { assertClose, seriesRows, settle, startPage, upload, waitForStatus } from './helpers.mjs';

const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const BLOCKING = new Set(['serious', 'critical']);

/**
 * Runs axe on the page as it is (or on `within`: a state that changes one part of the page is
 * audited there, after the whole page was audited once with every chart drawn; a whole-page run
 * takes ~10 s on 2 cores, which over a dozen states was ~2.5 min of `make test`); fails on any serious or critical violation (with the rule, the
 * elements and axe's reason), prints the others as test diagnostics.
 */
async function audit(t, page, state, within = null) {
  const builder = new AxeBuilder({ page }).withTags(TAGS);
  if (within) builder.include(within);
  const { violations } = await builder.analyze();
  const blocking = violations.filter((v) => BLOCKING.has(v.impact));
  for (const v of violations.filter((x) => !BLOCKING.has(x.impact))) {
    t.diagnostic(`${state}: ${v.impact} ${v.id} (${v.nodes.length}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  }
  const report = blocking
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.slice(0, 5).map((n) => `    ${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ')}`).join('\n')}`)
    .join('\n');
  assert.equal(blocking.length, 0, `${state}: serious or critical axe violations\n${report}`);
}

/** Scrolls through the page so every lazily drawn chart is drawn (and gets its buttons). */
async function drawAll(page) {
  await page.evaluate(async () => {
    for (let y = 0; y < document.body.scrollHeight; y += 600) {
      window.scrollTo(0, y);
      await new Promise((ok) => setTimeout(ok, 40));
    }
  });
  await page.waitForFunction(() => [...document.querySelectorAll('#view-panel [role="img"]')].filter((e) => !e.closest('[hidden]')).every((e) => e.dataset.rendered === 'true'), null, { timeout: 30000 });
  await page.evaluate(() => window.scrollTo(0, 0));
}

describe('Accessibility: axe-core on every state of the page', { timeout: 900000 }, () => {
  let session;
  let page;

  before(async () => {
    session = await startPage();
    ({ page } = session);
  });
  after(() => session?.close());

  test('the page before any data (the sample still loading)', async (t) => {
    await audit(t, page, 'empty page');
    await waitForStatus(page, 'ready', 60000);
  });

  test('every section of the views, every chart drawn, a chart table shown', async (t) => {
    const tabs = await page.$$eval('#views [role="tab"]', (tabs) => tabs.map((b) => b.dataset.view));
    assert.ok(tabs.length >= 5, tabs.join(','));
    // "All" has every section but two, which the financial institutions' and the regulators' views
    // add (www/src/views.js); the other views show subsets of the same sections, so auditing them
    // too cost ~1 min of `make test` and found nothing more.
    const views = ['all', 'financial_institutions', 'regulators'];
    for (const view of views) assert.ok(tabs.includes(view), view);
    for (const view of views) {
      await page.click(`#views [data-view="${view}"]`);
      await page.waitForFunction((v) => document.querySelector('#view-panel').dataset.view === v, view);
      await drawAll(page);
      // The rest of the page is the same in every view (and audited with the first one).
      await audit(t, page, `view ${view}`, view === views[0] ? null : '#view-panel');
    }
    await page.click('#views [data-view="all"]');
    await drawAll(page);
    // Every chart's table at once: the tables are part of the page too.
    for (const toggle of await page.$$('#view-panel [data-chart-table="toggle"]')) await toggle.click();
    await audit(t, page, 'all chart tables shown', '#view-panel');
    for (const toggle of await page.$$('#view-panel [data-chart-table="toggle"][aria-pressed="true"]')) await toggle.click();
  });

  test('the retention view, monthly and unbounded', async (t) => {
    await page.click('[data-retention-grain="month"]');
    await page.click('[data-retention-kind="unbounded"]');
    await page.waitForFunction(() => document.querySelector('[data-retention-kind="unbounded"]').getAttribute('aria-pressed') === 'true');
    await audit(t, page, 'retention', '[data-section="retention"]');
  });

  test("a metric's dialog", async (t) => {
    await page.click('[data-open-metric="tpv"]');
    await page.waitForSelector('#metric-dialog-chart[data-rendered="true"]');
    await page.click('#metric-dialog [data-chart-table="toggle"]');
    await audit(t, page, 'metric dialog', '#metric-dialog');
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('#metric-dialog', (d) => d.open), false);
  });

  test('the filter editor, a filter applied and a segment chosen', async (t) => {
    await page.click('#add-filter');
    await page.waitForSelector('#filter-editor:not([hidden])');
    await audit(t, page, 'filter editor', '.reportbar');
    await page.check('#filter-values input[type="checkbox"] >> nth=0');
    await settle(page, () => page.click('#filter-apply'));
    const column = await page.$eval('#segment option:nth-child(2)', (o) => o.value);
    await settle(page, () => page.selectOption('#segment', column));
    await drawAll(page);
    await audit(t, page, 'filtered and segmented', '.reportbar');
    await audit(t, page, 'filtered and segmented', '#view-panel');
    await settle(page, () => page.click('#filter-chips [data-remove-filter]'));
    await settle(page, () => page.selectOption('#segment', ''));
  });

  test('the column mapping and the panels, a role changed', async (t) => {
    await page.locator('#mapping-panel').scrollIntoViewIfNeeded();
    const select = page.locator('#mapping select').first();
    const options = await select.locator('option').evaluateAll((os) => os.map((o) => o.value));
    const current = await select.inputValue();
    await settle(page, () => select.selectOption(options.find((o) => o !== current && o !== '') ?? ''));
    await audit(t, page, 'mapping changed', '#mapping-panel');
    await settle(page, () => page.click('#reset-mapping'));
  });

  test('the Share panel and the exports', async (t) => {
    await page.click('#share-link');
    await page.waitForSelector('#share-panel:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#share-url').value.length > 0);
    await audit(t, page, 'share panel', '#share-panel');
    await page.click('#share-close');
    await page.click('[data-export="sql"]');
    await page.waitForSelector('#sql-dialog[data-ready]', { timeout: 60000 });
    await audit(t, page, 'SQL dialog', '#sql-dialog');
    await page.keyboard.press('Escape');
  });

  test('the metric editor: an error, then the completion list', async (t) => {
    await page.locator('#metric-input').scrollIntoViewIfNeeded();
    await page.fill('#metric-input', 'late = p95(latncy_ms where channel = "app_qr")');
    await page.locator('#metric-live .field-error').waitFor({ state: 'visible' });
    await audit(t, page, 'metric editor error', '#custom-metrics');
    await page.fill('#metric-input', '');
    await page.click('#metric-input');
    await page.keyboard.type('x = count_d');
    await page.waitForSelector('#metric-completions:not([hidden]) [role="option"]');
    await audit(t, page, 'metric completions', '#custom-metrics');
    await page.keyboard.press('Escape');
    await page.fill('#metric-input', '');
  });

  test('an error message: a file that is not a CSV', async (t) => {
    await settle(page, () => upload(page, 'not_csv.csv'), { expect: null });
    await page.waitForSelector('#error-banner:not([hidden])');
    await audit(t, page, 'error banner', '#error-banner');
  });
});

describe("A chart's Table toggle shows the chart's numbers", { timeout: 180000 }, () => {
  let session;
  let page;

  before(async () => {
    session = await startPage();
    ({ page } = session);
    await waitForStatus(page, 'ready', 60000);
  });
  after(() => session?.close());

  test('the time series chart: its table equals the report series, and the chart points to it', async () => {
    if ((await page.inputValue('#series-metric')) !== 'tpv') await page.selectOption('#series-metric', 'tpv');
    await page.locator('#charts .chart').scrollIntoViewIfNeeded();
    await page.waitForSelector('#charts .chart[data-rendered="true"]');
    const chart = page.locator('#charts .chart');
    assert.equal(await chart.getAttribute('role'), 'img');
    assert.match(await chart.getAttribute('aria-label'), /^TPV \(net\) by day, from .+ to .+; latest .+ \(.+\), (up from|down from|the same as) .+ at the start, \d+ points/);
    const toggle = page.locator('#charts [data-chart-table="toggle"]');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    await toggle.focus();
    await page.keyboard.press('Enter');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    const wrapId = await toggle.getAttribute('aria-controls');
    assert.equal(await chart.getAttribute('aria-describedby'), wrapId);
    const table = page.locator(`#${wrapId} table`);
    assert.match(await table.locator('caption').textContent(), /^TPV \(net\) by day/);
    assert.deepEqual(await table.locator('thead th').evaluateAll((ths) => ths.map((th) => th.getAttribute('scope'))), ['col', 'col']);
    const cells = await table.locator('tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ scope: tr.querySelector('th').getAttribute('scope'), text: tr.querySelector('td').textContent, value: tr.querySelector('td').dataset.value })),
    );
    // The report the page holds, through the series table (data-value: unrounded numbers).
    await page.click('#table-toggle');
    const report = await seriesRows(page);
    await page.click('#table-toggle');
    assert.equal(cells.length, report.length);
    report.forEach((row, i) => {
      assert.equal(cells[i].scope, 'row');
      assertClose(cells[i].value === '' ? null : Number(cells[i].value), row.values.tpv, `TPV of ${row.bucket}`);
    });
    // Formatted numbers, the same text as the series table's.
    const shown = await page.$$eval('#series-table tbody td[data-col="tpv"]', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(cells.map((c) => c.text), shown);
    await toggle.focus();
    await page.keyboard.press('Space');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.equal(await page.isHidden(`#${wrapId}`), true);
    assert.equal(await chart.getAttribute('aria-describedby'), null);
  });

  test('a mix chart: its table has every value of every bucket, as shares', async () => {
    const card = page.locator('[data-breakdown="channel"]');
    await card.scrollIntoViewIfNeeded();
    await card.locator('.chart[data-rendered="true"]').waitFor();
    await card.locator('[data-chart-table="toggle"]').click();
    const head = await card.locator('.chart-data thead th').allTextContents();
    const values = await card.locator('tbody tr[data-breakdown-value]').evaluateAll((trs) => trs.map((tr) => tr.querySelector('th').textContent.trim()));
    assert.deepEqual(head.slice(1), values, 'one column per value, in the order of the legend table');
    const rows = await card.locator('.chart-data tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.dataset.value))));
    assert.equal(rows.length, Number(await page.getAttribute('#charts .chart', 'data-points')), 'a row per bucket');
    for (const row of rows) assertClose(row.reduce((s, v) => s + v, 0), 1, 'the shares of a bucket sum to 1');
  });

  test('the funnel and the heatmap have tables too', async () => {
    for (const id of ['#funnel', '#retention']) {
      const box = page.locator(id);
      await box.scrollIntoViewIfNeeded();
      await box.locator('.chart[data-rendered="true"]').waitFor();
      await box.locator('[data-chart-table="toggle"]').click();
      const rows = await box.locator('.chart-data tbody tr').count();
      assert.ok(rows > 1, `${id}: ${rows} rows`);
      assert.equal(await box.locator('.chart-data tbody th[scope="row"]').count(), rows);
    }
  });
});
