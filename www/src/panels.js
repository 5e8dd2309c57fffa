// The panels about how the data was read: the files and their joins, the status vocabulary, the
// data quality of every file, and the derived columns. Rendered from the report (docs/report.md)
// and the page's state; user actions go back through `handlers`. Text only through textContent.
import { fill, h } from './dom.js';
import { DELIMITERS, joinOutcomeText, lineRange, linesSkippedText } from './files.js';
import { formatCount, plural } from './format.js';

const STATUSES = ['success', 'failed', 'refunded', 'disputed', 'pending', 'unknown'];
const UNKNOWN_NOTE = 'not counted as success or failure';

const SHORT_DELIMITERS = { ',': 'comma', ';': 'semicolon', '|': 'pipe', tab: 'tab' };
const has = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const list = (v) => (Array.isArray(v) ? v : []);

function delimiterText(d) {
  return DELIMITERS[d] ?? d;
}

// ---- files --------------------------------------------------------------------------------------

/** Columns a lookup can be joined on: the transactions' own, and those of the lookups joined before it. */
function joinableColumns(report, state) {
  const outcomes = list(report.joins);
  const joined = new Set(outcomes.flatMap((o) => list(o.columns)));
  const own = list(report.columns).filter((c) => !joined.has(c));
  const before = new Map();
  let acc = [...own];
  for (const f of state.files) {
    if (f.role !== 'lookup') continue;
    before.set(f.name, acc);
    const o = outcomes.find((x) => x.file === f.name);
    if (o) acc = [...acc, ...list(o.columns)];
  }
  return before;
}

function fileFacts(info) {
  const parts = [];
  if (info.rows_read !== undefined) parts.push(plural(info.rows_read, 'row'));
  if (info.rows_skipped) parts.push(`${formatCount(info.rows_skipped)} skipped`);
  if (info.encoding) parts.push(info.encoding);
  if (info.delimiter) parts.push(SHORT_DELIMITERS[info.delimiter] ?? info.delimiter);
  if (info.header_line) parts.push(`header line ${formatCount(info.header_line)}`);
  const notData = list(info.lines_skipped).reduce((s, g) => s + (g.count || 0), 0);
  if (notData) parts.push(`${plural(notData, 'line')} of notes skipped`);
  return parts.join(' · ');
}

function joinBlock(f, info, report, state, handlers, available) {
  const j = state.joins.get(f.name);
  const enabled = !!(j?.enabled && j.on);
  const outcome = list(report.joins).find((o) => o.file === f.name);
  const keyColumns = list(info.columns);

  const onSelect = h('select', { class: 'select select-small', 'aria-label': `Transactions column to join ${f.name} on`, dataset: { joinOn: f.name } });
  onSelect.append(h('option', { value: '' }, '— not joined —'));
  const onColumns = [...(available || [])];
  if (enabled && !onColumns.includes(j.on)) onColumns.push(j.on);
  for (const c of onColumns) onSelect.append(h('option', { value: c }, c === '' ? '(no name)' : c));
  onSelect.value = enabled ? j.on : '';

  const keySelect = h('select', { class: 'select select-small', 'aria-label': `Key column of ${f.name}`, dataset: { joinKey: f.name } });
  for (const c of keyColumns) keySelect.append(h('option', { value: c }, c === '' ? '(no name)' : c));
  const key = j?.key ?? (j?.on && keyColumns.includes(j.on) ? j.on : keyColumns[0]);
  if (key !== undefined) keySelect.value = key;
  keySelect.disabled = !enabled;

  onSelect.addEventListener('change', () => {
    const on = onSelect.value;
    const k = on && keyColumns.includes(on) ? on : keySelect.value;
    handlers.setJoin(f.name, on, k);
  });
  keySelect.addEventListener('change', () => handlers.setJoin(f.name, onSelect.value, keySelect.value));

  let status;
  if (j?.error) {
    status = h('p', { class: 'join-outcome is-bad', dataset: { joinError: f.name } }, j.error);
  } else if (enabled && outcome) {
    const clean = !outcome.unmatched && !outcome.empty_keys && !outcome.duplicate_keys;
    const added = list(outcome.columns);
    status = h(
      'p',
      { class: `join-outcome ${clean ? 'is-ok' : 'is-warn'}`, dataset: { joinOutcome: f.name }, title: added.length ? `Columns added: ${added.join(', ')}` : '' },
      joinOutcomeText(outcome),
    );
  } else {
    const suggested = list(report.suggested_joins).find((s) => s.file === f.name);
    status = h(
      'p',
      { class: 'join-outcome is-off', dataset: { joinOutcome: f.name } },
      suggested && state.streamed
        ? `Not joined: the transactions are read from disk again for each view, so the join is yours to make (on ${suggested.on}, say).`
        : suggested
          ? 'Not joined: choose a column to join it on.'
          : 'Not joined: no column of the transactions shares a name with it. Choose the columns that match.',
    );
  }
  return h(
    'div',
    { class: 'file-join' },
    h('span', { class: 'join-label' }, 'Join on'),
    onSelect,
    h('span', { class: 'join-eq', title: `= the column of ${f.name}` }, '='),
    keySelect,
    status,
  );
}

