// The dashboard: the report bar (period, grain, week start, segment, filters), the views by
// stakeholder, the KPI cards by tier, the time series, the guardrails with their thresholds and
// the insights (mixes, funnel, retention, distributions), plus the exchange rates and the full
// time series of one metric in a dialog. Rendered from the report of docs/report.md; every text
// goes through textContent (dom.js).
import { ChartHost, chartTitle } from './chart-host.js';
import { $, dataTable, download, fill, h } from './dom.js';
import { bucketLabel, daysBetween, formatCount, formatRange, formatShort, formatValue, isNumber, metricDelta, parseRate, tzLabel } from './format.js';
import { renderDeclines, renderFunding, renderFunnel, renderHistogram, renderMix, renderRegulators, renderRetention, thresholdStatus } from './insights.js';
import { capital, metricValueText, missingReason, perCurrency, renderTiers } from './kpis.js';
import { colorFor } from './palette.js';
import { DIMENSION_TITLES, GOOD_WORDS, STAKEHOLDER_WORDS, TIERS, VIEWS, hasValue, inView, isGuarded, viewById } from './views.js';

const host = new ChartHost({ lazy: true, onExport: (el, type) => exportChart(host, el, type) });
const dialogHost = new ChartHost({ onExport: (el, type) => exportChart(dialogHost, el, type) });

// ---- chart exports ------------------------------------------------------------------------------------

let exportError = (title, message) => console.warn(title, message);
/** Where a failed chart export is reported (main.js: the page's banner). */
export function onChartExportError(fn) {
  exportError = fn;
}

/** One chart's PNG (what is on screen, at twice its pixels) or SVG (drawn again as vectors). */
async function exportChart(from, el, type) {
  // The dialog's chart is named by its metric (paymetrics-metric-tpv.png), the others by their key.
  const key = from === dialogHost ? `metric-${el.dataset.chart || ''}` : from.listCharts().find((c) => c.el === el)?.key || el.dataset.chart || 'chart';
  const slug = (key === 'main' ? `series-${el.dataset.chart || ''}` : key).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const name = `paymetrics-${slug || 'chart'}.${type}`;
  try {
    if (type === 'png') download(await from.pngOf(el), name);
    else download(await from.svgOf(el), name, 'image/svg+xml');
  } catch (err) {
    exportError(`Could not export the chart as ${type.toUpperCase()}`, String(err?.message || err));
  }
}

/** The dashboard's charts shown in the current view, as sanitised SVG: [{ title, svg }]. */
export async function dashboardSvgs() {
  const out = [];
  for (const c of host.listCharts()) {
    if (!c.shown) continue;
    try {
      // Drawn at a report's width (a chart of the two-column grid is narrow on screen).
      const title = chartTitle(c.el) || c.key;
      out.push({ title, svg: await host.svgOf(c.el, { width: Math.max(960, c.el.clientWidth) }) });
    } catch (err) {
      console.warn('chart not exported:', c.key, err);
    }
  }
  return out;
}
// Each report gets a number: a chart drawn from the same report and settings is not drawn again.
const reportIds = new WeakMap();
let nextReportId = 1;
function reportId(report) {
  if (!reportIds.has(report)) reportIds.set(report, nextReportId++);
  return reportIds.get(report);
}
const list = (v) => (Array.isArray(v) ? v : []);
const NOUNS = { day: 'days', week: 'weeks', month: 'months' };
// The columns of the table by segment: the metrics a review starts with.
const SEGMENT_METRICS = ['tpv', 'txn_count', 'success_rate', 'active_payers', 'avg_ticket', 'refund_rate', 'dispute_rate_bps'];

// ---- exchange rates ---------------------------------------------------------------------------------

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

// ---- report bar -------------------------------------------------------------------------------------

/** The columns offered for filters and segments: `dimensions`, else none. */
export function dimensionsOf(report) {
  return list(report?.dimensions).filter((d) => typeof d?.column === 'string');
}

function dimensionTitle(d) {
  return d.role && DIMENSION_TITLES[d.role] && d.role !== d.column ? `${d.column} (${DIMENSION_TITLES[d.role].toLowerCase()})` : d.column;
}

