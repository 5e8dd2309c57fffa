// Number formatting for the KPI cards, tables and chart axes. One locale for the whole page so the
// numbers read the same everywhere (and in screenshots): en-US grouping, "CNY 1,234.56".
const LOCALE = 'en-US';

const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const decimal2 = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(LOCALE, { style: 'percent', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compact = new Intl.NumberFormat(LOCALE, { notation: 'compact', maximumFractionDigits: 1 });

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

/** An exchange rate as typed ("7.1", "7,1"): a positive number, else null. */
export function parseRate(text) {
  const t = String(text ?? '').trim().replace(',', '.');
  const n = Number(t);
  return t && Number.isFinite(n) && n > 0 ? n : null;
}

/** A metric value as text: unit is currency | count | ratio (docs/report.md). */
export function formatValue(value, unit, currency = null) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  switch (unit) {
    case 'currency': {
      const fmt = currency ? currencyFormat(currency) : null;
      if (fmt) return fmt.format(value).replace(/\u00a0/g, ' ');
      return currency ? `${currency} ${decimal2.format(value)}` : decimal2.format(value);
    }
    case 'ratio':
      return percent.format(value);
    case 'count':
      return integer.format(value);
    default:
      return Number.isInteger(value) ? integer.format(value) : decimal2.format(value);
  }
}

/** Short axis labels: 12.3K, 4.5M, 91%. */
export function formatAxis(value, unit) {
  if (value === null || value === undefined) return '';
  if (unit === 'ratio') {
    const digits = Math.abs(value) < 0.1 && value !== 0 ? 1 : 0;
    return `${(value * 100).toFixed(digits)}%`;
  }
  return Math.abs(value) >= 1000 ? compact.format(value) : integer.format(value);
}

export const formatCount = (n) => (n === null || n === undefined ? '—' : integer.format(n));

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
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
