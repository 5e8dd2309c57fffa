// Every chart of the dashboard, with Apache ECharts tree-shaken to what the page draws: bars and
// lines (time series, mixes, histograms), a funnel and a heatmap, threshold lines (markLine).
// Tooltips are built as DOM nodes (not HTML strings) so they work under a strict
// Content-Security-Policy without 'unsafe-inline' styles and never parse text as markup.
// The functions below turn report values into ECharts options, and `init` makes an instance.
// This module and ECharts are not part of the first load: chart-host.js imports it (a separate
// chunk, ~195 KB gzip) when the first chart comes near the viewport or a card's detail is opened;
// docs/size.md has the figures.
import * as echarts from 'echarts/core';
import { BarChart, FunnelChart, HeatmapChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendPlainComponent, MarkLineComponent, TooltipComponent, VisualMapPiecewiseComponent } from 'echarts/components';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import { bucketAxis, bucketLabel, formatAxis, formatCount, formatPercent, formatShort, formatValue, isNumber } from './format.js';
import { dataTable } from './dom.js';
import { colorFor } from './palette.js';

echarts.use([
  LineChart,
  BarChart,
  FunnelChart,
  HeatmapChart,
  GridComponent,
  TooltipComponent,
  LegendPlainComponent,
  MarkLineComponent,
  VisualMapPiecewiseComponent,
  CanvasRenderer,
  // Only for exports (toSvg): the page draws on canvas.
  SVGRenderer,
]);

const FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif';
const AXIS = '#8792a2';
const GRID_LINE = '#f0f2f5';
const PRIMARY = '#635bff';
const THRESHOLD = '#b45309';

// Per metric: chart type and colour of its time series. Volumes are bars, rates are lines.
const STYLE = {
  tpv: { type: 'bar', color: '#635bff' },
  tpv_gross: { type: 'bar', color: '#7c74ff' },
  txn_count: { type: 'bar', color: '#0a9396' },
  success_rate: { type: 'line', color: '#16a34a' },
  active_payers: { type: 'line', color: '#f59e0b' },
  avg_ticket: { type: 'line', color: '#0ea5e9' },
  refund_rate: { type: 'line', color: '#e11d48' },
};

function styleFor(metric) {
  if (STYLE[metric.id]) return STYLE[metric.id];
  const bar = metric.unit === 'currency' || (metric.unit === 'count' && !/per_|dau|wau|mau/.test(metric.id));
  const color = metric.tier === 'guardrail' ? '#e11d48' : metric.tier === 'supporting' ? '#0891b2' : metric.tier === 'north_star' ? '#635bff' : '#0a9396';
  return { type: bar ? 'bar' : 'line', color };
}

// ---- tooltips -------------------------------------------------------------------------------------

/** A tooltip as DOM nodes: a head line and rows of [colour, name, value]. */
function tipNode(head, rows, foot) {
  const box = document.createElement('div');
  box.className = 'chart-tip';
  if (head) {
    const el = document.createElement('div');
    el.className = 'chart-tip-head';
    el.textContent = head;
    box.append(el);
  }
  for (const [color, name, value] of rows) {
    const row = document.createElement('div');
    row.className = 'chart-tip-row';
    const dot = document.createElement('span');
    dot.className = 'chart-tip-dot';
    if (color) dot.style.backgroundColor = color;
    else dot.style.visibility = 'hidden';
    const label = document.createElement('span');
    label.textContent = name;
    const b = document.createElement('b');
    b.textContent = value;
    row.append(dot, label, b);
    box.append(row);
  }
  if (foot) {
    const el = document.createElement('div');
    el.className = 'chart-tip-foot';
    el.textContent = foot;
    box.append(el);
  }
  return box;
}

const TOOLTIP = {
  backgroundColor: '#ffffff',
  borderColor: '#e3e8ee',
  borderWidth: 1,
  padding: [8, 10],
  textStyle: { color: '#1a1f36', fontFamily: FONT, fontSize: 12 },
  extraCssText: 'box-shadow: 0 6px 18px rgba(26,31,54,0.12); border-radius: 8px;',
  confine: true,
};

// No chart animation for people who asked their system for less motion.
const STILL = typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches;
const BASE = { animation: !STILL, animationDuration: 300, textStyle: { fontFamily: FONT } };