export function renderFiles(el, report, state, handlers) {
  const lookups = new Map(list(report.lookups).map((l) => [l.file, l]));
  const available = joinableColumns(report, state);
  const rows = state.files.map((f) => {
    const isTx = f.role === 'transactions';
    const info = isTx ? report.quality || {} : lookups.get(f.name) || {};
    const actions = [];
    if (!isTx && !f.sample) {
      actions.push(h('button', { type: 'button', class: 'btn btn-small btn-plain', dataset: { useAsTransactions: f.name }, onclick: () => handlers.useAsTransactions(f.name) }, 'Use as transactions'));
    }
    if (!(isTx && f.sample)) {
      actions.push(
        h(
          'button',
          { type: 'button', class: 'btn btn-small btn-icon', 'aria-label': `Remove ${f.name}`, title: `Remove ${f.name}`, dataset: { removeFile: f.name }, onclick: () => handlers.removeFile(f.name) },
          '×',
        ),
      );
    }
    return h(
      'li',
      { class: `file-row file-${f.role}`, dataset: { file: f.name, role: f.role } },
      h('span', { class: `file-icon file-icon-${f.role}`, 'aria-hidden': 'true' }),
      h(
        'div',
        { class: 'file-main' },
        h('p', { class: 'file-name' }, h('span', { class: 'file-title' }, f.name), h('span', { class: `role-badge role-${f.role}` }, isTx ? 'transactions' : 'lookup')),
        h('p', { class: 'file-meta muted small', dataset: { fileMeta: f.name } }, fileFacts(info)),
      ),
      h('div', { class: 'file-actions' }, actions),
      isTx ? null : joinBlock(f, info, report, state, handlers, available.get(f.name)),
    );
  });
  fill(el.files, rows);
}

// ---- statuses -----------------------------------------------------------------------------------

export function renderStatuses(el, report, state, handlers) {
  const values = list(report.statuses);
  el.resetStatuses.hidden = Object.keys(state.statuses).length === 0;
  if (!values.length) {
    fill(el.statuses, h('p', { class: 'empty-note' }, 'No status column mapped.'));
    return;
  }
  const total = values.reduce((s, x) => s + (x.count || 0), 0) || 1;
  const unknown = values.filter((s) => s.status === 'unknown');
  const rows = values.map((s) => {
    const raw = s.raw ?? '';
    const mine = has(state.statuses, raw);
    const select = h('select', {
      class: `select select-small status-select status-select-${s.status}${mine ? ' is-user' : ''}`,
      'aria-label': `Normal form of ${raw === '' ? 'the empty status' : raw}`,
      dataset: { statusFor: raw },
      title: mine ? `Chosen by you (the core reads it as ${state.statusDefaults[raw] ?? 'unknown'})` : 'Recognised by the core; change it to override',
    });
    for (const st of STATUSES) select.append(h('option', { value: st }, st));
    select.value = s.status;
    select.addEventListener('change', () => handlers.setStatusOverride(raw, select.value));
    const row = h(
      'li',
      { class: `status-row status-${s.status}${mine ? ' is-user' : ''}`, dataset: { raw, status: s.status, count: String(s.count ?? '') } },
      h('span', { class: `status-raw${raw === '' ? ' is-empty' : ''}` }, raw === '' ? '(empty)' : String(raw)),
      h('span', { class: 'status-arrow', 'aria-hidden': 'true' }, '→'),
      select,
      h('span', { class: 'status-count' }, formatCount(s.count)),
      h('span', { class: 'status-bar', 'aria-hidden': 'true' }, h('span', { class: 'status-bar-fill' })),
      s.status === 'unknown' ? h('span', { class: 'status-note' }, UNKNOWN_NOTE) : null,
    );
    // Bar widths through the CSSOM (allowed by the page's CSP, unlike style attributes).
    row.querySelector('.status-bar-fill').style.width = `${Math.max(1, (100 * (s.count || 0)) / total)}%`;
    return row;
  });
  fill(
    el.statuses,
    unknown.length
      ? h(
          'p',
          { class: 'note note-warn' },
          `${plural(unknown.length, 'value')} not recognised (${plural(unknown.reduce((a, s) => a + (s.count || 0), 0), 'row')}): ${UNKNOWN_NOTE}, though still attempts. Choose what ${unknown.length > 1 ? 'they mean' : 'it means'}.`,
        )
      : null,
    h('ul', { class: 'status-list' }, rows),
  );
}

