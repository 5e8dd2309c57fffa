// The page: wires the controls to the worker (client.js) and renders the report of docs/report.md.
// Nothing here parses user data as HTML: every text goes through textContent (dom.js).
import { Engine } from './client.js';
import { closeMetricDialog, dimensionsOf, disposeDialogCharts, onChartExportError, openMetricDialog, renderDashboard, renderFilterEditor, renderRates } from './dashboard.js';
import { $, fill, h } from './dom.js';
import { isDateOrderWarning, pickTransactions, uniqueNames } from './files.js';
import { addDays, bytes, daysBetween, formatCount, parseDay, parseRate, plural, tzLabel } from './format.js';
import { renderDerive, renderFiles, renderQuality, renderStatuses } from './panels.js';
import { renderMetricEditor } from './metric-editor.js';
import { viewById } from './views.js';

const SAMPLE_ROWS = 50000;
const SAMPLE_SEED = 42;
const SAMPLE_KINDS = ['transactions', 'users', 'merchants'];
// The sample's payments happen in China: shown in Beijing time.
const SAMPLE_TZ = 'Asia/Shanghai';
// Real-world UTC offsets from -12:00 to +14:00.
const TZ_OFFSETS = [
  '-12:00', '-11:00', '-10:00', '-09:30', '-09:00', '-08:00', '-07:00', '-06:00', '-05:00', '-04:00',
  '-03:30', '-03:00', '-02:00', '-01:00', '+00:00', '+01:00', '+02:00', '+03:00', '+03:30', '+04:00',
  '+04:30', '+05:00', '+05:30', '+05:45', '+06:00', '+06:30', '+07:00', '+08:00', '+08:45', '+09:00',
  '+09:30', '+10:00', '+10:30', '+11:00', '+12:00', '+12:45', '+13:00', '+14:00',
];
// Time zones with daylight saving and history, offered before the plain offsets. The page's core
// knows only these (the Makefile's TZ_FILTER): keep the two lists together.
const TZ_NAMES = [
  'Asia/Shanghai', 'Asia/Hong_Kong', 'Asia/Singapore', 'Asia/Kolkata', 'Europe/London', 'Europe/Berlin',
  'America/New_York', 'America/Los_Angeles', 'America/Sao_Paulo', 'Australia/Sydney', 'UTC',
];
// The core's default reporting threshold of large transactions (report.params.large_amount).
const DEFAULT_LARGE_AMOUNT = 50000;
// The core's default conversion window of the funnel, in days (report.params.funnel_days).
const DEFAULT_FUNNEL_DAYS = 30;
const SOURCE_LABEL = { header: 'header', content: 'content', user: 'you', derived: 'derived' };
const SOURCE_TITLE = {
  header: 'Recognised from the column name',
  content: 'Recognised from the values in the column',
  user: 'Chosen by you',
  derived: 'A derived column of that name (below) plays this role',
};

const el = {
  app: $('#app'),
  progress: $('#progress'),
  load: $('#load'),
  loadTitle: $('#load-title'),
  loadBar: $('#load-bar'),
  loadDetail: $('#load-detail'),
  loadCancel: $('#load-cancel'),
  banner: $('#error-banner'),
  errorTitle: $('#error-title'),
  errorMessage: $('#error-message'),
  errorClose: $('#error-close'),
  errorRetry: $('#error-retry'),
  dropzone: $('#dropzone'),
  dropTitle: $('#dropzone-title'),
  dropHint: $('#dropzone-hint'),
  fileInput: $('#file-input'),
  loadSample: $('#load-sample'),
  files: $('#files'),
  filesCaption: $('#files-caption'),
  startOver: $('#start-over'),
  datasetName: $('#dataset-name'),
  datasetMeta: $('#dataset-meta'),
  streamedNote: $('#streamed-note'),
  customSection: $('#custom-section'),
  grain: $('#grain'),
  tz: $('#tz'),
  decimal: $('#decimal'),
  dateOrderControl: $('#date-order-control'),
  dateOrder: $('#date-order'),
  dateCallout: $('#date-order-callout'),
  dateCalloutText: $('#date-order-callout-text'),
  dateOrderProminent: $('#date-order-prominent'),
  rates: $('#rates'),
  ratesHint: $('#rates-hint'),
  ratesCurrency: $('#rates-currency'),
  ratesList: $('#rates-list'),
  kpis: $('#kpis'),
  charts: $('#charts'),
  seriesCaption: $('#series-caption'),
  seriesMetric: $('#series-metric'),
  seriesTable: $('#series-table'),
  tableToggle: $('#table-toggle'),
  segmentWrap: $('#segment-wrap'),
  segmentTitle: $('#segment-title'),
  segmentTable: $('#segment-table'),
  period: $('#period'),
  customRange: $('#custom-range'),
  rangeFrom: $('#range-from'),
  rangeTo: $('#range-to'),
  periodCaption: $('#period-caption'),
  weekStart: $('#week-start'),
  segment: $('#segment'),
  filterChips: $('#filter-chips'),
  addFilter: $('#add-filter'),
  filterEditor: $('#filter-editor'),
  filterColumn: $('#filter-column'),
  filterMode: $('#filter-mode'),
  filterSearch: $('#filter-search'),
  filterValues: $('#filter-values'),
  filterNote: $('#filter-editor-note'),
  filterApply: $('#filter-apply'),
  filterCancel: $('#filter-cancel'),
  views: $('#views'),
  viewBlurb: $('#view-blurb'),
  viewPanel: $('#view-panel'),
  funding: $('#funding'),
  fundingCaption: $('#funding-caption'),
  regulators: $('#regulators'),
  thresholdChecks: $('#threshold-checks'),
  guardrailCharts: $('#guardrail-charts'),
  mix: $('#mix'),
  funnel: $('#funnel'),
  funnelCaption: $('#funnel-caption'),
  retention: $('#retention'),
  retentionCaption: $('#retention-caption'),
  declines: $('#declines'),
  declinesCaption: $('#declines-caption'),
  metricDialog: $('#metric-dialog'),
  metricDialogKicker: $('#metric-dialog-kicker'),
  metricDialogTitle: $('#metric-dialog-title'),
  metricDialogDesc: $('#metric-dialog-desc'),
  metricDialogFacts: $('#metric-dialog-facts'),
  metricDialogChart: $('#metric-dialog-chart'),
  metricDialogEmpty: $('#metric-dialog-empty'),
  metricDialogTable: $('#metric-dialog-table'),
  metricDialogClose: $('#metric-dialog-close'),
  mapping: $('#mapping'),
  resetMapping: $('#reset-mapping'),
  derive: $('#derive'),
  customMetrics: $('#custom-metrics'),
  statuses: $('#statuses'),
  resetStatuses: $('#reset-statuses'),
  quality: $('#quality-body'),
  linkStatus: $('#link-status'),
};

