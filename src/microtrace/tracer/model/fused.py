"""The fused view of any elementary view: each sum Python spells out is one node again, as microtrace's own
engine makes it (`engine.value.dot`, `linear`, `vsum`).

An elementary view (a run's, expanded by `columns.expand`; a script's, its own nodes; either read back
from a trace file or a store) spells every sum out: the constant 0 Python's `sum` starts from, then one
partial sum per term, `0 + t0`, `+ t1`, ... Each such chain, whose partial sums and constant nothing else
uses and which were all made in one scope, is folded into one node at its last sum's place, with that
sum's value, gradient, scope and attributes (a script may start its sums from a `Value(0.0)` of its own,
`sum(terms, Value(0.0))`: a leaf 0 made in the chain's scope and used by it only starts a chain too):
- `dot` when every term is a product `a * x` that nothing else uses, made in the same scope (`sum(a * x
  for ...)`): its operands `a0, x0, a1, x1, ...`, each with its product's local derivative;
- `lin` when, besides, every `a` is a leaf (a weight) and every `x` is not (what `engine.value.linear`
  makes of a layer's row): its operands the row, then the input, `a0, a1, ..., x0, x1, ...`;
- `sum` otherwise: its operands the terms, each with local derivative 1.
These are exactly the nodes `columns.expand` expands back (the same products, constant and partial sums,
with the same float additions), so the fused view derived from a run's elementary view is the one
captured with it, node for node and bit for bit, and a script's fused view is made the same way.
"""

from array import array

from microtrace.tracer.model.columns import GraphData, offsets


def fuse(el) -> GraphData:
    """The fused view of the elementary view `el` (a `GraphData`, or a store's columns that read as one)."""
    chains = _Chains(el)
    out = GraphData()
    new = array("q", [-1]) * len(el)  # elementary id -> fused id (-1: folded into a chain's node)
    ops, scopes = el.ops, el.scopes
    op, scope, data, grad, extra = el.op, el.scope, el.data, el.grad, el.extra
    src, local, flow, mult, first = el.src, el.local, el.flow, el.multiplicity, chains.first
    for i in range(len(el)):
        if i in chains.folded:
            continue
        chain = chains.ending.get(i)
        n = new[i] = out.add(ops[op[i]] if chain is None else chain[0], data[i], grad[i], scopes[scope[i]])
        if i in extra:
            out.extra[n] = extra[i]
        if chain is None:
            edges = [(new[src[e]], local[e], flow[e], mult.get(e, 1)) for e in range(first[i], first[i + 1])]
        else:
            edges = [(new[src[e]], local[e], flow[e], mult.get(e, 1)) for e in chain[1]]
        _operands(out, n, edges)
    out.loss = new[el.loss] if el.loss is not None else None
    return out


def _operands(out, n, edges):
    """`n`'s edges, in operand order; an operand met again adds to its first edge (`GraphData.operands`)."""
    at = {}
    for u, lg, fl, m in edges:
        e = at.get(u)
        if e is None:
            at[u] = len(out.src)
            out.edge(u, n, lg, fl)
            if m > 1:
                out.multiplicity[at[u]] = m
        else:
            out.local[e] += lg
            out.flow[e] += fl
            out.multiplicity[e] = out.multiplicity.get(e, 1) + m


class _Chains:
    """The sum chains of an elementary view: `ending` maps each chain's last sum to (op, its operand
    edges in order); `folded` holds the ids of the nodes a chain's node stands for.

    Which operand of a sum is the running sum is read from the graph, not from the operands' order (a
    JSON trace file lists a node's operands by id): the one that is the constant 0, else a sum that
    nothing else uses and that is itself a link of a chain."""

    def __init__(self, el):
        n = len(el)
        self.el = el
        code = {name: c for c, name in enumerate(el.ops)}
        self.plus, self.times = code.get("+", -1), code.get("*", -1)
        self.zeros = {code[name] for name in ("const", "leaf") if name in code}  # 0, or a script's Value(0.0)
        self.first = offsets(el.dst, n)  # first[i]..first[i + 1]: the edges into node i
        self.uses = _uses(el.src, el.multiplicity, n)
        self.link = {}  # sum -> (the running sum before it or the constant 0, the edge of its term)
        op, plus = el.op, self.plus
        for s in range(n):  # operands come before results: a sum's running sum is linked already
            if op[s] == plus:
                self._link(s)
        self.ending, self.folded = {}, set()
        for v in range(n - 1, -1, -1):  # a chain's last sum comes first: its partial sums are folded with it
            if v in self.link and v not in self.folded:
                self._fold(v)

    def _link(self, s):
        el, e = self.el, self.first[s]
        if self.first[s + 1] - e != 2 or e in el.multiplicity or el.local[e] != 1 or el.local[e + 1] != 1:
            return
        a, b = el.src[e], el.src[e + 1]
        for before, term in ((b, e), (a, e + 1)):  # t + 0 (Python's sum begins so), or 0 + t
            if self._zero(before):
                self.link[s] = (before, term)
                return
        for before, term in ((a, e + 1), (b, e)):  # previous + t, or t + previous
            if before in self.link and self.uses[before] == 1:
                self.link[s] = (before, term)
                return

    def _fold(self, v):
        el = self.el
        sums, term_edges = [], []
        s = v
        while s in self.link:
            sums.append(s)
            s, term = self.link[s]
            term_edges.append(term)
        zero, sums, term_edges = s, sums[::-1], term_edges[::-1]
        scope = el.scope[v]
        if el.scope[zero] != scope or any(el.scope[s] != scope for s in sums):
            return  # a sum of terms made elsewhere keeps its own nodes
        terms = [el.src[e] for e in term_edges]
        products = [t for t in terms if self._product(t, scope)]
        if len(products) == len(terms):
            pairs = [self._pair(p) for p in products]
            if all(len(pair) == 2 and self._leaf(pair[0]) and not self._leaf(pair[1]) for pair in pairs):
                self.ending[v] = ("lin", [pair[0] for pair in pairs] + [pair[1] for pair in pairs])  # a row
            else:
                self.ending[v] = ("dot", [e for pair in pairs for e in pair])
            self.folded.update(products)
        else:
            self.ending[v] = ("sum", term_edges)
        self.folded.add(zero)
        self.folded.update(sums[:-1])

    def _zero(self, c):
        el = self.el
        return el.op[c] in self.zeros and el.data[c] == 0 and self.uses[c] == 1 and self._leaf_id(c)

    def _product(self, t, scope):
        el, first = self.el, self.first
        if el.op[t] != self.times or self.uses[t] != 1 or el.scope[t] != scope:
            return False
        k = first[t + 1] - first[t]
        return k == 2 or (k == 1 and el.multiplicity.get(first[t]) == 2)  # a * x, or x * x

    def _pair(self, p):
        """A product's operand edges, a leaf first (a weight times an input, as `linear` lays them out)."""
        e = self.first[p]
        if self.first[p + 1] - e == 1:
            return (e,)
        return (e + 1, e) if self._leaf(e + 1) and not self._leaf(e) else (e, e + 1)

    def _leaf(self, e):
        return self._leaf_id(self.el.src[e])

    def _leaf_id(self, i):
        return self.first[i] == self.first[i + 1]


def _uses(src, multiplicity, n):
    """How many times each node is an operand (x * x uses x twice)."""
    uses = array("I", bytes(4 * n))
    for u in src:
        uses[u] += 1
    for e, m in multiplicity.items():
        uses[src[e]] += m - 1
    return uses
