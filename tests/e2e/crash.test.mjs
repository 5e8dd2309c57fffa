// Issue 7, "Hardening": a crash of the core is caught, said in the page, and the page carries on
// with the same data and numbers; a core that crashes again and again is not restarted in a loop.
//
// How the core is made to crash, with no hook in the page: the test patches, inside the engine's
// worker, two functions of the browser that the wasm-bindgen glue calls from *within* the core
// (DataView.prototype.setInt32 when the core reads a string from JS, TextDecoder.prototype.decode
// when it makes one) so that they throw a WebAssembly.RuntimeError. The error unwinds through the
// wasm frames exactly like a trap ("unreachable", which is what a Rust panic becomes): the call is
// abandoned half way, the Workbench stays borrowed, and the instance cannot be used any more. The
// patch lives in that worker only, so the worker the page starts next is a healthy one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressFollows, kpiValues, openPage, serverAndBrowser, seriesRows, settle, text, upload, waitForStatus } from './helpers.mjs';

/** The engine's worker (not the hashing or second-reader workers). */
function engineWorker(page) {
  return page.workers().find((w) => /\/worker-[^/]*\.js$/.test(w.url()));
}

function trapInWorker() {
  const trap = function () {
    throw new WebAssembly.RuntimeError('unreachable (crash caused by the test)');
  };
  DataView.prototype.setInt32 = trap;
  TextDecoder.prototype.decode = trap;
}

/** The next call into the engine's current worker crashes the core. */
async function crashNextCall(page) {
  const worker = engineWorker(page);
  assert.ok(worker, 'the engine worker is running');
  await worker.evaluate(trapInWorker);
}

/**
 * Every engine worker the page starts from now on crashes at its first call into the core (until
 * `stop()`). The wasm file is held back until the worker is patched, so even the first load of
 * the page crashes.
 */
async function crashEveryWorker(context, page) {
  let on = true;
  const patched = [];
  await context.route(/\.wasm$/, async (route) => {
    await Promise.all(patched);
    // `stop()` may unroute while this waits: the request then went on by itself, and continuing
    // it again throws "Route is already handled" (an unhandled rejection after the test).
    await route.continue().catch(() => {});
  });
  const onWorker = (w) => {
    if (on && /\/worker-[^/]*\.js$/.test(w.url())) patched.push(w.evaluate(trapInWorker).catch(() => {}));
  };
  page.on('worker', onWorker);
  return {
    count: () => patched.length,
    async stop() {
      on = false;
      page.off('worker', onWorker);
      await context.unroute(/\.wasm$/);
    },
  };
}

const numbers = async (page) => ({ kpis: await kpiValues(page), series: await seriesRows(page) });
const grain = (page, g) => settle(page, () => page.click(`#grain [data-grain="${g}"]`), { expect: null });

async function assertRecovered(page, expected, what) {
  assert.equal(await page.getAttribute('#app', 'data-status'), 'ready', `${what}: the page is ready again`);
  assert.equal(await page.isVisible('#error-banner'), true, `${what}: the crash is said`);
  assert.match(await text(page, '#error-title'), /crashed and was restarted/, what);
  assert.match(await text(page, '#error-message'), /loaded again/, what);
  assert.deepEqual(await numbers(page), expected, `${what}: the same numbers as before the crash`);
}

/**
 * Takes the weekly and daily numbers, crashes the core at the next change to weekly, checks the
 * weekly numbers come back, then that the next change (to daily) works as if nothing happened.
 * Returns the daily numbers.
 */
async function crashAtAChangeOfGrain(page, what) {
  await grain(page, 'week');
  const week = await numbers(page);
  await grain(page, 'day');
  const day = await numbers(page);
  await crashNextCall(page);
  await grain(page, 'week');
  await assertRecovered(page, week, `${what}, crash at a change of grain`);
  assert.equal(await grain(page, 'day'), 'ready');
  assert.deepEqual(await numbers(page), day, `${what}: the next change of grain`);
  return day;
}

