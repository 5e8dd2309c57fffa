// End-to-end: files the page cannot read, dropped as users drop them (issue 7, "Hardening"). A ZIP
// archive and an Excel workbook renamed .csv, a PNG, a header of 3,000 columns and a quote never
// closed: each gets the core's message, with the file's name, as the page shows it; the data
// loaded before stays, and a good file loads afterwards. Fixtures: tests/data/limits (and the PNG
// of tests/data/not_csv.csv); the wide file is made here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATA, fileNames, kpiValues, settle, startPage, text, upload, waitForStatus } from './helpers.mjs';

const fixture = (path, name) => ({ name, mimeType: 'text/csv', buffer: readFileSync(join(DATA, path)) });

function wide(columns) {
  const header = Array.from({ length: columns }, (_, c) => `column ${c + 1}`).join(',');
  const row = Array.from({ length: columns }, (_, c) => String(c)).join(',');
  return { name: 'wide.csv', mimeType: 'text/csv', buffer: Buffer.from(`${header}\n${row}\n`) };
}

const CASES = [
  [fixture('limits/archive.csv', 'payments.csv'), 'payments.csv: the file is a ZIP archive, not CSV: extract the CSV file from it and load that'],
  [fixture('limits/workbook.csv', 'july.csv'), 'july.csv: the file is an Excel workbook (.xlsx), not CSV: in Excel, File › Save As › CSV UTF-8'],
  [fixture('not_csv.csv', 'receipt.png'), 'receipt.png: the file is a PNG image, not CSV: export the transactions as CSV from the system they come from'],
  [wide(3000), 'wide.csv:1: the header has 3000 columns, more than 2000, the most a file may have: keep the columns you need and save it again'],
  [
    fixture('limits/unclosed_quote.csv', 'quotes.csv'),
    'quotes.csv:3:4: a quote opened on line 3 is never closed: the rest of the file would be one cell. Close the quote, or remove it',
  ],
];

describe('Files the page cannot read', { timeout: 120000 }, () => {
  let session;
  let page;

  before(async () => {
    session = await startPage();
    page = session.page;
    await waitForStatus(page, 'ready', 45000);
  });

  after(() => session?.close());

  test('each says what the file is and what to do; the data before stays; a good file loads after', async () => {
    const sample = await kpiValues(page);
    for (const [file, message] of CASES) {
      await settle(page, () => page.setInputFiles('#file-input', file), { expect: 'error' });
      assert.equal(await text(page, '#error-title'), `Could not read ${file.name}`);
      assert.equal(await text(page, '#error-message'), message);
      assert.deepEqual(await fileNames(page), ['sample-transactions.csv', 'sample-users.csv', 'sample-merchants.csv'], file.name);
      assert.deepEqual(await kpiValues(page), sample, file.name);
    }
    // basic.csv: 12 rows (tests/expected.md).
    await settle(page, () => upload(page, 'basic.csv'));
    assert.deepEqual(await fileNames(page), ['basic.csv']);
    assert.equal((await kpiValues(page)).txn_count, 12);
    assert.equal(await page.isVisible('#error-message'), false);
  });
});
