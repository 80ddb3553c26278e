"""The trace store's format, measured: Parquet (what tracer/storage/store.py writes) against an indexed SQLite
database of the same step (the alternative issue 13 asked to measure), at two model sizes.

SQLite here is a fair design, not a strawman: one table of scopes (indexed by pos), per view a table of
nodes (indexed by scope and by parameter entry) and a WITHOUT ROWID table of edges keyed by their
result (so a node's operands are one range read), indexed by source; bulk inserts in one transaction,
journal off, indices built after the rows. Both hold both views of the step.

Run: python bench/bench_store.py [--sizes 1x16x16,2x32x16]
"""

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_scale import WORDS  # noqa: E402
from bench.timing import timed  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import load_trace, trace_step  # noqa: E402
from microtrace.tracer.model.scopes import parse  # noqa: E402
from microtrace.tracer.storage.io import save_store  # noqa: E402

_SCHEMA = """
CREATE TABLE scopes (id INTEGER PRIMARY KEY, scope TEXT, pos INTEGER, layer INTEGER, block TEXT, head INTEGER, stage TEXT);
CREATE TABLE {v}_nodes (id INTEGER PRIMARY KEY, op TEXT, data REAL, grad REAL, scope INTEGER, param TEXT, row INTEGER,
    col INTEGER, key INTEGER, unit INTEGER, exponent REAL, new_data REAL, adam_m REAL, adam_v REAL, update_ratio REAL);
CREATE TABLE {v}_edges (dst INTEGER, slot INTEGER, src INTEGER, local_grad REAL, grad_flow REAL, multiplicity INTEGER,
    PRIMARY KEY (dst, slot)) WITHOUT ROWID;
"""
_INDICES = """
CREATE INDEX {v}_nodes_scope ON {v}_nodes(scope);
CREATE INDEX {v}_nodes_param ON {v}_nodes(param, row, col) WHERE param IS NOT NULL;
CREATE INDEX {v}_edges_src ON {v}_edges(src);
"""
_EXTRA = ("param", "row", "col", "key", "unit", "exponent", "new_data", "adam_m", "adam_v", "update_ratio")


def _statements(db, sql):
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def write_sqlite(path, views):
    """Both views of a step as an indexed SQLite database (the measured alternative)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    scope_ids = {}
    for i, (view, gd) in enumerate(views.items()):
        _statements(db, _SCHEMA.format(v=view) if i == 0 else _SCHEMA.format(v=view).split(";", 1)[1])
        remap = []
        for s in gd.scopes:
            if s not in scope_ids:
                a = parse(s)
                scope_ids[s] = len(scope_ids)
                db.execute("INSERT INTO scopes VALUES (?,?,?,?,?,?,?)",
                           (scope_ids[s], s, a.get("pos"), a.get("layer"), a.get("block"), a.get("head"), a.get("stage")))  # fmt: skip
            remap.append(scope_ids[s])

        def rows(gd=gd, remap=remap):
            for n, (o, d, g, s) in enumerate(zip(gd.op, gd.data, gd.grad, gd.scope)):
                x = gd.extra.get(n) or {}
                index = x.get("index") or (None, None)
                x = {**x, "row": index[0], "col": index[1]}
                yield (n, gd.ops[o], d, g, remap[s], *(x.get(k) for k in _EXTRA))

        def edges(gd=gd):
            last, slot = -1, 0
            for e, (u, v, lg, fl) in enumerate(zip(gd.src, gd.dst, gd.local, gd.flow)):
                slot = slot + 1 if v == last else 0
                last = v
                yield v, slot, u, lg, fl, gd.multiplicity.get(e)

        db.executemany(f"INSERT INTO {view}_nodes VALUES ({','.join('?' * 15)})", rows())
        db.executemany(f"INSERT INTO {view}_edges VALUES (?,?,?,?,?,?)", edges())
    for view in views:
        _statements(db, _INDICES.format(v=view))
    db.execute("CREATE INDEX scopes_pos ON scopes(pos)")
    db.execute("COMMIT")
    db.close()


def bench_size(size, folder):
    layers, width, context = map(int, size.split("x"))
    docs = [a + b for a in WORDS for b in WORDS]
    trainer = Trainer(docs, TrainConfig(steps=2, seed=0), n_layer=layers, n_embd=width, n_head=4, block_size=context)
    trace = trace_step(trainer, 0)
    views = {v: trace.data(v) for v in trace.views()}
    nodes = len(views["elementary"])
    parquet, sqlite = folder / "step.parquet", folder / "step.sqlite"
    _, t_parquet = timed(save_store, trace, parquet)
    _, t_sqlite = timed(write_sqlite, sqlite, views)
    _, t_read = timed(lambda: load_trace(parquet).data("elementary"))
    return {
        "elementary nodes": nodes,
        "Parquet: write s": t_parquet,
        "Parquet: bytes/node": parquet.stat().st_size / nodes,
        "Parquet: read the elementary view into columns s": t_read,
        "SQLite: write s (rows, then indices)": t_sqlite,
        "SQLite: bytes/node": sqlite.stat().st_size / nodes,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1x16x16,2x32x16", help="layers x width x context, comma-separated")
    args = parser.parse_args()
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            results = bench_size(size, Path(tmp))
        print(size)
        for k, v in results.items():
            print(f"  {k:<50} {v:,.2f}" if isinstance(v, float) else f"  {k:<50} {v:,}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
