// The custom metrics editor (issue 6): a field to write `name = formula`, with completion of
// columns, roles, functions and catalog metric ids; under it, each metric defined, with its value
// or the core's error (position underlined, suggestion one click away). The core parses and
// computes (docs/report.md, "Custom metrics"); this module only edits `state.metrics`.
import { h, fill } from './dom.js';
import { formatValue } from './format.js';

const AGGREGATES = ['sum', 'count', 'count_distinct', 'avg', 'min', 'max', 'median', 'share', 'p50', 'p90', 'p95', 'p99'];
const FUNCTIONS = ['abs', 'round', 'lower', 'upper', 'trim', 'len', 'contains', 'starts_with', 'coalesce', 'if', 'is_null'];
const KEYWORDS = ['where', 'and', 'or', 'not', 'in'];
const EXAMPLE = 'app_share = share(where channel = "app_qr")';
const MAX_SUGGESTIONS = 8;

/** The word being typed at `caret`: its start and text (letters, digits, underscores, any script). */
export function wordAt(text, caret) {
  let start = caret;
  while (start > 0 && /[\p{L}\p{N}_]/u.test(text[start - 1])) start -= 1;
  return { start, word: text.slice(start, caret) };
}

/**
 * What may complete `word`: columns first (written in back quotes when they need them), then
 * functions (with their parenthesis), catalog metrics and keywords. Prefix matches first, then
 * names that contain the word.
 */
export function completions(word, { columns, metrics }) {
  if (!word) return [];
  const lower = word.toLowerCase();
  const quote = (name) => (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) ? name : `\`${name.replace(/`/g, '``')}\``);
  const items = [
    ...columns.map((c) => ({ label: c, insert: quote(c), kind: 'column' })),
    ...AGGREGATES.map((f) => ({ label: `${f}()`, insert: `${f}(`, kind: 'aggregate' })),
    ...FUNCTIONS.map((f) => ({ label: `${f}()`, insert: `${f}(`, kind: 'function' })),
    ...metrics.map((m) => ({ label: m, insert: m, kind: 'metric' })),
    ...KEYWORDS.map((k) => ({ label: k, insert: `${k} `, kind: 'keyword' })),
  ];
  const seen = new Set();
  const pick = (test) => items.filter((i) => test(i.label.toLowerCase()) && !seen.has(i.label) && seen.add(i.label));
  const first = pick((l) => l.startsWith(lower) && l !== lower);
  const then = pick((l) => l.includes(lower) && l !== lower);
  return [...first, ...then].slice(0, MAX_SUGGESTIONS);
}

let editor = null;

