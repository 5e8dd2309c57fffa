// Where the charts go, and when the chart library arrives.
//
// ECharts and the option builders (charts.js) are ~195 KB gzip, more than all the rest of the
// page's JS and CSS together, and the first screen (files, controls, KPI cards with SVG
// sparklines) draws no chart. So charts.js is imported the first time a chart is needed: when a
// chart container comes within LOAD_MARGIN of the viewport, or when a chart is rendered that is
// shown at once (a metric's detail dialog). Until it has arrived, and until a chart is drawn, the
// container keeps its size and shows its text summary (its aria-label, through CSS); the numbers
// are also in the data table next to every chart. docs/size.md has the figures.

/** The chart module once imported, the import in flight, the hosts to tell when it arrives. */
let charts = null;
let loading = null;
const hosts = new Set();

// How far below (or above) the viewport a chart container starts the import: about a screen, so
// the library is usually there by the time the chart scrolls in, while the first screen of a
// 900 px window (the charts begin ~2,000 px down) fetches nothing.
const LOAD_MARGIN = '900px 0px';
// How far from the viewport a chart is drawn once the library is there (the others are drawn
// one by one while the browser is idle).
const DRAW_MARGIN = '400px 0px';

function loadCharts() {
  if (loading) return loading;
  // The import alone (Vite preloads its chunks around it); what follows handles its outcome.
  loading = import('./charts.js');
  loading.then(
    (module) => {
      charts = module;
      for (const host of hosts) host.chartsReady();
    },
    (err) => {
      // Offline, or a new release replaced the chunk: the summaries and tables stay, and the
      // next chart that is needed tries again.
      loading = null;
      console.warn('Paymetrics: the charts could not be loaded;', String(err));
    },
  );
  return loading;
}

/** The chart module, imported now if it is not there yet (an export needs it at once). */
async function chartModule() {
  if (!charts) await loadCharts();
  return charts;
}

/**
 * A chart's name (an SVG's <title>, a report's heading): `data-chart-name` when its accessible
 * name is a longer summary, else that name without the pointer to the table next to it.
 */
export function chartTitle(el) {
  return el.dataset.chartName || (el.getAttribute('aria-label') || '').replace(/;\s*the (data )?table[^;]*$/, '');
}

let tableIds = 0;

/**
 * Keeps one ECharts instance per container and updates it in place. A render pass is
 * begin() … box() / render() … end(): the charts not rendered in the pass are disposed.
 * `render` takes a function of the chart module that builds the option (charts.js is not loaded
 * yet when the first report is rendered), and calls it only when the chart is drawn.
 * With `lazy`, the charts near the viewport are drawn first and the others one by one while the
 * browser is idle (the page has some twenty charts; a report should not wait for the ones below
 * the fold), all of them before printing; a chart whose `signature` (the report and the settings
 * it was drawn from) has not changed is not drawn again. Without `lazy`, a chart is drawn as soon
 * as the chart module is there. With `onExport`, each drawn chart gets a Table toggle (its
 * numbers as a table) and PNG and SVG buttons.
 */
export class ChartHost {
  constructor({ lazy = false, onExport = null } = {}) {
    this.onExport = onExport; // (container, 'png' | 'svg') => void: the chart's download buttons
    this.charts = new Map(); // container -> ECharts instance
    this.boxes = new Map(); // key -> container, reused from one report to the next
    this.pending = new Map(); // container -> option builder waiting for the library or the viewport
    this.signatures = new Map(); // container -> signature of what it shows (or waits to show)
    this.visible = new Set();
    this.builds = new Map(); // container -> option builder of what it shows: exports draw it again
    this.actions = new Map(); // container -> its PNG / SVG download buttons
    this.kept = null;
    this.resizeObserver = new ResizeObserver((entries) => {
      // No animation on resize: a full-page capture, a window resize, a panel opening.
      for (const entry of entries) this.charts.get(entry.target)?.resize({ animation: { duration: 0 } });
    });
    const observing = lazy && typeof IntersectionObserver === 'function';
    this.io = observing
      ? new IntersectionObserver(
          (entries) => {
            for (const entry of entries) {
              if (!entry.isIntersecting) {
                this.visible.delete(entry.target);
                continue;
              }
              this.visible.add(entry.target);
              const build = this.pending.get(entry.target);
              if (!build) continue;
              if (!charts) {
                this.needCharts();
                continue;
              }
              this.pending.delete(entry.target);
              this.draw(entry.target, build);
            }
          },
          { rootMargin: DRAW_MARGIN },
        )
      : null;
    // Watches the waiting containers with a wider margin, only until the chart module is there.
    this.approach = observing
      ? new IntersectionObserver(
          (entries) => {
            if (entries.some((entry) => entry.isIntersecting)) this.needCharts();
          },
          { rootMargin: LOAD_MARGIN },
        )
      : null;
    this.idle = null;
    if (this.io) window.addEventListener('beforeprint', () => this.flush());
    hosts.add(this);
  }

