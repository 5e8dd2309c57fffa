// Issue 7, "Hardening": the page with the keyboard only. A whole session with Tab, Shift+Tab,
// Enter, Space, the arrows and Escape (no mouse, no element.click() from the test): the file
// picker, a CSV loaded, the time zone, the grain, a segment, a filter added and removed, a view,
// a metric's dialog closed with Escape (the focus back on its opener), a chart's table, a role's
// mapping, every export, the Share panel and its Copy. Then every control reached by Tab shows a
// visible focus indicator, and Tab goes round the whole page without being trapped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, settle, startPage, waitForStatus } from './helpers.mjs';

/** A short description of the focused element, for messages. */
const focused = (page) =>
  page.evaluate(() => {
    const a = document.activeElement;
    if (!a || a === document.body) return 'body';
    const data = Object.entries(a.dataset).map(([k, v]) => `[data-${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}="${v}"]`)[0] || '';
    return `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${data} "${(a.getAttribute('aria-label') || a.textContent || '').trim().slice(0, 40)}"`;
  });

/**
 * Presses Tab (or Shift+Tab) until the focused element matches `selector`; fails after `max`
 * presses, naming where the focus went.
 */
async function tabTo(page, selector, { back = false, max = 600 } = {}) {
  const trail = [];
  for (let i = 0; i < max; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    if (i > max - 8) trail.push(await focused(page));
  }
  assert.fail(`${back ? 'Shift+Tab' : 'Tab'} never reached ${selector}; last: ${trail.join(' → ')}`);
}

/** Presses `key` on the focused element and waits until the page has recomputed. */
const pressAndSettle = (page, key) => settle(page, () => page.keyboard.press(key));

