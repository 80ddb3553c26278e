"""`trace_step`: the complete computation graph of one training step, as a `Trace`."""

import math
import os
import warnings
from pathlib import Path

import networkx as nx

from microtrace.engine.data import DataError
from microtrace.engine.run import Run, RunError, microtrace_version, open_run
from microtrace.engine.train import Trainer
from microtrace.tracer.analysis import stats
from microtrace.tracer.capture.record import record_step
from microtrace.tracer.model.columns import GraphData, expand, expand_pieces
from microtrace.util.errors import BadInput

FORMAT = 1
GRAPH_WARN = 1_000_000  # nodes: above this, graph() warns that it needs gigabytes


class TraceError(BadInput):
    """A request the trace cannot answer (unknown scope, node, step, file); one line for the user."""


def trace_step(source: str | os.PathLike | Run | Trainer, step: int | None = None, on_step=None) -> "Trace":
    """Trace training step `step` (0-based) of a run directory, a `Run`, or a `Trainer`.

    A run is replayed untraced from its nearest checkpoint at or before `step`; a `Trainer` is
    advanced untraced to `step` (default: its current step) and then takes the traced step, exactly
    as `train_step` would. The traced numbers are bit-identical to an untraced run. `on_step(done, total)`
    follows the replay (for a progress bar).
    """
    trainer, meta = _trainer_at(source, step, trained_model=False, on_step=on_step)
    k = trainer.step
    rec = record_step(trainer)
    trainer.losses.append(rec.loss.data)
    return _trace(trainer, k, trainer.doc_for(k), trainer.tokens_for(k), rec, meta)


# The view every command and page counts, draws and numbers nodes in when a trace has both (a file holds
# one): the fused view, the engine's own nodes (a dot product is one Value, as `backward()` walks them).
# The explorer can only draw that one down to its scalars (the elementary view is 7x the nodes), so the
# report, inspect, doctor, graph and film count in it too: one step, one node count, one id per node.
DEFAULT_VIEW = "fused"


def trace_text(source: str | os.PathLike | Run | Trainer, step: int, text: str) -> "Trace":
    """Forward and backward of `text`, as if it were a training document, with the model state at the
    start of `step` (of a run directory, a `Run` or a `Trainer`); `step` = the run's steps is the trained
    model, after the last update. No update is made: the graph has no Adam attributes and a `Trainer`
    passed in is left at `step`, unchanged.
    """
    trainer, meta = _trainer_at(source, step, trained_model=True)
    block = trainer.config.block_size
    try:
        tokens = trainer.tokenizer.encode(text)
    except ValueError as e:
        raise TraceError(f"{text!r}: {e}") from None
    if len(text) > block:
        raise TraceError(f"{text!r} has {len(text)} characters; this model reads at most block_size = {block}")
    rec = record_step(trainer, tokens[: block + 1])
    return _trace(trainer, trainer.step, text, tokens[: block + 1], rec, meta, update=False)


def _trace(trainer, k, doc, tokens, rec, meta, update=True):
    tok = trainer.tokenizer
    graph_attrs = {
        "format": FORMAT,
        "version": microtrace_version(),
        "step": k,
        "doc": doc,
        "tokens": tokens,
        "chars": [tok.label(t) for t in tokens],
        "loss": float(rec.loss.data),
        "config": meta,
        "seed": trainer.train_config.seed,
        "update": update,
        "lr": rec.lr,
        "param_stats": param_stats(rec.adam),
    }
    return Trace(graph_attrs, recording=rec)


