#!/usr/bin/env python3
"""DuckDB oracle for Paymetrics.

Recomputes the metrics of docs/report.md with DuckDB SQL written directly from the metric
definitions (never from the Rust code) and compares them with `paymetrics report --json`.

Usage:
    python3 tests/oracle/duckdb_oracle.py [BINARY] [SCRATCH_DIR]
        BINARY       path of the paymetrics binary (default: target/debug/paymetrics)
        SCRATCH_DIR  directory for generated files (default: a fresh temporary directory)

    python3 tests/oracle/duckdb_oracle.py --selftest
        no binary needed: checks the DuckDB half against the hand-computed fixture values in
        tests/oracle/expected_fixtures.json (the same numbers as tests/expected.md).

    python3 tests/oracle/duckdb_oracle.py --compute FILE [--delim D] [--tz +08:00]
                                          [--grain day|week|month] [--map role=column,...]
        no binary needed: prints the oracle's JSON for one file.

Prints one line per check, then exactly `oracle: N passed, M failed`; exits 1 if M > 0.
Anything unexpected (a command failing, output that is not JSON, a field missing, data the oracle
cannot interpret) is a failed check or an exception, never silently ignored.

Only `duckdb` and the Python standard library are used.
"""

import argparse
import collections
import csv
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import duckdb

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "data"))

GEN_ROWS = 20000
GEN_SEED = 20261125
REL_TOL = 1e-9
ABS_TOL = 1e-12  # only used when the expected value is exactly 0

METRICS = ["tpv", "txn_count", "success_rate", "active_payers", "avg_ticket", "refund_rate"]
COUNT_METRICS = {"txn_count", "active_payers"}

# Status vocabulary, from the metric definitions (compared after lower-casing and trimming).
STATUS_VOCAB = {
    "success": ["success", "succeeded", "completed", "paid", "approved", "captured", "settled"],
    "failed": ["failed", "declined", "rejected", "error", "cancelled", "canceled", "voided", "expired"],
    "refunded": ["refunded", "refund", "reversed"],
    "disputed": ["disputed", "dispute", "chargeback"],
    "pending": ["pending", "processing", "created", "initiated", "authorized"],
}

STANDARD_HEADER = ["txn_id", "created_at", "user_id", "merchant_id", "amount", "currency", "status",
                   "channel", "funding_source", "fee", "latency_ms", "settled_at"]

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

# Roles the oracle needs: role -> column name, looked up in the header.
ORACLE_ROLES = ["txn_id", "created_at", "user_id", "amount", "currency", "status"]

TZ_RE = re.compile(r"^([+-])(\d{2}):(\d{2})$")


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


def bucket_range(first, last, grain):
    """All bucket start dates from first to last inclusive (gaps filled)."""
    out = []
    d = first
    while d <= last:
        out.append(d)
        if grain == "day":
            d = d + dt.timedelta(days=1)
        elif grain == "week":
            d = d + dt.timedelta(days=7)
        elif grain == "month":
            d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        else:
            raise ValueError(grain)
    return out


def bucket_label(d, grain):
    return d.strftime("%Y-%m") if grain == "month" else d.isoformat()


# ---------------------------------------------------------------------------------------------
# the oracle computation


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


