"""From a recording to graph data: columns of nodes and edges, ready for networkx.

Two views. `fused` keeps the engine's nodes (one per dot product or sum). `elementary` rebuilds
microGPT's own nodes: a fused `dot` of n pairs becomes n products, the constant 0 Python's `sum` starts
from, and n partial sums, in the order microGPT creates them, with the very same values (each partial
sum is recomputed with the same float additions) and gradients (every product and partial sum of a sum
receives the sum's gradient, times the local derivative 1).
"""

import math
from array import array
from bisect import bisect_left, bisect_right

from microtrace.engine.value import dot_pairs
from microtrace.tracer.capture.record import reachable, update_ratio
from microtrace.tracer.model.scopes import parse

# Attributes beyond op, data, grad and scope, in the order a node's dict lists them (the store has a
# column for each; anything else a model marks goes to its `extra` column).
PROGRESS_EVERY = 4096  # recorded values between two reports of expand_pieces' walk
NODE_EXTRAS = ("param", "index", "new_data", "adam_m", "adam_v", "update_ratio", "exponent", "key", "unit")


class GraphData:
    """A step's graph as compact columns (node id = index): `array`s of numbers, and ops and scopes as
    small integers into `ops` and `scopes`, so a node costs ~21 bytes and an edge ~24 instead of a
    Python object each. `extra` holds the rarer attributes. Edges are in the order their results were
    made (by `dst`), each result's operands in operand order."""

    base = 0  # id of the first node: a piece of a view (`split`) starts further on

    def __init__(self):
        self.ops, self.scopes = [], []  # code -> op name; scope id -> scope path
        self._op_code, self._scope_id = {}, {}
        self.op, self.scope = array("H"), array("I")
        self.data, self.grad = array("d"), array("d")
        self.extra = {}  # node id -> dict (param, index, exponent, key, unit, Adam numbers)
        self.src, self.dst = array("I"), array("I")
        self.local, self.flow = array("d"), array("d")
        self.multiplicity = {}  # edge index -> 2 where an operand enters twice (x * x)
        self.loss = None  # id of the loss node
        self._out = None  # edge indices by source node, built when first asked

    def __len__(self):
        return len(self.op)

    def n_edges(self):
        return len(self.src)

    def op_code(self, op):
        code = self._op_code.get(op)
        if code is None:
            code = self._op_code[op] = len(self.ops)
            self.ops.append(op)
        return code

    def scope_id(self, scope):
        sid = self._scope_id.get(scope)
        if sid is None:
            sid = self._scope_id[scope] = len(self.scopes)
            self.scopes.append(scope)
        return sid

    def add(self, op, data, grad, scope):
        self.op.append(self.op_code(op))
        self.data.append(data)
        self.grad.append(grad)
        self.scope.append(self.scope_id(scope))
        return self.base + len(self.op) - 1

    def edge(self, u, v, local, flow):
        self.src.append(u)
        self.dst.append(v)
        self.local.append(local)
        self.flow.append(flow)

    def operands(self, ids, result, children, local_grads, g):
        """Edges from each operand to `result`; an operand used twice (x * x) gets one edge."""
        us = [ids[child] for child in children]
        if len(us) > 2 and len(set(us)) == len(us):
            # every operand once (a dot product's, a sum's): whole columns at a time, the same numbers
            # as edge by edge (this is most of a fused view's time)
            self.src.extend(us)
            self.dst.extend([result] * len(us))
            self.local.extend([float(lg) for lg in local_grads])
            self.flow.extend([float(lg * g) for lg in local_grads])
            return
        first = {}
        for child, lg in zip(children, local_grads):
            u = ids[child]
            e = first.get(u)
            if e is None:
                first[u] = len(self.src)
                self.edge(u, result, float(lg), float(lg * g))
            else:
                self.local[e] += lg
                self.flow[e] += lg * g
                self.multiplicity[e] = self.multiplicity.get(e, 1) + 1

    def split(self, k):
        """Hand out the first `k` nodes with their in-edges as a `GraphData` of their own, and keep the
        rest: ids do not change (`base` moves on), the tables of ops and scopes are shared. A view is
        written to a store this way, piece by piece, while it is being made (`expand_pieces`); the
        reading methods below take a whole view (`base` 0)."""
        head, end = GraphData(), self.base + k
        head.ops, head.scopes, head._op_code, head._scope_id = self.ops, self.scopes, self._op_code, self._scope_id
        head.base = self.base
        cut = bisect_left(self.dst, end)  # edges are ordered by their result
        for name, at in (("op", k), ("scope", k), ("data", k), ("grad", k), ("src", cut), ("dst", cut),
                         ("local", cut), ("flow", cut)):  # fmt: skip
            column = getattr(self, name)
            setattr(head, name, column[:at])
            del column[:at]
        head.extra = {i: x for i, x in self.extra.items() if i < end}
        self.extra = {i: x for i, x in self.extra.items() if i >= end}
        head.multiplicity = {e: m for e, m in self.multiplicity.items() if e < cut}
        self.multiplicity = {e - cut: m for e, m in self.multiplicity.items() if e >= cut}
        self.base = end
        return head

    # -- the reading side, shared with the on-disk store (tracer/storage/store.py) --

    def scope_of(self, i):
        return self.scopes[self.scope[i]]

    def node_attrs(self, i):
        return node_attrs(
            self.ops[self.op[i]], self.data[i], self.grad[i], self.scopes[self.scope[i]], self.extra.get(i)
        )

    def nodes(self, ids=None):
        """(id, attrs) pairs, as networkx's add_nodes_from takes them; all nodes, or `ids`."""
        return ((i, self.node_attrs(i)) for i in (range(len(self.op)) if ids is None else ids))

    def edge_attrs(self, e):
        attrs = {"local_grad": self.local[e], "grad_flow": self.flow[e]}
        if e in self.multiplicity:
            attrs["multiplicity"] = self.multiplicity[e]
        return attrs

    def edges(self, ids=None):
        """(u, v, attrs) of every edge in order, or of the edges into and out of `ids`."""
        if ids is None:
            found = range(len(self.src))
        else:
            found = sorted({e for n in ids for e in (*self._in_edges(n), *self._out_edges(n))})
        return ((self.src[e], self.dst[e], self.edge_attrs(e)) for e in found)

    def node_columns(self):
        """(op, data, grad, scope id) of every node in id order: what collapse and scans read."""
        ops = self.ops
        return zip((ops[c] for c in self.op), self.data, self.grad, self.scope)

    def edge_columns(self):
        """(src, dst, grad_flow) of every edge."""
        return zip(self.src, self.dst, self.flow)

    # What every source of columns answers, each its own way (a store's `StoreData` in Arrow, from disk):
    # `collapse_stats`, `stream` and `nonfinite`. Callers never ask which kind of columns they hold.

    STREAM_PASSES = 2  # `stream` reads the nodes and the edges twice: once for their types, once to write

    def collapse_stats(self, key_of):
        """`analysis.collapse.collapse`'s groups (`key_of(scope)` of each node's scope), their statistics
        and the flows between them, in one Python pass over the columns."""
        from microtrace.tracer.analysis.collapse import column_stats

        return column_stats(self, key_of)

    def stream(self, count=iter):
        """(node types, edge types, nodes, edges) of the whole view for a writer that streams (GraphML,
        GEXF: `export.xml_graph.graphml_chunks`): the types from a first pass over the columns, then the
        nodes in id order and the edges by source then result, as networkx lists a whole graph's. `count`
        wraps each pass over nodes or edges (a progress counter: STREAM_PASSES passes of each)."""
        from microtrace.tracer.export import xml_graph

        by_source = sorted(range(self.n_edges()), key=self.src.__getitem__)  # networkx's order: source, result

        def edges():
            return count((self.src[e], self.dst[e], self.edge_attrs(e)) for e in by_source)

        node_types = xml_graph.attr_types((xml_graph.flat_attrs(d) for _, d in count(self.nodes())), "node")
        edge_types = xml_graph.attr_types((xml_graph.flat_attrs(d) for *_, d in edges()), "edge")
        return node_types, edge_types, count(self.nodes()), edges()

    def nonfinite(self):
        """(where nan/inf starts, how many nodes are non-finite): see `Trace.nonfinite`."""
        value = grad = None
        count = 0
        for i, (_, d, g, _) in enumerate(self.node_columns()):
            if not math.isfinite(d):
                count += 1
                if value is None:
                    value = i
                if not math.isfinite(g):
                    grad = i
            elif not math.isfinite(g):
                count += 1
                grad = i
        return (value if value is not None else grad), count

    def ids_in_scopes(self, sids):
        return [i for i, s in enumerate(self.scope) if s in sids]

    def ids_with_op(self, op):
        code = self._op_code.get(op)
        return [] if code is None else [i for i, c in enumerate(self.op) if c == code]

    def successors(self, n):
        """(result, local_grad) of each out-edge of node n, results in id order."""
        dst, local = self.dst, self.local
        return ((dst[e], local[e]) for e in self._out_edges(n))

    def param_node(self, name, row, col):
        return next((i for i, x in self.extra.items() if x.get("param") == name and x["index"] == [row, col]), None)

    def param_names(self):
        return list(dict.fromkeys(x["param"] for x in self.extra.values() if "param" in x))

    def _in_edges(self, n):
        return range(bisect_left(self.dst, n), bisect_right(self.dst, n))

    def _out_edges(self, n):
        if self._out is None:
            self._out = _by_source(self.src, len(self.op))
        start, order = self._out
        return order[start[n] : start[n + 1]]


