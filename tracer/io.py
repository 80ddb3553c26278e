"""Saving and loading traces: node-link JSON (the trace file), GraphML and GEXF exports.

Every file is written atomically (`engine.atomic`), so an interrupted write never leaves half a file
where a good one was.
"""

import json
import os
from pathlib import Path

import networkx as nx

from microtrace.engine.atomic import write_atomic
from microtrace.engine.jsontext import compact
from microtrace.engine.data import visible
from microtrace.engine.limits import LimitError, read_input

from microtrace.tracer.trace import Trace, TraceError
from microtrace.tracer.validate import validate_trace

EXPORT_FORMATS = ("json", "graphml", "gexf")


def to_json(G: nx.DiGraph) -> str:
    """The trace file's text: networkx node-link data (edges under "edges"); nan/inf as NaN/Infinity."""
    return compact(nx.node_link_data(G, edges="edges"))


def save_trace(G: nx.DiGraph, path: str | os.PathLike) -> None:
    write_atomic(path, to_json(G))


def load_trace(path: str | os.PathLike) -> Trace:
    """A `Trace` from a trace file; TraceError (one line) for a missing, corrupt, foreign, too large or
    invalid file (`validate.validate_trace` says what may be trusted)."""
    path = Path(path)
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
        data = json.loads(raw)
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
    meta = {k: v for k, v in G.graph.items() if k not in ("view", "loss_node")}
    return Trace(meta, graphs={G.graph["view"]: G})


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
    if fmt == "json":
        return to_json(G).encode("utf-8")
    H = flat_copy(G)
    lines = nx.generate_graphml(H) if fmt == "graphml" else nx.generate_gexf(H)
    return ("\n".join(lines) + "\n").encode("utf-8")


def export(G: nx.DiGraph, path: str | os.PathLike, fmt: str) -> None:
    """Write G as `json` (the trace file), `graphml` or `gexf`, atomically."""
    write_atomic(path, export_bytes(G, fmt))
