// The dashboard beyond the KPI cards: mixes by dimension, success rate and volume by funding
// source, the regulators' watch list, decline reasons, the activation funnel, cohort retention
// and the distributions of ticket size and latency. Each chart has its numbers as text next to it
// (a table or a summary), for screen readers, for copying, and for the tests.
import { dataTable, fill, h } from './dom.js';
import { formatCount, formatPercent, formatRange, formatValue, isNumber, metricDelta, parseDay } from './format.js';
import { capital, missingReason } from './kpis.js';
import { colorFor } from './palette.js';
import { DIMENSION_TITLES, hasValue } from './views.js';

const list = (v) => (Array.isArray(v) ? v : []);
const label = (v) => (v === '' ? '(empty)' : String(v));
const metricOf = (report, id) => list(report.metrics).find((m) => m.id === id) || null;

/** The role's column, or null when it is not mapped. */
function columnOf(report, role) {
  return list(report.mapping).find((m) => m.role === role)?.column ?? null;
}

function emptyNote(text, kind = 'needs') {
  return h('p', { class: `chart-empty chart-empty-${kind}` }, text);
}

/** A chart container (kept from one report to the next): role img, its summary as the accessible name. */
function chartBox(host, key, kind, summary) {
  return host.box(key, { className: `chart chart-${kind}`, label: summary, dataset: { insightChart: kind } });
}

function segmented(name, options, current, onPick, key) {
  return h(
    'div',
    { class: 'segmented segmented-small', role: 'group', 'aria-label': name },
    options.map(([value, text]) =>
      h('button', { type: 'button', 'aria-pressed': String(value === current), dataset: key(value), onclick: () => value !== current && onPick(value) }, text),
    ),
  );
}

// ---- breakdowns ---------------------------------------------------------------------------------------

/** The numbers by value; with `swatches`, each value's colour in the mix chart (the table is its legend). */
function breakdownTable(b, currency, swatches = false) {
  const title = DIMENSION_TITLES[b.dimension] || capital(b.dimension);
  return dataTable({
    caption: `${title}: attempts, success rate and volume by value`,
    head: [title, 'Attempts', 'Success rate', 'Volume', 'Share of count', 'Share of TPV'],
    rows: list(b.values).map((v, i) => [
      swatches ? { node: [h('span', { class: 'swatch', 'aria-hidden': 'true', style: null, dataset: { color: colorFor(label(v.value), i) } }), label(v.value)] } : label(v.value),
      { text: formatCount(v.attempts), value: v.attempts, col: 'attempts' },
      { text: formatPercent(v.success_rate, 2), value: v.success_rate, col: 'success_rate' },
      { text: formatValue(v.volume, 'currency', currency), value: v.volume, col: 'volume' },
      { text: formatPercent(v.count_share), value: v.count_share, col: 'count_share' },
      { text: formatPercent(v.volume_share), value: v.volume_share, col: 'volume_share' },
    ]),
    rowData: list(b.values).map((v) => ({ breakdownValue: v.value })),
    className: 'series-table compact-table',
  });
}

