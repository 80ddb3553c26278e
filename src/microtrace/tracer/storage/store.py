"""The trace store: one step's graph as a single Parquet file (docs/trace-format.md).

Parquet, read through pyarrow, because it is the columnar format other tools already read (pandas,
polars, DuckDB, Spark) and because it measured 3-4x smaller and over 10x faster to write than an
indexed SQLite database of the same graph (bench/bench_store.py; figures in the README).

One row per node, with its operands as lists (micrograd's `_children` and `_local_grads`, plus the
gradient that flowed back along each), both views in one file:

    view, id, op, data, grad, scope, pos, layer, block, head, stage,
    param, row, col, key, unit, exponent, new_data, adam_m, adam_v, update_ratio, extra,
    operands, local_grads, grad_flows, multiplicity

The graph attributes (step, doc, tokens, config, param_stats...) and per view its node and edge
counts and loss node are JSON in the file's key-value metadata under `microtrace`. Rows of one view are
contiguous, in row groups of their own, in id order. Pages carry CRC checksums, checked on reading.

This module reads a store (`Store`, and `StoreData`, a view read lazily); `store_write` writes one.
"""

import os
from array import array
from bisect import bisect_right
from contextlib import contextmanager
from pathlib import Path

from microtrace.engine.model import is_whole
from microtrace.tracer.model import schema
from microtrace.tracer.model.columns import GraphData, node_attrs
from microtrace.tracer.model.trace import FORMAT, TraceError
from microtrace.tracer.storage.validate import VIEWS, NodeRules, shown, validate_graph
from microtrace.util.limits import FILE_ENV, LimitError, max_file_bytes, parse_json

# pyarrow, its compute functions and its Parquet module: imported when a store is first read or written
# (`_require`), not with this module. It is an optional dependency, and importing it costs about 0.3 CPU-s:
# a JSON trace, the command line and a traced script's child process never pay for it.
pa = pc = pq = None

MAGIC = b"PAR1"
STORE_VERSION = 1
ROW_GROUP = 65_536  # nodes per row group: a reader of one view skips the other's groups
# The columns, their types and which are sparse come from the schema (tracer/model/schema.py).
_COLUMNS = schema.store_columns()
_SCOPE_INTS = tuple(n for n, t, _ in _COLUMNS if n in schema.SCOPE_IMPLIED and t == "int32")  # pos, layer, head
_SCOPE_TEXT = tuple(n for n, t, _ in _COLUMNS if n in schema.SCOPE_IMPLIED and t == "text")  # block, stage
_DENSE = ("view", "id", *(f.name for f in schema.NODES if f.required), *_SCOPE_INTS, *_SCOPE_TEXT, *schema.EDGE_LISTS)
_EXTRAS = tuple(n for n, _, _ in _COLUMNS if n not in _DENSE)  # the sparse columns: param, row, ... extra
_INTS = tuple(n for n, t, _ in _COLUMNS if n in schema.SCOPE_IMPLIED and t == "int32")  # pos, layer, head
_SCOPE_TEXT = tuple(n for n, t, _ in _COLUMNS if n in schema.SCOPE_IMPLIED and t == "text")  # block, stage
_EXTRAS = tuple(n for n, _, _ in _COLUMNS[_COLUMNS.index(next(c for c in _COLUMNS if c[0] == _SCOPE_TEXT[-1])) + 1 :]
                if n not in schema.EDGE_LISTS)  # the sparse columns: param ... extra  # fmt: skip
_INTS = tuple(n for n, t, _ in _COLUMNS if n in _EXTRAS and t == "int32")
_FLOATS = tuple(n for n, t, _ in _COLUMNS if n in _EXTRAS and t == "double")
NODE_COLUMNS = ["op", "data", "grad", "scope", *_EXTRAS]  # what a node's attributes are made of
# What the `extra` column may not hold: the attributes with a column of their own (a parameter's `index`
# is two), which a cell would silently override.
_OWN_COLUMN = frozenset(
    ("id", "index", *(f.name for f in schema.NODES if f.column and f.name not in schema.SCOPE_IMPLIED))
)