def _trainer_at(source, step, trained_model, on_step=None):
    """The trainer at the start of `step`; `trained_model`: step may also be the run's steps (the
    model after the last update, which has no step of its own to trace)."""
    if isinstance(source, Trainer):
        trainer = source
        total = trainer.train_config.steps
        if step is not None:
            if step < trainer.step:
                raise TraceError(f"step {step} is behind this trainer (it is at step {trainer.step})")
            if step > total or (step == total and not trained_model):
                raise TraceError(_beyond(step, total, trained_model))
            while trainer.step < step:
                trainer.train_step()
        elif trainer.step == total and not trained_model:
            raise TraceError(_beyond(trainer.step, total, trained_model))
        meta = {**trainer.config.to_dict(), **trainer.train_config.to_dict()}
        return trainer, meta
    if step is None:
        raise TraceError("which step? pass step=K")
    try:
        run = open_run(source) if isinstance(source, (str, Path)) else source
        if step == run.steps and not trained_model:
            raise TraceError(_beyond(step, run.steps, trained_model))
        trainer = run.trainer_at(step, on_step)
    except (RunError, DataError) as e:
        raise TraceError(str(e)) from None
    return trainer, dict(run.config)


def _beyond(step, total, trained_model):
    if step == total:
        return (
            f"step {step} is the trained model after the last update: it has no training step to trace "
            f"(steps 0..{total - 1}); it can still read a text (trace_text)"
        )
    last = total if trained_model else total - 1
    return f"step {step} is beyond the run (steps 0..{last}; {total} is the trained model)"


def param_stats(adam):
    """Gradient and update statistics of each parameter matrix, in model order (tracer/analysis/stats.py: a
    matrix with a nan gradient has nan statistics, and `nonfinite` counts its non-finite gradients)."""
    out = {}
    for name, rows in adam.items():
        entries = [e for row in rows for e in row]
        grads = stats.summary(e[2] for e in entries)
        data = [e[0] for e in entries]
        data_norm = stats.norm(data)
        out[name] = {
            "shape": [len(rows), len(rows[0])],
            "grad_norm": grads["norm"],
            "grad_abs_mean": grads["abs_mean"],
            "grad_abs_max": grads["abs_max"],
            "zero_fraction": grads["zero_fraction"],
            "nonfinite": grads["nonfinite"],
            "data_norm": data_norm,
            "data_nonfinite": stats.count_nonfinite(data),
        }
        if entries[0][1] is not None:  # a training step: how big its update was
            update_norm = stats.norm(e[1] - e[0] for e in entries)
            out[name]["update_norm"] = update_norm
            out[name]["update_ratio"] = update_norm / data_norm if data_norm else math.inf
            out[name]["moved_without_grad"] = moved_without_grad(rows)
    return out


def moved_without_grad(rows):
    """{"row,col": [before, after]} of the entries the update moves although their gradient is 0: no
    node of the step holds them when it does not read them, yet Adam's momentum moves them."""
    return {
        f"{r},{c}": [before, after]
        for r, row in enumerate(rows)
        for c, (before, after, grad, *_) in enumerate(row)
        if grad == 0 and after != before and math.isfinite(before) and math.isfinite(after)
    }


class Source:
    """Where a trace's columns come from; one small class per backend, the same questions of each, so
    `Trace` never asks which it has. `views`: the views it can give; `read(view)`: a view's columns
    (`GraphData`, or a store's `StoreData`, which answer `collapse_stats`, `stream` and `nonfinite` each
    their own way); `pieces`: a view in pieces of `rows` nodes (by default whole, in one piece); `size`:
    (nodes, edges) of a view when known without reading it, else None."""

    views: tuple[str, ...] = ()
    recording = None  # the live recording, for a trace made in this process

    def read(self, view: str) -> GraphData:
        raise NotImplementedError

    def pieces(self, view: str, rows: int, on_progress=None):
        yield self.read(view)
        if on_progress:
            on_progress(1, 1)

    def size(self, view: str) -> tuple[int, int] | None:
        return None


class RecordingSource(Source):
    """A step recorded in this process: both views, each expanded from the recording when first asked,
    or a row group at a time while a store is written (`columns.expand_pieces`)."""

    views = ("elementary", "fused")

    def __init__(self, recording):
        self.recording = recording

    def read(self, view):
        return expand(self.recording, view)

    def pieces(self, view, rows, on_progress=None):
        return expand_pieces(self.recording, view, rows, on_progress)


