"""`trace_step`: the complete computation graph of one training step, as a `Trace`."""

import math
import os
from pathlib import Path

import networkx as nx

from microtrace.engine.data import DataError
from microtrace.engine.run import Run, RunError, microtrace_version, open_run
from microtrace.engine.train import Trainer

from microtrace.tracer.expand import GraphData, expand
from microtrace.tracer.record import record_step

FORMAT = 1


class TraceError(Exception):
    """A request the trace cannot answer (unknown scope, node, step, file); one line for the user."""


def trace_step(source: str | os.PathLike | Run | Trainer, step: int | None = None) -> "Trace":
    """Trace training step `step` (0-based) of a run directory, a `Run`, or a `Trainer`.

    A run is replayed untraced from its nearest checkpoint at or before `step`; a `Trainer` is
    advanced untraced to `step` (default: its current step) and then takes the traced step, exactly
    as `train_step` would. The traced numbers are bit-identical to an untraced run.
    """
    trainer, meta = _trainer_at(source, step)
    k = trainer.step
    rec = record_step(trainer)
    trainer.losses.append(rec.loss.data)
    return _trace(trainer, k, trainer.doc_for(k), trainer.tokens_for(k), rec, meta)


def trace_text(source: str | os.PathLike | Run | Trainer, step: int, text: str) -> "Trace":
    """Forward and backward of `text`, as if it were a training document, with the model state at the
    start of `step` (of a run directory, a `Run` or a `Trainer`). No update is made: the graph has no
    Adam attributes and a `Trainer` passed in is left at `step`, unchanged.
    """
    trainer, meta = _trainer_at(source, step)
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


def _trainer_at(source, step):
    if isinstance(source, Trainer):
        trainer = source
        if step is not None:
            if step < trainer.step:
                raise TraceError(f"step {step} is behind this trainer (it is at step {trainer.step})")
            if step >= trainer.train_config.steps:
                raise TraceError(f"step {step} is beyond the run (steps 0..{trainer.train_config.steps - 1})")
            while trainer.step < step:
                trainer.train_step()
        meta = {**trainer.config.to_dict(), **trainer.train_config.to_dict()}
        return trainer, meta
    if step is None:
        raise TraceError("which step? pass step=K")
    try:
        run = open_run(source) if isinstance(source, (str, Path)) else source
        trainer = run.trainer_at(step)
    except (RunError, DataError) as e:
        raise TraceError(str(e)) from None
    return trainer, dict(run.config)


def param_stats(adam):
    """Gradient and update statistics of each parameter matrix, in model order."""
    stats = {}
    for name, rows in adam.items():
        entries = [e for row in rows for e in row]
        grads = [e[2] for e in entries]
        sq = math.fsum(g * g for g in grads)
        data_sq = math.fsum(e[0] * e[0] for e in entries)
        n = len(entries)
        stats[name] = {
            "shape": [len(rows), len(rows[0])],
            "grad_norm": math.sqrt(sq),
            "grad_abs_mean": math.fsum(abs(g) for g in grads) / n,
            "grad_abs_max": max(abs(g) for g in grads),
            "zero_fraction": sum(1 for g in grads if g == 0) / n,
            "data_norm": math.sqrt(data_sq),
        }
        if entries[0][1] is not None:  # a training step: how big its update was
            upd_sq = math.fsum((e[1] - e[0]) * (e[1] - e[0]) for e in entries)
            stats[name]["update_norm"] = math.sqrt(upd_sq)
            stats[name]["update_ratio"] = math.sqrt(upd_sq) / math.sqrt(data_sq) if data_sq else math.inf
    return stats


class Trace:
    """One traced step. `graph()` gives the networkx graph; see docs/trace-format.md for attributes."""

    def __init__(self, graph_attrs, recording=None, graphs=None):
        self.meta = graph_attrs
        self._rec = recording
        self._graphs = dict(graphs or {})

    @property
    def step(self) -> int:
        return self.meta["step"]

    @property
    def loss(self) -> float:
        return self.meta["loss"]

    def views(self) -> tuple[str, ...]:
        """The views this trace can give: both for a live trace, the saved one for a loaded file."""
        return ("elementary", "fused") if self._rec is not None else tuple(self._graphs)

    def default_view(self, prefer: str = "elementary") -> str:
        """`prefer` when this trace can give it, else the one view a trace file holds. "elementary" is
        microGPT's own ops; "fused" is 7x smaller with the same values and gradients at every node
        outside the dot products."""
        views = self.views()
        return prefer if prefer in views else views[0]

    def data(self, view: str = "elementary") -> GraphData:
        """The graph before networkx, as columns (`GraphData`)."""
        if self._rec is None:
            raise TraceError("this trace was loaded from a file: use graph()")
        return expand(self._rec, view)

    def graph(self, view: str = "elementary") -> nx.DiGraph:
        """The step's computation graph as a `networkx.DiGraph` (cached; do not mutate)."""
        if view not in self._graphs:
            if self._rec is None:
                raise TraceError(f"this trace file holds the {', '.join(self._graphs)} view, not {view!r}")
            gd = self.data(view)
            g = nx.DiGraph()
            g.graph.update(self.meta, view=view, loss_node=gd.loss)
            g.add_nodes_from(gd.nodes())
            g.add_edges_from(gd.edges())
            self._graphs[view] = g
        return self._graphs[view]

    def _repr_html_(self) -> str:
        from microtrace.tracer.summary import html_summary

        return html_summary(self)

    def collapse(self, level: str = "block", view: str = "elementary") -> nx.DiGraph:
        from microtrace.tracer.collapse import collapse

        return collapse(self.graph(view), level)