function renderReportBar(el, report, state, handlers) {
  // Period: the preset the page resolved, and the custom dates within the data's range.
  el.period.value = state.period === 'auto' ? state.periodResolved || 'all' : state.period;
  el.customRange.hidden = el.period.value !== 'custom';
  const dr = report.data_range;
  for (const input of [el.rangeFrom, el.rangeTo]) {
    input.min = dr?.from || '';
    input.max = dr?.to || '';
  }
  const shownRange = report.range || (state.custom.from && state.custom.to ? state.custom : null);
  if (document.activeElement !== el.rangeFrom) el.rangeFrom.value = state.custom.from || shownRange?.from || dr?.from || '';
  if (document.activeElement !== el.rangeTo) el.rangeTo.value = state.custom.to || shownRange?.to || dr?.to || '';
  el.period.disabled = !dr && !report.range;
  el.period.title = el.period.disabled ? 'The file has no readable times' : '';

  const range = report.range || dr;
  const parts = [];
  if (range) parts.push(`${formatRange(range)} · ${formatCount(daysBetween(range.from, range.to))} days`);
  if (report.previous) parts.push(`compared with ${formatRange(report.previous)}`);
  else if (range) parts.push('no comparison (all the data)');
  el.periodCaption.textContent = parts.join(' · ');
  el.periodCaption.dataset.from = range?.from || '';
  el.periodCaption.dataset.to = range?.to || '';

  for (const b of el.weekStart.querySelectorAll('button')) {
    b.setAttribute('aria-pressed', String(b.dataset.weekStart === (report.week_start || state.weekStart)));
  }

  // Segment by: any dimension column, or none.
  const dims = dimensionsOf(report);
  const columns = dims.map((d) => d.column);
  if (state.segment && !columns.includes(state.segment)) columns.push(state.segment);
  fill(
    el.segment,
    h('option', { value: '' }, 'None'),
    columns.map((c) => {
      const d = dims.find((x) => x.column === c);
      return h('option', { value: c }, d ? `${dimensionTitle(d)} · ${formatCount(d.distinct)} values` : c);
    }),
  );
  el.segment.value = state.segment || '';
  el.segment.disabled = !columns.length;
  el.addFilter.disabled = !dims.length;
  el.addFilter.title = dims.length ? '' : 'No column to filter on in this report';

  // Filter chips: "channel is app_qr, mini_program ×".
  fill(
    el.filterChips,
    state.filters.map((f) => {
      const shown = f.values.map((v) => (v === '' ? '(empty)' : v));
      const text = `${f.column} ${f.exclude ? 'is not' : 'is'} ${shown.length > 3 ? `${shown.slice(0, 3).join(', ')} +${shown.length - 3}` : shown.join(', ')}`;
      return h(
        'li',
        { class: `chip${f.exclude ? ' is-exclude' : ''}`, dataset: { filter: f.column } },
        h('button', { type: 'button', class: 'chip-edit', title: `Edit the filter on ${f.column}`, dataset: { editFilter: f.column }, onclick: () => handlers.editFilter(f.column) }, text),
        h(
          'button',
          { type: 'button', class: 'chip-remove', 'aria-label': `Remove the filter on ${f.column}`, title: 'Remove', dataset: { removeFilter: f.column }, onclick: () => handlers.removeFilter(f.column) },
          '×',
        ),
      );
    }),
  );
  if (!state.filters.length) el.filterChips.append(h('li', { class: 'chip-none muted small' }, 'All rows'));
}