const state = {
  grain: 'day',
  tz: null, // null = the offset found in the data
  tzChosen: false, // the user picked a time zone: it then survives loading other files
  overrides: {}, // role -> column | null (only what the user changed)
  statuses: {}, // raw status -> normal form (only what the user changed): options.statuses
  statusDefaults: {}, // raw status -> what the core made of it on its own
  derive: [], // "amount = quantity * unit_price", … (options.derive)
  metrics: [], // custom metrics, "name = formula" (options.metrics)
  decimal: '', // '' auto | '.' | ','
  dateOrder: '', // '' auto | 'dmy' | 'mdy'
  currency: '', // the currency to convert into ('' = the first one found)
  rates: {}, // currency -> rate into `currency`, as typed
  // What the engine should hold, transactions first: [{ name, role, file, sample }]. `file` is the
  // File (re-read after an engine restart); null for the generated sample.
  files: [],
  sampleLookups: [], // names of the sample's lookup tables, as the core loaded them
  sampleJoins: null, // the joins the core suggested for the sample: applied up front next time
  joins: new Map(), // lookup name -> { on, key, enabled, suggested, error }
  loadedIn: 0, // engine generation that holds `files`
  report: null,
  roles: new Map(),
  rolesRequested: false,
  action: 0, // increases with every user action; stale replies are dropped
  sampleUrls: [],
  // The dashboard (docs/report.md, "The metrics hierarchy"): what is reported and how it is shown.
  view: 'all', // stakeholder view: all | consumers | merchants | platform | financial_institutions | regulators
  period: 'auto', // auto | all | 7 | 30 | 90 | custom; auto = the last 30 days of data spanning over 60 days
  periodResolved: null, // what `auto` turned into for this dataset
  custom: { from: '', to: '' }, // the custom period, local dates
  dataRange: null, // report.data_range of the last report: presets count back from its `to`
  weekStart: 'monday',
  filters: [], // [{ column, values, exclude }]
  segment: null, // a column, or null
  // The transactions file is too large to hold and is read again for each view (worker.js,
  // streamFile): { name, bytes }, or null.
  streamed: null,
  seriesMetric: 'tpv', // the metric of the time series chart
  mixMode: {}, // dimension -> counts | volumes
  retention: { grain: 'week', kind: 'classic' },
  filterDraft: null, // the filter being edited: { column, values, exclude, search }
  largeAmount: DEFAULT_LARGE_AMOUNT, // options.large_amount: the reporting threshold of large transactions
  funnelDays: DEFAULT_FUNNEL_DAYS, // options.funnel_days: the funnel's conversion window
  cohort: null, // options.cohort: signup | first_payment; null lets the core choose
  sample: { seed: SAMPLE_SEED, rows: SAMPLE_ROWS }, // the sample generated: a share link may ask for another
};

// Why a share link was refused: shown when the default view it falls back to is on screen.
let linkNotice = null;

/**
 * Test seam (README, "Page hooks"): `?memory-limit=BYTES` lowers the engine's memory limit for a
 * loaded file (the worker never lets it raise it), so that a test can see the "too large" message
 * without a file of a gigabyte.
 */
const MEMORY_LIMIT = (() => {
  const value = Number(new URLSearchParams(window.location.search).get('memory-limit') || NaN);
  return Number.isFinite(value) && value >= 0 ? value : null;
})();

/**
 * Test seam (README, "Page hooks"): `?speed-build-from=BYTES` lowers the file size from which the
 * worker reads a transactions file with the speed build (www/pkg-fast), so that a test can see the
 * switch with a small file.
 */
const SPEED_BUILD_FROM = (() => {
  const value = Number(new URLSearchParams(window.location.search).get('speed-build-from') || NaN);
  return Number.isFinite(value) && value >= 0 ? value : null;
})();

/**
 * Test seam (README, "Page hooks"): `?parts-from=BYTES` lowers the file size from which the worker
 * reads a transactions file on two cores (www/src/parts.js), so that a test can see it with a
 * small file.
 */
const PARTS_FROM = (() => {
  const value = Number(new URLSearchParams(window.location.search).get('parts-from') || NaN);
  return Number.isFinite(value) && value >= 0 ? value : null;
})();

/** Long spans open on their last 30 days; shorter ones on all of their data. */
const AUTO_PERIOD_DAYS = 60;

const engine = new Engine({
  onDeath(message) {
    showError('The metrics engine stopped', message);
    setStatus('error');
  },
});

const transactionsFile = () => state.files.find((f) => f.role === 'transactions') || null;
const lookupFiles = () => state.files.filter((f) => f.role === 'lookup');
const isSample = () => !!transactionsFile()?.sample;

// ---- status, progress, errors -------------------------------------------------------------------

function setStatus(status) {
  el.app.dataset.status = status;
  el.app.setAttribute('aria-busy', status === 'loading' ? 'true' : 'false');
  el.progress.hidden = status !== 'loading';
  el.dropzone.classList.toggle('is-busy', status === 'loading');
}

function showError(title, message, { info = false, retry = null } = {}) {
  el.errorTitle.textContent = title;
  el.errorMessage.textContent = message;
  el.banner.classList.toggle('is-info', info);
  el.banner.hidden = false;
  // After a crash the page could not recover from: the action again, on a fresh engine.
  retryAction = retry;
  el.errorRetry.hidden = !retry;
}

// What "Try again" in the banner runs, when it is shown.
let retryAction = null;

// ---- a file being read: progress bar, time left, Cancel -------------------------------------------

// The loads of the current action: one Cancel stops them all (a drop of several files is one load).
let loadAbort = null;

/** The panel for `title` ("Reading payments.csv…"), empty. */
function showLoad(title) {
  el.load.hidden = false;
  el.loadTitle.textContent = title;
  el.loadBar.value = 0;
  el.loadBar.removeAttribute('aria-valuetext');
  el.loadDetail.textContent = '';
  el.loadCancel.hidden = false;
  el.loadCancel.disabled = false;
  for (const key of ['bytes', 'total', 'rows', 'phase']) delete el.load.dataset[key];
}

function hideLoad() {
  el.load.hidden = true;
}