// ECharts 6: 'same' keeps the axis labels inside this rectangle (the old containLabel).
const grid = (extra = {}) => ({ left: 8, right: 12, top: 14, bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel', ...extra });

function categoryAxis(data, formatter, extra = {}) {
  return {
    type: 'category',
    data,
    axisLine: { lineStyle: { color: '#e3e8ee' } },
    axisTick: { show: false },
    axisLabel: { color: AXIS, fontSize: 11, hideOverlap: true, formatter },
    ...extra,
  };
}

function valueAxis(unit, extra = {}) {
  return {
    type: 'value',
    splitNumber: 3,
    minInterval: unit === 'count' ? 1 : undefined,
    splitLine: { lineStyle: { color: GRID_LINE } },
    axisLabel: { color: AXIS, fontSize: 11, formatter: (v) => formatAxis(v, unit === 'currency' ? 'number' : unit) },
    ...extra,
  };
}

/** The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k at or above x: a round axis top. */
function niceCeil(x) {
  if (!(x > 0)) return undefined;
  const p = 10 ** Math.floor(Math.log10(x));
  const step = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((f) => f * p >= x - 1e-9 * p);
  return Number((step * p).toPrecision(6));
}

// ---- time series ----------------------------------------------------------------------------------

/**
 * A metric over time: one series, or one line per segment value.
 *   metric     an entry of report.metrics (unit, name, thresholds)
 *   buckets    bucket labels, oldest first
 *   lines      [{ name, values, color? }] (values aligned with buckets; null for no value)
 *   thresholds reference lines [{ value, label }], drawn dashed with their label
 */
export function seriesOption({ metric, buckets, lines, grain, currency, thresholds = [] }) {
  const single = lines.length === 1;
  const { type: preferred, color } = styleFor(metric);
  const type = single ? preferred : 'line';
  const many = buckets.length > 60;
  const all = lines.flatMap((l) => l.values).filter(isNumber);
  // A rate that does not move (no refunds, every payer verified) is drawn against 0–100%.
  const flat = metric.unit === 'ratio' && all.length > 0 && all.every((v) => v === all[0]) && all[0] >= 0 && all[0] <= 1;
  const limits = thresholds.filter((t) => isNumber(t?.value));
  const top = Math.max(0, ...all, ...limits.map((t) => t.value));
  const series = lines.map((line, i) => {
    const c = line.color || (single ? color : colorFor(line.name, i));
    return {
      name: line.name,
      type,
      data: line.values.map((v) => (isNumber(v) ? v : null)),
      color: c,
      barMaxWidth: 18,
      barCategoryGap: many ? '20%' : '35%',
      itemStyle: type === 'bar' ? { borderRadius: [3, 3, 0, 0] } : undefined,
      showSymbol: !many && buckets.length > 1 ? true : buckets.length === 1,
      symbolSize: 5,
      connectNulls: false,
      lineStyle: { width: single ? 2 : 1.6 },
      emphasis: { focus: single ? 'none' : 'series' },
      areaStyle:
        type === 'line' && single
          ? {
              color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
                { offset: 0, color: `${c}33` },
                { offset: 1, color: `${c}00` },
              ]),
            }
          : undefined,
      markLine:
        i === 0 && limits.length
          ? {
              silent: true,
              symbol: 'none',
              lineStyle: { type: 'dashed', color: THRESHOLD, width: 1.2 },
              label: { position: 'insideEndTop', color: THRESHOLD, fontSize: 11, formatter: (p) => p.name },
              data: limits.map((t) => ({ yAxis: t.value, name: `${t.label || formatValue(t.value, metric.unit, currency)}` })),
            }
          : undefined,
    };
  });
  const fmt = (v) => formatValue(v, metric.unit, currency);
  return described({
    ...BASE,
    grid: grid({ top: single ? 14 : 36 }),
    legend: single ? undefined : { top: 0, left: 0, type: 'plain', icon: 'roundRect', itemWidth: 10, itemHeight: 10, textStyle: { color: '#3c4257', fontSize: 11.5 } },
    tooltip: {
      ...TOOLTIP,
      trigger: 'axis',
      axisPointer: { type: type === 'bar' ? 'shadow' : 'line', lineStyle: { color: '#a3acb9' } },
      formatter: (params) => {
        const ps = Array.isArray(params) ? params : [params];
        if (!ps.length) return '';
        const rows = ps.map((p) => [p.color, single ? metric.name : p.seriesName, formatValue(p.value ?? null, metric.unit, currency)]);
        return tipNode(bucketLabel(ps[0].axisValue ?? ps[0].name, grain), rows);
      },
    },
    xAxis: categoryAxis(buckets, (v) => bucketAxis(v, grain), { boundaryGap: type === 'bar' }),
    yAxis: valueAxis(metric.unit, {
      scale: !flat && !limits.length && (metric.unit === 'ratio' || metric.id === 'avg_ticket' || metric.id === 'median_ticket'),
      // Thresholds are always in view, however far the values are from them.
      min: flat ? 0 : undefined,
      max: flat && !limits.length ? 1 : limits.length ? niceCeil(top * 1.08) : undefined,
      interval: flat && !limits.length ? 0.25 : undefined,
    }),
    series,
  }, { corner: grain ? capital(grain) : 'Bucket', row: (b) => bucketLabel(b, grain), cell: fmt });
}

