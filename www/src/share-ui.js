// The report bar's "Share link" and "Export" controls, and what the page does with a share link
// it is opened with (share.js encodes and checks links; export.js builds the exported files).
//
// A link never carries the user's data unless they asked for it after a warning (embedding, for
// small files only), and opening one makes no request: a sample link regenerates the sample, a
// file link asks for the file and checks it by name, size and SHA-256, an embedded link unpacks
// its data. Everything from a link or a file is shown with textContent.
import { dashboardSvgs } from './dashboard.js';
import { $, download, fill, h } from './dom.js';
import { htmlReport, metricsCsv, reportJson, seriesCsv } from './export.js';
import { hashFile, knownHash, rememberHash } from './file-hash.js';
import { bytes, formatRange, formatValue, metricDelta, tzLabel } from './format.js';
import { datasetOf, isPublished, publish } from './live-link.js';
import { LIMITS, compareFiles, decodeView, deflate, encodeView, isShareFragment, unpackEmbedded, viewOfState } from './share.js';
import { inView, viewById } from './views.js';

const el = {
  share: $('#share-link'),
  panel: $('#share-panel'),
  note: $('#share-note'),
  url: $('#share-url'),
  copy: $('#share-copy'),
  status: $('#share-status'),
  close: $('#share-close'),
  embed: $('#share-embed'),
  embedAsk: $('#share-embed-ask'),
  embedWarning: $('#share-embed-warning'),
  embedText: $('#share-embed-text'),
  embedConfirm: $('#share-embed-confirm'),
  embedCancel: $('#share-embed-cancel'),
  request: $('#share-request'),
  requestText: $('#share-request-text'),
  requestFiles: $('#share-request-files'),
  requestProblem: $('#share-request-problem'),
  requestStatus: $('#share-request-status'),
  requestPick: $('#share-request-pick'),
  requestAnyway: $('#share-request-anyway'),
  requestCancel: $('#share-request-cancel'),
};

/** The link of a fragment: this page's address with it. */
const linkOf = (fragment) => `${location.origin}${location.pathname}${location.search}#${fragment}`;

/**
 * Wires the panels; main.js imports this module (and share.js, export.js) on the first click on
 * Share link or Export, or when the page is opened with a link, so the first load does not carry
 * it. `app` is main.js's side: { state, report(), options(), isSample(),
 * openSample(spec, view), openFiles(files, view), openDefault(notice), showError(title, text),
 * pickFiles(), follow(), reportOptions() (those the report on screen was computed under),
 * sqlScript({ report, options, dialect }) }.
 */