def compute(path, delim=",", tz=None, grain="day", mapping=None):
    """Compute the report numbers for `path` with DuckDB.

    mapping: role -> column name (defaults to the standard names present in the header).
    tz: reporting tz like '+08:00'; None = most common offset among created_at values, else UTC.
    """
    header, records = read_records(path, delim)
    ncols = len(header)
    if len(set(header)) != ncols:
        raise ValueError(f"{path}: duplicate column names {header}")
    mapping = dict(mapping or {})
    for role in ORACLE_ROLES:
        if role not in mapping and role in header:
            mapping[role] = role
    for role, col in mapping.items():
        if col not in header:
            raise ValueError(f"{path}: mapped column {col!r} for {role} not in header {header}")
    if "created_at" not in mapping:
        raise ValueError(f"{path}: no created_at column; the oracle cannot bucket")

    wrong_fields = [(line, len(f)) for line, f in records if len(f) != ncols]
    good_records = [(line, f) for line, f in records if len(f) == ncols]

    con = duckdb.connect()
    # Pin everything that could change results. Nothing below uses TIMESTAMPTZ for bucketing, so
    # the session TimeZone does not matter; it is set to a zone with DST anyway, so that any
    # accidental use of it would show up as a mismatch rather than pass silently.
    con.execute("SET threads = 1")  # keeps row_number() in file order (verified below)
    con.execute("SET TimeZone = 'America/New_York'")

    columns = {c: "VARCHAR" for c in header}
    con.execute(
        "CREATE TABLE raw AS SELECT row_number() OVER () AS rn, * FROM read_csv($path, "
        "header = true, delim = $delim, quote = '\"', escape = '\"', columns = $columns, "
        "auto_detect = false, ignore_errors = true, strict_mode = true, null_padding = false, "
        "encoding = 'utf-8')",
        {"path": path, "delim": delim, "columns": columns},
    )
    # DuckDB drops exactly the wrong-field-count records (all columns are VARCHAR, so nothing
    # else can fail); check that it kept the same records, in the same order, as Python.
    first_col = ident(header[0])
    duck_first = [r[0] for r in con.execute(f"SELECT {first_col} FROM raw ORDER BY rn").fetchall()]
    py_first = [(f[0] if f[0] != "" else None) for _, f in good_records]
    if duck_first != py_first:
        raise AssertionError(
            f"{path}: DuckDB and Python csv disagree on the records "
            f"({len(duck_first)} vs {len(py_first)} rows)")
    line_of_rn = {i + 1: line for i, (line, _) in enumerate(good_records)}

    def col(role):
        return f"raw.{ident(mapping[role])}" if role in mapping else "NULL"

    iso = r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$"
    num = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
    created = f"trim({col('created_at')})"
    con.execute(f"""
        CREATE TABLE parsed AS
        WITH p AS (
            SELECT rn,
                   {col('created_at')} AS created_raw,
                   {col('amount')} AS amount_raw,
                   {col('user_id')} AS user_raw,
                   {col('status')} AS status_raw,
                   {col('currency')} AS currency_raw,
                   regexp_extract({created}, '{iso}', ['d', 't', 'o']) AS iso,
                   regexp_full_match(coalesce({created}, ''), '\\d{{10}}') AS epoch_s,
                   regexp_full_match(coalesce({created}, ''), '\\d{{13}}') AS epoch_ms
            FROM raw
        )
        SELECT rn, created_raw, amount_raw, user_raw, status_raw, currency_raw,
               CASE
                 WHEN epoch_s THEN TIMESTAMP '1970-01-01' + to_microseconds(CAST(trim(created_raw) AS BIGINT) * 1000000)
                 WHEN epoch_ms THEN TIMESTAMP '1970-01-01' + to_microseconds(CAST(trim(created_raw) AS BIGINT) * 1000)
                 WHEN iso.d <> '' THEN TRY_CAST(iso.d || ' ' || (CASE WHEN iso.t = '' THEN '00:00:00' ELSE iso.t END) AS TIMESTAMP)
               END AS local_ts,
               CASE
                 WHEN epoch_s OR epoch_ms THEN 0
                 WHEN iso.o = 'Z' THEN 0
                 WHEN iso.o <> '' THEN
                   (CASE WHEN left(iso.o, 1) = '-' THEN -1 ELSE 1 END)
                   * (CAST(substr(iso.o, 2, 2) AS INTEGER) * 3600 + CAST(right(iso.o, 2) AS INTEGER) * 60)
               END AS off_s,
               (iso.o <> '' AND NOT epoch_s AND NOT epoch_ms) AS has_offset,
               CASE WHEN amount_raw IS NULL OR trim(amount_raw) = '' THEN NULL
                    WHEN regexp_full_match(trim(amount_raw), '{num}') THEN CAST(trim(amount_raw) AS DOUBLE)
               END AS amount,
               (amount_raw IS NOT NULL AND trim(amount_raw) <> ''
                AND NOT regexp_full_match(trim(amount_raw), '{num}')) AS amount_bad,
               {status_case_sql('status_raw')} AS status
        FROM p
    """)

    # Skip rules, in the order of the definitions: field count, amount, created_at.
    skipped = {"wrong number of fields": [(line, None, f"{n} fields") for line, n in wrong_fields]}
    amount_col = header.index(mapping["amount"]) + 1 if "amount" in mapping else None
    created_col = header.index(mapping["created_at"]) + 1
    bad_amount = con.execute("SELECT rn, amount_raw FROM parsed WHERE amount_bad ORDER BY rn").fetchall()
    skipped["amount is not a number"] = [(line_of_rn[rn], amount_col, v) for rn, v in bad_amount]
    bad_time = con.execute(
        "SELECT rn, created_raw FROM parsed WHERE NOT amount_bad AND local_ts IS NULL ORDER BY rn").fetchall()
    skipped["created_at is empty or unreadable"] = [(line_of_rn[rn], created_col, v) for rn, v in bad_time]
    con.execute("CREATE TABLE loaded AS SELECT * FROM parsed WHERE NOT amount_bad AND local_ts IS NOT NULL")

    rows_read = len(records)
    rows_loaded = con.execute("SELECT count(*) FROM loaded").fetchone()[0]
    rows_skipped = sum(len(v) for v in skipped.values())
    if rows_loaded + rows_skipped != rows_read:
        raise AssertionError(f"{path}: {rows_loaded} + {rows_skipped} != {rows_read}")

    # Default reporting tz: the most common offset among created_at values, else UTC.
    offsets = con.execute(
        "SELECT off_s, count(*) AS n FROM loaded WHERE has_offset GROUP BY off_s ORDER BY n DESC, off_s"
    ).fetchall()
    tz_note = None
    if tz is None:
        if offsets:
            if len(offsets) > 1 and offsets[0][1] == offsets[1][1]:
                tz_note = f"tie between offsets {offsets[0][0]} and {offsets[1][0]}"
            tz = tz_string(offsets[0][0])
        else:
            tz = "+00:00"
    tzs = tz_seconds(tz)

    # Wall-clock time in the reporting tz: absolute instants are shifted (pure arithmetic on a
    # naive TIMESTAMP: local - own offset + reporting offset); naive values are taken as is.
    con.execute(f"""
        CREATE TABLE local AS
        SELECT *, CAST(CASE WHEN off_s IS NULL THEN local_ts
                            ELSE local_ts - to_seconds(off_s) + to_seconds({tzs}) END AS DATE) AS day
        FROM loaded
    """)
    if grain == "day":
        bucket_expr = "day"
    elif grain == "week":
        bucket_expr = "day - CAST(isodow(day) - 1 AS INTEGER)"  # Monday of the ISO week
    elif grain == "month":
        bucket_expr = "make_date(year(day), month(day), 1)"
    else:
        raise ValueError(grain)

    have_amount = "amount" in mapping
    have_status = "status" in mapping
    have_user = "user_id" in mapping

    agg = f"""
        count(*) AS txn_count,
        count(*) FILTER (WHERE status = 'success') AS n_success,
        count(*) FILTER (WHERE status = 'refunded') AS n_refunded,
        count(amount) FILTER (WHERE status = 'success') AS n_success_with_amount,
        coalesce(fsum(amount) FILTER (WHERE status = 'success'), 0.0) AS tpv,
        count(DISTINCT user_raw) FILTER (WHERE status = 'success' AND user_raw IS NOT NULL
                                         AND trim(user_raw) <> '') AS active_payers
    """

    def finish(r):
        txn, n_success, n_refunded, n_success_with_amount, tpv, payers = r
        out = {"txn_count": txn}
        out["tpv"] = tpv if (have_amount and have_status) else None
        out["success_rate"] = (n_success / txn if txn else None) if have_status else None
        out["active_payers"] = payers if (have_user and have_status) else None
        # avg_ticket is AVG(amount) over successes: a success with no amount is not in the divisor.
        out["avg_ticket"] = (tpv / n_success_with_amount if n_success_with_amount else None) if (have_amount and have_status) else None
        out["refund_rate"] = (n_refunded / txn if txn else None) if have_status else None
        return out

    totals = finish(con.execute(f"SELECT {agg} FROM local").fetchone())
    rows = con.execute(f"SELECT {bucket_expr} AS b, {agg} FROM local GROUP BY b ORDER BY b").fetchall()
    by_bucket = {r[0]: finish(r[1:]) for r in rows}
    series = []
    if by_bucket:
        for b in bucket_range(min(by_bucket), max(by_bucket), grain):
            m = by_bucket.get(b) or finish((0, 0, 0, 0, 0.0, 0))
            series.append({"bucket": bucket_label(b, grain),
                           "start": f"{b.isoformat()}T00:00:00{tz}", **m})

    statuses = [
        {"raw": raw, "status": st, "count": n}
        for raw, st, n in con.execute(
            "SELECT status_raw, status, count(*) FROM loaded GROUP BY ALL ORDER BY status_raw NULLS LAST"
        ).fetchall()
    ] if have_status else []
    currencies = sorted(r[0] for r in con.execute(
        "SELECT DISTINCT currency_raw FROM loaded WHERE currency_raw IS NOT NULL").fetchall()) \
        if "currency" in mapping else []

    # Independent cross-check of the offset arithmetic with DuckDB's own TIMESTAMPTZ parser, under
    # two different session time zones: epoch seconds must not depend on the session setting.
    for session_tz in ("UTC", "Asia/Kolkata"):
        con.execute(f"SET TimeZone = '{session_tz}'")
        bad = con.execute("""
            SELECT count(*) FROM loaded
            WHERE has_offset
              AND epoch(CAST(replace(trim(created_raw), ' ', 'T') AS TIMESTAMPTZ))
                  <> epoch(local_ts) - off_s
        """).fetchone()[0]
        if bad:
            raise AssertionError(f"{path}: {bad} rows where offset arithmetic disagrees with "
                                 f"TIMESTAMPTZ under TimeZone={session_tz}")
    con.close()

    return {
        "file": os.path.basename(path),
        "tz": tz,
        "tz_note": tz_note,
        "grain": grain,
        "totals": totals,
        "series": series,
        "statuses": statuses,
        "currencies": currencies,
        "columns": header,
        "quality": {
            "delimiter": delim,
            "rows_read": rows_read,
            "rows_loaded": rows_loaded,
            "rows_skipped": rows_skipped,
            "skipped": {k: [{"line": l, "column": c, "value": v} for l, c, v in vals]
                        for k, vals in skipped.items() if vals},
        },
    }


