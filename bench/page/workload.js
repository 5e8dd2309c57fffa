// The bench's workload: the numbers of the core dashboard, and how each engine is asked for them.
// Shared by the bench page (both engines) and bench/run.mjs (the comparison).
//
// The numbers (definitions: docs/metrics.md; SQL adapted from tests/oracle/duckdb_oracle.py):
//   daily     per local day: tpv (net), txn_count, success_rate, active_payers
//   totals    tpv, txn_count, success_rate, active_payers, mau (monthly active payers: the 30 days
//             ending on the last day of the data), latency p50/p95/p99, refund_rate,
//             dispute_rate_bps, take_rate, top10_merchant_share, settlement p50/p95 (hours)
//   channels  the channel mix: attempts, successes, volume, success_rate, count/volume shares
//   reagg     re-aggregation: per month, only channel = app_qr: tpv, txn_count, success_rate,
//             active_payers

/** The Paymetrics options of the core dashboard: what the page sends (daily grain, whole file). */
export const DASHBOARD_OPTIONS = { grain: 'day', tz: null, mapping: {}, joins: [] };
/** The re-aggregation: another grain and a filter, on the already loaded file. */
export const REAGG_FILTER = { column: 'channel', value: 'app_qr' };
export const REAGG_OPTIONS = {
  grain: 'month',
  tz: null,
  mapping: {},
  joins: [],
  filters: [{ column: REAGG_FILTER.column, values: [REAGG_FILTER.value], exclude: false }],
};

export const TOTALS = [
  'tpv', 'txn_count', 'success_rate', 'active_payers', 'mau',
  'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms',
  'refund_rate', 'dispute_rate_bps', 'take_rate', 'top10_merchant_share',
  'settlement_p50_h', 'settlement_p95_h',
];
export const SERIES = ['tpv', 'txn_count', 'success_rate', 'active_payers'];
export const MIX = ['attempts', 'successes', 'volume', 'success_rate', 'count_share', 'volume_share'];
/** Compared exactly; everything else to 1e-6 relative. */
export const EXACT = new Set(['txn_count', 'active_payers', 'mau', 'attempts', 'successes', 'rows']);

/** The numbers out of a Paymetrics report (docs/report.md). */
export function fromReport(report) {
  const channel = (report.breakdowns || []).find((b) => b.dimension === 'channel');
  return {
    tz: report.tz,
    rows: report.quality?.rows_loaded,
    totals: Object.fromEntries(TOTALS.map((m) => [m, report.totals?.[m] ?? null])),
    daily: (report.series || []).map((s) => ({ bucket: s.bucket, ...pick(s, SERIES) })),
    channels: (channel?.values || []).map((v) => ({ value: v.value, ...pick(v, MIX) })),
  };
}

export function fromReagg(report) {
  return (report.series || []).map((s) => ({ bucket: s.bucket, ...pick(s, SERIES) }));
}

function pick(obj, keys) {
  return Object.fromEntries(keys.map((k) => [k, obj[k] ?? null]));
}

// ---- DuckDB ----------------------------------------------------------------------------------
// Written as a DuckDB user would, for speed, while giving the same numbers as Paymetrics' rules:
// the CSV is read with the column types given (no sniffing), only the columns used are kept, and
// times are kept as written (wall clock) with their offset suffix, because TIMESTAMPTZ functions
// need the ICU extension, which DuckDB-WASM would fetch from extensions.duckdb.org. Then, as in
// Paymetrics, the reporting zone is the most common offset of created_at; absolute times are
// shifted into it and times without an offset are taken as local. Statuses are normalised with
// the catalog's vocabulary (the subset the oracle uses), exact lower-case names first.
// Assumes clean cells, as `paymetrics gen` writes them (no padding spaces; the comparison with
// Paymetrics, which trims, would show it otherwise).

const STATUS_VOCAB = {
  success: ['success', 'succeeded', 'completed', 'paid', 'approved', 'captured', 'settled'],
  failed: ['failed', 'declined', 'rejected', 'error', 'cancelled', 'canceled', 'voided', 'expired'],
  refunded: ['refunded', 'refund', 'reversed'],
  disputed: ['disputed', 'dispute', 'chargeback'],
  pending: ['pending', 'processing', 'created', 'initiated', 'authorized'],
};