/** One card per breakdown the view shows: the mix over time and the numbers by value. */
export function renderMix(el, report, { view, state, host, sig, onChange }) {
  const all = list(report.breakdowns);
  const shown = all.filter((b) => !view.dimensions || view.dimensions.includes(b.dimension));
  if (!shown.length) {
    const missing = report.breakdowns === undefined ? 'Breakdowns are not in this report.' : 'No dimension column is mapped (channel, funding source, type, region, KYC).';
    fill(el, emptyNote(view.dimensions && all.length ? `No ${view.dimensions.map((d) => DIMENSION_TITLES[d] || d).join(', ')} column is mapped.` : missing));
    return;
  }
  const cards = shown.map((b) => {
    const mode = state.mixMode[b.dimension] || 'counts';
    const title = `${DIMENSION_TITLES[b.dimension] || capital(b.dimension)} mix`;
    const chart = chartBox(
      host,
      `mix:${b.dimension}`,
      'mix',
      `${title} by ${mode === 'volumes' ? 'volume' : 'count'}: ${list(b.values)
        .map((v) => `${label(v.value)} ${formatPercent(mode === 'volumes' ? v.volume_share : v.count_share)}`)
        .join(', ')}`,
    );
    chart.dataset.dimension = b.dimension;
    // Without times there is no mix over time: the numbers by value only.
    const overTime = list(b.series).length > 0;
    const card = h(
      'article',
      { class: 'insight-card mix-card', dataset: { breakdown: b.dimension } },
      h(
        'header',
        { class: 'insight-head' },
        h('div', {}, h('h3', { class: 'chart-title', title }, title), b.column && b.column !== b.dimension ? h('p', { class: 'muted small chart-column', title: b.column }, `column ${b.column}`) : null),
        overTime
          ? segmented(`${title}: share by`, [['counts', 'By count'], ['volumes', 'By volume']], mode, (value) => {
              state.mixMode[b.dimension] = value;
              onChange();
            }, (value) => ({ mixMode: `${b.dimension}:${value}` }))
          : null,
      ),
      overTime ? chart : null,
      // Capped in height, so it scrolls: focusable, so that the keyboard can scroll it (WCAG 2.1.1).
      h('div', { class: 'table-scroll table-capped', tabindex: '0', role: 'region', 'aria-label': `${title}: the numbers by value` }, breakdownTable(b, report.currency, true)),
    );
    // Swatch colours through the CSSOM (the page's CSP forbids inline style attributes).
    for (const sw of card.querySelectorAll('.swatch')) sw.style.backgroundColor = sw.dataset.color;
    return { card, chart: overTime ? chart : null, b, mode };
  });
  fill(el, cards.map((c) => c.card));
  for (const c of cards) if (c.chart) host.render(c.chart, (charts) => charts.mixOption({ breakdown: c.b, mode: c.mode, grain: report.grain, currency: report.currency }), `${sig}|${c.mode}`);
}

/** Banks and issuers: success rate and volume by funding source. */
export function renderFunding(el, caption, report, { host, sig }) {
  const b = list(report.breakdowns).find((x) => x.dimension === 'funding_source');
  if (!b) {
    caption.textContent = '';
    fill(el, emptyNote(columnOf(report, 'funding_source') === null ? 'Needs column funding_source' : 'Breakdowns are not in this report.'));
    return;
  }
  caption.textContent = `Left: success rate (successful / decided attempts). Right: successful volume${report.currency ? ` in ${report.currency}` : ''}. Column ${b.column}.`;
  const summary = list(b.values)
    .map((v) => `${label(v.value)}: ${formatPercent(v.success_rate, 2)} success, ${formatValue(v.volume, 'currency', report.currency)}`)
    .join('; ');
  const chart = chartBox(host, 'funding', 'funding', `Success rate and volume by funding source. ${summary}`);
  chart.style.height = `${Math.max(150, list(b.values).length * 34 + 40)}px`;
  fill(
    el,
    h('div', { class: 'split-heads', 'aria-hidden': 'true' }, h('span', {}, 'Success rate'), h('span', {}, 'Successful volume')),
    chart,
    h('details', { class: 'chart-table' }, h('summary', {}, 'Data table'), h('div', { class: 'table-scroll' }, breakdownTable(b, report.currency))),
  );
  host.render(chart, (charts) => charts.byValueOption({ breakdown: b, currency: report.currency }), sig);
}

// ---- regulators -------------------------------------------------------------------------------------------