// ---- mixes ----------------------------------------------------------------------------------------

/**
 * The mix of a dimension over time: 100% stacked bars of each value's share of the bucket's
 * successful transactions (`counts`) or volume (`volumes`), the numbers themselves in the tooltip.
 */
export function mixOption({ breakdown, mode, grain, currency }) {
  const values = breakdown.values || [];
  const points = breakdown.series || [];
  const key = mode === 'volumes' ? 'volumes' : 'counts';
  const totals = points.map((p) => (p[key] || []).reduce((s, x) => s + (isNumber(x) ? x : 0), 0));
  const label = (v) => (v === '' ? '(empty)' : v);
  const fmt = (v) => (key === 'volumes' ? formatShort(v, 'currency', currency) : formatCount(v));
  return described({
    ...BASE,
    grid: grid({ top: 8 }),
    tooltip: {
      ...TOOLTIP,
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      formatter: (params) => {
        const ps = (Array.isArray(params) ? params : [params]).filter((p) => isNumber(p.value) && p.value > 0);
        if (!ps.length) return '';
        const i = ps[0].dataIndex;
        const rows = ps.reverse().map((p) => [p.color, p.seriesName, `${formatPercent(p.value)} · ${fmt(points[i]?.[key]?.[p.seriesIndex] ?? 0)}`]);
        return tipNode(bucketLabel(ps[0].axisValue ?? ps[0].name, grain), rows, `Total ${fmt(totals[i])}`);
      },
    },
    xAxis: categoryAxis(points.map((p) => p.bucket), (v) => bucketAxis(v, grain)),
    yAxis: valueAxis('ratio', { max: 1, interval: 0.25 }),
    series: values.map((v, i) => ({
      name: label(v.value),
      type: 'bar',
      stack: 'mix',
      barCategoryGap: points.length > 60 ? '10%' : '25%',
      color: colorFor(label(v.value), i),
      emphasis: { focus: 'series' },
      data: points.map((p, b) => (totals[b] > 0 ? (p[key]?.[i] ?? 0) / totals[b] : null)),
    })),
  }, { corner: grain ? capital(grain) : 'Bucket', row: (b) => bucketLabel(b, grain), cell: (v) => formatPercent(v) });
}

/**
 * Each value of a dimension on one row, largest volume on top: its success rate as a dot (on an
 * axis that zooms on the rates, so small gaps show) and its successful volume as a bar from 0.
 */
