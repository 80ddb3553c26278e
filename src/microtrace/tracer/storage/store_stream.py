"""A store's view streamed to a writer (GraphML, GEXF) in bounded memory: the nodes in id order, a row
group at a time; the edges in the order networkx lists them (by source, then result), a range of sources
at a time; and, before either, the attribute types the writer declares, from one node of each kind.
"""

from array import array

import pyarrow as pa
import pyarrow.compute as pc

from microtrace.tracer.export.xml_graph import attr_types, flat_attrs
from microtrace.tracer.model import schema
from microtrace.tracer.storage.store import NODE_COLUMNS, check_edge_lists, node_rows

EDGE_BUDGET = 2_000_000  # edges sorted at once (~40 bytes each in Arrow)
_BUCKET = 16  # sources are counted in buckets of 2**16 ids
_SLICE = 65_536  # rows turned into Python objects at once
# the sparse columns but `extra`: which of them a node has (and its scope) fixes its attributes' names and types
_SHAPED = tuple(c for c in NODE_COLUMNS if c not in ("op", "data", "grad", "scope", "extra"))


def nodes(file, groups, rules):
    """(id, attrs) of every node in id order, one row group in memory at a time, held to the node `rules`."""
    first = 0
    for k in groups:
        t = file.read_row_group(k, columns=NODE_COLUMNS)
        yield from node_rows(t, range(first, first + t.num_rows), rules)
        first += t.num_rows


def node_types(file, groups, rules):
    """`xml_graph.attr_types` of every node's flattened attributes, from the first node of each shape (its
    scope and which sparse columns it has: they fix its attribute names and their types) and every node
    with free-form `extra` attributes, in id order (the names keep their order of first appearance)."""
    seen = set()

    def firsts():
        start = 0
        for k in groups:
            t = file.read_row_group(k, columns=["scope", *_SHAPED, "extra"])
            size = t.num_rows
            scope = t["scope"].combine_chunks()
            shape = pc.multiply(pc.cast(scope.indices, pa.int64()), 1 << len(_SHAPED))
            for bit, name in enumerate(_SHAPED):
                shape = pc.add(shape, pc.multiply(pc.cast(pc.is_valid(t[name]), pa.int64()), 1 << bit))
            first = (
                pa.table({"shape": shape, "row": pa.array(range(size), pa.int64())})
                .group_by("shape")
                .aggregate([("row", "min")])
            )
            picks = set(pc.indices_nonzero(pc.is_valid(t["extra"])).to_pylist())
            names = scope.dictionary
            for s, row in zip(first["shape"].to_pylist(), first["row_min"].to_pylist()):
                kind = (names[s >> len(_SHAPED)].as_py(), s & ((1 << len(_SHAPED)) - 1))
                if kind not in seen:
                    seen.add(kind)
                    picks.add(row)
            if picks:
                rows = sorted(picks)
                t = file.read_row_group(k, columns=NODE_COLUMNS).take(pa.array(rows, pa.int64()))
                yield from (flat_attrs(d) for _, d in node_rows(t, [start + r for r in rows], rules))
            start += size

    return attr_types(firsts(), "node")


def edge_types(file, groups, n_edges):
    """The edges' attribute types: local_grad and grad_flow, and multiplicity where an operand enters
    twice somewhere (x * x)."""
    if not n_edges:
        return {}
    known = schema.xml_types("edge")
    types = {k: known[k] for k in ("local_grad", "grad_flow")}
    for k in groups:
        if (
            file.read_row_group(k, columns=["multiplicity"])["multiplicity"].null_count
            < file.metadata.row_group(k).num_rows
        ):
            types["multiplicity"] = known["multiplicity"]
            break
    return types


def edges(file, groups, n_edges, budget=EDGE_BUDGET):
    """(u, v, attrs) of every edge by source, then result: what `networkx.DiGraph.edges` lists for the
    whole graph. Each pass reads the edge columns and sorts the edges of a range of sources holding at
    most `budget` edges (or one bucket of 2**16 sources)."""
    sizes = [file.metadata.row_group(k).num_rows for k in groups]
    for lo, hi in _source_ranges(file, groups, n_edges, budget):
        pieces, first = [], 0
        for k, size in zip(groups, sizes):
            if first + size > lo:  # (a group whose results all come before lo has no edge from [lo, hi))
                pieces.append(_edges_from(file, k, first, lo, hi))
            first += size
        t = pa.concat_tables(pieces)
        t = t.take(pc.sort_indices(t, [("src", "ascending"), ("dst", "ascending")]))
        for at in range(0, t.num_rows, _SLICE):
            part = t.slice(at, _SLICE)
            for u, v, lg, gf, m in zip(*(part[c].to_pylist() for c in ("src", "dst", "local", "flow", "mult"))):
                attrs = {"local_grad": lg, "grad_flow": gf}
                if m != 1:
                    attrs["multiplicity"] = m
                yield u, v, attrs


def _source_ranges(file, groups, n_edges, budget):
    """[lo, hi) ranges of source ids (the last hi None), each the sources of at most `budget` edges (or
    of one bucket)."""
    counts, total = {}, 0
    for k in groups:
        flat = file.read_row_group(k, columns=["operands"])["operands"].combine_chunks().flatten()
        total += len(flat)
        vc = pc.value_counts(pc.shift_right(flat, _BUCKET))
        for b, c in zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()):
            counts[b] = counts.get(b, 0) + c
    if total != n_edges:
        raise ValueError(f"{total} operands, the metadata says {n_edges} edges")
    ranges, lo, held = [], None, 0
    for b in sorted(counts):
        if lo is not None and held + counts[b] > budget:
            ranges.append((lo, b << _BUCKET))
            lo, held = None, 0
        if lo is None:
            lo = b << _BUCKET
        held += counts[b]
    if lo is not None:
        ranges.append((lo, None))
    return ranges


def _edges_from(file, k, first, lo, hi):
    """The edges of row group k (whose first node is `first`) from sources in [lo, hi) (hi None: no
    end), as a table."""
    t = file.read_row_group(k, columns=list(schema.EDGE_LISTS))
    check_edge_lists(t)
    operands, local, flow = (t[c].combine_chunks() for c in ("operands", "local_grads", "grad_flows"))
    src = operands.flatten()
    dst = pc.add(pc.cast(pc.list_parent_indices(operands), pa.uint32()), pa.scalar(first, pa.uint32()))
    if len(src) and not pc.all(pc.less(src, dst)).as_py():
        raise ValueError("an operand comes after its result")
    keep = pc.greater_equal(src, lo)
    if hi is not None:
        keep = pc.and_(keep, pc.less(src, hi))
    columns = {"src": src, "dst": dst, "local": local.flatten(), "flow": flow.flatten()}
    columns["mult"] = _multiplicity(t["multiplicity"].combine_chunks(), operands.offsets, len(src))
    return pa.table({name: col.filter(keep) for name, col in columns.items()})


def _multiplicity(col, offsets, n):
    """Per edge of a row group its multiplicity (1 but where an operand enters twice), from the lists
    stored on the few nodes that have such an operand."""
    out = array("B", b"\x01" * n)
    if col.null_count < len(col):
        rows = pc.indices_nonzero(pc.is_valid(col))
        for i, ms in zip(rows.to_pylist(), col.take(rows).to_pylist()):
            start = offsets[i].as_py() - offsets[0].as_py()
            out[start : start + len(ms)] = array("B", ms)
    return pa.Array.from_buffers(pa.uint8(), n, [None, pa.py_buffer(out)])
