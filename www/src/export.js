// Exports of the report on screen: the metrics and the time series as CSV, the view as JSON, and a
// one-file HTML report (inline CSS, inline SVG charts, no script, nothing fetched) that opens
// offline. Pure functions of the report: no DOM here (node --test imports this module directly);
// main.js turns their strings into downloads.

import { TIERS } from './views.js';

// ---- CSV (RFC 4180) ------------------------------------------------------------------------------------

// A spreadsheet runs a cell that starts with one of these as a formula: a text cell that does is
// prefixed with an apostrophe (OWASP, "CSV injection"). Numbers are written as numbers, so that
// -12.5 stays a number.
const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: numbers as they are, text quoted when needed and escaped against formulas. */
export function csvCell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows (lists of cells) as CSV text, CRLF line ends (RFC 4180). */
export function toCsv(rows) {
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const list = (v) => (Array.isArray(v) ? v : []);
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The relative change of a metric over the previous period (0.05 = +5 %), or null. */
export function changeOf(m) {
  if (num(m?.change) !== null) return m.change;
  const value = num(m?.value);
  const previous = num(m?.previous);
  if (value === null || previous === null || previous === 0) return null;
  return (value - previous) / Math.abs(previous);
}

/** The metrics table: id, name, tier, unit, value, previous, change. */
export function metricsCsv(report) {
  const rows = [['id', 'name', 'tier', 'unit', 'value', 'previous', 'change']];
  for (const m of list(report?.metrics)) rows.push([m.id, m.name ?? m.id, m.tier ?? '', m.unit ?? '', num(m.value), num(m.previous), changeOf(m)]);
  return toCsv(rows);
}

/** The time series: one row per bucket, one column per metric (by id). */
export function seriesCsv(report) {
  const ids = list(report?.metrics).map((m) => m.id);
  const rows = [['bucket', ...ids]];
  for (const b of list(report?.series)) rows.push([b.bucket, ...ids.map((id) => num(b[id]))]);
  return toCsv(rows);
}

/** The view as JSON: what was asked (the options) and what the core answered (the report). */
export function reportJson(report, { options = null, view = null } = {}) {
  return `${JSON.stringify({ paymetrics: 1, exported: new Date().toISOString(), view, options, report }, null, 2)}\n`;
}

// ---- the one-file HTML report -------------------------------------------------------------------------

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content or a quoted attribute: every markup character escaped. */
export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const CSS = `
body{font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue","Noto Sans",Arial,sans-serif;color:#1a1f36;margin:0;background:#f6f8fa}
main{max-width:1100px;margin:0 auto;padding:32px 24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 8px}h3{font-size:15px;margin:0 0 8px}
.muted{color:#697386}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e8ee;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th .muted{font-weight:400}
.params th{width:220px;color:#697386;font-weight:500}
.chart{background:#fff;border:1px solid #e3e8ee;border-radius:8px;padding:12px;margin:12px 0;page-break-inside:avoid}
.chart svg{max-width:100%;height:auto}
.good{color:#15803d}.bad{color:#b91c1c}
`;

/**
 * A standalone HTML document of the view: `params` ([[label, text]]), the metrics by tier
 * (`rows`: per metric, its formatted value, previous and change) and the charts (`charts`:
 * [{ title, svg }], svg already sanitised by the caller). Every text is escaped; the document has
 * no script and refers to nothing outside itself (its CSP says so too).
 */
export function htmlReport({ title, subtitle = '', params = [], metrics = [], charts = [], generated = new Date() }) {
  const out = [];
  out.push('<!doctype html>');
  out.push('<html lang="en"><head><meta charset="utf-8">');
  out.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`);
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>${escapeHtml(title)}</title><style>${CSS}</style></head><body><main>`);
  out.push(`<h1>${escapeHtml(title)}</h1>`);
  if (subtitle) out.push(`<p class="muted">${escapeHtml(subtitle)}</p>`);
  out.push(`<p class="muted">Exported from Paymetrics on ${escapeHtml(generated.toISOString().slice(0, 16).replace('T', ' '))} UTC.</p>`);
  if (params.length) {
    out.push('<h2>View</h2><table class="params"><tbody>');
    for (const [k, v] of params) out.push(`<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`);
    out.push('</tbody></table>');
  }
  const tiers = [...TIERS.map((t) => ({ id: t.id, title: t.title })), { id: null, title: 'Other metrics' }];
  for (const t of tiers) {
    const rows = metrics.filter((m) => (t.id === null ? !TIERS.some((x) => x.id === m.tier) : m.tier === t.id));
    if (!rows.length) continue;
    out.push(`<h2>${escapeHtml(t.title)}</h2><table><thead><tr><th scope="col">Metric</th><th scope="col">This period</th><th scope="col">Previous</th><th scope="col">Change</th></tr></thead><tbody>`);
    for (const m of rows) {
      const tone = m.tone === 'good' || m.tone === 'bad' ? ` class="num ${m.tone}"` : ' class="num"';
      out.push(
        `<tr data-metric="${escapeHtml(m.id)}"><th scope="row">${escapeHtml(m.name)}<br><span class="muted">${escapeHtml(m.description || '')}</span></th>` +
          `<td class="num">${escapeHtml(m.value)}</td><td class="num">${escapeHtml(m.previous)}</td><td${tone}>${escapeHtml(m.change)}</td></tr>`,
      );
    }
    out.push('</tbody></table>');
  }
  if (charts.length) {
    out.push('<h2>Charts</h2>');
    for (const c of charts) out.push(`<figure class="chart"><h3>${escapeHtml(c.title)}</h3>${c.svg}</figure>`);
  }
  out.push('</main></body></html>\n');
  return out.join('\n');
}