export function setupShare(app) {
  let request = null; // a file link waiting for its files: { view, dropped, problems }

  // ---- making a link --------------------------------------------------------------------------------

  /** The link in the panel and in the address bar (live-link.js: replaceState, no hashchange). */
  function show(fragment) {
    publish(fragment);
    el.url.value = linkOf(fragment);
    return el.url.value;
  }

  async function copy(url) {
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(url);
      el.status.textContent = 'Link copied to the clipboard.';
      el.panel.dataset.copied = 'true';
    } catch {
      // No clipboard (permission, an old browser): the link is selected for the user to copy.
      el.status.textContent = 'Select the link above and copy it (Ctrl+C or ⌘C).';
      el.panel.dataset.copied = 'false';
      el.url.focus();
      el.url.select();
    }
  }

  let making = 0; // the latest link being made: an older one that finishes later is dropped
  let embedded = null; // { view, data } prepared for the user's consent

  /**
   * Opens the panel with the link of the view on screen, copied to the clipboard; or, with
   * `changed`, puts the link of the view that just changed in the open panel (copying is the
   * user's to do again: the clipboard is not overwritten behind their back).
   */
  async function share({ changed = false } = {}) {
    if (!app.report()) return;
    const mine = ++making;
    el.panel.hidden = false;
    el.share.setAttribute('aria-expanded', 'true');
    el.embedWarning.hidden = true;
    embedded = null;
    el.status.textContent = 'Making the link…';
    el.url.value = '';
    delete el.panel.dataset.copied;
    delete el.panel.dataset.embedded;
    try {
      // A large file takes a second or so to hash: the panel says what it is doing meanwhile.
      const { dataset, data } = await datasetOf(app, (name) => (el.status.textContent = `Checking ${name}…`));
      if (mine !== making) return;
      el.status.textContent = 'Making the link…';
      const url = show(encodeView(viewOfState(app.state, dataset), data));
      if (dataset.kind === 'sample') {
        el.note.textContent = `The link holds the view and the sample's seed (${dataset.seed}) and size (${dataset.rows} rows): whoever opens it gets the same sample, generated in their browser.`;
      } else if (dataset.kind === 'embedded') {
        el.panel.dataset.embedded = 'true';
        el.note.textContent = `This link contains the data of ${dataset.files.map((f) => f.name).join(', ')}, as the link this page was opened with did: whoever opens it sees it without any file.`;
      } else {
        const names = dataset.files.map((f) => `${f.name} (${bytes(f.size)})`).join(', ');
        const unhashed = dataset.files.some((f) => f.sha256 === null);
        el.note.textContent = `The link holds the view, not your data: whoever opens it is asked for ${names} and the file is checked by name, size${unhashed ? '' : ' and content (SHA-256)'} before the view is shown.${unhashed ? ' A file over 256 MB is not hashed: only its name and size are checked.' : ''}`;
      }
      el.embed.hidden = dataset.kind !== 'files' || dataset.files.reduce((s, f) => s + f.size, 0) > LIMITS.embedRaw;
      el.embedAsk.disabled = false;
      if (changed) el.status.textContent = 'The view changed: this is its link now. Copy it again to share it.';
      else await copy(url);
    } catch (err) {
      if (mine === making) el.status.textContent = `Could not make the link: ${String(err?.message || err)}`;
    }
  }

  async function askEmbed() {
    el.embedAsk.disabled = true;
    el.status.textContent = 'Compressing the data…';
    try {
      const files = app.state.files.filter((f) => !f.sample);
      const raw = await Promise.all(files.map(async (f) => new Uint8Array(await f.file.arrayBuffer())));
      const data = await Promise.all(raw.map((b) => deflate(b)));
      const packed = data.reduce((s, d) => s + d.length, 0);
      if (packed > LIMITS.embedCompressed) {
        el.status.textContent = `Too large to put in a link: ${bytes(packed)} compressed, the limit is ${bytes(LIMITS.embedCompressed)}. The link asks for the file instead.`;
        return;
      }
      const dataset = { kind: 'embedded', files: await Promise.all(files.map(async (f) => ({ name: f.name, size: f.file.size, sha256: await hashFile(f.file), role: f.role }))) };
      embedded = { view: viewOfState(app.state, dataset), data };
      el.embedText.textContent =
        `Warning: this puts every row of ${files.map((f) => f.name).join(', ')} into the link itself (${bytes(packed)} compressed). ` +
        'Anyone who gets the link, or sees it in a chat log, e-mail, browser history or bookmark, can read all of that data. ' +
        'Only do this with data you are allowed to share with everyone who may see the link.';
      el.embedWarning.hidden = false;
      el.status.textContent = '';
      el.embedConfirm.focus();
    } catch (err) {
      el.status.textContent = `Could not embed the data: ${String(err?.message || err)}`;
    } finally {
      el.embedAsk.disabled = false;
    }
  }

  async function confirmEmbed() {
    if (!embedded) return;
    const { view, data } = embedded;
    embedded = null;
    el.embedWarning.hidden = true;
    try {
      const url = show(encodeView(view, data));
      el.panel.dataset.embedded = 'true';
      // The consent is for this link: the address goes back to a link without the data at the
      // next change of the view (live-link.js never embeds on its own).
      el.note.textContent = `This link contains the data of ${view.dataset.files.map((f) => f.name).join(', ')}: whoever opens it sees it without any file. The address bar goes back to a link without the data when you change the view.`;
      await copy(url);
    } catch (err) {
      el.status.textContent = `Could not embed the data: ${String(err?.message || err)}`;
    }
  }

  function closePanel() {
    el.panel.hidden = true;
    el.embedWarning.hidden = true;
    embedded = null;
    el.share.setAttribute('aria-expanded', 'false');
    el.share.focus({ preventScroll: true });
  }

  el.copy.addEventListener('click', () => el.url.value && copy(el.url.value));
  el.close.addEventListener('click', closePanel);
  el.embedAsk.addEventListener('click', askEmbed);
  el.embedConfirm.addEventListener('click', confirmEmbed);
  el.embedCancel.addEventListener('click', () => {
    embedded = null;
    el.embedWarning.hidden = true;
    el.status.textContent = 'The data stays out of the link.';
  });
  el.panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closePanel();
  });

  // ---- opening a link ---------------------------------------------------------------------------------

  function showRequest(view) {
    request = { view, dropped: null };
    const files = view.dataset.files;
    el.request.hidden = false;
    el.requestText.textContent =
      files.length === 1
        ? 'It does not contain the data. Drop or choose this file to see the view; it is checked to be the same file, and read only in this browser:'
        : 'It does not contain the data. Drop or choose these files together to see the view; they are checked to be the same files, and read only in this browser:';
    fill(el.requestFiles, files.map((f) => h('li', { dataset: { wantedFile: f.name } }, `${f.name} · ${bytes(f.size)} (${f.size} bytes) · ${f.role}`)));
    setProblem(null);
  }

  function setProblem(problems) {
    el.requestProblem.hidden = !problems;
    el.requestProblem.textContent = problems ? `${problems.join(' ')} Load it anyway, or cancel and choose another file.` : '';
    el.requestAnyway.hidden = !problems;
    el.requestCancel.textContent = problems ? 'Cancel' : 'Ignore the link';
    el.request.dataset.state = problems ? 'mismatch' : 'waiting';
  }

  function endRequest() {
    request = null;
    el.request.hidden = true;
    delete el.request.dataset.state;
  }

  /** Roles for dropped files: the link's role by name, else the first (or only) is the transactions. */
  function withRoles(dropped, wanted) {
    const named = dropped.map((d) => ({ ...d, role: wanted.find((w) => w.name === d.name)?.role || null }));
    if (!named.some((d) => d.role === 'transactions')) {
      const unnamed = named.find((d) => !d.role) || named[0];
      unnamed.role = 'transactions';
    }
    for (const d of named) if (d.role === null || (d.role === 'transactions' && d !== named.find((x) => x.role === 'transactions'))) d.role = 'lookup';
    return [...named.filter((d) => d.role === 'transactions'), ...named.filter((d) => d.role !== 'transactions')];
  }

  /** Files dropped while a file link waits: checked against it, then loaded with the link's view. */
  async function offer(list) {
    const wanted = request.view.dataset.files;
    const dropped = [...list].filter(Boolean).map((file) => ({ name: file.name, file, size: file.size }));
    if (!dropped.length) return;
    el.request.dataset.state = 'checking';
    el.requestProblem.hidden = true;
    // Hashing a large file takes a second or so: the panel says so rather than look frozen.
    const checking = (name) => (el.requestStatus.textContent = `Checking ${name}…`);
    for (const d of dropped) d.sha256 = wanted.some((w) => w.name === d.name || wanted.length === 1) ? await hashFile(d.file, checking) : null;
    el.requestStatus.textContent = '';
    if (!request) return;
    const { ok, missing, problems } = compareFiles(wanted, dropped);
    const all = [...problems, ...(missing.length ? [`The link also needs ${missing.join(', ')}.`] : [])];
    request.dropped = dropped;
    if (ok) {
      load(dropped);
      return;
    }
    setProblem(all);
    el.requestAnyway.focus();
  }

  function load(dropped) {
    const { view } = request;
    endRequest();
    app.openFiles(withRoles(dropped, view.dataset.files).map((d) => ({ name: d.name, role: d.role, file: d.file, sample: false })), view);
  }

  el.requestPick.addEventListener('click', () => app.pickFiles());
  el.requestAnyway.addEventListener('click', () => request?.dropped && load(request.dropped));
  el.requestCancel.addEventListener('click', () => {
    if (request?.dropped) {
      request.dropped = null;
      setProblem(null);
      return;
    }
    endRequest();
    publish(null);
    // The view on screen (the sample, maybe changed meanwhile) takes the address again.
    app.follow();
  });

  /** Opens the link in the address bar, if there is one: false when there is none. */
  async function openLocation() {
    const fragment = location.hash;
    if (!isShareFragment(fragment)) return false;
    // Back in the history to the link this page made (after the skip link, say): the view is on screen.
    if (isPublished(fragment)) return true;
    endRequest();
    const decoded = decodeView(fragment);
    const refuse = (message) => {
      // Back to the address without the link: a reload shows the default view, not the error.
      publish(null);
      app.openDefault({ title: 'This link could not be opened', message: `${message} The default view is shown instead.` });
    };
    if (decoded.error) {
      refuse(decoded.error);
      return true;
    }
    const { view, data } = decoded;
    if (view.dataset.kind === 'sample') {
      app.openSample({ seed: view.dataset.seed, rows: view.dataset.rows }, view);
    } else if (view.dataset.kind === 'embedded') {
      try {
        const files = await unpackEmbedded(view, data);
        // Checked against the link's SHA-256 already; `packed` keeps them embedded in the address.
        const opened = files.map((f, i) => {
          const file = new File([f.bytes], f.name, { type: 'text/csv' });
          rememberHash(file, f.sha256);
          return { name: f.name, role: f.role, file, sample: false, packed: data[i] };
        });
        app.openFiles(opened, view);
      } catch (err) {
        refuse(String(err?.message || err));
      }
    } else {
      // The sample meanwhile, so the page is not empty; the panel says what to drop.
      app.openDefault(null);
      showRequest(view);
    }
    return true;
  }


  // ---- exports --------------------------------------------------------------------------------------------

  function stamp() {
    return new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  }

  async function htmlOf(report) {
    const { state } = app;
    const view = viewById(state.view);
    const range = report.range || report.data_range;
    const filters = state.filters.map((f) => `${f.column} ${f.exclude ? 'is not' : 'is'} ${f.values.map((v) => (v === '' ? '(empty)' : v)).join(', ')}`);
    const params = [
      ['Dataset', [report.file || 'Untitled', ...state.files.filter((f) => f.role === 'lookup').map((f) => `+ ${f.name}`)].join(' ')],
      ['Rows loaded', String(report.quality?.rows_loaded ?? '—')],
      ['Period', range ? formatRange(range) : 'All data'],
      ['Compared with', report.previous ? formatRange(report.previous) : 'No comparison'],
      ['Grain', report.grain || state.grain],
      ['Time zone', report.tz ? tzLabel(report.tz) : state.tz || 'From the data'],
      ['Weeks start', report.week_start || state.weekStart],
      ['Filters', filters.length ? filters.join('; ') : 'All rows'],
      ['Segment by', report.segments?.column || state.segment || 'None'],
      ['Tab', view.label],
      ['Currency', report.currency || (report.currencies || []).join(', ') || '—'],
    ];
    if (state.metrics?.length) params.push(['Custom metrics', state.metrics.join('; ')]);
    const metrics = (report.metrics || [])
      .filter((m) => inView(m, view))
      .map((m) => {
        const d = metricDelta(m);
        return {
          id: m.id,
          name: m.name || m.id,
          description: m.description || '',
          tier: m.tier,
          value: formatValue(m.value ?? null, m.unit, report.currency),
          previous: formatValue(m.previous ?? null, m.unit, report.currency),
          change: d ? `${d.arrow} ${d.text}` : '—',
          tone: d?.tone,
        };
      });
    const charts = await dashboardSvgs();
    return htmlReport({ title: `Paymetrics report · ${report.file || 'Untitled'}`, subtitle: view.blurb, params, metrics, charts });
  }

  // ---- the SQL of the view (docs/sql.md) ---------------------------------------------------------------
  //
  // The worker's speed build writes it (src/wasm.rs, sqlScript) from the report on screen and the
  // options it was computed under: the same text as `paymetrics sql` for the same file and view.
  // The dialog is built here, on first use, so the first load carries only the button.

  const DIALECTS = [
    ['duckdb', 'DuckDB'],
    ['spark', 'Spark SQL'],
    ['bigquery', 'BigQuery'],
  ];
  let sql = null; // the dialog's elements, once built
  let sqlView = null; // { report, options, scripts: Map(dialect -> script), opener }
  let sqlAsked = 0; // the latest request: an older answer is dropped

  function buildSqlDialog() {
    const close = h('button', { type: 'button', class: 'btn btn-small btn-icon dialog-close', 'aria-label': 'Close' }, '×');
    const dialect = h('select', { id: 'sql-dialect', class: 'input' }, DIALECTS.map(([value, label]) => h('option', { value }, label)));
    const copyButton = h('button', { type: 'button', class: 'btn btn-small', id: 'sql-copy', disabled: true }, 'Copy');
    const save = h('button', { type: 'button', class: 'btn btn-small btn-plain', id: 'sql-download', disabled: true }, 'Download');
    const status = h('p', { class: 'small', id: 'sql-status', role: 'status' });
    const text = h('textarea', { id: 'sql-text', class: 'input sql-text', readOnly: true, spellcheck: 'false', wrap: 'off', rows: '18' });
    const dialog = h(
      'dialog',
      { id: 'sql-dialog', class: 'metric-dialog sql-dialog', 'aria-labelledby': 'sql-title', 'aria-describedby': 'sql-note' },
      h(
        'header',
        { class: 'dialog-head' },
        h(
          'div',
          {},
          h('p', { class: 'dialog-kicker' }, 'Export'),
          h('h2', { class: 'dialog-title', id: 'sql-title' }, 'SQL of this view'),
          h(
            'p',
            { class: 'muted small', id: 'sql-note' },
            'Replace the table name ',
            h('code', {}, 'transactions'),
            ' with yours; the column names are those of your file, as mapped here (the script’s header lists them).',
          ),
        ),
        close,
      ),
      h('div', { class: 'share-row' }, h('label', { for: 'sql-dialect' }, 'Dialect'), dialect, copyButton, save),
      status,
      h('label', { class: 'visually-hidden', for: 'sql-text' }, 'SQL script'),
      text,
    );
    close.addEventListener('click', () => dialog.close());
    // Escape closes a modal <dialog> by itself; focus goes back to the SQL button.
    dialog.addEventListener('close', () => {
      sqlAsked++;
      sqlView?.opener?.focus({ preventScroll: true });
      sqlView = null;
    });
    dialect.addEventListener('change', () => showSql());
    copyButton.addEventListener('click', () => copySql());
    save.addEventListener('click', () => {
      if (text.value) download(text.value, `paymetrics-${app.state.view || 'view'}.sql`, 'application/sql;charset=utf-8');
    });
    document.body.append(dialog);
    return { dialog, dialect, copy: copyButton, save, status, text };
  }

  function openSql(button) {
    const report = app.report();
    const options = app.reportOptions?.();
    if (!report) return;
    // Every report on screen comes with its options (main.js, computedWith): none would be a bug.
    if (!options) return app.showError('Could not write the SQL', 'The options of the view on screen are not known. Change the view and try again.');
    sql ||= buildSqlDialog();
    sqlView = { report, options, scripts: new Map(), opener: button };
    sql.dialog.showModal();
    sql.dialect.focus();
    showSql();
  }

  async function showSql() {
    if (!sqlView) return;
    const ask = ++sqlAsked;
    const dialect = sql.dialect.value;
    const { report, options, scripts } = sqlView;
    sql.text.value = '';
    sql.copy.disabled = sql.save.disabled = true;
    delete sql.dialog.dataset.ready;
    sql.status.textContent = 'Writing the SQL…';
    try {
      if (!scripts.has(dialect)) {
        // Only what src/sql.rs reads of the report (sql::ScriptInput): a report can be large.
        const { file, tz, mapping, columns, statuses, currencies, currency, custom } = report;
        const input = { file, tz, mapping, columns, statuses, currencies, currency: currency ?? null, custom };
        scripts.set(dialect, await app.sqlScript({ report: input, options, dialect }));
      }
      if (ask !== sqlAsked) return;
      sql.text.value = scripts.get(dialect);
      sql.text.scrollTop = 0;
      sql.copy.disabled = sql.save.disabled = false;
      sql.dialog.dataset.ready = dialect;
      sql.status.textContent = '';
    } catch (err) {
      if (ask === sqlAsked) sql.status.textContent = `Could not write the SQL: ${String(err?.message || err)}`;
    }
  }

  async function copySql() {
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard');
      await navigator.clipboard.writeText(sql.text.value);
      sql.status.textContent = 'SQL copied to the clipboard.';
    } catch {
      // No clipboard (permission, an old browser): the script is selected for the user to copy.
      sql.status.textContent = 'Select the script below and copy it (Ctrl+C or ⌘C).';
      sql.text.focus();
      sql.text.select();
    }
  }

  /** One of the Export buttons (its data-export): the file is built and downloaded. */
  async function exportAs(button) {
    const report = app.report();
    if (!report) return;
    const kind = button.dataset.export;
    if (kind === 'sql') return openSql(button);
    button.disabled = true;
    try {
      if (kind === 'metrics-csv') download(metricsCsv(report), `paymetrics-metrics-${stamp()}.csv`, 'text/csv;charset=utf-8');
      else if (kind === 'series-csv') download(seriesCsv(report), `paymetrics-series-${stamp()}.csv`, 'text/csv;charset=utf-8');
      else if (kind === 'json') {
        const { state } = app;
        // The files by name, size and the hash if known (the address's link computes it): an
        // export does not wait for one.
        const files = state.files.filter((f) => !f.sample).map((f) => ({ name: f.name, size: f.file?.size ?? null, sha256: knownHash(f.file) ?? null, role: f.role }));
        const view = viewOfState(state, app.isSample() ? { kind: 'sample', seed: state.sample.seed, rows: state.sample.rows } : { kind: 'files', files });
        download(reportJson(report, { options: app.options(), view }), `paymetrics-report-${stamp()}.json`, 'application/json');
      } else if (kind === 'html') download(await htmlOf(report), `paymetrics-report-${stamp()}.html`, 'text/html;charset=utf-8');
    } catch (err) {
      app.showError('Could not export', String(err?.message || err));
    } finally {
      button.disabled = false;
    }
  }

  return {
    openLocation,
    exportAs,
    /** The Share link button: opens the panel with a fresh link, or closes it. */
    toggleShare: () => (el.panel.hidden ? share() : closePanel()),
    /** The view changed (main.js, after it is rendered): an open panel gets the new link. */
    viewChanged() {
      if (!el.panel.hidden) share({ changed: true });
    },
    /** Is a file link waiting for its files (the address keeps that link meanwhile)? */
    waiting: () => request !== null,
    /** True when a file link is waiting for files: the dropped files are its answer. */
    offerFiles(list) {
      if (!request) return false;
      offer(list);
      return true;
    },
  };
}
