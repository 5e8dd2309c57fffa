// Small-multiple time-series charts, one per metric, with Apache ECharts tree-shaken to what the
// page uses. Tooltips are built as DOM nodes (not HTML strings) so they work under a strict
// Content-Security-Policy without 'unsafe-inline' styles and never parse text as markup.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { DataZoomInsideComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { formatAxis, formatValue } from './format.js';

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, DataZoomInsideComponent, CanvasRenderer]);

const FONT = '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "Liberation Sans", Arial, sans-serif';
const GROUP = 'paymetrics-series';

// Per metric: chart type and colour. Volumes are bars, rates are lines.
const STYLE = {
  tpv: { type: 'bar', color: '#635bff' },
  txn_count: { type: 'bar', color: '#0a9396' },
  success_rate: { type: 'line', color: '#16a34a' },
  active_payers: { type: 'line', color: '#f59e0b' },
  avg_ticket: { type: 'line', color: '#0ea5e9' },
  refund_rate: { type: 'line', color: '#e11d48' },
};
const FALLBACK_COLORS = ['#7c3aed', '#0891b2', '#ca8a04', '#db2777'];

function styleFor(metric, index) {
  if (STYLE[metric.id]) return STYLE[metric.id];
  return {
    type: metric.unit === 'ratio' ? 'line' : 'bar',
    color: FALLBACK_COLORS[index % FALLBACK_COLORS.length],
  };
}

function tooltipNode(params, metric, currency) {
  const p = Array.isArray(params) ? params[0] : params;
  if (!p) return '';
  const box = document.createElement('div');
  box.className = 'chart-tip';
  const head = document.createElement('div');
  head.className = 'chart-tip-head';
  head.textContent = p.axisValueLabel ?? p.name;
  const row = document.createElement('div');
  row.className = 'chart-tip-row';
  const dot = document.createElement('span');
  dot.className = 'chart-tip-dot';
  dot.style.backgroundColor = p.color;
  const name = document.createElement('span');
  name.textContent = metric.name;
  const value = document.createElement('b');
  value.textContent = formatValue(p.value ?? null, metric.unit, currency);
  row.append(dot, name, value);
  box.append(head, row);
  return box;
}

/** Keeps one ECharts instance per container; `render` updates in place. */
export class ChartGrid {
  constructor() {
    this.charts = new Map();
    this.resizeObserver = new ResizeObserver((entries) => {
      for (const entry of entries) this.charts.get(entry.target)?.resize();
    });
  }

  /**
   * @param {HTMLElement} el      chart container
   * @param {object} metric       an entry of report.metrics
   * @param {object[]} series     report.series
   * @param {string|null} currency
   * @param {string} grain
   */
  render(el, metric, series, currency, grain, index) {
    let chart = this.charts.get(el);
    if (!chart) {
      chart = echarts.init(el, null, { renderer: 'canvas' });
      chart.group = GROUP;
      this.charts.set(el, chart);
      this.resizeObserver.observe(el);
      echarts.connect(GROUP);
    }
    const { type, color } = styleFor(metric, index);
    const buckets = series.map((b) => b.bucket);
    const values = series.map((b) => (b[metric.id] === undefined ? null : b[metric.id]));
    const many = buckets.length > 60;
    const flat = metric.unit === 'ratio' && values.every((v) => !v);
    chart.setOption(
      {
        animationDuration: 300,
        textStyle: { fontFamily: FONT },
        // ECharts 6: 'same' keeps the axis labels inside this rectangle (the old containLabel).
        grid: { left: 8, right: 12, top: 12, bottom: 4, outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' },
        tooltip: {
          trigger: 'axis',
          axisPointer: { type: type === 'bar' ? 'shadow' : 'line', lineStyle: { color: '#a3acb9' } },
          backgroundColor: '#ffffff',
          borderColor: '#e3e8ee',
          borderWidth: 1,
          padding: [8, 10],
          textStyle: { color: '#1a1f36', fontFamily: FONT, fontSize: 12 },
          extraCssText: 'box-shadow: 0 6px 18px rgba(26,31,54,0.12); border-radius: 8px;',
          formatter: (params) => tooltipNode(params, metric, currency),
        },
        dataZoom: [{ type: 'inside', zoomOnMouseWheel: 'shift', moveOnMouseWheel: false, moveOnMouseMove: true }],
        xAxis: {
          type: 'category',
          data: buckets,
          boundaryGap: type === 'bar',
          axisLine: { lineStyle: { color: '#e3e8ee' } },
          axisTick: { show: false },
          axisLabel: {
            color: '#8792a2',
            fontSize: 11,
            hideOverlap: true,
            formatter: (v) => (grain === 'month' ? v : v.slice(5)),
          },
        },
        yAxis: {
          type: 'value',
          scale: metric.unit === 'ratio' || metric.id === 'avg_ticket',
          // A rate that is 0 throughout (no refunds) is drawn against 0–100%, not 0–120%.
          max: flat ? 1 : undefined,
          interval: flat ? 0.25 : undefined,
          splitNumber: 3,
          // Counts are whole: no 0.5 ticks (shown rounded, they read "0 1 1 2") on small files.
          minInterval: metric.unit === 'count' ? 1 : undefined,
          splitLine: { lineStyle: { color: '#f0f2f5' } },
          axisLabel: { color: '#8792a2', fontSize: 11, formatter: (v) => formatAxis(v, metric.unit) },
        },
        series: [
          {
            name: metric.name,
            type,
            data: values,
            color,
            barMaxWidth: 18,
            barCategoryGap: many ? '20%' : '35%',
            itemStyle: type === 'bar' ? { borderRadius: [3, 3, 0, 0] } : undefined,
            showSymbol: !many,
            symbolSize: 5,
            smooth: false,
            connectNulls: false,
            lineStyle: { width: 2 },
            areaStyle:
              type === 'line'
                ? {
                    color: new echarts.graphic.LinearGradient(0, 0, 0, 1, [
                      { offset: 0, color: `${color}33` },
                      { offset: 1, color: `${color}00` },
                    ]),
                  }
                : undefined,
          },
        ],
      },
      { notMerge: true },
    );
  }

  /** Dispose charts whose container is gone. */
  prune(keep) {
    for (const [el, chart] of this.charts) {
      if (!keep.has(el)) {
        this.resizeObserver.unobserve(el);
        chart.dispose();
        this.charts.delete(el);
      }
    }
  }
}
