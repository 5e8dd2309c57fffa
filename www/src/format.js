// Number and date formatting for the KPI cards, tables, tooltips and chart axes. One locale for the
// whole page so the numbers read the same everywhere (and in screenshots): en-US grouping,
// "CNY 1,234.56", "12.34%", "12.3 bps", "26.4 h", "245 ms".
const LOCALE = 'en-US';

const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const decimal1 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const decimal2 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent1 = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 1 });
const compact2 = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 2 });

const currencyFormats = new Map();

/** Formatter for an ISO 4217 code, or null when the code is not one Intl accepts. */
function currencyFormat(code) {
  if (!currencyFormats.has(code)) {
    let fmt = null;
    try {
      fmt = new Intl.NumberFormat(LOCALE, {
        style: 'currency',
        currency: code,
        currencyDisplay: 'code',
        minimumFractionDigits: 2,
        maximumFractionDigits: 2,
      });
    } catch {
      fmt = null;
    }
    currencyFormats.set(code, fmt);
  }
  return currencyFormats.get(code);
}

export const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

/** An exchange rate as typed ("7.1", "7,1"): a positive number, else null. */
export function parseRate(text) {
  const t = String(text ?? '').trim().replace(',', '.');
  const n = Number(t);
  return t && Number.isFinite(n) && n > 0 ? n : null;
}

/**
 * A metric value as text. unit: currency | count | ratio | bps | hours | milliseconds | index
 * (docs/report.md). Counts that are averages (transactions per payer) keep two decimals.
 */
export function formatValue(value, unit, currency = null) {
  if (!isNumber(value)) return '—';
  switch (unit) {
    case 'currency': {
      const fmt = currency ? currencyFormat(currency) : null;
      if (fmt) return fmt.format(value).replace(/\u00a0/g, ' ');
      return currency ? `${currency} ${decimal2.format(value)}` : decimal2.format(value);
    }
    case 'ratio':
      return percent.format(value);
    case 'count':
      return Number.isInteger(value) ? integer.format(value) : decimal2.format(value);
    case 'bps':
      return `${decimal1.format(value)} bps`;
    case 'hours':
      return `${decimal1.format(value)} h`;
    case 'milliseconds':
      return `${Math.abs(value) < 1000 && !Number.isInteger(value) ? decimal1.format(value) : integer.format(value)} ms`;
    case 'index':
      return integer.format(value);
    default:
      return Number.isInteger(value) ? integer.format(value) : decimal2.format(value);
  }
}

/** Shorter, for previous values and tooltips: "CNY 5.47M", "12.34%", "4.4K". */
export function formatShort(value, unit, currency = null) {
  if (!isNumber(value)) return '—';
  if (unit === 'currency') {
    const body = Math.abs(value) >= 100000 ? compact2.format(value) : decimal2.format(value);
    return currency ? `${currency} ${body}` : body;
  }
  if ((unit === 'count' || unit === 'index') && Math.abs(value) >= 100000) return compact2.format(value);
  return formatValue(value, unit, currency);
}

/** Short axis labels: 12.3K, 4.5M, 91%, 12 bps. */
export function formatAxis(value, unit) {
  if (!isNumber(value)) return '';
  if (unit === 'ratio') {
    const digits = Math.abs(value) < 0.1 && value !== 0 ? 1 : 0;
    return `${(value * 100).toFixed(digits)}%`;
  }
  const n = Math.abs(value) >= 1000 ? compact.format(value) : Number.isInteger(value) ? integer.format(value) : String(Number(value.toFixed(2)));
  if (unit === 'bps') return `${n} bps`;
  if (unit === 'hours') return `${n} h`;
  if (unit === 'milliseconds') return `${n} ms`;
  return n;
}

export const formatCount = (n) => (isNumber(n) ? integer.format(n) : '—');
export const formatPercent = (x, digits = 1) => (isNumber(x) ? (digits === 1 ? percent1 : percent).format(x) : '—');

const ARROW = { up: '▲', down: '▼', flat: '■' };

/**
 * The change of a metric from the previous period, as the card shows it: relative for amounts and
 * counts, percentage points for ratios, a difference in bps for bps. `tone` says whether it moved
 * the good way (good | bad | neutral), from the metric's `good` direction. null without both values.
 *   { text: "+3.2%", arrow: "▲", direction: "up", tone: "good", words: "up 3.2%, better" }
 */