/** "about 12 s left", "about 3 min left"; null until the rate is known well enough to say. */
function timeLeft(p) {
  if (!(p.bytes > 0) || !(p.elapsed_ms >= 300) || p.bytes >= p.total) return null;
  const seconds = ((p.total - p.bytes) * p.elapsed_ms) / p.bytes / 1000;
  if (seconds < 1) return 'less than a second left';
  if (seconds < 90) return `about ${Math.round(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

/** One progress message of the worker's loadFile (see worker.js, readInChunks). */
function showProgress(p) {
  const percent = p.total > 0 ? Math.min(100, (100 * p.bytes) / p.total) : 100;
  el.loadBar.value = Math.round(percent * 10) / 10;
  const left = p.phase === 'finishing' ? 'finishing the table…' : timeLeft(p) || 'estimating the time left…';
  const rows = `${formatCount(p.rows)} ${p.rows === 1 ? 'row' : 'rows'}`;
  const parts = [`${bytes(p.bytes)} of ${bytes(p.total)}`, rows, left];
  // Read a second time through the browser's decoder (GB18030): the bytes start over.
  if (p.encoding) parts.unshift(`decoding ${p.encoding}`);
  el.loadDetail.textContent = parts.join(' · ');
  el.loadBar.setAttribute('aria-valuetext', `${Math.floor(percent)}% · ${rows} · ${left}`);
  Object.assign(el.load.dataset, { bytes: String(p.bytes), total: String(p.total), rows: String(p.rows), phase: p.phase, read: String(p.read ?? ''), wasm: String(p.wasm_bytes ?? '') });
}

/**
 * Reads `file` (a File) into the engine as `role` ('transactions' or 'lookup'), in chunks, with
 * the progress panel; the result is what the core says it loaded ({ file, rows_read, columns }).
 * Cancel rejects it with an EngineError of kind 'Cancelled'.
 */
async function loadFile(name, file, role, { step = '' } = {}) {
  if (!loadAbort || loadAbort.signal.aborted) loadAbort = new AbortController();
  const { signal } = loadAbort;
  showLoad(`Reading ${name}${step}…`);
  const info = await engine.call('loadFile', { file, name, role, memoryLimit: MEMORY_LIMIT, speedBuildFrom: SPEED_BUILD_FROM, partsFrom: PARTS_FROM }, [], { signal, onProgress: showProgress });
  if (role === 'transactions') state.streamed = info?.streamed ? { name, bytes: file.size } : null;
  // What is left (the report) cannot be cancelled: the button goes until the next file.
  el.loadTitle.textContent = `Read ${name}${step}: computing the metrics…`;
  el.loadCancel.hidden = true;
  return info;
}

function cancelLoad() {
  if (!loadAbort) return;
  loadAbort.abort();
  el.loadCancel.disabled = true;
  el.loadTitle.textContent = 'Cancelling…';
}

const isCancelled = (err) => err?.kind === 'Cancelled';

function clearError() {
  retryAction = null;
  el.errorRetry.hidden = true;
  el.banner.hidden = true;
  el.banner.classList.remove('is-info');
  el.errorTitle.textContent = '';
  el.errorMessage.textContent = '';
}

function messageOf(err) {
  if (!err) return 'Unknown error';
  return err.message || String(err);
}

// ---- options --------------------------------------------------------------------------------------

function joinOptions() {
  const joins = [];
  for (const f of lookupFiles()) {
    const j = state.joins.get(f.name);
    if (j?.enabled && j.on) joins.push({ file: f.name, on: j.on, key: j.key ?? null });
  }
  return joins;
}

/** options.rates and options.currency: sent once every other currency found has a rate. */
function rateOptions() {
  const found = state.report?.currencies || [];
  const target = found.includes(state.currency) ? state.currency : found[0];
  if (found.length < 2) return null;
  const rates = {};
  for (const c of found) {
    if (c === target) continue;
    rates[c] = parseRate(state.rates[c]);
    if (rates[c] === null) return null;
  }
  return { rates, currency: target };
}

/** options.range: the preset counted back from the data's last day, or the custom dates. */
function rangeOption() {
  const preset = state.period === 'auto' ? state.periodResolved : state.period;
  if (!preset || preset === 'all') return null;
  if (preset === 'custom') {
    const { from, to } = state.custom;
    return parseDay(from) && parseDay(to) && from <= to ? { from, to } : null;
  }
  const to = state.dataRange?.to;
  const days = Number(preset);
  if (!parseDay(to) || !(days > 0)) return null;
  return { from: addDays(to, -(days - 1)), to };
}

/** The report options: the settings the user changed. */
function reportOptions() {
  const options = { grain: state.grain, tz: state.tz, mapping: { ...state.overrides }, joins: joinOptions() };
  if (Object.keys(state.statuses).length) options.statuses = { ...state.statuses };
  if (state.derive.length) options.derive = [...state.derive];
  if (state.metrics.length) options.metrics = [...state.metrics];
  if (state.decimal) options.decimal = state.decimal;
  if (state.dateOrder) options.date_order = state.dateOrder;
  if (state.weekStart !== 'monday') options.week_start = state.weekStart;
  const range = rangeOption();
  if (range) options.range = range;
  if (state.filters.length) options.filters = state.filters.map((f) => ({ column: f.column, values: [...f.values], exclude: !!f.exclude }));
  if (state.segment) options.segment = state.segment;
  if (state.largeAmount !== DEFAULT_LARGE_AMOUNT) options.large_amount = state.largeAmount;
  if (state.funnelDays !== DEFAULT_FUNNEL_DAYS) options.funnel_days = state.funnelDays;
  if (state.cohort) options.cohort = state.cohort;
  return Object.assign(options, rateOptions());
}

/**
 * The first report of a dataset says how long it spans: over 60 days, the page reports the last
 * 30 (true: ask again with that range). The user's own choice is never overridden.
 */
function resolvePeriod(report, sent) {
  if (report.data_range !== undefined) state.dataRange = report.data_range;
  const dr = state.dataRange;
  if (state.period === 'auto' && !state.periodResolved) {
    if (!dr || !parseDay(dr.from) || !parseDay(dr.to)) return false;
    // A streamed file is not read a second time for the last 30 days: it shows all of its
    // data, and a preset then counts back from its last day in one read.
    if (state.streamed) {
      state.periodResolved = 'all';
      return false;
    }
    state.periodResolved = daysBetween(dr.from, dr.to) > AUTO_PERIOD_DAYS ? '30' : 'all';
    return state.periodResolved !== 'all';
  }
  // "Last N days" counts back from the data's last day: when that moved (another time zone or
  // date order), the report is asked again for the right days.
  const preset = state.period === 'auto' ? state.periodResolved : state.period;
  // A preset restored from a share link was sent before the data's range was known: ask again.
  return /^\d+$/.test(preset || '') && !!dr?.to && sent?.range?.to !== dr.to;
}

/** Back to the automatic view for a new transactions file. The user's time zone stays. */
function resetForNewData(sample) {
  state.overrides = {};
  state.statuses = {};
  state.statusDefaults = {};
  state.joins = new Map();
  // The sample again: its suggested joins are known, which saves computing a report without them.
  if (sample && state.sampleJoins) {
    for (const s of state.sampleJoins) state.joins.set(s.file, { on: s.on, key: s.key ?? null, enabled: true, suggested: true, error: '' });
  }
  state.derive = [];
  state.currency = '';
  state.rates = {};
  // Another dataset: its own period, and no filter or segment on columns it may not have.
  state.period = 'auto';
  state.periodResolved = null;
  state.custom = { from: '', to: '' };
  state.dataRange = null;
  state.filters = [];
  state.segment = null;
  closeFilterEditor(false);
  state.decimal = '';
  state.dateOrder = '';
  el.decimal.value = '';
  el.dateOrder.value = '';
  el.dateOrderProminent.value = '';
  if (!state.tzChosen) {
    state.tz = sample ? SAMPLE_TZ : null;
    el.tz.value = state.tz ?? '';
  }
}

// ---- the engine's dataset -------------------------------------------------------------------------

/** Loads `files` (transactions first, then lookups) into the engine, replacing its dataset. */
async function loadIntoEngine(files) {
  const tx = files.find((f) => f.role === 'transactions');
  if (tx.sample) {
    await engine.call('loadSample', { rows: state.sample.rows, seed: state.sample.seed });
    state.streamed = null;
    for (const name of state.sampleLookups) {
      if (!files.some((f) => f.name === name)) await engine.call('removeLookup', { name });
    }
    return;
  }
  const steps = files.length > 1 ? (i) => ` (${i + 1} of ${files.length})` : () => '';
  try {
    await loadFile(tx.name, tx.file, 'transactions', { step: steps(0) });
  } catch (err) {
    // The engine let go of the dataset it held to make room, and the new one did not load.
    if (err.released) state.loadedIn = -1;
    throw err;
  }
  let i = 1;
  for (const f of files) if (f.role === 'lookup') await loadFile(f.name, f.file, 'lookup', { step: steps(i++) });
}

/** Make sure the worker holds the current dataset (a crashed engine is restarted empty). */
async function ensureLoaded() {
  if (!state.files.length || (engine.alive && engine.generation === state.loadedIn)) return;
  await loadIntoEngine(state.files);
  state.loadedIn = engine.generation;
}

// The options each report was computed under: the SQL export writes the view of the report on
// screen, which the state may have moved on from (a report superseded before it was shown).
const computedWith = new WeakMap();

/**
 * The report under the current options. Lookups the core suggests joining are joined the first
 * time they are suggested (the user can change or undo it); a join the core refuses (its column
 * is gone) is switched off with the reason shown on its file, and the report computed without it.
 */
async function fetchReport(notices = []) {
  await ensureLoaded();
  for (let attempt = 0; ; attempt++) {
    let report;
    const options = reportOptions();
    try {
      report = await engine.call('report', { options }, [], streamedCall());
      computedWith.set(report, options);
    } catch (err) {
      const message = messageOf(err);
      const name = attempt < 8 && [...state.joins.keys()].find((f) => message.startsWith(`cannot join ${f}:`));
      const join = name && state.joins.get(name);
      if (join?.enabled) {
        join.enabled = false;
        join.error = message;
        continue;
      }
      // A filter or segment on a column that is gone (a join undone, a mapping changed) is
      // dropped, and the banner says so.
      const gone = attempt < 8 && /^cannot (filter on|segment by) "(.*)": no such column/.exec(message);
      if (gone && gone[1] === 'filter on' && state.filters.some((f) => f.column === gone[2])) {
        state.filters = state.filters.filter((f) => f.column !== gone[2]);
        notices.push({ title: `The filter on ${gone[2]} was removed`, message });
        continue;
      }
      if (gone && gone[1] === 'segment by' && state.segment === gone[2]) {
        state.segment = null;
        notices.push({ title: `The segments by ${gone[2]} were removed`, message });
        continue;
      }
      throw err;
    }
    let adopted = false;
    if (isSample()) {
      // The core loads the sample with its lookup tables: list them as files.
      for (const l of report.lookups || []) {
        if (!state.sampleLookups.includes(l.file)) state.sampleLookups.push(l.file);
        if (state.files.some((f) => f.name === l.file)) continue;
        state.files.push({ name: l.file, role: 'lookup', file: null, sample: true });
        if (state.joins.get(l.file)?.enabled) adopted = true;
      }
      const loaded = new Set((report.lookups || []).map((l) => l.file));
      state.files = state.files.filter((f) => f.role === 'transactions' || loaded.has(f.name));
    }
    for (const s of report.suggested_joins || []) {
      if (state.joins.has(s.file) || !state.files.some((f) => f.name === s.file)) continue;
      // A streamed file would be read again to join it: the join is offered, not made.
      state.joins.set(s.file, { on: s.on, key: s.key ?? null, enabled: !state.streamed, suggested: true, error: '' });
      adopted ||= !state.streamed;
    }
    if (adopted && isSample() && !state.sampleJoins) state.sampleJoins = [...(report.suggested_joins || [])];
    if (adopted && attempt < 8) continue;
    if (resolvePeriod(report, options) && attempt < 8) continue;
    return report;
  }
}

/**
 * The call options of a report of a streamed file: it reads the file again, with the progress
 * panel and its Cancel button (which stops the worker: client.js, stopOnCancel).
 */
function streamedCall() {
  if (!state.streamed) return {};
  const { name } = state.streamed;
  if (!loadAbort || loadAbort.signal.aborted) loadAbort = new AbortController();
  showLoad(`Reading ${name}…`);
  return {
    signal: loadAbort.signal,
    stopOnCancel: `Reading ${name} was cancelled.`,
    onProgress: (p) => {
      el.loadTitle.textContent = p.read > 1 ? `Reading ${name} again (read ${p.read}: the exact percentiles)…` : `Reading ${name}…`;
      showProgress(p);
    },
  };
}

// ---- actions ----------------------------------------------------------------------------------

let settled = 0;

/**
 * Runs one user action: `task(action, notices)` resolves to a report to show (or null to keep the
 * one on screen). Problems that did not stop the action go into `notices` and show in the banner.
 */
async function run(label, task) {
  const action = ++state.action;
  setStatus('loading');
  const notices = [];
  try {
    let report;
    try {
      report = await task(action, notices);
    } catch (err) {
      // The core crashed (a panic: the worker reports a trapped instance as `fatal`). The client
      // has dropped that worker; the action runs once more on a fresh one, which ensureLoaded (or
      // the task itself) fills with the files again, so the user keeps their data and view. A
      // second crash is shown, with Try again; the client stops restarting after MAX_CRASHES.
      if (!err?.fatal || action !== state.action) throw err;
      console.error(err);
      notices.length = 0;
      notices.push({ title: 'The metrics engine crashed and was restarted', message: `${messageOf(err)} Your files were loaded again and the view computed anew.` });
      report = await task(action, notices);
    }
    if (action !== state.action) return null;
    if (report) render(report);
    else if (state.report) render(state.report);
    clearError();
    if (notices.length) showError(notices.length === 1 ? notices[0].title : 'Some files could not be read', notices.map((n) => n.message).join('\n'));
    setStatus('ready');
    // Role descriptions for the mapping panel, once the engine has proved it works.
    if (!state.rolesRequested) {
      state.rolesRequested = true;
      loadRoles();
    }
    return true;
  } catch (err) {
    if (action !== state.action) return null;
    if (isCancelled(err)) {
      // Back to what was on screen; the engine still holds it, or loads it again at the next
      // change (ensureLoaded) when it had to let go of it.
      if (state.report) render(state.report);
      showError('Loading cancelled', `${messageOf(err)} The data shown is the data from before.`, { info: true });
      setStatus(state.report ? 'ready' : 'error');
      // The Cancel button is going away with the panel: keyboard users go back to the drop zone.
      if (el.load.contains(document.activeElement) || document.activeElement === document.body) el.dropzone.focus({ preventScroll: true });
      return false;
    }
    console.error(err);
    // A crash (or a halted engine) leaves the view as it was: Try again runs the action anew.
    const again = err?.fatal || err?.kind === 'Halted' ? () => retry(label, task) : null;
    showError(label(err), messageOf(err), { retry: again });
    setStatus('error');
    // The panels show the state as it is now (a join switched off, say), over the last report.
    if (state.report) render(state.report);
    return false;
  } finally {
    if (action === state.action) {
      hideLoad();
      loadAbort = null;
      // Test hook: counts finished actions, so a test can wait for "the one I started".
      el.app.dataset.settled = String(++settled);
    }
  }
}

/** Try again (banner): the engine may be restarted again, and the action that failed runs anew. */
function retry(label, task) {
  engine.resume();
  return run(label, task);
}

function refresh() {
  return run(() => 'Could not compute the report', (action, notices) => fetchReport(notices));
}

/**
 * The engine now holds `files`. If the user acted meanwhile, show the new data with their settings.
 * `view`: a share link's view (share.js, validated), applied over the new data's defaults. It is
 * passed by the action that loads the link's data, never left in a global: the sample the page
 * was still loading when a file link's file was dropped would otherwise take it (issue 7).
 */
function committed(files, action, { fresh = false, sample = false, view = null } = {}) {
  state.files = files;
  state.loadedIn = engine.generation;
  if (fresh) resetForNewData(sample);
  if (fresh && view) applyView(view);
  if (action !== state.action) setTimeout(() => refresh(), 0);
}

/**
 * The settings of a share link's view (share.js, validated), over the defaults resetForNewData
 * just set: the report asked for next is the view of the link.
 */
function applyView(v) {
  state.overrides = { ...v.mapping };
  state.statuses = { ...v.statuses };
  state.derive = [...v.derive];
  state.decimal = v.decimal;
  state.dateOrder = v.dateOrder;
  el.decimal.value = v.decimal;
  el.dateOrder.value = v.dateOrder;
  el.dateOrderProminent.value = v.dateOrder;
  if (v.tz !== state.tz) state.tzChosen = true;
  state.tz = v.tz;
  if (v.tz && ![...el.tz.options].some((o) => o.value === v.tz)) el.tz.append(h('option', { value: v.tz }, tzLabel(v.tz)));
  el.tz.value = v.tz ?? '';
  state.grain = v.grain;
  for (const b of el.grain.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.grain === v.grain));
  state.weekStart = v.weekStart;
  for (const b of el.weekStart.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.weekStart === v.weekStart));
  state.period = v.period;
  state.periodResolved = null;
  state.custom = v.custom ? { ...v.custom } : { from: '', to: '' };
  state.filters = v.filters.map((f) => ({ column: f.column, values: [...f.values], exclude: f.exclude }));
  state.segment = v.segment;
  state.view = v.view;
  state.seriesMetric = v.seriesMetric;
  state.largeAmount = v.largeAmount;
  state.funnelDays = v.funnelDays;
  state.cohort = v.cohort;
  state.retention = { ...v.retention };
  state.currency = v.currency;
  state.rates = { ...v.rates };
  // The link's joins replace the suggested ones (a join switched off stays off).
  if (v.joins.length) state.joins = new Map(v.joins.map((j) => [j.file, { on: j.on, key: j.key, enabled: j.enabled, suggested: false, error: '' }]));
  state.metrics = [...v.metrics];
}

/** The sample of `spec` (seed and size; the default one without), with `view` applied if given. */
function loadSample(spec = null, view = null) {
  state.sample = spec ? { seed: spec.seed, rows: spec.rows } : { seed: SAMPLE_SEED, rows: SAMPLE_ROWS };
  const fresh = !spec && !view && cleanView === null && cleanFrom === 0;
  // Another sample than the last one: its lookups are learnt again from its first report.
  el.datasetName.textContent = 'Generating the sample…';
  return run(
    () => 'Could not generate the sample',
    async (action, notices) => {
      if (linkNotice) {
        notices.push(linkNotice);
        linkNotice = null;
      }
      // The page's own first view: its address stays clean (followView).
      if (fresh) cleanFrom = action;
      const info = await engine.call('loadSample', { rows: state.sample.rows, seed: state.sample.seed });
      // The lookups it comes with are known from an earlier load; the first report tells otherwise.
      const files = [
        { name: info?.file || 'sample-transactions.csv', role: 'transactions', file: null, sample: true },
        ...state.sampleLookups.map((name) => ({ name, role: 'lookup', file: null, sample: true })),
      ];
      committed(files, action, { fresh: true, sample: true, view });
      const report = await fetchReport();
      // The download links are filled after the first paint.
      setTimeout(() => updateSampleLinks(), 0);
      return report;
    },
  );
}

/**
 * Files picked or dropped together. On the sample (or an empty page) they make a new dataset: the
 * transactions file is the one whose name says so, else the longest; the others are lookups.
 * With a transactions file of the user's loaded, they are added as lookups, except that a file of
 * the same name as one loaded replaces it (a fresh export of the same table).
 */
function addFiles(list) {
  // A share link waiting for its file: the file is checked against the link first.
  if (share?.offerFiles(list)) return undefined;
  const current = transactionsFile();
  const fresh = !current || current.sample;
  const picked = uniqueNames([...(list || [])].filter(Boolean));
  if (!picked.length) return undefined;
  if (fresh) {
    el.datasetName.textContent = picked.length === 1 ? `Reading ${picked[0].name}…` : `Reading ${picked.length} files…`;
    el.datasetMeta.textContent = bytes(picked.reduce((s, p) => s + p.file.size, 0));
  }
  const what = picked.length === 1 ? picked[0].name : `${picked.length} files`;
  // The files are read by the worker, slice by slice: the page never holds their bytes.
  const items = picked;
  const steps = items.length > 1 ? (i) => ` (${i + 1} of ${items.length})` : () => '';
  return run(
    (err) => (err?.kind === 'TooLarge' ? 'Too large for the browser' : `Could not read ${what}`),
    async (action, notices) => {
      const replacesTransactions = !fresh && items.find((it) => it.name === current.name);
      if (fresh || replacesTransactions) {
        let tx;
        let files;
        if (fresh) {
          tx = items[pickTransactions(items)];
          files = [tx, ...items.filter((it) => it !== tx)];
        } else {
          tx = replacesTransactions;
          const others = items.filter((it) => it !== tx);
          files = [tx, ...lookupFiles().filter((f) => !others.some((it) => it.name === f.name)), ...others];
        }
        // A file that cannot be read leaves the engine's dataset as it was (unless the engine
        // had to let go of it to make room: `released`). Once it is read, the engine no longer
        // holds `state.files`: should anything below fail or be cancelled, they are reloaded.
        try {
          await loadFile(tx.name, tx.file, 'transactions', { step: steps(0) });
        } catch (err) {
          if (err.released) state.loadedIn = -1;
          throw err;
        }
        state.loadedIn = -1;
        const kept = [{ name: tx.name, role: 'transactions', file: tx.file, sample: false }];
        for (const [i, f] of files.slice(1).entries()) {
          try {
            await loadFile(f.name, f.file, 'lookup', { step: steps(i + 1) });
            kept.push({ name: f.name, role: 'lookup', file: f.file, sample: false });
          } catch (err) {
            if (err.fatal || isCancelled(err)) throw err;
            notices.push({ title: `Could not read ${f.name}`, message: messageOf(err) });
          }
        }
        committed(kept, action, { fresh });
      } else {
        const files = [...state.files];
        await ensureLoaded();
        let added = false;
        for (const [i, it] of items.entries()) {
          try {
            await loadFile(it.name, it.file, 'lookup', { step: steps(i) });
            added = true;
          } catch (err) {
            // Lookups read before a cancel are in the engine but not in `files`: reload the set.
            if (isCancelled(err) && added) state.loadedIn = -1;
            if (err.fatal || isCancelled(err) || items.length === 1) throw err;
            notices.push({ title: `Could not read ${it.name}`, message: messageOf(err) });
            continue;
          }
          const entry = { name: it.name, role: 'lookup', file: it.file, sample: false };
          const at = files.findIndex((f) => f.name === it.name);
          if (at >= 0) files[at] = entry;
          else files.push(entry);
        }
        if (notices.length === items.length) throw new Error(notices.map((n) => n.message).join('\n'));
        committed(files, action);
      }
      return fetchReport(notices);
    },
  );
}

/** A new dataset from the files already known: another transactions file, or one file fewer. */
function reorganise(files, label, view = null) {
  if (!files.length) return loadSample();
  return run(label, async (action) => {
    try {
      await loadIntoEngine(files);
    } catch (err) {
      state.loadedIn = -1; // the engine holds half of the new set: reload the old one next time
      throw err;
    }
    committed(files, action, { fresh: true, view });
    return fetchReport();
  });
}

function useAsTransactions(name) {
  const target = state.files.find((f) => f.name === name);
  if (!target || target.sample) return undefined;
  const files = [
    { ...target, role: 'transactions' },
    ...state.files.filter((f) => f !== target && !f.sample).map((f) => ({ ...f, role: 'lookup' })),
  ];
  return reorganise(files, () => `Could not use ${name} as the transactions file`);
}

function removeFile(name) {
  const target = state.files.find((f) => f.name === name);
  if (!target) return undefined;
  if (target.role === 'transactions') {
    // The next file takes its place; with none left, the page goes back to the sample.
    const rest = state.files.filter((f) => f !== target && !f.sample);
    const files = rest.map((f, i) => ({ ...f, role: i === 0 ? 'transactions' : 'lookup' }));
    return reorganise(files, () => `Could not remove ${name}`);
  }
  return run(
    () => `Could not remove ${name}`,
    async (action, notices) => {
      await ensureLoaded();
      await engine.call('removeLookup', { name });
      state.files = state.files.filter((f) => f !== target);
      state.joins.delete(name);
      // Joins that took their key from the removed file's columns are switched off by fetchReport.
      return fetchReport(notices);
    },
  );
}

/** The user changed a join: `on` '' means "do not join". */
function setJoin(name, on, key) {
  const j = state.joins.get(name) || { on: null, key: null, enabled: false, suggested: false, error: '' };
  j.error = '';
  if (on) {
    j.on = on;
    j.key = key || null;
    j.enabled = true;
  } else {
    j.enabled = false;
  }
  state.joins.set(name, j);
  return refresh();
}

function setStatusOverride(raw, normal) {
  if (state.statusDefaults[raw] === normal) delete state.statuses[raw];
  else state.statuses[raw] = normal;
  return refresh();
}

/**
 * Adds (index = the list's length), changes or, with empty text, removes a definition of `list`
 * (derived columns, custom metrics) and recomputes. A definition the core cannot use stays listed:
 * the report says why, under its input.
 */
function setDefinition(list, index, text) {
  const definition = text.trim();
  if (definition === (list[index] ?? '')) return undefined;
  if (definition) list[index] = definition;
  else list.splice(index, 1);
  return refresh();
}

const setDerived = (index, text) => setDefinition(state.derive, index, text);
const setMetric = (index, text) => setDefinition(state.metrics, index, text);

/** What the core makes of a definition being typed: { error, formula } or null (no data yet). */
async function checkMetric(definition) {
  try {
    const [outcome] = await engine.call('checkMetrics', { definitions: [definition] });
    return outcome || null;
  } catch {
    return null;
  }
}

/** Shows a metric in the time series chart and scrolls to it. */
function chartMetric(id) {
  state.seriesMetric = id;
  if (state.report) render(state.report);
  document.querySelector('[data-section="series"]')?.scrollIntoView({ block: 'start' });
  return undefined;
}

/** The exchange-rate controls: the currency to convert into (rates start over), or one rate. */
function setRate(currency, rate, apply = true) {
  if (rate === undefined) {
    state.currency = currency;
    state.rates = {};
  } else {
    state.rates[currency] = rate;
  }
  return apply ? refresh() : undefined;
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

function setView(view) {
  if (view === state.view) return;
  state.view = view;
  // Each view opens its time series on the metric it is about (Banks & issuers: success rate…).
  state.seriesMetric = viewById(view).primary;
  if (state.report) render(state.report);
}

function setLargeAmount(value) {
  if (value === state.largeAmount) return undefined;
  state.largeAmount = value;
  return refresh();
}

function openMetric(id) {
  if (state.report) openMetricDialog(el, state.report, id, state);
}

function removeFilter(column) {
  state.filters = state.filters.filter((f) => f.column !== column);
  if (state.filterDraft?.column === column) closeFilterEditor(false);
  el.addFilter.focus({ preventScroll: true });
  return refresh();
}

function editFilter(column) {
  const f = state.filters.find((x) => x.column === column);
  openFilterEditor(f ? { column, values: [...f.values], exclude: !!f.exclude, search: '' } : null);
}

const handlers = {
  useAsTransactions,
  removeFile,
  setJoin,
  setStatusOverride,
  setDerived,
  setMetric,
  checkMetric,
  chartMetric,
  setRate,
  setView,
  setLargeAmount,
  openMetric,
  removeFilter,
  editFilter,
  rerender: () => state.report && render(state.report),
};

// Controls the panels rebuild on every report, by the data attribute that names them: the one
// that had the focus gets it back, so keyboard users keep their place.
const FOCUS_KEYS = ['joinOn', 'joinKey', 'role', 'statusFor', 'useAsTransactions', 'removeFile', 'grain', 'derive', 'metricDefinition', 'chartMetric', 'rate', 'openMetric', 'view', 'mixMode', 'editFilter', 'weekStart', 'watch', 'openGuardrail', 'largeAmount'];

function focusKey() {
  const node = document.activeElement;
  if (!node || node === document.body || !node.dataset) return null;
  const attr = FOCUS_KEYS.find((k) => node.dataset[k] !== undefined);
  return attr ? { attr, value: node.dataset[attr], tag: node.tagName } : null;
}

function restoreFocus(key) {
  if (!key || (document.activeElement && document.activeElement !== document.body)) return;
  const kebab = key.attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const node = [...document.querySelectorAll(`[data-${kebab}]`)].find((e) => e.dataset[key.attr] === key.value && e.tagName === key.tag);
  node?.focus({ preventScroll: true });
  // A text field that was typed in gets its caret back at the end.
  if (node?.tagName === 'INPUT') node.setSelectionRange(node.value.length, node.value.length);
}

function render(report) {
  const focus = focusKey();
  try {
    renderAll(report);
  } finally {
    restoreFocus(focus);
  }
  followView();
}

// ---- the address follows the view (live-link.js) ---------------------------------------------------

let live = null; // the address writer, once imported
let liveImport = null;
// The page's default view (the sample, nothing changed) keeps a clean address: what it holds, as
// text, taken on the page's first load of the default sample (`cleanFrom`: the action doing it).
let cleanView = null;
let cleanFrom = 0;
let shownSignature = null; // the view of the last render: an open Share panel follows its changes

/** What a link holds of the view (share.js viewOfState), as text, to compare with cleanView. */
function viewSignature() {
  const files = state.files.map((f) => [f.name, f.role, !!f.sample]);
  return JSON.stringify([reportOptions(), files, state.sample, state.view, state.seriesMetric, state.retention, state.period, state.custom, state.currency, state.rates]);
}

/**
 * After every render: the address gets the link of the view on screen (live-link.js, imported
 * after the first change), or no link for the default view. Not while a file link waits for its
 * files: the address keeps that link until they are given.
 */
function followView() {
  if (!state.report) return;
  const signature = viewSignature();
  if (cleanFrom === state.action) {
    cleanView = signature;
    cleanFrom = -1;
  }
  if (share?.waiting()) return;
  if (signature !== shownSignature) share?.viewChanged();
  shownSignature = signature;
  if (signature === cleanView) {
    if (live) live.clear();
    else if (looksLikeLink(window.location.hash)) history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}`);
    el.app.dataset.address = 'clean';
    return;
  }
  el.app.dataset.address = 'pending';
  liveImport ||= import('./live-link.js').then(
    (module) => (live = module.createLiveLink({ state, isSample, follow: followView, status: (text) => (el.linkStatus.textContent = text) })),
    (err) => {
      liveImport = null;
      throw err;
    },
  );
  // Written when the module is there, from the state as it is then (a later view wins).
  liveImport.then(
    (writer) => {
      if (!share?.waiting()) el.app.dataset.address = writer.write();
    },
    (err) => console.warn('Paymetrics: the address cannot follow the view;', String(err)),
  );
}

