"""Speed of Graphviz figures on the default model and data (bench/run.py calls `bench_graph`).

Targets on a default step (~50,000 nodes): the block view's DOT source in < 1 s (collapse included),
rendered by `dot` in < 5 s in all. Scalar views of one head, stage view and PNG/PDF are reported too.

Run alone: python bench/bench_graph.py
"""

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import print_results, timed  # noqa: E402
from microtrace.engine.data import load_dataset  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import trace_step  # noqa: E402
from microtrace.viz.graph.block import block_diagram  # noqa: E402
from microtrace.viz.graph.render import render_bytes  # noqa: E402
from microtrace.viz.graph.scalar import scalar_diagram  # noqa: E402

STEP = 50  # "wanda": a 7-token name on the default data with seed 42
HEAD = "pos2/layer0/attn/head1"


def bench_graph():
    trainer = Trainer(load_dataset(None).docs, TrainConfig(steps=1000, seed=42))
    trace = trace_step(trainer, STEP)
    G, t_graph = timed(trace.graph)
    F = trace.graph("fused")
    C, t_collapse = timed(trace.collapse, "block")
    digraph, t_dot_source = timed(block_diagram, C)
    out = {
        "step nodes (elementary)": G.number_of_nodes(),
        "graph() s": t_graph,
        "block: collapse s": t_collapse,
        "block: DOT source s": t_dot_source,
        "block: collapse + DOT source s (< 1)": t_collapse + t_dot_source,
    }
    S = trace.collapse("stage")
    stage, t_stage_source = timed(block_diagram, S)
    head_nodes = trace.scope_nodes(HEAD, "fused")
    head, t_head_source = timed(scalar_diagram, F, head_nodes)
    out["stage: DOT source s"] = t_stage_source
    out["scalar head (fused): DOT source s"] = t_head_source
    if shutil.which("dot") is None:
        out["dot"] = "not installed: render times skipped"
        return out
    svg, t_svg = timed(render_bytes, digraph, "svg")
    _, t_png = timed(render_bytes, digraph, "png", dpi=144)
    _, t_pdf = timed(render_bytes, digraph, "pdf")
    out["block: dot -> SVG s"] = t_svg
    out["block: collapse + source + dot SVG s (< 5)"] = t_collapse + t_dot_source + t_svg
    out["block: dot -> PNG (144 dpi) s"] = t_png
    out["block: dot -> PDF s"] = t_pdf
    out["block: SVG KB"] = len(svg) / 1e3
    _, out["stage: dot -> SVG s"] = timed(render_bytes, stage, "svg")
    _, out["scalar head (fused): dot -> SVG s"] = timed(render_bytes, head, "svg")
    E = trace.graph()
    _, out["scalar head (elementary): source + dot SVG s"] = timed(
        lambda: render_bytes(scalar_diagram(E, trace.scope_nodes(HEAD)), "svg")
    )
    return out


if __name__ == "__main__":
    print_results(bench_graph())
