#!/usr/bin/env python3
"""SQL export check for Paymetrics: runs the DuckDB SQL of `paymetrics sql` and compares it with
`paymetrics report --json` of the same view, value by value.

Usage:
    python3 tests/oracle/sql_check.py [--engine=spark] [BINARY] [SCRATCH_DIR]
        BINARY       path of the paymetrics binary (default: target/debug/paymetrics)
        SCRATCH_DIR  directory for generated files (default: a fresh temporary directory)
        --engine=spark  runs the Spark SQL script with pyspark instead (local, one core; Java
                     needed), over a subset of the views (SPARK_GEN_VIEWS), without fixtures;
                     it prints `spark: N passed, M failed` (`make test-spark`).

How the SQL is run: a fresh DuckDB connection gets a view
    CREATE VIEW transactions AS SELECT * FROM read_csv(FILE, header = true, all_varchar = true,
                                                       delim = D, quote = '"', escape = '"')
(every column as text, as the export assumes is fine), the session time zone is set to a zone
with daylight saving (America/New_York) so that any accidental use of it shows up, and each
statement of the script (after a line `-- paymetrics: <level>`) is executed. Its rows are
compared with the report's `totals` and `series` (and `segments` values' `totals` and `series`
with --segment): same buckets, and every metric the report gives, with the oracle's relative
tolerance (1e-9); a metric the SQL leaves out must be one the report has no value for.

Cases: a small file of wall-clock times at daylight-saving changes (`DST_CSV`), a generated dataset (`paymetrics gen --rows 20000 --seed 20261126`, a seed no other test
uses) under several views (day / week from Monday and Sunday / month, +08:00 and UTC and a named
zone, a date range, filters, segments, thresholds), and the fixtures of tests/data that hold plain
numbers and times.

Prints one line per check, then exactly `sql: N passed, M failed`; exits 1 if M > 0.
Only `duckdb` and the Python standard library are used.
"""

import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duckdb_oracle import punch_holes  # noqa: E402  (the oracle's module, beside this one)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")

GEN_ROWS = 20000
GEN_SEED = 20261126
REL_TOL = 1e-9
ABS_TOL = 1e-9  # only when the expected value is exactly 0

# (label, file relative to the scratch dir or tests/data, delimiter, extra CLI flags)
GEN_VIEWS = [
    ("gen day", []),
    ("gen week", ["--grain", "week"]),
    ("gen week from Sunday", ["--grain", "week", "--week-start", "sunday"]),
    ("gen month", ["--grain", "month"]),
    ("gen day tz +00:00", ["--tz", "+00:00"]),
    ("gen month tz UTC", ["--tz", "UTC", "--grain", "month"]),
    ("gen week tz -05:30", ["--tz=-05:30", "--grain", "week"]),
    ("gen day tz Asia/Shanghai", ["--tz", "Asia/Shanghai"]),
    ("gen month tz America/New_York", ["--tz", "America/New_York", "--grain", "month"]),
    ("gen August", ["--from", "2025-08-01", "--to", "2025-08-31"]),
    ("gen range past the data", ["--from", "2025-09-20", "--to", "2026-01-10", "--grain", "month"]),
    ("gen filter channel", ["--filter", "channel=online,in_app", "--grain", "week"]),
    ("gen filter exclude", ["--filter", "funding_source!=card", "--filter", "channel!=pos"]),
    ("gen segment channel", ["--segment", "channel", "--grain", "week"]),
    ("gen segment merchant_id (other)", ["--segment", "merchant_id", "--grain", "month"]),
    ("gen filter + segment + range", ["--filter", "channel=online,in_app", "--segment", "funding_source",
                                      "--from", "2025-07-15", "--to", "2025-08-20", "--grain", "week"]),
    ("gen thresholds", ["--large-amount", "1000", "--sla-hours", "30", "--grain", "month"]),
    ("gen unmapped user and fee", ["--map", "user_id=", "--map", "fee="]),
    ("gen status override", ["--status", "pending=failed", "--grain", "month"]),
    ("gen without created_at (no series)", ["--map", "created_at=", "--segment", "channel"]),
    ("gen converted into USD", ["--rate", "CNY=0.14", "--currency", "USD", "--grain", "week"]),
]