  /** Imports the chart module if it is not there yet; `chartsReady` is called when it is. */
  needCharts() {
    if (!charts) loadCharts();
  }

  /** The chart module has arrived: draw what is waiting (near the viewport first, if lazy). */
  chartsReady() {
    this.approach?.disconnect();
    for (const [el, build] of [...this.pending]) {
      if (!el.isConnected || (this.io && !this.visible.has(el))) continue;
      this.pending.delete(el);
      this.draw(el, build);
    }
    this.drawWhenIdle();
  }

  /**
   * Draws every chart still waiting (before printing). Without the chart module this starts its
   * import; the print shows the summaries and tables.
   */
  flush() {
    if (!charts) {
      if (this.pending.size) this.needCharts();
      return;
    }
    for (const [el, build] of [...this.pending]) {
      this.pending.delete(el);
      if (el.isConnected) this.draw(el, build);
    }
  }

  /** Draws the waiting charts one at a time, when the browser has nothing else to do. */
  drawWhenIdle() {
    if (!charts || this.idle || !this.pending.size) return;
    const later = window.requestIdleCallback || ((fn) => setTimeout(() => fn({ timeRemaining: () => 8 }), 60));
    this.idle = later(
      (deadline) => {
        this.idle = null;
        // At least one chart per call (a call that timed out has no time left, yet must progress).
        let first = true;
        while (this.pending.size && (first || deadline.timeRemaining() > 4)) {
          first = false;
          const [el, build] = this.pending.entries().next().value;
          this.pending.delete(el);
          if (el.isConnected) this.draw(el, build);
        }
        this.drawWhenIdle();
      },
      { timeout: 2000 },
    );
  }

  begin() {
    this.kept = new Set();
  }

  /**
   * The container of the chart `key` ("main", "mix:channel"…): the same element from one render
   * to the next, so its ECharts instance is updated (and animates) instead of being rebuilt.
   * `label` is its accessible name and, until the chart is drawn, the text it shows.
   */
  box(key, { className, label, dataset = {} }) {
    let el = this.boxes.get(key);
    if (!el) {
      el = document.createElement('div');
      this.boxes.set(key, el);
    }
    el.className = className;
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', label);
    for (const k of Object.keys(el.dataset)) if (k !== 'rendered') delete el.dataset[k];
    Object.assign(el.dataset, dataset);
    el.style.height = '';
    el.hidden = false;
    return el;
  }

  /**
   * Draws the option `build(charts)` returns in `el` now, or when the chart module has arrived
   * and (if lazy) the chart comes near the viewport; nothing when `signature` is unchanged.
   */
  render(el, build, signature = null) {
    this.kept?.add(el);
    this.builds.set(el, build);
    if (signature !== null && this.signatures.get(el) === signature && (this.charts.has(el) || this.pending.has(el))) return;
    this.signatures.set(el, signature);
    if (this.io) {
      this.io.observe(el);
      if (!this.visible.has(el)) {
        this.pending.set(el, build);
        if (!charts) this.approach?.observe(el);
        return;
      }
    }
    if (!charts) {
      this.pending.set(el, build);
      this.needCharts();
      return;
    }
    this.pending.delete(el);
    this.draw(el, build);
  }

  draw(el, build) {
    let chart = this.charts.get(el);
    if (!chart) {
      chart = charts.init(el);
      this.charts.set(el, chart);
      this.resizeObserver.observe(el);
    }
    chart.setOption(build(charts), { notMerge: true });
    el.dataset.rendered = 'true';
    this.attachActions(el);
    this.showTable(el);
    return chart;
  }