export function metricDelta(m) {
  const v = m?.value;
  const p = m?.previous;
  if (!isNumber(v) || !isNumber(p)) return null;
  let text;
  let diff;
  if (m.unit === 'ratio') {
    diff = Number(((v - p) * 100).toFixed(2));
    text = `${decimal2.format(Math.abs(diff))} pp`;
  } else if (m.unit === 'bps') {
    diff = Number((v - p).toFixed(1));
    text = `${decimal1.format(Math.abs(diff))} bps`;
  } else {
    const rel = isNumber(m.change) ? m.change : p !== 0 ? (v - p) / Math.abs(p) : null;
    if (rel === null) {
      diff = v === p ? 0 : v > p ? 1 : -1;
      text = diff ? `from ${formatShort(p, m.unit, null)}` : '0.0%';
    } else {
      diff = Number((rel * 100).toFixed(1));
      text = `${percent1.format(Math.abs(rel))}`;
    }
  }
  const direction = diff > 0 ? 'up' : diff < 0 ? 'down' : 'flat';
  const sign = direction === 'up' ? '+' : direction === 'down' ? '−' : '';
  if (!text.startsWith('from')) text = `${sign}${text}`;
  let tone = 'neutral';
  if (direction !== 'flat' && (m.good === 'up' || m.good === 'down')) tone = (direction === 'up') === (m.good === 'up') ? 'good' : 'bad';
  const verdict = tone === 'good' ? 'better' : tone === 'bad' ? 'worse' : direction === 'flat' ? 'unchanged' : 'neither better nor worse';
  const words = direction === 'flat' ? 'unchanged' : `${direction} ${text.replace(/^[+−]/, '')}, ${verdict}`;
  return { text, arrow: ARROW[direction], direction, tone, words };
}

// ---- dates ------------------------------------------------------------------------------------

const dayFormat = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' });
const dayShort = new Intl.DateTimeFormat(LOCALE, { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** "2025-09-01" -> a Date at UTC midnight (dates of the report are local calendar dates). */
export function parseDay(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(String(iso || ''));
  return m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
}

/** A Date at UTC midnight -> "2025-09-01". */
const isoDay = (d) => d.toISOString().slice(0, 10);

/** "2025-09-30" plus n days. */
export function addDays(iso, n) {
  const d = parseDay(iso);
  if (!d) return iso;
  d.setUTCDate(d.getUTCDate() + n);
  return isoDay(d);
}

/** Days from `from` to `to`, both included. */
export function daysBetween(from, to) {
  const a = parseDay(from);
  const b = parseDay(to);
  return a && b ? Math.round((b - a) / 86400000) + 1 : 0;
}

/** "Sep 1 – 30, 2025" for { from, to }; "" without one. */
export function formatRange(range) {
  const a = parseDay(range?.from);
  const b = parseDay(range?.to);
  if (!a || !b) return '';
  if (a.getTime() === b.getTime()) return dayFormat.format(a);
  try {
    return dayFormat.formatRange(a, b).replace(/\u2009/g, ' ');
  } catch {
    return `${dayFormat.format(a)} – ${dayFormat.format(b)}`;
  }
}

/** A bucket label for tooltips: "Sep 1, 2025", "week of Sep 1", "2025-09". */
export function bucketLabel(bucket, grain) {
  if (grain === 'month') {
    const d = parseDay(`${bucket}-01`);
    return d ? new Intl.DateTimeFormat(LOCALE, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(d) : bucket;
  }
  const d = parseDay(bucket);
  if (!d) return String(bucket);
  return grain === 'week' ? `Week of ${dayFormat.format(d)}` : dayFormat.format(d);
}

/** Axis label of a bucket: "Sep 1", "Sep 2025". */
export function bucketAxis(bucket, grain) {
  if (grain === 'month') {
    const d = parseDay(`${bucket}-01`);
    return d ? new Intl.DateTimeFormat(LOCALE, { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(d) : bucket;
  }
  const d = parseDay(bucket);
  return d ? dayShort.format(d) : String(bucket);
}

/** "+08:00" -> "UTC+08:00"; "+00:00" -> "UTC"; an IANA name ("Asia/Shanghai") stays as it is. */
export function tzLabel(tz) {
  if (!tz) return 'UTC';
  if (tz === '+00:00' || tz === 'Z') return 'UTC';
  return /^[+-]\d{2}:\d{2}$/.test(tz) ? `UTC${tz}` : String(tz);
}

/** "1 row", "2 rows". */
export const plural = (n, one, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}
