// End-to-end: several files at once (a transactions file and its lookups), wallet bill exports
// (Alipay in GBK with a preamble, WeChat), status overrides, and the options that are landing in
// the core (shown only once it takes them). Expected numbers are hand-computed in
// tests/expected.md ("olist" section) or, for the wallets, from the files themselves (see below).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, fileNames, kpiValues, seriesRows, settle, startPage, text, upload, waitForStatus } from './helpers.mjs';

function checkKpis(kpis, want, label) {
  for (const [id, value] of Object.entries(want)) assertClose(kpis[id], value, `${label} ${id}`);
}

// tests/expected.md, "olist/payments.csv joined to olist/orders.csv on order_id".
const OLIST = { tpv: 220, txn_count: 6, success_rate: 4 / 6, active_payers: 3, avg_ticket: 55, refund_rate: 0 };
const OLIST_OUTCOME = 'orders.csv on order_id: 6 matched · 1 not found (o9, line 7) · 0 repeated keys';

// Alipay (tests/data/wallets/alipay-gbk.csv): 5 rows; 交易成功 49.74 + 99.34 + 222228.50, one 退款成功
// (refunded, 16.03: successful, then taken out of the net TPV) and one 等待确认收货 (pending, 20.00:
// not decided). tests/expected.md, "wallets/".
const ALIPAY = {
  tpv: 222377.58,
  tpv_gross: 222393.61,
  txn_count: 5,
  success_count: 4,
  success_rate: 1,
  refund_rate: 1 / 4,
  avg_ticket: 222393.61 / 4,
};

// WeChat (tests/data/wallets/wechat.csv): 22 rows, and every 当前状态 is one the core reads as success
// (支付成功, 已存入零钱, 已转账, 朋友已收钱, 已收钱, 提现已到账, 充值完成, 充值成功: normalise_status in
// src/schema.rs), so TPV is the sum of the whole 金额(元) column:
// 28.16 + 0.35 + 12.00 + 500.00 + 23.00 + 2000.00 + 100.10 + 10.10 + 1001.10 + 548.58 + 10000.00
// + 3000.00 + 2634.78 + 5505.00 + 1300.00 + 2243.46 + 12.00 + 12.00 + 0.07 + 0.07 + 36.99 + 36.99
// = 29004.75.
const WECHAT = { tpv: 29004.75, txn_count: 22, success_rate: 1 };

const summary = (page, role) => text(page, `[data-role-summary="${role}"]`);
const made = (name, lines) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(`${lines.join('\n')}\n`) });