/** The filter editor: a column's values as checkboxes (with their row counts), include or exclude. */
export function renderFilterEditor(el, report, draft) {
  const dims = dimensionsOf(report);
  fill(el.filterColumn, dims.map((d) => h('option', { value: d.column }, `${dimensionTitle(d)}`)));
  if (!dims.some((d) => d.column === draft.column) && draft.column) el.filterColumn.append(h('option', { value: draft.column }, draft.column));
  el.filterColumn.value = draft.column;
  for (const b of el.filterMode.querySelectorAll('button')) b.setAttribute('aria-pressed', String((b.dataset.mode === 'exclude') === draft.exclude));
  const d = dims.find((x) => x.column === draft.column);
  const values = list(d?.values).map((v) => ({ value: String(v.value ?? ''), count: v.count }));
  for (const v of draft.values) if (!values.some((x) => x.value === v)) values.push({ value: v, count: null });
  const needle = draft.search.trim().toLowerCase();
  const rows = values.map((v, i) => {
    const id = `filter-value-${i}`;
    const box = h('input', { type: 'checkbox', id, value: v.value, checked: draft.values.includes(v.value), dataset: { filterValue: v.value } });
    box.addEventListener('change', () => {
      if (box.checked) draft.values.push(v.value);
      else draft.values = draft.values.filter((x) => x !== v.value);
      el.filterApply.disabled = !draft.values.length;
    });
    return h(
      'label',
      { class: 'filter-value', for: id, hidden: !!needle && !v.value.toLowerCase().includes(needle) },
      box,
      h('span', { class: 'filter-value-name' }, v.value === '' ? '(empty)' : v.value),
      h('span', { class: 'filter-value-count' }, v.count === null ? '' : formatCount(v.count)),
    );
  });
  fill(el.filterValues, h('legend', { class: 'visually-hidden' }, `Values of ${draft.column}`), rows.length ? rows : h('p', { class: 'muted small' }, 'No values listed for this column.'));
  el.filterApply.disabled = !draft.values.length;
  el.filterNote.textContent = d
    ? `Rows per value in the whole file${d.distinct > values.length ? ` · the ${formatCount(values.length)} most common of ${formatCount(d.distinct)} values` : ''}`
    : '';
}

// ---- views ----------------------------------------------------------------------------------------------

function renderTabs(el, state, handlers) {
  if (!el.views.children.length) {
    for (const v of VIEWS) {
      const tab = h(
        'button',
        { type: 'button', role: 'tab', id: `view-tab-${v.id}`, class: 'tab', 'aria-controls': 'view-panel', dataset: { view: v.id }, onclick: () => handlers.setView(v.id) },
        v.label,
      );
      el.views.append(tab);
    }
    // Arrow keys move between tabs (and select them), Home and End jump to the ends.
    el.views.addEventListener('keydown', (event) => {
      const tabs = [...el.views.querySelectorAll('[role="tab"]')];
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      let next = null;
      if (event.key === 'ArrowRight') next = (at + 1) % tabs.length;
      else if (event.key === 'ArrowLeft') next = (at - 1 + tabs.length) % tabs.length;
      else if (event.key === 'Home') next = 0;
      else if (event.key === 'End') next = tabs.length - 1;
      if (next === null) return;
      event.preventDefault();
      tabs[next].focus();
      handlers.setView(tabs[next].dataset.view);
    });
  }
  for (const tab of el.views.querySelectorAll('[role="tab"]')) {
    const selected = tab.dataset.view === state.view;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
  }
  const view = viewById(state.view);
  el.viewPanel.setAttribute('aria-labelledby', `view-tab-${view.id}`);
  el.viewPanel.dataset.view = view.id;
  el.viewBlurb.textContent = view.blurb;
}

// ---- time series ------------------------------------------------------------------------------------------

/** Lines of a metric: one per segment value when the report is segmented, else the total. */
function linesOf(report, metric) {
  const segs = list(report.segments?.values);
  if (segs.length) return segs.map((s) => ({ name: s.value === '' ? '(empty)' : String(s.value), values: list(s.series).map((b) => b?.[metric.id] ?? null) }));
  return [{ name: metric.name || metric.id, values: list(report.series).map((b) => b?.[metric.id] ?? null) }];
}

/**
 * What a time series chart shows, in words (its accessible name): the first and last buckets, the
 * latest value and which way it went, e.g. "from 1 Jul 2025 to 30 Sep 2025; latest CNY 1.23M
 * (30 Sep 2025), up from CNY 1.01M".
 */
function trendText(m, buckets, values, grain, currency) {
  const points = buckets.map((b, i) => [b, values[i]]).filter(([, v]) => isNumber(v));
  if (!points.length) return 'no values';
  const [[firstB, firstV], [lastB, lastV]] = [points[0], points[points.length - 1]];
  const way = lastV > firstV ? 'up from' : lastV < firstV ? 'down from' : 'the same as';
  const span = points.length > 1 ? `from ${bucketLabel(firstB, grain)} to ${bucketLabel(lastB, grain)}; ` : '';
  return `${span}latest ${formatValue(lastV, m.unit, currency)} (${bucketLabel(lastB, grain)})${points.length > 1 ? `, ${way} ${formatValue(firstV, m.unit, currency)} at the start` : ''}`;
}

