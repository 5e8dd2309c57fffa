// Issue 6, "SQL export in the page": the Export group's SQL dialog shows the script of the view on
// screen (written by the worker's speed build, fetched on first use), in three dialects; Copy and
// Download give the same text; and the DuckDB script, run on the sample's CSV with the table name
// replaced as docs/sql.md says, gives the numbers of the KPI cards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA, ROOT, assertClose, downloadSampleCsv, kpiValues, openPage, settle, startPage, waitForStatus } from './helpers.mjs';

const CUSTOM = 'ok_latency = avg(latency_ms where status = "success")';

// Runs each statement of a script (after its `-- paymetrics: <level>` line, as
// tests/oracle/sql_check.py splits them) with DuckDB over the CSV, read as text, as a table named
// `payments`: the script's `transactions` replaced by it. The page joins the sample's users and
// merchants onto its transactions (their suggested joins), and the script takes joined columns to
// be columns of the table already (docs/sql.md): so is `payments`, with the merchants' region
// named as the core names a clashing column. Prints {level: rows} as JSON.
const RUN_DUCKDB = `
import duckdb, json, re, sys
csv, users, merchants, sql = sys.argv[1], sys.argv[2], sys.argv[3], open(sys.argv[4], encoding="utf-8").read()
sql = re.sub(r"\\bFROM transactions\\b", "FROM payments", sql)
con = duckdb.connect()
con.execute("SET threads = 1")
# A query over ~2 s (a busy machine) would print a progress bar into the JSON on stdout.
con.execute("SET enable_progress_bar = false")
read = "read_csv(?, header = true, all_varchar = true)"
con.execute(
    "CREATE TABLE payments AS SELECT t.*, u.* EXCLUDE (user_id), m.category, m.region AS \\"sample-merchants.region\\" "
    f"FROM {read} AS t LEFT JOIN {read} AS u USING (user_id) LEFT JOIN {read} AS m USING (merchant_id)",
    [csv, users, merchants])
parts = re.split(r"^-- paymetrics: (\\w+)\\n", sql, flags=re.M)
out = {}
for level, body in zip(parts[1::2], parts[2::2]):
    cur = con.execute(body.strip().rstrip(";"))
    names = [d[0] for d in cur.description]
    out[level] = [dict(zip(names, row)) for row in cur.fetchall()]
print(json.dumps(out, default=str))
`;

const SPEED_BUILD = /\/assets\/paymetrics_fast[-_][^/]*\.(js|wasm)$/;

/**
 * The CLI (target/debug/paymetrics: `make test`'s other chain builds it with `cargo test`). Built
 * here if missing with `--tests`, as `cargo test` and the oracle build it: the same dependency
 * features, so neither build undoes the other.
 */