# ---------------------------------------------------------------------------------------------
# checking


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        detail = " | ".join(str(detail).strip().splitlines())  # one line per check
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f": {detail}" if detail else ""))
        else:
            self.failed += 1
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


def compare_report(ck, label, exp, rep, check_quality=True, expect_mapping=None):
    """Compare an oracle result `exp` with a parsed report JSON `rep`."""
    if not ck.check(f"{label} report is a JSON object", isinstance(rep, dict), type(rep).__name__):
        return
    ck.check(f"{label} tz", rep.get("tz") == exp["tz"], f"expected {exp['tz']!r}, got {rep.get('tz')!r}"
             + (f" (oracle note: {exp['tz_note']})" if exp.get("tz_note") else ""))
    ck.check(f"{label} grain", rep.get("grain") == exp["grain"],
             f"expected {exp['grain']!r}, got {rep.get('grain')!r}")

    totals = rep.get("totals")
    if not isinstance(totals, dict):
        ck.check(f"{label} totals present", False, f"got {totals!r}")
        totals = {}
    for m in METRICS:
        e = exp["totals"][m]
        ok = m in totals and same_number(e, totals.get(m), m in COUNT_METRICS)
        ck.check(f"{label} totals.{m}", ok, f"expected {e!r}, got {totals.get(m, '<missing>')!r}")

    metrics = rep.get("metrics")
    if isinstance(metrics, list):
        by_id = {m.get("id"): m for m in metrics if isinstance(m, dict)}
        bad = []
        for m in METRICS:
            entry = by_id.get(m)
            if entry is None:
                bad.append(f"{m} missing")
                continue
            if not same_number(exp["totals"][m], entry.get("value"), m in COUNT_METRICS):
                bad.append(f"{m}.value={entry.get('value')!r} (expected {exp['totals'][m]!r})")
            needs = entry.get("needs")
            if not isinstance(needs, list) or (len(needs) == 0) != (exp["totals"][m] is not None):
                bad.append(f"{m}.needs={needs!r} with value {entry.get('value')!r}")
        ck.check(f"{label} metrics[] agree with totals", not bad, "; ".join(bad[:6]))
    else:
        ck.check(f"{label} metrics[] present", False, f"got {metrics!r}")

    # Counts are integers in the contract (`"txn_count": 42`), not 42.0.
    floats = []
    for m in COUNT_METRICS:
        if isinstance(totals.get(m), float):
            floats.append(f"totals.{m}={totals[m]!r}")
        for entry in rep.get("metrics") or []:
            if isinstance(entry, dict) and entry.get("id") == m and isinstance(entry.get("value"), float):
                floats.append(f"metrics[{m}].value={entry['value']!r}")
        for b in rep.get("series") or []:
            if isinstance(b, dict) and isinstance(b.get(m), float):
                floats.append(f"series[{b.get('bucket')}].{m}={b[m]!r}")
    q0 = rep.get("quality") if isinstance(rep.get("quality"), dict) else {}
    for k in ("rows_read", "rows_loaded", "rows_skipped"):
        if isinstance(q0.get(k), float):
            floats.append(f"quality.{k}={q0[k]!r}")
    ck.check(f"{label} counts are JSON integers", not floats,
             f"{len(floats)} float counts, e.g. {floats[:3]}" if floats else "")

    series = rep.get("series")
    if not isinstance(series, list):
        ck.check(f"{label} series present", False, f"got {type(series).__name__}")
        series = []
    exp_buckets = [s["bucket"] for s in exp["series"]]
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
           for s in exp["series"] if got_by_bucket.get(s["bucket"], {}).get("start") != s["start"]]
    ck.check(f"{label} series start", not bad, f"{len(bad)} wrong, e.g. {bad[:3]}" if bad else "")
    for m in METRICS:
        bad = []
        for s in exp["series"]:
            g = got_by_bucket.get(s["bucket"])
            if g is None:
                continue  # already reported by "series buckets"
            if m not in g or not same_number(s[m], g.get(m), m in COUNT_METRICS):
                bad.append(f"{s['bucket']}: expected {s[m]!r}, got {g.get(m, '<missing>')!r}")
        ck.check(f"{label} series.{m}", not bad,
                 f"{len(bad)} of {len(exp['series'])} buckets wrong, e.g. {bad[:3]}" if bad
                 else f"{len(exp['series'])} buckets")

    if check_quality:
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

    if expect_mapping:
        got_map = {m.get("role"): m.get("column") for m in rep.get("mapping") or [] if isinstance(m, dict)}
        bad = [f"{role}: expected {c!r}, got {got_map.get(role)!r}"
               for role, c in expect_mapping.items() if got_map.get(role) != c]
        ck.check(f"{label} mapping", not bad, "; ".join(bad) or ", ".join(f"{r}<-{c}" for r, c in expect_mapping.items()))