/** "Below Visa dispute monitoring (0.9%)" / "Above …" for a value and its thresholds. */
export function thresholdStatus(m) {
  const limits = list(m.thresholds).filter((t) => isNumber(t?.value));
  if (!limits.length || !hasValue(m)) return null;
  const sorted = [...limits].sort((a, b) => a.value - b.value);
  const crossed = sorted.filter((t) => (m.good === 'up' ? m.value <= t.value : m.value >= t.value));
  if (crossed.length) {
    const worst = m.good === 'up' ? crossed[0] : crossed[crossed.length - 1];
    return { ok: false, text: `At or above ${worst.label}`, threshold: worst };
  }
  const next = m.good === 'up' ? sorted[sorted.length - 1] : sorted[0];
  return { ok: true, text: `Below ${next.label}`, threshold: next };
}

const REGULATOR_METRICS = ['fraud_rate_bps', 'fraud_rate_volume_bps', 'dispute_rate_bps', 'disputes_opened', 'large_txn_count', 'kyc_verified_share'];
// What a tile says under a value that has no threshold to be compared with.
const WATCH_CONTEXT = {
  fraud_rate_bps: 'Successful transactions flagged as fraud, per 10,000',
  disputes_opened: 'Disputes opened in the period, by dispute date',
  large_txn_count: 'Successful payments at or above the reporting threshold',
  settlement_sla_breach: 'Successful payments settled later than the SLA',
  kyc_verified_share: 'Share of active payers who are KYC-verified',
};

export function renderRegulators(el, report, { onOpen, largeAmount, onLargeAmount }) {
  const tiles = REGULATOR_METRICS.map((id) => metricOf(report, id))
    .filter(Boolean)
    .map((m) => {
      const status = thresholdStatus(m);
      const reason = hasValue(m) ? null : missingReason(report, m);
      const delta = hasValue(m) ? metricDelta(m) : null;
      // The thresholds in force (report.params) complete the sentence.
      const params = report.params || {};
      let context = WATCH_CONTEXT[m.id] || '';
      if (m.id === 'large_txn_count' && isNumber(params.large_amount)) context = `Successful payments of ${formatValue(params.large_amount, 'currency', report.currency)} or more`;
      return h(
        'button',
        {
          type: 'button',
          class: `watch${status ? (status.ok ? ' is-ok' : ' is-bad') : ''}${reason ? ' is-missing' : ''}`,
          title: m.description || '',
          dataset: { watch: m.id },
          onclick: () => onOpen(m.id),
        },
        h('span', { class: 'watch-name' }, m.name),
        h(
          'span',
          { class: 'watch-value' },
          formatValue(m.value, m.unit, report.currency),
          delta ? h('span', { class: `watch-delta is-${delta.tone}` }, ` ${delta.arrow} ${delta.text}`) : null,
        ),
        status
          ? h('span', { class: 'watch-status' }, h('span', { 'aria-hidden': 'true' }, status.ok ? '✓ ' : '⚠ '), status.text)
          : h('span', { class: 'watch-desc' }, reason ? reason.text : context),
      );
    });
  // The reporting threshold of large transactions (options.large_amount).
  const input = h('input', {
    id: 'large-amount',
    class: 'input input-amount',
    type: 'text',
    inputmode: 'decimal',
    autocomplete: 'off',
    value: String(isNumber(report.params?.large_amount) ? report.params.large_amount : largeAmount),
    dataset: { largeAmount: 'threshold' },
  });
  input.addEventListener('change', () => {
    const v = Number(input.value.replace(/[,\s]/g, ''));
    if (input.value.trim() && Number.isFinite(v) && v > 0) {
      input.removeAttribute('aria-invalid');
      onLargeAmount(v);
    } else input.setAttribute('aria-invalid', 'true');
  });
  const threshold = h(
    'div',
    { class: 'watch-threshold' },
    h('label', { for: 'large-amount' }, `Large transaction threshold${report.currency ? ` (${report.currency})` : ''}`),
    input,
    h('span', { class: 'muted small' }, 'Payments at or above it count as large transactions (a reporting duty in many markets).'),
  );
  const kyc = list(report.breakdowns).find((b) => b.dimension === 'kyc');
  const kycBlock = kyc
    ? h('div', { class: 'watch-kyc' }, h('h3', { class: 'sub-title' }, `KYC level (column ${kyc.column})`), h('div', { class: 'table-scroll' }, breakdownTable(kyc, report.currency)))
    : h('p', { class: 'muted small watch-kyc' }, columnOf(report, 'kyc') === null ? 'No KYC column in this file: map one (role kyc) to see the share of verified payers.' : '');
  fill(el, tiles.length ? h('div', { class: 'watch-grid' }, tiles) : emptyNote('These metrics are not in this report.'), threshold, kycBlock);
}

