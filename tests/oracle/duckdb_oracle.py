#!/usr/bin/env python3
"""DuckDB oracle for Paymetrics.

Recomputes the report of docs/report.md with DuckDB SQL written directly from the metric
definitions (the `description` strings of src/metrics/catalog.rs and the terms above them),
never from the Rust code, and compares it with `paymetrics report --json`.

Usage:
    python3 tests/oracle/duckdb_oracle.py [BINARY] [SCRATCH_DIR]
        BINARY       path of the paymetrics binary (default: target/debug/paymetrics)
        SCRATCH_DIR  directory for generated files (default: a fresh temporary directory)
        Checks the fixtures of tests/data, then a generated dataset the code's tests do not use
        (every catalog metric: totals, series by day / week from Monday and Sunday / month, in
        +08:00 and UTC, a date range with the previous period, a filter, a segment, the mixes
        and decline reasons).

    python3 tests/oracle/duckdb_oracle.py --selftest
        no binary needed: checks the DuckDB half against the hand-computed fixture values in
        tests/oracle/expected_fixtures.json (derived in tests/expected.md).

    python3 tests/oracle/duckdb_oracle.py --compute FILE [--delim D] [--tz +08:00]
                                          [--grain day|week|month] [--map role=column,...]
                                          [--join FILE:COLUMN] [--week-start sunday]
                                          [--from DATE --to DATE] [--filter COL=V1,V2]
        no binary needed: prints the oracle's JSON for one file.

Prints one line per check, then exactly `oracle: N passed, M failed`; exits 1 if M > 0.
Anything unexpected (a command failing, output that is not JSON, a field missing, data the oracle
cannot interpret) is a failed check or an exception, never silently ignored.

Only `duckdb` and the Python standard library are used.
"""

import argparse
import collections
import concurrent.futures
import csv
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))

GEN_ROWS = 20000
# Not a seed the crate's own tests use (they use 0, 1, 3, 5, 7, 8, 9, 11, 42 and u64::MAX).
GEN_SEED = 20261125
REL_TOL = 1e-9
ABS_TOL = 1e-12  # only used when the expected value is exactly 0

# Status vocabulary (compared after lower-casing and trimming): the subset the fixtures and the
# generated data use.
STATUS_VOCAB = {
    "success": ["success", "succeeded", "completed", "paid", "approved", "captured", "settled"],
    "failed": ["failed", "declined", "rejected", "error", "cancelled", "canceled", "voided", "expired"],
    "refunded": ["refunded", "refund", "reversed"],
    "disputed": ["disputed", "dispute", "chargeback"],
    "pending": ["pending", "processing", "created", "initiated", "authorized"],
}

# Roles, and the column names the oracle maps them from when the header has them (the names
# `paymetrics gen` writes); anything else must be mapped explicitly.
ROLE_COLUMNS = {
    "txn_id": ["txn_id"], "created_at": ["created_at"], "user_id": ["user_id"],
    "merchant_id": ["merchant_id"], "amount": ["amount"], "currency": ["currency"],
    "status": ["status"], "channel": ["channel"], "funding_source": ["funding_source"],
    "fee": ["fee"], "latency_ms": ["latency_ms"], "settled_at": ["settled_at"], "type": ["type"],
    "direction": ["direction"], "decline_reason": ["decline_reason"], "fraud": ["is_fraud", "fraud"],
    "disputed_at": ["disputed_at"], "region": ["region"], "kyc": ["kyc_level", "kyc"],
}
# The mixes of `breakdowns`, in the order of docs/report.md.
DIMENSIONS = ["channel", "funding_source", "type", "region", "kyc"]
MONEY_ROLES = {"amount", "fee"}

STANDARD_HEADER = ["txn_id", "created_at", "user_id", "merchant_id", "amount", "currency", "status",
                   "channel", "funding_source", "fee", "latency_ms", "settled_at", "type",
                   "decline_reason", "is_fraud", "disputed_at"]

# Header renaming used for the "synonyms" copy of the generated file.
SYNONYM_RENAME = {
    "txn_id": "id",
    "created_at": "timestamp",
    "user_id": "customer_id",
    "merchant_id": "shop",
    "amount": "payment_value",
    "currency": "cur",
    "status": "state",
}

TZ_RE = re.compile(r"^([+-])(\d{2}):(\d{2})$")

# ---------------------------------------------------------------------------------------------
# The metrics, from the catalog's descriptions. Terms (catalog.rs): *successful* = status
# success, refunded or disputed; *decided* = successful or failed. Missing amounts, fees and
# latencies are left out of sums, averages and percentiles; percentiles are `quantile_cont`.
# Every metric is over the rows left by the filters and the date range; the period is the range
# (totals) or one bucket (series).
#
# id -> (roles it needs, integer-valued?, SQL over the per-period facts computed in `FACTS_SQL`).
# `nullif(x, 0)` gives "no value when there is nothing to divide by".
METRIC_SQL = {
    # Total payment volume net of refunds: successful amount minus the refunded ones' amount.
    "tpv": (("amount", "status"), False, "tpv_gross - refund_amount"),
    "tpv_gross": (("amount", "status"), False, "tpv_gross"),
    "txn_count": ((), True, "attempts"),
    "success_count": (("status",), True, "successes"),
    "success_rate": (("status",), False, "successes / nullif(successes + failures, 0)"),
    "success_rate_volume": (("amount", "status"), False,
                            "tpv_gross / nullif(tpv_gross + failure_amount, 0)"),
    "active_payers": (("user_id", "status"), True, "active_payers"),
    "dau": (("user_id", "status", "created_at"), True, "dau"),
    "wau": (("user_id", "status", "created_at"), True, "wau"),
    "mau": (("user_id", "status", "created_at"), True, "mau"),
    "stickiness": (("user_id", "status", "created_at"), False, "mean_daily_actives / nullif(mau, 0)"),
    "avg_ticket": (("amount", "status"), False, "tpv_gross / nullif(successes_with_amount, 0)"),
    "median_ticket": (("amount", "status"), False, "ticket_p50"),
    "txns_per_payer": (("user_id", "status"), False, "payer_successes / nullif(active_payers, 0)"),
    "new_payers": (("user_id", "status", "created_at"), True, "new_payers"),
    "active_merchants": (("merchant_id", "status"), True, "active_merchants"),
    "revenue": (("fee", "status"), False, "revenue"),
    "take_rate": (("fee", "amount", "status"), False, "revenue / nullif(tpv_gross - refund_amount, 0)"),
    "arpu": (("fee", "user_id", "status"), False, "revenue / nullif(active_payers, 0)"),
    "new_payer_volume": (("amount", "user_id", "status", "created_at"), False, "new_payer_amount"),
    "returning_payer_volume": (("amount", "user_id", "status", "created_at"), False,
                               "returning_payer_amount"),
    "top10_merchant_share": (("merchant_id", "amount", "status"), False,
                             "top10_amount / nullif(tpv_gross, 0)"),
    "merchant_hhi": (("merchant_id", "amount", "status"), False, "hhi"),
    "settlement_p50_h": (("settled_at", "created_at", "status"), False, "settle_p50"),
    "settlement_p95_h": (("settled_at", "created_at", "status"), False, "settle_p95"),
    "latency_p50_ms": (("latency_ms",), False, "latency_p50"),
    "latency_p95_ms": (("latency_ms",), False, "latency_p95"),
    "latency_p99_ms": (("latency_ms",), False, "latency_p99"),
    "refund_rate": (("status",), False, "refunds / nullif(successes, 0)"),
    "refund_rate_volume": (("amount", "status"), False, "refund_amount / nullif(tpv_gross, 0)"),
    "dispute_rate_bps": (("status",), False, "disputes * 10000.0 / nullif(successes, 0)"),
    "disputes_opened": (("disputed_at",), True, "disputes_opened"),
    "fraud_rate_bps": (("fraud", "status"), False, "frauds * 10000.0 / nullif(successes, 0)"),
    "fraud_rate_volume_bps": (("fraud", "amount", "status"), False,
                              "fraud_amount * 10000.0 / nullif(tpv_gross, 0)"),
    "failure_rate": (("status",), False, "failures / nullif(successes + failures, 0)"),
    "settlement_sla_breach": (("settled_at", "created_at", "status"), False,
                              "sla_breaches / nullif(sla_judged, 0)"),
    "large_txn_count": (("amount", "status"), True, "large"),
    "kyc_verified_share": (("kyc", "user_id", "status"), False, "kyc_verified / nullif(active_payers, 0)"),
}
INTEGER_METRICS = {m for m, (_, integer, _) in METRIC_SQL.items() if integer}

