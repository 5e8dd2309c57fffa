// The KPI cards, grouped by tier of the metrics hierarchy: name, value in its unit, the previous
// period's value and the change (coloured by the metric's good direction, with an arrow and a sign
// so colour is never the only cue), a sparkline, and the definition on hover and keyboard focus.
// Clicking a card opens its full time series. Text only through textContent (dom.js).
import { fill, h } from './dom.js';
import { formatShort, formatValue, isNumber, metricDelta } from './format.js';
import { GOOD_WORDS, STAKEHOLDER_WORDS, TIERS, hasValue, inView } from './views.js';

const SVG = 'http://www.w3.org/2000/svg';
const list = (v) => (Array.isArray(v) ? v : []);
export const capital = (text) => String(text).charAt(0).toUpperCase() + String(text).slice(1);

/** A money metric that has no total because currencies are mixed: [[currency, value]] per currency. */
export function perCurrency(report, m) {
  if (m.unit !== 'currency' || report.currency || hasValue(m)) return [];
  return list(report.by_currency).map((b) => [b.currency, b.totals?.[m.id] ?? null]);
}

/** "USD 1,204.75 · CNY 1,300.50" for mixed currencies, else the metric's value. */
export function metricValueText(report, m) {
  const split = perCurrency(report, m);
  if (split.length) return split.map(([c, v]) => formatValue(v, m.unit, c)).join(' · ');
  return formatValue(m.value, m.unit, report.currency);
}

/** Why a metric has no value: the columns it needs, the core's note, or an empty period. */
export function missingReason(report, m) {
  const needs = list(m.needs);
  if (needs.length) return { kind: 'needs', text: `Needs column ${needs.join(', ')}` };
  if (m.note) return { kind: 'note', text: capital(m.note) };
  if (!hasValue(m) && !perCurrency(report, m).length) return { kind: 'empty', text: 'No data in this period' };
  return null;
}

function valueNode(report, m) {
  const dataset = { metric: m.id, value: isNumber(m.value) ? String(m.value) : '', unit: m.unit || '' };
  const amount = (currency, value) => [h('span', { class: 'kpi-currency' }, currency), ' ', formatValue(value, m.unit, null)];
  const split = perCurrency(report, m);
  if (split.length) {
    return h(
      'span',
      { class: 'kpi-value is-split', dataset },
      // One line per currency; the separator is there for copied text and screen readers.
      split.map(([c, v], i) => [i ? h('span', { class: 'kpi-sep' }, ' · ') : null, h('span', { class: 'kpi-part' }, amount(c, v))]),
    );
  }
  const currency = report.currency;
  const number = formatValue(m.value, m.unit, null);
  const withCode = m.unit === 'currency' && currency && dataset.value !== '';
  const long = number.length + (withCode ? currency.length : 0) > 13;
  return h('span', { class: `kpi-value${long ? ' is-long' : ''}`, dataset }, withCode ? amount(currency, m.value) : metricValueText(report, m));
}

/** Inline SVG of a series: a line (gaps where there is no value) over a light area. */
function sparkline(values, { tone = 'neutral', width = 120, height = 30 } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', `spark spark-${tone}`);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const nums = values.filter(isNumber);
  if (nums.length < 2) {
    svg.classList.add('is-empty');
    return svg;
  }
  let min = Math.min(...nums);
  let max = Math.max(...nums);
  if (max === min) {
    min -= 1;
    max += 1;
  }
  const n = values.length;
  const x = (i) => (n === 1 ? width / 2 : (i / (n - 1)) * width);
  const y = (v) => 2 + (1 - (v - min) / (max - min)) * (height - 4);
  let line = '';
  let area = '';
  let run = [];
  const flush = () => {
    if (run.length) {
      line += run.map(([i, v], k) => `${k ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)}`).join('');
      if (run.length > 1) {
        area += `M${x(run[0][0]).toFixed(1)} ${height}${run.map(([i, v]) => `L${x(i).toFixed(1)} ${y(v).toFixed(1)}`).join('')}L${x(run[run.length - 1][0]).toFixed(1)} ${height}Z`;
      }
    }
    run = [];
  };
  values.forEach((v, i) => (isNumber(v) ? run.push([i, v]) : flush()));
  flush();
  const fillPath = document.createElementNS(SVG, 'path');
  fillPath.setAttribute('class', 'spark-area');
  fillPath.setAttribute('d', area);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('class', 'spark-line');
  path.setAttribute('d', line);
  path.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(fillPath, path);
  return svg;
}

/** "▲ +3.2%" coloured by whether it is good, and "vs CNY 5.30M" (the previous period's value). */
function compareNode(report, m, hasPrevious) {
  if (!hasPrevious) return null;
  const delta = metricDelta(m);
  const prevText = isNumber(m.previous) ? formatShort(m.previous, m.unit, report.currency) : '—';
  const prev = h(
    'span',
    { class: 'kpi-prev', dataset: { previous: isNumber(m.previous) ? String(m.previous) : '' } },
    'vs ',
    prevText,
  );
  if (!delta) {
    return h('span', { class: 'kpi-compare' }, h('span', { class: 'kpi-delta is-none', dataset: { change: '' } }, 'no comparison'), prev);
  }
  return h(
    'span',
    { class: 'kpi-compare' },
    h(
      'span',
      {
        class: `kpi-delta is-${delta.tone}`,
        dataset: { change: isNumber(m.change) ? String(m.change) : '', direction: delta.direction, tone: delta.tone },
      },
      h('span', { class: 'kpi-arrow', 'aria-hidden': 'true' }, delta.arrow),
      ' ',
      h('span', { 'aria-hidden': 'true' }, delta.text),
      h('span', { class: 'visually-hidden' }, `${delta.words} than the previous period,`),
    ),
    ' ',
    prev,
  );
}

