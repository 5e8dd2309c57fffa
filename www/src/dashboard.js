// The dashboard: the exchange rates, KPI cards, one chart per metric, and the same numbers as a
// table. Rendered from the report of docs/report.md; every text goes through textContent (dom.js).
import { ChartGrid } from './charts.js';
import { fill, h } from './dom.js';
import { formatCount, formatValue, parseRate, tzLabel } from './format.js';

const charts = new ChartGrid();
const list = (v) => (Array.isArray(v) ? v : []);
const capital = (text) => String(text).charAt(0).toUpperCase() + String(text).slice(1);

/** A money metric that has no total because currencies are mixed: [[currency, value]] per currency. */
function perCurrency(report, m) {
  if (m.unit !== 'currency' || report.currency || (m.value !== null && m.value !== undefined)) return [];
  return list(report.by_currency).map((b) => [b.currency, b.totals?.[m.id] ?? null]);
}

/** "USD 1,204.75 · CNY 1,300.50" for mixed currencies, else the metric's value. */
function metricValueText(report, m) {
  const split = perCurrency(report, m);
  if (split.length) return split.map(([c, v]) => formatValue(v, m.unit, c)).join(' · ');
  return formatValue(m.value, m.unit, report.currency);
}

function kpiValue(report, m) {
  const dataset = { metric: m.id, value: m.value === null || m.value === undefined ? '' : String(m.value), unit: m.unit || '' };
  const amount = (currency, value) => [h('span', { class: 'kpi-currency' }, currency), ' ', formatValue(value, m.unit, null)];
  const split = perCurrency(report, m);
  if (split.length) {
    return h(
      'p',
      { class: 'kpi-value is-split', dataset },
      // One line per currency; the separator is there for copied text and screen readers.
      split.map(([c, v], i) => [i ? h('span', { class: 'kpi-sep' }, ' · ') : null, h('span', { class: 'kpi-part' }, amount(c, v))]),
    );
  }
  const currency = report.currency;
  const number = formatValue(m.value, m.unit, null);
  const withCode = m.unit === 'currency' && currency && dataset.value !== '';
  const long = number.length + (withCode ? currency.length : 0) > 13;
  return h('p', { class: `kpi-value${long ? ' is-long' : ''}`, dataset }, withCode ? amount(currency, m.value) : metricValueText(report, m));
}

export function renderKpis(el, report) {
  const cards = (report.metrics || []).map((m) => {
    const needs = list(m.needs);
    return h(
      'article',
      { class: `kpi${needs.length ? ' kpi-missing' : ''}`, dataset: { metricCard: m.id }, title: m.description || '' },
      h('p', { class: 'kpi-name' }, m.name || m.id),
      kpiValue(report, m),
      needs.length
        ? h('p', { class: 'kpi-needs' }, `Needs column ${needs.join(', ')}`)
        : h('p', { class: `kpi-desc${m.note ? ' kpi-note' : ''}` }, m.note ? capital(m.note) : m.description || ''),
    );
  });
  fill(el.kpis, cards);
}

/**
 * Shown when the file has several currencies: the currency to convert into, and one rate per
 * other currency ("1 USD = [ 7.1 ] CNY"). The report converts once every rate is a number.
 */
export function renderRates(el, report, state, handlers) {
  const found = list(report.currencies);
  el.rates.hidden = found.length < 2;
  if (el.rates.hidden) return;
  const target = found.includes(state.currency) ? state.currency : found[0];
  fill(el.ratesCurrency, found.map((c) => h('option', { value: c }, c)));
  el.ratesCurrency.value = target;
  el.ratesCurrency.onchange = () => handlers.setRate(el.ratesCurrency.value);
  const others = found.filter((c) => c !== target);
  const rows = others.map((c) => {
    const typed = state.rates[c] ?? '';
    const input = h('input', {
      class: 'input input-rate',
      type: 'text',
      inputmode: 'decimal',
      autocomplete: 'off',
      value: typed,
      placeholder: 'rate',
      'aria-label': `${target} for 1 ${c}`,
      'aria-invalid': typed.trim() && parseRate(typed) === null ? 'true' : null,
      dataset: { rate: c },
    });
    // What is typed is kept (a report arriving meanwhile redraws the inputs); a change applies it.
    input.addEventListener('input', () => handlers.setRate(c, input.value, false));
    input.addEventListener('change', () => handlers.setRate(c, input.value));
    return h('label', { class: 'rate' }, h('span', {}, `1 ${c} =`), input, h('span', {}, target));
  });
  fill(el.ratesList, rows);
  el.ratesHint.textContent = report.currency
    ? `Money metrics are converted into ${report.currency}.`
    : `Money metrics are shown per currency (${found.join(', ')}). Enter ${others.length > 1 ? 'every rate' : 'the rate'} to convert them into ${target}.`;
}