# Per period (table `periods`: pid, d0, d1 = first and last local day, l = the day DAU/WAU/MAU
# are taken on) over `r` (rows after filters and date range) and `f` (rows after filters, any
# date). {sla_s}, {large}, {last_created} and {first_day} are filled in per run.
FACTS_SQL = """
WITH
base AS (
  SELECT p.pid,
    count(r.rn) AS attempts,
    count(r.rn) FILTER (WHERE r.succ) AS successes,
    count(r.rn) FILTER (WHERE r.status = 'failed') AS failures,
    count(r.amount) FILTER (WHERE r.succ) AS successes_with_amount,
    coalesce(fsum(r.amount) FILTER (WHERE r.succ), 0.0) AS tpv_gross,
    coalesce(fsum(r.amount) FILTER (WHERE r.status = 'failed'), 0.0) AS failure_amount,
    count(r.rn) FILTER (WHERE r.status = 'refunded') AS refunds,
    coalesce(fsum(r.amount) FILTER (WHERE r.status = 'refunded'), 0.0) AS refund_amount,
    count(r.rn) FILTER (WHERE r.status = 'disputed') AS disputes,
    count(r.rn) FILTER (WHERE r.succ AND r.fraud) AS frauds,
    coalesce(fsum(r.amount) FILTER (WHERE r.succ AND r.fraud), 0.0) AS fraud_amount,
    coalesce(fsum(r.fee) FILTER (WHERE r.succ), 0.0) AS revenue,
    count(r.rn) FILTER (WHERE r.succ AND r.amount >= {large}) AS large,
    count(DISTINCT r.user_id) FILTER (WHERE r.succ) AS active_payers,
    count(r.user_id) FILTER (WHERE r.succ) AS payer_successes,
    count(DISTINCT r.merchant_id) FILTER (WHERE r.succ) AS active_merchants,
    count(DISTINCT r.user_id) FILTER (WHERE r.succ AND r.kyc_verified) AS kyc_verified,
    quantile_cont(r.amount, 0.5) FILTER (WHERE r.succ) AS ticket_p50,
    quantile_cont(r.latency_ms, 0.5) AS latency_p50,
    quantile_cont(r.latency_ms, 0.95) AS latency_p95,
    quantile_cont(r.latency_ms, 0.99) AS latency_p99,
    quantile_cont(r.settle_h, 0.5) FILTER (WHERE r.succ) AS settle_p50,
    quantile_cont(r.settle_h, 0.95) FILTER (WHERE r.succ) AS settle_p95,
    -- Settled more than the SLA after created_at; unsettled ones are breaches once the SLA had
    -- passed at the data's last created_at, and are left out before that.
    count(r.rn) FILTER (WHERE r.succ AND (r.settled_e IS NOT NULL
                                          OR r.created_e + {sla_s} < {last_created})) AS sla_judged,
    count(r.rn) FILTER (WHERE r.succ AND ((r.settled_e IS NOT NULL AND r.settled_e - r.created_e > {sla_s})
                                          OR (r.settled_e IS NULL AND r.created_e + {sla_s} < {last_created})))
      AS sla_breaches
  FROM periods p LEFT JOIN r ON r.day BETWEEN p.d0 AND p.d1
  GROUP BY p.pid
),
merchant_volume AS (
  SELECT p.pid, r.merchant_id, fsum(r.amount) AS v
  FROM periods p JOIN r ON r.day BETWEEN p.d0 AND p.d1
  WHERE r.succ AND r.merchant_id IS NOT NULL AND r.amount IS NOT NULL
  GROUP BY ALL
),
merchant_ranked AS (
  SELECT *, row_number() OVER (PARTITION BY pid ORDER BY v DESC, merchant_id) AS rank,
         sum(v) OVER (PARTITION BY pid) AS merchants_total
  FROM merchant_volume
),
merchants AS (
  SELECT pid,
    coalesce(fsum(v) FILTER (WHERE rank <= 10), 0.0) AS top10_amount,
    CASE WHEN max(merchants_total) > 0 THEN fsum(power(100.0 * v / merchants_total, 2)) END AS hhi
  FROM merchant_ranked GROUP BY pid
),
-- Trailing windows ending on the period's last day (the last day with data when it ends later),
-- over the filtered rows of every date: they look back across the start of the range.
windows AS (
  SELECT p.pid,
    count(DISTINCT r.user_id) FILTER (WHERE r.day = p.l) AS dau,
    count(DISTINCT r.user_id) FILTER (WHERE r.day > p.l - 7) AS wau,
    count(DISTINCT r.user_id) AS mau
  FROM periods p LEFT JOIN f AS r ON r.succ AND r.day BETWEEN p.l - 29 AND p.l
  GROUP BY p.pid
),
daily_actives AS (
  SELECT day, count(DISTINCT user_id) AS n FROM f WHERE succ GROUP BY day
),
-- The MAU window's days on or after the first day of the data, actives or not.
stickiness AS (
  SELECT pd.pid, avg(coalesce(da.n, 0)) AS mean_daily_actives
  FROM period_days pd LEFT JOIN daily_actives da ON da.day = pd.day
  GROUP BY pd.pid
),
-- First successful transaction of each payer in the data: any date, after the column filters.
first_success AS (
  SELECT user_id, CAST(min(created_l) AS DATE) AS first_day
  FROM f WHERE succ AND user_id IS NOT NULL GROUP BY user_id
),
new_payers AS (
  SELECT p.pid, count(fs.user_id) AS new_payers
  FROM periods p LEFT JOIN first_success fs ON fs.first_day BETWEEN p.d0 AND p.d1
  GROUP BY p.pid
),
payer_volume AS (
  SELECT p.pid,
    coalesce(fsum(x.amount) FILTER (WHERE x.first_day BETWEEN p.d0 AND p.d1), 0.0) AS new_payer_amount,
    coalesce(fsum(x.amount) FILTER (WHERE x.first_day < p.d0), 0.0) AS returning_payer_amount
  FROM periods p
  LEFT JOIN (SELECT r.day, r.amount, fs.first_day FROM r JOIN first_success fs USING (user_id)
             WHERE r.succ) x ON x.day BETWEEN p.d0 AND p.d1
  GROUP BY p.pid
),
-- Dispute activity by dispute date, whatever the transaction's date.
disputes AS (
  SELECT p.pid, count(f.rn) AS disputes_opened
  FROM periods p LEFT JOIN f ON f.disputed_day BETWEEN p.d0 AND p.d1
  GROUP BY p.pid
)
SELECT * FROM base
  LEFT JOIN merchants USING (pid) LEFT JOIN windows USING (pid) LEFT JOIN stickiness USING (pid)
  LEFT JOIN new_payers USING (pid) LEFT JOIN payer_volume USING (pid) LEFT JOIN disputes USING (pid)
"""


# ---------------------------------------------------------------------------------------------
# helpers


def tz_seconds(tz):
    m = TZ_RE.match(tz)
    if not m:
        raise ValueError(f"reporting tz must look like +08:00, got {tz!r}")
    s = int(m.group(2)) * 3600 + int(m.group(3)) * 60
    return -s if m.group(1) == "-" else s


def tz_string(seconds):
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def status_case_sql(expr):
    parts = []
    for norm, raws in STATUS_VOCAB.items():
        quoted = ", ".join(f"'{r}'" for r in raws)
        parts.append(f"WHEN lower(trim({expr})) IN ({quoted}) THEN '{norm}'")
    return "CASE " + " ".join(parts) + " ELSE 'unknown' END"


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def sql_date(d):
    return f"DATE '{d.isoformat()}'"


def bucket_start(d, grain, week_start="monday"):
    if grain == "day":
        return d
    if grain == "week":
        back = d.weekday() if week_start == "monday" else (d.weekday() + 1) % 7
        return d - dt.timedelta(days=back)
    if grain == "month":
        return d.replace(day=1)
    raise ValueError(grain)


def next_bucket(d, grain):
    if grain == "day":
        return d + dt.timedelta(days=1)
    if grain == "week":
        return d + dt.timedelta(days=7)
    if grain == "month":
        return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    raise ValueError(grain)


def bucket_label(d, grain):
    return d.strftime("%Y-%m") if grain == "month" else d.isoformat()


def hand_number(v):
    """Hand values: numbers, null, or exact fractions written as "a/b"."""
    if isinstance(v, str):
        a, b = v.split("/")
        return int(a) / int(b)
    return v


# ---------------------------------------------------------------------------------------------
# loading: the file's rows, typed, with the skip rules of docs/report.md


