// End-to-end: the dashboard of issue 4 on the built-in sample — KPI cards by tier with their
// definitions on hover and focus, period over period, filters, segments, views by stakeholder,
// the funnel and the retention heatmap. Expected numbers are computed here, in plain JS, from the
// sample's own CSV (read back through the page's download link) and from docs/metrics.md (the
// catalog's definitions, generated from src/metrics/catalog.rs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, assertClose, downloadSampleCsv, kpiValues, seriesRows, settle, startPage, text, waitForStatus } from './helpers.mjs';

// ---- what the catalog says --------------------------------------------------------------------------

const TIER_TITLES = { 'North star': 'north_star', Core: 'core', Supporting: 'supporting', Guardrails: 'guardrail' };
const STAKEHOLDERS = { consumers: 'consumers', merchants: 'merchants', 'the platform': 'platform', 'banks and card issuers': 'financial_institutions', regulators: 'regulators' };

/** docs/metrics.md: { id: { name, description, tier, stakeholders } }. */
function catalog() {
  const out = {};
  let tier = null;
  for (const line of readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8').split('\n')) {
    const heading = /^## (.+)$/.exec(line);
    if (heading) tier = TIER_TITLES[heading[1].trim()] ?? null;
    const row = /^\| `([a-z0-9_]+)` \| (.*) \|$/.exec(line);
    if (!row || !tier) continue;
    const [name, description, , , forWhom] = row[2].split(' | ');
    out[row[1]] = { name, description, tier, stakeholders: forWhom.split(', ').map((s) => STAKEHOLDERS[s]).filter(Boolean) };
  }
  return out;
}

// ---- the sample, recomputed ----------------------------------------------------------------------------

const SUCCESSFUL = new Set(['success', 'refunded', 'disputed']);

/** The sample's transactions CSV (no quoted fields) as objects, with the local day of each row. */
function parseSample(csv) {
  const [head, ...lines] = csv.trim().split(/\r?\n/);
  const cols = head.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    assert.equal(cells.length, cols.length, `a plain CSV row: ${line}`);
    const row = Object.fromEntries(cols.map((c, i) => [c, cells[i]]));
    // Every time of the sample carries +08:00, and the page reports it in Asia/Shanghai (UTC+8).
    assert.match(row.created_at, /\+08:00$/);
    row.day = row.created_at.slice(0, 10);
    return row;
  });
}

/** The metric definitions of docs/metrics.md, over the rows of [from, to] that `keep` keeps. */
function metricsOf(rows, from, to, keep = () => true) {
  const period = rows.filter((r) => r.day >= from && r.day <= to && keep(r));
  const s = period.filter((r) => SUCCESSFUL.has(r.status));
  const failed = period.filter((r) => r.status === 'failed').length;
  const amount = (list) => list.reduce((sum, r) => sum + (r.amount === '' ? 0 : Number(r.amount)), 0);
  const gross = amount(s);
  return {
    txn_count: period.length,
    success_count: s.length,
    success_rate: s.length + failed ? s.length / (s.length + failed) : null,
    tpv_gross: gross,
    tpv: gross - amount(s.filter((r) => r.status === 'refunded')),
    active_payers: new Set(s.map((r) => r.user_id).filter(Boolean)).size,
  };
}

const CHECKED = ['txn_count', 'success_count', 'success_rate', 'tpv_gross', 'tpv', 'active_payers'];

function checkKpis(kpis, want, label) {
  for (const id of CHECKED) assertClose(kpis[id], want[id], `${label} ${id}`);
}

/** { metricId: number|null } of the previous period, from the cards' data-previous. */
function previousValues(page) {
  return page.$$eval('[data-metric-card]', (cards) =>
    Object.fromEntries(
      cards.map((c) => {
        const p = c.querySelector('[data-previous]');
        return [c.dataset.metricCard, p && p.dataset.previous !== '' ? Number(p.dataset.previous) : null];
      }),
    ),
  );
}

/**
 * Waits until the chart in `selector` has drawn: over `min` pixels of its canvas are not
 * transparent. Charts are drawn when they come near the viewport, so it is scrolled to first.
 */
async function drawn(page, selector, min = 1000) {
  await page.locator(selector).scrollIntoViewIfNeeded();
  await page.waitForFunction(
    ([sel, least]) => {
      const canvas = document.querySelector(`${sel} canvas`);
      if (!canvas || !canvas.width) return false;
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) n++;
      return n > least;
    },
    [selector, min],
    { timeout: 10000 },
  );
}

