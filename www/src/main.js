// The page: wires the controls to the worker (client.js) and renders the report of docs/report.md.
// Nothing here parses user data as HTML: every text goes through textContent (dom.js).
import { Engine } from './client.js';
import { ChartGrid } from './charts.js';
import { $, fill, h } from './dom.js';
import { bytes, formatCount, formatValue, singleCurrency, tzLabel } from './format.js';

const SAMPLE_ROWS = 50000;
const SAMPLE_SEED = 42;
const SAMPLE_KINDS = ['transactions', 'users', 'merchants'];
// Real-world UTC offsets from -12:00 to +14:00.
const TZ_OFFSETS = [
  '-12:00', '-11:00', '-10:00', '-09:30', '-09:00', '-08:00', '-07:00', '-06:00', '-05:00', '-04:00',
  '-03:30', '-03:00', '-02:00', '-01:00', '+00:00', '+01:00', '+02:00', '+03:00', '+03:30', '+04:00',
  '+04:30', '+05:00', '+05:30', '+05:45', '+06:00', '+06:30', '+07:00', '+08:00', '+08:45', '+09:00',
  '+09:30', '+10:00', '+10:30', '+11:00', '+12:00', '+12:45', '+13:00', '+14:00',
];
const SOURCE_LABEL = { header: 'header', content: 'content', user: 'you' };
const SOURCE_TITLE = {
  header: 'Recognised from the column name',
  content: 'Recognised from the values in the column',
  user: 'Chosen by you',
};
const STATUS_LABEL = {
  success: 'success',
  failed: 'failed',
  refunded: 'refunded',
  disputed: 'disputed',
  pending: 'pending',
  unknown: 'unknown',
};
// The core names the delimiter `,` `;` `|` or `tab` (docs/report.md).
const DELIMITERS = { ',': 'comma (,)', ';': 'semicolon (;)', '|': 'pipe (|)', tab: 'tab' };

const el = {
  app: $('#app'),
  progress: $('#progress'),
  banner: $('#error-banner'),
  errorTitle: $('#error-title'),
  errorMessage: $('#error-message'),
  errorClose: $('#error-close'),
  dropzone: $('#dropzone'),
  fileInput: $('#file-input'),
  loadSample: $('#load-sample'),
  datasetName: $('#dataset-name'),
  datasetMeta: $('#dataset-meta'),
  grain: $('#grain'),
  tz: $('#tz'),
  kpis: $('#kpis'),
  charts: $('#charts'),
  seriesCaption: $('#series-caption'),
  seriesTable: $('#series-table'),
  tableToggle: $('#table-toggle'),
  mapping: $('#mapping'),
  resetMapping: $('#reset-mapping'),
  statuses: $('#statuses'),
  quality: $('#quality-body'),
};

const state = {
  grain: 'day',
  tz: null, // null = the offset found in the data
  overrides: {}, // role -> column | null (only what the user changed)
  source: null, // { kind: 'sample' } | { kind: 'file', file } : what the worker has loaded
  loadedIn: 0, // engine generation that holds `source`
  report: null,
  roles: new Map(),
  rolesRequested: false,
  action: 0, // increases with every user action; stale replies are dropped
  sampleUrls: [],
};

const engine = new Engine({
  onDeath(message) {
    showError('The metrics engine stopped', message);
    setStatus('error');
  },
});
const charts = new ChartGrid();

// ---- status, progress, errors -------------------------------------------------------------------

function setStatus(status) {
  el.app.dataset.status = status;
  el.app.setAttribute('aria-busy', status === 'loading' ? 'true' : 'false');
  el.progress.hidden = status !== 'loading';
  el.dropzone.classList.toggle('is-busy', status === 'loading');
}

function showError(title, message) {
  el.errorTitle.textContent = title;
  el.errorMessage.textContent = message;
  el.banner.hidden = false;
}

function clearError() {
  el.banner.hidden = true;
  el.errorTitle.textContent = '';
  el.errorMessage.textContent = '';
}

function messageOf(err) {
  if (!err) return 'Unknown error';
  return err.message || String(err);
}

// ---- actions ----------------------------------------------------------------------------------

function reportOptions() {
  return { grain: state.grain, tz: state.tz, mapping: { ...state.overrides } };
}

/** Make sure the worker holds the current dataset (a crashed engine is restarted empty). */
async function ensureLoaded() {
  if (!state.source || (engine.alive && engine.generation === state.loadedIn)) return;
  if (state.source.kind === 'sample') {
    await engine.call('loadSample', { rows: SAMPLE_ROWS, seed: SAMPLE_SEED });
  } else {
    const buffer = await state.source.file.arrayBuffer();
    await engine.call('loadCsv', { name: state.source.file.name, buffer }, [buffer]);
  }
  state.loadedIn = engine.generation;
}