# Views of the generated file with holes (see `write_holes_copy`).
HOLES_VIEWS = [
    ("holes day", []),
    ("holes week tz UTC", ["--tz", "+00:00", "--grain", "week"]),
    ("holes month Europe/Berlin", ["--tz", "Europe/Berlin", "--grain", "month"]),
    ("holes segment channel (empty values)", ["--segment", "channel", "--grain", "month"]),
    ("holes filter kyc_level", ["--filter", "kyc_level=1,yes,verified", "--grain", "week"]),
    # Mixed currencies: money metrics have no value without rates, and are converted with them.
    ("holes rate USD", ["--rate", "USD=7.1", "--grain", "month"]),
    ("holes rates into USD", ["--rate", "CNY=0.14", "--currency", "USD", "--segment", "channel"]),
    ("holes rate missing for CNY", ["--rate", "USD=7.1", "--currency", "EUR"]),
]

# Fixtures whose numbers and times the SQL reads as the core does (not the locale ones, with
# thousands separators or currency signs).
FIXTURE_CASES = [
    ("basic.csv", ",", []),
    ("basic.csv", ",", ["--tz", "+00:00", "--grain", "week"]),
    ("synonyms.csv", ";", ["--map", "txn_id=order_ref", "--map", "created_at=timestamp",
                           "--map", "user_id=customer_id", "--map", "merchant_id=shop",
                           "--map", "amount=payment_value", "--map", "status=state"]),
    ("tabs.tsv", "\t", []),
    ("pipes.csv", "|", []),
    ("epoch.csv", ",", []),
    ("epoch.csv", ",", ["--tz", "+08:00"]),
    ("epoch_s.csv", ",", ["--tz", "+08:00"]),
    ("dates_only.csv", ",", ["--grain", "month"]),
    ("bad_rows.csv", ",", []),
    ("missing_user.csv", ",", ["--map", "txn_id=id", "--map", "created_at=date", "--map", "amount=value"]),
    ("unknown_status.csv", ",", []),
    ("tz_boundary.csv", ",", []),
    ("tz_boundary.csv", ",", ["--tz", "+00:00"]),
]


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        detail = " | ".join(str(detail).strip().splitlines())
        print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def same_number(expected, got):
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    if isinstance(got, float) and math.isnan(got):
        return False
    if expected == 0:
        return abs(got) <= ABS_TOL
    return math.isclose(got, expected, rel_tol=REL_TOL, abs_tol=0.0)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` -> {p.returncode}: {p.stderr.decode(errors='replace')[:400]}")
    return p.stdout.decode()


def statements(script):
    """{level: SQL} from the script's `-- paymetrics: <level>` sections."""
    out = {}
    parts = re.split(r"^-- paymetrics: (\w+)\n", script, flags=re.M)
    for level, body in zip(parts[1::2], parts[2::2]):
        out[level] = body.strip().rstrip(";")
    return out


class DuckDB:
    dialect = "duckdb"

    def run(self, path, delim, sql, setup=None):
        con = duckdb.connect()
        con.execute("SET threads = 1")
        con.execute("SET TimeZone = 'America/New_York'")
        con.execute(
            "CREATE VIEW transactions AS SELECT * FROM read_csv("
            + ", ".join([
                "'" + path.replace("'", "''") + "'", "header = true", "all_varchar = true",
                "delim = '" + delim.replace("'", "''") + "'", "quote = '\"'", "escape = '\"'",
                "ignore_errors = true", "null_padding = false"])
            + ")")
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]


class Spark:
    """Spark SQL through pyspark (local, one core): a temporary view `transactions` over the CSV
    read as text (no schema inference); the session time zone starts as America/New_York, and
    the script's `setup` statement sets it to UTC."""
    dialect = "spark"

    def __init__(self):
        from pyspark.sql import SparkSession
        self.spark = (SparkSession.builder.master("local[1]").appName("paymetrics-sql-check")
                      .config("spark.ui.enabled", "false")
                      .config("spark.sql.shuffle.partitions", "1")
                      .config("spark.sql.session.timeZone", "America/New_York")
                      .getOrCreate())
        self.spark.sparkContext.setLogLevel("ERROR")
        self.path = None

    def run(self, path, delim, sql, setup=None):
        if self.path != path:
            (self.spark.read.option("header", True).option("inferSchema", False)
             .option("sep", delim).csv(path).createOrReplaceTempView("transactions"))
            self.path = path
        self.spark.sql("SET spark.sql.session.timeZone = America/New_York")
        if setup:
            self.spark.sql(setup)
        return [row.asDict() for row in self.spark.sql(sql).collect()]


ENGINE = DuckDB()


def run_sql(path, delim, sql, setup=None):
    return ENGINE.run(path, delim, sql, setup)


def plain(v):
    """DuckDB values as the report's JSON holds them."""
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if v is None or isinstance(v, (int, float, str)):
        return v
    return float(v)  # Decimal


def mismatches(where, exp, got_row, ids):
    """The metrics of `ids` whose report value (`exp`) the SQL row does not give: a different
    number, or a value the SQL left out."""
    bad = []
    for m in ids:
        e = exp.get(m)
        if m in got_row:
            g = plain(got_row[m])
            if not same_number(e, g):
                bad.append(f"{where}{m}: report {e!r}, sql {g!r}")
        elif e is not None:
            bad.append(f"{where}{m}: report {e!r}, left out of the SQL")
    return bad


def compare_values(ck, label, exp, got_row, ids):
    """Every catalog metric of the report: in the SQL row when the SQL computes it, else it must
    have no value in the report."""
    bad = mismatches("", exp, got_row, ids)
    ck.check(label, not bad, "; ".join(bad[:4]) if bad else f"{len(ids)} metrics")


def compare_series(ck, label, exp_series, rows, ids):
    exp_buckets = [s["bucket"] for s in exp_series]
    got_buckets = [r["bucket"] for r in rows]
    if not ck.check(f"{label} buckets", exp_buckets == got_buckets,
                    f"report {exp_buckets[:3]}..{exp_buckets[-2:]} ({len(exp_buckets)}), "
                    f"sql {got_buckets[:3]}..{got_buckets[-2:]} ({len(got_buckets)})"):
        return
    bad = [b for s, r in zip(exp_series, rows) for b in mismatches(f"{s['bucket']} ", s, r, ids)]
    ck.check(f"{label} values", not bad,
             f"{len(bad)} wrong, e.g. {bad[:4]}" if bad else f"{len(rows)} buckets x {len(ids)} metrics")


def check_view(ck, binary, label, path, delim, extra, ids):
    try:
        rep = json.loads(run([binary, "report", path, *extra, "--json", "--quiet"]))
        script = run([binary, "sql", path, *extra, "--dialect", ENGINE.dialect, "--quiet"])
    except (RuntimeError, ValueError) as e:
        ck.check(f"{label} runs", False, e)
        return
    levels = statements(script)
    want = ["totals"] + (["series"] if rep.get("series") else [])
    if rep.get("segments"):
        want += ["segment_totals"] + (["segment_series"] if rep.get("series") else [])
    if not ck.check(f"{label} levels", all(level in levels for level in want),
                    f"want {want}, script has {list(levels)}"):
        return
    results = {}
    for level in want:
        try:
            results[level] = run_sql(path, delim, levels[level], levels.get("setup"))
        except Exception as e:  # noqa: BLE001 -- any engine error is a failed check
            ck.check(f"{label} {level} runs in {ENGINE.dialect}", False, e)
            return
    totals = results["totals"]
    if ck.check(f"{label} totals: one row", len(totals) == 1, f"{len(totals)} rows"):
        compare_values(ck, f"{label} totals", rep["totals"], totals[0], ids)
        if rep.get("range"):
            got = {"from": plain(totals[0]["range_from"]), "to": plain(totals[0]["range_to"])}
            ck.check(f"{label} range", got == rep["range"], f"report {rep['range']}, sql {got}")
    if "series" in results:
        compare_series(ck, f"{label} series", rep["series"], results["series"], ids)
    if "segment_totals" in results:
        seg = rep["segments"]["values"]
        got_values = [r["segment"] for r in results["segment_totals"]]
        if ck.check(f"{label} segment values", got_values == [s["value"] for s in seg],
                    f"report {[s['value'] for s in seg]}, sql {got_values}"):
            for s, r in zip(seg, results["segment_totals"]):
                compare_values(ck, f"{label} segment[{s['value']}] totals", s["totals"], r, ids)
            if "segment_series" in results:
                for s in seg:
                    rows = [r for r in results["segment_series"] if r["segment"] == s["value"]]
                    compare_series(ck, f"{label} segment[{s['value']}] series", s["series"], rows, ids)


def write_holes_copy(src, dst):
    """The generated file with holes and variety, deterministic by row number: empty cells in
    optional columns, unsettled successes, a KYC column (levels and words), times written as
    epochs or as wall-clock times without offset, some amounts in USD (written usd) or without a
    currency, and rows the core skips (an amount that is not
    a number, a created_at that is not a time)."""
    import csv
    with open(src, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0] + ["kyc_level"], rows[1:]
    c = {name: header.index(name) for name in header}
    kyc = ["0", "1", "2", "yes", "", "no", "verified", "Full", "是"]
    # The oracle's holes first (empty optional cells, unsettled successes), then more variety.
    punch_holes(data, c)
    for i, r in enumerate(data):
        r.append(kyc[i % len(kyc)])
        if i % 61 == 23:
            # A wall-clock time: read in the reporting zone.
            r[c["created_at"]] = r[c["created_at"]][:19].replace("T", " ")
        if i % 67 == 29:
            t = r[c["created_at"]]
            when = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
            if when.tzinfo is not None:
                r[c["created_at"]] = str(int(when.timestamp() * 1000))
        if i % 13 == 3:
            r[c["currency"]] = "usd"
        if i % 131 == 7:
            r[c["currency"]] = ""
        if i == 101:
            r[c["amount"]] = "abc"
        if i == 202:
            r[c["created_at"]] = "not a time"
    with open(dst, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(data)


# Custom metrics (`--metric`), with their values computed here in Python from the definitions of
# the formula language (src/expr.rs), independently of the SQL: (formula, function of the
# period's rows and the report's totals for that period). Rows are dicts of trimmed cells.
def num(cell):
    try:
        return float(cell) if cell != "" else None
    except ValueError:
        return None


def quantile_cont(values, q):
    values = sorted(values)
    if not values:
        return None
    pos = q * (len(values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def divide(a, b):
    return None if a is None or b is None or b == 0 else a / b


CUSTOM = [
    ('app_qr_tpv_per_payer = sum(amount where status = "success" and channel = "app_qr") / count_distinct(user_id)',
     lambda rows, t: divide(sum(num(r["amount"]) or 0.0 for r in rows
                                if r["status"] == "success" and r["channel"] == "app_qr"),
                            len({r["user_id"] for r in rows if r["user_id"] != ""}))),
    ("rows = count()", lambda rows, t: len(rows)),
    ("big = count(amount where amount >= 1000)",
     lambda rows, t: sum(1 for r in rows if (num(r["amount"]) or 0) >= 1000)),
    ('p90_failed_latency = p90(latency_ms where status = "failed")',
     lambda rows, t: quantile_cont([num(r["latency_ms"]) for r in rows
                                    if r["status"] == "failed" and num(r["latency_ms"]) is not None], 0.9)),
    ('app_share = share(amount where channel = "app_qr")',
     lambda rows, t: divide(sum(num(r["amount"]) or 0.0 for r in rows if r["channel"] == "app_qr"),
                            sum(num(r["amount"]) or 0.0 for r in rows))),
    ('avg_card_fee = avg(fee where funding_source in ("credit_card", "debit_card"))',
     lambda rows, t: (lambda v: sum(v) / len(v) if v else None)(
         [num(r["fee"]) for r in rows
          if r["funding_source"] in ("credit_card", "debit_card") and num(r["fee"]) is not None])),
    ("net_per_txn = tpv / count()", lambda rows, t: divide(t["tpv"], len(rows))),
    ("spread = max(amount) - min(amount)",
     lambda rows, t: (lambda v: max(v) - min(v) if v else None)(
         [num(r["amount"]) for r in rows if num(r["amount"]) is not None])),
    ('pos_or_small = count(txn_id where lower(channel) = "pos" or amount < 10)',
     lambda rows, t: sum(1 for r in rows if r["txn_id"] != ""
                         and (r["channel"].lower() == "pos" or (num(r["amount"]) is not None and num(r["amount"]) < 10)))),
    ('failed_rows = count(where status = "failed")',
     lambda rows, t: sum(1 for r in rows if r["status"] == "failed")),
    ('qr_row_share = share(where channel = "app_qr")',
     lambda rows, t: divide(sum(1 for r in rows if r["channel"] == "app_qr"), len(rows))),
    ("median_amount = median(amount)",
     lambda rows, t: quantile_cont([num(r["amount"]) for r in rows if num(r["amount"]) is not None], 0.5)),
    ("big_merchants = count_distinct(merchant_id where abs(-amount) > 100)",
     lambda rows, t: len({r["merchant_id"] for r in rows
                          if r["merchant_id"] != "" and (num(r["amount"]) or 0) > 100})),
]


def check_custom(ck, binary, txns):
    """Custom metrics over the generated file (every row loads): totals in the default view,
    per month in UTC, and per channel segment. Four ways: the Python values, the DuckDB SQL, the
    core's report (`report --metric`) and its streamed report (`--stream`, in batches of 997 rows
    with the percentiles found over several reads) must all agree."""
    import csv
    with open(txns, newline="") as f:
        rows = [{k: v.strip() for k, v in r.items()} for r in csv.DictReader(f)]
    flags = [a for formula, _ in CUSTOM for a in ("--metric", formula)]
    names = [formula.split("=", 1)[0].strip() for formula, _ in CUSTOM]

    def month_utc(r):
        return dt.datetime.fromisoformat(r["created_at"]).astimezone(dt.timezone.utc).strftime("%Y-%m")

    for label, extra, part_of in [
        ("custom totals", [], lambda rep: [("totals", rows, rep["totals"])]),
        ("custom month UTC", ["--tz", "+00:00", "--grain", "month"],
         lambda rep: [(s["bucket"], [r for r in rows if month_utc(r) == s["bucket"]], s) for s in rep["series"]]),
        ("custom segment channel", ["--segment", "channel"],
         lambda rep: [(v["value"], [r for r in rows if r["channel"] == v["value"]], v["totals"])
                      for v in rep["segments"]["values"]]),
    ]:
        try:
            rep = json.loads(run([binary, "report", txns, *extra, *flags, "--json", "--quiet"]))
            stream = ["--stream", "--batch-rows", "997", "--chunk-bytes", "8192"]
            streamed = json.loads(run([binary, "report", txns, *stream, *extra, *flags, "--json", "--quiet"]))
            script = run([binary, "sql", txns, *extra, *flags, "--dialect", ENGINE.dialect, "--quiet"])
        except (RuntimeError, ValueError) as e:
            ck.check(f"{label} runs", False, e)
            continue
        ck.check(f"{label}: every custom metric exported", "-- Left out: custom" not in script,
                 [line for line in script.splitlines() if line.startswith("-- Left out: custom")])
        levels = statements(script)
        level = {"custom totals": "totals", "custom month UTC": "series",
                 "custom segment channel": "segment_totals"}[label]
        got_rows = run_sql(txns, ",", levels[level], levels.get("setup"))
        parts = part_of(rep)
        streamed_parts = part_of(streamed)
        if not ck.check(f"{label}: rows", len(got_rows) == len(parts) == len(streamed_parts),
                        f"{len(got_rows)} vs {len(parts)} vs {len(streamed_parts)} streamed"):
            continue
        for (key, part, totals), (_, _, streamed_totals), got in zip(parts, streamed_parts, got_rows):
            bad = []
            for (formula, expected_of), name in zip(CUSTOM, names):
                e, g = expected_of(part, totals), plain(got.get(name))
                core = totals.get(name, "missing")
                core_streamed = streamed_totals.get(name, "missing")
                if not same_number(e, g):
                    bad.append(f"{name}: python {e!r}, sql {g!r}")
                if not same_number(e, core):
                    bad.append(f"{name}: python {e!r}, core {core!r}")
                if not same_number(e, core_streamed):
                    bad.append(f"{name}: python {e!r}, core streamed {core_streamed!r}")
            ck.check(f"{label} [{key}]", not bad,
                     "; ".join(bad[:4]) if bad else f"{len(CUSTOM)} custom metrics (python = sql = core = streamed)")


# Wall-clock times that daylight-saving changes skip or repeat (Europe/Berlin on 2025-03-30 and
# 2025-10-26, America/New_York on 2025-03-09 and 2025-11-02): the core reads them with the offset
# in force before the change, or the only one that gives the time back.
DST_CSV = """txn_id,created_at,user_id,amount,status,settled_at
1,2025-03-29 23:30:00,u1,10,success,2025-03-30 02:30:00
2,2025-03-30 02:30:00,u2,20,success,2025-03-30 03:30:00
3,2025-03-30 03:30:00,u1,30,success,2025-03-31 03:30:00
4,2025-10-26 02:30:00,u3,40,success,2025-10-26 03:30:00
5,2025-10-26 01:59:00,u2,50,failed,
6,2025-10-25 23:59:59,u4,60,success,2025-10-26 02:15:00
7,2025-03-09 01:30:00,u5,70,success,2025-03-09 02:30:00
8,2025-03-09 02:30:00,u5,80,success,2025-03-09 03:30:00
9,2025-11-02 01:30:00,u6,90,success,2025-11-02 02:30:00
10,2025-11-01 23:30:00,u6,100,success,2025-11-02 01:15:00
"""
DST_VIEWS = [
    ("dst Europe/Berlin", ["--tz", "Europe/Berlin", "--grain", "month"]),
    ("dst America/New_York", ["--tz", "America/New_York"]),
]


def catalog_ids(binary):
    text = run([binary, "metrics"])
    return re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M)


# The views Spark runs (`make test-spark`): Spark takes ~20 s a statement on one core, so fewer.
SPARK_GEN_VIEWS = ["gen day", "gen week from Sunday", "gen month tz America/New_York",
                   "gen filter + segment + range"]
SPARK_HOLES_VIEWS = ["holes week tz UTC"]


def main(argv):
    global ENGINE
    args = [a for a in argv[1:] if not a.startswith("--engine")]
    spark = any(a == "--engine=spark" for a in argv[1:])
    if spark:
        ENGINE = Spark()
    binary = args[0] if args else os.path.join(ROOT, "target", "debug", "paymetrics")
    scratch = args[1] if len(args) > 1 else tempfile.mkdtemp(prefix="paymetrics-sql-")
    ck = Checker()
    ids = catalog_ids(binary)
    ck.check("catalog ids", len(ids) > 30, f"{len(ids)} ids")
    gen_dir = os.path.join(scratch, "gen")
    os.makedirs(gen_dir, exist_ok=True)
    txns = os.path.join(gen_dir, "transactions.csv")
    run([binary, "gen", "--rows", str(GEN_ROWS), "--seed", str(GEN_SEED), "--out", gen_dir])
    for label, extra in GEN_VIEWS:
        if not spark or label in SPARK_GEN_VIEWS:
            check_view(ck, binary, label, txns, ",", extra, ids)
    check_custom(ck, binary, txns)
    holes = os.path.join(gen_dir, "transactions_holes.csv")
    write_holes_copy(txns, holes)
    for label, extra in HOLES_VIEWS:
        if not spark or label in SPARK_HOLES_VIEWS:
            check_view(ck, binary, label, holes, ",", extra, ids)
    if not spark:
        dst = os.path.join(gen_dir, "dst.csv")
        with open(dst, "w") as f:
            f.write(DST_CSV)
        for label, extra in DST_VIEWS:
            check_view(ck, binary, label, dst, ",", extra, ids)
        for name, delim, extra in FIXTURE_CASES:
            label = " ".join(["fixture", name, *extra])
            check_view(ck, binary, label, os.path.join(DATA, name), delim, extra, ids)
    print(f"{'spark' if spark else 'sql'}: {ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
