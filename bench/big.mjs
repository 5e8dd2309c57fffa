#!/usr/bin/env node
// `make bench`, second part: issue 5's 1 GB file in the browser. The 8M-row, 1.1 GB
// `paymetrics gen` file is dropped on the real page (dist/, as a user would, through the file
// input) and timed from the drop to the first view, then for a change of grain; the wasm memory
// is read from the load panel's `data-wasm` (the worker's memory.buffer.byteLength) at every
// progress message. The file does not fit the page's memory budget, so the page streams it
// (docs/architecture.md, section 4). Its totals are compared with the command-line tool's
// streamed report of the same file (`paymetrics report --stream --json`): a mismatch fails the
// bench. Adds `big_file` to bench/results.json (BENCH_OUT). Timings are never asserted.
//
// Needs: dist/ (make dist), target/release/paymetrics, bench/data/8m/transactions.csv (make bench
// generates both). BENCH_BIG=0 skips it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kpiValues, settle, startPage, waitForStatus } from '../tests/e2e/helpers.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const OUT = resolve(ROOT, process.env.BENCH_OUT || 'bench/results.json');
const FILE = resolve(ROOT, 'bench/data/8m/transactions.csv');
const CLI = resolve(ROOT, 'target/release/paymetrics');
const GiB = 2 ** 30;
// Totals compared with the CLI's (sums are added in another order: 1e-9 apart at most).
const COMPARED = ['txn_count', 'tpv', 'success_rate', 'active_payers', 'active_merchants', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'take_rate', 'refund_rate', 'top10_merchant_share'];

async function main() {
  if (process.env.BENCH_BIG === '0') return;
  for (const need of [FILE, CLI, resolve(ROOT, 'dist/index.html')]) {
    if (!existsSync(need)) throw new Error(`${need} is missing: run make bench`);
  }
  const failures = [];
  process.stderr.write(`big file: the command-line tool streams ${FILE}\n`);
  const cli = JSON.parse(execFileSync(CLI, ['report', FILE, '--stream', '--json', '--quiet'], { maxBuffer: 1 << 28 }).toString());

  const session = await startPage();
  const { page, log } = session;
  const result = { file: 'bench/data/8m/transactions.csv', bytes: statSync(FILE).size };
  try {
    await waitForStatus(page, 'ready', 60000);
    // The largest wasm memory and the reads seen in the load panel, from now on.
    await page.evaluate(() => {
      window.__big = { wasm: 0, reads: 0 };
      const panel = document.getElementById('load');
      new MutationObserver(() => {
        window.__big.wasm = Math.max(window.__big.wasm, Number(panel.dataset.wasm || 0));
        window.__big.reads = Math.max(window.__big.reads, Number(panel.dataset.read || 0));
      }).observe(panel, { attributes: true });
    });
    process.stderr.write('big file: dropped on the page\n');
    let started = Date.now();
    await settle(page, () => page.setInputFiles('#file-input', FILE), { timeout: 900000 });
    result.first_view_ms = Date.now() - started;
    result.streamed = await page.isVisible('#streamed-note');
    const kpis = await kpiValues(page);
    process.stderr.write(`big file: first view in ${(result.first_view_ms / 1000).toFixed(1)} s\n`);
    started = Date.now();
    await settle(page, () => page.click('#grain [data-grain="week"]'), { timeout: 900000 });
    result.grain_change_ms = Date.now() - started;
    const seen = await page.evaluate(() => window.__big);
    result.wasm_memory_peak_bytes = seen.wasm;
    result.reads_per_view = seen.reads;
    result.rows = cli.quality.rows_read;
    result.mb_per_s_first_view = (result.bytes * seen.reads) / 1e6 / (result.first_view_ms / 1000);
    result.compared = {};
    for (const id of COMPARED) {
      const [ours, theirs] = [kpis[id], cli.totals[id]];
      result.compared[id] = { page: ours ?? null, cli: theirs ?? null };
      const close = ours === theirs || (typeof ours === 'number' && typeof theirs === 'number' && Math.abs(ours - theirs) <= 1e-9 * Math.max(1, Math.abs(theirs)));
      if (!close) failures.push(`big file: ${id} is ${ours} in the page, ${theirs} from the command-line tool`);
    }
    if (!result.streamed) failures.push('big file: the page did not stream the file');
    if (!(seen.wasm > 0 && seen.wasm < GiB)) failures.push(`big file: wasm memory ${seen.wasm} bytes, not under 1 GiB`);
    if (log.pageErrors.length) failures.push(`big file: page errors: ${log.pageErrors.join('; ')}`);
  } finally {
    await session.close();
  }
  result.failures = failures;
  const results = existsSync(OUT) ? JSON.parse(readFileSync(OUT, 'utf8')) : {};
  results.big_file = result;
  if (failures.length) results.ok = false;
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');

  const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(
    `\nBig file (${(result.bytes / 1e9).toFixed(2)} GB, ${result.rows?.toLocaleString('en')} rows) dropped on the page: ` +
      `${result.streamed ? 'streamed' : 'held'}, first view in ${(result.first_view_ms / 1000).toFixed(1)} s ` +
      `(${result.reads_per_view} reads, ${result.mb_per_s_first_view.toFixed(0)} MB/s), a change of grain in ` +
      `${(result.grain_change_ms / 1000).toFixed(1)} s, wasm memory at most ${mib(result.wasm_memory_peak_bytes)} (target: under 1 GiB); ` +
      `${COMPARED.length} totals compared with \`paymetrics report --stream\`: ${failures.length ? failures.join('; ') : 'all equal'}`,
  );
  if (failures.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
