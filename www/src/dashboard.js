// The dashboard: KPI cards, one chart per metric, and the same numbers as a table. Rendered from
// the report of docs/report.md; every text goes through textContent (dom.js).
import { ChartGrid } from './charts.js';
import { fill, h } from './dom.js';
import { formatCount, formatValue, singleCurrency, tzLabel } from './format.js';

const charts = new ChartGrid();

function metricValueText(metric, currency) {
  return formatValue(metric.value, metric.unit, currency);
}

function kpiValue(m, currency, value) {
  const number = formatValue(m.value, m.unit, null);
  const withCode = m.unit === 'currency' && currency && m.value !== null && m.value !== undefined;
  const long = number.length + (withCode ? currency.length : 0) > 13;
  return h(
    'p',
    { class: `kpi-value${long ? ' is-long' : ''}`, dataset: { metric: m.id, value, unit: m.unit || '' } },
    withCode ? [h('span', { class: 'kpi-currency' }, currency), ' ', number] : metricValueText(m, currency),
  );
}

export function renderKpis(el, report) {
  const currency = singleCurrency(report);
  const mixed = Array.isArray(report.currencies) && report.currencies.length > 1;
  const cards = (report.metrics || []).map((m) => {
    const needs = Array.isArray(m.needs) ? m.needs : [];
    const value = m.value === null || m.value === undefined ? '' : String(m.value);
    return h(
      'article',
      { class: `kpi${needs.length ? ' kpi-missing' : ''}`, dataset: { metricCard: m.id }, title: m.description || '' },
      h('p', { class: 'kpi-name' }, m.name || m.id),
      kpiValue(m, currency, value),
      needs.length
        ? h('p', { class: 'kpi-needs' }, `Needs column ${needs.join(', ')}`)
        : h(
            'p',
            { class: 'kpi-desc' },
            m.unit === 'currency' && mixed ? `Mixed currencies (${report.currencies.join(', ')}), summed as numbers` : m.description || '',
          ),
    );
  });
  fill(el.kpis, cards);
}

export function renderCharts(el, report, fallbackGrain) {
  const currency = singleCurrency(report);
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
    const needs = Array.isArray(m.needs) ? m.needs : [];
    card.querySelector('.chart-title').textContent = m.name || m.id;
    card.querySelector('.chart-total').textContent = metricValueText(m, currency);
    const chartEl = card.querySelector('.chart');
    const empty = card.querySelector('.chart-empty');
    chartEl.dataset.chart = m.id;
    chartEl.dataset.grain = grain;
    chartEl.dataset.points = String(series.length);
    chartEl.dataset.first = series[0]?.bucket ?? '';
    chartEl.dataset.last = series[series.length - 1]?.bucket ?? '';
    chartEl.setAttribute('aria-label', `${m.name || m.id} by ${grain}, ${series.length} points`);
    if (needs.length || !series.length) {
      chartEl.hidden = true;
      empty.hidden = false;
      empty.textContent = needs.length ? `Needs column ${needs.join(', ')}` : 'No data';
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
  const currency = singleCurrency(report);
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