// ---- data quality -------------------------------------------------------------------------------

function examples(group, attr) {
  const shown = list(group.examples);
  return h(
    'ul',
    { class: 'examples' },
    shown.map((e) =>
      h(
        'li',
        { class: 'example', dataset: { [attr]: e.line ?? '' } },
        h('span', { class: 'line-chip' }, e.column ? `line ${e.line}:${e.column}` : `line ${e.line}`),
        h('code', { class: 'example-message' }, e.message),
      ),
    ),
    group.count > shown.length ? h('li', { class: 'example more muted small' }, `and ${formatCount(group.count - shown.length)} more`) : null,
  );
}

/** Everything about how one file was read. `lookup` files use their own data attributes. */
function fileQuality(info, { lookup = false, joins = [], warnings = [] } = {}) {
  const skipped = list(info.skipped);
  const notData = list(info.lines_skipped);
  const key = (k) => (lookup ? { lookupQuality: k } : { quality: k });
  const stat = (label, value, cls, k) =>
    h('div', { class: `qstat ${cls || ''}`, dataset: key(k) }, h('span', { class: 'qstat-value' }, formatCount(value)), h('span', { class: 'qstat-label' }, label));
  const facts = [
    ['File', info.file],
    ['Encoding', info.encoding],
    ['Delimiter', info.delimiter === undefined ? undefined : delimiterText(info.delimiter)],
    ['Header line', info.header_line],
    ['Not used', list(info.unmapped_columns).map((c) => (c === '' ? '(no name)' : c)).join(', ') || null],
  ].filter(([, v]) => v !== undefined && v !== null);
  const parts = [
    h(
      'div',
      { class: 'qstats' },
      stat('rows read', info.rows_read, '', 'read'),
      stat('loaded', info.rows_loaded, 'is-good', 'loaded'),
      stat('skipped', info.rows_skipped, info.rows_skipped ? 'is-bad' : '', 'skipped'),
    ),
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { fact: k.toLowerCase().replace(' ', '-') } }, String(v))])),
  ];
  if (notData.length) {
    parts.push(
      h('h3', { class: 'sub-title' }, 'Not data'),
      h(
        'ul',
        { class: 'skips not-data' },
        notData.map((g) =>
          h(
            'li',
            { class: 'skip', dataset: { linesSkipped: g.reason } },
            h('p', { class: 'skip-head' }, h('span', { class: 'skip-reason' }, linesSkippedText(g)), h('span', { class: 'count-badge count-badge-neutral' }, formatCount(g.count))),
            h('details', { class: 'not-data-examples' }, h('summary', { class: 'muted small' }, 'Show the lines'), examples(g, 'skippedLine')),
          ),
        ),
      ),
    );
  }
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
            h(
              'p',
              { class: 'skip-head' },
              h('span', { class: 'skip-reason' }, s.reason, s.first_line ? h('span', { class: 'skip-lines' }, ` · ${lineRange(s.first_line, s.last_line)}`) : null),
              h('span', { class: 'count-badge' }, formatCount(s.count)),
            ),
            examples(s, lookup ? 'lookupLine' : 'line'),
          ),
        ),
      ),
    );
  }
  if (joins.length) {
    parts.push(
      h('h3', { class: 'sub-title' }, 'Joins'),
      h(
        'ul',
        { class: 'joins' },
        joins.map((o) => h('li', { class: `join ${o.unmatched || o.empty_keys || o.duplicate_keys ? 'is-warn' : 'is-ok'}`, dataset: { join: o.file } }, joinOutcomeText(o))),
      ),
    );
  }
  if (warnings.length) {
    parts.push(h('h3', { class: 'sub-title' }, 'Warnings'), h('ul', { class: 'warnings' }, warnings.map((w) => h('li', { class: 'warning' }, String(w)))));
  }
  if (!skipped.length && !warnings.length && !lookup) {
    parts.push(h('p', { class: 'note note-ok' }, 'Every row was read and loaded; no warnings.'));
  }
  return parts;
}

