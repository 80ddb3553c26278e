"""From a recording to graph data: columns of nodes and edges, ready for networkx.

Two views. `fused` keeps the engine's nodes (one per dot product or sum). `elementary` rebuilds
microGPT's own nodes: a fused `dot` of n pairs becomes n products, the constant 0 Python's `sum` starts
from, and n partial sums, in the order microGPT creates them, with the very same values (each partial
sum is recomputed with the same float additions) and gradients (every product and partial sum of a sum
receives the sum's gradient, times the local derivative 1).
"""

from microtrace.engine.value import dot_pairs
from microtrace.tracer.record import reachable, update_ratio
from microtrace.tracer.scopes import parse


class GraphData:
    """A step's graph as parallel lists (node id = index); `extra` holds the rarer attributes."""

    def __init__(self):
        self.op, self.data, self.grad, self.scope = [], [], [], []
        self.extra = {}  # node id -> dict (param, index, exponent, key, unit, Adam numbers)
        self.src, self.dst, self.local, self.flow = [], [], [], []
        self.multiplicity = {}  # edge index -> 2 where an operand enters twice (x * x)
        self.loss = None  # id of the loss node

    def __len__(self):
        return len(self.op)

    def add(self, op, data, grad, scope):
        self.op.append(op)
        self.data.append(data)
        self.grad.append(grad)
        self.scope.append(scope)
        return len(self.op) - 1

    def edge(self, u, v, local, flow):
        self.src.append(u)
        self.dst.append(v)
        self.local.append(local)
        self.flow.append(flow)

    def operands(self, ids, result, children, local_grads, g):
        """Edges from each operand to `result`; an operand used twice (x * x) gets one edge."""
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

    def node_attrs(self, i):
        attrs = dict(parse(self.scope[i]))
        attrs.update(op=self.op[i], data=self.data[i], grad=self.grad[i], scope=self.scope[i])
        extra = self.extra.get(i)
        if extra:
            attrs.update(extra)
        return attrs

    def nodes(self):
        """(id, attrs) pairs, as networkx's add_nodes_from takes them."""
        return ((i, self.node_attrs(i)) for i in range(len(self.op)))

    def edges(self):
        mult = self.multiplicity
        for e, (u, v, lg, fl) in enumerate(zip(self.src, self.dst, self.local, self.flow)):
            attrs = {"local_grad": lg, "grad_flow": fl}
            if e in mult:
                attrs["multiplicity"] = mult[e]
            yield u, v, attrs


def expand(rec, view="elementary"):
    """The GraphData of a recording in the `elementary` or `fused` view."""
    if view not in ("elementary", "fused"):
        raise ValueError(f"unknown view {view!r}: use 'elementary' or 'fused'")
    keep = reachable(rec.loss)
    used = {c for v in keep for c in v._children}
    gd = GraphData()
    ids = {}
    _add_params(gd, ids, rec, used)
    marks = rec.marks
    elementary = view == "elementary"
    for v, scope in zip(rec.values, rec.scopes):
        if not v._children:
            if v in used and v not in ids:  # (a parameter made inside a recording is already there)
                ids[v] = gd.add("const" if v._op == "const" else "leaf", float(v.data), float(v.grad), scope)
                mark = marks.get(v)
                if mark:
                    gd.extra.setdefault(ids[v], {}).update(mark)
            continue
        if v not in keep:
            continue
        if elementary and v._op in ("dot", "lin"):
            ids[v] = _expand_dot(gd, ids, v, scope)
        elif elementary and v._op == "sum":
            ids[v] = _expand_sum(gd, ids, v, scope)
        else:
            ids[v] = _single(gd, ids, v, scope)
        mark = marks.get(v)
        if mark:
            gd.extra.setdefault(ids[v], {}).update(mark)
    gd.loss = ids[rec.loss]
    return gd


def _add_params(gd, ids, rec, used):
    for p, (name, r, c) in rec.params.items():
        if p in used:
            data, new, grad, m, v = rec.adam[name][r][c]
            i = ids[p] = gd.add("param", float(data), float(grad), f"param/{name}")
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
    n = gd.add(op, float(v.data), float(v.grad), scope)
    if exponent is not None:
        gd.extra[n] = {"exponent": exponent}
    gd.operands(ids, n, v._children, v._local_grads, v.grad)
    return n


def _expand_dot(gd, ids, v, scope):
    g = float(v.grad)
    add, edge, data = gd.add, gd.edge, gd.data
    s = None
    for a, x, la, lx in dot_pairs(v):
        # operand values as recorded (a parameter's .data has moved on since: Adam ran)
        p = add("*", data[ids[a]] * data[ids[x]], g, scope)
        if a is x:
            gd.operands(ids, p, (a, x), (la, lx), g)
        else:
            edge(ids[a], p, float(la), float(la * g))
            edge(ids[x], p, float(lx), float(lx * g))
        s = _partial_sum(gd, scope, s, p, g)
    return s


def _expand_sum(gd, ids, v, scope):
    g, s = float(v.grad), None
    for child in v._children:
        s = _partial_sum(gd, scope, s, ids[child], g)
    return s


def _partial_sum(gd, scope, s, term, g):
    """Python's sum: the first term is added to the constant 0, later ones to the running sum."""
    data = gd.data
    if s is None:
        zero = gd.add("const", 0.0, g, scope)
        s = gd.add("+", data[term] + 0, g, scope)
        gd.edge(term, s, 1.0, g)
        gd.edge(zero, s, 1.0, g)
        return s
    new = gd.add("+", data[s] + data[term], g, scope)
    gd.edge(s, new, 1.0, g)
    gd.edge(term, new, 1.0, g)
    return new
