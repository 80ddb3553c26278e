"""Saving and loading traces: the store (Parquet, tracer/store.py), node-link JSON for small steps,
GraphML and GEXF exports. A trace file is recognised by its content, whatever its name.

Every file is written atomically (`engine.atomic`), so an interrupted write never leaves half a file
where a good one was.
"""

import os
from pathlib import Path

import networkx as nx

from microtrace.engine.atomic import write_atomic
from microtrace.engine.jsontext import compact
from microtrace.engine.data import visible
from microtrace.engine.limits import LimitError, parse_json, read_input

from microtrace.tracer.expand import from_graph
from microtrace.tracer.store import Store, is_store, write_store
from microtrace.tracer.trace import Trace, TraceError
from microtrace.tracer.validate import validate_trace

EXPORT_FORMATS = ("json", "graphml", "gexf")
# Exports build the whole networkx graph (~2.5 KB a node): above this they refuse and point at the
# store, which holds any size, and at collapsed levels.
EXPORT_MAX_NODES = 400_000


def to_json(G: nx.DiGraph) -> str:
    """The trace file's text: networkx node-link data (edges under "edges"); nan/inf as NaN/Infinity."""
    return compact(nx.node_link_data(G, edges="edges"))


def save_trace(G: nx.DiGraph, path: str | os.PathLike) -> None:
    write_atomic(path, to_json(G))


def save_store(trace: Trace, path: str | os.PathLike, views=None) -> dict:
    """Write `trace` (both views by default) as a store at `path`, atomically; a view the trace has not
    built yet is built, written and dropped before the next (one copy of the step at a time). Returns
    each view's counts: {view: {"nodes", "edges", "loss_node"}}."""
    return write_store(path, _meta(trace.meta), ((v, trace.data(v, keep=False)) for v in views or trace.views()))


def _meta(meta):
    return {k: v for k, v in meta.items() if k not in ("view", "loss_node")}


def load_trace(path: str | os.PathLike) -> Trace:
    """A `Trace` from a store or a JSON trace file (told apart by content); TraceError (one line) for a
    missing, corrupt, truncated, foreign, too large or invalid file (`validate.validate_trace` says what
    of a JSON file may be trusted, `store.Store` what of a store)."""
    path = Path(path)
    if path.is_dir():
        raise TraceError(f"{path} is a directory, not a trace file")
    if is_store(path):
        store = Store(path)
        return Trace(store.meta, store=store)
    try:
        raw = read_input(path)
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except IsADirectoryError:
        raise TraceError(f"{path} is a directory, not a trace file") from None
    except LimitError as e:
        raise TraceError(str(e)) from None
    except OSError as e:
        raise TraceError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        data = parse_json(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise TraceError(f"{path}: not a trace file (invalid JSON: {e})") from None
    except RecursionError:
        raise TraceError(f"{path}: not a trace file (its JSON is nested too deeply)") from None
    del raw
    try:
        validate_trace(data)
    except TraceError as e:
        raise TraceError(f"{path}: {e}") from None
    G = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    view = G.graph["view"]
    return Trace(_meta(G.graph), sources={view: from_graph(G)}, graphs={view: G})


def check_export_size(nodes, fmt):
    """TraceError when a graph of `nodes` nodes is too big to export as `fmt` (checked before building it)."""
    if nodes > EXPORT_MAX_NODES:
        raise TraceError(
            f"{nodes:,} nodes are too many to export as {fmt} (at most {EXPORT_MAX_NODES:,}): export a "
            "collapsed --level, or keep the step as a store (microtrace trace -o step.parquet) and query it"
        )


def flat_copy(G):
    """A copy with only scalar attributes, as GraphML and GEXF require (docs/trace-format.md)."""
    H = nx.DiGraph()
    H.graph.update({k: _scalar(v) for k, v in G.graph.items()})
    for n, d in G.nodes(data=True):
        attrs = {}
        for k, v in d.items():
            if k == "index":
                attrs["index_row"], attrs["index_col"] = v
            else:
                attrs[k] = _scalar(v)
        H.add_node(n, **attrs)
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, **{k: _scalar(x) for k, x in d.items()})
    return H


def _scalar(v):
    """A GraphML/GEXF value: containers as JSON, text with what XML 1.0 cannot hold shown visibly."""
    if isinstance(v, (dict, list, tuple)):
        return compact(v)
    return visible(v) if isinstance(v, str) else v


def export_bytes(G: nx.DiGraph, fmt: str) -> bytes:
    """G as `json` (the trace file), `graphml` or `gexf`, as the bytes of the file."""
    if fmt not in EXPORT_FORMATS:
        raise TraceError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    check_export_size(G.number_of_nodes(), fmt)
    if fmt == "json":
        return to_json(G).encode("utf-8")
    H = flat_copy(G)
    lines = nx.generate_graphml(H) if fmt == "graphml" else nx.generate_gexf(H)
    return ("\n".join(lines) + "\n").encode("utf-8")


def export(G: nx.DiGraph, path: str | os.PathLike, fmt: str) -> None:
    """Write G as `json` (the trace file), `graphml` or `gexf`, atomically."""
    write_atomic(path, export_bytes(G, fmt))