def run_report(ck, binary, label, path, *extra):
    cmd = [binary, "report", path, *extra, "--json"]
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    if not ck.check(f"{label} exit status", p.returncode == 0,
                    f"`{' '.join(cmd)}` -> {p.returncode}; stderr: {p.stderr.decode(errors='replace')[:400]}"):
        return None
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        ck.check(f"{label} stdout is JSON", False, f"{e}; stdout starts {p.stdout[:200]!r}")
        return None


# ---------------------------------------------------------------------------------------------
# fixtures: (file, delimiter, mapping for the oracle, expected mapping in the report, extra runs)

FIXTURES = [
    ("basic.csv", ",", {}, None, [("--tz", "+00:00")]),
    ("synonyms.csv", ";", {"txn_id": "order_ref", "created_at": "timestamp", "user_id": "customer_id",
                           "amount": "payment_value", "status": "state"},
     {"txn_id": "order_ref", "created_at": "timestamp", "user_id": "customer_id",
      "merchant_id": "shop", "amount": "payment_value", "status": "state"}, []),
    ("tabs.tsv", "\t", {}, None, []),
    ("pipes.csv", "|", {}, None, []),
    ("epoch.csv", ",", {}, None, [("--tz", "+08:00")]),
    ("epoch_s.csv", ",", {}, None, [("--tz", "+08:00")]),
    ("dates_only.csv", ",", {}, None, [("--grain", "month")]),
    ("bad_rows.csv", ",", {}, None, []),
    ("missing_user.csv", ",", {"txn_id": "id", "created_at": "date", "amount": "value"},
     {"txn_id": "id", "created_at": "date", "amount": "value", "status": "status", "user_id": None}, []),
    ("unknown_status.csv", ",", {}, None, []),
]
ERROR_FIXTURES = ["empty.csv", "header_only.csv", "not_csv.csv"]


