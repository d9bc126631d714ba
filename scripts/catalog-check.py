#!/usr/bin/env python3
"""Reads a Parquet catalog written by `pv2 export` with pyarrow and checks it against the
SQLite databases it came from, independently of the Rust code: every dataset's rows (as a
multiset: nothing lost, nothing added, every value equal — floats bit for bit, dates as
dates, vectors as their f32 values), and every row's market/year partition against its
own date. Prints {"dataset": rows, ...} as JSON; exits 1 on the first difference.

Usage: catalog-check.py CATALOG_DIR HISTORICAL_DB RUNTIME_DB
"""
import datetime
import json
import os
import sqlite3
import struct
import sys

import pyarrow as pa
import pyarrow.parquet as pq

TABLES = {
    "prices": ("h", "prices_daily"),
    "returns": ("h", "returns_daily"),
    "volatility": ("h", "volatility_daily"),
    "factors": ("h", "factors_daily"),
    "numeric_embeddings": ("h", "numeric_window_embeddings"),
    "joint_embeddings": ("h", "joint_embeddings"),
    "profiles": ("r", "profiles"),
    "regimes": ("r", "regimes"),
    "stability": ("r", "stability_vectors"),
    "soft_targets": ("r", "soft_target_classes"),
    "fragility": ("r", "fragility_measures"),
    "scores": ("r", "instrument_scores"),
    "universe": ("r", "universe_members"),
    "targets": ("r", "target_portfolios"),
    "risk_reports": ("r", "portfolio_risk_reports"),
    "backtest_runs": ("r", "backtest_runs"),
    "backtest_daily": ("r", "backtest_daily"),
    "backtest_trades": ("r", "backtest_trades"),
}
# The date each dataset is partitioned by (the year directory must be its year).
PARTITION_DATE = {"backtest_runs": "to_date"}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def db_value(field, v):
    if v is None:
        return None
    t = field.type
    if pa.types.is_date32(t):
        return datetime.date.fromisoformat(v)
    if pa.types.is_list(t):
        return list(struct.unpack("<%df" % (len(v) // 4), v))
    if pa.types.is_boolean(t):
        return bool(v)
    if pa.types.is_floating(t):
        return float(v)
    return v


def key(row):
    return repr(row)


def main():
    catalog, hist, runtime = sys.argv[1:4]
    dbs = {"h": sqlite3.connect(hist), "r": sqlite3.connect(runtime)}
    with open(os.path.join(catalog, "manifest.json")) as f:
        manifest = json.load(f)
    counts = {}
    for name, entry in sorted(manifest["datasets"].items()):
        db, table = TABLES[name]
        rows = []
        schema = None
        for p in entry["partitions"]:
            path = os.path.join(catalog, p["path"])
            t = pq.read_table(path, partitioning=None)
            schema = t.schema if schema is None else schema
            if t.num_rows != p["rows"]:
                fail(f"{path}: {t.num_rows} rows, the manifest says {p['rows']}")
            date_col = PARTITION_DATE.get(name) or next(
                c for c in t.schema.names if c in ("trade_date", "as_of_date")
            )
            for r in t.to_pylist():
                if r[date_col].year != p["year"]:
                    fail(f"{path}: a row dated {r[date_col]} in year={p['year']}")
                rows.append(tuple(r[c] for c in t.schema.names))
        (total,) = dbs[db].execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        if schema is None:
            if total:
                fail(f"{name}: no partitions, {total} rows in {table}")
            counts[name] = 0
            continue
        cols = ", ".join(schema.names)
        expected = [
            tuple(db_value(f, v) for f, v in zip(schema, r))
            for r in dbs[db].execute(f"SELECT {cols} FROM {table}")
        ]
        got = sorted(rows, key=key)
        expected.sort(key=key)
        if len(got) != len(expected):
            fail(f"{name}: {len(got)} rows in the catalog, {len(expected)} in {table}")
        for g, e in zip(got, expected):
            if g != e:
                fail(f"{name}: catalog row {g!r} != database row {e!r}")
        counts[name] = len(got)
    print(json.dumps(counts, sort_keys=True))


main()
