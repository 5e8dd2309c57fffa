// Tiny DOM builder. Text is always set with textContent / createTextNode, never parsed as HTML, so
// file names, column names, cell values and error messages can never inject markup.

/**
 * h('div', { class: 'card', dataset: { metric: 'tpv' }, onclick: fn }, 'text', childNode, [more])
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = String(value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace every child of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * A data table: `head` is a list of column titles, `rows` a list of rows, each a list of cells
 * (text, or { text, node, value, col, class, header }: `value` and `col` become data-value and
 * data-col), `rowData` optional data attributes per row. The
 * first cell of each row is its header (<th scope="row">).
 */
export function dataTable({ caption, head, rows, rowData, className = 'series-table', captionHidden = true }) {
  const cell = (c, i) => {
    const spec = c !== null && typeof c === 'object' && !(c instanceof Node) ? c : { text: c };
    const tag = i === 0 || spec.header ? 'th' : 'td';
    return h(
      tag,
      {
        scope: tag === 'th' ? 'row' : null,
        class: spec.class || null,
        title: spec.title || null,
        dataset: {
          ...(spec.col ? { col: spec.col } : {}),
          ...(spec.value !== undefined ? { value: spec.value === null ? '' : String(spec.value) } : {}),
        },
      },
      spec.node ?? spec.text ?? '',
    );
  };
  return h(
    'table',
    { class: className },
    caption ? h('caption', { class: captionHidden ? 'visually-hidden' : 'table-caption' }, caption) : null,
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      rows.map((r, i) => h('tr', { dataset: rowData?.[i] || null }, r.map(cell))),
    ),
  );
}

/**
 * Saves `data` (a string, Blob or data: URL) as a file named `name`: an object URL and an
 * `<a download>` click, all in the page (no request leaves it).
 */
export function download(data, name, type = 'application/octet-stream') {
  const isDataUrl = typeof data === 'string' && data.startsWith('data:');
  const blob = isDataUrl ? dataUrlBlob(data) : data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // Long enough for the browser to have started the download.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function dataUrlBlob(url) {
  const [head, body] = url.split(',', 2);
  const type = /^data:([^;,]+)/.exec(head)?.[1] || 'application/octet-stream';
  const binary = head.endsWith(';base64') ? atob(body) : decodeURIComponent(body);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new Blob([bytes], { type });
}