function bucketsOf(report) {
  const segs = list(report.segments?.values);
  const series = segs.length && list(segs[0].series).length ? segs[0].series : list(report.series);
  return series.map((b) => b.bucket);
}

/** "▲ +3.2% vs CNY 5.30M" as text, for headers and facts. */
function changeText(report, m) {
  const d = metricDelta(m);
  if (!d) return '';
  return `${d.arrow} ${d.text} vs ${formatShort(m.previous, m.unit, report.currency)}`;
}

function metricOptions(select, report, view, selected) {
  const metrics = list(report.metrics).filter((m) => inView(m, view));
  const groups = TIERS.map((t) => [t, metrics.filter((m) => m.tier === t.id)]).filter(([, ms]) => ms.length);
  const others = metrics.filter((m) => !TIERS.some((t) => t.id === m.tier));
  fill(
    select,
    groups.map(([t, ms]) => h('optgroup', { label: t.title }, ms.map((m) => h('option', { value: m.id, disabled: !hasValue(m) && !perCurrency(report, m).length }, m.name || m.id)))),
    others.map((m) => h('option', { value: m.id }, m.name || m.id)),
  );
  select.value = selected;
}

/** The metric the time series shows: the one chosen, if this view has it with a value. */
function seriesMetric(report, view, wanted) {
  const metrics = list(report.metrics).filter((m) => inView(m, view));
  // A money metric split by currency is shown (with the reason it has no chart), not skipped.
  const usable = (m) => m && (hasValue(m) || perCurrency(report, m).length > 0);
  const chosen = metrics.find((m) => m.id === wanted);
  if (usable(chosen)) return chosen;
  const primary = metrics.find((m) => m.id === view.primary);
  if (usable(primary)) return primary;
  return metrics.find((m) => m.tier === 'north_star' && usable(m)) || metrics.find(usable) || chosen || metrics[0] || null;
}

function renderSeries(el, report, state, view) {
  const series = list(report.series);
  const grain = report.grain || state.grain;
  const weeks = grain === 'week' ? ` · weeks start on ${capital(report.week_start || state.weekStart || 'monday')}` : '';
  el.seriesCaption.textContent = series.length
    ? `${formatCount(series.length)} ${series.length === 1 ? grain : NOUNS[grain] || 'buckets'} · ${tzLabel(report.tz)}${weeks} · hover the chart to read values`
    : `No time buckets: the file has no readable times · ${tzLabel(report.tz)}`;
  const m = seriesMetric(report, view, state.seriesMetric);
  metricOptions(el.seriesMetric, report, view, m?.id || '');
  if (!m) {
    fill(el.charts, h('p', { class: 'chart-empty' }, 'No metric in this view.'));
    el.segmentWrap.hidden = true;
    return;
  }
  const segs = list(report.segments?.values);
  const segmented = segs.length > 0;
  const delta = metricDelta(m);
  const card = h(
    'article',
    { class: 'chart-card chart-card-main', dataset: { chartCard: m.id } },
    h(
      'header',
      { class: 'chart-head' },
      h('div', {}, h('h3', { class: 'chart-title', title: segmented ? `${m.name || m.id} by ${report.segments.column}` : null }, `${m.name || m.id}${segmented ? ` by ${report.segments.column}` : ''}`), h('p', { class: 'chart-desc muted small' }, m.description || '')),
      h(
        'div',
        { class: 'chart-figures' },
        h('p', { class: 'chart-total' }, metricValueText(report, m)),
        delta ? h('p', { class: `chart-delta is-${delta.tone}` }, changeText(report, m)) : null,
      ),
    ),
  );
  const reason = missingReason(report, m);
  const chartEl = host.box('main', {
    className: 'chart chart-large',
    dataset: { chart: m.id, grain, points: String(series.length), first: series[0]?.bucket ?? '', last: series[series.length - 1]?.bucket ?? '', lines: String(segmented ? segs.length : 1) },
    label: `${m.name || m.id} by ${grain}${segmented ? `, one line per ${report.segments.column}` : `, ${trendText(m, bucketsOf(report), linesOf(report, m)[0].values, grain, report.currency)}`}, ${series.length} points; the Table button below has the numbers`,
  });
  chartEl.dataset.chartName = `${m.name || m.id} by ${grain}${segmented ? `, one line per ${report.segments.column}` : ''}, ${series.length} points`;
  const noted = !hasValue(m) && reason;
  if (noted || !series.length) {
    card.append(h('p', { class: 'chart-empty' }, noted ? reason.text : 'No data'));
    fill(el.charts, card);
  } else {
    card.append(chartEl);
    fill(el.charts, card);
    const args = { metric: m, buckets: bucketsOf(report), lines: linesOf(report, m), grain, currency: report.currency, thresholds: list(m.thresholds) };
    host.render(chartEl, (charts) => charts.seriesOption(args), `${reportId(report)}|${m.id}`);
  }
  renderSegmentTable(el, report);
}