describe('a crash of the core', () => {
  const started = serverAndBrowser();

  async function open(url = started.server.url) {
    const opened = await openPage(started.browser, url);
    return opened;
  }

  test('on the sample: the view comes back, with the same numbers, and carries on', async () => {
    const { page, context, log } = await open();
    await waitForStatus(page, 'ready', 60000);
    await crashAtAChangeOfGrain(page, 'sample');
    assert.match(await text(page, '#dataset-name'), /sample/i);
    assert.equal(await page.isVisible('#error-banner'), false);
    assert.deepEqual(log.pageErrors, []);
    await context.close();
  });

  test('on a dropped file: the file is read again without being dropped again', async () => {
    const { page, context, log } = await open();
    await waitForStatus(page, 'ready', 60000);
    await settle(page, () => upload(page, 'basic.csv'));
    const name = await text(page, '#dataset-name');
    assert.match(name, /basic\.csv/);
    const day = await crashAtAChangeOfGrain(page, 'file');
    assert.equal(await text(page, '#dataset-name'), name, 'the same file is loaded');

    // A crash while a file is read: it is read again from the same File.
    await crashNextCall(page);
    await settle(page, () => upload(page, 'basic.csv'), { expect: null });
    await assertRecovered(page, day, 'crash while reading a file');
    assert.deepEqual(log.pageErrors, []);
    await context.close();
  });

  test('during the first load of the page and of a share link', async () => {
    // The page's own first load (the sample).
    const reference = await open();
    await waitForStatus(reference.page, 'ready', 60000);
    const sample = await numbers(reference.page);
    await grain(reference.page, 'month');
    const monthly = await numbers(reference.page);
    await addressFollows(reference.page);
    const link = reference.page.url();
    assert.match(link, /#v=1&s=/, 'the address holds the view');
    await reference.context.close();

    for (const [url, expected, what] of [
      [started.server.url, sample, 'the first load'],
      [link, monthly, 'a share link'],
    ]) {
      const context = await started.browser.newContext({ viewport: { width: 1440, height: 900 } });
      const page = await context.newPage();
      const crashes = await crashEveryWorker(context, page);
      // Only the first worker crashes: the page's retry runs on a healthy one.
      page.once('worker', () => setTimeout(() => crashes.stop(), 0));
      await page.goto(url);
      await waitForStatus(page, 'ready', 60000);
      assert.equal(crashes.count(), 1, `${what}: one worker was made to crash`);
      await assertRecovered(page, expected, what);
      await context.close();
    }
  });

  test('again and again: two tries per action, then no more restarts until Try again', async () => {
    const { page, context } = await open();
    await waitForStatus(page, 'ready', 60000);
    const day = await numbers(page);
    const crashes = await crashEveryWorker(context, page);
    await crashNextCall(page);

    // Crash, then the retry on a fresh worker crashes too: the error stays, with Try again.
    assert.equal(await grain(page, 'week'), 'error');
    assert.equal(crashes.count(), 1, 'one restart for the action');
    assert.match(await text(page, '#error-message'), /crash/);
    assert.equal(await page.isVisible('#error-retry'), true, 'a way to continue');

    // The third crash in a short time: the engine is not restarted again, and the page says so.
    assert.equal(await grain(page, 'day'), 'error');
    assert.match(await text(page, '#error-message'), /crashed 3 times .* not restarted again/);
    const started = crashes.count();
    assert.equal(await grain(page, 'month'), 'error', 'no engine, no report');
    assert.equal(crashes.count(), started, 'no worker started while halted');
    assert.equal(await page.isVisible('#error-retry'), true);
    // The charts and cards still show the last numbers, not an empty page.
    assert.ok(Object.keys(await kpiValues(page)).length > 0);

    // The cause is gone: Try again restarts the engine, reloads the data and shows the view.
    await crashes.stop();
    await settle(page, () => page.click('#error-retry'));
    await grain(page, 'day');
    assert.deepEqual(await numbers(page), day);
    assert.equal(await page.isVisible('#error-banner'), false);
    await context.close();
  });
});