def from_graph(G):
    """The `GraphData` of a networkx trace graph (a trace file read as JSON)."""
    gd = GraphData()
    base = ("op", "data", "grad", "scope")
    for i in range(G.number_of_nodes()):
        d = G.nodes[i]
        gd.add(d["op"], d["data"], d["grad"], d["scope"])
        implied = parse(d["scope"])
        extra = {k: v for k, v in d.items() if k not in base and (k not in implied or implied[k] != v)}
        if extra:
            gd.extra[i] = extra
    for v in range(G.number_of_nodes()):
        for u, attrs in G.pred[v].items():
            if "multiplicity" in attrs:
                gd.multiplicity[len(gd.src)] = attrs["multiplicity"]
            gd.edge(u, v, attrs["local_grad"], attrs["grad_flow"])
    gd.loss = G.graph.get("loss_node")
    return gd


def offsets(ids, n):
    """start[i]..start[i + 1]: where the entries of node i lie once grouped by node, given each entry's node
    (`ids`) among `n` nodes: a counting sort's prefix sums. Of `dst`, whose edges are in order, the
    in-edges of each node."""
    start = array("I", bytes(4 * (n + 1)))
    for u in ids:
        start[u + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    return start


def _by_source(src, n):
    """Edge indices grouped by source node (a counting sort): (start offsets, edge indices)."""
    start = offsets(src, n)
    order = array("I", bytes(4 * len(src)))
    fill = array("I", start)
    for e, u in enumerate(src):
        order[fill[u]] = e
        fill[u] += 1
    return start, order


def node_attrs(op, data, grad, scope, extra):
    """A node's attribute dict (docs/trace-format.md), the same from memory, the store or a file."""
    attrs = dict(parse(scope))
    attrs.update(op=op, data=data, grad=grad, scope=scope)
    if extra:
        attrs.update((k, extra[k]) for k in NODE_EXTRAS if k in extra)
        attrs.update((k, v) for k, v in extra.items() if k not in NODE_EXTRAS)
    return attrs


def expand(rec, view="elementary"):
    """The GraphData of a recording in the `elementary` or `fused` view."""
    (gd,) = expand_pieces(rec, view)
    return gd


def expand_pieces(rec, view="elementary", rows=None, on_progress=None):
    """The GraphData of a recording's view in pieces of `rows` nodes (the last one shorter), each handed
    out as soon as the walk over the recording has made it: whoever takes them in turn (a store writer)
    holds one piece of the step at a time, not the whole. A piece's `base` is its first node's id; the
    last one has the loss node. `rows` None: the whole view in one piece. `on_progress(done, total)`
    follows the walk in recorded values (for a progress bar), every PROGRESS_EVERY and at the end."""
    if view not in ("elementary", "fused"):
        raise ValueError(f"unknown view {view!r}: use 'elementary' or 'fused'")
    keep = reachable(rec.loss)
    used = {c for v in keep for c in v._children}
    gd = GraphData()
    # Value -> its node's id, and its node's value as recorded: a parameter's .data has moved on since
    # (Adam ran), and the node may be in a piece handed out already.
    ids, vals = {}, {}
    _add_params(gd, ids, vals, rec, used)
    marks = rec.marks
    elementary = view == "elementary"
    total = len(rec.values)
    for i, (v, scope) in enumerate(zip(rec.values, rec.scopes)):
        if on_progress and i % PROGRESS_EVERY == 0:
            on_progress(i, total)
        if not v._children:
            if v not in used or v in ids:  # (a parameter made inside a recording is already there)
                continue
            vals[v] = data = float(v.data)
            ids[v] = gd.add("const" if v._op == "const" else "leaf", data, float(v.grad), scope)
        elif v not in keep:
            continue
        elif elementary and v._op in ("dot", "lin"):
            ids[v], vals[v] = _expand_dot(gd, ids, vals, v, scope)
        elif elementary and v._op == "sum":
            ids[v], vals[v] = _expand_sum(gd, ids, vals, v, scope)
        else:
            ids[v], vals[v] = _single(gd, ids, v, scope)
        mark = marks.get(v)
        if mark:
            gd.extra.setdefault(ids[v], {}).update(mark)
        while rows and len(gd) >= rows:
            yield gd.split(rows)
    gd.loss = ids[rec.loss]
    yield gd
    if on_progress:
        on_progress(total, total)


def _add_params(gd, ids, vals, rec, used):
    for p, (name, r, c) in rec.params.items():
        if p in used:
            data, new, grad, m, v = rec.adam[name][r][c]
            vals[p] = data = float(data)
            i = ids[p] = gd.add("param", data, float(grad), f"param/{name}")
            extra = gd.extra[i] = {"param": name, "index": [r, c]}
            if new is not None:  # a training step: its update (and Adam's moments, where known)
                extra.update(new_data=float(new), update_ratio=update_ratio(data, new))
                if m is not None:
                    extra.update(adam_m=float(m), adam_v=float(v))


def _single(gd, ids, v, scope):
    op = v._op
    exponent = None
    if op.startswith("**"):
        op, exponent = "**", float(op[2:])
    data = float(v.data)
    n = gd.add(op, data, float(v.grad), scope)
    if exponent is not None:
        gd.extra[n] = {"exponent": exponent}
    gd.operands(ids, n, v._children, v._local_grads, v.grad)
    return n, data


def _expand_dot(gd, ids, vals, v, scope):
    """A fused dot product as microGPT computes it: each product a_j * x_j added in turn to a running
    sum that starts from the constant 0 (`_partial_sum`), a whole dot product's columns at a time (this
    is most of an elementary view: the hot loop of `trace`)."""
    g = float(v.grad)
    codes = gd.op_code("*"), gd.op_code("const"), gd.op_code("+")  # in the order `_partial_sum` meets them
    sid = gd.scope_id(scope)
    node = gd.base + len(gd.op)  # the next node's id
    edges = len(gd.src)
    ops, data, src, dst, local, flow = [], [], [], [], [], []
    s = total = None
    for a, x, la, lx in dot_pairs(v):
        term = vals[a] * vals[x]  # the operands' values as recorded
        p, node = node, node + 1
        if a is x:  # x * x: one edge, both derivatives on it (`GraphData.operands`)
            gd.multiplicity[edges + len(src)] = 2
            src.append(ids[a])
            local.append(float(la) + lx)
            flow.append(float(la * g) + lx * g)
            dst.append(p)
        else:
            src += (ids[a], ids[x])
            local += (float(la), float(lx))
            flow += (float(la * g), float(lx * g))
            dst += (p, p)
        if s is None:  # the first term is added to the constant 0
            ops += codes
            total = term + 0
            data += (term, 0.0, total)
            src += (p, node)
            s, node = node + 1, node + 2
        else:
            ops += (codes[0], codes[2])
            total = total + term
            data += (term, total)
            src += (s, p)
            s, node = node, node + 1
        dst += (s, s)
        local += (1.0, 1.0)
        flow += (g, g)
    gd.op.extend(ops)
    gd.data.extend(data)
    gd.grad.extend(array("d", (g,)) * len(data))
    gd.scope.extend(array("I", (sid,)) * len(data))
    gd.src.extend(src)
    gd.dst.extend(dst)
    gd.local.extend(local)
    gd.flow.extend(flow)
    return s, total


def _expand_sum(gd, ids, vals, v, scope):
    g, s, total = float(v.grad), None, None
    for child in v._children:
        s, total = _partial_sum(gd, scope, s, total, ids[child], vals[child], g)
    return s, total


def _partial_sum(gd, scope, s, total, term, value, g):
    """Python's sum: the first term is added to the constant 0, later ones to the running sum `s`
    (whose value is `total`). Returns the new running sum and its value."""
    if s is None:
        zero = gd.add("const", 0.0, g, scope)
        total = value + 0
        s = gd.add("+", total, g, scope)
        gd.edge(term, s, 1.0, g)
        gd.edge(zero, s, 1.0, g)
        return s, total
    total = total + value
    new = gd.add("+", total, g, scope)
    gd.edge(s, new, 1.0, g)
    gd.edge(term, new, 1.0, g)
    return new, total
