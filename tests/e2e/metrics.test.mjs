// End-to-end: custom metrics (issue 6) on the built-in sample. A PM types a formula, gets
// completions, sees its value, its card and its chart; a mistake shows the core's message under
// the field with the fault marked and a one-click fix. Expected numbers are computed here in plain
// JS from the sample's CSV (read back through the page's download link).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, downloadSampleCsv, kpiValues, seriesRows, settle, startPage, text, waitForStatus } from './helpers.mjs';

/** The sample's transactions CSV (no quoted fields) as objects. */
function parseSample(csv) {
  const [head, ...lines] = csv.trim().split(/\r?\n/);
  const cols = head.split(',');
  return lines.map((line) => Object.fromEntries(cols.map((c, i) => [c, line.split(',')[i]])));
}

describe('Custom metrics on the sample', { timeout: 180000 }, () => {
  let session;
  let page;
  let log;
  let rows;

  before(async () => {
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
    rows = parseSample(await downloadSampleCsv(page));
    // Every day of the sample, so that the expected values are over every row.
    await settle(page, () => page.selectOption('#period', 'all'));
  });

  after(() => session?.close());

  test('typing offers columns and functions; Enter takes the highlighted one', async () => {
    await page.locator('#metric-input').scrollIntoViewIfNeeded();
    await page.click('#metric-input');
    await page.keyboard.type('x = count_d');
    const options = await page.$$eval('#metric-completions [role="option"] .completion-label', (els) => els.map((e) => e.textContent));
    assert.deepEqual(options, ['count_distinct()']);
    assert.equal(await page.getAttribute('#metric-input', 'aria-expanded'), 'true');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.equal(await page.inputValue('#metric-input'), 'x = count_distinct(');
    await page.keyboard.type('funding_so');
    const columns = await page.$$eval('#metric-completions [role="option"]', (els) => els.map((e) => e.textContent));
    assert.ok(columns.some((c) => c.startsWith('funding_source')), columns.join(', '));
    await page.keyboard.press('Escape');
    assert.equal(await page.isHidden('#metric-completions'), true);
    await page.fill('#metric-input', '');
  });

  test('a definition is checked as it is typed, before it is added', async () => {
    await page.fill('#metric-input', 'late = p95(latncy_ms where channel = "app_qr")');
    const live = page.locator('#metric-live .field-error');
    await live.waitFor({ state: 'visible' });
    assert.equal(await live.textContent(), 'at column 12: unknown column "latncy_ms" — did you mean "latency_ms"?');
    assert.equal(await page.locator('#metric-live mark').textContent(), 'latncy_ms');
    assert.equal(await page.getAttribute('#metric-input', 'aria-invalid'), 'true');
    await page.click('#metric-live button:has-text("Use latency_ms")');
    assert.equal(await page.inputValue('#metric-input'), 'late = p95(latency_ms where channel = "app_qr")');
    await page.locator('#metric-live .metric-understood').waitFor({ state: 'visible' });
    assert.equal(await page.getAttribute('#metric-input', 'aria-invalid'), null);
    await page.fill('#metric-input', '');
  });

  test('a metric gets its value, its card and its chart, equal to the CSV recomputed', async () => {
    const successful = rows.filter((r) => ['success', 'refunded', 'disputed'].includes(r.status));
    const appQr = rows.filter((r) => r.channel === 'app_qr');
    const expectShare = appQr.length / rows.length;
    const payers = new Set(successful.map((r) => r.user_id).filter(Boolean)).size;
    const expectPerPayer =
      rows.filter((r) => r.status === 'success' && r.channel === 'app_qr').reduce((s, r) => s + Number(r.amount || 0), 0) /
      new Set(rows.map((r) => r.user_id).filter(Boolean)).size;
    assert.ok(payers > 0 && appQr.length > 0, 'the sample has app_qr payments');

    for (const definition of [
      'app_qr_share = share(where channel = "app_qr")',
      'app_qr_tpv_per_user = sum(amount where status = "success" and channel = "app_qr") / count_distinct(user_id)',
    ]) {
      await page.fill('#metric-input', definition);
      await settle(page, () => page.click('.metric-form button[type="submit"]'));
    }
    const kpis = await kpiValues(page);
    assertClose(kpis.app_qr_share, expectShare, 'app_qr_share card');
    assertClose(kpis.app_qr_tpv_per_user, expectPerPayer, 'app_qr_tpv_per_user card');
    assert.match(await text(page, '[data-metric="app_qr_share"]'), /^\d{1,2}\.\d{2}%$/, 'a share reads as a percentage');
    assert.equal(await page.isVisible('[data-tier-group="custom"] h3'), true, 'the custom tier has its heading');
    assert.match(await text(page, '[data-metric-outcome="app_qr_share"]'), /%/);

    // Chart it: the series shows the metric, one value per day, each the day's share.
    await page.click('[data-chart-metric="app_qr_share"]');
    assert.equal(await page.$eval('#series-metric', (s) => s.value), 'app_qr_share');
    await page.click('#table-toggle');
    const series = await seriesRows(page);
    assert.ok(series.length > 30, 'a value per day');
    for (const point of series.slice(0, 5)) {
      const day = rows.filter((r) => r.created_at.slice(0, 10) === point.bucket);
      assertClose(point.values.app_qr_share, day.filter((r) => r.channel === 'app_qr').length / day.length, `share on ${point.bucket}`);
    }
    await page.click('#table-toggle');

    // It follows the stakeholder views and a segment like the catalog's metrics.
    await page.click('[role="tab"][data-view="merchants"]');
    assert.equal(await page.isVisible('[data-metric-card="app_qr_share"]'), true, 'shown in every view');
    await page.click('[role="tab"][data-view="all"]');
  });

  test('a mistake shows the message under the field, the fault marked, and a fix', async () => {
    await page.fill('#metric-input', 'typo = sum(amuont)');
    await settle(page, () => page.click('.metric-form button[type="submit"]'));
    const error = page.locator('[data-metric-error="2"]');
    assert.equal(await error.locator('.field-error').textContent(), 'at column 12: unknown column "amuont" — did you mean "amount"?');
    assert.equal(await error.locator('mark').textContent(), 'amuont');
    assert.equal(await page.getAttribute('[data-metric-definition="2"]', 'aria-invalid'), 'true');
    // The other metrics still have their values.
    assert.equal(typeof (await kpiValues(page)).app_qr_share, 'number');
    await settle(page, () => error.locator('button', { hasText: 'Use amount' }).click());
    assert.equal(await page.inputValue('[data-metric-definition="2"]'), 'typo = sum(amount)');
    assert.equal(await page.isVisible('[data-metric-error="2"]'), false);
    assertClose((await kpiValues(page)).typo, rows.reduce((s, r) => s + Number(r.amount || 0), 0), 'sum of every amount');
    // Removing it takes its card away.
    await settle(page, () => page.click('button[aria-label="Remove typo = sum(amount)"]'));
    assert.equal(await page.$('[data-metric-card="typo"]'), null);
    assert.deepEqual(log.pageErrors, []);
  });
});
