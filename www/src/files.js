// Several files at once: which one is the transactions file, and how the page words what the core
// did with each (lines that are not data, joins). Pure functions over plain values: no DOM here.
import { formatCount, plural } from './format.js';

// The core names the delimiter `,` `;` `|` or `tab` (docs/report.md).
export const DELIMITERS = { ',': 'comma (,)', ';': 'semicolon (;)', '|': 'pipe (|)', tab: 'tab' };

// Names that say "this is the transactions file": payments.csv, alipay_bill.csv, 微信支付账单.csv…
const TRANSACTIONS_NAME = /transaction|payment|txn|bill|交易|账单|流水/i;

/**
 * Index of the transactions file among files dropped together ([{ name, size }], or { name, file }
 * with a File): a file whose name says so, else the largest; ties go to the first. Reading each
 * file as transactions to compare their mappings would cost a full parse per file, and reading
 * them at all would hold them in memory whole; the name and the size are free.
 */
export function pickTransactions(items) {
  let best = 0;
  let bestScore = null;
  items.forEach((item, i) => {
    const score = [TRANSACTIONS_NAME.test(item.name) ? 1 : 0, item.size ?? item.file?.size ?? 0];
    if (bestScore === null || score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

/** Distinct names for files picked together: a second "data.csv" becomes "data (2).csv". */
export function uniqueNames(files, taken = []) {
  const used = new Set(taken);
  return files.map((file) => {
    let name = file.name || 'file.csv';
    if (used.has(name)) {
      const dot = name.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
      let k = 2;
      while (used.has(`${stem} (${k})${ext}`)) k++;
      name = `${stem} (${k})${ext}`;
    }
    used.add(name);
    return { file, name };
  });
}

/** "line 5", "lines 1–24". */
export function lineRange(first, last) {
  return last == null || first === last ? `line ${first}` : `lines ${first}–${last}`;
}

/**
 * One group of `lines_skipped` in words, with the lines it covers: "24 lines of notes before the
 * header (lines 1–24)", "3 summary lines after the data (lines 31–33)".
 */
export function linesSkippedText(group) {
  const n = group.count ?? 0;
  const reason = String(group.reason || '');
  let text = `${plural(n, 'line')}: ${reason}`;
  if (/before the header/i.test(reason)) text = `${plural(n, 'line')} of notes before the header`;
  else if (/after the data/i.test(reason)) text = `${plural(n, 'summary line')} after the data`;
  return group.first_line ? `${text} (${lineRange(group.first_line, group.last_line)})` : text;
}

/** "orders.csv on order_id: 6 matched · 1 not found (o9, line 7) · 0 repeated keys". */
export function joinOutcomeText(o) {
  const examples = Array.isArray(o.unmatched_examples) ? o.unmatched_examples : [];
  let notFound = `${formatCount(o.unmatched)} not found`;
  if (examples.length) {
    const shown = examples.slice(0, 3).map(([key, line]) => `${key === '' ? '(empty)' : key}, line ${line}`);
    if (o.unmatched > shown.length) shown.push('…');
    notFound += ` (${shown.join('; ')})`;
  }
  const parts = [`${formatCount(o.matched)} matched`, notFound];
  if (o.empty_keys) parts.push(`${plural(o.empty_keys, 'empty key')}`);
  parts.push(`${plural(o.duplicate_keys ?? 0, 'repeated key')}`);
  const on = o.key && o.key !== o.on ? `${o.on} = ${o.key}` : o.on;
  return `${o.file} on ${on}: ${parts.join(' · ')}`;
}

/** True when a warning is about reading dates day-first or month-first. */
export function isDateOrderWarning(text) {
  return /day[\s\-/]*(first|\/\s*month|or\s+month|and\s+month)|month[\s\-/]*(first|\/\s*day|or\s+day|and\s+day)|date[_ ]order|\b(dmy|mdy)\b|dd\/mm|mm\/dd/i.test(String(text));
}