const COLUMNS = {
  txn_id: 'VARCHAR', created_at: 'VARCHAR', user_id: 'VARCHAR', merchant_id: 'VARCHAR',
  amount: 'DOUBLE', currency: 'VARCHAR', status: 'VARCHAR', channel: 'VARCHAR',
  funding_source: 'VARCHAR', fee: 'DOUBLE', latency_ms: 'DOUBLE', settled_at: 'VARCHAR',
  type: 'VARCHAR', decline_reason: 'VARCHAR', is_fraud: 'VARCHAR', disputed_at: 'VARCHAR',
};

// Seconds east of UTC of a time's last 6 characters (+08:00, -05:30, ...:00Z); NULL when the
// time has no offset.
function offsetSql(s) {
  return `(CASE WHEN substr(${s}, 1, 1) IN ('+', '-') AND substr(${s}, 4, 1) = ':' THEN
      (CASE substr(${s}, 1, 1) WHEN '-' THEN -1 ELSE 1 END)
      * (CAST(substr(${s}, 2, 2) AS INTEGER) * 3600 + CAST(substr(${s}, 5, 2) AS INTEGER) * 60)
    WHEN right(${s}, 1) = 'Z' THEN 0 END)`;
}

function statusSql(c) {
  const s = `lower(trim(${c}))`;
  const arms = Object.entries(STATUS_VOCAB).map(
    ([norm, raws]) => `WHEN ${s} IN (${raws.map((r) => `'${r}'`).join(', ')}) THEN '${norm}'`,
  );
  const exact = Object.keys(STATUS_VOCAB).map((n) => `WHEN '${n}' THEN '${n}'`).join(' ');
  return `(CASE ${c} ${exact} ELSE (CASE ${arms.join(' ')} ELSE 'unknown' END) END)`;
}

/** Reads the registered file into table `tx`: wall-clock times and their offset suffixes. */
export function loadSql(file) {
  const cols = Object.entries(COLUMNS).map(([k, v]) => `'${k}': '${v}'`).join(', ');
  return `CREATE OR REPLACE TABLE tx AS
    SELECT
      CAST(substr(created_at, 1, 19) AS TIMESTAMP) AS created_wall,
      right(created_at, 6) AS created_suffix,
      CAST(substr(settled_at, 1, 19) AS TIMESTAMP) AS settled_wall,
      right(settled_at, 6) AS settled_suffix,
      user_id, merchant_id, amount, fee, latency_ms, status, channel
    FROM read_csv('${file}', header = true, delim = ',', quote = '"', escape = '"',
                  auto_detect = false, columns = {${cols}})`;
}

/** The reporting zone, as seconds east of UTC: the most common offset of created_at, else UTC. */
export const TZ_SQL = `SELECT coalesce((
    SELECT off FROM (SELECT ${offsetSql('created_suffix')} AS off, count(*) AS n FROM tx GROUP BY created_suffix)
    WHERE off IS NOT NULL GROUP BY off ORDER BY sum(n) DESC, off LIMIT 1), 0) AS tzs`;

/**
 * Table `r` (then `tx` is dropped): local days and settlement hours in the reporting zone (`tzs`
 * seconds east of UTC, written `tz` as in the data), normalised statuses.
 */
export function localSql(tzs, tz) {
  const local = (wall, suffix) =>
    `${wall} + to_seconds(CASE ${suffix} WHEN '${tz}' THEN 0 ELSE coalesce(${tzs} - ${offsetSql(suffix)}, 0) END)`;
  return `CREATE OR REPLACE TABLE r AS
    SELECT CAST(created_l AS DATE) AS day,
      date_diff('second', created_l, settled_l) / 3600.0 AS settle_h,
      user_id, merchant_id, amount, fee, latency_ms, status,
      status IN ('success', 'refunded', 'disputed') AS succ,
      coalesce(channel, '') AS channel
    FROM (
      SELECT ${local('created_wall', 'created_suffix')} AS created_l,
        ${local('settled_wall', 'settled_suffix')} AS settled_l,
        user_id, merchant_id, amount, fee, latency_ms, ${statusSql('status')} AS status, channel
      FROM tx)`;
}