function renderAll(report) {
  state.report = report;
  for (const s of report.statuses || []) {
    if (!Object.prototype.hasOwnProperty.call(state.statuses, s.raw)) state.statusDefaults[s.raw] = s.status;
  }
  renderDataset(report);
  renderDropzone();
  renderTzAuto(report);
  renderDateOrder(report);
  renderFiles(el, report, state, handlers);
  renderRates(el, report, state, handlers);
  renderDashboard(el, report, state, handlers);
  renderMetricEditor(el.customMetrics, report, state, handlers);
  if (state.filterDraft) renderFilterEditor(el, report, state.filterDraft);
  renderMapping(report);
  renderDerive(el, report, state, handlers);
  renderStatuses(el, report, state, handlers);
  renderQuality(el, report, state);
}

function renderDataset(report) {
  const q = report.quality || {};
  el.datasetName.textContent = report.file || q.file || 'Untitled';
  const joined = (report.joins || []).length;
  const parts = [
    `${formatCount(q.rows_loaded)} rows loaded`,
    q.rows_skipped ? `${formatCount(q.rows_skipped)} skipped` : null,
    Array.isArray(report.columns) ? `${report.columns.length} columns` : null,
    joined ? `${plural(joined, 'lookup')} joined` : null,
    Array.isArray(report.currencies) && report.currencies.length ? report.currencies.join(', ') : null,
    report.data_range?.from
      ? `${report.data_range.from} → ${report.data_range.to}`
      : report.series?.length
        ? `${report.series[0].bucket} → ${report.series[report.series.length - 1].bucket}`
        : null,
  ];
  el.datasetMeta.textContent = parts.filter(Boolean).join(' · ');
  el.streamedNote.hidden = !state.streamed;
  el.streamedNote.textContent = state.streamed
    ? `${bytes(state.streamed.bytes)}: too large to hold in the browser, so it is read from disk again for each view. A segment reads it twice more.`
    : '';
}

