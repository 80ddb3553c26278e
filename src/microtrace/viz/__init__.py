"""Everything that draws what the tracer recorded, and the `microtrace` command.

Sub-packages: `draw` (canvas, fonts, colours, axes, text, number formats), `graph` (Graphviz
diagrams), `attention` (attention figures), `gradflow` (gradient-flow figures), `report` (the HTML
report), `explore` (the explorer page), `film` (a whole training run on one page). Two modules beside
them: `page_safety` (what makes a page no string can break: JSON embedded in a script, links, and the
Content-Security-Policy of every page, each inline script allowed by its hash) and `player` (the player's
buttons, one markup for the explorer and the film).

Imports: `microtrace.engine`, `microtrace.tracer` and `microtrace.util`; `draw` imports no other
sub-package of viz; never click or `microtrace.cli`.

The figure functions, each returning what a notebook shows (docs/api.md):

    graph_figure(trace, level="block", ...)    graphviz.Digraph (block, stage, layer or scalar view)
    block_diagram(C, ...), scalar_diagram(G, nodes, ...)    graphviz.Digraph of a collapsed graph / scalars
    attention_figure(trace, ...)               PIL.Image: attention heatmaps (or --grad, --per-token)
    attention_over_steps(run, text, steps)     (frames, labels): one PIL.Image per step
    gradflow_figure(trace, fmt="png", ...)     PIL.Image, or an SVG object with fmt="svg"
    steps_figure(stats, fmt="png")             the same over a range of steps (tracer.analysis.gradstats.range_stats)
    build_report(trace)                        the HTML report page (str)
    render(digraph, path), render_bytes(digraph, fmt), figure_bytes(figure)    files and bytes

They are imported on first use, so that `import microtrace.viz` (and the command line) stays light.
"""

import importlib

_EXPORTS = {
    "graph_figure": "microtrace.viz.graph.figure",
    "block_diagram": "microtrace.viz.graph.block",
    "scalar_diagram": "microtrace.viz.graph.scalar",
    "render": "microtrace.viz.graph.render",
    "render_bytes": "microtrace.viz.graph.render",
    "attention_figure": "microtrace.viz.attention.figure",
    "attention_over_steps": "microtrace.viz.attention.figure",
    "gradflow_figure": ("microtrace.viz.gradflow.matrices", "trace_figure"),
    "steps_figure": "microtrace.viz.gradflow.over_steps",
    "build_report": "microtrace.viz.report.page",
    "figure_bytes": "microtrace.viz.draw.canvas",
    "SVG": "microtrace.viz.draw.canvas",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    where = _EXPORTS[name]
    module, attr = where if isinstance(where, tuple) else (where, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
