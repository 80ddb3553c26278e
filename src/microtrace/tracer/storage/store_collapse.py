"""`collapse` of a store's view in Arrow, one batch of rows at a time: memory bounded by a batch and
one group number a node, never a Python object a node or an edge.

The statistics are the exact ones `collapse` computes in Python (`math.fsum`: every sum correctly
rounded), not Arrow's floating-point sums, which are not. A finite double is `m * 2**(e - 1075)` with an
integer `|m| < 2**53`: split `m` into halves of 27 and 26 bits and the int64 sums of the halves per
(group, exponent) are exact for any number of rows below 2**36. Those few partial sums (groups x
exponents) are added in Python integers and rounded once; nan and inf are counted apart, as `stats.fsum`
treats them (nan wins, inf + -inf is nan).
"""

import math

import pyarrow as pa
import pyarrow.compute as pc

BATCH = 65_536  # rows a batch: one row group of a store
_HALF = 26  # bits of the low half of a mantissa
_SCALE = 1074  # every finite double is an integer multiple of 2**-1074


class _Sums:
    """Exact sums of several quantities (keyed by an int64 each), fed batch by batch in Arrow."""

    def __init__(self):
        self.parts, self.specials = [], []

    def add(self, keys, x):
        """Add the doubles `x` to the sums keyed by `keys` (int64 arrays of one length)."""
        nan, inf = pc.is_nan(x), pc.is_inf(x)
        positive = pc.greater(x, 0.0)
        self.specials.append(
            pa.table(
                {
                    "key": keys,
                    "nan": pc.cast(nan, pa.int64()),
                    "pinf": pc.cast(pc.and_(inf, positive), pa.int64()),
                    "ninf": pc.cast(pc.and_(inf, pc.invert(positive)), pa.int64()),
                }
            )
            .group_by("key")
            .aggregate([("nan", "sum"), ("pinf", "sum"), ("ninf", "sum")])
        )
        finite = pc.is_finite(x)
        keys, x = keys.filter(finite), x.filter(finite)
        bits = pa.Array.from_buffers(pa.int64(), len(x), [None, x.buffers()[1]], offset=x.offset)
        biased = pc.bit_wise_and(pc.shift_right(bits, 52), 0x7FF)
        mantissa = pc.bit_wise_and(bits, (1 << 52) - 1)
        normal = pc.greater(biased, 0)
        mantissa = pc.if_else(normal, pc.bit_wise_or(mantissa, 1 << 52), mantissa)
        exponent = pc.if_else(normal, biased, 1)  # subnormals share the smallest normal's scale
        negative = pc.less(bits, 0)
        hi, lo = pc.shift_right(mantissa, _HALF), pc.bit_wise_and(mantissa, (1 << _HALF) - 1)
        self.parts.append(
            pa.table(
                {
                    "key": keys,
                    "exponent": exponent,
                    "hi": pc.if_else(negative, pc.negate(hi), hi),
                    "lo": pc.if_else(negative, pc.negate(lo), lo),
                }
            )
            .group_by(["key", "exponent"])
            .aggregate([("hi", "sum"), ("lo", "sum")])
        )

    def totals(self):
        """key -> the correctly rounded sum, nan/inf as `stats.fsum` gives them."""
        exact = {}
        parts = _regroup(self.parts, ["key", "exponent"], [("hi_sum", "sum"), ("lo_sum", "sum")])
        for key, e, hi, lo in zip(*(parts[c].to_pylist() for c in ("key", "exponent", "hi_sum_sum", "lo_sum_sum"))):
            exact[key] = exact.get(key, 0) + (((hi << _HALF) + lo) << (e - 1))
        specials = _regroup(self.specials, ["key"], [("nan_sum", "sum"), ("pinf_sum", "sum"), ("ninf_sum", "sum")])
        out = {}
        for key, nan, pinf, ninf in zip(
            *(specials[c].to_pylist() for c in ("key", "nan_sum_sum", "pinf_sum_sum", "ninf_sum_sum"))
        ):
            if nan or (pinf and ninf):
                out[key] = math.nan
            elif pinf or ninf:
                out[key] = math.inf if pinf else -math.inf
            else:
                out[key] = rounded(exact.get(key, 0))
        return out