function cliBinary() {
  const path = join(ROOT, 'target', 'debug', 'paymetrics');
  if (!existsSync(path)) {
    const built = spawnSync('cargo', ['build', '--quiet', '--tests'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
  }
  return path;
}

/** One of the sample's lookup CSVs as the page offers it for download. */
async function sampleFile(page, kind) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#dl-${kind}`)]);
  return readFileSync(await download.path(), 'utf8');
}

describe('The SQL of the view in the page', { timeout: 300000 }, () => {
  let session;
  let page;
  let log;
  let csv;
  let dir;

  before(async () => {
    session = await startPage();
    ({ page, log } = session);
    await waitForStatus(page, 'ready', 45000);
    csv = await downloadSampleCsv(page);
    dir = mkdtempSync(join(tmpdir(), 'paymetrics-sql-'));
  });

  after(async () => {
    await session?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the DuckDB script of a monthly, filtered, segmented view with a custom metric gives the cards’ numbers', async () => {
    await settle(page, () => page.selectOption('#period', 'all'));
    await settle(page, () => page.click('#grain [data-grain="month"]'));
    await page.click('#add-filter');
    await page.selectOption('#filter-column', 'channel');
    await page.check('[data-filter-value="online"]');
    await settle(page, () => page.click('#filter-apply'));
    await settle(page, () => page.selectOption('#segment', 'funding_source'));
    await page.fill('#metric-input', CUSTOM);
    await settle(page, () => page.click('.metric-form button[type="submit"]'));
    const kpis = await kpiValues(page);
    assert.equal(typeof kpis.ok_latency, 'number', 'the custom metric has a card');
    assert.ok(!log.requests.some((u) => u.includes('paymetrics_fast')), 'the speed build is not part of the first load');

    // Opened from the keyboard: the dialog is modal, labelled, and focus is on its first control.
    await page.focus('[data-export="sql"]');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#sql-dialog[data-ready="duckdb"]', { timeout: 60000 });
    assert.equal(await page.$eval('#sql-dialog', (d) => d.open && d.matches(':modal')), true);
    assert.equal(await page.$eval('#sql-dialog', (d) => document.getElementById(d.getAttribute('aria-labelledby')).textContent), 'SQL of this view');
    assert.match(await page.textContent('#sql-note'), /^Replace the table name transactions with yours; the column names are those of your file/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'sql-dialect');
    assert.ok(log.requests.some((u) => u.includes('paymetrics_fast')), 'the speed build was fetched for the SQL');
    assert.deepEqual(
      await page.$$eval('#sql-dialect option', (os) => os.map((o) => o.textContent)),
      ['DuckDB', 'Spark SQL', 'BigQuery'],
    );
    const duckdb = await page.inputValue('#sql-text');
    assert.equal(await page.$eval('#sql-text', (t) => t.readOnly), true);
    assert.match(duckdb, /^-- Paymetrics metrics in DuckDB SQL, generated by `paymetrics sql` from sample-transactions\.csv\./);
    assert.match(duckdb, /grain: month;/);
    assert.match(duckdb, /^-- Filter: channel in online\.$/m);
    assert.match(duckdb, /^-- Segment: funding_source /m);
    assert.ok(duckdb.includes(`-- Custom metric: ${CUSTOM}`), 'the custom metric is in the script');
    assert.match(duckdb, /^-- paymetrics: segment_series$/m);

    // The dialect switch: each script in its own dialect, and back.
    await page.selectOption('#sql-dialect', 'spark');
    await page.waitForSelector('#sql-dialog[data-ready="spark"]');
    const spark = await page.inputValue('#sql-text');
    assert.match(spark, /^-- Paymetrics metrics in Spark SQL SQL/);
    assert.ok(spark.includes('SET spark.sql.session.timeZone = UTC;') && spark.includes('try_cast('));
    await page.selectOption('#sql-dialect', 'bigquery');
    await page.waitForSelector('#sql-dialog[data-ready="bigquery"]');
    const bigquery = await page.inputValue('#sql-text');
    assert.match(bigquery, /^-- Paymetrics metrics in BigQuery SQL/);
    assert.ok(bigquery.includes('SAFE_CAST(') && bigquery.includes('`ok_latency`'));
    await page.selectOption('#sql-dialect', 'duckdb');
    await page.waitForSelector('#sql-dialog[data-ready="duckdb"]');
    assert.equal(await page.inputValue('#sql-text'), duckdb);

    // Download: the file is the text shown.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#sql-download')]);
    assert.equal(download.suggestedFilename(), 'paymetrics-all.sql');
    const downloaded = readFileSync(await download.path(), 'utf8');
    assert.equal(downloaded, duckdb);

    // Escape closes it, and focus is back on the SQL button.
    await page.keyboard.press('Escape');
    assert.equal(await page.$eval('#sql-dialog', (d) => d.open), false);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.export), 'sql');

    // Run it with DuckDB on the sample's CSV; its totals are the cards' values.
    const files = { transactions: csv, users: await sampleFile(page, 'users'), merchants: await sampleFile(page, 'merchants') };
    const paths = Object.entries(files).map(([kind, content]) => {
      const path = join(dir, `sample-${kind}.csv`);
      writeFileSync(path, content);
      return path;
    });
    const sqlPath = join(dir, 'paymetrics-all.sql');
    writeFileSync(sqlPath, downloaded);
    const run = spawnSync('python3', ['-c', RUN_DUCKDB, ...paths, sqlPath], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(run.status, 0, run.stderr);
    const levels = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(levels), ['totals', 'series', 'segment_totals', 'segment_series']);
    const [totals] = levels.totals;
    for (const id of ['txn_count', 'tpv', 'success_rate', 'active_payers', 'ok_latency']) {
      assert.equal(typeof kpis[id], 'number', `${id} card`);
      assertClose(Number(totals[id]), kpis[id], `${id}: DuckDB against the card`);
    }
    assert.ok(levels.series.length >= 2 && levels.series.every((row) => /^\d{4}-\d{2}$/.test(row.bucket)), 'monthly buckets');
    const segmentRows = levels.segment_totals.reduce((sum, row) => sum + Number(row.txn_count), 0);
    assertClose(segmentRows, kpis.txn_count, 'the segments add up to the total');
  });

  test('SQL first, then a large file: the worker switches to the build it loaded, and the SQL is the CLI’s', async () => {
    // A page whose every transactions file counts as large (README, "Page hooks").
    const o = await openPage(session.browser, new URL('?speed-build-from=0', session.server.url).href);
    try {
      await waitForStatus(o.page, 'ready', 45000);
      await o.page.click('[data-export="sql"]');
      await o.page.waitForSelector('#sql-dialog[data-ready="duckdb"]', { timeout: 60000 });
      await o.page.keyboard.press('Escape');
      const fetched = o.log.requests.filter((u) => SPEED_BUILD.test(u)).length;
      assert.ok(fetched >= 2, 'the speed build (glue and wasm) was fetched for the SQL');
      await settle(o.page, () => o.page.setInputFiles('#file-input', join(DATA, 'basic.csv')));
      await settle(o.page, () => o.page.selectOption('#period', 'all'));
      assert.equal((await kpiValues(o.page)).txn_count, 12, 'the file read by the speed build');
      assert.deepEqual(o.log.console.filter((line) => /speed build could not/.test(line)), [], 'the switch to the speed build happened');
      await o.page.click('[data-export="sql"]');
      await o.page.waitForSelector('#sql-dialog[data-ready="duckdb"]', { timeout: 60000 });
      const shown = await o.page.inputValue('#sql-text');
      assert.equal(o.log.requests.filter((u) => SPEED_BUILD.test(u)).length, fetched, 'fetched once');
      const cli = spawnSync(cliBinary(), ['sql', 'basic.csv', '--dialect', 'duckdb'], { cwd: DATA, encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal(shown, cli.stdout, 'the page shows what `paymetrics sql` prints');
      assert.deepEqual(o.log.pageErrors, []);
    } finally {
      await o.context.close();
    }
  });

  test('the SQL button needs no request off this machine and breaks no policy', () => {
    assert.deepEqual(log.offsite, []);
    assert.deepEqual(log.pageErrors, []);
    assert.deepEqual(log.csp, []);
  });
});