export function byValueOption({ breakdown, currency }) {
  const values = [...(breakdown.values || [])].reverse();
  const names = values.map((v) => (v.value === '' ? '(empty)' : String(v.value)));
  const rates = values.map((v) => (isNumber(v.success_rate) ? v.success_rate : null));
  const known = rates.filter(isNumber);
  const lo = known.length ? Math.max(0, Math.floor((Math.min(...known) - 0.01) * 50) / 50) : 0;
  const hi = known.length ? Math.min(1, Math.ceil((Math.max(...known) + 0.005) * 50) / 50) : 1;
  const tip = (i) => {
    const v = values[i];
    if (!v) return '';
    return tipNode(names[i], [
      ['#16a34a', 'Success rate', formatPercent(v.success_rate, 2)],
      [PRIMARY, 'Volume', formatValue(v.volume, 'currency', currency)],
      [null, 'Attempts', formatCount(v.attempts)],
      [null, 'Share of TPV', formatPercent(v.volume_share)],
    ]);
  };
  const bounds = { outerBoundsMode: 'same', outerBoundsContain: 'axisLabel', top: 6, bottom: 4 };
  return described({
    ...BASE,
    grid: [
      { ...bounds, left: 8, right: '52%' },
      { ...bounds, left: '52%', right: 78 },
    ],
    tooltip: { ...TOOLTIP, trigger: 'item', formatter: (p) => tip(p.dataIndex) },
    xAxis: [
      valueAxis('ratio', { gridIndex: 0, min: lo, max: hi, splitNumber: 4, axisLabel: { color: AXIS, fontSize: 11, formatter: (v) => formatAxis(v, 'ratio') } }),
      valueAxis('currency', { gridIndex: 1, splitNumber: 3 }),
    ],
    yAxis: [
      categoryAxis(names, (v) => v, { gridIndex: 0, axisLabel: { color: '#3c4257', fontSize: 12, width: 110, overflow: 'truncate' } }),
      categoryAxis(names, (v) => v, { gridIndex: 1, axisLabel: { show: false } }),
    ],
    series: [
      {
        name: 'Success rate',
        type: 'line',
        xAxisIndex: 0,
        yAxisIndex: 0,
        color: '#16a34a',
        symbol: 'circle',
        symbolSize: 11,
        lineStyle: { width: 0 },
        label: { show: true, position: 'right', fontSize: 11.5, fontWeight: 600, color: '#0b7a55', formatter: (p) => formatPercent(p.value, 2) },
        data: rates,
      },
      {
        name: 'Volume',
        type: 'bar',
        xAxisIndex: 1,
        yAxisIndex: 1,
        color: PRIMARY,
        barMaxWidth: 18,
        itemStyle: { borderRadius: [0, 3, 3, 0] },
        label: { show: true, position: 'right', fontSize: 11.5, color: '#3c4257', formatter: (p) => formatShort(p.value, 'currency', null) },
        data: values.map((v) => v.volume ?? null),
      },
    ],
  }, { corner: 'Funding source', reverse: true, cell: (v, i) => (i === 0 ? formatPercent(v, 2) : formatValue(v, 'currency', currency)) });
}

/** Horizontal bars, largest on top: decline reasons, or any [{ name, value, share }]. */
export function rankedBarsOption({ items, unit = 'count', color = '#e11d48', noun = 'failures' }) {
  const rows = [...items].reverse();
  return described({
    ...BASE,
    grid: grid({ top: 4, right: 64 }),
    tooltip: {
      ...TOOLTIP,
      trigger: 'item',
      formatter: (p) => {
        const it = rows[p.dataIndex];
        return tipNode(it.name, [[color, noun.charAt(0).toUpperCase() + noun.slice(1), formatValue(it.value, unit)], [null, 'Share', formatPercent(it.share)]]);
      },
    },
    xAxis: valueAxis(unit, { splitNumber: 3 }),
    yAxis: categoryAxis(rows.map((r) => r.name), (v) => v, { axisLabel: { color: '#3c4257', fontSize: 11.5, width: 140, overflow: 'truncate' } }),
    series: [
      {
        type: 'bar',
        color,
        barMaxWidth: 18,
        itemStyle: { borderRadius: [0, 3, 3, 0] },
        label: { show: true, position: 'right', fontSize: 11, color: '#3c4257', formatter: (p) => formatPercent(rows[p.dataIndex].share) },
        name: capital(noun),
        data: rows.map((r) => r.value),
      },
    ],
  }, { corner: 'Reason', reverse: true, cell: (v) => formatValue(v, unit) });
}

// ---- funnel -----------------------------------------------------------------------------------------

