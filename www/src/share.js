// Share links: the whole view (dataset, mapping, time zone, grain, filters, segment, custom metrics,
// open tab…) in the URL fragment, versioned and validated field by field.
//
// A fragment is `#v=1&s=<view>` with `<view>` the view as JSON in base64url, plus `&data=<…>` when
// the user chose to embed their files (deflate-raw, base64url, one part per file, joined by '.').
// The fragment never reaches a server (browsers do not send it) and opening a link makes no
// request: sample data is referred to by the generator's seed and size, uploaded files by name,
// size and SHA-256, which the recipient's own copy must match.
//
// Everything in a fragment is untrusted: decodeView() accepts only the fields below, with their
// types, allowed values, lengths and counts, and refuses anything else (unknown fields included)
// with a message saying what is wrong. No DOM here: node --test imports this module directly.

export const VERSION = 1;

// Caps: far above any real view, low enough that a link cannot make the page do much work.
export const LIMITS = {
  fragment: 200_000, // characters of the whole fragment (an embedded file included)
  viewJson: 64_000, // bytes of the view's JSON
  text: 512, // a column, file, currency or status name, a filter's value
  definition: 1_000, // a derived column or a custom metric
  list: 50, // derived columns, custom metrics, filters, files, joins, statuses, rates
  values: 1_000, // values of one filter
  embedCompressed: 64 * 1024, // bytes of embedded data, compressed (all files together)
  embedRaw: 8 * 1024 * 1024, // bytes of embedded data once decompressed (a zip bomb stops there)
  sampleRows: 1_000_000,
};

export const GRAINS = ['day', 'week', 'month'];
export const WEEK_STARTS = ['monday', 'sunday'];
export const PERIODS = ['auto', 'all', '7', '30', '90', 'custom'];
export const VIEWS = ['all', 'consumers', 'merchants', 'platform', 'financial_institutions', 'regulators'];
export const DECIMALS = ['', '.', ','];
export const DATE_ORDERS = ['', 'dmy', 'mdy'];
export const COHORTS = ['signup', 'first_payment'];
export const ROLES = ['transactions', 'lookup'];
// The normal forms the page offers for a raw status (panels.js).
export const STATUS_FORMS = ['success', 'failed', 'refunded', 'disputed', 'pending', 'unknown'];

// The defaults of the page (main.js): a field that is left out of a link takes these.
export const DEFAULT_VIEW = Object.freeze({
  mapping: {},
  statuses: {},
  derive: [],
  decimal: '',
  dateOrder: '',
  tz: null,
  grain: 'day',
  weekStart: 'monday',
  period: 'auto',
  custom: null,
  filters: [],
  segment: null,
  seriesMetric: 'tpv',
  view: 'all',
  largeAmount: 50000,
  funnelDays: 30,
  cohort: null,
  retention: { grain: 'week', kind: 'classic' },
  currency: '',
  rates: {},
  joins: [],
  metrics: [],
});

/** A link that cannot be opened: `message` says why, in words for the user. */
export class LinkError extends Error {}

const fail = (message) => {
  throw new LinkError(message);
};

// ---- base64url ---------------------------------------------------------------------------------------

export function toBase64Url(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text, what = 'data') {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) fail(`The link's ${what} is not valid base64url.`);
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---- hashing and compression (Web platform: crypto.subtle, CompressionStream) ------------------------------