class ColumnSource(Source):
    """Columns already in memory: the one view of a JSON trace file, or `GraphData` handed in."""

    def __init__(self, columns):
        self.columns = dict(columns)
        self.views = tuple(self.columns)

    def read(self, view):
        return self.columns[view]


class StoreSource(Source):
    """A trace store on disk (tracer/storage/store.py): its views read when first asked, their sizes
    from its metadata."""

    def __init__(self, store):
        self.store = store
        self.views = tuple(store.views)

    def read(self, view):
        return self.store.read(view)

    def size(self, view):
        info = self.store.views[view]
        return info["nodes"], info["edges"]


class Trace:
    """One traced step, read lazily: its graph lives as compact columns (`GraphData`, from one `Source`:
    the recording, a store on disk, or a file's columns), and networkx graphs are built only of what is
    asked for. `graph()` is the whole step; `subgraph`, `select` and `collapse` are the parts commands
    draw. Every method takes a `view`; left out, it is `default_view()`, the one the commands and pages
    use (the fused view), so a notebook counts what the CLI counts. See docs/trace-format.md for the
    attributes."""

    def __init__(self, graph_attrs: dict, recording=None, sources=None, graphs=None, store=None) -> None:
        self.meta = graph_attrs
        if recording is not None:
            self._source: Source = RecordingSource(recording)
        elif store is not None:
            self._source = StoreSource(store)
        else:
            self._source = ColumnSource(sources or {})
        self._sources = dict(sources or {})  # view -> GraphData, once read
        self._graphs = dict(graphs or {})  # view -> the full networkx graph, once built (a JSON file's, as read)

    @property
    def _rec(self):
        return self._source.recording

    def __repr__(self):
        m = self.meta
        where = "live" if self._rec is not None else "loaded"
        return (
            f"<Trace step {m.get('step')} doc {m.get('doc')!r} loss {m.get('loss')!r} "
            f"({where}; views: {', '.join(self.views())})>"
        )

    @property
    def step(self) -> int:
        return self.meta["step"]

    @property
    def loss(self) -> float:
        return self.meta["loss"]

    def views(self) -> tuple[str, ...]:
        """The views this trace can give: both for a live trace; for a loaded one, those saved, and the
        fused view wherever the elementary one is (derived from it: `model.fused`)."""
        views = self._source.views
        return (*views, "fused") if "elementary" in views and "fused" not in views else views

    def default_view(self, prefer: str = "") -> str:
        """`prefer` (by default DEFAULT_VIEW, what every command and page counts and draws) when this trace
        can give it, else the one view a trace file holds. "elementary" is microGPT's own ops; "fused"
        is 7x smaller with the same values and gradients at every node outside the dot products."""
        prefer = prefer or DEFAULT_VIEW
        views = self.views()
        return prefer if prefer in views else views[0]

    def data(self, view: str | None = None, keep: bool = True) -> GraphData:
        """The graph before networkx, as compact columns (`GraphData`); kept for the next call unless
        `keep` is False (writing a store needs each view once)."""
        view = view or self.default_view()
        if view in self._sources:
            return self._sources[view]
        self._check_view(view)
        if view in self._source.views:
            gd = self._source.read(view)
        else:  # the fused view of a file that holds only the elementary one
            from microtrace.tracer.model.fused import fuse

            gd = fuse(self.data("elementary", keep))
        if keep:
            self._sources[view] = gd
        return gd

    def pieces(self, view: str, rows: int, on_progress=None):
        """A view's `GraphData` in pieces of `rows` nodes, each made from the recording as it is taken and
        kept by no one here (`expand.expand_pieces`): writing a live step's store never holds the view
        whole. A view built already, or read from a file, comes whole, in one piece. `on_progress(done,
        total)` follows the making (for a progress bar)."""
        self._check_view(view)
        if view in self._sources or view not in self._source.views:  # read already, or derived: whole
            return ColumnSource({view: self.data(view)}).pieces(view, rows, on_progress)
        return self._source.pieces(view, rows, on_progress)

    def _check_view(self, view):
        if view not in self.views():
            raise TraceError(f"this trace file holds the {', '.join(self.views())} view, not {view!r}")

    def size(self, view: str | None = None) -> tuple[int, int]:
        """(nodes, edges) of a view, without building anything."""
        view = view or self.default_view()
        known = self._source.size(view) if view in self._source.views else None
        if known is not None:
            return known
        src = self.data(view)
        return len(src), src.n_edges()

    def graph_attrs(self, view: str | None = None) -> dict:
        """The attributes `graph(view)` carries: the step's, its view and its loss node."""
        view = view or self.default_view()
        return {**self.meta, "view": view, "loss_node": self.data(view).loss}

    def has_graph(self, view: str | None = None) -> bool:
        """Whether `graph(view)` is built already (a JSON trace file's is)."""
        view = view or self.default_view()
        return view in self._graphs

    def _new_graph(self, view):
        g = nx.DiGraph()
        g.graph.update(self.graph_attrs(view))
        return g

    def graph(self, view: str | None = None) -> nx.DiGraph:
        """The step's whole computation graph as a `networkx.DiGraph` (cached; do not mutate). It costs
        ~2.5 KB a node: above GRAPH_WARN nodes a warning suggests the partial views."""
        view = view or self.default_view()
        if view not in self._graphs:
            src = self.data(view)
            if len(src) > GRAPH_WARN:
                warnings.warn(
                    f"building a networkx graph of {len(src):,} nodes (~{len(src) * 2.5e-6:.1f} GB): "
                    "subgraph(), select() and collapse() build only what they are asked",
                    stacklevel=2,
                )
            g = self._new_graph(view)
            g.add_nodes_from(src.nodes())
            g.add_edges_from(src.edges())
            self._graphs[view] = g
        return self._graphs[view]

    def _repr_html_(self) -> str:
        from microtrace.tracer.model.summary import html_summary

        return html_summary(self)

    def subgraph(self, nodes, view: str | None = None) -> nx.DiGraph:
        """`nodes` with their neighbours and every edge of either (so the neighbours' degrees are true):
        what a scalar view draws, its stubs included."""
        view = view or self.default_view()
        if view in self._graphs:  # already whole (a JSON trace): cut the same out of it
            return _near(self._graphs[view], nodes)
        src = self.data(view)
        near = set(nodes)
        near.update(n for u, v, _ in src.edges(near) for n in (u, v))
        edges = list(src.edges(near))
        g = self._new_graph(view)
        g.add_nodes_from(src.nodes(sorted(near | {n for u, v, _ in edges for n in (u, v)})))
        g.add_edges_from(edges)
        return g

    def select(self, view: str | None = None, ops=(), stages=(), around=()) -> nx.DiGraph:
        """A graph of the nodes with one of `ops` or in a scope of one of `stages` (no edges), plus
        `subgraph(around)`: what a check that reads a few kinds of node needs of a step of any size."""
        view = view or self.default_view()
        if view in self._graphs:  # built already: the whole graph holds all of it
            return self._graphs[view]
        src = self.data(view)
        G = self.subgraph(around, view) if around else self._new_graph(view)
        ids = {i for op in ops for i in src.ids_with_op(op)}
        ids.update(self.stage_nodes(stages, view))
        G.add_nodes_from(src.nodes(sorted(ids - set(G))))
        return G

    def stage_nodes(self, stages, view: str | None = None):
        """Ids of the nodes made in a scope whose last part is one of `stages` (`weights`, `nll`...)."""
        src = self.data(view)
        return (
            src.ids_in_scopes({i for i, s in enumerate(src.scopes) if s.rsplit("/", 1)[-1] in stages}) if stages else []
        )

    def scope_nodes(self, scope: str, view: str | None = None) -> list[int]:
        """Ids of the nodes made in `scope` or inside it; TraceError if the trace has no such scope."""
        src = self.data(view)
        scope = scope.strip("/")
        inner = scope + "/"
        sids = {i for i, s in enumerate(src.scopes) if s == scope or s.startswith(inner)}
        if not sids:
            example = next((s for s in src.scopes if s.count("/") >= 4), "pos0/embed")
            raise TraceError(f"no scope {scope!r} in this trace (scopes look like {example})")
        return src.ids_in_scopes(sids)

    def resolve(self, target: int | str, view: str | None = None) -> int:
        """A node id from an id, its string, or a parameter entry such as `layer0.attn_wq[3,7]`."""
        from microtrace.tracer.analysis.queries import locate

        src = self.data(view)
        return locate(target, len(src), src.param_node, src.param_names)

    def around(self, target: int | str, hops: int, view: str | None = None) -> list[int]:
        """Ids of the nodes at most `hops` edges from `target`, whichever way the edges point."""
        if hops < 0:
            raise ValueError(f"hops must be 0 or more, got {hops}")
        src = self.data(view)
        seen = {self.resolve(target, view)}
        frontier = set(seen)
        for _ in range(hops):
            frontier = {n for u, v, _ in src.edges(frontier) for n in (u, v)} - seen
            if not frontier:
                break
            seen |= frontier
        return sorted(seen)

    def nonfinite(self, view: str | None = None):
        """(where nan/inf starts, how many nodes are non-finite) in one pass over the columns. Where it
        starts is the first node whose value is not finite, else the last whose gradient is not (the
        first from the loss down), else None: the node `first_nonfinite` describes."""
        return self.data(view).nonfinite()

    def first_nonfinite(self, view: str | None = None) -> dict | None:
        """Where nan/inf starts: the first node (forward order) whose value is not finite, else the first
        in backward order (from the loss down) whose gradient is not; None if all is finite. The answer
        names the node, its op and scope, its operands and results. Only the node found and its neighbours
        become a graph (they decide the answer: every node before it is finite)."""
        from microtrace.tracer.analysis.queries import first_nonfinite

        found, _ = self.nonfinite(view)
        return None if found is None else first_nonfinite(self.subgraph([found], view))

    def top_paths(self, target: int | str, k: int = 5, view: str | None = None) -> list[dict]:
        """The k paths from `target` (a node id or a parameter entry, as `resolve` reads it) up to the loss
        that carry the most gradient: [{"contribution": c, "nodes": [target, ..., loss]}], largest |c|
        first. A path's contribution is the product of the local derivatives along it; summed over every
        path it is the target's gradient."""
        from microtrace.tracer.analysis.queries import top_paths

        return top_paths(self.graph(view), self.resolve(target, view), k)

    def dead_relus(self, view: str | None = None) -> list[dict]:
        """MLP units whose ReLU passed no gradient at any position: [{"layer", "unit", "positions"}]."""
        from microtrace.tracer.analysis.queries import dead_relus

        return dead_relus(self.select(view, ops=("relu",)))

    def collapse(self, level: str = "block", view: str | None = None) -> nx.DiGraph:
        """One node per scope of `level` with counts and gradient totals, in one pass over the columns."""
        view = view or self.default_view()
        from microtrace.tracer.analysis.collapse import collapse

        C = collapse(self.data(view), level)
        C.graph.update(self.meta, view=view, loss_node=self.data(view).loss, level=level)
        return C


def _near(G, nodes):
    """`Trace.subgraph` of a whole graph `G`: `nodes`, their neighbours, every edge of either and its ends."""
    near = set(nodes)
    near.update(n for v in nodes for n in (*G.predecessors(v), *G.successors(v)))
    edges = [(u, v, d) for n in sorted(near) for u, v, d in (*G.in_edges(n, data=True), *G.out_edges(n, data=True))]
    g = nx.DiGraph(**G.graph)
    g.add_nodes_from((n, G.nodes[n]) for n in sorted(near | {n for u, v, _ in edges for n in (u, v)}))
    g.add_edges_from(edges)
    return g