function renderDropzone() {
  const tx = transactionsFile();
  if (tx && !tx.sample) {
    el.dropTitle.replaceChildren('Add lookup files to join, or ', h('span', { class: 'link-like' }, 'choose files'));
    el.dropHint.textContent = `Users, merchants, orders… are joined onto ${tx.name} by a shared column · “Start over” to analyse another transactions file`;
  } else {
    el.dropTitle.replaceChildren('Drop your transactions CSV here, or ', h('span', { class: 'link-like' }, 'choose files'));
    el.dropHint.textContent = 'Several files at once: the transactions and the lookups to join (users, merchants, orders) · CSV, TSV or TXT, wallet bill exports included';
  }
  el.startOver.hidden = !tx || tx.sample;
  el.filesCaption.textContent = tx?.sample
    ? 'The sample’s transactions and its two lookup tables, joined by their ids.'
    : 'Your transactions file and the lookup files joined onto it. Nothing leaves this browser.';
}

function renderTzAuto(report) {
  const auto = el.tz.querySelector('option[value=""]');
  auto.textContent = state.tz === null && report.tz ? `Auto (${tzLabel(report.tz)})` : 'Auto (from the data)';
}

function renderDateOrder(report) {
  // A warning about day/month order brings the choice to the top, next to the warning itself.
  const warning = (report.quality?.warnings || []).find((w) => isDateOrderWarning(w));
  el.dateCallout.hidden = !warning;
  el.dateOrderControl.classList.toggle('is-prominent', !!warning);
  el.dateCalloutText.textContent = warning ? String(warning) : '';
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
      select.append(h('option', { value: String(i) }, c === '' ? `(column ${i + 1}, no name)` : c));
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
          { class: 'map-summary', dataset: { roleSummary: m.role }, title: m.column == null ? null : `${m.role} ← ${m.column}` },
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

// ---- controls ---------------------------------------------------------------------------------

/** "Asia/Shanghai · +08:00", "Europe/London · +00:00/+01:00" (its offsets this year). */
function zoneLabel(zone) {
  if (zone === 'UTC') return 'UTC';
  try {
    const year = new Date().getFullYear();
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    const offset = (d) => (fmt.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value || '').replace(/^GMT$/, 'GMT+00:00').replace('GMT', '');
    // Standard time first: January in the north, July in the south.
    const minutes = (o) => (o.startsWith('-') ? -1 : 1) * (Number(o.slice(1, 3)) * 60 + Number(o.slice(4, 6)));
    const [a, b] = [offset(new Date(Date.UTC(year, 0, 15))), offset(new Date(Date.UTC(year, 6, 15)))].sort((x, y) => minutes(x) - minutes(y));
    if (!a) return zone;
    return `${zone.replace(/_/g, ' ')} · ${a === b ? a : `${a}/${b}`}`;
  } catch {
    return zone;
  }
}

function buildTzSelect() {
  el.tz.append(h('option', { value: '' }, 'Auto (from the data)'));
  el.tz.append(h('optgroup', { label: 'Time zones', dataset: { group: 'zones' } }, TZ_NAMES.map((z) => h('option', { value: z }, zoneLabel(z)))));
  el.tz.append(h('optgroup', { label: 'UTC offsets', dataset: { group: 'offsets' } }, TZ_OFFSETS.map((tz) => h('option', { value: tz }, tzLabel(tz)))));
  el.tz.value = '';
  el.tz.addEventListener('change', () => {
    state.tz = el.tz.value === '' ? null : el.tz.value;
    state.tzChosen = state.tz !== null;
    refresh();
  });
}

function bindOptions() {
  el.decimal.addEventListener('change', () => {
    state.decimal = el.decimal.value;
    refresh();
  });
  const setDateOrder = (value) => {
    state.dateOrder = value;
    el.dateOrder.value = value;
    el.dateOrderProminent.value = value;
    refresh();
  };
  el.dateOrder.addEventListener('change', () => setDateOrder(el.dateOrder.value));
  el.dateOrderProminent.addEventListener('change', () => setDateOrder(el.dateOrderProminent.value));
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
  el.fileInput.addEventListener('change', () => {
    const files = [...(el.fileInput.files || [])];
    el.fileInput.value = '';
    addFiles(files);
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
    addFiles(event.dataTransfer.files);
  });
}

// ---- the report bar: period, week start, segment, filters -------------------------------------------

function bindReportBar() {
  el.period.addEventListener('change', () => {
    const value = el.period.value;
    state.period = value;
    if (value === 'custom') {
      // Start from the period on screen; the report is asked for once both dates are valid.
      const shown = state.report?.range || state.dataRange;
      if (!state.custom.from) state.custom.from = shown?.from || '';
      if (!state.custom.to) state.custom.to = shown?.to || '';
      el.customRange.hidden = false;
      el.rangeFrom.value = state.custom.from;
      el.rangeTo.value = state.custom.to;
      el.rangeFrom.focus();
      if (!rangeOption()) return;
    }
    refresh();
  });
  const setDate = () => {
    state.custom = { from: el.rangeFrom.value, to: el.rangeTo.value };
    const ok = !!rangeOption();
    el.rangeFrom.setAttribute('aria-invalid', String(!ok));
    el.rangeTo.setAttribute('aria-invalid', String(!ok));
    if (ok) refresh();
  };
  el.rangeFrom.addEventListener('change', setDate);
  el.rangeTo.addEventListener('change', setDate);

  el.weekStart.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-week-start]');
    if (!button || button.dataset.weekStart === state.weekStart) return;
    state.weekStart = button.dataset.weekStart;
    for (const b of el.weekStart.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
    refresh();
  });

  el.segment.addEventListener('change', () => {
    state.segment = el.segment.value || null;
    refresh();
  });

  el.seriesMetric.addEventListener('change', () => {
    state.seriesMetric = el.seriesMetric.value;
    if (state.report) render(state.report);
  });

  $('#funnel-days').addEventListener('change', (event) => {
    state.funnelDays = Number(event.target.value);
    refresh();
  });
  $('#retention-basis').addEventListener('change', (event) => {
    state.cohort = event.target.value;
    refresh();
  });

  for (const [group, key] of [
    ['#retention-grain', 'retentionGrain'],
    ['#retention-kind', 'retentionKind'],
  ]) {
    $(group).addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button || button.disabled) return;
      if (key === 'retentionGrain') state.retention.grain = button.dataset.retentionGrain;
      else state.retention.kind = button.dataset.retentionKind;
      if (state.report) render(state.report);
    });
  }

  // Filters: the editor opens under the button; Apply adds (or replaces) the column's filter.
  el.addFilter.addEventListener('click', () => {
    if (state.filterDraft) closeFilterEditor(true);
    else openFilterEditor(null);
  });
  el.filterColumn.addEventListener('change', () => {
    const column = el.filterColumn.value;
    const existing = state.filters.find((f) => f.column === column);
    state.filterDraft = { column, values: existing ? [...existing.values] : [], exclude: !!existing?.exclude, search: el.filterSearch.value };
    renderFilterEditor(el, state.report, state.filterDraft);
  });
  el.filterMode.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-mode]');
    if (!button || !state.filterDraft) return;
    state.filterDraft.exclude = button.dataset.mode === 'exclude';
    for (const b of el.filterMode.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
  });
  el.filterSearch.addEventListener('input', () => {
    if (!state.filterDraft) return;
    state.filterDraft.search = el.filterSearch.value;
    renderFilterEditor(el, state.report, state.filterDraft);
  });
  el.filterApply.addEventListener('click', () => {
    const d = state.filterDraft;
    if (!d || !d.values.length) return;
    const filter = { column: d.column, values: [...d.values], exclude: d.exclude };
    const at = state.filters.findIndex((f) => f.column === d.column);
    if (at >= 0) state.filters[at] = filter;
    else state.filters.push(filter);
    closeFilterEditor(true);
    refresh();
  });
  el.filterCancel.addEventListener('click', () => closeFilterEditor(true));
  el.filterEditor.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      closeFilterEditor(true);
    }
  });
}