function renderSegmentTable(el, report) {
  const segs = list(report.segments?.values);
  el.segmentWrap.hidden = !segs.length;
  if (!segs.length) {
    el.segmentTable.replaceChildren();
    return;
  }
  const metrics = SEGMENT_METRICS.map((id) => list(report.metrics).find((m) => m.id === id)).filter((m) => m && !list(m.needs).length);
  const gross = report.totals?.tpv_gross ?? report.totals?.tpv;
  el.segmentTitle.textContent = `By ${report.segments.column}: the ${segs.length} values with most rows`;
  const head = [report.segments.column, 'Rows', ...metrics.map((m) => m.name || m.id), 'Share of TPV'];
  const rows = segs.map((s, i) => {
    const share = isNumber(gross) && gross !== 0 && isNumber(s.totals?.tpv_gross ?? s.totals?.tpv) ? (s.totals.tpv_gross ?? s.totals.tpv) / gross : null;
    const name = s.value === '' ? '(empty)' : String(s.value);
    return [
      { node: [h('span', { class: 'swatch', 'aria-hidden': 'true', dataset: { color: colorFor(name, i) } }), name] },
      { text: formatCount(s.rows), value: s.rows ?? null, col: 'rows' },
      ...metrics.map((m) => {
        const v = s.totals?.[m.id];
        return { text: formatValue(v ?? null, m.unit, report.currency), value: isNumber(v) ? v : null, col: m.id };
      }),
      { text: isNumber(share) ? `${(share * 100).toFixed(1)}%` : '—', value: share, col: 'tpv_share' },
    ];
  });
  const table = dataTable({ caption: `Key metrics by ${report.segments.column}`, head, rows, rowData: segs.map((s) => ({ segment: s.value })), className: 'series-table compact-table segment-table' });
  for (const sw of table.querySelectorAll('.swatch')) sw.style.backgroundColor = sw.dataset.color;
  el.segmentTable.replaceWith(table);
  table.id = 'segment-table';
  table.setAttribute('aria-labelledby', 'segment-title');
  el.segmentTable = table;
}

