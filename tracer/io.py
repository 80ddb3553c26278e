"""Saving and loading traces: node-link JSON (the trace file), GraphML and GEXF exports.

Every file is written atomically (`engine.atomic`), so an interrupted write never leaves half a file
where a good one was.
"""

import json
from pathlib import Path

import networkx as nx

from microtrace.engine.atomic import write_atomic
from microtrace.engine.jsontext import compact

from microtrace.tracer.trace import FORMAT, Trace, TraceError

EXPORT_FORMATS = ("json", "graphml", "gexf")


def to_json(G):
    """The trace file's text: networkx node-link data (edges under "edges"); nan/inf as NaN/Infinity."""
    return compact(nx.node_link_data(G, edges="edges"))


def save_trace(G, path):
    write_atomic(path, to_json(G))


def load_trace(path):
    """A `Trace` from a trace file; TraceError (one line) for a missing, corrupt or foreign file."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except IsADirectoryError:
        raise TraceError(f"{path} is a directory, not a trace file") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise TraceError(f"{path}: not a trace file (invalid JSON: {e})") from None
    graph = data.get("graph") if isinstance(data, dict) else None
    if not isinstance(graph, dict) or "format" not in graph:
        raise TraceError(f"{path}: not a microtrace trace file (no format field)")
    if graph["format"] != FORMAT:
        raise TraceError(f"{path}: trace format {graph['format']!r}, this microtrace reads format {FORMAT}")
    try:
        G = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    except (KeyError, TypeError, nx.NetworkXError) as e:
        raise TraceError(f"{path}: corrupt trace file ({e})") from None
    meta = {k: v for k, v in G.graph.items() if k not in ("view", "loss_node")}
    return Trace(meta, graphs={G.graph.get("view", "elementary"): G})


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
    return compact(v) if isinstance(v, (dict, list, tuple)) else v


def export(G, path, fmt):
    """Write G as `json` (the trace file), `graphml` or `gexf`."""
    if fmt not in EXPORT_FORMATS:
        raise TraceError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "json":
        return save_trace(G, path)
    H = flat_copy(G)
    lines = nx.generate_graphml(H) if fmt == "graphml" else nx.generate_gexf(H)
    write_atomic(path, "\n".join(lines) + "\n")