def rounded(total):
    """`total * 2**-1074` (an int) as the nearest double (Python's int division rounds correctly), ±inf
    when it overflows."""
    try:
        return total / (1 << _SCALE)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def _regroup(tables, keys, aggregations):
    """Partial aggregates of several batches aggregated again (sums of sums, maxima of maxima)."""
    return pa.concat_tables(tables).group_by(keys).aggregate(aggregations)


def collapse_stats(batches, n_edges, key_of):
    """(keys, attrs, flows) of `collapse` from `batches()`: a function giving iterators of record
    batches of a view in id order, called once with the node columns ["op", "data", "grad", "scope"] and
    once with the edge columns ["operands", "grad_flows"]. `key_of(scope)` names a scope's group.

    keys: group names in order of their first node; attrs: per group its statistics; flows:
    {(group u, group v): (count, grad_flow, grad_flow_abs)} in order of the first edge between them."""
    group_of, order, nodes = _node_pass(batches(["op", "data", "grad", "scope"]), key_of)
    number = {g: i for i, g in enumerate(order)}  # provisional group number -> place by first node
    count = len(nodes["names"])
    internal, pairs, flows = _edge_pass(batches(["operands", "grad_flows"]), group_of, n_edges, count)
    keys = [nodes["names"][g] for g in order]
    attrs = [_group_attrs(nodes, g, internal.get(g, 0)) for g in order]
    out = {}
    for pair in pairs:
        u, v = divmod(pair, count)
        out[number[u], number[v]] = (flows["count"][pair], flows["sum"][2 * pair], flows["sum"][2 * pair + 1])
    return keys, attrs, out


def _node_pass(batches, key_of):
    """Per node its provisional group number (one uint32 array); groups in order of first node; and
    the groups' statistics as dicts keyed by group number."""
    names, number, order, seen = [], {}, [], set()
    chunks, counts, ops, sums = [], [], [], _Sums()
    lookup_dict, lookup = None, None
    for batch in batches:
        op, data, grad, scope = (batch.column(c) for c in ("op", "data", "grad", "scope"))
        if op.null_count or data.null_count or grad.null_count or scope.null_count:
            raise ValueError("a node has no op, scope, value or gradient")
        if lookup_dict is None or not scope.dictionary.equals(lookup_dict):
            codes = []
            for s in scope.dictionary.to_pylist():
                key = key_of(s)
                if key not in number:
                    number[key] = len(names)
                    names.append(key)
                codes.append(number[key])
            lookup_dict, lookup = scope.dictionary, pa.array(codes, pa.int64())
        g = lookup.take(scope.indices)
        chunks.append(pc.cast(g, pa.uint32()))
        for k in pc.unique(g).to_pylist():  # in order of first appearance
            if k not in seen:
                seen.add(k)
                order.append(k)
        const = _is_op(op, "const")
        counted = pc.invert(const)  # constants' gradients are no gradient anyone reads (collapse.py)
        abs_grad, abs_data = pc.abs(grad), pc.abs(data)
        counts.append(
            pa.table(
                {
                    "g": g,
                    "nonfinite": pc.cast(pc.invert(pc.and_(pc.is_finite(data), pc.is_finite(grad))), pa.int64()),
                    "zero": pc.cast(pc.equal(grad, 0.0), pa.int64()),
                    "gmax": pc.if_else(pc.and_(counted, pc.invert(pc.is_nan(grad))), abs_grad, 0.0),
                    "dmax": pc.if_else(pc.is_nan(data), 0.0, abs_data),
                }
            )
            .group_by("g")
            .aggregate([("g", "count"), ("nonfinite", "sum"), ("zero", "sum"), ("gmax", "max"), ("dmax", "max")])
        )
        ops.append(
            pa.table({"g": g, "op": pc.take(op.dictionary, op.indices)})
            .group_by(["g", "op"])
            .aggregate([("g", "count")])
        )
        counted_g = g.filter(counted)
        grads = grad.filter(counted)
        sums.add(pc.multiply(counted_g, 3), pc.multiply(grads, grads))  # quantity 0: grad²
        sums.add(pc.add(pc.multiply(counted_g, 3), 1), pc.abs(grads))  # 1: |grad|
        sums.add(pc.add(pc.multiply(g, 3), 2), pc.multiply(data, data))  # 2: data²
    stats = _regroup(
        counts,
        ["g"],
        [("g_count", "sum"), ("nonfinite_sum", "sum"), ("zero_sum", "sum"), ("gmax_max", "max"), ("dmax_max", "max")],
    )
    per_op = _regroup(ops, ["g", "op"], [("g_count", "sum")])
    group_of = pa.chunked_array(chunks, pa.uint32()).combine_chunks() if chunks else pa.array([], pa.uint32())
    return group_of, order, {"names": names, "stats": _by_group(stats), "ops": _ops(per_op), "sums": sums.totals()}