// ---- decline reasons -------------------------------------------------------------------------------------

export function renderDeclines(el, caption, report, { host, sig }) {
  const d = report.decline_reasons;
  if (!d || !list(d.values).length) {
    caption.textContent = '';
    fill(el, emptyNote(d === undefined ? 'Decline reasons are not in this report.' : d ? 'No failed transaction in this period.' : 'Needs column decline_reason'));
    return;
  }
  const total = list(d.values).reduce((s, v) => s + (v.failures || 0), 0);
  caption.textContent = `Share of ${formatCount(total)} failed transactions, by the reason given (column ${d.column}).`;
  const items = list(d.values).map((v) => ({ name: v.value === '' ? '(none given)' : v.value, value: v.failures, share: v.share }));
  const chart = chartBox(host, 'declines', 'declines', `Decline reasons: ${items.map((i) => `${i.name} ${formatPercent(i.share)}`).join(', ')}`);
  chart.style.height = `${Math.max(140, items.length * 28 + 30)}px`;
  fill(
    el,
    chart,
    h(
      'details',
      { class: 'chart-table' },
      h('summary', {}, 'Data table'),
      dataTable({
        caption: 'Decline reasons',
        head: ['Reason', 'Failures', 'Share of failures'],
        rows: items.map((i) => [i.name, { text: formatCount(i.value), value: i.value }, { text: formatPercent(i.share), value: i.share }]),
        className: 'series-table compact-table',
      }),
    ),
  );
  host.render(chart, (charts) => charts.rankedBarsOption({ items }), sig);
}

// ---- funnel ----------------------------------------------------------------------------------------------

export function renderFunnel(el, caption, report, { host, sig }) {
  const f = report.funnel;
  const steps = list(f?.steps);
  const daysSelect = document.querySelector('#funnel-days');
  if (daysSelect && isNumber(report.params?.funnel_days)) daysSelect.value = String(report.params.funnel_days);
  if (!f || !steps.length) {
    caption.textContent = '';
    fill(
      el,
      emptyNote(
        f === undefined
          ? 'The funnel is not in this report.'
          : columnOf(report, 'user_id') === null
            ? 'Needs column user_id (and a users file with signup dates for the signup funnel)'
            : 'No user in this cohort.',
      ),
    );
    return;
  }
  const window = isNumber(f.window_days) ? `${f.window_days}-day window` : null;
  const who = f.basis === 'signup' ? 'Users who signed up' : 'Payers who made a first payment';
  const parts = [
    f.cohort ? `${who} ${formatRange(f.cohort)}` : who,
    window ? `${window}: each user had ${f.window_days} days to take the steps` : null,
    isNumber(f.excluded_recent) && f.excluded_recent > 0
      ? `${formatCount(f.excluded_recent)} more recent ${f.basis === 'signup' ? 'signups' : 'payers'} left out (their window has not ended)`
      : null,
  ];
  caption.textContent = parts.filter(Boolean).join(' · ');
  const summary = steps.map((s, i) => `${s.name}: ${formatCount(s.users)}${i ? ` (${formatPercent(s.step_conversion)} of previous, ${formatPercent(s.overall_conversion)} overall)` : ''}`).join('; ');
  const chart = chartBox(host, 'funnel', 'funnel', `Funnel. ${summary}`);
  chart.dataset.steps = String(steps.length);
  fill(
    el,
    chart,
    dataTable({
      caption: 'Funnel steps',
      head: ['Step', 'Users', 'From previous step', 'Overall'],
      rows: steps.map((s) => [
        s.name,
        { text: formatCount(s.users), value: s.users, col: 'users' },
        { text: formatPercent(s.step_conversion), value: s.step_conversion, col: 'step_conversion' },
        { text: formatPercent(s.overall_conversion), value: s.overall_conversion, col: 'overall_conversion' },
      ]),
      rowData: steps.map((s) => ({ step: s.id })),
      className: 'series-table compact-table funnel-table',
    }),
  );
  host.render(chart, (charts) => charts.funnelOption({ steps }), sig);
}