function card(report, m, { hasPrevious, onOpen }) {
  const available = hasValue(m) || perCurrency(report, m).length > 0;
  const reason = available ? null : missingReason(report, m);
  const note = available && m.note ? capital(m.note) : null;
  const delta = available ? metricDelta(m) : null;
  const tipId = `kpi-tip-${m.id}`;
  const series = list(report.series).map((b) => b?.[m.id]);
  const stakeholders = list(m.stakeholders);
  const meta = [GOOD_WORDS[m.good], stakeholders.length ? `for ${stakeholders.map((s) => STAKEHOLDER_WORDS[s] || s).join(', ')}` : null]
    .filter(Boolean)
    .join(' · ');
  const button = h(
    'button',
    {
      type: 'button',
      class: `kpi${available ? '' : ' kpi-missing'}${delta ? ` tone-${delta.tone}` : ''}`,
      title: m.description || '',
      'aria-describedby': tipId,
      dataset: { openMetric: m.id },
      onclick: () => onOpen?.(m.id),
    },
    h('span', { class: 'kpi-name' }, m.name || m.id),
    valueNode(report, m),
    available
      ? [compareNode(report, m, hasPrevious), sparkline(series)]
      : h('span', { class: `kpi-reason kpi-${reason?.kind || 'empty'}` }, reason?.text || ''),
    note ? h('span', { class: 'kpi-reason kpi-note' }, note) : null,
  );
  // Hover, focus and Escape (which hides the tooltip until the pointer or focus leaves).
  const wrap = h(
    'div',
    {
      class: 'kpi-wrap',
      dataset: { metricCard: m.id, tier: m.tier || '', stakeholders: stakeholders.join(' '), available: String(available) },
    },
    button,
    h(
      'div',
      { class: 'kpi-tip', role: 'tooltip', id: tipId },
      h('span', { class: 'kpi-tip-text' }, m.description || ''),
      meta ? h('span', { class: 'kpi-tip-meta' }, meta) : null,
    ),
  );
  button.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') wrap.classList.add('tip-dismissed');
  });
  const reset = () => wrap.classList.remove('tip-dismissed');
  button.addEventListener('blur', reset);
  wrap.addEventListener('mouseleave', reset);
  return { wrap, available };
}

/**
 * The tiers, each a heading and a grid of cards; cards without a value come last in their tier.
 * Returns the number of cards shown.
 */
export function renderTiers(container, report, { view, onOpen }) {
  const metrics = list(report.metrics).filter((m) => inView(m, view));
  const hasPrevious = !!report.previous || list(report.metrics).some((m) => isNumber(m.previous));
  const known = new Set(TIERS.map((t) => t.id));
  const tiers = [...TIERS];
  // A tier the page does not know yet still shows, after the known ones.
  for (const m of metrics) {
    if (m.tier && !known.has(m.tier)) {
      known.add(m.tier);
      tiers.push({ id: m.tier, title: capital(String(m.tier).replace(/_/g, ' ')), blurb: '' });
    }
  }
  const untiered = metrics.filter((m) => !m.tier);
  let shown = 0;
  const groups = tiers.map((tier) => {
    const mine = tier.id === 'core' ? [...metrics.filter((m) => m.tier === tier.id), ...untiered] : metrics.filter((m) => m.tier === tier.id);
    if (!mine.length) return null;
    const cards = mine.map((m) => card(report, m, { hasPrevious, onOpen }));
    const ordered = [...cards.filter((c) => c.available), ...cards.filter((c) => !c.available)];
    shown += cards.length;
    const headingId = `tier-${tier.id}`;
    const missing = cards.filter((c) => !c.available).length;
    return h(
      'section',
      { class: `tier tier-${tier.id}`, dataset: { tierGroup: tier.id }, 'aria-labelledby': headingId },
      h(
        'header',
        { class: 'tier-head' },
        h('h3', { class: 'tier-title', id: headingId }, tier.title),
        tier.blurb ? h('p', { class: 'tier-blurb' }, tier.blurb) : null,
        h('p', { class: 'tier-count' }, `${cards.length} metric${cards.length === 1 ? '' : 's'}${missing ? ` · ${missing} not available for this file` : ''}`),
      ),
      h('div', { class: `kpis kpis-${tier.id}` }, ordered.map((c) => c.wrap)),
    );
  });
  fill(container, groups.filter(Boolean));
  if (!shown) fill(container, h('p', { class: 'empty-note' }, 'No metric speaks for this stakeholder in this report.'));
  return shown;
}