def opts_of(extra):
    tz, grain = None, "day"
    for i in range(0, len(extra), 2):
        if extra[i] == "--tz":
            tz = extra[i + 1]
        elif extra[i] == "--grain":
            grain = extra[i + 1]
    return tz, grain


def hand_number(v):
    """Hand values: numbers, null, or exact fractions written as "a/b"."""
    if isinstance(v, str):
        a, b = v.split("/")
        return int(a) / int(b)
    return v


def selftest(ck):
    """DuckDB half vs the hand-computed values of tests/expected.md (expected_fixtures.json)."""
    with open(os.path.join(HERE, "expected_fixtures.json")) as f:
        hand = json.load(f)
    for name, delim, mapping, _, runs in FIXTURES:
        for extra in [()] + runs:
            key = " ".join([name, *extra])
            tz, grain = opts_of(extra)
            exp = compute(os.path.join(DATA, name), delim, tz, grain, mapping)
            h = hand.get(key)
            if not ck.check(f"selftest {key} hand values present", h is not None):
                continue
            # The hand values are a subset of a report: compare what they give.
            totals = {m: hand_number(h["totals"][m]) for m in METRICS}
            series = [{"bucket": r[0], "start": r[1],
                       **{m: hand_number(v) for m, v in zip(METRICS, r[2:], strict=True)}}
                      for r in h["series"]]
            fake = {"tz": h["tz"], "grain": grain, "totals": totals,
                    "metrics": [{"id": m, "value": totals[m],
                                 "needs": [] if totals[m] is not None else ["?"]} for m in METRICS],
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
            compare_report(ck, f"selftest {key}", exp, fake, check_quality=q is not None)
    for name in ERROR_FIXTURES:
        try:
            compute(os.path.join(DATA, name))
            ck.check(f"selftest {name} is rejected", False, "oracle read it")
        except (ValueError, UnicodeDecodeError, StopIteration, csv.Error) as e:
            ck.check(f"selftest {name} is rejected", True, f"{type(e).__name__}: {e}")
        except duckdb.Error as e:
            ck.check(f"selftest {name} is rejected", True, f"duckdb: {e}")


def check_fixtures_with_binary(ck, binary):
    for name, delim, mapping, exp_mapping, runs in FIXTURES:
        path = os.path.join(DATA, name)
        for extra in [()] + runs:
            tz, grain = opts_of(extra)
            label = "fixture " + " ".join([name, *extra])
            rep = run_report(ck, binary, label, path, *extra)
            if rep is None:
                continue
            exp = compute(path, delim, tz, grain, mapping)
            compare_report(ck, label, exp, rep, expect_mapping=exp_mapping)
    for name in ERROR_FIXTURES:
        path = os.path.join(DATA, name)
        p = subprocess.run([binary, "report", path, "--json"], capture_output=True, timeout=60)
        err = p.stderr.decode(errors="replace").strip()
        ck.check(f"fixture {name} rejected with status 2 and `error: FILE: message`",
                 p.returncode == 2 and err.startswith("error: ") and name in err and not p.stdout.strip(),
                 f"status {p.returncode}, stderr {err[:200]!r}, stdout {p.stdout[:80]!r}")


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
    if not os.path.isfile(txns):
        return

    header, records = read_records(txns, ",")
    ck.check("gen transactions.csv header", header == STANDARD_HEADER, f"{header}")
    ck.check(f"gen transactions.csv has {GEN_ROWS} rows", len(records) == GEN_ROWS, f"{len(records)} rows")
    # The oracle's own view of the data: it must understand every timestamp and status.
    exp_day = compute(txns, ",", None, "day")
    st = collections.Counter()
    for s in exp_day["statuses"]:
        st[s["status"]] += s["count"]
    ck.check("gen statuses are all in the vocabulary", st.get("unknown", 0) == 0, dict(st))
    ck.check("gen default tz is the most common offset (+08:00 expected)", exp_day["tz"] == "+08:00",
             f"oracle finds {exp_day['tz']}" + (f" ({exp_day['tz_note']})" if exp_day["tz_note"] else ""))

    runs = [
        ("gen day default-tz", (), exp_day),
        ("gen month", ("--grain", "month"), compute(txns, ",", None, "month")),
        ("gen day tz +00:00", ("--tz", "+00:00"), compute(txns, ",", "+00:00", "day")),
        ("gen week", ("--grain", "week"), compute(txns, ",", None, "week")),
    ]
    for label, extra, exp in runs:
        rep = run_report(ck, binary, label, txns, *extra)
        if rep is not None:
            compare_report(ck, label, exp, rep)

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
    syn_map = {role: SYNONYM_RENAME[role] for role in ORACLE_ROLES if role in SYNONYM_RENAME}
    exp_syn = compute(syn, ",", None, "day", syn_map)
    for m in METRICS:
        ck.check(f"gen synonyms oracle totals.{m} = original", exp_syn["totals"][m] == exp_day["totals"][m])
    rep = run_report(ck, binary, "gen synonyms", syn)
    if rep is not None:
        compare_report(ck, "gen synonyms", exp_syn, rep,
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
    ap.add_argument("--map", default="", help="role=column,... for --compute")
    ap.add_argument("--skip-fixtures", action="store_true", help="only check the generated data")
    a = ap.parse_args()

    if a.compute:
        mapping = dict(kv.split("=", 1) for kv in a.map.split(",") if kv)
        delim = "\t" if a.delim in ("\\t", "tab") else a.delim
        print(json.dumps(compute(a.compute, delim, a.tz, a.grain, mapping), indent=2, default=str))
        return 0

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
    print(f"oracle: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