/** SHA-256 of `bytes` (ArrayBuffer or view) as 64 lowercase hex digits. */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function collect(stream, limit) {
  const reader = stream.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      fail('The data in the link is larger than it says.');
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function deflate(bytes) {
  return collect(new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate-raw')), Infinity);
}

/** Inflates at most `limit` bytes: a link cannot make the page decompress more than it declares. */
export async function inflate(bytes, limit) {
  try {
    return await collect(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')), limit);
  } catch (err) {
    if (err instanceof LinkError) throw err;
    return fail('The data in the link is damaged (it does not decompress).');
  }
}

// ---- validation ------------------------------------------------------------------------------------------

const isPlain = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

function only(obj, keys, what) {
  if (!isPlain(obj)) fail(`${what} must be an object.`);
  for (const k of Object.keys(obj)) if (!keys.includes(k)) fail(`${what} has an unknown field “${k.slice(0, 40)}”.`);
}

function text(v, what, { max = LIMITS.text, empty = false } = {}) {
  if (typeof v !== 'string') fail(`${what} must be text.`);
  if (!empty && v === '') fail(`${what} is empty.`);
  if (v.length > max) fail(`${what} is longer than ${max} characters.`);
  // No control characters but tab and line breaks (a quoted CSV cell may hold those).
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) fail(`${what} contains control characters.`);
  return v;
}

function oneOf(v, allowed, what) {
  if (!allowed.includes(v)) fail(`${what} must be one of ${allowed.map((a) => (a === '' ? '(empty)' : a)).join(', ')}.`);
  return v;
}

function list(v, what, max = LIMITS.list) {
  if (!Array.isArray(v)) fail(`${what} must be a list.`);
  if (v.length > max) fail(`${what} has more than ${max} entries.`);
  return v;
}

function int(v, what, min, max) {
  if (!Number.isInteger(v) || v < min || v > max) fail(`${what} must be a whole number from ${min} to ${max}.`);
  return v;
}

function bool(v, what) {
  if (typeof v !== 'boolean') fail(`${what} must be true or false.`);
  return v;
}

function dict(v, what, value) {
  if (!isPlain(v)) fail(`${what} must be an object.`);
  const keys = Object.keys(v);
  if (keys.length > LIMITS.list) fail(`${what} has more than ${LIMITS.list} entries.`);
  const out = {};
  for (const k of keys) {
    text(k, `A name in ${what}`, { empty: true });
    if (k === '__proto__') fail(`${what} has a forbidden name.`);
    out[k] = value(v[k], `${what}.${k.slice(0, 40)}`);
  }
  return out;
}

const DAY = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
// IANA names (Asia/Shanghai, America/Argentina/Buenos_Aires, UTC) or UTC offsets (+05:30).
const TZ = /^(?:[A-Za-z][A-Za-z0-9_+-]{0,30}(?:\/[A-Za-z0-9_+-]{1,30}){0,2}|[+-](?:0\d|1[0-4]):[0-5]\d)$/;
const HEX64 = /^[0-9a-f]{64}$/;
const METRIC_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

function fileEntry(f, what) {
  only(f, ['name', 'size', 'sha256', 'role'], what);
  return {
    name: text(f.name, `${what}: the name`),
    size: int(f.size, `${what}: the size`, 0, Number.MAX_SAFE_INTEGER),
    sha256: f.sha256 === null ? null : HEX64.test(f.sha256) ? f.sha256 : fail(`${what}: the SHA-256 must be 64 hex digits.`),
    role: oneOf(f.role, ROLES, `${what}: the role`),
  };
}

function dataset(d) {
  only(d, ['kind', 'seed', 'rows', 'files'], 'The dataset');
  if (d.kind === 'sample') {
    only(d, ['kind', 'seed', 'rows'], 'The sample dataset');
    return { kind: 'sample', seed: int(d.seed, 'The sample seed', 0, 2 ** 32 - 1), rows: int(d.rows, 'The sample size', 1, LIMITS.sampleRows) };
  }
  if (d.kind === 'files' || d.kind === 'embedded') {
    only(d, ['kind', 'files'], 'The files dataset');
    const files = list(d.files, 'The files', 20).map((f, i) => fileEntry(f, `File ${i + 1}`));
    if (!files.length) fail('The link names no file.');
    if (files.filter((f) => f.role === 'transactions').length !== 1 || files[0].role !== 'transactions') fail('The link must name one transactions file, first.');
    if (new Set(files.map((f) => f.name)).size !== files.length) fail('The link names a file twice.');
    if (d.kind === 'embedded') {
      if (files.some((f) => f.sha256 === null)) fail('An embedded file has no SHA-256.');
      if (files.reduce((s, f) => s + f.size, 0) > LIMITS.embedRaw) fail('The embedded data is too large.');
    }
    return { kind: d.kind, files };
  }
  return fail('The dataset must be the sample, files or embedded files.');
}

const FIELDS = ['dataset', ...Object.keys(DEFAULT_VIEW)];

/** Validates a parsed view (from JSON): a clean copy with every field, or a LinkError. */
export function validateView(raw) {
  only(raw, FIELDS, 'The view');
  if (raw.dataset === undefined) fail('The link has no dataset.');
  const v = structuredCloneView(DEFAULT_VIEW);
  v.dataset = dataset(raw.dataset);
  const has = (k) => raw[k] !== undefined;
  if (has('mapping')) v.mapping = dict(raw.mapping, 'The mapping', (c, what) => (c === null ? null : text(c, what, { empty: true })));
  if (has('statuses')) v.statuses = dict(raw.statuses, 'The statuses', (s, what) => oneOf(s, STATUS_FORMS, what));
  if (has('derive')) v.derive = list(raw.derive, 'The derived columns').map((d, i) => text(d, `Derived column ${i + 1}`, { max: LIMITS.definition }));
  if (has('decimal')) v.decimal = oneOf(raw.decimal, DECIMALS, 'The decimal separator');
  if (has('dateOrder')) v.dateOrder = oneOf(raw.dateOrder, DATE_ORDERS, 'The date order');
  if (has('tz')) v.tz = raw.tz === null ? null : TZ.test(text(raw.tz, 'The time zone', { max: 64 })) ? raw.tz : fail('The time zone is not a zone name or a UTC offset.');
  if (has('grain')) v.grain = oneOf(raw.grain, GRAINS, 'The grain');
  if (has('weekStart')) v.weekStart = oneOf(raw.weekStart, WEEK_STARTS, 'The first day of the week');
  if (has('period')) v.period = oneOf(raw.period, PERIODS, 'The period');
  if (has('custom') && raw.custom !== null) {
    only(raw.custom, ['from', 'to'], 'The custom period');
    const { from, to } = raw.custom;
    if (typeof from !== 'string' || typeof to !== 'string' || !DAY.test(from) || !DAY.test(to) || from > to) fail('The custom period must be two dates (YYYY-MM-DD), the first not after the second.');
    v.custom = { from, to };
  }
  if (v.period === 'custom' && !v.custom) fail('The custom period has no dates.');
  if (has('filters')) {
    v.filters = list(raw.filters, 'The filters').map((f, i) => {
      only(f, ['column', 'values', 'exclude'], `Filter ${i + 1}`);
      const values = list(f.values, `The values of filter ${i + 1}`, LIMITS.values).map((x) => text(x, `A value of filter ${i + 1}`, { empty: true }));
      if (!values.length) fail(`Filter ${i + 1} keeps no value.`);
      return { column: text(f.column, `The column of filter ${i + 1}`), values, exclude: f.exclude === undefined ? false : bool(f.exclude, `Filter ${i + 1}: exclude`) };
    });
    if (new Set(v.filters.map((f) => f.column)).size !== v.filters.length) fail('Two filters are on the same column.');
  }
  if (has('segment')) v.segment = raw.segment === null ? null : text(raw.segment, 'The segment column');
  if (has('seriesMetric')) v.seriesMetric = METRIC_ID.test(text(raw.seriesMetric, 'The chart metric', { max: 64 })) ? raw.seriesMetric : fail('The chart metric is not a metric id.');
  if (has('view')) v.view = oneOf(raw.view, VIEWS, 'The tab');
  if (has('largeAmount')) {
    if (typeof raw.largeAmount !== 'number' || !Number.isFinite(raw.largeAmount) || raw.largeAmount <= 0 || raw.largeAmount > 1e15) fail('The large-amount threshold must be a positive number.');
    v.largeAmount = raw.largeAmount;
  }
  if (has('funnelDays')) v.funnelDays = int(raw.funnelDays, 'The funnel window', 1, 366);
  if (has('cohort')) v.cohort = raw.cohort === null ? null : oneOf(raw.cohort, COHORTS, 'The cohort basis');
  if (has('retention')) {
    only(raw.retention, ['grain', 'kind'], 'The retention settings');
    v.retention = { grain: oneOf(raw.retention.grain, ['week', 'month'], 'The retention grain'), kind: oneOf(raw.retention.kind, ['classic', 'unbounded'], 'The retention kind') };
  }
  // Currencies as the data spells them (CNY, but also RMB or ¥): short text.
  if (has('currency')) v.currency = text(raw.currency, 'The currency', { max: 16, empty: true });
  if (has('rates')) {
    v.rates = dict(raw.rates, 'The exchange rates', (r, what) => text(r, what, { max: 32, empty: true }));
    for (const k of Object.keys(v.rates)) text(k, 'The currency of an exchange rate', { max: 16 });
  }
  if (has('joins')) {
    v.joins = list(raw.joins, 'The joins').map((j, i) => {
      only(j, ['file', 'on', 'key', 'enabled'], `Join ${i + 1}`);
      return {
        file: text(j.file, `The file of join ${i + 1}`),
        on: j.on === null ? null : text(j.on, `The column of join ${i + 1}`),
        key: j.key === null || j.key === undefined ? null : text(j.key, `The key of join ${i + 1}`),
        enabled: bool(j.enabled, `Join ${i + 1}: enabled`),
      };
    });
  }
  if (has('metrics')) v.metrics = list(raw.metrics, 'The custom metrics').map((m, i) => text(m, `Custom metric ${i + 1}`, { max: LIMITS.definition }));
  return v;
}

function structuredCloneView(v) {
  return JSON.parse(JSON.stringify(v));
}

// ---- encode and decode -------------------------------------------------------------------------------------

/**
 * The view of the page's `state` (main.js) as a plain object: `dataset` is built by the caller
 * (it needs the files' hashes). Only what differs from DEFAULT_VIEW is kept, for shorter links.
 */
export function viewOfState(state, dataset) {
  const view = {
    dataset,
    mapping: { ...state.overrides },
    statuses: { ...state.statuses },
    derive: [...state.derive],
    decimal: state.decimal,
    dateOrder: state.dateOrder,
    tz: state.tz,
    grain: state.grain,
    weekStart: state.weekStart,
    period: state.period,
    custom: state.period === 'custom' && state.custom?.from && state.custom?.to ? { from: state.custom.from, to: state.custom.to } : null,
    filters: state.filters.map((f) => ({ column: f.column, values: [...f.values], exclude: !!f.exclude })),
    segment: state.segment,
    seriesMetric: state.seriesMetric,
    view: state.view,
    largeAmount: state.largeAmount,
    funnelDays: state.funnelDays,
    cohort: state.cohort,
    retention: { grain: state.retention.grain, kind: state.retention.kind },
    currency: state.currency,
    rates: { ...state.rates },
    joins: [...state.joins].map(([file, j]) => ({ file, on: j.on ?? null, key: j.key ?? null, enabled: !!j.enabled })),
    metrics: [...(state.metrics || [])],
  };
  for (const [k, def] of Object.entries(DEFAULT_VIEW)) if (JSON.stringify(view[k]) === JSON.stringify(def)) delete view[k];
  return view;
}

/**
 * The fragment (without '#') of `view`; `data` is the embedded files' compressed bytes, in the
 * order of view.dataset.files, only for an `embedded` dataset. The view is validated first: a
 * link the page could not open again is never handed out.
 */
export function encodeView(view, data = null) {
  validateView(JSON.parse(JSON.stringify(view)));
  const json = new TextEncoder().encode(JSON.stringify(view));
  if (json.length > LIMITS.viewJson) throw new LinkError('The view is too large for a link.');
  let fragment = `v=${VERSION}&s=${toBase64Url(json)}`;
  if (view.dataset.kind === 'embedded') {
    if (!data || data.length !== view.dataset.files.length) throw new LinkError('The embedded data is missing.');
    if (data.reduce((s, d) => s + d.length, 0) > LIMITS.embedCompressed) throw new LinkError('The data is too large to embed in a link.');
    fragment += `&data=${data.map((d) => toBase64Url(d)).join('.')}`;
  } else if (data) {
    throw new LinkError('Only an embedded dataset carries data.');
  }
  return fragment;
}

/** Does this fragment look like a share link at all (the page ignores other fragments)? */
export function isShareFragment(fragment) {
  const f = String(fragment || '').replace(/^#/, '');
  return /^(v=|s=|[^#]*&s=)/.test(f);
}

/**
 * The view of a fragment (with or without '#'): { view, data } where `data` is the embedded
 * files' compressed bytes (or null), or { error } with a message for the user.
 */
export function decodeView(fragment) {
  try {
    const f = String(fragment ?? '').replace(/^#/, '');
    if (f.length > LIMITS.fragment) fail('The link is too long.');
    const params = new Map();
    for (const part of f.split('&')) {
      const at = part.indexOf('=');
      if (at < 1) fail('The link is malformed.');
      const key = part.slice(0, at);
      if (!['v', 's', 'data'].includes(key)) fail(`The link has an unknown part “${key.slice(0, 20)}”.`);
      if (params.has(key)) fail(`The link has “${key}” twice.`);
      params.set(key, part.slice(at + 1));
    }
    const version = params.get('v');
    if (version === undefined) fail('The link has no version.');
    if (version !== String(VERSION)) fail(`The link is of version ${version.slice(0, 10)}; this page opens version ${VERSION} links.`);
    if (!params.has('s')) fail('The link has no view.');
    const json = fromBase64Url(params.get('s'), 'view');
    if (json.length > LIMITS.viewJson) fail('The view in the link is too large.');
    let raw;
    try {
      raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
    } catch {
      fail('The view in the link is not valid JSON.');
    }
    const view = validateView(raw);
    let data = null;
    if (view.dataset.kind === 'embedded') {
      if (!params.has('data')) fail('The link says it embeds data but has none.');
      const parts = params.get('data').split('.');
      if (parts.length !== view.dataset.files.length) fail('The embedded data does not match the files the link names.');
      data = parts.map((p) => fromBase64Url(p, 'embedded data'));
      if (data.reduce((s, d) => s + d.length, 0) > LIMITS.embedCompressed) fail('The embedded data is too large.');
    } else if (params.has('data')) {
      fail('The link carries data for a dataset that is not embedded.');
    }
    return { view, data };
  } catch (err) {
    if (err instanceof LinkError) return { error: err.message };
    return { error: `The link could not be read (${String(err?.message || err).slice(0, 100)}).` };
  }
}

/** The embedded files of a decoded link, decompressed and checked against their size and SHA-256. */
export async function unpackEmbedded(view, data) {
  const out = [];
  for (const [i, f] of view.dataset.files.entries()) {
    const bytes = await inflate(data[i], f.size);
    if (bytes.length !== f.size || (await sha256Hex(bytes)) !== f.sha256) fail(`The data of ${f.name} in the link is not what the link says (size or SHA-256 differ).`);
    out.push({ ...f, bytes });
  }
  return out;
}

/**
 * How `got` ([{ name, size, sha256 }], the files the recipient dropped) compares with the files
 * the link names: { ok, missing, problems: [text] }. A hash of null (a file too large to hash
 * when the link was made) is not checked.
 */
export function compareFiles(wanted, got) {
  const problems = [];
  const missing = [];
  for (const w of wanted) {
    const g = got.find((x) => x.name === w.name) || (got.length === 1 && wanted.length === 1 ? got[0] : null);
    if (!g) {
      missing.push(w.name);
      continue;
    }
    if (g.name !== w.name) problems.push(`The file is named ${g.name}, the link expects ${w.name}.`);
    if (g.size !== w.size) problems.push(`${g.name} is ${g.size} bytes, the link expects ${w.size}.`);
    else if (w.sha256 && g.sha256 && g.sha256 !== w.sha256) problems.push(`${g.name} has the right size but different content (SHA-256 differs).`);
  }
  return { ok: !missing.length && !problems.length, missing, problems };
}