let settled = 0;

async function run(label, task) {
  const action = ++state.action;
  setStatus('loading');
  try {
    const report = await task(action);
    if (action !== state.action) return null;
    if (report) render(report);
    clearError();
    setStatus('ready');
    // Role descriptions for the mapping panel, once the engine has proved it works.
    if (!state.rolesRequested) {
      state.rolesRequested = true;
      loadRoles();
    }
    return true;
  } catch (err) {
    if (action !== state.action) return null;
    console.error(err);
    showError(label(err), messageOf(err));
    setStatus('error');
    return false;
  } finally {
    // Test hook: counts finished actions, so a test can wait for "the one I started".
    if (action === state.action) el.app.dataset.settled = String(++settled);
  }
}

async function fetchReport() {
  await ensureLoaded();
  return engine.call('report', { options: reportOptions() });
}

function refresh() {
  return run(() => 'Could not compute the report', () => fetchReport());
}

/** The engine now holds `source`. If the user acted meanwhile, show the new data with their settings. */
function loaded(source, action) {
  state.source = source;
  state.loadedIn = engine.generation;
  state.overrides = {};
  if (action !== state.action) setTimeout(() => refresh(), 0);
}

function loadSample() {
  el.datasetName.textContent = 'Generating the sample…';
  return run(
    () => 'Could not generate the sample',
    async (action) => {
      await engine.call('loadSample', { rows: SAMPLE_ROWS, seed: SAMPLE_SEED });
      loaded({ kind: 'sample' }, action);
      const report = await engine.call('report', { options: reportOptions() });
      // The download links are filled after the first paint.
      setTimeout(() => updateSampleLinks(), 0);
      return report;
    },
  );
}

function loadFile(file) {
  if (!file) return;
  el.datasetName.textContent = `Reading ${file.name}…`;
  el.datasetMeta.textContent = bytes(file.size);
  return run(
    () => `Could not read ${file.name}`,
    async (action) => {
      const buffer = await file.arrayBuffer();
      await engine.call('loadCsv', { name: file.name, buffer }, [buffer]);
      loaded({ kind: 'file', file }, action);
      return engine.call('report', { options: reportOptions() });
    },
  ).then((ok) => {
    // A file that cannot be read leaves the engine's dataset as it was: show its name again.
    if (ok === false && state.report) renderDataset(state.report);
  });
}

async function updateSampleLinks() {
  try {
    const files = await engine.call('sampleFiles');
    for (const url of state.sampleUrls) URL.revokeObjectURL(url);
    state.sampleUrls = [];
    for (const kind of SAMPLE_KINDS) {
      const link = $(`#dl-${kind}`);
      if (typeof files?.[kind] !== 'string') continue;
      const url = URL.createObjectURL(new Blob([files[kind]], { type: 'text/csv;charset=utf-8' }));
      state.sampleUrls.push(url);
      link.href = url;
      link.removeAttribute('aria-disabled');
      link.title = `${bytes(files[kind].length)} · generated in the page`;
    }
  } catch (err) {
    console.warn('sample files unavailable:', err);
  }
}

async function loadRoles() {
  try {
    const roles = await engine.call('roles');
    if (Array.isArray(roles)) for (const r of roles) state.roles.set(r.role, r);
    if (state.report) renderMapping(state.report);
  } catch (err) {
    console.warn('roles unavailable:', err);
  }
}

// ---- rendering --------------------------------------------------------------------------------

function render(report) {
  state.report = report;
  renderDataset(report);
  renderTzAuto(report);
  renderKpis(report);
  renderCharts(report);
  renderSeriesTable(report);
  renderMapping(report);
  renderStatuses(report);
  renderQuality(report);
}

function renderDataset(report) {
  const q = report.quality || {};
  el.datasetName.textContent = report.file || q.file || 'Untitled';
  const parts = [
    `${formatCount(q.rows_loaded)} rows loaded`,
    q.rows_skipped ? `${formatCount(q.rows_skipped)} skipped` : null,
    Array.isArray(report.columns) ? `${report.columns.length} columns` : null,
    Array.isArray(report.currencies) && report.currencies.length ? report.currencies.join(', ') : null,
    report.series?.length ? `${report.series[0].bucket} → ${report.series[report.series.length - 1].bucket}` : null,
  ];
  el.datasetMeta.textContent = parts.filter(Boolean).join(' · ');
}