def read_records(path, delim):
    """Python csv pass: header, and for every data record its first file line and field count."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw:
        raise ValueError(f"{path}: empty file")
    if b"\x00" in raw:
        raise ValueError(f"{path}: contains NUL bytes")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delim, quotechar='"', doublequote=True, strict=True)
        header = next(reader)
        records = []  # (line, fields)
        prev_end = reader.line_num
        for fields in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if fields == []:
                raise ValueError(f"{path}:{start}: blank line; the oracle does not know the rule for it")
            records.append((start, fields))
    if not records:
        raise ValueError(f"{path}: header only, no data rows")
    return header, records


ISO_RE = r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$"
NUM_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def time_sql(expr):
    """(naive TIMESTAMP, offset seconds or NULL for wall-clock times) of a time cell."""
    t = f"trim({expr})"
    iso = f"regexp_extract({t}, '{ISO_RE}', ['d', 't', 'o'])"
    epoch_s = f"regexp_full_match(coalesce({t}, ''), '\\d{{10}}')"
    epoch_ms = f"regexp_full_match(coalesce({t}, ''), '\\d{{13}}')"
    ts = f"""CASE
        WHEN {epoch_s} THEN TIMESTAMP '1970-01-01' + to_microseconds(CAST({t} AS BIGINT) * 1000000)
        WHEN {epoch_ms} THEN TIMESTAMP '1970-01-01' + to_microseconds(CAST({t} AS BIGINT) * 1000)
        WHEN {iso}.d <> '' THEN TRY_CAST({iso}.d || ' ' || (CASE WHEN {iso}.t = '' THEN '00:00:00' ELSE {iso}.t END) AS TIMESTAMP)
      END"""
    off = f"""CASE
        WHEN {epoch_s} OR {epoch_ms} THEN 0
        WHEN {iso}.o = 'Z' THEN 0
        WHEN {iso}.o <> '' THEN
          (CASE WHEN left({iso}.o, 1) = '-' THEN -1 ELSE 1 END)
          * (CAST(substr({iso}.o, 2, 2) AS INTEGER) * 3600 + CAST(right({iso}.o, 2) AS INTEGER) * 60)
      END"""
    has_offset = f"({iso}.o <> '' AND NOT {epoch_s} AND NOT {epoch_ms})"
    return ts, off, has_offset


def number_sql(expr):
    t = f"trim({expr})"
    return f"CASE WHEN regexp_full_match(coalesce({t}, ''), '{NUM_RE}') THEN CAST({t} AS DOUBLE) END"


class Loaded:
    """A transactions file (plus joined lookups) read into DuckDB: tables `raw` (every column,
    text) and `loaded` (the kept rows, typed)."""


def load(path, delim=",", mapping=None, joins=()):
    """joins: [(lookup path, transactions column, lookup key column)], many-to-one, first row of a
    repeated key wins; the lookup's other columns are added (file stem prefixed on a clash)."""
    header, records = read_records(path, delim)
    ncols = len(header)
    if len(set(header)) != ncols:
        raise ValueError(f"{path}: duplicate column names {header}")
    wrong_fields = [(line, len(f)) for line, f in records if len(f) != ncols]
    good_records = [(line, f) for line, f in records if len(f) == ncols]

    con = duckdb.connect()
    # Pin everything that could change results. Nothing below uses TIMESTAMPTZ for bucketing, so
    # the session TimeZone does not matter; it is set to a zone with DST anyway, so that any
    # accidental use of it would show up as a mismatch rather than pass silently.
    con.execute("SET threads = 1")  # keeps row_number() in file order (verified below)
    con.execute("SET TimeZone = 'America/New_York'")

    con.execute(
        "CREATE TABLE traw AS SELECT row_number() OVER () AS rn, * FROM read_csv($path, "
        "header = true, delim = $delim, quote = '\"', escape = '\"', columns = $columns, "
        "auto_detect = false, ignore_errors = true, strict_mode = true, null_padding = false, "
        "encoding = 'utf-8')",
        {"path": path, "delim": delim, "columns": {c: "VARCHAR" for c in header}},
    )
    # DuckDB drops exactly the wrong-field-count records (all columns are VARCHAR, so nothing
    # else can fail); check that it kept the same records, in the same order, as Python.
    duck_first = [r[0] for r in con.execute(f"SELECT {ident(header[0])} FROM traw ORDER BY rn").fetchall()]
    py_first = [(f[0] if f[0] != "" else None) for _, f in good_records]
    if duck_first != py_first:
        raise AssertionError(
            f"{path}: DuckDB and Python csv disagree on the records "
            f"({len(duck_first)} vs {len(py_first)} rows)")
    line_of_rn = {i + 1: line for i, (line, _) in enumerate(good_records)}

    columns = list(header)
    select = ["t.*"]
    joins_sql = []
    for i, (lpath, on, key) in enumerate(joins):
        lheader, _ = read_records(lpath, ",")
        if on not in columns or key not in lheader:
            raise ValueError(f"join {lpath}:{on}={key}: no such column")
        stem = os.path.splitext(os.path.basename(lpath))[0]
        con.execute(
            f"CREATE TABLE lk{i} AS SELECT * FROM (SELECT row_number() OVER () AS lrn, * FROM read_csv($p, "
            "header = true, delim = ',', quote = '\"', escape = '\"', columns = $c, auto_detect = false, "
            "strict_mode = true, encoding = 'utf-8')) "
            f"QUALIFY row_number() OVER (PARTITION BY trim({ident(key)}) ORDER BY lrn) = 1",
            {"p": lpath, "c": {c: "VARCHAR" for c in lheader}})
        for c in lheader:
            if c == key:
                continue
            name = c if c not in columns else f"{stem}.{c}"
            columns.append(name)
            select.append(f"lk{i}.{ident(c)} AS {ident(name)}")
        joins_sql.append(f"LEFT JOIN lk{i} ON trim(lk{i}.{ident(key)}) = trim(t.{ident(on)}) "
                         f"AND trim(t.{ident(on)}) <> ''")
    con.execute(f"CREATE TABLE raw AS SELECT {', '.join(select)} FROM traw t {' '.join(joins_sql)}")

    mapping = dict(mapping or {})
    for role, names in ROLE_COLUMNS.items():
        if role not in mapping:
            found = [c for c in names if c in columns]
            if found:
                mapping[role] = found[0]
    mapping = {r: c for r, c in mapping.items() if c is not None}
    for role, col in mapping.items():
        if col not in columns:
            raise ValueError(f"{path}: mapped column {col!r} for {role} not in {columns}")
    if "created_at" not in mapping:
        raise ValueError(f"{path}: no created_at column; the oracle cannot bucket")

    def col(role):
        return f"raw.{ident(mapping[role])}" if role in mapping else "NULL"

    def text(role):
        """A text role: trimmed, an empty cell is missing."""
        return f"nullif(trim({col(role)}), '')"

    def dim(role):
        """A dimension's value for the mixes: trimmed text, "" for an empty cell."""
        return f"coalesce(trim({col(role)}), '')" if role in mapping else "NULL"

    created_ts, created_off, created_has_offset = time_sql(col("created_at"))
    settled_ts, settled_off, _ = time_sql(col("settled_at"))
    disputed_ts, disputed_off, _ = time_sql(col("disputed_at"))
    amount = col("amount")
    kyc = f"trim({col('kyc')})"
    con.execute(f"""
        CREATE TABLE parsed AS
        SELECT rn,
               {col('created_at')} AS created_raw,
               {col('amount')} AS amount_raw,
               {col('status')} AS status_raw,
               {text('currency')} AS currency,
               {created_ts} AS created_ts, {created_off} AS created_off,
               {created_has_offset} AS has_offset,
               {number_sql(amount)} AS amount,
               ({amount} IS NOT NULL AND trim({amount}) <> ''
                AND NOT regexp_full_match(trim({amount}), '{NUM_RE}')) AS amount_bad,
               {status_case_sql(col('status'))} AS status,
               {text('user_id')} AS user_id,
               {text('merchant_id')} AS merchant_id,
               {number_sql(col('fee'))} AS fee,
               {number_sql(col('latency_ms'))} AS latency_ms,
               {settled_ts} AS settled_ts, {settled_off} AS settled_off,
               {disputed_ts} AS disputed_ts, {disputed_off} AS disputed_off,
               coalesce(lower(trim({col('fraud')})) IN ('1', 'true', 'yes', 'y', 't'), false) AS fraud,
               -- Verified: a number above 0, or yes / true / verified / 已实名 / 已认证.
               coalesce(TRY_CAST({kyc} AS DOUBLE) > 0
                        OR lower({kyc}) IN ('yes', 'true', 'verified', '已实名', '已认证'), false) AS kyc_verified,
               {', '.join(f'{dim(d)} AS dim_{d}' for d in DIMENSIONS)},
               {dim('decline_reason')} AS decline_reason
        FROM raw
    """)

    # Skip rules, in the order of the definitions: field count, amount, created_at.
    skipped = {"wrong number of fields": [(line, None, f"{n} fields") for line, n in wrong_fields]}
    amount_col = header.index(mapping["amount"]) + 1 if mapping.get("amount") in header else None
    created_col = header.index(mapping["created_at"]) + 1 if mapping["created_at"] in header else None
    bad_amount = con.execute("SELECT rn, amount_raw FROM parsed WHERE amount_bad ORDER BY rn").fetchall()
    skipped["amount is not a number"] = [(line_of_rn[rn], amount_col, v) for rn, v in bad_amount]
    bad_time = con.execute(
        "SELECT rn, created_raw FROM parsed WHERE NOT amount_bad AND created_ts IS NULL ORDER BY rn").fetchall()
    skipped["created_at is empty or unreadable"] = [(line_of_rn[rn], created_col, v) for rn, v in bad_time]
    con.execute("CREATE TABLE loaded AS SELECT * FROM parsed WHERE NOT amount_bad AND created_ts IS NOT NULL")

    rows_read = len(records)
    rows_loaded = con.execute("SELECT count(*) FROM loaded").fetchone()[0]
    rows_skipped = sum(len(v) for v in skipped.values())
    if rows_loaded + rows_skipped != rows_read:
        raise AssertionError(f"{path}: {rows_loaded} + {rows_skipped} != {rows_read}")

    # Independent cross-check of the offset arithmetic with DuckDB's own TIMESTAMPTZ parser, under
    # two different session time zones: epoch seconds must not depend on the session setting.
    for session_tz in ("UTC", "Asia/Kolkata"):
        con.execute(f"SET TimeZone = '{session_tz}'")
        bad = con.execute("""
            SELECT count(*) FROM loaded
            WHERE has_offset
              AND epoch(CAST(replace(trim(created_raw), ' ', 'T') AS TIMESTAMPTZ))
                  <> epoch(created_ts) - created_off
        """).fetchone()[0]
        if bad:
            raise AssertionError(f"{path}: {bad} rows where offset arithmetic disagrees with "
                                 f"TIMESTAMPTZ under TimeZone={session_tz}")
    con.execute("SET TimeZone = 'America/New_York'")

    ld = Loaded()
    ld.con, ld.path, ld.delim, ld.header, ld.columns, ld.mapping = con, path, delim, header, columns, mapping
    ld.statuses = [
        {"raw": raw, "status": st, "count": n}
        for raw, st, n in con.execute(
            "SELECT status_raw, status, count(*) FROM loaded GROUP BY ALL ORDER BY status_raw NULLS LAST"
        ).fetchall()
    ] if "status" in mapping else []
    ld.currencies = sorted(r[0] for r in con.execute(
        "SELECT DISTINCT currency FROM loaded WHERE currency IS NOT NULL").fetchall())
    ld.offsets = con.execute(
        "SELECT created_off, count(*) AS n FROM loaded WHERE has_offset GROUP BY created_off "
        "ORDER BY n DESC, created_off").fetchall()
    ld.quality = {
        "delimiter": delim,
        "rows_read": rows_read,
        "rows_loaded": rows_loaded,
        "rows_skipped": rows_skipped,
        "skipped": {k: [{"line": l, "column": c, "value": v} for l, c, v in vals]
                    for k, vals in skipped.items() if vals},
    }
    return ld


# ---------------------------------------------------------------------------------------------
# the report


def local_sql(ts, off, tzs):
    """Wall-clock time in the reporting tz: absolute instants are shifted (local - own offset +
    reporting offset, arithmetic on a naive TIMESTAMP); naive values are taken as they are."""
    return f"(CASE WHEN {off} IS NULL THEN {ts} ELSE {ts} - to_seconds({off}) + to_seconds({tzs}) END)"


def seconds_sql(ts):
    return f"(epoch_us({ts}) / 1e6)"