export function renderQuality(el, report, state) {
  // Sections the user opened stay open across recomputations.
  const opened = new Set([...el.quality.querySelectorAll('details[open][data-quality-file]')].map((d) => d.dataset.qualityFile));
  const q = report.quality || {};
  const lookups = list(report.lookups);
  const sections = [
    h(
      'section',
      { class: 'qfile qfile-transactions', dataset: { qualityFile: q.file ?? report.file ?? '' } },
      fileQuality({ ...q, file: q.file ?? report.file }, { joins: list(report.joins), warnings: list(q.warnings) }),
    ),
  ];
  const order = state.files.map((f) => f.name);
  const sorted = [...lookups].sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file));
  if (sorted.length) sections.push(h('h3', { class: 'sub-title' }, plural(sorted.length, 'lookup file')));
  for (const l of sorted) {
    const warnings = list(l.warnings);
    const flagged = l.rows_skipped > 0 || warnings.length > 0;
    sections.push(
      h(
        'details',
        { class: `qfile qfile-lookup${flagged ? ' is-flagged' : ''}`, dataset: { qualityFile: l.file }, open: flagged || opened.has(l.file) },
        h(
          'summary',
          { class: 'qfile-summary' },
          h('span', { class: 'qfile-name' }, l.file),
          h(
            'span',
            { class: 'muted small' },
            [`${formatCount(l.rows_read)} read`, `${formatCount(l.rows_loaded)} loaded`, `${formatCount(l.rows_skipped)} skipped`, warnings.length ? plural(warnings.length, 'warning') : null]
              .filter(Boolean)
              .join(' · '),
          ),
        ),
        h('div', { class: 'qfile-body' }, fileQuality(l, { lookup: true, warnings })),
      ),
    );
  }
  fill(el.quality, sections);
}

// ---- derived columns ----------------------------------------------------------------------------

let addForm = null;

/** "adds column amount · plays amount · 1 empty result" for one entry of report.derived. */
function derivedText(o, report) {
  const roles = list(report.mapping).filter((m) => m.column === o.column && m.source === 'derived');
  return [
    `${o.replaces ? 'rewrites' : 'adds'} column ${o.column}`,
    roles.length ? `plays ${roles.map((m) => m.role).join(', ')}` : null,
    plural(o.empty ?? 0, 'empty result'),
  ]
    .filter(Boolean)
    .join(' · ');
}

/**
 * The derived columns (options.derive), each in its own field: what it did, or the core's
 * message ("at column N: …") under it. Below them, a field to add one.
 */
export function renderDerive(el, report, state, handlers) {
  if (!addForm) {
    const input = h('input', {
      class: 'input',
      type: 'text',
      id: 'derive-input',
      placeholder: 'amount = quantity * unit_price',
      'aria-label': 'New derived column, as name = formula',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    const form = h('form', { class: 'derive-form' }, input, h('button', { type: 'submit', class: 'btn btn-small' }, 'Add'));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      handlers.setDerived(state.derive.length, input.value);
      input.value = '';
    });
    addForm = { list: h('ul', { class: 'derive-list' }), form };
    fill(
      el.derive,
      h('h3', { class: 'sub-title' }, 'Derived columns'),
      h(
        'p',
        { class: 'muted small derive-hint' },
        'Formulas over columns and roles, applied in order; a new column plays the role of its name. Names with spaces or punctuation go in back quotes: amount = `unit price` * qty.',
      ),
      addForm.list,
      form,
    );
  }
  const outcomes = list(report.derived);
  fill(
    addForm.list,
    state.derive.map((d, i) => {
      const o = outcomes[i]?.definition === d ? outcomes[i] : outcomes.find((x) => x.definition === d);
      const noteId = `derive-note-${i}`;
      const input = h('input', {
        class: 'input',
        type: 'text',
        value: d,
        'aria-label': `Derived column ${i + 1}`,
        'aria-invalid': o?.error ? 'true' : null,
        'aria-describedby': noteId,
        autocomplete: 'off',
        spellcheck: 'false',
        dataset: { derive: String(i) },
      });
      input.addEventListener('change', () => handlers.setDerived(i, input.value));
      return h(
        'li',
        { class: `derive-item${o?.error ? ' is-bad' : ''}`, dataset: { definition: d } },
        h(
          'div',
          { class: 'derive-row' },
          input,
          h('button', { type: 'button', class: 'btn btn-small btn-icon', 'aria-label': `Remove ${d}`, onclick: () => handlers.setDerived(i, '') }, '×'),
        ),
        o?.error
          ? h('p', { class: 'field-error', id: noteId, dataset: { deriveError: String(i) } }, o.error)
          : h('p', { class: 'derive-outcome muted small', id: noteId, dataset: { deriveOutcome: String(i) } }, o ? derivedText(o, report) : ''),
      );
    }),
  );
}
