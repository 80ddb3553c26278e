"""Saving and loading traces: the store (Parquet, tracer/storage/store.py), node-link JSON for small steps,
and the exports: node-link JSON, GraphML, GEXF and Google Model Explorer's graph JSON. A trace file is
recognised by its content, whatever its name.

Every file is written atomically (`util.atomic`), so an interrupted write never leaves half a file
where a good one was. JSON is strict (RFC 8259): non-finite numbers in the form `nan_as` names
(tracer/export/strict_json.py), by default the strings "NaN", "Infinity", "-Infinity".
"""

import os
from pathlib import Path

import networkx as nx

from microtrace.tracer.export import strict_json, xml_graph
from microtrace.tracer.model.columns import from_graph
from microtrace.tracer.model.trace import Trace, TraceError
from microtrace.tracer.storage.store import ROW_GROUP, Store, _require, is_store
from microtrace.tracer.storage.validate import validate_trace
from microtrace.util.atomic import write_atomic, write_atomic_chunks
from microtrace.util.limits import LimitError, parse_json, read_input

EXPORT_FORMATS = ("json", "graphml", "gexf", "model-explorer")
EDGES_KEYS = ("edges", "links")  # networkx's node-link default, and d3-force's name for the same list
# JSON and model-explorer exports build the whole networkx graph (~2.5 KB a node): above this they
# refuse and point at the store, which holds any size, GraphML and GEXF, which stream, and the parts.
EXPORT_MAX_NODES = 400_000
STREAMED = ("graphml", "gexf")  # written a node and an edge at a time: any size


def to_json(G: nx.DiGraph, nan_as: str = "string", edges_key: str = "edges") -> str:
    """The trace file's text: networkx node-link data, edges under `edges_key` ("links" for d3), strict
    JSON with non-finite numbers as `nan_as` says (tracer/export/strict_json.py)."""
    if edges_key not in EDGES_KEYS:
        raise TraceError(f"unknown edges key {edges_key!r}: use one of {', '.join(EDGES_KEYS)}")
    return strict_json.dumps(nx.node_link_data(G, edges=edges_key), nan_as, separators=(",", ":"))


def _graph_of(G):
    """A graph from a `Trace` (its elementary view, or the one view a loaded file holds) or a graph: a file
    keeps microGPT's own ops unless asked for the fused view (`trace --view`)."""
    return G.graph(G.default_view("elementary")) if isinstance(G, Trace) else G


def save_trace(
    G: Trace | nx.DiGraph, path: str | os.PathLike, nan_as: str = "string", edges_key: str = "edges"
) -> None:
    """Save a JSON trace file: `G` is a `Trace` or one of its graphs."""
    write_atomic(path, to_json(_graph_of(G), nan_as, edges_key))


def save_store(trace: Trace, path: str | os.PathLike, views=None, row_group: int = ROW_GROUP, on_progress=None) -> dict:
    """Write `trace` (both views by default) as a store at `path`, atomically. A view a live trace has
    not built is written a row group (`row_group` nodes) at a time as it is made from the recording
    (`Trace.pieces`): memory holds the recording and one row group, not a second copy of the step.
    The bytes are those of the view written whole. `on_progress(done, total)` follows the writing, the
    views one after the other (for a progress bar). Returns each view's counts: {view: {"nodes",
    "edges", "loss_node"}}."""
    _require()  # pyarrow, or one line saying how to install it
    from microtrace.tracer.storage.store_write import write_store  # imports pyarrow: only when a store is written

    views = views or trace.views()

    def pieces(i, view):
        def report(done, total):  # view i of n: from i/n to (i + 1)/n of n * total
            on_progress(i * total + done, len(views) * total)

        return trace.pieces(view, row_group, on_progress and report)

    return write_store(path, _meta(trace.meta), ((v, pieces(i, v)) for i, v in enumerate(views)), row_group)


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
    if isinstance(data, dict) and "links" in data and "edges" not in data:
        data["edges"] = data.pop("links")  # d3's name for the same list (export --links)
    strict_json.decode_nonfinite(data)  # "NaN", "Infinity" (strict JSON) back to numbers
    try:
        validate_trace(data)
    except TraceError as e:
        raise TraceError(f"{path}: {e}") from None
    G = nx.node_link_graph(data, directed=True, multigraph=False, edges="edges")
    view = G.graph["view"]
    return Trace(_meta(G.graph), sources={view: from_graph(G)}, graphs={view: G})