  /**
   * The Table toggle and the PNG and SVG buttons, right after the chart's container, then its
   * table (re-attached after each render pass: the panels rebuild the cards around the
   * containers they keep).
   */
  attachActions(el) {
    if (!this.onExport || !el.isConnected) return;
    let bar = this.actions.get(el);
    if (!bar) {
      bar = document.createElement('div');
      bar.className = 'chart-actions';
      // The chart's numbers as a table, for screen readers and for reading exact values (the
      // chart itself is a canvas): built when asked for, by the chart module, from the option
      // the chart is drawn from.
      const wrap = document.createElement('div');
      wrap.className = 'chart-data table-scroll';
      wrap.id = `chart-data-${++tableIds}`;
      wrap.hidden = true;
      // It scrolls when long: focusable, so the keyboard can scroll it.
      wrap.tabIndex = 0;
      wrap.setAttribute('role', 'region');
      const toggle = document.createElement('button');
      toggle.type = 'button';
      toggle.className = 'btn btn-small btn-plain';
      toggle.dataset.chartTable = 'toggle';
      toggle.textContent = 'Table';
      toggle.title = 'Show this chart’s numbers as a table';
      toggle.setAttribute('aria-pressed', 'false');
      toggle.setAttribute('aria-controls', wrap.id);
      toggle.addEventListener('click', () => {
        toggle.setAttribute('aria-pressed', String(wrap.hidden));
        wrap.hidden = !wrap.hidden;
        this.showTable(el);
      });
      bar.append(toggle);
      bar.table = wrap;
      for (const type of ['png', 'svg']) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'btn btn-small btn-plain';
        b.dataset.chartExport = type;
        b.textContent = type.toUpperCase();
        b.title = `Download this chart as ${type.toUpperCase()}`;
        b.addEventListener('click', () => this.onExport(el, type));
        bar.append(b);
      }
      bar.setAttribute('role', 'group');
      this.actions.set(el, bar);
    }
    bar.setAttribute('aria-label', `Table and downloads: ${chartTitle(el) || 'chart'}`);
    if (el.nextElementSibling !== bar) el.after(bar);
    bar.table.setAttribute('aria-label', `${chartTitle(el) || 'Chart'}: the numbers`);
    if (bar.nextElementSibling !== bar.table) bar.after(bar.table);
  }

  /** Fills the chart's table, if it is shown, from what the chart draws now; the chart points to it. */
  showTable(el) {
    const wrap = this.actions.get(el)?.table;
    if (!wrap || !charts) return;
    if (wrap.hidden) {
      wrap.replaceChildren();
      el.removeAttribute('aria-describedby');
      return;
    }
    const build = this.builds.get(el);
    wrap.replaceChildren(charts.chartTable(build(charts), chartTitle(el) || 'Chart'));
    el.setAttribute('aria-describedby', wrap.id);
  }

  /** The charts of this host on the page now, in page order, shown or not: [{ el, key }]. */
  listCharts() {
    const keyOf = (el) => [...this.boxes].find(([, box]) => box === el)?.[0] || el.id || 'chart';
    return [...this.builds.keys()]
      .filter((el) => el.isConnected)
      .sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1))
      .map((el) => ({ el, key: keyOf(el), shown: !el.closest('[hidden]') }));
  }

  /** The chart in `el` as a PNG data URL, drawn now if it was still waiting. */
  async pngOf(el) {
    await chartModule();
    if (this.pending.has(el)) {
      const build = this.pending.get(el);
      this.pending.delete(el);
      this.draw(el, build);
    }
    const chart = this.charts.get(el);
    if (!chart) throw new Error('This chart is not drawn.');
    return chart.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: '#ffffff' });
  }

  /**
   * The chart in `el` as an SVG document (drawn again, offscreen, by the SVG renderer; sanitised),
   * named by a <title>: a downloaded file says what it shows (a single series has no legend).
   */
  async svgOf(el, { width, height } = {}) {
    const module = await chartModule();
    const build = this.builds.get(el);
    if (!build) throw new Error('This chart has nothing to draw.');
    const w = Math.round(width || el.clientWidth || 800);
    const h = Math.round(height || el.clientHeight || 320);
    const svg = module.toSvg(build(module), w, h);
    if (!svg) throw new Error('The chart could not be drawn as SVG.');
    const title = chartTitle(el).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
    return title ? svg.replace(/^<svg[^>]*>/, (open) => `${open}<title>${title}</title>`) : svg;
  }

  end() {
    const kept = this.kept || new Set();
    this.kept = null;
    const all = new Set([...this.charts.keys(), ...this.pending.keys(), ...this.boxes.values()]);
    for (const el of all) if (!kept.has(el)) this.dispose(el);
    for (const el of kept) if (this.charts.has(el)) this.attachActions(el);
    this.drawWhenIdle();
  }

  dispose(el) {
    this.io?.unobserve(el);
    this.approach?.unobserve(el);
    this.pending.delete(el);
    this.visible.delete(el);
    this.signatures.delete(el);
    this.builds.delete(el);
    this.actions.get(el)?.table.remove();
    this.actions.get(el)?.remove();
    this.actions.delete(el);
    for (const [key, box] of this.boxes) if (box === el) this.boxes.delete(key);
    const chart = this.charts.get(el);
    if (!chart) return;
    this.resizeObserver.unobserve(el);
    chart.dispose();
    this.charts.delete(el);
    delete el.dataset.rendered;
  }

  disposeAll() {
    for (const el of new Set([...this.charts.keys(), ...this.pending.keys(), ...this.boxes.values()])) this.dispose(el);
  }
}