// ---- retention ----------------------------------------------------------------------------------------------

const shortDay = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' });
const monthName = new Intl.DateTimeFormat('en-US', { month: 'short', year: 'numeric', timeZone: 'UTC' });

function cohortLabel(start, grain) {
  const d = parseDay(start) || parseDay(`${start}-01`);
  if (!d) return String(start);
  return grain === 'month' ? monthName.format(d) : shortDay.format(d);
}

export function renderRetention(el, caption, report, { state, host, sig }) {
  const r = report.retention;
  // The basis the core used (it falls back to first payment without a users file).
  const basisSelect = document.querySelector('#retention-basis');
  if (basisSelect && r?.basis) basisSelect.value = r.basis;
  const tools = [...document.querySelectorAll('#retention-grain button, #retention-kind button')];
  for (const b of document.querySelectorAll('#retention-grain button')) b.setAttribute('aria-pressed', String(b.dataset.retentionGrain === state.retention.grain));
  for (const b of document.querySelectorAll('#retention-kind button')) b.setAttribute('aria-pressed', String(b.dataset.retentionKind === state.retention.kind));
  const table = r?.[state.retention.grain];
  const cohorts = list(table?.cohorts);
  for (const b of tools) b.disabled = !r;
  if (!r || !cohorts.length) {
    caption.textContent = '';
    fill(
      el,
      emptyNote(
        r === undefined
          ? 'Retention is not in this report.'
          : r
            ? `No ${state.retention.grain === 'week' ? 'weekly' : 'monthly'} cohort in this period.`
            : 'Needs columns user_id and created_at',
      ),
    );
    return;
  }
  const kind = state.retention.kind;
  const grain = state.retention.grain;
  const noun = grain === 'week' ? 'Week' : 'Month';
  const basis = r.basis === 'signup' ? 'signed up' : 'made their first payment';
  caption.textContent = `${grain === 'week' ? 'Weekly' : 'Monthly'} cohorts of users by the ${grain} they ${basis}; each cell is the share of the cohort ${
    kind === 'classic' ? `active in that ${grain}` : `active in that ${grain} or any later one`
  }. Blank: not elapsed yet.${report.week_start && grain === 'week' ? ` Weeks start on ${capital(report.week_start)}.` : ''}`;
  const average = list(table.average?.[kind]);
  const periods = Math.max(average.length, ...cohorts.map((c) => list(c[kind]).length));
  const rows = [
    { label: 'Average', size: cohorts.reduce((s, c) => s + (c.size || 0), 0), values: average, average: true },
    ...cohorts.map((c) => ({ label: `${cohortLabel(c.start, grain)} · ${formatCount(c.size)}`, size: c.size, values: list(c[kind]), start: c.start })),
  ];
  const avgText = average
    .slice(1, 5)
    .map((v, i) => `${noun.toLowerCase()} ${i + 1}: ${formatPercent(v)}`)
    .join(', ');
  const chart = chartBox(host, 'retention', 'retention', `Retention heatmap, ${kind}, ${cohorts.length} ${grain}ly cohorts. Average ${avgText}.`);
  chart.dataset.cohorts = String(cohorts.length);
  chart.dataset.kind = kind;
  chart.style.height = `${Math.max(180, rows.length * 26 + 56)}px`;
  const head = ['Cohort', 'Size', ...Array.from({ length: periods }, (_, i) => `${noun} ${i}`)];
  const tableRows = rows.map((row) => [
    row.average ? 'Average' : cohortLabel(row.start, grain),
    { text: formatCount(row.size), value: row.size, col: 'size' },
    ...Array.from({ length: periods }, (_, i) => {
      const v = row.values[i];
      return { text: isNumber(v) ? formatPercent(v) : '', value: isNumber(v) ? v : null, col: `p${i}` };
    }),
  ]);
  fill(
    el,
    chart,
    h(
      'details',
      { class: 'chart-table' },
      h('summary', {}, 'Data table'),
      h(
        'div',
        { class: 'table-scroll' },
        dataTable({
          caption: `Retention by ${grain}ly cohort (${kind})`,
          head,
          rows: tableRows,
          rowData: rows.map((row) => ({ cohort: row.average ? 'average' : row.start })),
          className: 'series-table compact-table retention-table',
        }),
      ),
    ),
  );
  host.render(chart, (charts) => charts.heatmapOption({ rows, periods, periodNoun: noun }), `${sig}|${grain}|${kind}`);
}