describe('Several files, wallet exports, status overrides', { timeout: 120000 }, () => {
  let session;
  let page;
  let log;

  before(async () => {
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
  });

  after(() => session?.close());

  test('the sample: users and merchants are lookups, joined on user_id and merchant_id', async () => {
    assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv']);
    const roles = await page.$$eval('#files [data-file]', (els) => els.map((e) => e.dataset.role));
    assert.deepEqual(roles, ['transactions', 'lookup', 'lookup']);
    assert.equal(await page.$eval('[data-join-on="sample-users.csv"]', (s) => s.value), 'user_id');
    assert.equal(await page.$eval('[data-join-on="sample-merchants.csv"]', (s) => s.value), 'merchant_id');
    assert.equal(await text(page, '[data-join-outcome="sample-users.csv"]'), 'sample-users.csv on user_id: 50,000 matched · 0 not found · 0 repeated keys');
    assert.equal(await text(page, '[data-join-outcome="sample-merchants.csv"]'), 'sample-merchants.csv on merchant_id: 50,000 matched · 0 not found · 0 repeated keys');
    // Three months of data open on their last 30 days; all of them are the 50,000 rows.
    assert.equal(await page.$eval('#period', (s) => s.value), '30');
    await settle(page, () => page.selectOption('#period', 'all'));
    assert.equal((await kpiValues(page)).txn_count, 50000);
    // The sample is shown in Beijing time; time zones with daylight saving come before offsets.
    assert.equal(await page.$eval('#tz', (s) => s.value), 'Asia/Shanghai');
    assert.equal(await page.$$eval('#tz optgroup[data-group="zones"] option', (o) => o.length), 11);
    // Every control is there from the start; one currency, so no exchange rates.
    for (const control of ['#decimal', '#date-order', '#derive-input']) assert.equal(await page.isVisible(control), true, control);
    assert.equal(await page.isVisible('#rates'), false);
    assert.match(await text(page, '#series-caption'), /Asia\/Shanghai/);
    await settle(page, () => page.selectOption('#tz', 'Europe/London'));
    assert.match(await text(page, '#series-caption'), /Europe\/London/);
    assert.equal((await kpiValues(page)).txn_count, 50000);
    await settle(page, () => page.selectOption('#tz', 'Asia/Shanghai'));
  });

  test('olist: payments and orders dropped together are joined on order_id', async () => {
    // Orders first: the transactions file is still payments.csv (its name says so).
    await settle(page, () => upload(page, 'olist/orders.csv', 'olist/payments.csv'));
    assert.deepEqual(await fileNames(page), ['payments.csv', 'orders.csv']);
    assert.equal(await page.getAttribute('#files [data-file="orders.csv"]', 'data-role'), 'lookup');
    assert.equal((await page.textContent('#dataset-name')).trim(), 'payments.csv');
    checkKpis(await kpiValues(page), OLIST, 'olist');

    // The suggested join was applied: selects pre-filled, outcome shown in Files and Data quality.
    assert.equal(await page.$eval('[data-join-on="orders.csv"]', (s) => s.value), 'order_id');
    assert.equal(await page.$eval('[data-join-key="orders.csv"]', (s) => s.value), 'order_id');
    assert.equal(await text(page, '[data-join-outcome="orders.csv"]'), OLIST_OUTCOME);
    assert.equal(await text(page, '#quality [data-join="orders.csv"]'), OLIST_OUTCOME);
    const stat = (k) => page.$eval(`#quality [data-quality="${k}"] .qstat-value`, (e) => e.textContent.trim());
    assert.deepEqual([await stat('read'), await stat('loaded'), await stat('skipped')], ['7', '6', '1']);
    assert.equal(await summary(page, 'status'), 'status ← order_status');
    assert.equal(await summary(page, 'user_id'), 'user_id ← customer_id');

    // Times have no offset (UTC): 3, 2 and 1 attempts; successes 100 + 20.50 + 55.25, then 44.25.
    const rows = await seriesRows(page);
    assert.deepEqual(rows.map((r) => r.bucket), ['2018-01-02', '2018-01-03', '2018-01-04']);
    assert.deepEqual(rows.map((r) => r.values.txn_count), [3, 2, 1]);
    rows.forEach((r, i) => assertClose(r.values.tpv, [175.75, 44.25, 0][i], `olist ${r.bucket} tpv`));

    // Turning the join off: payments alone have no status, so the money metrics say so.
    await settle(page, () => page.selectOption('[data-join-on="orders.csv"]', ''));
    const off = await kpiValues(page);
    assert.equal(off.tpv, null);
    assert.equal(off.txn_count, 7);
    assert.match(await text(page, '[data-join-outcome="orders.csv"]'), /^Not joined/);
    // ... and a later report does not join it again behind the user's back.
    await settle(page, () => page.click('#grain [data-grain="week"]'));
    assert.equal((await kpiValues(page)).tpv, null);
    await settle(page, () => page.click('#grain [data-grain="day"]'));
    await settle(page, () => page.selectOption('[data-join-on="orders.csv"]', 'order_id'));
    checkKpis(await kpiValues(page), OLIST, 'olist joined again');
    assert.equal(await text(page, '[data-join-outcome="orders.csv"]'), OLIST_OUTCOME);

    // A lookup's own warnings open its section of Data quality.
    await settle(page, () => page.setInputFiles('#file-input', made('notes.csv', ['note', 'hello', 'world'])));
    const notes = '#quality details[data-quality-file="notes.csv"]';
    assert.equal(await page.$eval(notes, (d) => d.open), true);
    assert.match(await text(page, `${notes} summary`), /1 warning$/);
    assert.match(await text(page, `${notes} .warnings`), /only one column/);
    await settle(page, () => page.click('[data-remove-file="notes.csv"]'));
    checkKpis(await kpiValues(page), OLIST, 'olist without notes.csv');
  });

  test('Alipay bill in GBK: 24 lines of notes, Chinese headers and statuses', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => upload(page, 'wallets/alipay-gbk.csv'));
    assert.deepEqual(await fileNames(page), ['alipay-gbk.csv']);
    assert.equal(await summary(page, 'created_at'), 'created_at ← 交易时间');
    assert.equal(await summary(page, 'amount'), 'amount ← 金额');
    assert.equal(await summary(page, 'status'), 'status ← 交易状态');
    assert.equal(await text(page, '#quality [data-fact="encoding"]'), 'GB18030');
    assert.equal(await text(page, '#quality [data-fact="header-line"]'), '25');
    assert.match(await text(page, '[data-file-meta="alipay-gbk.csv"]'), /GB18030 · comma · header line 25 · 24 lines of notes skipped/);
    assert.match(await text(page, '#quality [data-lines-skipped]'), /^24 lines of notes before the header \(lines 1–24\)/);
    assert.equal(await text(page, '#quality [data-fact="not-used"]'), '对方账号, 商品说明, 商家订单号, 备注');
    checkKpis(await kpiValues(page), ALIPAY, 'alipay');
    const statuses = await page.$$eval('#statuses li[data-raw]', (els) => Object.fromEntries(els.map((e) => [e.dataset.raw, e.dataset.status])));
    assert.deepEqual(statuses, { 交易成功: 'success', 等待确认收货: 'pending', 退款成功: 'refunded' });
  });

  test('a status override recomputes the metrics; unknown values are called out', async () => {
    // 等待确认收货 (awaiting delivery, 20.00) counted as success: 5 successful of 5, TPV + 20.
    const pending = '#statuses li[data-raw="等待确认收货"]';
    await settle(page, () => page.selectOption(`${pending} select`, 'success'));
    checkKpis(await kpiValues(page), { success_count: 5, success_rate: 1, tpv: 222397.58 }, 'override');
    assert.equal(await page.getAttribute(pending, 'data-status'), 'success');
    assert.equal(await page.isVisible('#reset-statuses'), true);

    // 交易成功 as unknown: highlighted, explained, neither success nor failure.
    const ok = '#statuses li[data-raw="交易成功"]';
    await settle(page, () => page.selectOption(`${ok} select`, 'unknown'));
    // Left: the overridden row and the refund (refunded is successful); 2 decided, both successful.
    checkKpis(await kpiValues(page), { success_count: 2, txn_count: 5, tpv: 20 }, 'only the overridden row and the refund succeed');
    assert.equal(await page.getAttribute(ok, 'data-status'), 'unknown');
    assert.ok(await page.$eval(ok, (e) => e.classList.contains('status-unknown')));
    assert.match(await text(page, ok), /not counted as success or failure/);
    assert.match(await text(page, '#statuses .note-warn'), /not counted as success or failure/);

    // Back to what the core reads: the override disappears when it matches.
    await settle(page, () => page.selectOption(`${ok} select`, 'success'));
    await settle(page, () => page.click('#reset-statuses'));
    checkKpis(await kpiValues(page), ALIPAY, 'statuses reset');
    assert.equal(await page.isVisible('#reset-statuses'), false);
  });

  test('WeChat bill: Chinese headers with units are mapped', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => upload(page, 'wallets/wechat.csv'));
    assert.equal(await summary(page, 'created_at'), 'created_at ← 交易时间');
    assert.equal(await summary(page, 'amount'), 'amount ← 金额(元)');
    assert.equal(await summary(page, 'status'), 'status ← 当前状态');
    assert.equal(await text(page, '#quality [data-fact="header-line"]'), '17');
    assert.match(await text(page, '#quality [data-lines-skipped]'), /^16 lines of notes before the header \(lines 1–16\)/);
    const q = (k) => page.$eval(`#quality [data-quality="${k}"] .qstat-value`, (e) => e.textContent.trim());
    assert.equal(await q('read'), '22');
  });

  test('WeChat bill: TPV of the ¥ amounts', async () => {
    // Five years of bills open on their last 30 days (Sep 4 – Oct 3, 2022); all of them sum to
    // the whole 金额(元) column.
    assert.equal(await page.$eval('#period', (s) => s.value), '30');
    assert.match(await text(page, '#period-caption'), /^Sep 4 – Oct 3, 2022 · 30 days · compared with/);
    assert.ok((await kpiValues(page)).tpv < WECHAT.tpv, 'the last 30 days are a part of the whole');
    await settle(page, () => page.selectOption('#period', 'all'));
    checkKpis(await kpiValues(page), WECHAT, 'wechat');
  });

  // Files made in the test: "1.234" is 1.234 with a decimal point and 1234 with a decimal comma;
  // "03/04/2025" is 3 April day first and 4 March month first.
  const DECIMALS = made('decimals.csv', [
    'txn_id;created_at;user_id;amount;status',
    't1;2025-07-01 10:00:00;u1;1.234;success',
    't2;2025-07-01 11:00:00;u2;2.500;success',
  ]);
  const DATES = made('dates.csv', ['txn_id,created_at,user_id,amount,status', 't1,03/04/2025,u1,10,success', 't2,05/06/2025,u2,20,success']);

  test('decimal separator', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => page.setInputFiles('#file-input', DECIMALS));
    await settle(page, () => page.selectOption('#decimal', ','));
    assertClose((await kpiValues(page)).tpv, 3734, 'decimal comma');
    await settle(page, () => page.selectOption('#decimal', '.'));
    assertClose((await kpiValues(page)).tpv, 3.734, 'decimal point');
    await settle(page, () => page.selectOption('#decimal', ''));
  });

  test('day or month first', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => page.setInputFiles('#file-input', DATES));
    // The core cannot tell, says so in a warning, and the page puts the choice next to it.
    assert.equal(await page.isVisible('#date-order-callout'), true);
    assert.match(await text(page, '#date-order-callout'), /day\/month|day first|month first/i);
    // 3 April to 5 June spans 64 days: the page opens on the last 30; all of them show the order.
    assert.equal(await page.$eval('#period', (s) => s.value), '30');
    await settle(page, () => page.selectOption('#period', 'all'));
    await settle(page, () => page.selectOption('#date-order-prominent', 'dmy'));
    assert.equal(await page.$eval('#date-order', (s) => s.value), 'dmy');
    assert.deepEqual((await seriesRows(page)).map((r) => r.bucket).filter((b, i, all) => i === 0 || i === all.length - 1), ['2025-04-03', '2025-06-05']);
    await settle(page, () => page.selectOption('#date-order', 'mdy'));
    assert.deepEqual((await seriesRows(page)).map((r) => r.bucket).filter((b, i, all) => i === 0 || i === all.length - 1), ['2025-03-04', '2025-05-06']);
    // The callout's select and the toolbar's are one setting.
    assert.equal(await page.$eval('#date-order-prominent', (s) => s.value), 'mdy');
  });

  // tests/data/locale/derived.csv: qty × unit_price is 2 × 9.99 and 3 × 1,000.00 for the two
  // successes that have a qty (the third has none: one empty result).
  test('derived columns: a formula makes the amount; a misspelt one says what it meant', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => upload(page, 'locale/derived.csv'));
    const add = async (definition) => {
      await page.fill('#derive-input', definition);
      await page.press('#derive-input', 'Enter');
    };
    await settle(page, () => add('amount = qty * unit_price'));
    checkKpis(await kpiValues(page), { tpv: 3019.98, avg_ticket: 1509.99 }, 'derived amount');
    assert.equal(await page.inputValue('[data-derive="0"]'), 'amount = qty * unit_price');
    assert.equal(await page.inputValue('#derive-input'), '');
    assert.equal(await text(page, '[data-derive-outcome="0"]'), 'adds column amount · plays amount · 1 empty result');
    assert.equal(await summary(page, 'amount'), 'amount ← amount');
    assert.equal(await text(page, '.map-row[data-role="amount"] .source'), 'derived');

    // Corrected in place: the core's message, with its position, goes under the field.
    const field = '[data-derive="0"]';
    await settle(page, async () => {
      await page.fill(field, 'amount = qty * unit_prise');
      await page.press(field, 'Enter');
    });
    const error = await text(page, '[data-derive-error="0"]');
    assert.match(error, /did you mean "unit_price"/);
    assert.match(error, /at column \d+/);
    assert.equal(await page.getAttribute(field, 'aria-invalid'), 'true');
    assert.equal(await page.inputValue(field), 'amount = qty * unit_prise');
    // Without it, amount is the unit_price column again.
    assert.equal(await summary(page, 'amount'), 'amount ← unit_price');

    await settle(page, () => page.click('#derive .derive-item button'));
    assert.equal(await page.$$eval('#derive [data-derive]', (els) => els.length), 0);
  });

  // tests/data/locale/mixed_currencies.csv: successes $1,200.00 + $4.75 and ¥300.50 + ¥1,000.00.
  test('mixed currencies: per currency until an exchange rate converts them', async () => {
    await settle(page, () => page.click('#start-over'));
    await settle(page, () => upload(page, 'locale/mixed_currencies.csv'));
    const mixed = await kpiValues(page);
    assert.equal(mixed.tpv, null);
    assert.equal(mixed.avg_ticket, null);
    assertClose(mixed.txn_count, 5, 'mixed txn_count');
    assert.equal(await text(page, '[data-metric="tpv"]'), 'USD 1,204.75 · CNY 1,300.50');
    assert.equal(await text(page, '[data-metric="avg_ticket"]'), 'USD 602.38 · CNY 650.25');
    assert.match(await text(page, '[data-metric-card="tpv"] .kpi-note'), /^Mixed currencies \(USD, CNY\)/);
    assert.match(await text(page, '[data-chart-card="tpv"] .chart-empty'), /shown per currency/);

    assert.equal(await page.isVisible('#rates'), true);
    await settle(page, () => page.selectOption('#rates-currency', 'CNY'));
    assert.deepEqual(await page.$$eval('#rates [data-rate]', (els) => els.map((e) => e.dataset.rate)), ['USD']);
    await settle(page, async () => {
      await page.fill('[data-rate="USD"]', '7');
      await page.press('[data-rate="USD"]', 'Enter');
    });
    checkKpis(await kpiValues(page), { tpv: 9733.75, avg_ticket: 9733.75 / 4 }, 'converted into CNY');
    assert.equal(await text(page, '[data-metric="tpv"]'), 'CNY 9,733.75');
    assert.equal(await page.isVisible('[data-chart="tpv"]'), true);
    assert.equal(await page.inputValue('[data-rate="USD"]'), '7');
  });

  test('no request leaves the machine, no CSP violation, no uncaught error', async () => {
    assert.deepEqual(log.offsite, [], 'requests to other origins');
    assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
    assert.deepEqual(log.pageErrors, [], 'uncaught page errors');
  });
});