/** The funnel's steps, widest first, each labelled with its users and conversions. */
export function funnelOption({ steps }) {
  const top = Math.max(1, ...steps.map((s) => (isNumber(s.users) ? s.users : 0)));
  const colors = ['#635bff', '#7c74ff', '#958eff', '#aea9ff', '#c7c3ff', '#dedbff'];
  return described({
    ...BASE,
    tooltip: {
      ...TOOLTIP,
      trigger: 'item',
      formatter: (p) => {
        const s = steps[p.dataIndex];
        if (!s) return '';
        return tipNode(s.name, [
          [p.color, 'Users', formatCount(s.users)],
          [null, 'From the step before', formatPercent(s.step_conversion)],
          [null, 'From the first step', formatPercent(s.overall_conversion)],
        ]);
      },
    },
    series: [
      {
        type: 'funnel',
        sort: 'none',
        min: 0,
        max: top,
        minSize: '6%',
        left: '4%',
        right: '44%',
        top: 8,
        bottom: 8,
        gap: 3,
        funnelAlign: 'center',
        itemStyle: { borderColor: '#fff', borderWidth: 1 },
        label: {
          show: true,
          position: 'right',
          color: '#3c4257',
          fontSize: 12,
          lineHeight: 17,
          formatter: (p) => {
            const s = steps[p.dataIndex];
            if (!s) return '';
            const head = `{b|${s.name.replace(/[{}|]/g, '')}} {n|${formatCount(s.users)}}`;
            return p.dataIndex === 0 ? `${head}\n{m|the starting cohort (100%)}` : `${head}\n{m|${formatPercent(s.step_conversion)} of previous · ${formatPercent(s.overall_conversion)} overall}`;
          },
          rich: {
            b: { fontWeight: 600, color: '#1a1f36', fontSize: 12 },
            n: { fontWeight: 700, color: '#4b45d6', fontSize: 12 },
            m: { color: '#697386', fontSize: 11.5 },
          },
        },
        labelLine: { show: true, length: 12, lineStyle: { color: '#cfd7df' } },
        emphasis: { label: { fontSize: 12 } },
        data: steps.map((s, i) => ({
          name: s.name,
          value: isNumber(s.users) ? s.users : 0,
          itemStyle: { color: colors[i % colors.length] },
        })),
      },
    ],
  }, {
    corner: 'Step',
    head: ['Users', 'From the step before', 'From the first step'],
    rows: steps.map((s) => [s.name, [s.users, formatCount(s.users)], [s.step_conversion, formatPercent(s.step_conversion)], [s.overall_conversion, formatPercent(s.overall_conversion)]]),
  });
}

// ---- retention heatmap --------------------------------------------------------------------------------

/**
 * Cohorts (rows, newest at the bottom) by periods since the cohort started (columns); each cell
 * the share of the cohort active, labelled in %. Cells not elapsed yet are left blank. The first
 * row is the size-weighted average.
 *   rows: [{ label, size, values: [share|null] }]
 */
const HEAT = ['#f5f4ff', '#ebe9ff', '#dcd9ff', '#cbc7ff', '#b7b2ff', '#a19bff', '#8a83f7', '#736be8', '#5c54d6', '#463fc2'];

export function heatmapOption({ rows, periods, periodNoun }) {
  const ylabels = rows.map((r) => r.label);
  const data = [];
  rows.forEach((r, y) => {
    r.values.forEach((v, x) => {
      if (isNumber(v)) data.push([x, y, v]);
    });
  });
  const small = periods > 16;
  return described({
    ...BASE,
    animation: false,
    grid: grid({ top: 26, right: 8, bottom: 26 }),
    tooltip: {
      ...TOOLTIP,
      trigger: 'item',
      formatter: (p) => {
        const [x, y, v] = p.value;
        const r = rows[y];
        return tipNode(r.label, [
          [p.color, `${periodNoun} ${x}`, formatPercent(v)],
          [null, r.average ? 'Payers (all cohorts)' : 'Cohort size', formatCount(r.size)],
        ]);
      },
    },
    xAxis: {
      type: 'category',
      position: 'top',
      data: Array.from({ length: periods }, (_, i) => String(i)),
      name: `${periodNoun}s since the cohort started`,
      nameLocation: 'middle',
      nameGap: 20,
      nameTextStyle: { color: AXIS, fontSize: 11 },
      axisLine: { show: false },
      axisTick: { show: false },
      axisLabel: { color: AXIS, fontSize: 11 },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      inverse: true,
      data: ylabels,
      axisLine: { show: false },
      axisTick: { show: false },
      axisLabel: {
        color: '#3c4257',
        fontSize: 11,
        formatter: (v, i) => (rows[i]?.average ? `{b|${v}}` : v),
        rich: { b: { fontWeight: 700, color: '#1a1f36', fontSize: 11 } },
      },
    },
    // Ten bands of 10 points: a cell reads as "about 40%" at a glance, its label gives the number.
    visualMap: {
      type: 'piecewise',
      show: false,
      dimension: 2,
      pieces: HEAT.map((color, i) => ({ gte: i / HEAT.length, lt: i === HEAT.length - 1 ? 1.0001 : (i + 1) / HEAT.length, color })),
    },
    series: [
      {
        type: 'heatmap',
        itemStyle: { borderColor: '#fff', borderWidth: 2, borderRadius: 3 },
        label: {
          show: true,
          fontSize: small ? 9 : 10.5,
          formatter: (p) => `${Math.round(p.value[2] * 100)}%`,
          // Dark cells get white text.
          color: '#1a1f36',
        },
        data: data.map(([x, y, v]) => ({ value: [x, y, v], label: v >= 0.6 ? { color: '#ffffff' } : undefined })),
        emphasis: { itemStyle: { borderColor: '#1a1f36', borderWidth: 1 } },
      },
    ],
  }, {
    corner: 'Cohort',
    head: ['Size', ...Array.from({ length: periods }, (_, i) => `${periodNoun} ${i}`)],
    rows: rows.map((r) => [r.label, [r.size, formatCount(r.size)], ...Array.from({ length: periods }, (_, i) => [r.values[i] ?? null, isNumber(r.values[i]) ? formatPercent(r.values[i]) : ''])]),
  });
}