describe('Keyboard only', { timeout: 600000 }, () => {
  let session;
  let page;

  before(async () => {
    session = await startPage();
    ({ page } = session);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await waitForStatus(page, 'ready', 60000);
  });
  after(() => session?.close());

  test('a whole session, from the file picker to the Share link', async () => {
    // The file picker opens from the drop zone with Enter. The wait starts before the Tabs: it is
    // what makes Playwright intercept the picker, and that takes effect asynchronously (on a busy
    // machine an Enter pressed at once opened a picker nobody saw, and the wait timed out).
    const opened = page.waitForEvent('filechooser');
    await tabTo(page, '#dropzone');
    await page.keyboard.press('Enter');
    const chooser = await opened;
    assert.equal(chooser.isMultiple(), true);
    await settle(page, () => chooser.setFiles(join(DATA, 'basic.csv')));
    assert.match(await page.textContent('#dataset-name'), /basic\.csv/);

    // The time zone: a select, changed with an arrow key.
    await tabTo(page, '#tz');
    const tz = await page.inputValue('#tz');
    await pressAndSettle(page, 'ArrowDown');
    assert.notEqual(await page.inputValue('#tz'), tz, 'the time zone changed');

    // The grain: Tab to Week, Enter.
    await tabTo(page, '#grain [data-grain="week"]');
    await pressAndSettle(page, 'Enter');
    assert.equal(await page.getAttribute('#grain [data-grain="week"]', 'aria-pressed'), 'true');

    // A segment.
    await tabTo(page, '#segment');
    await pressAndSettle(page, 'ArrowDown');
    assert.notEqual(await page.inputValue('#segment'), '', 'a segment is picked');
    assert.equal(await page.isVisible('#segment-wrap'), true);

    // A filter: open the editor, tick a value with Space, apply with Enter; then remove it.
    await tabTo(page, '#add-filter');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#filter-editor:not([hidden])');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'filter-column', 'the editor takes the focus');
    await tabTo(page, '#filter-values input[type="checkbox"]');
    await page.keyboard.press('Space');
    await tabTo(page, '#filter-apply');
    await pressAndSettle(page, 'Enter');
    assert.equal(await page.locator('#filter-chips [data-filter]').count(), 1, 'one filter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'add-filter', 'the focus is back on Add filter');
    await tabTo(page, '#filter-chips [data-remove-filter]', { back: true });
    await pressAndSettle(page, 'Enter');
    assert.equal(await page.locator('#filter-chips [data-filter]').count(), 0, 'the filter is removed');

    // The exports: CSV, JSON and HTML download; SQL opens its dialog, closed with Escape.
    for (const kind of ['metrics-csv', 'series-csv', 'json', 'html']) {
      await tabTo(page, `[data-export="${kind}"]`);
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60000 }), page.keyboard.press('Enter')]);
      assert.ok(download.suggestedFilename().length > 0, kind);
    }
    await tabTo(page, '[data-export="sql"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#sql-dialog[data-ready]', { timeout: 60000 });
    assert.equal(await page.evaluate(() => document.getElementById('sql-dialog').contains(document.activeElement)), true, 'the focus is in the SQL dialog');
    await tabTo(page, '#sql-download');
    const [sql] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.match(sql.suggestedFilename(), /\.sql$/);
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('#sql-dialog', (d) => d.open), false);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.export), 'sql', 'the focus is back on SQL');

    // The Share panel: open it, copy the link.
    await tabTo(page, '#share-link', { back: true });
    await page.keyboard.press('Enter');
    await page.waitForSelector('#share-panel:not([hidden])');
    await page.waitForFunction(() => document.querySelector('#share-url').value.includes('#v='));
    await tabTo(page, '#share-copy');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /copied/i.test(document.querySelector('#share-status').textContent));
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), await page.inputValue('#share-url'));
    await tabTo(page, '#share-close');
    await page.keyboard.press('Enter');
    assert.equal(await page.isHidden('#share-panel'), true);

    // A view: the selected tab, then the arrow keys.
    await tabTo(page, '#views [aria-selected="true"]');
    await page.keyboard.press('ArrowRight');
    await page.waitForFunction(() => document.activeElement.getAttribute('aria-selected') === 'true' && document.activeElement.dataset.view !== 'all');
    assert.equal(await page.$eval('#view-panel', (p) => p.dataset.view), await page.evaluate(() => document.activeElement.dataset.view));
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.activeElement.dataset.view === 'all' && document.activeElement.getAttribute('aria-selected') === 'true');

    // A metric's chart dialog: Enter on a KPI card opens it, Escape closes it, the focus returns.
    await tabTo(page, '[data-open-metric="tpv"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#metric-dialog[open]');
    assert.equal(await page.evaluate(() => document.getElementById('metric-dialog').contains(document.activeElement)), true, 'the focus is in the dialog');
    await page.waitForSelector('#metric-dialog-chart[data-rendered="true"]');
    await tabTo(page, '#metric-dialog [data-chart-table="toggle"]');
    await page.keyboard.press('Space');
    assert.equal(await page.getAttribute('#metric-dialog [data-chart-table="toggle"]', 'aria-pressed'), 'true');
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('#metric-dialog', (d) => d.open), false);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.openMetric), 'tpv', 'the focus is back on the card');

    // A chart's table, from the keyboard.
    await tabTo(page, '#charts [data-chart-table="toggle"]');
    await page.keyboard.press('Enter');
    assert.equal(await page.isVisible('#charts ~ .chart-data table, #charts .chart-data table'), true);

    // The mapping of a role: the amount column mapped elsewhere, then back with Reset.
    await tabTo(page, '#mapping select[data-role="amount"], #mapping [data-role="amount"] select');
    const amount = await page.evaluate(() => document.activeElement.value);
    await pressAndSettle(page, 'ArrowDown');
    assert.notEqual(await page.evaluate(() => document.activeElement.value), amount, 'amount is mapped to another column');
    await tabTo(page, '#reset-mapping', { back: true });
    await pressAndSettle(page, 'Enter');
  });

  test('every control shows a visible focus indicator; Tab goes round the page without a trap', async (t) => {
    // Style of the focused element, then of the same element once the focus has moved on.
    const look = () =>
      page.evaluate(() => {
        const a = document.activeElement;
        if (!a || a === document.body) return null;
        // A transition of the focus ring is jumped to its end: the style it settles on counts.
        for (const anim of a.getAnimations()) anim.finish();
        const s = getComputedStyle(a);
        window.__lastFocused = a;
        return { outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 ? `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` : 'none', shadow: s.boxShadow, visible: a.matches(':focus-visible') };
      });
    const lookBefore = () =>
      page.evaluate(() => {
        const a = window.__lastFocused;
        for (const anim of a.getAnimations()) anim.finish();
        const s = getComputedStyle(a);
        return { outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 ? `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}` : 'none', shadow: s.boxShadow };
      });
    const seen = new Set();
    const bad = [];
    let steps = 0;
    let exits = 0;
    for (; steps < 1500; steps++) {
      await page.keyboard.press('Tab');
      const name = await focused(page);
      const on = await look();
      if (!on) {
        // Past the page's last control the focus leaves the document, and the next Tab comes
        // back at the first one: the second time round, every control has been seen.
        if (++exits === 2) break;
        continue;
      }
      seen.add(name);
      // The same element without the focus (blurred for a moment, then focused again, so that the
      // next Tab goes on from it).
      await page.evaluate(() => window.__lastFocused.blur());
      const off = await lookBefore();
      await page.evaluate(() => window.__lastFocused.focus({ preventScroll: true }));
      const shows = on.visible && (on.outline !== off.outline || on.shadow !== off.shadow) && (on.outline !== 'none' || on.shadow !== 'none');
      if (!shows) bad.push(`${name}: focused ${JSON.stringify(on)}, not ${JSON.stringify(off)}`);
    }
    assert.equal(exits, 2, 'Tab went round the page and came back (no keyboard trap)');
    assert.ok(seen.size > 60, `${seen.size} controls reached: ${[...seen].join(' → ')}`);
    t.diagnostic(`${seen.size} controls reached by Tab, each with a visible focus indicator`);
    assert.ok(seen.has('a "Skip to the metrics"') || [...seen].some((n) => n.includes('Skip to the metrics')), 'the skip link is the first stop');
    assert.deepEqual(bad, [], 'controls without a visible focus indicator');
  });
});

// What a test file that does no mouse click may not contain: a click or a check from the test.
test('the keyboard session uses no mouse', () => {
  const source = readFileSync(new URL(import.meta.url), 'utf8');
  const body = source.slice(source.indexOf("describe('Keyboard only'"), source.indexOf('// What a test file'));
  assert.doesNotMatch(body, /\.(click|check|dblclick|hover|tap|selectOption|fill)\(|mouse\./);
});