const visibleCards = (page) =>
  page.$$eval('[data-metric-card]', (cards) => cards.filter((c) => c.offsetParent !== null).map((c) => ({ id: c.dataset.metricCard, tier: c.dataset.tier, stakeholders: c.dataset.stakeholders.split(' ') })));

describe('The dashboard on the sample', { timeout: 180000 }, () => {
  let session;
  let page;
  let log;
  let rows;
  const CATALOG = catalog();

  before(async () => {
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
    rows = parseSample(await downloadSampleCsv(page));
  });

  after(() => session?.close());

  test('every tier has its heading and its cards; every metric of the catalog has a card', async () => {
    assert.ok(Object.keys(CATALOG).length >= 30, 'docs/metrics.md lists the catalog');
    for (const [title, id] of Object.entries(TIER_TITLES)) {
      const heading = page.locator(`[data-tier-group="${id}"] h3`);
      assert.equal(await heading.isVisible(), true, `${title} heading`);
      assert.equal((await heading.textContent()).trim(), title);
      const cards = await page.$$eval(`[data-tier-group="${id}"] [data-metric-card]`, (els) => els.map((e) => e.dataset.metricCard));
      assert.ok(cards.length > 0, `${title} has cards`);
      for (const card of cards) assert.equal(CATALOG[card]?.tier, id, `${card} is in ${title}`);
    }
    const shown = (await visibleCards(page)).map((c) => c.id).sort();
    assert.deepEqual(shown, Object.keys(CATALOG).sort());
    // Units a PM reads at a glance.
    assert.match(await text(page, '[data-metric="tpv"]'), /^CNY \d{1,3}(,\d{3})+\.\d{2}$/);
    assert.match(await text(page, '[data-metric="success_rate"]'), /^\d{1,2}\.\d{2}%$/);
    assert.match(await text(page, '[data-metric="dispute_rate_bps"]'), /^\d+\.\d bps$/);
    assert.match(await text(page, '[data-metric="settlement_p50_h"]'), /^\d+\.\d h$/);
    assert.match(await text(page, '[data-metric="latency_p95_ms"]'), /^[\d,.]+ ms$/);
  });

  test('hovering or focusing a KPI shows its definition; Escape hides it', async () => {
    for (const id of ['success_rate', 'dispute_rate_bps', 'tpv']) {
      const card = `[data-metric-card="${id}"]`;
      await page.hover(`${card} .kpi`);
      const tip = page.locator(`${card} [role="tooltip"]`);
      await tip.waitFor({ state: 'visible' });
      assert.equal((await tip.locator('.kpi-tip-text').textContent()).trim(), CATALOG[id].description, `${id} definition on hover`);
      assert.equal(await page.getAttribute(`${card} .kpi`, 'aria-describedby'), await tip.getAttribute('id'));
      assert.equal(await page.getAttribute(`${card} .kpi`, 'title'), CATALOG[id].description);
    }
    // Keyboard: focus alone shows it (the pointer is elsewhere), Escape dismisses it.
    await page.mouse.move(0, 0);
    const card = '[data-metric-card="active_payers"]';
    await page.focus(`${card} .kpi`);
    const tip = page.locator(`${card} [role="tooltip"]`);
    await tip.waitFor({ state: 'visible' });
    assert.equal((await tip.locator('.kpi-tip-text').textContent()).trim(), CATALOG.active_payers.description);
    await page.keyboard.press('Escape');
    await tip.waitFor({ state: 'hidden' });
    await page.evaluate(() => document.activeElement?.blur());
  });

  test('the period: last 30 days by default, presets and custom dates, each with the previous period', async () => {
    // The default: the data's last 30 days (its span is over 60), against the 30 before.
    assert.equal(await page.$eval('#period', (s) => s.value), '30');
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-09-01', '2025-09-30'), 'last 30 days');
    checkKpis(await previousValues(page), metricsOf(rows, '2025-08-02', '2025-08-31'), 'the 30 days before');

    await settle(page, () => page.selectOption('#period', '7'));
    assert.equal(await text(page, '#period-caption'), 'Sep 24 – 30, 2025 · 7 days · compared with Sep 17 – 23, 2025');
    const now = metricsOf(rows, '2025-09-24', '2025-09-30');
    const before = metricsOf(rows, '2025-09-17', '2025-09-23');
    checkKpis(await kpiValues(page), now, 'last 7 days');
    checkKpis(await previousValues(page), before, 'the 7 days before');
    assert.equal((await seriesRows(page)).length, 7, 'one bucket per day of the period');

    // The change: relative for counts and money, percentage points for ratios; arrow and sign
    // say which way, the colour class whether that is good.
    const delta = async (id) => page.$eval(`[data-metric-card="${id}"] .kpi-delta`, (e) => ({ text: e.textContent.replace(/\s+/g, ' ').trim(), ...e.dataset }));
    const tx = await delta('txn_count');
    const rel = (now.txn_count - before.txn_count) / before.txn_count;
    assertClose(Number(tx.change), rel, 'txn_count change');
    assert.ok(tx.text.startsWith(rel > 0 ? '▲ +' : '▼ −'), `txn_count delta "${tx.text}"`);
    assert.ok(tx.text.includes(`${(Math.abs(rel) * 100).toFixed(1)}%`), `txn_count delta "${tx.text}" is ${(rel * 100).toFixed(1)}%`);
    assert.equal(tx.tone, rel > 0 ? 'good' : 'bad', 'more transactions is good');
    const sr = await delta('success_rate');
    const pp = (now.success_rate - before.success_rate) * 100;
    assert.ok(sr.text.includes(`${Math.abs(pp).toFixed(2)} pp`), `success_rate delta "${sr.text}" is ${pp.toFixed(2)} pp`);
    assert.equal(sr.direction, pp > 0 ? 'up' : 'down');
    const dispute = await delta('dispute_rate_bps');
    assert.match(dispute.text, /^[▲▼■] [+−]?\d+\.\d bps/);
    if (dispute.direction !== 'flat') assert.equal(dispute.tone, dispute.direction === 'up' ? 'bad' : 'good', 'fewer disputes is good');

    // Custom dates.
    await settle(page, () => page.selectOption('#period', 'custom'));
    assert.equal(await page.isVisible('#range-from'), true);
    await settle(page, () => page.fill('#range-from', '2025-08-01'));
    await settle(page, () => page.fill('#range-to', '2025-08-10'));
    assert.equal(await text(page, '#period-caption'), 'Aug 1 – 10, 2025 · 10 days · compared with Jul 22 – 31, 2025');
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-08-01', '2025-08-10'), 'Aug 1 – 10');
    checkKpis(await previousValues(page), metricsOf(rows, '2025-07-22', '2025-07-31'), 'Jul 22 – 31');

    // All data: no previous period, so no comparison.
    await settle(page, () => page.selectOption('#period', 'all'));
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-07-01', '2025-09-30'), 'all data');
    assert.equal(await page.$$eval('[data-previous]', (els) => els.length), 0);
  });

  test('a filter keeps (or leaves out) the rows of the values ticked; its chip removes it', async () => {
    await settle(page, () => page.selectOption('#period', '30'));
    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'channel');
    await page.check('[data-filter-value="online"]');
    await page.check('[data-filter-value="in_app"]');
    await settle(page, () => page.click('#filter-apply'));
    assert.equal(await text(page, '[data-filter="channel"] .chip-edit'), 'channel is online, in_app');
    const online = (r) => r.channel === 'online' || r.channel === 'in_app';
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-09-01', '2025-09-30', online), 'channel online, in_app');
    checkKpis(await previousValues(page), metricsOf(rows, '2025-08-02', '2025-08-31', online), 'previous, channel online, in_app');

    // Edit it into an exclusion.
    await page.click('[data-edit-filter="channel"]');
    await page.click('#filter-mode [data-mode="exclude"]');
    await settle(page, () => page.click('#filter-apply'));
    assert.equal(await text(page, '[data-filter="channel"] .chip-edit'), 'channel is not online, in_app');
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-09-01', '2025-09-30', (r) => !online(r)), 'channel not online, in_app');

    await settle(page, () => page.click('[data-remove-filter="channel"]'));
    assert.equal(await page.$$eval('#filter-chips [data-filter]', (els) => els.length), 0);
    checkKpis(await kpiValues(page), metricsOf(rows, '2025-09-01', '2025-09-30'), 'no filter');
  });

  test('segment by a column: one line per value and a table of key metrics per value', async () => {
    await settle(page, () => page.selectOption('#segment', 'funding_source'));
    const values = [...new Set(rows.map((r) => r.funding_source))];
    const table = await page.$$eval('#segment-table tbody tr', (trs) =>
      trs.map((tr) => ({
        value: tr.dataset.segment,
        ...Object.fromEntries([...tr.querySelectorAll('[data-col]')].map((td) => [td.dataset.col, td.dataset.value === '' ? null : Number(td.dataset.value)])),
      })),
    );
    assert.deepEqual(table.map((r) => r.value).sort(), values.sort());
    for (const r of table) {
      const want = metricsOf(rows, '2025-09-01', '2025-09-30', (x) => x.funding_source === r.value);
      assert.equal(r.rows, want.txn_count, `${r.value} rows`);
      for (const id of ['txn_count', 'success_rate', 'tpv', 'active_payers']) assertClose(r[id], want[id], `${r.value} ${id}`);
    }
    assert.equal(await page.getAttribute('[data-section="series"] [data-chart]', 'data-lines'), String(values.length));
    assert.match(await text(page, '[data-section="series"] .chart-title'), /by funding_source$/);
    await settle(page, () => page.selectOption('#segment', ''));
    assert.equal(await page.isVisible('#segment-wrap'), false);
  });

  test('weeks start on Monday or Sunday', async () => {
    await settle(page, () => page.selectOption('#period', 'all'));
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    // July 1, 2025 is a Tuesday: its week starts on Monday June 30, or on Sunday June 29.
    assert.equal((await seriesRows(page))[0].bucket, '2025-06-30');
    await settle(page, () => page.click('#week-start [data-week-start="sunday"]'));
    assert.equal((await seriesRows(page))[0].bucket, '2025-06-29');
    assert.match(await text(page, '#series-caption'), /weeks start on Sunday/);
    await settle(page, () => page.click('#week-start [data-week-start="monday"]'));
    await settle(page, () => page.click('#grain [data-grain="day"]'));
  });

  test('the funnel and the retention heatmap render, with their numbers as text', async () => {
    await settle(page, () => page.selectOption('#period', 'all'));
    // Funnel: a canvas that drew, and its steps in a table (users, step and overall conversion).
    const funnel = '[data-insight-chart="funnel"]';
    await drawn(page, funnel);
    const steps = await page.$$eval('.funnel-table tbody tr', (trs) =>
      trs.map((tr) => ({ step: tr.dataset.step, ...Object.fromEntries([...tr.querySelectorAll('[data-col]')].map((td) => [td.dataset.col, Number(td.dataset.value)])) })),
    );
    assert.deepEqual(steps.map((s) => s.step), ['signup', 'funded', 'first_payment', 'second_payment']);
    assert.ok(steps[0].users > 0, 'signups in the cohort');
    steps.forEach((s, i) => {
      if (i === 0) return;
      assert.ok(s.users <= steps[i - 1].users, `${s.step}: a funnel narrows`);
      assertClose(s.step_conversion, s.users / steps[i - 1].users, `${s.step} step conversion`);
      assertClose(s.overall_conversion, s.users / steps[0].users, `${s.step} overall conversion`);
    });
    const label = await page.getAttribute(funnel, 'aria-label');
    for (const name of ['Signed up', 'First payment', 'Second payment']) assert.ok(label.includes(name), `the funnel's summary names ${name}`);
    assert.match(await text(page, '#funnel-caption'), /30-day window/);

    // A 7-day window: the cohort is every signup from the data's first day (07-01) to 09-24, the
    // last day whose whole window ends by 09-30; the 6 days after are left out as too recent.
    // Counted here from the sample's users.csv (signup_at carries +08:00, the reporting zone).
    const [usersDownload] = await Promise.all([page.waitForEvent('download'), page.click('#dl-users')]);
    const signupDays = readFileSync(await usersDownload.path(), 'utf8').trim().split(/\r?\n/).slice(1).map((line) => line.split(',')[1].slice(0, 10));
    const inCohort = signupDays.filter((d) => d >= '2025-07-01' && d <= '2025-09-24').length;
    const tooRecent = signupDays.filter((d) => d >= '2025-09-25' && d <= '2025-09-30').length;
    await settle(page, () => page.selectOption('#funnel-days', '7'));
    assert.match(await text(page, '#funnel-caption'), /7-day window/);
    const week = await page.$$eval('.funnel-table tbody tr', (trs) => trs.map((tr) => Number(tr.querySelector('[data-col="users"]').dataset.value)));
    assert.equal(week[0], inCohort, 'signups with a whole 7-day window');
    assert.match(await text(page, '#funnel-caption'), new RegExp(`${tooRecent.toLocaleString('en-US')} more recent signups left out`));
    await settle(page, () => page.selectOption('#funnel-days', '30'));

    // Cohorts by first payment instead of signup.
    await settle(page, () => page.selectOption('#retention-basis', 'first_payment'));
    assert.match(await text(page, '#retention-caption'), /made their first payment/);
    await settle(page, () => page.selectOption('#retention-basis', 'signup'));
    assert.match(await text(page, '#retention-caption'), /signed up/);

    // Retention: a canvas that drew; the average row then one row per cohort, shares in [0, 1],
    // blank where the period has not elapsed (a triangle: later cohorts have fewer periods).
    const heat = '[data-insight-chart="retention"]';
    await drawn(page, heat);
    const cohorts = Number(await page.getAttribute(heat, 'data-cohorts'));
    const table = await page.$$eval('.retention-table tbody tr', (trs) =>
      trs.map((tr) => ({ cohort: tr.dataset.cohort, cells: [...tr.querySelectorAll('[data-col^="p"]')].map((td) => (td.dataset.value === '' ? null : Number(td.dataset.value))) })),
    );
    assert.equal(table[0].cohort, 'average');
    assert.equal(table.length, cohorts + 1);
    assert.ok(cohorts >= 10, `weekly cohorts over three months: ${cohorts}`);
    const known = (cells) => cells.filter((v) => v !== null).length;
    for (let i = 2; i < table.length; i++) assert.ok(known(table[i].cells) <= known(table[i - 1].cells), `cohort ${table[i].cohort} has no more periods than the one before`);
    for (const r of table) for (const v of r.cells) if (v !== null) assert.ok(v >= 0 && v <= 1, `share ${v}`);
    assert.match(await page.getAttribute(heat, 'aria-label'), /^Retention heatmap, classic, \d+ weekly cohorts\. Average week 1: /);

    // Unbounded retention never decreases… from one period to the next it can only stay or fall,
    // and it is at least the classic share.
    await page.click('#retention-kind [data-retention-kind="unbounded"]');
    assert.equal(await page.getAttribute(heat, 'data-kind'), 'unbounded');
    const unbounded = await page.$$eval('.retention-table tbody tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('[data-col^="p"]')].map((td) => (td.dataset.value === '' ? null : Number(td.dataset.value)))),
    );
    unbounded.slice(1).forEach((cells, i) => {
      cells.forEach((v, k) => {
        if (v === null) return;
        if (k > 0 && cells[k - 1] !== null) assert.ok(v <= cells[k - 1] + 1e-12, 'unbounded retention does not rise');
        assert.ok(v + 1e-12 >= table[i + 1].cells[k], 'unbounded ≥ classic');
      });
    });
    await page.click('#retention-kind [data-retention-kind="classic"]');
  });

  test('views by stakeholder show their metrics and their breakdowns', async () => {
    const all = await visibleCards(page);
    for (const [view, stakeholder] of [
      ['regulators', 'regulators'],
      ['financial_institutions', 'financial_institutions'],
      ['platform', 'platform'],
    ]) {
      await page.click(`#view-tab-${view}`);
      assert.equal(await page.getAttribute(`#view-tab-${view}`, 'aria-selected'), 'true');
      const shown = await visibleCards(page);
      assert.ok(shown.length > 0 && shown.length < all.length, `${view}: some cards, not all`);
      for (const c of shown) assert.ok(c.stakeholders.includes(stakeholder), `${c.id} speaks for ${stakeholder}`);
      const want = Object.entries(CATALOG)
        .filter(([, m]) => m.stakeholders.includes(stakeholder))
        .map(([id]) => id)
        .sort();
      assert.deepEqual(shown.map((c) => c.id).sort(), want, `${view}: the catalog's metrics for ${stakeholder}`);
    }

    // Banks and issuers: success rate and volume by funding source, as computed from the file.
    await page.click('#view-tab-financial_institutions');
    assert.equal(await page.isVisible('[data-section="funding"]'), true);
    await drawn(page, '[data-insight-chart="funding"]', 500);
    const funding = await page.$$eval('[data-section="funding"] tbody tr', (trs) =>
      trs.map((tr) => ({ value: tr.dataset.breakdownValue, ...Object.fromEntries([...tr.querySelectorAll('[data-col]')].map((td) => [td.dataset.col, Number(td.dataset.value)])) })),
    );
    const range = await page.$eval('#period-caption', (e) => [e.dataset.from, e.dataset.to]);
    assert.ok(funding.length >= 3, 'funding sources listed');
    for (const f of funding) {
      const want = metricsOf(rows, range[0], range[1], (r) => r.funding_source === f.value);
      assert.equal(f.attempts, want.txn_count, `${f.value} attempts`);
      assertClose(f.success_rate, want.success_rate, `${f.value} success rate`);
      assertClose(f.volume, want.tpv_gross, `${f.value} volume`);
    }

    // Regulators: fraud, disputes, large transactions and KYC, with the thresholds.
    await page.click('#view-tab-regulators');
    for (const id of ['fraud_rate_bps', 'dispute_rate_bps', 'large_txn_count', 'kyc_verified_share']) {
      assert.equal(await page.isVisible(`[data-watch="${id}"]`), true, `${id} on the watch list`);
    }
    assert.match(await text(page, '[data-watch="dispute_rate_bps"] .watch-status'), /(Below|At or above) (Visa|Mastercard)/);
    assert.equal(await page.isVisible('[data-section="funnel"]'), false, 'no funnel for regulators');
    // The reporting threshold of large transactions is the regulators' to set.
    assert.equal(await page.inputValue('#large-amount'), '50000');
    await settle(page, async () => {
      await page.fill('#large-amount', '1000');
      await page.press('#large-amount', 'Enter');
    });
    const large = rows.filter((r) => r.day >= range[0] && r.day <= range[1] && SUCCESSFUL.has(r.status) && r.amount !== '' && Number(r.amount) >= 1000).length;
    assert.ok(large > 0, 'the sample has payments of 1,000 or more');
    assert.equal((await kpiValues(page)).large_txn_count, large);
    assert.equal(await text(page, '[data-watch="large_txn_count"] .watch-desc'), 'Successful payments of CNY 1,000.00 or more');
    await settle(page, async () => {
      await page.fill('#large-amount', '50000');
      await page.press('#large-amount', 'Enter');
    });
    assert.equal(await page.getAttribute('[data-guardrail-chart="dispute_rate_bps"]', 'data-thresholds'), '2');
    await drawn(page, '[data-guardrail-chart="dispute_rate_bps"]');

    // Arrow keys move between the tabs.
    await page.focus('#view-tab-regulators');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getAttribute('#view-tab-financial_institutions', 'aria-selected'), 'true');
    await page.keyboard.press('Home');
    assert.equal(await page.getAttribute('#view-tab-all', 'aria-selected'), 'true');
  });

  test('clicking a card opens its full time series with its thresholds; Escape closes it', async () => {
    await page.click('[data-metric-card="dispute_rate_bps"] .kpi');
    const dialog = page.locator('#metric-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await text(page, '#metric-dialog-title'), CATALOG.dispute_rate_bps.name);
    assert.equal(await text(page, '#metric-dialog-desc'), CATALOG.dispute_rate_bps.description);
    const facts = await page.$$eval('#metric-dialog-facts .fact', (els) =>
      els.map((e) => [e.querySelector('dt').textContent, e.querySelector('.fact-value').textContent, e.querySelector('.fact-note')?.textContent ?? '']),
    );
    assert.deepEqual(
      facts.filter(([k]) => k === 'Threshold'),
      [
        ['Threshold', '90.0 bps', 'Visa dispute monitoring (0.9%)'],
        ['Threshold', '150.0 bps', 'Mastercard excessive chargebacks (1.5%)'],
      ],
    );
    assert.equal(facts[0][1], await text(page, '[data-metric="dispute_rate_bps"]'), 'the value of the card');
    await drawn(page, '#metric-dialog-chart');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  test('a segment or a filter on a column that goes away is dropped, and the page says so', async () => {
    // kyc_level comes from the users file: removing it takes the column away.
    await settle(page, () => page.selectOption('#segment', 'kyc_level'));
    assert.equal(await page.isVisible('#segment-wrap'), true);
    await settle(page, () => page.click('[data-remove-file="sample-users.csv"]'));
    assert.equal(await page.$eval('#segment', (s) => s.value), '');
    assert.equal(await page.isVisible('#segment-wrap'), false);
    assert.match(await text(page, '#error-banner'), /The segments by kyc_level were removed/);
    assert.equal(await page.getAttribute('#app', 'data-status'), 'ready');
  });

  test('no request leaves the machine, no CSP violation, no uncaught error', async () => {
    assert.deepEqual(log.offsite, [], 'requests to other origins');
    assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
    assert.deepEqual(log.pageErrors, [], 'uncaught page errors');
  });
});