def analyze(ld, tz=None, grain="day", week_start="monday", date_range=None, filters=(),
            segment=None, sla_hours=48.0, large_amount=50000.0):
    """The oracle's report for a loaded file: the fields of docs/report.md it checks.

    tz: '+08:00' or None (the most common offset of created_at, else UTC); date_range: (from, to)
    local dates; filters: [(column, [values]) or (column, [values], exclude)]; segment: a column.
    """
    con = ld.con
    tz_note = None
    if tz is None:
        if ld.offsets:
            if len(ld.offsets) > 1 and ld.offsets[0][1] == ld.offsets[1][1]:
                tz_note = f"tie between offsets {ld.offsets[0][0]} and {ld.offsets[1][0]}"
            tz = tz_string(ld.offsets[0][0])
        else:
            tz = "+00:00"
    tzs = tz_seconds(tz)
    created_l = local_sql("created_ts", "created_off", tzs)
    settled_l = local_sql("settled_ts", "settled_off", tzs)
    disputed_l = local_sql("disputed_ts", "disputed_off", tzs)
    con.execute(f"""
        CREATE OR REPLACE TABLE loc AS
        SELECT *, {created_l} AS created_l, CAST({created_l} AS DATE) AS day,
               {seconds_sql(created_l)} AS created_e, {seconds_sql(settled_l)} AS settled_e,
               CAST({disputed_l} AS DATE) AS disputed_day,
               status IN ('success', 'refunded', 'disputed') AS succ,
               ({seconds_sql(settled_l)} - {seconds_sql(created_l)}) / 3600.0 AS settle_h
        FROM loaded
    """)
    first, last, last_created = con.execute("SELECT min(day), max(day), max(created_e) FROM loc").fetchone()
    data_range = (first, last)
    where = ["true"]
    for column, values, *exclude in filters:
        if column not in ld.columns:
            raise ValueError(f"filter on {column!r}: not a column of {ld.columns}")
        keep = f"coalesce(trim(raw.{ident(column)}), '') IN ({', '.join(sql_str(v) for v in values)})"
        where.append(f"NOT ({keep})" if exclude and exclude[0] else keep)
    con.execute(f"CREATE OR REPLACE TABLE floc AS SELECT loc.* FROM loc JOIN raw USING (rn) "
                f"WHERE {' AND '.join(where)}")
    r0, r1 = (dt.date.fromisoformat(date_range[0]), dt.date.fromisoformat(date_range[1])) \
        if date_range else data_range

    # A metric has a value when the roles it needs are mapped, and money is never summed over
    # mixed currencies.
    mixed = len(ld.currencies) > 1
    available = {}
    for m, (needs, _, _) in METRIC_SQL.items():
        missing = [role for role in needs if role not in ld.mapping]
        available[m] = (not missing) and not (mixed and MONEY_ROLES & set(needs))

    def metrics_over(periods, lo, hi, extra=None):
        """{pid: {metric: value}} for periods [(pid, d0, d1)] over rows from lo to hi."""
        seg = f"AND {extra}" if extra else ""
        con.execute(f"CREATE OR REPLACE TABLE f AS SELECT floc.* FROM floc JOIN raw USING (rn) WHERE true {seg}")
        con.execute(f"CREATE OR REPLACE TABLE r AS SELECT * FROM f WHERE day BETWEEN {sql_date(lo)} AND {sql_date(hi)}")
        # "The last day with data, when the period ends later"; "the first day of the data".
        first_in_range = con.execute("SELECT min(day) FROM loc").fetchone()[0]
        rows, days = [], []
        for pid, d0, d1 in periods:
            l = min(d1, last)
            rows.append((pid, d0, d1, l))
            if first_in_range is not None:
                d = max(l - dt.timedelta(days=29), first_in_range)
                while d <= l:
                    days.append((pid, d))
                    d += dt.timedelta(days=1)
        con.execute("CREATE OR REPLACE TABLE periods (pid INTEGER, d0 DATE, d1 DATE, l DATE)")
        con.executemany("INSERT INTO periods VALUES (?, ?, ?, ?)", rows)
        con.execute("CREATE OR REPLACE TABLE period_days (pid INTEGER, day DATE)")
        if days:
            con.executemany("INSERT INTO period_days VALUES (?, ?)", days)
        facts = FACTS_SQL.format(sla_s=float(sla_hours) * 3600.0, large=float(large_amount),
                                 last_created=last_created)
        ids = list(METRIC_SQL)
        exprs = ", ".join(f"{METRIC_SQL[m][2]} AS {m}" for m in ids)
        out = {}
        for row in con.execute(f"WITH facts AS ({facts}) SELECT pid, {exprs} FROM facts").fetchall():
            out[row[0]] = {m: (v if available[m] else None) for m, v in zip(ids, row[1:])}
        return out

    def buckets_of(lo, hi):
        out = []
        b = bucket_start(lo, grain, week_start)
        while b <= hi:
            e = next_bucket(b, grain)
            out.append((b, max(b, lo), min(e - dt.timedelta(days=1), hi)))
            b = e
        return out

    # Each call leaves `r` as the rows of its range: the reported range's call comes last, and the
    # mixes below read `r`.
    previous = previous_totals = None
    if date_range:
        n = (r1 - r0).days + 1
        p0, p1 = r0 - dt.timedelta(days=n), r0 - dt.timedelta(days=1)
        previous = (p0, p1)
        previous_totals = metrics_over([(0, p0, p1)], p0, p1)[0]
    segments = None
    if segment:
        seg_col = f"coalesce(trim(raw.{ident(segment)}), '')"
        counts = con.execute(f"SELECT {seg_col} AS v, count(*) FROM floc JOIN raw USING (rn) "
                             f"WHERE day BETWEEN {sql_date(r0)} AND {sql_date(r1)} "
                             "GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()
        values = []
        for v, n in counts[:10]:
            m = metrics_over([(0, r0, r1)], r0, r1, f"{seg_col} = {sql_str(v)}")[0]
            values.append({"value": v if v != "" else "(empty)", "rows": n, "totals": m})
        if len(counts) > 10:
            top = ", ".join(sql_str(v) for v, _ in counts[:10])
            m = metrics_over([(0, r0, r1)], r0, r1, f"{seg_col} NOT IN ({top})")[0]
            values.append({"value": "(other)", "rows": sum(n for _, n in counts[10:]), "totals": m})
        segments = {"column": segment, "values": values, "tied": tied_at(counts, 10)}
    buckets = buckets_of(r0, r1)
    by_pid = metrics_over([(-1, r0, r1)] + [(i, d0, d1) for i, (_, d0, d1) in enumerate(buckets)], r0, r1)
    totals = by_pid[-1]
    series = [{"bucket": bucket_label(b, grain), "start": f"{b.isoformat()}T00:00:00{tz}", **by_pid[i]}
              for i, (b, _, _) in enumerate(buckets)]

    breakdowns = []
    for d in DIMENSIONS:
        if d not in ld.mapping or "status" not in ld.mapping:
            continue
        breakdowns.append(breakdown(con, d, ld.mapping[d], buckets, grain))
    decline = None
    if "decline_reason" in ld.mapping and "status" in ld.mapping:
        total_failed = con.execute("SELECT count(*) FROM r WHERE status = 'failed'").fetchone()[0]
        decline = {"column": ld.mapping["decline_reason"], "values": [
            {"value": v if v != "" else "(none given)", "failures": n,
             "share": n / total_failed if total_failed else None}
            for v, n in con.execute("SELECT decline_reason, count(*) FROM r WHERE status = 'failed' "
                                    "GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()]}

    return {
        "file": os.path.basename(ld.path),
        "tz": tz,
        "tz_note": tz_note,
        "grain": grain,
        "week_start": week_start,
        "data_range": {"from": first.isoformat(), "to": last.isoformat()},
        "range": {"from": r0.isoformat(), "to": r1.isoformat()},
        "previous": {"from": previous[0].isoformat(), "to": previous[1].isoformat()} if previous else None,
        "totals": totals,
        "previous_totals": previous_totals if previous_totals is not None else {},
        "series": series,
        "breakdowns": breakdowns,
        "decline_reasons": decline,
        "segments": segments,
        "needs": {m: [role for role in METRIC_SQL[m][0] if role not in ld.mapping] for m in METRIC_SQL},
        "statuses": ld.statuses,
        "currencies": ld.currencies,
        # The file's header, then the columns the joins added (what the core has always reported).
        "columns": ld.columns,
        "mapping": ld.mapping,
        "quality": ld.quality,
    }


def tied_at(counts, n):
    """True when the n-th and (n+1)-th largest tie: which of them is cut is then not defined."""
    return len(counts) > n and counts[n - 1][1] == counts[n][1]


def breakdown(con, role, column, buckets, grain):
    """A mix: per value (by successful volume, top 12 then "(other)"), attempts, successes,
    volume, success rate, shares of successes and of TPV (gross); per bucket, successes and
    volume in the order of the values."""
    rows = con.execute(f"""
        SELECT dim_{role} AS v, count(*) AS attempts, count(*) FILTER (WHERE succ) AS successes,
               coalesce(fsum(amount) FILTER (WHERE succ), 0.0) AS volume,
               count(*) FILTER (WHERE succ OR status = 'failed') AS decided
        FROM r GROUP BY ALL ORDER BY volume DESC, v
    """).fetchall()
    all_successes = sum(x[2] for x in rows)
    tpv_gross = con.execute("SELECT coalesce(fsum(amount) FILTER (WHERE succ), 0.0) FROM r").fetchone()[0]
    groups = [([v], v if v != "" else "(empty)") for v, *_ in rows[:12]]
    if len(rows) > 12:
        groups.append(([v for v, *_ in rows[12:]], "(other)"))
    by_value = {x[0]: x for x in rows}
    values = []
    for members, label in groups:
        attempts = sum(by_value[v][1] for v in members)
        successes = sum(by_value[v][2] for v in members)
        volume = math.fsum(by_value[v][3] for v in members)
        decided = sum(by_value[v][4] for v in members)
        values.append({"value": label, "attempts": attempts, "successes": successes, "volume": volume,
                       "success_rate": successes / decided if decided else None,
                       "count_share": successes / all_successes if all_successes else None,
                       "volume_share": volume / tpv_gross if tpv_gross else None})
    con.execute("CREATE OR REPLACE TABLE bucket_spans (b DATE, d0 DATE, d1 DATE)")
    con.executemany("INSERT INTO bucket_spans VALUES (?, ?, ?)", buckets)
    per = collections.defaultdict(lambda: [0, 0.0])
    for b, v, n, vol in con.execute(f"""
            SELECT bs.b, r.dim_{role}, count(*), coalesce(fsum(r.amount), 0.0)
            FROM r JOIN bucket_spans bs ON r.day BETWEEN bs.d0 AND bs.d1
            WHERE r.succ GROUP BY ALL""").fetchall():
        per[(b, v)][0] += n
        per[(b, v)][1] += vol
    series = []
    for b, _, _ in buckets:
        series.append({"bucket": bucket_label(b, grain),
                       "counts": [sum(per[(b, v)][0] for v in members) for members, _ in groups],
                       "volumes": [math.fsum(per[(b, v)][1] for v in members) for members, _ in groups]})
    # Values tied on volume at the top-12 cut make the "(other)" group undefined.
    return {"dimension": role, "column": column, "values": values, "series": series,
            "tied": len(rows) > 12 and rows[11][3] == rows[12][3]}


def compute(path, delim=",", tz=None, grain="day", mapping=None, joins=(), **options):
    return analyze(load(path, delim, mapping, joins), tz, grain, **options)


# ---------------------------------------------------------------------------------------------
# checking


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def check(self, name, ok, detail=""):
        detail = " | ".join(str(detail).strip().splitlines())  # one line per check
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f": {detail}" if detail else ""))
        else:
            self.failed += 1
            self.failures.append(name)
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()
        return ok


def same_number(expected, got, exact):
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    if exact:
        return float(got).is_integer() and int(got) == expected
    if expected == 0:
        return abs(got) <= ABS_TOL
    return math.isclose(got, expected, rel_tol=REL_TOL, abs_tol=0.0)


def show(v):
    return "<missing>" if v is _MISSING else repr(v)


_MISSING = object()


def compare_metric_maps(ck, label, exp, got, ids):
    """One check per metric: `got` (a report's totals-like object) against the oracle's."""
    if not isinstance(got, dict):
        ck.check(f"{label} present", False, f"got {got!r}")
        return
    for m in ids:
        e, g = exp[m], got.get(m, _MISSING)
        ok = g is not _MISSING and same_number(e, g, m in INTEGER_METRICS)
        ck.check(f"{label}.{m}", ok, f"expected {e!r}, got {show(g)}")


def compare_series(ck, label, exp_series, series, ids):
    if not isinstance(series, list):
        ck.check(f"{label} series present", False, f"got {type(series).__name__}")
        return
    exp_buckets = [s["bucket"] for s in exp_series]
    got_buckets = [s.get("bucket") if isinstance(s, dict) else s for s in series]
    detail = f"{len(exp_buckets)} buckets {exp_buckets[:1]}..{exp_buckets[-1:]}"
    if got_buckets != exp_buckets:
        extra = [b for b in got_buckets if b not in exp_buckets][:5]
        missing = [b for b in exp_buckets if b not in got_buckets][:5]
        detail = (f"expected {len(exp_buckets)} buckets {exp_buckets[:3]}..{exp_buckets[-2:]}, got "
                  f"{len(got_buckets)} {got_buckets[:3]}..{got_buckets[-2:]}; missing {missing}, extra {extra}")
    ck.check(f"{label} series buckets", got_buckets == exp_buckets, detail)
    got_by_bucket = {s.get("bucket"): s for s in series if isinstance(s, dict)}
    bad = [f"{s['bucket']}: expected {s['start']!r}, got {got_by_bucket.get(s['bucket'], {}).get('start')!r}"
           for s in exp_series if got_by_bucket.get(s["bucket"], {}).get("start") != s["start"]]
    ck.check(f"{label} series start", not bad, f"{len(bad)} wrong, e.g. {bad[:3]}" if bad else "")
    for m in ids:
        bad = []
        for s in exp_series:
            g = got_by_bucket.get(s["bucket"])
            if g is None:
                continue  # already reported by "series buckets"
            if m not in g or not same_number(s[m], g.get(m), m in INTEGER_METRICS):
                bad.append(f"{s['bucket']}: expected {s[m]!r}, got {show(g.get(m, _MISSING))}")
        ck.check(f"{label} series.{m}", not bad,
                 f"{len(bad)} of {len(exp_series)} buckets wrong, e.g. {bad[:3]}" if bad
                 else f"{len(exp_series)} buckets")


def float_counts(rep):
    """Counts are integers in the contract (`"txn_count": 42`), not 42.0."""
    out = []

    def scan(where, obj):
        if isinstance(obj, dict):
            for m in INTEGER_METRICS:
                if isinstance(obj.get(m), float):
                    out.append(f"{where}.{m}={obj[m]!r}")
    scan("totals", rep.get("totals"))
    scan("previous_totals", rep.get("previous_totals"))
    for entry in rep.get("metrics") or []:
        if isinstance(entry, dict) and entry.get("id") in INTEGER_METRICS:
            for k in ("value", "previous"):
                if isinstance(entry.get(k), float):
                    out.append(f"metrics[{entry['id']}].{k}={entry[k]!r}")
    for b in rep.get("series") or []:
        scan(f"series[{b.get('bucket') if isinstance(b, dict) else '?'}]", b)
    for s in ((rep.get("segments") or {}).get("values") or []):
        if isinstance(s, dict):
            scan(f"segments[{s.get('value')}].totals", s.get("totals"))
            if isinstance(s.get("rows"), float):
                out.append(f"segments[{s.get('value')}].rows")
    for b in rep.get("breakdowns") or []:
        for v in (b.get("values") or []) if isinstance(b, dict) else []:
            for k in ("attempts", "successes"):
                if isinstance(v.get(k), float):
                    out.append(f"breakdowns[{b.get('dimension')}].{v.get('value')}.{k}")
        for p in (b.get("series") or []) if isinstance(b, dict) else []:
            if any(isinstance(c, float) for c in p.get("counts") or []):
                out.append(f"breakdowns[{b.get('dimension')}].series[{p.get('bucket')}].counts")
    for v in ((rep.get("decline_reasons") or {}).get("values") or []):
        if isinstance(v.get("failures"), float):
            out.append(f"decline_reasons.{v.get('value')}.failures")
    q0 = rep.get("quality") if isinstance(rep.get("quality"), dict) else {}
    for k in ("rows_read", "rows_loaded", "rows_skipped"):
        if isinstance(q0.get(k), float):
            out.append(f"quality.{k}={q0[k]!r}")
    return out


def compare_metrics_entries(ck, label, exp, rep, ids):
    """metrics[]: the same values as totals (and previous_totals), `needs` = the missing roles,
    change = (value - previous) / |previous|."""
    metrics = rep.get("metrics")
    if not isinstance(metrics, list):
        ck.check(f"{label} metrics[] present", False, f"got {metrics!r}")
        return
    by_id = {m.get("id"): m for m in metrics if isinstance(m, dict)}
    bad = []
    for m in ids:
        entry = by_id.get(m)
        if entry is None:
            bad.append(f"{m} missing")
            continue
        e = exp["totals"][m]
        if not same_number(e, entry.get("value"), m in INTEGER_METRICS):
            bad.append(f"{m}.value={entry.get('value')!r} (expected {e!r})")
        needs = entry.get("needs")
        if not isinstance(needs, list) or sorted(needs) != sorted(exp["needs"][m]):
            bad.append(f"{m}.needs={needs!r} (expected {exp['needs'][m]!r})")
        if exp["previous"] is not None:
            p = exp["previous_totals"][m]
            if not same_number(p, entry.get("previous", _MISSING), m in INTEGER_METRICS):
                bad.append(f"{m}.previous={show(entry.get('previous', _MISSING))} (expected {p!r})")
            change = (e - p) / abs(p) if (e is not None and p) else None
            if not same_number(change, entry.get("change", _MISSING), False):
                bad.append(f"{m}.change={show(entry.get('change', _MISSING))} (expected {change!r})")
        elif entry.get("previous") is not None or entry.get("change") is not None:
            bad.append(f"{m}: previous {entry.get('previous')!r} / change {entry.get('change')!r} without a range")
    ck.check(f"{label} metrics[] values, needs, previous and change", not bad,
             f"{len(bad)} wrong: " + "; ".join(bad[:6]) if bad else f"{len(ids)} metrics")


def compare_quality(ck, label, exp, rep):
    q = rep.get("quality")
    if not isinstance(q, dict):
        ck.check(f"{label} quality present", False, f"got {q!r}")
        q = {}
    for k in ("rows_read", "rows_loaded", "rows_skipped"):
        e = exp["quality"][k]
        ck.check(f"{label} quality.{k}", same_number(e, q.get(k), True), f"expected {e}, got {q.get(k)!r}")
    # The contract does not say how a tab is spelled: accept "\t" or "tab".
    delim_ok = q.get("delimiter") == exp["quality"]["delimiter"] or (
        exp["quality"]["delimiter"] == "\t" and q.get("delimiter") == "tab")
    ck.check(f"{label} quality.delimiter", delim_ok,
             f"expected {exp['quality']['delimiter']!r}, got {q.get('delimiter')!r}")
    exp_sk = {k: sorted((x["line"], x["column"]) for x in v) for k, v in exp["quality"]["skipped"].items()}
    got_sk = collections.defaultdict(list)
    bad = []
    for entry in q.get("skipped") or []:
        for ex in entry.get("examples") or []:
            got_sk[entry.get("reason")].append((ex.get("line"), ex.get("column")))
    exp_lines = sorted(x for v in exp_sk.values() for x in v)
    got_lines = sorted(x for v in got_sk.values() for x in v)
    if exp["quality"]["rows_skipped"] <= 5 and exp_lines != got_lines:
        bad.append(f"expected (line, column) {exp_lines}, got {got_lines} ({dict(got_sk)})")
    ck.check(f"{label} quality.skipped lines/columns", not bad, "; ".join(bad) or f"{exp_lines}")

    got_st = rep.get("statuses")
    exp_st = sorted(((s["raw"], s["status"], s["count"]) for s in exp["statuses"]), key=repr)
    try:
        got_st = sorted(((s["raw"], s["status"], s["count"]) for s in got_st), key=repr)
    except Exception:  # noqa: BLE001 - report the malformed value
        pass
    ck.check(f"{label} statuses", got_st == exp_st,
             f"{len(exp_st)} raw values" if got_st == exp_st else f"expected {exp_st}, got {got_st}")
    if exp["currencies"]:
        got_cur = rep.get("currencies")
        ok = isinstance(got_cur, list) and sorted(got_cur) == exp["currencies"]
        ck.check(f"{label} currencies", ok, f"expected {exp['currencies']}, got {got_cur!r}")
    ck.check(f"{label} columns", rep.get("columns") == exp["columns"],
             f"expected {exp['columns']}, got {rep.get('columns')!r}")


def compare_report(ck, label, exp, rep, ids, check_quality=True, expect_mapping=None, series=True):
    """Compare an oracle result `exp` with a parsed report JSON `rep`, for the metrics `ids`."""
    if not ck.check(f"{label} report is a JSON object", isinstance(rep, dict), type(rep).__name__):
        return
    ck.check(f"{label} tz", rep.get("tz") == exp["tz"], f"expected {exp['tz']!r}, got {rep.get('tz')!r}"
             + (f" (oracle note: {exp['tz_note']})" if exp.get("tz_note") else ""))
    ck.check(f"{label} grain", rep.get("grain") == exp["grain"],
             f"expected {exp['grain']!r}, got {rep.get('grain')!r}")
    compare_metric_maps(ck, f"{label} totals", exp["totals"], rep.get("totals"), ids)
    if exp["previous"] is not None:
        compare_metric_maps(ck, f"{label} previous_totals", exp["previous_totals"], rep.get("previous_totals"), ids)
    compare_metrics_entries(ck, label, exp, rep, ids)
    floats = float_counts(rep)
    ck.check(f"{label} counts are JSON integers", not floats,
             f"{len(floats)} float counts, e.g. {floats[:3]}" if floats else "")
    if series:
        compare_series(ck, label, exp["series"], rep.get("series"), ids)
    if check_quality:
        compare_quality(ck, label, exp, rep)
    if expect_mapping:
        got_map = {m.get("role"): m.get("column") for m in rep.get("mapping") or [] if isinstance(m, dict)}
        bad = [f"{role}: expected {c!r}, got {got_map.get(role)!r}"
               for role, c in expect_mapping.items() if got_map.get(role) != c]
        ck.check(f"{label} mapping", not bad, "; ".join(bad) or ", ".join(f"{r}<-{c}" for r, c in expect_mapping.items()))


def compare_ranges(ck, label, exp, rep):
    for k in ("data_range", "range", "previous"):
        ck.check(f"{label} {k}", rep.get(k, _MISSING) == exp[k], f"expected {exp[k]!r}, got {show(rep.get(k, _MISSING))}")
    if exp["previous"] is None:
        ck.check(f"{label} previous_totals is {{}} without a range", rep.get("previous_totals", _MISSING) == {},
                 f"got {show(rep.get('previous_totals', _MISSING))}")
    ck.check(f"{label} week_start", rep.get("week_start") == exp["week_start"],
             f"expected {exp['week_start']!r}, got {rep.get('week_start')!r}")


def compare_breakdowns(ck, label, exp, rep):
    got = rep.get("breakdowns")
    if not ck.check(f"{label} breakdowns present", isinstance(got, list), f"got {show(rep.get('breakdowns', _MISSING))}"):
        return
    got_by_dim = {b.get("dimension"): b for b in got if isinstance(b, dict)}
    exp_dims = [b["dimension"] for b in exp["breakdowns"]]
    ck.check(f"{label} breakdowns dimensions", sorted(got_by_dim) == sorted(exp_dims) and len(got) == len(exp_dims),
             f"expected {exp_dims}, got {[b.get('dimension') for b in got if isinstance(b, dict)]}")
    for eb in exp["breakdowns"]:
        d = eb["dimension"]
        gb = got_by_dim.get(d)
        if gb is None:
            continue
        lab = f"{label} breakdowns[{d}]"
        ck.check(f"{lab}.column", gb.get("column") == eb["column"], f"expected {eb['column']!r}, got {gb.get('column')!r}")
        if eb["tied"]:
            ck.check(f"{lab} values (tie at the top-12 cut: order not defined, skipped)", True)
            continue
        gv = gb.get("values") or []
        order_ok = [v.get("value") for v in gv] == [v["value"] for v in eb["values"]]
        ck.check(f"{lab} values in order", order_ok,
                 f"expected {[v['value'] for v in eb['values']]}, got {[v.get('value') for v in gv]}")
        got_v = {v.get("value"): v for v in gv if isinstance(v, dict)}
        for field in ("attempts", "successes", "volume", "success_rate", "count_share", "volume_share"):
            bad = [f"{v['value']}: expected {v[field]!r}, got {show(got_v.get(v['value'], {}).get(field, _MISSING))}"
                   for v in eb["values"]
                   if not same_number(v[field], got_v.get(v["value"], {}).get(field), field in ("attempts", "successes"))]
            ck.check(f"{lab}.{field}", not bad, f"{len(bad)} wrong: {bad[:3]}" if bad else f"{len(eb['values'])} values")
        gs = gb.get("series")
        if not isinstance(gs, list):
            ck.check(f"{lab}.series present", False, f"got {gs!r}")
            continue
        gs_by = {p.get("bucket"): p for p in gs if isinstance(p, dict)}
        bad = []
        for p in eb["series"]:
            g = gs_by.get(p["bucket"])
            if g is None:
                bad.append(f"{p['bucket']} missing")
                continue
            gc, gvol = g.get("counts"), g.get("volumes")
            if not (isinstance(gc, list) and gc == p["counts"]):
                bad.append(f"{p['bucket']} counts: expected {p['counts']}, got {gc!r}")
            if not (isinstance(gvol, list) and len(gvol) == len(p["volumes"])
                    and all(same_number(e, g_, False) for e, g_ in zip(p["volumes"], gvol))):
                bad.append(f"{p['bucket']} volumes: expected {p['volumes']}, got {gvol!r}")
        ck.check(f"{lab}.series counts and volumes (successes per value)",
                 not bad and len(gs) == len(eb["series"]),
                 f"{len(bad)} of {len(eb['series'])} buckets wrong: {bad[:2]}" if bad
                 else f"{len(eb['series'])} buckets" + ("" if len(gs) == len(eb["series"]) else f", got {len(gs)}"))


def compare_decline_reasons(ck, label, exp, rep):
    e, g = exp["decline_reasons"], rep.get("decline_reasons", _MISSING)
    if e is None:
        ck.check(f"{label} decline_reasons is null", g is None, f"got {show(g)}")
        return
    if not ck.check(f"{label} decline_reasons present", isinstance(g, dict) and isinstance(g.get("values"), list),
                    f"got {show(g)}"):
        return
    ck.check(f"{label} decline_reasons.column", g.get("column") == e["column"],
             f"expected {e['column']!r}, got {g.get('column')!r}")
    gv = [v for v in g["values"] if isinstance(v, dict)]
    counts = [v.get("failures") for v in gv]
    ck.check(f"{label} decline_reasons most first", all(isinstance(c, int) for c in counts)
             and counts == sorted(counts, reverse=True), f"{counts}")
    got = sorted(((v.get("value"), v.get("failures")) for v in gv), key=repr)
    want = sorted(((v["value"], v["failures"]) for v in e["values"]), key=repr)
    ck.check(f"{label} decline_reasons failures per reason", got == want, f"expected {want}, got {got}")
    share = {v.get("value"): v.get("share") for v in gv}
    bad = [f"{v['value']}: expected {v['share']!r}, got {share.get(v['value'])!r}"
           for v in e["values"] if not same_number(v["share"], share.get(v["value"]), False)]
    ck.check(f"{label} decline_reasons share", not bad, "; ".join(bad[:3]) or f"{len(want)} reasons")


def compare_segments(ck, label, exp, rep, ids):
    e, g = exp["segments"], rep.get("segments", _MISSING)
    if not ck.check(f"{label} segments present", isinstance(g, dict) and isinstance(g.get("values"), list),
                    f"got {show(g)}"):
        return
    ck.check(f"{label} segments.column", g.get("column") == e["column"],
             f"expected {e['column']!r}, got {g.get('column')!r}")
    gv = [v for v in g["values"] if isinstance(v, dict)]
    if not e["tied"]:
        ck.check(f"{label} segments values (most rows first, then (other))",
                 [v.get("value") for v in gv] == [v["value"] for v in e["values"]],
                 f"expected {[v['value'] for v in e['values']]}, got {[v.get('value') for v in gv]}")
    got_by = {v.get("value"): v for v in gv}
    for ev in e["values"]:
        gvv = got_by.get(ev["value"])
        if gvv is None:
            ck.check(f"{label} segments[{ev['value']}] present", False)
            continue
        ck.check(f"{label} segments[{ev['value']}].rows", same_number(ev["rows"], gvv.get("rows"), True),
                 f"expected {ev['rows']}, got {gvv.get('rows')!r}")
        compare_metric_maps(ck, f"{label} segments[{ev['value']}].totals", ev["totals"], gvv.get("totals"), ids)


# The binary's runs go on in the background while DuckDB computes the expected values.
POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2)


def start_report(binary, path, *extra):
    cmd = [binary, "report", path, *extra, "--json"]
    return cmd, POOL.submit(subprocess.run, cmd, capture_output=True, timeout=600)


def run_report(ck, binary, label, path, *extra, started=None):
    cmd, future = started or start_report(binary, path, *extra)
    p = future.result()
    if not ck.check(f"{label} exit status", p.returncode == 0,
                    f"`{' '.join(cmd)}` -> {p.returncode}; stderr: {p.stderr.decode(errors='replace')[:400]}"):
        return None
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        ck.check(f"{label} stdout is JSON", False, f"{e}; stdout starts {p.stdout[:200]!r}")
        return None


# ---------------------------------------------------------------------------------------------
# fixtures: file -> (delimiter, mapping for the oracle, expected mapping in the report). The runs
# are the cases of expected_fixtures.json (`FILE [--tz OFFSET] [--grain G] ...`) plus those below.

FIXTURE_FILES = {
    "basic.csv": (",", {}, None),
    "synonyms.csv": (";", {"txn_id": "order_ref", "created_at": "timestamp", "user_id": "customer_id",
                           "merchant_id": "shop", "amount": "payment_value", "status": "state"},
                     {"txn_id": "order_ref", "created_at": "timestamp", "user_id": "customer_id",
                      "merchant_id": "shop", "amount": "payment_value", "status": "state"}),
    "tabs.tsv": ("\t", {}, None),
    "pipes.csv": ("|", {}, None),
    "epoch.csv": (",", {}, None),
    "epoch_s.csv": (",", {}, None),
    "dates_only.csv": (",", {}, None),
    "bad_rows.csv": (",", {}, None),
    "missing_user.csv": (",", {"txn_id": "id", "created_at": "date", "amount": "value"},
                         {"txn_id": "id", "created_at": "date", "amount": "value", "status": "status",
                          "user_id": None}),
    "unknown_status.csv": (",", {}, None),
}
FIXTURE_RUNS = ["basic.csv", "basic.csv --tz +00:00", "synonyms.csv", "tabs.tsv", "pipes.csv",
                "epoch.csv", "epoch.csv --tz +08:00", "epoch_s.csv", "epoch_s.csv --tz +08:00",
                "dates_only.csv", "dates_only.csv --grain month", "bad_rows.csv", "missing_user.csv",
                "unknown_status.csv"]
ERROR_FIXTURES = ["empty.csv", "header_only.csv", "not_csv.csv"]
# The metrics of the fixture cases written before the hierarchy (their series rows were arrays).
LEGACY_METRICS = ["tpv", "txn_count", "success_rate", "active_payers", "avg_ticket", "refund_rate"]


def parse_case(case):
    """`FILE --tz +08:00 --grain week ...` -> (file, CLI args, analyze() options)."""
    parts = case.split()
    name, extra = parts[0], parts[1:]
    opts = {}
    i = 0
    while i < len(extra):
        flag, val = extra[i], extra[i + 1]
        i += 2
        if flag == "--tz":
            opts["tz"] = val
        elif flag == "--grain":
            opts["grain"] = val
        elif flag == "--week-start":
            opts["week_start"] = val
        elif flag in ("--from", "--to"):
            rng = list(opts.get("date_range") or (None, None))
            rng[flag == "--to"] = val
            opts["date_range"] = tuple(rng)
        elif flag == "--filter":
            column, values = val.split("=", 1)
            exclude = column.endswith("!")
            opts.setdefault("filters", []).append((column.rstrip("!"), values.split(","), exclude))
        elif flag == "--sla-hours":
            opts["sla_hours"] = float(val)
        elif flag == "--large-amount":
            opts["large_amount"] = float(val)
        else:
            raise ValueError(f"{case}: the oracle does not know {flag}")
    return name, extra, opts


def fixture_meta(name):
    default_delim = "\t" if name.endswith(".tsv") else ","
    return FIXTURE_FILES.get(name, (default_delim, {}, None))


_LOADED = {}


def load_fixture(name):
    """A fixture, loaded once for all its cases (each analysis replaces its own tables)."""
    if name not in _LOADED:
        delim, mapping, _ = fixture_meta(name)
        _LOADED[name] = load(os.path.join(DATA, name), delim, mapping)
    return _LOADED[name]


def fixture_cases(hand):
    cases = list(FIXTURE_RUNS)
    cases += [k for k in hand if not k.startswith("_") and k not in cases]
    return cases


def hand_case(h):
    """A hand case as (metric ids, totals, series): keyed objects, or legacy arrays."""
    totals = {m: hand_number(v) for m, v in h["totals"].items()}
    ids = list(h["totals"])
    series = []
    for row in h.get("series", []):
        if isinstance(row, dict):
            series.append({k: (v if k in ("bucket", "start") else hand_number(v)) for k, v in row.items()})
        else:
            series.append({"bucket": row[0], "start": row[1],
                           **{m: hand_number(v) for m, v in zip(LEGACY_METRICS, row[2:], strict=True)}})
    return ids, totals, series


def selftest(ck):
    """DuckDB half vs the hand-computed values of tests/expected.md (expected_fixtures.json):
    exactly the metrics each case lists, in its totals and in every series point."""
    with open(os.path.join(HERE, "expected_fixtures.json")) as f:
        hand = json.load(f)
    for case in fixture_cases(hand):
        name, _, opts = parse_case(case)
        delim = fixture_meta(name)[0]
        exp = analyze(load_fixture(name), **opts)
        h = hand.get(case)
        if not ck.check(f"selftest {case} hand values present", h is not None):
            continue
        ids, totals, series = hand_case(h)
        unknown = [m for m in ids if m not in METRIC_SQL]
        ck.check(f"selftest {case} lists only catalog metrics", not unknown, f"unknown {unknown}")
        ids = [m for m in ids if m in METRIC_SQL]
        for p in series:
            missing = [m for m in ids if m not in p]
            if missing:
                ck.check(f"selftest {case} series[{p['bucket']}] lists the totals' metrics", False, f"missing {missing}")
        fake = {"tz": h["tz"], "grain": exp["grain"], "totals": totals,
                "metrics": [{"id": m, "value": totals[m], "needs": exp["needs"][m]} for m in ids],
                "series": series}
        q = h.get("quality")
        if q is not None:
            fake["quality"] = {"rows_read": q["rows_read"], "rows_loaded": q["rows_loaded"],
                               "rows_skipped": q["rows_skipped"], "delimiter": delim,
                               "skipped": [{"reason": "?", "examples": [{"line": l, "column": c}]}
                                           for l, c in q.get("skipped", [])]}
            fake["statuses"] = h.get("statuses", exp["statuses"])
            fake["currencies"] = exp["currencies"]
            fake["columns"] = exp["columns"]
        compare_report(ck, f"selftest {case}", exp, fake, ids, check_quality=q is not None)
    for name in ERROR_FIXTURES:
        try:
            compute(os.path.join(DATA, name))
            ck.check(f"selftest {name} is rejected", False, "oracle read it")
        except (ValueError, UnicodeDecodeError, StopIteration, csv.Error) as e:
            ck.check(f"selftest {name} is rejected", True, f"{type(e).__name__}: {e}")
        except duckdb.Error as e:
            ck.check(f"selftest {name} is rejected", True, f"duckdb: {e}")


def check_fixtures_with_binary(ck, binary):
    """Each fixture case against the binary, for the metrics its hand values list."""
    with open(os.path.join(HERE, "expected_fixtures.json")) as f:
        hand = json.load(f)
    cases = [(case, *parse_case(case)) for case in fixture_cases(hand)]
    started = {case: start_report(binary, os.path.join(DATA, name), *extra) for case, name, extra, _ in cases}
    for case, name, extra, opts in cases:
        delim, mapping, exp_mapping = fixture_meta(name)
        path = os.path.join(DATA, name)
        label = "fixture " + case
        rep = run_report(ck, binary, label, path, *extra, started=started[case])
        if rep is None:
            continue
        exp = analyze(load_fixture(name), **opts)
        ids = hand_case(hand[case])[0] if case in hand else LEGACY_METRICS
        ids = [m for m in ids if m in METRIC_SQL]
        compare_report(ck, label, exp, rep, ids, expect_mapping=exp_mapping)
    for name in ERROR_FIXTURES:
        path = os.path.join(DATA, name)
        p = subprocess.run([binary, "report", path, "--json"], capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace").strip()
        ck.check(f"fixture {name} rejected with status 2 and `error: FILE: message`",
                 p.returncode == 2 and err.startswith("error: ") and name in err and not p.stdout.strip(),
                 f"status {p.returncode}, stderr {err[:200]!r}, stdout {p.stdout[:80]!r}")


# ---------------------------------------------------------------------------------------------
# generated data


def catalog_ids(ck, binary):
    """Metric ids of the catalog, from `paymetrics metrics` (the Markdown of docs/metrics.md)."""
    p = subprocess.run([binary, "metrics"], capture_output=True, timeout=60)
    ids = re.findall(r"^\| `([a-z0-9_]+)` \|", p.stdout.decode(errors="replace"), flags=re.M)
    ck.check("`paymetrics metrics` lists the catalog", p.returncode == 0 and ids,
             f"status {p.returncode}, {len(ids)} ids")
    return ids


# Segment totals compared per value: metrics whose definition does not depend on rows outside the
# segment (new payers' first payment, the last day with data and the like are left out).
SEGMENT_METRICS = ["tpv", "tpv_gross", "txn_count", "success_count", "success_rate", "success_rate_volume",
                   "active_payers", "avg_ticket", "median_ticket", "txns_per_payer", "revenue", "take_rate",
                   "latency_p95_ms", "refund_rate", "dispute_rate_bps", "fraud_rate_bps", "failure_rate",
                   "top10_merchant_share", "kyc_verified_share"]


def write_holes_copy(src, dst):
    """The generated file with holes: empty cells in optional columns and unsettled successes, so
    the rules for missing values (left out of sums, averages, percentiles and distinct counts;
    unsettled payments in the SLA) are exercised. Deterministic: by row number."""
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    punch_holes(data, {name: header.index(name) for name in header})
    with open(dst, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(data)


def punch_holes(data, c):
    """Empties optional cells of the generated rows and unsettles some successes, by row number
    (`c`: column name -> index). sql_check.py punches the same holes."""
    last_day = max(r[c["created_at"]][:10] for r in data)
    for i, r in enumerate(data):
        if i % 97 == 5:
            r[c["amount"]] = ""
        if i % 89 == 7:
            r[c["user_id"]] = ""
        if i % 83 == 11:
            r[c["merchant_id"]] = ""
        if i % 79 == 13:
            r[c["fee"]] = ""
        if i % 73 == 17:
            r[c["latency_ms"]] = ""
        if i % 71 == 19:
            r[c["channel"]] = ""
        if r[c["settled_at"]] and (i % 37 == 0 or r[c["created_at"]][:10] >= last_day[:8] + "28"):
            r[c["settled_at"]] = ""


def check_generated(ck, binary, scratch):
    gen_dir = os.path.join(scratch, "gen")
    os.makedirs(gen_dir, exist_ok=True)
    cmd = [binary, "gen", "--rows", str(GEN_ROWS), "--seed", str(GEN_SEED), "--out", gen_dir]
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    if not ck.check("gen exit status", p.returncode == 0,
                    f"`{' '.join(cmd)}` -> {p.returncode}; stderr: {p.stderr.decode(errors='replace')[:400]}"):
        return
    for f in ("transactions.csv", "users.csv", "merchants.csv"):
        ck.check(f"gen wrote {f}", os.path.isfile(os.path.join(gen_dir, f)))
    txns = os.path.join(gen_dir, "transactions.csv")
    users = os.path.join(gen_dir, "users.csv")
    if not (os.path.isfile(txns) and os.path.isfile(users)):
        return

    header, records = read_records(txns, ",")
    ck.check("gen transactions.csv header", header == STANDARD_HEADER, f"{header}")
    ck.check(f"gen transactions.csv has {GEN_ROWS} rows", len(records) == GEN_ROWS, f"{len(records)} rows")
    uheader, _ = read_records(users, ",")
    for c in ("user_id", "signup_at", "first_funding_at", "region", "kyc_level"):
        ck.check(f"gen users.csv has {c}", c in uheader, f"{uheader}")

    # Every catalog metric needs SQL here, so a new metric cannot skip the oracle.
    ids = catalog_ids(ck, binary)
    no_sql = [m for m in ids if m not in METRIC_SQL]
    stale = [m for m in METRIC_SQL if m not in ids]
    ck.check("every catalog metric has oracle SQL", not no_sql, f"no SQL for {no_sql}" if no_sql else f"{len(ids)} metrics")
    ck.check("every oracle metric is in the catalog", not stale, f"not in the catalog: {stale}" if stale else "")
    ids = [m for m in ids if m in METRIC_SQL]

    join = ["--join", f"{users}:user_id"]
    ld = load(txns, ",", joins=[(users, "user_id", "user_id")])
    base = analyze(ld)
    st = collections.Counter()
    for s in base["statuses"]:
        st[s["status"]] += s["count"]
    ck.check("gen statuses are all in the vocabulary", st.get("unknown", 0) == 0, dict(st))
    ck.check("gen default tz is the most common offset (+08:00 expected)", base["tz"] == "+08:00",
             f"oracle finds {base['tz']}" + (f" ({base['tz_note']})" if base["tz_note"] else ""))
    ck.check("gen oracle gives every metric a value", all(base["totals"][m] is not None for m in ids),
             f"null: {[m for m in ids if base['totals'][m] is None]}")

    # (label, CLI args, analyze() options, what to compare)
    runs = [
        ("gen day", [], {}, {"breakdowns", "decline_reasons"}),
        ("gen week", ["--grain", "week"], {"grain": "week"}, set()),
        ("gen week from Sunday", ["--grain", "week", "--week-start", "sunday"],
         {"grain": "week", "week_start": "sunday"}, {"breakdowns"}),
        ("gen month", ["--grain", "month"], {"grain": "month"}, {"breakdowns"}),
        ("gen day tz +00:00", ["--tz", "+00:00"], {"tz": "+00:00"}, set()),
        ("gen month tz +00:00", ["--tz", "+00:00", "--grain", "month"], {"tz": "+00:00", "grain": "month"}, set()),
        ("gen August", ["--from", "2025-08-01", "--to", "2025-08-31"],
         {"date_range": ("2025-08-01", "2025-08-31")}, {"breakdowns", "decline_reasons"}),
        # The mixes and segments of filtered rows have only the values left by the filter.
        ("gen filter channel=online,in_app, segment channel",
         ["--filter", "channel=online,in_app", "--segment", "channel", "--grain", "week"],
         {"filters": [("channel", ["online", "in_app"])], "segment": "channel", "grain": "week"},
         {"breakdowns", "decline_reasons", "segments"}),
        ("gen segment funding_source", ["--segment", "funding_source", "--grain", "month"],
         {"segment": "funding_source", "grain": "month"}, {"segments"}),
        # A joined column with 31 values: ten, then "(other)"; an exclusion filter on a joined column.
        ("gen segment region, filter kyc_level!=1", ["--segment", "region", "--filter", "kyc_level!=1",
                                                     "--grain", "month"],
         {"segment": "region", "filters": [("kyc_level", ["1"], True)], "grain": "month"},
         {"segments", "breakdowns"}),
        ("gen --large-amount 1000 --sla-hours 30", ["--large-amount", "1000", "--sla-hours", "30", "--grain", "month"],
         {"large_amount": 1000.0, "sla_hours": 30.0, "grain": "month"}, set()),
    ]
    started = {label: start_report(binary, txns, *join, *extra) for label, extra, _, _ in runs}
    for label, extra, opts, parts in runs:
        t0 = time.time()
        rep = run_report(ck, binary, label, txns, *join, *extra, started=started[label])
        if rep is None:
            continue
        exp = analyze(ld, **opts)
        compare_report(ck, label, exp, rep, ids, check_quality=label == "gen day")
        compare_ranges(ck, label, exp, rep)
        if "breakdowns" in parts:
            compare_breakdowns(ck, label, exp, rep)
        if "decline_reasons" in parts:
            compare_decline_reasons(ck, label, exp, rep)
        if "segments" in parts:
            compare_segments(ck, label, exp, rep, SEGMENT_METRICS)
        print(f"# {label}: {time.time() - t0:.1f} s")
    if base["totals"]["large_txn_count"] == 0:
        print("# note: no successful payment reaches the default large amount; --large-amount 1000 covers the rule")

    # Holes: missing values and unsettled payments.
    holes = os.path.join(gen_dir, "transactions_holes.csv")
    write_holes_copy(txns, holes)
    ld_holes = load(holes, ",", joins=[(users, "user_id", "user_id")])
    for label, extra, opts in [("gen holes", [], {}), ("gen holes week", ["--grain", "week"], {"grain": "week"})]:
        rep = run_report(ck, binary, label, holes, *join, *extra)
        if rep is not None:
            exp = analyze(ld_holes, **opts)
            compare_report(ck, label, exp, rep, ids, check_quality=not extra)
            compare_breakdowns(ck, label, exp, rep)

    # Streamed reports (`report --stream`) in small batches, several reads for the percentiles:
    # the catalog's metrics are the same as reading the file whole (joins are not streamed).
    stream = ["--stream", "--batch-rows", "997", "--chunk-bytes", "8192"]
    ld_alone = load(txns, ",")
    ld_holes_alone = load(holes, ",")
    for label, path, loaded, extra, opts in [
        ("gen streamed day", txns, ld_alone, [], {}),
        ("gen streamed week from Sunday", txns, ld_alone, ["--grain", "week", "--week-start", "sunday"],
         {"grain": "week", "week_start": "sunday"}),
        ("gen streamed August", txns, ld_alone, ["--from", "2025-08-01", "--to", "2025-08-31", "--sla-hours", "30"],
         {"date_range": ("2025-08-01", "2025-08-31"), "sla_hours": 30.0}),
        ("gen streamed holes month", holes, ld_holes_alone, ["--grain", "month", "--tz", "+00:00"],
         {"grain": "month", "tz": "+00:00"}),
        ("gen streamed filter channel=online,in_app", txns, ld_alone,
         ["--filter", "channel=online,in_app", "--grain", "week"],
         {"filters": [("channel", ["online", "in_app"])], "grain": "week"}),
        ("gen streamed users joined, filter kyc_level!=1", txns, ld,
         [*join, "--filter", "kyc_level!=1", "--grain", "month"],
         {"filters": [("kyc_level", ["1"], True)], "grain": "month"}),
        # Segments: a fold per group; a joined column of 31 values, ten then "(other)".
        ("gen streamed segment region, filter kyc_level!=1", txns, ld,
         [*join, "--segment", "region", "--filter", "kyc_level!=1", "--grain", "week"],
         {"segment": "region", "filters": [("kyc_level", ["1"], True)], "grain": "week"}),
        ("gen streamed segment funding_source, August", txns, ld_alone,
         ["--segment", "funding_source", "--from", "2025-08-01", "--to", "2025-08-31"],
         {"segment": "funding_source", "date_range": ("2025-08-01", "2025-08-31")}),
    ]:
        rep = run_report(ck, binary, label, path, *stream, *extra)
        if rep is not None:
            exp = analyze(loaded, **opts)
            compare_report(ck, label, exp, rep, ids, check_quality=not extra)
            compare_ranges(ck, label, exp, rep)
            compare_breakdowns(ck, label, exp, rep)
            compare_decline_reasons(ck, label, exp, rep)
            if "segment" in opts:
                compare_segments(ck, label, exp, rep, SEGMENT_METRICS)

    # Same data with synonym column names: auto-mapping must give the same numbers.
    syn = os.path.join(gen_dir, "transactions_synonyms.csv")
    with open(txns, "rb") as f:
        first = f.readline()
        rest = f.read()
    old = first.decode("utf-8").rstrip("\r\n").split(",")
    new = [SYNONYM_RENAME.get(c, c) for c in old]
    eol = "\r\n" if first.endswith(b"\r\n") else "\n"
    with open(syn, "wb") as f:
        f.write((",".join(new) + eol).encode("utf-8"))
        f.write(rest)
    syn_map = {role: SYNONYM_RENAME[role] for role in ROLE_COLUMNS if role in SYNONYM_RENAME}
    exp_syn = compute(syn, ",", mapping=syn_map, joins=[(users, "customer_id", "user_id")])
    bad = [m for m in ids if exp_syn["totals"][m] != base["totals"][m]]
    ck.check("gen synonyms oracle totals = original", not bad, f"differ: {bad}")
    rep = run_report(ck, binary, "gen synonyms", syn, "--join", f"{users}:customer_id=user_id")
    if rep is not None:
        compare_report(ck, "gen synonyms", exp_syn, rep, ids,
                       expect_mapping={"txn_id": "id", "created_at": "timestamp", "user_id": "customer_id",
                                       "merchant_id": "shop", "amount": "payment_value",
                                       "currency": "cur", "status": "state"})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary", nargs="?", default="target/debug/paymetrics")
    ap.add_argument("scratch", nargs="?", default=None)
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--compute", metavar="FILE")
    ap.add_argument("--delim", default=",")
    ap.add_argument("--tz", default=None)
    ap.add_argument("--grain", default="day", choices=["day", "week", "month"])
    ap.add_argument("--week-start", default="monday", choices=["monday", "sunday"])
    ap.add_argument("--from", dest="date_from")
    ap.add_argument("--to", dest="date_to")
    ap.add_argument("--filter", action="append", default=[], help="COL=V1,V2 for --compute")
    ap.add_argument("--segment")
    ap.add_argument("--join", action="append", default=[], help="FILE:COLUMN[=KEY] for --compute")
    ap.add_argument("--map", default="", help="role=column,... for --compute")
    ap.add_argument("--skip-fixtures", action="store_true", help="only check the generated data")
    a = ap.parse_args()

    if a.compute:
        mapping = dict(kv.split("=", 1) for kv in a.map.split(",") if kv)
        delim = "\t" if a.delim in ("\\t", "tab") else a.delim
        joins = []
        for j in a.join:
            file, _, spec = j.rpartition(":")
            on, _, key = spec.partition("=")
            joins.append((file, on, key or on))
        filters = [(c.rstrip("!"), v.split(","), c.endswith("!")) for c, v in (x.split("=", 1) for x in a.filter)]
        rng = (a.date_from, a.date_to) if a.date_from or a.date_to else None
        out = compute(a.compute, delim, a.tz, a.grain, mapping, joins, week_start=a.week_start,
                      date_range=rng, filters=filters, segment=a.segment)
        print(json.dumps(out, indent=2, default=str))
        return 0

    t0 = time.time()
    ck = Checker()
    if a.selftest:
        selftest(ck)
    else:
        binary = os.path.abspath(a.binary)
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            print(f"FAIL binary {binary} exists and is executable")
            print("oracle: 0 passed, 1 failed")
            return 1
        scratch = a.scratch or tempfile.mkdtemp(prefix="paymetrics-oracle-")
        os.makedirs(scratch, exist_ok=True)
        print(f"# binary {binary}; scratch {scratch}")
        if not a.skip_fixtures:
            check_fixtures_with_binary(ck, binary)
        check_generated(ck, binary, scratch)
    print(f"# {time.time() - t0:.1f} s")
    print(f"oracle: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