// ---- histograms -------------------------------------------------------------------------------------

/** Bins [edges[i], edges[i+1]) as bars; the last bin includes its top edge. */
export function histogramOption({ hist, currency }) {
  const edges = hist.edges || [];
  const counts = hist.counts || [];
  const unit = hist.unit === 'currency' ? 'number' : hist.unit;
  const total = counts.reduce((s, c) => s + (isNumber(c) ? c : 0), 0);
  const edge = (v) => formatAxis(v, unit);
  const names = counts.map((_, i) => `${edge(edges[i])}–${edge(edges[i + 1])}`);
  const full = (v) => formatValue(v, hist.unit, hist.unit === 'currency' ? currency : null);
  return described({
    ...BASE,
    grid: grid({ top: 10 }),
    tooltip: {
      ...TOOLTIP,
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      formatter: (params) => {
        const p = Array.isArray(params) ? params[0] : params;
        const i = p.dataIndex;
        const last = i === counts.length - 1;
        return tipNode(`${full(edges[i])} to ${last ? '' : 'under '}${full(edges[i + 1])}`, [
          [p.color, hist.id === 'latency' ? 'Attempts' : 'Transactions', formatCount(counts[i])],
          [null, 'Share', formatPercent(total ? counts[i] / total : null)],
        ]);
      },
    },
    xAxis: categoryAxis(names, (v) => v, { axisLabel: { color: AXIS, fontSize: 10.5, hideOverlap: true } }),
    yAxis: valueAxis('count'),
    series: [
      {
        type: 'bar',
        color: hist.id === 'latency' ? '#0891b2' : PRIMARY,
        barCategoryGap: '8%',
        itemStyle: { borderRadius: [2, 2, 0, 0] },
        name: hist.id === 'latency' ? 'Attempts' : 'Transactions',
        data: counts,
      },
    ],
  }, {
    corner: hist.id === 'latency' ? 'Latency' : 'Ticket size',
    row: (_, i) => `${full(edges[i])} to ${i === counts.length - 1 ? '' : 'under '}${full(edges[i + 1])}`,
    cell: (v) => formatCount(v),
  });
}

// ---- the numbers as a table ------------------------------------------------------------------------------

// How each option's data reads as a table (its Table toggle, chart-host.js): the corner header,
// the rows' labels, each cell's formatted text; or the rows themselves (funnel, heatmap).
const TABLES = new WeakMap();
function described(option, spec) {
  TABLES.set(option, spec);
  return option;
}

const capital = (s) => String(s).charAt(0).toUpperCase() + String(s).slice(1);

/** The values of a series' data point (a number, null, or { value }). */
const pointValue = (d) => (d !== null && typeof d === 'object' && !Array.isArray(d) ? (d.value ?? null) : (d ?? null));

/**
 * The numbers `option` draws as a <table> (caption, column and row headers with scope, formatted
 * numbers, the raw number in data-value), built with textContent only (dom.js).
 */
