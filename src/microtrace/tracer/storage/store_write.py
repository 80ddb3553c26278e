"""Writing the trace store (tracer/storage/store.py reads it): a view's rows a row group at a time as the nodes
come, with dictionaries that make a store written piece by piece the same bytes as one written whole.
"""

import json
from array import array
from bisect import bisect_left

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from microtrace.tracer.model.columns import NODE_EXTRAS
from microtrace.tracer.model.scopes import parse
from microtrace.tracer.storage.store import (
    _EXTRAS,
    _FLOATS,
    _SCOPE_INTS,
    _SCOPE_TEXT,
    ROW_GROUP,
    STORE_VERSION,
    _buffer,
    _require,
    _schema,
)
from microtrace.util.atomic import atomic_temp


class StoreWriter:
    """Writes a store into the file `tmp`, view by view, a row group at a time as the nodes come."""

    def __init__(self, tmp, row_group=ROW_GROUP):
        _require()
        self.schema = _schema()
        self.writer = pq.ParquetWriter(tmp, self.schema, compression="zstd", write_page_checksum=True)
        self.row_group = row_group
        self.views = {}

    def add_view(self, view, pieces):
        """Write `view` from `pieces`: `GraphData`s of consecutive nodes (`base`: the first one's id), each
        but the last a whole number of row groups, the last with the loss node. A piece is written before
        the next is asked for, so the one who makes them need not keep them (`expand_pieces`)."""
        dictionaries = _Dictionaries()
        nodes = edges = 0
        loss = None
        for gd in pieces:
            if gd.base != nodes or nodes % self.row_group:
                raise ValueError(f"a piece of the {view} view starts at node {gd.base}: it must start a row group")
            n = len(gd)
            starts = _in_offsets(gd.dst, gd.base, n)
            extras = _extra_columns(gd.extra)
            for lo in range(0, n, self.row_group):
                hi = min(n, lo + self.row_group)
                self.writer.write_table(self._rows(view, gd, lo, hi, starts, extras, dictionaries))
            nodes, edges, loss = nodes + n, edges + gd.n_edges(), gd.loss
        self.views[view] = {"nodes": nodes, "edges": edges, "loss_node": loss}

    def _rows(self, view, gd, lo, hi, starts, extras, dictionaries):
        """Rows `lo`..`hi` of the piece `gd` (nodes `gd.base + lo`...) as a table: one row group."""
        size, first = hi - lo, gd.base + lo
        sid = _buffer(gd.scope[lo:hi], pa.uint32())
        cols = {
            "view": pa.DictionaryArray.from_arrays(pa.array([0] * size, pa.int32()), pa.array([view])),
            "id": pa.array(range(first, first + size), pa.uint32()),
            "op": dictionaries.op(gd.ops, _buffer(array("i", gd.op[lo:hi]), pa.int32())),
            "data": _buffer(gd.data[lo:hi], pa.float64()),
            "grad": _buffer(gd.grad[lo:hi], pa.float64()),
        }
        cols.update(dictionaries.scope_columns(gd.scopes, sid))
        for name, (ids, values) in extras.items():
            a, b = bisect_left(ids, first), bisect_left(ids, first + size)
            dense = [None] * size
            for i, v in zip(ids[a:b], values[a:b]):
                dense[i - first] = v
            cols[name] = pa.array(dense, self.schema.field(name).type)
        e0, e1 = starts[lo], starts[hi]
        offsets = pa.array(array("i", (s - e0 for s in starts[lo : hi + 1])), pa.int32())
        cols["operands"] = pa.ListArray.from_arrays(offsets, _buffer(gd.src[e0:e1], pa.uint32()))
        cols["local_grads"] = pa.ListArray.from_arrays(offsets, _buffer(gd.local[e0:e1], pa.float64()))
        cols["grad_flows"] = pa.ListArray.from_arrays(offsets, _buffer(gd.flow[e0:e1], pa.float64()))
        cols["multiplicity"] = pa.array(_multiplicity(gd, lo, hi, starts), self.schema.field("multiplicity").type)
        return pa.table([cols[f.name] for f in self.schema], schema=self.schema)

    def close(self, meta):
        """Write the graph attributes and the footer."""
        info = {**meta, "store": STORE_VERSION, "views": self.views}
        self.writer.add_key_value_metadata({"microtrace": json.dumps(info)})
        self.writer.close()