def _is_op(op, name):
    """Where the dictionary column `op` is `name` (a mask)."""
    codes = [i for i, s in enumerate(op.dictionary.to_pylist()) if s == name]
    return pc.is_in(op.indices, value_set=pa.array(codes, op.indices.type))


def _by_group(t):
    cols = [t[c].to_pylist() for c in ("g", "g_count_sum", "nonfinite_sum_sum", "zero_sum_sum")]
    maxima = [t[c].to_pylist() for c in ("gmax_max_max", "dmax_max_max")]
    return {g: (n, nf, z, gm, dm) for (g, n, nf, z), (gm, dm) in zip(zip(*cols), zip(*maxima))}


def _ops(t):
    out = {}
    for g, op, n in zip(*(t[c].to_pylist() for c in ("g", "op", "g_count_sum"))):
        out.setdefault(g, {})[op] = n
    return out


def _group_attrs(nodes, g, internal):
    count, nonfinite, zero, gmax, dmax = nodes["stats"][g]
    sums = nodes["sums"]
    grad_sq, grad_abs, data_sq = (sums.get(3 * g + q, 0.0) for q in range(3))
    grad_nan = math.isnan(grad_abs)  # a nan gradient makes |grad|'s sum nan, and its maximum
    return {
        "count": count,
        "ops": dict(sorted(nodes["ops"][g].items())),
        "grad_norm": math.sqrt(grad_sq),
        "grad_abs_sum": grad_abs,
        "grad_abs_max": math.nan if grad_nan else gmax,
        "data_norm": math.sqrt(data_sq),
        "data_abs_max": math.nan if math.isnan(data_sq) else dmax,  # data² is nan only where data is
        "nonfinite": nonfinite,
        "zero_grad": zero,
        "internal_edges": internal,
    }


def _edge_pass(batches, group_of, n_edges, groups):
    """Edges within one group counted per group; between groups, per pair (gu * groups + gv) in order
    of their first edge, with the exact sums of grad_flow (quantity 2 * pair) and |grad_flow| (+1)."""
    seen, order, internal, counts, sums = set(), [], [], [], _Sums()
    first, edges = 0, 0
    for batch in batches:
        operands, flows = batch.column("operands"), batch.column("grad_flows")
        if operands.null_count or flows.null_count or not operands.offsets.equals(flows.offsets):
            raise ValueError("a node's operands and gradient flows do not match")
        src = pc.cast(operands.flatten(), pa.int64())
        dst = pc.add(pc.cast(pc.list_parent_indices(operands), pa.int64()), first)
        flow = flows.flatten()
        if len(src) and not pc.all(pc.less(src, dst)).as_py():
            raise ValueError("an operand comes after its result")
        gu, gv = (pc.cast(group_of.take(x), pa.int64()) for x in (src, dst))
        same = pc.equal(gu, gv)
        internal.append(pa.table({"g": gv.filter(same)}).group_by("g").aggregate([("g", "count")]))
        cross = pc.invert(same)
        pair = pc.add(pc.multiply(gu.filter(cross), groups), gv.filter(cross))
        for p in pc.unique(pair).to_pylist():
            if p not in seen:
                seen.add(p)
                order.append(p)
        counts.append(pa.table({"pair": pair}).group_by("pair").aggregate([("pair", "count")]))
        flow = flow.filter(cross)
        sums.add(pc.multiply(pair, 2), flow)
        sums.add(pc.add(pc.multiply(pair, 2), 1), pc.abs(flow))
        first += len(operands)
        edges += len(src)
    if edges != n_edges:
        raise ValueError(f"{edges} operands, the metadata says {n_edges} edges")
    inside = _regroup(internal, ["g"], [("g_count", "sum")])
    per_pair = _regroup(counts, ["pair"], [("pair_count", "sum")])
    count = dict(zip(per_pair["pair"].to_pylist(), per_pair["pair_count_sum"].to_pylist()))
    flows = {"count": count, "sum": sums.totals()}
    return dict(zip(inside["g"].to_pylist(), inside["g_count_sum"].to_pylist())), order, flows