export function renderCharts(el, report, fallbackGrain) {
  const currency = report.currency;
  const series = Array.isArray(report.series) ? report.series : [];
  const grain = report.grain || fallbackGrain;
  const nouns = { day: 'days', week: 'weeks', month: 'months' };
  el.seriesCaption.textContent = series.length
    ? `${formatCount(series.length)} ${series.length === 1 ? grain : nouns[grain] || 'buckets'} · ${tzLabel(report.tz)}${grain === 'week' ? ' · weeks start on Monday' : ''} · hover a chart to compare all metrics`
    : 'No time buckets: the file has no readable times';

  // Keep one card per metric and update it in place, so the charts animate instead of flashing.
  const keep = new Set();
  const existing = new Map([...el.charts.children].map((c) => [c.dataset.chartCard, c]));
  const order = [];
  (report.metrics || []).forEach((m, i) => {
    let card = existing.get(m.id);
    if (!card) {
      card = h(
        'article',
        { class: 'chart-card', dataset: { chartCard: m.id } },
        h('header', { class: 'chart-head' }, h('h3', { class: 'chart-title' }), h('p', { class: 'chart-total' })),
        h('div', { class: 'chart', role: 'img' }),
        h('p', { class: 'chart-empty', hidden: true }),
      );
    }
    order.push(card);
    const needs = list(m.needs);
    card.querySelector('.chart-title').textContent = m.name || m.id;
    card.querySelector('.chart-total').textContent = metricValueText(report, m);
    const chartEl = card.querySelector('.chart');
    const empty = card.querySelector('.chart-empty');
    chartEl.dataset.chart = m.id;
    chartEl.dataset.grain = grain;
    chartEl.dataset.points = String(series.length);
    chartEl.dataset.first = series[0]?.bucket ?? '';
    chartEl.dataset.last = series[series.length - 1]?.bucket ?? '';
    chartEl.setAttribute('aria-label', `${m.name || m.id} by ${grain}, ${series.length} points`);
    // A metric with a note and no value (mixed currencies) has no series either: the note says why.
    const noted = (m.value === null || m.value === undefined) && m.note;
    if (needs.length || noted || !series.length) {
      chartEl.hidden = true;
      empty.hidden = false;
      empty.textContent = needs.length ? `Needs column ${needs.join(', ')}` : noted ? capital(m.note) : 'No data';
    } else {
      chartEl.hidden = false;
      empty.hidden = true;
      keep.add(chartEl);
    }
  });
  fill(el.charts, order);
  charts.prune(keep);
  for (const [i, card] of order.entries()) {
    const chartEl = card.querySelector('.chart');
    if (keep.has(chartEl)) charts.render(chartEl, report.metrics[i], series, currency, grain, i);
  }
}

// The numbers behind the charts, as a table: readable by screen readers and by the e2e tests.
export function renderSeriesTable(el, report) {
  const currency = report.currency;
  const metrics = report.metrics || [];
  const series = Array.isArray(report.series) ? report.series : [];
  const head = h(
    'thead',
    {},
    h('tr', {}, h('th', { scope: 'col' }, report.grain || 'bucket'), metrics.map((m) => h('th', { scope: 'col', dataset: { col: m.id } }, m.name || m.id))),
  );
  const body = h(
    'tbody',
    {},
    series.map((b) =>
      h(
        'tr',
        { dataset: { bucket: b.bucket } },
        h('th', { scope: 'row', title: b.start || '' }, b.bucket),
        metrics.map((m) => {
          const v = b[m.id];
          return h('td', { dataset: { col: m.id, value: v === null || v === undefined ? '' : String(v) } }, formatValue(v ?? null, m.unit, currency));
        }),
      ),
    ),
  );
  fill(el.seriesTable, h('caption', { class: 'visually-hidden' }, `Metrics by ${report.grain || 'bucket'}`), head, body);
}