// ---- histograms -----------------------------------------------------------------------------------------------

const HIST_NEEDS = { ticket: ['amount', 'status'], latency: ['latency_ms'] };

export function renderHistogram(el, caption, report, id, { host, sig }) {
  const hist = list(report.histograms).find((x) => x.id === id);
  const counts = list(hist?.counts);
  if (!hist || !counts.length) {
    caption.textContent = '';
    const missing = (HIST_NEEDS[id] || []).filter((role) => columnOf(report, role) === null);
    fill(
      el,
      emptyNote(
        report.histograms === undefined
          ? 'Distributions are not in this report.'
          : missing.length
            ? `Needs column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`
            : 'No value in this period.',
      ),
    );
    return;
  }
  const total = counts.reduce((s, c) => s + (isNumber(c) ? c : 0), 0);
  const pick = (mid) => metricOf(report, mid);
  const stats =
    id === 'ticket'
      ? [['Median', pick('median_ticket')], ['Average', pick('avg_ticket')]]
      : [['p50', pick('latency_p50_ms')], ['p95', pick('latency_p95_ms')], ['p99', pick('latency_p99_ms')]];
  const statText = stats
    .filter(([, m]) => m && hasValue(m))
    .map(([name, m]) => `${name} ${formatValue(m.value, m.unit, report.currency)}`)
    .join(' · ');
  const what = id === 'ticket' ? 'successful transactions by amount' : 'attempts by latency';
  const unitWord = hist.unit === 'currency' ? report.currency || 'amount' : hist.unit === 'milliseconds' ? 'ms' : hist.unit;
  caption.textContent = `${formatCount(total)} ${what} (${unitWord})${statText ? ` · ${statText}` : ''}`;
  const edges = list(hist.edges);
  const binText = (i) => `${formatValue(edges[i], hist.unit, hist.unit === 'currency' ? report.currency : null)} to ${formatValue(edges[i + 1], hist.unit, hist.unit === 'currency' ? report.currency : null)}`;
  const biggest = counts.indexOf(Math.max(...counts));
  const chart = chartBox(host, `hist:${id}`, 'histogram', `${hist.title || id}: ${formatCount(total)} values; most between ${binText(biggest)} (${formatPercent(total ? counts[biggest] / total : null)}).`);
  chart.dataset.hist = id;
  fill(
    el,
    chart,
    h(
      'details',
      { class: 'chart-table' },
      h('summary', {}, 'Data table'),
      dataTable({
        caption: hist.title || id,
        head: ['From (included) – to', 'Count', 'Share'],
        rows: counts.map((c, i) => [binText(i), { text: formatCount(c), value: c }, { text: formatPercent(total ? c / total : null), value: total ? c / total : null }]),
        className: 'series-table compact-table',
      }),
    ),
  );
  host.render(chart, (charts) => charts.histogramOption({ hist, currency: report.currency }), sig);
}