def _require():
    """Import pyarrow (once), or say how to install it."""
    global pa, pc, pq
    if pq is not None:
        return
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:  # not installed: JSON trace files work without it
        install = "pip install 'microtrace[store]' (or write a .json trace)"
        raise TraceError(f"trace stores need pyarrow: {install}") from None
    pa, pc, pq = pyarrow, pyarrow.compute, pyarrow.parquet


def _arrow(kind):
    """The Arrow type of a schema column type (`text`: a dictionary-encoded string)."""
    if kind.startswith("list<"):
        return pa.list_(_arrow(kind[5:-1]))
    if kind == "text":
        return pa.dictionary(pa.int32(), pa.string())
    return {"string": pa.string(), "double": pa.float64(), "int32": pa.int32(), "uint32": pa.uint32(),
            "uint8": pa.uint8()}[kind]  # fmt: skip


def _schema():
    _require()
    return pa.schema([(name, _arrow(kind)) for name, kind, _ in _COLUMNS])


def _buffer(arr, typ):
    """An Arrow array over the bytes of a Python `array` (no per-element conversion)."""
    return pa.Array.from_buffers(typ, len(arr), [None, pa.py_buffer(arr)])


def is_store(path):
    """True when `path` begins like a Parquet file (the content decides, not the extension). Only a
    regular file is looked into: opening a FIFO would wait for a writer (load_trace refuses the rest)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


class Store:
    """An open store, validated before anything trusts it: its size against MICROTRACE_MAX_FILE_MB, its
    metadata (JSON under the nesting bound, each field of its type), its schema and versions, and the
    row counts the metadata and the footer claim, against each other and against the bytes the file
    holds. Views are read when asked, and each column is checked as it is read (`StoreData`)."""

    def __init__(self, path):
        _require()
        self.path = Path(path)
        limit = max_file_bytes()
        try:
            size = self.path.stat().st_size
            if size > limit:
                raise TraceError(str(LimitError(f"{self.path} is {size / 2**20:.0f} MB, above the limit of "
                                                f"{limit / 2**20:g} MB", limit, FILE_ENV)))  # fmt: skip
            self.file = pq.ParquetFile(self.path, page_checksum_verification=True)
            raw = (self.file.metadata.metadata or {}).get(b"microtrace")
            meta = parse_json(raw) if raw else {}
        except RecursionError:
            raise TraceError(f"{self.path}: corrupt trace store (its metadata is nested too deeply)") from None
        except (OSError, pa.ArrowException, ValueError) as e:
            raise TraceError(f"{self.path}: not a readable trace store ({_one_line(e)})") from None
        if not isinstance(meta, dict) or meta.get("store") != STORE_VERSION or "format" not in meta:
            raise TraceError(
                f"{self.path}: not a microtrace trace store (no microtrace metadata of store version {STORE_VERSION})"
            )
        if meta["format"] != FORMAT:
            raise TraceError(f"{self.path}: trace format {meta['format']!r}, this microtrace reads format {FORMAT}")
        if not self.file.schema_arrow.remove_metadata().equals(_schema()):
            raise TraceError(
                f"{self.path}: corrupt trace store (its columns are not those of store version {STORE_VERSION})"
            )
        self.views = meta.pop("views", None)
        self.meta = {k: v for k, v in meta.items() if k != "store"}
        self._check_views(size)
        self.groups = self._row_groups()
        for view, info in self.views.items():
            try:
                validate_graph({**self.meta, "view": view, "loss_node": info["loss_node"]}, info["nodes"])
            except TraceError as e:
                raise TraceError(f"{self.path}: {e}") from None
        self.rules = NodeRules(self.meta)

    def _check_views(self, size):
        """The metadata's `views`: {view: {"nodes", "edges", "loss_node"}}, whole numbers no larger than the
        file can hold (every node and every edge takes at least a byte of it: the writer's take ~45 a node)."""
        views = self.views
        if not (isinstance(views, dict) and views and set(views) <= set(VIEWS)):
            raise TraceError(f"{self.path}: corrupt trace store (its metadata's views are {shown(views)})")
        for view, info in views.items():
            if not isinstance(info, dict):
                raise TraceError(f"{self.path}: corrupt trace store (view {view}: {shown(info)} is not an object)")
            for key in ("nodes", "edges", "loss_node"):
                n = info.get(key)
                if not (is_whole(n) and 0 <= n):
                    raise TraceError(f"{self.path}: corrupt trace store ({view} {key}: {shown(n)})")
            if info["nodes"] + info["edges"] > size:
                raise TraceError(
                    f"{self.path}: corrupt trace store ({view}: {info['nodes']:,} nodes and {info['edges']:,} edges "
                    f"claimed by a file of {size:,} bytes)"
                )

    def _row_groups(self):
        """view -> indices of its row groups, checked against the counts the metadata gives, and each
        row group's counts in the footer against each other (a column chunk holds a value a row)."""
        md = self.file.metadata
        groups, first = {}, 0
        for view, info in self.views.items():
            rows, k = 0, first
            while rows < info["nodes"] and k < md.num_row_groups:
                rows += md.row_group(k).num_rows
                k += 1
            if rows != info["nodes"]:
                raise TraceError(
                    f"{self.path}: corrupt trace store ({view}: {rows} rows, the metadata says {info['nodes']} nodes)"
                )
            groups[view], first = list(range(first, k)), k
        if first != md.num_row_groups:
            raise TraceError(
                f"{self.path}: corrupt trace store ({md.num_row_groups - first} row groups belong to no view)"
            )
        for view, ks in groups.items():  # edges: the operands present (leaf values but null or empty lists)
            edges = _operands_in(md, ks)
            if edges is not None and edges != self.views[view]["edges"]:
                raise TraceError(
                    f"{self.path}: corrupt trace store ({view}: {edges} operands, "
                    f"the metadata says {self.views[view]['edges']} edges)"
                )
        for k in range(md.num_row_groups):
            group = md.row_group(k)
            for c in range(group.num_columns):
                if group.column(c).num_values < group.num_rows:
                    raise TraceError(
                        f"{self.path}: corrupt trace store (row group {k} claims {group.num_rows} rows, its column "
                        f"{group.column(c).path_in_schema} holds {group.column(c).num_values} values)"
                    )
        return groups

    def read(self, view):
        """The `GraphData` of `view`, its columns read when first used (`StoreData`). Checked as they are
        read: ids 0..N-1 in order, operands before results, counts, the loss node."""
        return StoreData(self, view)

    def columns(self, view, names):
        """A table of columns `names` of `view` (Parquet column projection: the rest is not read)."""
        return self.file.read_row_groups(self.groups[view], columns=names)


class StoreData(GraphData):
    """One view of a store as `GraphData` whose columns are read when first used: a command that looks
    at scopes reads the scope column, one that scans values reads data and grad, and only one that
    follows edges reads the operand lists (most of the file). Scans run in Arrow, not in Python."""

    _GROUP = {"op": "op", "ops": "op", "_op_code": "op", "scope": "scope", "scopes": "scope", "_scope_id": "scope",
              "data": "data", "grad": "grad", "src": "edges", "dst": "edges", "local": "edges", "flow": "edges",
              "multiplicity": "edges", "extra": "extra"}  # fmt: skip

    def __init__(self, store, view):
        self._store, self._view = store, view
        info = store.views[view]
        self._n, self._n_edges, self.loss, self._out = info["nodes"], info["edges"], info["loss_node"], None
        self._load("ids")

    def __getattr__(self, name):  # only for attributes not read yet
        group = StoreData._GROUP.get(name)
        if group is None:
            raise AttributeError(name)
        self._load(group)
        return self.__dict__[name]

    def _load(self, group, *args):
        with self._corrupt():
            return getattr(self, "_read_" + group)(*args)

    @contextmanager
    def _corrupt(self):
        """What a damaged store raises while it is read, as one line: TraceError."""
        try:
            yield
        except (OSError, pa.ArrowException, ValueError, KeyError, TypeError, TraceError) as e:
            raise TraceError(f"{self._store.path}: corrupt trace store ({self._view}: {_one_line(e)})") from None

    def _read_ids(self):
        n, view = self._n, self._view
        ids = pc.cast(self._store.columns(view, ["id"])["id"], pa.int64()).combine_chunks()
        steps = pc.pairwise_diff(ids)[1:]  # 0, 1, 2...: the first is 0 and every next one more
        if n and (ids.null_count or ids[0].as_py() != 0 or not pc.all(pc.equal(steps, 1), min_count=0).as_py()):
            raise ValueError(f"{view} node ids are not 0..{n - 1} in order")
        if not (isinstance(self.loss, int) and 0 <= self.loss < n):
            raise ValueError(f"loss node {self.loss!r} is not a node")

    def _read_op(self):
        self.op, self.ops = _codes(self._store.columns(self._view, ["op"])["op"], "H")
        for op in self.ops:
            self._store.rules.op(op)
        self._op_code = {op: i for i, op in enumerate(self.ops)}

    def _read_scope(self):
        self.scope, self.scopes = _codes(self._store.columns(self._view, ["scope"])["scope"], "I")
        for scope in self.scopes:
            self._store.rules.scope(scope)
        self._scope_id = {s: i for i, s in enumerate(self.scopes)}

    def _read_data(self):
        self.data = _floats(self._store.columns(self._view, ["data"])["data"])

    def _read_grad(self):
        self.grad = _floats(self._store.columns(self._view, ["grad"])["grad"])

    def _read_edges(self):
        """The edge columns, a row group at a time into the arrays: never a second copy of every edge."""
        src, dst, local, flow = array("I"), array("I"), array("d"), array("d")
        self.multiplicity, file, first = {}, self._store.file, 0
        for k in self._store.groups[self._view]:
            t = file.read_row_group(k, columns=list(schema.EDGE_LISTS))
            check_edge_lists(t)
            operands = t["operands"].combine_chunks()
            _read_multiplicity(self, t["multiplicity"].combine_chunks(), operands.offsets, len(src))
            src += _ints(operands.flatten(), "I")
            dst += _ints(pc.add(pc.list_parent_indices(operands), first), "I")
            local += _floats(t["local_grads"].combine_chunks().flatten())
            flow += _floats(t["grad_flows"].combine_chunks().flatten())
            first += t.num_rows
        if not (len(local) == len(flow) == len(src) == self._n_edges):
            raise ValueError(f"{self._view} has {len(src)} operands, the metadata says {self._n_edges} edges")
        if src and not pc.all(pc.less(_buffer(src, pa.uint32()), _buffer(dst, pa.uint32()))).as_py():
            raise ValueError(f"an operand of the {self._view} view comes after its result")
        self.src, self.dst, self.local, self.flow = src, dst, local, flow

    def _read_extra(self):
        """The sparse columns, each node that has any held to the node rules (with its op and scope), and
        so is every parameter and power (whose rules need them)."""
        self.extra = {}
        _read_extras(self, self._store.columns(self._view, list(_EXTRAS)))
        rules, ops, scopes = self._store.rules, self.ops, self.scopes
        for i in sorted({*self.extra, *self.ids_with_op("param"), *self.ids_with_op("**")}):
            op, scope = ops[self.op[i]], scopes[self.scope[i]]
            rules.node(f"node {i}", node_attrs(op, 0.0, 0.0, scope, self.extra.get(i)))

    def __len__(self):
        return self._n

    def n_edges(self):
        return self._n_edges

    def ids_in_scopes(self, sids):
        return _where_in(_buffer(self.scope, pa.uint32()), sids)

    def ids_with_op(self, op):
        code = self._op_code.get(op)
        return [] if code is None else _where_in(_buffer(self.op, pa.uint16()), [code])

    def nodes(self, ids=None):
        if ids is None or {"op", "data", "grad", "scope", "extra"} <= self.__dict__.keys():
            return super().nodes(ids)
        return iter(self._load("nodes_at", list(ids)))  # a few nodes: only their row groups are read

    def _read_nodes_at(self, ids):
        """(id, attrs) of `ids`, in that order, from the rows of the row groups that hold them."""
        groups, file = self._store.groups[self._view], self._store.file
        first = [0]  # the first id of each row group
        for k in groups:
            first.append(first[-1] + file.metadata.row_group(k).num_rows)
        by_group = {}
        for i in ids:
            if not 0 <= i < self._n:
                raise KeyError(f"no node {i}")
            by_group.setdefault(bisect_right(first, i) - 1, []).append(i)
        attrs = {}
        for g, members in by_group.items():
            rows = pa.array([i - first[g] for i in members], pa.uint32())
            t = file.read_row_group(groups[g], columns=NODE_COLUMNS).take(rows)
            attrs.update(node_rows(t, members, self._store.rules))
        return [(i, attrs[i]) for i in ids]

    def edges(self, ids=None):
        if ids is None:
            return super().edges()
        if "src" not in self.__dict__:  # the edges are not in memory: read only those asked for
            return iter(self._load("edges_near", ids))
        ids = sorted(set(ids))
        into = {e for n in ids for e in self._in_edges(n)}  # edges are ordered by their result
        out = _where_in(_buffer(self.src, pa.uint32()), ids)  # one Arrow pass, no index of every edge
        return ((self.src[e], self.dst[e], self.edge_attrs(e)) for e in sorted(into.union(out)))

    def _read_edges_near(self, ids):
        """(u, v, attrs) of the edges into and out of `ids`, in order, one row group at a time: its
        operand lists are scanned in Arrow, and its gradients read only where such an edge is."""
        wanted = pa.array(sorted(set(ids)), pa.uint32())
        file, found, lo = self._store.file, [], 0
        for k in self._store.groups[self._view]:
            operands = file.read_row_group(k, columns=["operands"])["operands"].combine_chunks()
            flat = operands.flatten()
            result = pc.add(pc.cast(pc.list_parent_indices(operands), pa.uint32()), pa.scalar(lo, pa.uint32()))
            hits = pc.indices_nonzero(pc.or_(pc.is_in(flat, value_set=wanted), pc.is_in(result, value_set=wanted)))
            if len(hits):
                t = file.read_row_group(k, columns=list(schema.EDGE_LISTS))
                check_edge_lists(t)
                local, flow = (
                    t[c].combine_chunks().flatten().take(hits).to_pylist() for c in ("local_grads", "grad_flows")
                )
                multiplicity, starts = t["multiplicity"].combine_chunks(), operands.offsets
                for u, v, lg, gf, p in zip(
                    flat.take(hits).to_pylist(), result.take(hits).to_pylist(), local, flow, hits.to_pylist()
                ):
                    if not u < v:
                        raise ValueError(f"an operand of the {self._view} view comes after its result")
                    attrs = {"local_grad": lg, "grad_flow": gf}
                    m = multiplicity[v - lo].as_py()
                    if m is not None and m[p - starts[v - lo].as_py()] != 1:
                        attrs["multiplicity"] = m[p - starts[v - lo].as_py()]
                    found.append((u, v, attrs))
            lo += len(operands)
        return found

    def collapse_stats(self, key_of):
        """`collapse`'s groups, statistics and flows, aggregated in Arrow a batch of rows at a time
        (tracer/storage/store_collapse.py): neither every edge nor a Python object a node is ever in memory."""
        return self._load("collapse_stats", key_of)

    def _read_collapse_stats(self, key_of):
        from microtrace.tracer.storage import store_collapse  # pyarrow, which this module imports only if it can

        file, groups, rules = self._store.file, self._store.groups[self._view], self._store.rules
        self.ops  # the op column checked (read when first used)

        def batches(columns):
            return file.iter_batches(batch_size=store_collapse.BATCH, row_groups=groups, columns=columns)

        def checked_key_of(scope):  # each scope the collapse meets is held to the rules once
            rules.scope(scope)
            return key_of(scope)

        return store_collapse.collapse_stats(batches, self._n_edges, checked_key_of)

    STREAM_PASSES = 1

    def stream(self, count=iter):
        """(node types, edge types, nodes, edges) of the whole view for a writer that streams (GraphML,
        GEXF: `xml_graph.graphml_chunks`), in bounded memory (tracer/storage/store_stream.py): the nodes in id
        order, the edges by source then result, as networkx lists a whole graph's; `count` wraps each."""
        from microtrace.tracer.storage import store_stream  # pyarrow, which this module imports only if it can

        file, groups = self._store.file, self._store.groups[self._view]
        rules = self._store.rules
        with self._corrupt():
            node_types = store_stream.node_types(file, groups, rules)
            edge_types = store_stream.edge_types(file, groups, self._n_edges)
        nodes = count(self._guard(store_stream.nodes(file, groups, rules)))
        return node_types, edge_types, nodes, count(self._guard(store_stream.edges(file, groups, self._n_edges)))

    def _guard(self, items):
        """`items` (a generator reading the store), damage found on the way a one-line TraceError."""
        with self._corrupt():
            yield from items

    def nonfinite(self):
        return self._load("nonfinite")

    def _read_nonfinite(self):
        """`GraphData.nonfinite` in Arrow, from the two columns (not kept: a scan needs no Python copy)."""
        t = self._store.columns(self._view, ["data", "grad"])
        data, grad = t["data"].combine_chunks(), t["grad"].combine_chunks()
        if data.null_count or grad.null_count:
            raise ValueError("a number is missing")
        bad_data, bad_grad = pc.invert(pc.is_finite(data)), pc.invert(pc.is_finite(grad))
        first = pc.indices_nonzero(bad_data)
        last = pc.indices_nonzero(bad_grad)
        count = pc.sum(pc.or_(bad_data, bad_grad)).as_py() or 0
        found = first[0].as_py() if len(first) else last[-1].as_py() if len(last) else None
        return found, count


def _operands_in(md, groups):
    """How many operands the footer says row groups `groups` hold, from the `operands` column's counts
    (values less nulls: a node without operands is one null slot); None without its statistics."""
    total = 0
    for k in groups:
        group = md.row_group(k)
        chunk = next(
            group.column(c) for c in range(group.num_columns) if group.column(c).path_in_schema.startswith("operands")
        )
        stats = chunk.statistics
        if stats is None or not stats.has_null_count:
            return None
        total += chunk.num_values - stats.null_count
    return total


def _where_in(codes, values):
    """Positions (a list) where the Arrow array `codes` holds one of `values`."""
    if not values:
        return []
    wanted = pa.array(sorted(values), codes.type)
    return pc.indices_nonzero(pc.is_in(codes, value_set=wanted)).to_pylist()


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__


def _codes(column, typecode):
    """(codes, names) of a dictionary column read from several row groups."""
    arr = column.unify_dictionaries().combine_chunks()
    if arr.null_count:
        raise ValueError("a node has no op or scope")
    return _ints(arr.indices, typecode), arr.dictionary.to_pylist()


def _ints(arr, typecode):
    typ = {"H": pa.uint16(), "I": pa.uint32()}[typecode]
    arr = pc.cast(arr, typ)
    out = array(typecode)
    if len(arr):
        out.frombytes(arr.buffers()[1][arr.offset * out.itemsize : (arr.offset + len(arr)) * out.itemsize])
    return out


def _floats(column):
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        raise ValueError("a number is missing")
    out = array("d")
    if len(arr):
        out.frombytes(arr.buffers()[1][arr.offset * 8 : (arr.offset + len(arr)) * 8])
    return out


def node_rows(t, ids, rules):
    """[(id, attrs)] of the rows of `t` (a table of NODE_COLUMNS), whose node ids are `ids`, held to the
    node `rules` (`NodeRules`: each op and scope once, each node with sparse attributes in full)."""
    if sum(t[c].null_count for c in ("op", "data", "grad", "scope")):
        raise ValueError("a node has no op, scope, value or gradient")
    found = GraphData()  # its `extra`, keyed by row
    _read_extras(found, t)
    columns = zip(*(t[c].to_pylist() for c in ("op", "data", "grad", "scope")))
    out = []
    for k, (i, (op, data, grad, s)) in enumerate(zip(ids, columns)):
        rules.op(op)
        rules.scope(s)
        attrs = node_attrs(op, data, grad, s, found.extra.get(k))
        if k in found.extra or op in ("param", "**"):
            rules.node(f"node {i}", attrs)
        out.append((i, attrs))
    return out


def check_edge_lists(t):
    """ValueError unless the edge lists of the rows of `t` agree: operands and their gradients present,
    as many of each, and a multiplicity (1 or more) for each operand where there are any (a list one
    short would shift every later value onto the wrong edge)."""
    operands, local, flow, mult = (t[c].combine_chunks() for c in schema.EDGE_LISTS)
    if operands.null_count or local.null_count or flow.null_count:
        raise ValueError("a node's operands or their gradients are missing")
    n = pc.list_value_length(operands)
    for name, lists in (("local_grads", local), ("grad_flows", flow), ("multiplicity", mult)):
        if pc.all(pc.equal(pc.list_value_length(lists), n)).as_py() is False:  # (null rows of multiplicity skipped)
            raise ValueError(f"a node's {name} and its operands are not as many")
    if len(mult.flatten()) and pc.min(mult.flatten()).as_py() < 1:
        raise ValueError("a multiplicity is 0")


def _read_extras(gd, t):
    """The sparse columns back into `gd.extra`."""
    for name in _EXTRAS:
        col = t[name]
        if col.null_count == len(col):
            continue
        ids = pc.indices_nonzero(pc.is_valid(col)).to_pylist()
        values = col.take(ids).to_pylist()
        for i, v in zip(ids, values):
            x = gd.extra.setdefault(i, {})
            if name == "extra":
                x.update(_extra_json(v))
            elif name in ("row", "col"):
                x.setdefault("index", [None, None])[name == "col"] = v
            else:
                x[name] = v


def _extra_json(text):
    """The attributes of an `extra` cell: a JSON object (nested no deeper than any JSON microtrace reads)
    that names no attribute with a column of its own: it may not stand in for a node's op or value."""
    try:
        value = parse_json(text)
    except RecursionError:
        raise ValueError("an extra attribute is nested too deeply") from None
    if not isinstance(value, dict):
        raise ValueError(f"an extra cell is {shown(value)}, not a JSON object")
    own = _OWN_COLUMN.intersection(value)
    if own:
        raise ValueError(f"an extra cell holds {sorted(own)[0]!r}, which has a column of its own")
    return value


def _read_multiplicity(gd, col, starts, base=0):
    """Multiplicities other than 1 into `gd.multiplicity`, keyed by edge index (`base` + place in `col`'s rows)."""
    if col.null_count == len(col):
        return
    ids = pc.indices_nonzero(pc.is_valid(col))
    origin = starts[0].as_py()
    for i, ms in zip(ids.to_pylist(), col.take(ids).to_pylist()):
        first = base + starts[i].as_py() - origin
        for k, m in enumerate(ms):
            if m != 1:
                gd.multiplicity[first + k] = m