class _Dictionaries:
    """The dictionaries of one view's row groups. A group's op and scope dictionaries are the ops and
    scopes met up to its last row, in the order met (the order of the tables), and so are the block and
    stage names: a store has the same bytes whether its view was made whole or piece by piece (when a
    piece is written the tables may already hold what later rows use), and a code means the same name
    in every row group."""

    def __init__(self):
        self.ops = self.scopes = 0  # how many entries of each table the rows so far use
        self.parsed = []  # parse() of each scope used so far
        self.first = {k: {} for k in _SCOPE_TEXT}  # block or stage name -> its code, in the order met
        self.names = {}  # key -> (entries, Arrow array): the last dictionary made
        self.per_scope = None  # key -> per scope, its value (or code): made again when scopes are added

    def op(self, table, codes):
        self.ops = max(self.ops, pc.max(codes).as_py() + 1)
        return pa.DictionaryArray.from_arrays(codes, self._names("op", table, self.ops))

    def scope_columns(self, table, sid):
        """The scope column and the columns a scope implies (pos, layer, head, block, stage)."""
        self.scopes = max(self.scopes, pc.max(sid).as_py() + 1)
        if len(self.parsed) < self.scopes:
            for scope in table[len(self.parsed) : self.scopes]:
                attrs = parse(scope)
                self.parsed.append(attrs)
                for k in _SCOPE_TEXT:
                    if k in attrs:
                        self.first[k].setdefault(attrs[k], len(self.first[k]))
            self.per_scope = {k: pa.array([a.get(k) for a in self.parsed], pa.int32()) for k in _SCOPE_INTS}
            for k in _SCOPE_TEXT:
                code = self.first[k]
                self.per_scope[k] = pa.array([code.get(a.get(k)) for a in self.parsed], pa.int32())
        cols = {
            "scope": pa.DictionaryArray.from_arrays(pc.cast(sid, pa.int32()), self._names("scope", table, self.scopes))
        }
        cols.update((k, self.per_scope[k].take(sid)) for k in _SCOPE_INTS)
        cols.update(
            (k, pa.DictionaryArray.from_arrays(self.per_scope[k].take(sid), self._names(k, list(self.first[k]))))
            for k in _SCOPE_TEXT
        )
        return cols

    def _names(self, key, table, m=None):
        """The Arrow array of `table[:m]`, made again only when it has grown."""
        m = len(table) if m is None else m
        entries, arr = self.names.get(key, (-1, None))
        if entries != m:
            arr = pa.array(table[:m], pa.string())
            self.names[key] = (m, arr)
        return arr


def _in_offsets(dst, base, n):
    """starts[i]: the index of node base + i's first in-edge (edges are ordered by their result)."""
    starts = array("q", bytes(8 * (n + 1)))
    for v in dst:
        starts[v - base + 1] += 1
    total = 0
    for i in range(n + 1):
        total += starts[i]
        starts[i] = total
    return starts


def _extra_columns(extra):
    """The rare attributes as sparse columns: name -> (sorted ids, values)."""
    cols = {name: ([], []) for name in _EXTRAS}
    for i in sorted(extra):
        x = extra[i]
        for name in ("param", "key", "unit", *_FLOATS):
            if name in x:
                cols[name][0].append(i)
                cols[name][1].append(x[name])
        if "index" in x:
            for name, v in zip(("row", "col"), x["index"]):
                cols[name][0].append(i)
                cols[name][1].append(v)
        rest = {k: v for k, v in x.items() if k not in NODE_EXTRAS}
        if rest:
            cols["extra"][0].append(i)
            cols["extra"][1].append(json.dumps(rest))
    return cols


def _multiplicity(gd, lo, hi, starts):
    """Per node: null, or the multiplicity of each operand where one enters twice (x * x)."""
    out = [None] * (hi - lo)
    for e, m in gd.multiplicity.items():
        v = gd.dst[e] - gd.base
        if lo <= v < hi:
            if out[v - lo] is None:
                out[v - lo] = [1] * (starts[v + 1] - starts[v])
            out[v - lo][e - starts[v]] = m
    return out


def write_store(path, meta, views, row_group=ROW_GROUP):
    """Write a store of `views` with graph attributes `meta` to `path`, atomically (`util.atomic`): a
    failed or interrupted trace never leaves half a store. `views`: (view, pieces) pairs, taken one at a
    time, `pieces` a view's `GraphData` whole ([gd]) or in pieces of whole row groups as `expand_pieces`
    makes them while it walks a recording: what is written need not be kept. UnsafePath (an OSError)
    for a path that must not be written. Returns {view: {"nodes", "edges", "loss_node"}}."""
    with atomic_temp(path) as tmp:
        writer = StoreWriter(tmp, row_group)
        try:
            for view, pieces in views:
                writer.add_view(view, pieces)
        finally:
            writer.close(meta)
    return writer.views