/** The field with its completion list, made once: re-rendering keeps what is being typed. */
function makeEditor(handlers, state) {
  const listId = 'metric-completions';
  const input = h('input', {
    class: 'input',
    type: 'text',
    id: 'metric-input',
    placeholder: EXAMPLE,
    'aria-label': 'New custom metric, as name = formula',
    role: 'combobox',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const list = h('ul', { class: 'completions', id: listId, role: 'listbox', 'aria-label': 'Completions', hidden: true });
  const context = { columns: [], metrics: [] };
  let shown = [];
  let active = -1;

  const close = () => {
    shown = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };
  const accept = (item) => {
    const caret = input.selectionStart ?? input.value.length;
    const { start } = wordAt(input.value, caret);
    input.value = input.value.slice(0, start) + item.insert + input.value.slice(caret);
    const at = start + item.insert.length;
    input.setSelectionRange(at, at);
    close();
    input.focus();
  };
  const highlight = (index) => {
    active = index;
    [...list.children].forEach((li, i) => li.setAttribute('aria-selected', String(i === index)));
    if (index >= 0) input.setAttribute('aria-activedescendant', `${listId}-${index}`);
    else input.removeAttribute('aria-activedescendant');
  };
  const suggest = () => {
    const caret = input.selectionStart ?? input.value.length;
    const { word } = wordAt(input.value, caret);
    shown = completions(word, context);
    if (!shown.length) return close();
    fill(
      list,
      shown.map((item, i) =>
        h(
          'li',
          {
            id: `${listId}-${i}`,
            role: 'option',
            class: `completion completion-${item.kind}`,
            'aria-selected': 'false',
            // mousedown, not click: the field keeps the focus.
            onmousedown: (event) => {
              event.preventDefault();
              accept(item);
            },
          },
          h('span', { class: 'completion-label' }, item.label),
          h('span', { class: 'completion-kind muted' }, item.kind),
        ),
      ),
    );
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    highlight(-1);
  };
  input.addEventListener('input', suggest);
  input.addEventListener('blur', () => setTimeout(close, 0));
  input.addEventListener('keydown', (event) => {
    if (list.hidden) return;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      highlight(active < 0 ? (step > 0 ? 0 : shown.length - 1) : (active + step + shown.length) % shown.length);
    } else if ((event.key === 'Enter' || event.key === 'Tab') && active >= 0) {
      event.preventDefault();
      accept(shown[active]);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      close();
    }
  });
  // The core checks the definition as it is typed (after a pause): its message shows under the
  // field before anything is added.
  const live = h('div', { class: 'metric-live', id: 'metric-live', 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', 'metric-live');
  let timer = 0;
  let asked = 0;
  const check = () => {
    clearTimeout(timer);
    const text = input.value.trim();
    if (!text || !text.includes('=')) {
      live.replaceChildren();
      input.removeAttribute('aria-invalid');
      return;
    }
    timer = setTimeout(async () => {
      const ticket = ++asked;
      const outcome = await handlers.checkMetric(text);
      if (ticket !== asked || input.value.trim() !== text) return;
      if (outcome?.error) {
        input.setAttribute('aria-invalid', 'true');
        fill(live, outcomeError(text, outcome.error, (fixed) => {
          input.value = fixed;
          check();
          input.focus();
        }));
      } else {
        input.removeAttribute('aria-invalid');
        fill(live, outcome?.formula ? h('p', { class: 'muted small metric-understood' }, `Understood as ${outcome.formula}`) : null);
      }
    }, 250);
  };
  input.addEventListener('input', check);
  const form = h(
    'form',
    { class: 'metric-form' },
    h('div', { class: 'combobox' }, input, list),
    h('button', { type: 'submit', class: 'btn btn-small btn-primary' }, 'Add metric'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    close();
    if (!input.value.trim()) return;
    handlers.setMetric(state.metrics.length, input.value);
    input.value = '';
    check();
  });
  return { input, form: h('div', {}, form, live), list: h('ul', { class: 'metric-list' }), context };
}

/**
 * The core's error for `definition`: the definition with the fault marked, the message, and a
 * button that applies the suggestion (`onFix(fixed definition)`) when there is one.
 */
function outcomeError(definition, e, onFix, noteId = null, index = null) {
  const chars = [...definition];
  const fix = e.suggestion
    ? h(
        'button',
        { type: 'button', class: 'btn btn-small btn-plain', onclick: () => onFix(chars.slice(0, e.start).join('') + e.suggestion + chars.slice(e.end).join('')) },
        `Use ${e.suggestion}`,
      )
    : null;
  return h(
    'div',
    { class: 'metric-error', id: noteId, dataset: index === null ? null : { metricError: String(index) } },
    markedDefinition(definition, e),
    h('p', { class: 'field-error' }, e.message),
    fix,
  );
}

/** The definition with the part the error is about marked (offsets in characters). */
function markedDefinition(definition, error) {
  const chars = [...definition];
  const start = Math.min(error.start, chars.length);
  const end = Math.max(start + 1, Math.min(error.end, chars.length));
  const at = chars.slice(start, end).join('') || ' ';
  return h(
    'code',
    { class: 'metric-source' },
    chars.slice(0, start).join(''),
    h('mark', { class: 'metric-error-at' }, at),
    chars.slice(end).join(''),
  );
}

/**
 * The custom metrics section: the editor, then one item per definition in `state.metrics` with
 * its value (and a button to chart it) or its error.
 */
export function renderMetricEditor(container, report, state, handlers) {
  if (!editor) {
    editor = makeEditor(handlers, state);
    fill(
      container,
      h(
        'p',
        { class: 'muted small metric-hint' },
        'Invent a metric: aggregates (sum, count, count_distinct, avg, min, max, median, p1…p99, share) with where filters, catalog metric ids and arithmetic, e.g. ',
        h('code', {}, 'sum(amount where status = "success") / count_distinct(user_id)'),
        '. It is charted, segmented and compared like the others.',
      ),
      editor.list,
      editor.form,
    );
  }
  const roles = (report.mapping || []).filter((m) => m.column).map((m) => m.role);
  editor.context.columns = [...new Set([...(report.columns || []), ...roles])];
  editor.context.metrics = (report.metrics || []).filter((m) => m.tier !== 'custom').map((m) => m.id);
  const outcomes = report.custom || [];
  fill(
    editor.list,
    state.metrics.map((definition, i) => {
      const o = outcomes[i]?.definition === definition ? outcomes[i] : outcomes.find((x) => x.definition === definition);
      const metric = o?.id && !o.error ? (report.metrics || []).find((m) => m.id === o.id && m.tier === 'custom') : null;
      const noteId = `metric-note-${i}`;
      const input = h('input', {
        class: 'input',
        type: 'text',
        value: definition,
        'aria-label': `Custom metric ${i + 1}`,
        'aria-invalid': o?.error ? 'true' : null,
        'aria-describedby': noteId,
        autocomplete: 'off',
        spellcheck: 'false',
        dataset: { metricDefinition: String(i) },
      });
      input.addEventListener('change', () => handlers.setMetric(i, input.value));
      let note;
      if (o?.error) {
        note = outcomeError(definition, o.error, (fixed) => handlers.setMetric(i, fixed), noteId, i);
      } else if (metric) {
        note = h(
          'p',
          { class: 'metric-outcome muted small', id: noteId, dataset: { metricOutcome: metric.id } },
          h('strong', { class: 'metric-value' }, formatValue(metric.value, metric.unit, report.currency)),
          ` · ${o.formula}`,
          ' ',
          h('button', { type: 'button', class: 'btn btn-small btn-plain', dataset: { chartMetric: metric.id }, onclick: () => handlers.chartMetric(metric.id) }, 'Chart it'),
        );
      } else {
        note = h('p', { class: 'metric-outcome muted small', id: noteId }, '');
      }
      return h(
        'li',
        { class: `metric-item${o?.error ? ' is-bad' : ''}` },
        h(
          'div',
          { class: 'metric-row' },
          input,
          h('button', { type: 'button', class: 'btn btn-small btn-icon', 'aria-label': `Remove ${definition}`, onclick: () => handlers.setMetric(i, '') }, '×'),
        ),
        note,
      );
    }),
  );
}