/** `+08:00` for 28800. */
export function tzString(seconds) {
  const s = Math.abs(seconds);
  const pad = (n) => String(n).padStart(2, '0');
  return `${seconds < 0 ? '-' : '+'}${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}`;
}

const PERIOD_FACTS = `
  count(*) AS txn_count,
  coalesce(sum(amount) FILTER (WHERE succ), 0) - coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0) AS tpv,
  count(*) FILTER (WHERE succ) / nullif(count(*) FILTER (WHERE succ OR status = 'failed'), 0) AS success_rate,
  count(DISTINCT user_id) FILTER (WHERE succ) AS active_payers`;

export const DAILY_SQL = `SELECT strftime(day, '%Y-%m-%d') AS bucket, ${PERIOD_FACTS}
  FROM r GROUP BY day ORDER BY day`;

export const TOTALS_SQL = `WITH
  last AS (SELECT max(day) AS l FROM r),
  base AS (
    SELECT ${PERIOD_FACTS},
      coalesce(sum(amount) FILTER (WHERE succ), 0) AS tpv_gross,
      coalesce(sum(amount) FILTER (WHERE status = 'refunded'), 0) AS refund_amount,
      count(*) FILTER (WHERE succ) AS successes,
      count(*) FILTER (WHERE status = 'refunded') AS refunds,
      count(*) FILTER (WHERE status = 'disputed') AS disputes,
      coalesce(sum(fee) FILTER (WHERE succ), 0) AS revenue,
      count(DISTINCT user_id) FILTER (WHERE succ AND day > (SELECT l FROM last) - 30) AS mau,
      quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS lat,
      quantile_cont(settle_h, [0.5, 0.95]) FILTER (WHERE succ) AS settle
    FROM r),
  top10 AS (
    SELECT coalesce(sum(v), 0) AS top10_amount FROM (
      SELECT merchant_id, sum(amount) AS v FROM r
      WHERE succ AND merchant_id IS NOT NULL AND amount IS NOT NULL
      GROUP BY merchant_id ORDER BY v DESC LIMIT 10))
  SELECT tpv, txn_count, success_rate, active_payers, mau,
    lat[1] AS latency_p50_ms, lat[2] AS latency_p95_ms, lat[3] AS latency_p99_ms,
    refunds / nullif(successes, 0) AS refund_rate,
    disputes * 10000.0 / nullif(successes, 0) AS dispute_rate_bps,
    CASE WHEN tpv_gross - refund_amount > 0 THEN revenue / (tpv_gross - refund_amount) END AS take_rate,
    top10_amount / nullif(tpv_gross, 0) AS top10_merchant_share,
    settle[1] AS settlement_p50_h, settle[2] AS settlement_p95_h
  FROM base, top10`;

export const CHANNELS_SQL = `SELECT
    CASE WHEN channel = '' THEN '(empty)' ELSE channel END AS value,
    count(*) AS attempts,
    count(*) FILTER (WHERE succ) AS successes,
    coalesce(sum(amount) FILTER (WHERE succ), 0) AS volume,
    count(*) FILTER (WHERE succ) / nullif(count(*) FILTER (WHERE succ OR status = 'failed'), 0) AS success_rate,
    count(*) FILTER (WHERE succ) / nullif(sum(count(*) FILTER (WHERE succ)) OVER (), 0) AS count_share,
    coalesce(sum(amount) FILTER (WHERE succ), 0) / nullif(sum(coalesce(sum(amount) FILTER (WHERE succ), 0)) OVER (), 0) AS volume_share
  FROM r GROUP BY channel ORDER BY volume DESC, value`;

export const REAGG_SQL = `SELECT strftime(day, '%Y-%m') AS bucket, ${PERIOD_FACTS}
  FROM r WHERE channel = '${REAGG_FILTER.value}' GROUP BY bucket ORDER BY bucket`;