function openFilterEditor(draft) {
  if (!state.report) return;
  const dims = dimensionsOf(state.report);
  if (!dims.length && !draft) return;
  const taken = new Set(state.filters.map((f) => f.column));
  const column = draft?.column || (dims.find((d) => !taken.has(d.column)) || dims[0]).column;
  const existing = state.filters.find((f) => f.column === column);
  state.filterDraft = draft || { column, values: existing ? [...existing.values] : [], exclude: !!existing?.exclude, search: '' };
  el.filterSearch.value = state.filterDraft.search;
  el.filterEditor.hidden = false;
  el.addFilter.setAttribute('aria-expanded', 'true');
  renderFilterEditor(el, state.report, state.filterDraft);
  el.filterColumn.focus();
}

function closeFilterEditor(returnFocus) {
  state.filterDraft = null;
  if (!el.filterEditor) return;
  el.filterEditor.hidden = true;
  el.addFilter.setAttribute('aria-expanded', 'false');
  if (returnFocus) el.addFilter.focus({ preventScroll: true });
}

function bindDialog() {
  el.metricDialogClose.addEventListener('click', () => closeMetricDialog(el));
  el.metricDialog.addEventListener('close', () => disposeDialogCharts());
  // A click on the backdrop (outside the dialog's box) closes it.
  el.metricDialog.addEventListener('click', (event) => {
    if (event.target !== el.metricDialog) return;
    const r = el.metricDialog.getBoundingClientRect();
    const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
    if (!inside) closeMetricDialog(el);
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
  el.errorRetry.addEventListener('click', () => retryAction?.());
  el.loadCancel.addEventListener('click', () => cancelLoad());
  el.loadSample.addEventListener('click', () => loadSample());
  el.startOver.addEventListener('click', () => loadSample());
  el.resetMapping.addEventListener('click', () => {
    state.overrides = {};
    refresh();
  });
  el.resetStatuses.addEventListener('click', () => {
    state.statuses = {};
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
bindOptions();
bindFiles();
bindMisc();
bindTableToggle();
bindReportBar();
bindDialog();
onChartExportError((title, message) => showError(title, message));

// Share links and exports (share-ui.js, share.js, export.js) are imported when first needed: a
// click on Share link or an Export button, or a page opened with a link.
let share = null; // the share controls, once imported
let shareImport = null;
function shareControls() {
  shareImport ||= import('./share-ui.js').then(
    (module) => (share = module.setupShare(shareApp)),
    (err) => {
      shareImport = null;
      throw err;
    },
  );
  return shareImport;
}
const looksLikeLink = (hash) => /^#?(v=|s=|[^#]*&s=)/.test(hash || '');

const shareApp = {
  state,
  report: () => state.report,
  options: () => reportOptions(),
  reportOptions: () => computedWith.get(state.report),
  // The SQL of a view (share-ui.js): written by the worker's speed build (src/wasm.rs, sqlScript).
  sqlScript: (params) => engine.call('sqlScript', params),
  isSample,
  openSample: (spec, view) => loadSample(spec, view),
  // `files` may carry `packed`: the compressed data of a file that came embedded in the link.
  // The link's view is applied when the files are in (committed); if they never are (an error,
  // Cancel), it goes with the action and cannot land on the next files dropped.
  openFiles: (files, view) => reorganise(files, () => `Could not read ${files[0]?.name || 'the files'}`, view),
  openDefault: (notice) => {
    linkNotice = notice;
    return loadSample();
  },
  showError: (title, message) => showError(title, message),
  pickFiles: () => el.fileInput.click(),
  follow: () => followView(),
};

function bindShare() {
  const failed = (err) => showError('Could not load the share and export tools', messageOf(err));
  $('#share-link').addEventListener('click', () => shareControls().then((s) => s.toggleShare(), failed));
  $('#exports').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-export]');
    if (button) shareControls().then((s) => s.exportAs(button), failed);
  });
  // A link pasted into the address bar of an open page; or an in-page anchor (the skip link)
  // that took the view's link out of the address: it goes back, so a reload shows the view.
  window.addEventListener('hashchange', () => {
    if (looksLikeLink(window.location.hash)) shareControls().then((s) => s.openLocation(), failed);
    else live?.restore();
  });
}
bindShare();

// A share link in the address opens its view; otherwise (or when it cannot be) the sample.
if (looksLikeLink(window.location.hash)) {
  shareControls()
    .then((s) => s.openLocation())
    .then(
      (opened) => opened || loadSample(),
      (err) => {
        linkNotice = { title: 'This link could not be opened', message: `${messageOf(err)} The default view is shown instead.` };
        loadSample();
      },
    );
} else {
  loadSample();
}