// The numbers behind the charts, as a table: readable by screen readers and by the e2e tests.
function renderSeriesTable(el, report) {
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

// ---- guardrails ---------------------------------------------------------------------------------------------

function renderGuardrails(el, report, state, view, handlers) {
  const guarded = list(report.metrics).filter((m) => inView(m, view) && isGuarded(m));
  const withThresholds = guarded.filter((m) => list(m.thresholds).length);
  const checks = withThresholds.map((m) => {
    const status = thresholdStatus(m);
    const lines = list(m.thresholds).map((t) => `${t.label}: ${formatValue(t.value, m.unit, report.currency)}`);
    return [
      m.name,
      { text: formatValue(m.value, m.unit, report.currency), value: isNumber(m.value) ? m.value : null },
      lines.join('; '),
      {
        text: status ? `${status.ok ? '✓ Below' : '⚠ At or above'} ${status.threshold.label}` : hasValue(m) ? '—' : missingReason(report, m)?.text || '—',
        class: status ? (status.ok ? 'is-ok' : 'is-bad') : 'is-none',
      },
    ];
  });
  fill(
    el.thresholdChecks,
    checks.length
      ? dataTable({
          caption: 'Threshold check',
          captionHidden: false,
          head: ['Metric', 'This period', 'Thresholds', 'Status'],
          rows: checks,
          rowData: withThresholds.map((m) => ({ thresholdMetric: m.id })),
          className: 'series-table compact-table threshold-table',
        })
      : null,
  );
  const series = list(report.series);
  const grain = report.grain || state.grain;
  const drawn = guarded.filter((m) => hasValue(m) && series.length);
  const missing = guarded.filter((m) => !hasValue(m));
  const cards = drawn.map((m) => {
    const chartEl = host.box(`guardrail:${m.id}`, {
      className: 'chart',
      label: `${m.name} by ${grain}, ${trendText(m, series.map((b) => b.bucket), series.map((b) => b?.[m.id] ?? null), grain, report.currency)}${list(m.thresholds).length ? `; thresholds ${list(m.thresholds).map((t) => `${t.label} at ${formatValue(t.value, m.unit, report.currency)}`).join(' and ')}` : ''}`,
      dataset: { guardrailChart: m.id, thresholds: String(list(m.thresholds).length), points: String(series.length) },
    });
    chartEl.dataset.chartName = `${m.name} by ${grain}${list(m.thresholds).length ? `, with thresholds ${list(m.thresholds).map((t) => `${t.label} at ${formatValue(t.value, m.unit, report.currency)}`).join(' and ')}` : ''}`;
    const delta = metricDelta(m);
    const card = h(
      'article',
      { class: 'chart-card chart-card-guardrail', dataset: { guardrailCard: m.id } },
      h(
        'header',
        { class: 'chart-head' },
        h('h3', { class: 'chart-title' }, h('button', { type: 'button', class: 'link-button', dataset: { openGuardrail: m.id }, title: m.description || '', onclick: () => handlers.openMetric(m.id) }, m.name)),
        h('p', { class: 'chart-total' }, formatValue(m.value, m.unit, report.currency), delta ? h('span', { class: `chart-delta is-${delta.tone}` }, ` ${delta.arrow} ${delta.text}`) : null),
      ),
      chartEl,
    );
    return { card, chartEl, m };
  });
  fill(
    el.guardrailCharts,
    cards.map((c) => c.card),
    missing.length
      ? h(
          'p',
          { class: 'guardrails-missing muted small' },
          `Not available for this file: ${missing.map((m) => `${m.name} (${(missingReason(report, m)?.text || 'no data').replace(/^Needs/, 'needs')})`).join(' · ')}`,
        )
      : null,
  );
  for (const c of cards) {
    const args = { metric: c.m, buckets: series.map((b) => b.bucket), lines: linesOf({ ...report, segments: null }, c.m), grain, currency: report.currency, thresholds: list(c.m.thresholds) };
    host.render(c.chartEl, (charts) => charts.seriesOption(args), String(reportId(report)));
  }
}

// ---- everything ---------------------------------------------------------------------------------------------

export function renderDashboard(el, report, state, handlers) {
  renderReportBar(el, report, state, handlers);
  renderTabs(el, state, handlers);
  const view = viewById(state.view);
  const visible = new Set(view.sections);
  for (const section of el.viewPanel.querySelectorAll('[data-section]')) {
    const name = section.dataset.section;
    section.hidden = !visible.has(name) || (name === 'histograms' && view.histograms !== null && !view.histograms.includes(section.dataset.hist));
  }
  const shows = (name) => visible.has(name);
  const sig = String(reportId(report));
  host.begin();
  try {
    renderTiers(el.kpis, report, { view, onOpen: handlers.openMetric });
    if (shows('funding')) renderFunding(el.funding, el.fundingCaption, report, { host, sig });
    if (shows('regulators')) renderRegulators(el.regulators, report, { onOpen: handlers.openMetric, largeAmount: state.largeAmount, onLargeAmount: handlers.setLargeAmount });
    renderSeries(el, report, state, view);
    if (shows('guardrails')) renderGuardrails(el, report, state, view, handlers);
    if (shows('mix')) renderMix(el.mix, report, { view, state, host, sig, onChange: handlers.rerender });
    if (shows('funnel')) renderFunnel(el.funnel, el.funnelCaption, report, { host, sig });
    if (shows('retention')) renderRetention(el.retention, el.retentionCaption, report, { state, host, sig });
    if (shows('declines')) renderDeclines(el.declines, el.declinesCaption, report, { host, sig });
    if (shows('histograms')) {
      for (const id of ['ticket', 'latency']) {
        if (view.histograms === null || view.histograms.includes(id)) renderHistogram($(`#hist-${id}`), $(`#hist-${id}-caption`), report, id, { host, sig });
      }
    }
  } finally {
    host.end();
  }
  renderSeriesTable(el, report);
}

// ---- one metric, in full --------------------------------------------------------------------------------------

export function openMetricDialog(el, report, id, state) {
  const m = list(report?.metrics).find((x) => x.id === id);
  if (!m) return;
  const dialog = el.metricDialog;
  const tier = TIERS.find((t) => t.id === m.tier);
  const stakeholders = list(m.stakeholders).map((s) => STAKEHOLDER_WORDS[s] || s);
  el.metricDialogKicker.textContent = [tier?.title, GOOD_WORDS[m.good], stakeholders.length ? `for ${stakeholders.join(', ')}` : null].filter(Boolean).join(' · ');
  el.metricDialogTitle.textContent = m.name || m.id;
  el.metricDialogDesc.textContent = m.description || '';
  const range = report.range || report.data_range;
  const delta = metricDelta(m);
  const facts = [
    ['This period', metricValueText(report, m), range ? formatRange(range) : null],
    report.previous || isNumber(m.previous) ? ['Previous period', formatValue(m.previous ?? null, m.unit, report.currency), report.previous ? formatRange(report.previous) : null] : null,
    delta ? ['Change', `${delta.arrow} ${delta.text}`, delta.tone === 'good' ? 'better' : delta.tone === 'bad' ? 'worse' : 'neutral'] : null,
    ...list(m.thresholds).map((t) => ['Threshold', formatValue(t.value, m.unit, report.currency), t.label]),
  ].filter(Boolean);
  fill(
    el.metricDialogFacts,
    facts.map(([k, v, note]) =>
      h('div', { class: `fact${k === 'Change' && delta ? ` is-${delta.tone}` : ''}` }, h('dt', {}, k), h('dd', {}, h('span', { class: 'fact-value' }, v), note ? h('span', { class: 'fact-note' }, note) : null)),
    ),
  );
  const series = list(report.series);
  const grain = report.grain || state.grain;
  const reason = missingReason(report, m);
  const lines = linesOf(report, m);
  const buckets = bucketsOf(report);
  el.metricDialogChart.dataset.chart = m.id;
  const single = lines.length === 1 ? `, ${trendText(m, buckets, lines[0].values, grain, report.currency)}` : `, one line per ${report.segments?.column}`;
  el.metricDialogChart.setAttribute('aria-label', `${m.name} by ${grain}${single}, ${series.length} points; the data table has the numbers`);
  el.metricDialogChart.dataset.chartName = `${m.name} by ${grain}, ${series.length} points`;
  const empty = (!hasValue(m) && reason) || !series.length;
  el.metricDialogChart.hidden = !!empty;
  el.metricDialogEmpty.hidden = !empty;
  el.metricDialogEmpty.textContent = empty ? reason?.text || 'No data' : '';
  const table = dataTable({
    caption: `${m.name} by ${grain}`,
    head: [capital(grain), ...lines.map((l) => l.name)],
    rows: buckets.map((b, i) => [
      { text: bucketLabel(b, grain) },
      ...lines.map((l) => ({ text: formatValue(l.values[i] ?? null, m.unit, report.currency), value: l.values[i] ?? null })),
    ]),
    rowData: buckets.map((b) => ({ bucket: b })),
  });
  table.id = 'metric-dialog-table';
  el.metricDialogTable.replaceWith(table);
  el.metricDialogTable = table;
  if (!dialog.open) dialog.showModal();
  dialogHost.begin();
  const args = { metric: m, buckets, lines, grain, currency: report.currency, thresholds: list(m.thresholds) };
  if (!empty) dialogHost.render(el.metricDialogChart, (charts) => charts.seriesOption(args));
  dialogHost.end();
}

export function closeMetricDialog(el) {
  dialogHost.disposeAll();
  if (el.metricDialog.open) el.metricDialog.close();
}

export function disposeDialogCharts() {
  dialogHost.disposeAll();
}