function renderTzAuto(report) {
  const auto = el.tz.querySelector('option[value=""]');
  auto.textContent = state.tz === null && report.tz ? `Auto (${tzLabel(report.tz)})` : 'Auto (from the data)';
}

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

function renderKpis(report) {
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

function renderCharts(report) {
  const currency = singleCurrency(report);
  const series = Array.isArray(report.series) ? report.series : [];
  const grain = report.grain || state.grain;
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
function renderSeriesTable(report) {
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

function renderMapping(report) {
  const mapping = Array.isArray(report.mapping) ? report.mapping : [];
  const columns = Array.isArray(report.columns) ? report.columns : [];
  el.resetMapping.hidden = Object.keys(state.overrides).length === 0;
  const rows = mapping.map((m) => {
    const info = state.roles.get(m.role) || {};
    const select = h('select', {
      class: 'select select-small',
      'aria-label': `Column for ${m.role}`,
      dataset: { role: m.role },
    });
    select.append(h('option', { value: '' }, '— not mapped —'));
    columns.forEach((c, i) => {
      const opt = h('option', { value: String(i) }, c === '' ? `(column ${i + 1}, no name)` : c);
      select.append(opt);
    });
    const index = m.column === null || m.column === undefined ? -1 : columns.indexOf(m.column);
    select.value = index >= 0 ? String(index) : '';
    select.addEventListener('change', () => {
      const v = select.value;
      state.overrides[m.role] = v === '' ? null : columns[Number(v)];
      refresh();
    });
    // A role the user unmapped has no source in the report, but it is still the user's choice.
    const source = m.source || (Object.prototype.hasOwnProperty.call(state.overrides, m.role) ? 'user' : null);
    return h(
      'div',
      { class: `map-row${m.column == null ? ' is-unmapped' : ''}`, dataset: { role: m.role } },
      h(
        'div',
        { class: 'map-main' },
        h(
          'p',
          { class: 'map-summary', dataset: { roleSummary: m.role } },
          h('span', { class: 'map-role' }, m.role),
          h('span', { class: 'map-arrow' }, ' ← '),
          h('span', { class: 'map-column' }, m.column == null ? 'not mapped' : m.column),
        ),
        h('p', { class: 'map-desc muted small' }, [info.kind ? h('span', { class: 'kind' }, info.kind) : null, info.description || '']),
      ),
      select,
      h(
        'span',
        { class: `source source-${source || 'none'}`, title: SOURCE_TITLE[source] || 'No column plays this role' },
        SOURCE_LABEL[source] || '—',
      ),
    );
  });
  fill(el.mapping, rows);
}

function renderStatuses(report) {
  const list = Array.isArray(report.statuses) ? report.statuses : [];
  if (!list.length) {
    fill(el.statuses, h('p', { class: 'empty-note' }, 'No status column mapped.'));
    return;
  }
  const total = list.reduce((s, x) => s + (x.count || 0), 0) || 1;
  const unknown = list.filter((s) => s.status === 'unknown');
  const rows = list.map((s) =>
    h(
      'li',
      { class: `status-row status-${s.status}`, dataset: { raw: s.raw ?? '', status: s.status, count: String(s.count ?? '') } },
      h('span', { class: `status-raw${s.raw === '' ? ' is-empty' : ''}` }, s.raw === '' ? '(empty)' : String(s.raw)),
      h('span', { class: 'status-arrow', 'aria-hidden': 'true' }, '→'),
      h('span', { class: `pill pill-${s.status}` }, STATUS_LABEL[s.status] || s.status),
      h('span', { class: 'status-count' }, formatCount(s.count)),
      h('span', { class: 'status-bar', 'aria-hidden': 'true' }, h('span', { class: 'status-bar-fill', style: null })),
    ),
  );
  // Bar widths through the CSSOM (allowed by the page's CSP, unlike style attributes).
  list.forEach((s, i) => {
    rows[i].querySelector('.status-bar-fill').style.width = `${Math.max(1, (100 * (s.count || 0)) / total)}%`;
  });
  fill(
    el.statuses,
    unknown.length
      ? h(
          'p',
          { class: 'note note-warn' },
          `${unknown.length} value${unknown.length > 1 ? 's' : ''} not recognised (${formatCount(unknown.reduce((a, s) => a + s.count, 0))} rows): counted as attempts, never as successes.`,
        )
      : null,
    h('ul', { class: 'status-list' }, rows),
  );
}

function renderQuality(report) {
  const q = report.quality || {};
  const skipped = Array.isArray(q.skipped) ? q.skipped : [];
  const warnings = Array.isArray(q.warnings) ? q.warnings : [];
  const stat = (label, value, cls, key) =>
    h('div', { class: `qstat ${cls || ''}`, dataset: { quality: key } }, h('span', { class: 'qstat-value' }, formatCount(value)), h('span', { class: 'qstat-label' }, label));
  const facts = [
    ['File', q.file ?? report.file],
    ['Encoding', q.encoding],
    ['Delimiter', DELIMITERS[q.delimiter] ?? q.delimiter],
    ['Header line', q.header_line],
  ].filter(([, v]) => v !== undefined && v !== null);

  const parts = [
    h(
      'div',
      { class: 'qstats' },
      stat('rows read', q.rows_read, '', 'read'),
      stat('loaded', q.rows_loaded, 'is-good', 'loaded'),
      stat('skipped', q.rows_skipped, q.rows_skipped ? 'is-bad' : '', 'skipped'),
    ),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
  ];
  if (skipped.length) {
    parts.push(
      h('h3', { class: 'sub-title' }, 'Skipped rows'),
      h(
        'ul',
        { class: 'skips' },
        skipped.map((s) =>
          h(
            'li',
            { class: 'skip', dataset: { reason: s.reason } },
            h('p', { class: 'skip-head' }, h('span', { class: 'skip-reason' }, s.reason), h('span', { class: 'count-badge' }, formatCount(s.count))),
            h(
              'ul',
              { class: 'examples' },
              (s.examples || []).map((e) =>
                h(
                  'li',
                  { class: 'example', dataset: { line: e.line ?? '' } },
                  h('span', { class: 'line-chip' }, e.column ? `line ${e.line}:${e.column}` : `line ${e.line}`),
                  h('code', { class: 'example-message' }, e.message),
                ),
              ),
              s.count > (s.examples || []).length ? h('li', { class: 'example more muted small' }, `and ${formatCount(s.count - s.examples.length)} more`) : null,
            ),
          ),
        ),
      ),
    );
  }
  if (warnings.length) {
    parts.push(h('h3', { class: 'sub-title' }, 'Warnings'), h('ul', { class: 'warnings' }, warnings.map((w) => h('li', { class: 'warning' }, String(w)))));
  }
  if (!skipped.length && !warnings.length) {
    parts.push(h('p', { class: 'note note-ok' }, 'Every row was read and loaded; no warnings.'));
  }
  fill(el.quality, parts);
}

// ---- controls ---------------------------------------------------------------------------------

function buildTzSelect() {
  el.tz.append(h('option', { value: '' }, 'Auto (from the data)'));
  for (const tz of TZ_OFFSETS) el.tz.append(h('option', { value: tz }, tzLabel(tz)));
  el.tz.value = '';
  el.tz.addEventListener('change', () => {
    state.tz = el.tz.value === '' ? null : el.tz.value;
    refresh();
  });
}

function bindGrain() {
  el.grain.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-grain]');
    if (!button || button.dataset.grain === state.grain) return;
    state.grain = button.dataset.grain;
    for (const b of el.grain.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    refresh();
  });
}

function bindFiles() {
  const pick = () => el.fileInput.click();
  el.dropzone.addEventListener('click', pick);
  el.dropzone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      pick();
    }
  });
  el.fileInput.addEventListener('click', (event) => event.stopPropagation());
  el.fileInput.addEventListener('change', () => {
    const file = el.fileInput.files?.[0];
    el.fileInput.value = '';
    loadFile(file);
  });

  // Files dropped anywhere on the page are taken, not opened by the browser.
  let depth = 0;
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes('Files');
  window.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth += 1;
    el.dropzone.classList.add('is-over');
  });
  window.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) el.dropzone.classList.remove('is-over');
  });
  window.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  window.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    el.dropzone.classList.remove('is-over');
    loadFile(event.dataTransfer.files?.[0]);
  });
}

function bindTableToggle() {
  const wrap = el.seriesTable.parentElement;
  el.tableToggle.addEventListener('click', () => {
    const show = wrap.hidden;
    wrap.hidden = !show;
    el.tableToggle.setAttribute('aria-expanded', String(show));
    el.tableToggle.textContent = show ? 'Hide table' : 'Show as table';
  });
}

function bindMisc() {
  el.errorClose.addEventListener('click', () => clearError());
  el.loadSample.addEventListener('click', () => {
    loadSample();
  });
  el.resetMapping.addEventListener('click', () => {
    state.overrides = {};
    refresh();
  });
  for (const link of document.querySelectorAll('.downloads a')) {
    link.addEventListener('click', (event) => {
      if (link.getAttribute('aria-disabled') === 'true') event.preventDefault();
    });
  }
}

buildTzSelect();
bindGrain();
bindFiles();
bindMisc();
bindTableToggle();
loadSample();