def check_export_size(nodes, fmt):
    """TraceError when a graph of `nodes` nodes is too big to export as `fmt` (checked before building
    it). GraphML and GEXF stream (`export_chunks`): any size."""
    if nodes > EXPORT_MAX_NODES and fmt not in STREAMED:
        raise TraceError(
            f"{nodes:,} nodes are too many to export as {fmt} (at most {EXPORT_MAX_NODES:,}): export a part "
            "(a scope, a collapsed level), GraphML or GEXF (any size), or query the store (a .parquet trace)"
        )


def export_chunks(trace: Trace, fmt: str, view: str | None = None, on_progress=None):
    """A whole view of `trace` as GraphML or GEXF text, piece by piece, streamed in bounded memory
    from a store (`StoreData.stream`) or from the columns of a live trace: the same text `export_bytes`
    makes of `trace.graph(view)`, without building it. `on_progress(done, total)` counts the nodes and
    edges as they are written (a live trace's are also read once before, for their types)."""
    if fmt not in STREAMED:
        raise TraceError(f"only {' and '.join(STREAMED)} stream, not {fmt!r}")
    view = view or trace.default_view()
    write = xml_graph.graphml_chunks if fmt == "graphml" else xml_graph.gexf_chunks
    if trace.has_graph(view):  # (a JSON trace file: its graph, as it was read)
        G = trace.graph(view)
        count = _Count(on_progress, G.number_of_nodes() + G.number_of_edges())
        node_types, edge_types = xml_graph.types_of(G)
        return write(G.graph, node_types, edge_types, count(G.nodes(data=True)), count(G.edges(data=True)))
    gd = trace.data(view)  # columns, from a recording or a store: each streams its own way
    count = _Count(on_progress, gd.STREAM_PASSES * (len(gd) + gd.n_edges()))
    return write(trace.graph_attrs(view), *gd.stream(count))


class _Count:
    """Counts the items passing through it, reporting `on_progress(done, total)` every REPORT_EVERY
    of them and at `total` (for a progress bar); with no `on_progress`, hands the items on as they are."""

    REPORT_EVERY = 8192

    def __init__(self, on_progress, total):
        self.on_progress, self.total, self.done = on_progress, total, 0

    def __call__(self, items):
        return self._counted(items) if self.on_progress else items

    def _counted(self, items):
        if self.done == 0:
            self.on_progress(0, self.total)
        for item in items:
            yield item
            self.done += 1
            if self.done % self.REPORT_EVERY == 0 or self.done == self.total:
                self.on_progress(self.done, self.total)


def export_bytes(G: Trace | nx.DiGraph, fmt: str, nan_as: str = "string", edges_key: str = "edges") -> bytes:
    """G (a graph or a `Trace`) as `json` (the trace file: `nan_as`, `edges_key` as in `to_json`), `graphml`,
    `gexf` or `model-explorer` (tracer/export/model_explorer.py), as the bytes of the file."""
    if fmt not in EXPORT_FORMATS:
        raise TraceError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    G = _graph_of(G)
    check_export_size(G.number_of_nodes(), fmt)
    if fmt == "json":
        return to_json(G, nan_as, edges_key).encode("utf-8")
    if fmt == "model-explorer":
        from microtrace.tracer.export.model_explorer import model_explorer_json

        return model_explorer_json(G).encode("utf-8")
    return (xml_graph.graphml(G) if fmt == "graphml" else xml_graph.gexf(G)).encode("utf-8")


def export(
    G: Trace | nx.DiGraph, path: str | os.PathLike, fmt: str, nan_as: str = "string", edges_key: str = "edges"
) -> None:
    """Write G as `export_bytes` makes it, atomically; GraphML and GEXF of a `Trace` stream
    (`export_chunks`: any size, in bounded memory)."""
    if isinstance(G, Trace) and fmt in STREAMED:
        write_atomic_chunks(path, export_chunks(G, fmt, G.default_view("elementary")))
    else:
        write_atomic(path, export_bytes(G, fmt, nan_as, edges_key))