export function chartTable(option, caption) {
  const spec = TABLES.get(option) || {};
  let head;
  let rows;
  if (spec.rows) {
    head = spec.head;
    rows = spec.rows.map(([name, ...cells]) => [name, ...cells.map(([value, text]) => ({ text, value: isNumber(value) ? value : null }))]);
  } else {
    const axes = [option.xAxis, option.yAxis].flat().filter(Boolean);
    const labels = axes.find((a) => a.type === 'category')?.data || [];
    const series = (option.series || []).filter((s) => Array.isArray(s.data));
    head = series.map((s) => s.name || 'Value');
    rows = labels.map((label, i) => [
      { text: spec.row ? spec.row(label, i) : String(label), header: true },
      ...series.map((s, j) => {
        const v = pointValue(s.data[i]);
        return { text: spec.cell ? spec.cell(isNumber(v) ? v : null, j) : String(v ?? '—'), value: isNumber(v) ? v : null, col: String(j) };
      }),
    ]);
    if (spec.reverse) rows.reverse();
  }
  return dataTable({ caption, captionHidden: false, head: [spec.corner || '', ...head], rows, className: 'series-table compact-table chart-data-table' });
}

// ---- instances ------------------------------------------------------------------------------------------

/** A canvas ECharts instance in `el` (ChartHost owns the instances). */
export const init = (el) => echarts.init(el, null, { renderer: 'canvas' });

/**
 * `option` drawn by the SVG renderer into a detached container of `width` × `height`, as an SVG
 * document (a chart's SVG download and the one-file HTML report). No animation: the first frame
 * is the final one.
 */
export function toSvg(option, width, height) {
  // Server-side mode: the SVG is built as a string, without DOM nodes (whose style attributes the
  // page's Content-Security-Policy refuses). Tooltips are for the screen only.
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ ...option, animation: false, tooltip: { show: false } }, { notMerge: true });
    // ECharts writes the font into style attributes without escaping its quotes: single quotes
    // keep the attribute well formed.
    return sanitizeSvg(chart.renderToSVGString().split(FONT).join(FONT.replace(/"/g, "'")));
  } finally {
    chart.dispose();
  }
}

// What a chart exported as SVG may contain: what ECharts draws with. The SVG string is checked
// token by token (no DOM parser: the page's CSP would report its inline styles) and anything
// else (script, foreignObject, event handlers, links out, a stray '<') rejects it. ECharts
// escapes text (series and axis names from the data); this makes sure nothing else slipped in.
const SVG_TAGS = new Set(['svg', 'g', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan', 'defs', 'clipPath', 'linearGradient', 'radialGradient', 'stop', 'pattern', 'style', 'title', 'desc', 'image', 'use']);
const TAG = /^<(\/?)([A-Za-z]+)((?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*="[^"<>]*")*)\s*(\/?)>/;
const ATTR = /\s+([A-Za-z_:][-A-Za-z0-9_:.]*)="([^"<>]*)"/g;

/** The SVG string if it holds only drawing elements and safe attributes, else null. */
export function sanitizeSvg(text) {
  if (typeof text !== 'string' || !text.startsWith('<svg')) return null;
  let rest = text;
  while (rest.length) {
    if (rest[0] !== '<') {
      const end = rest.indexOf('<');
      const chunk = end < 0 ? rest : rest.slice(0, end);
      if (chunk.includes('>')) return null;
      rest = end < 0 ? '' : rest.slice(end);
      continue;
    }
    const m = TAG.exec(rest);
    if (!m || !SVG_TAGS.has(m[2])) return null;
    for (const [, name, value] of m[3].matchAll(ATTR)) {
      const n = name.toLowerCase();
      const v = value.trim().toLowerCase();
      if (n.startsWith('on')) return null;
      if ((n === 'href' || n === 'xlink:href' || n === 'src') && !v.startsWith('#') && !v.startsWith('data:image/png')) return null;
      if (/javascript:|url\(\s*['"]?(?!#)|expression\(|@import/.test(v)) return null;
    }
    rest = rest.slice(m[0].length);
    if (m[2] === 'style' && !m[1] && !m[4]) {
      // ECharts' CSS (hover rules), in CDATA: plain rules only, nothing fetched.
      const end = rest.indexOf('</style>');
      if (end < 0) return null;
      const css = rest.slice(0, end).replace(/^\s*<!\[CDATA\[/, '').replace(/\]\]>\s*$/, '');
      if (/[<>]|@import|url\(|expression\(|javascript:/i.test(css)) return null;
      rest = rest.slice(end);
    }
  }
  return text;
}
