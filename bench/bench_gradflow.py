"""Timings of the gradient-flow tools on the default model (n_embd 16, 4 heads, 1 layer, default data).

Run: python bench/bench_gradflow.py. `bench_gradflow()` returns the numbers as a dict (seconds) so
that other benches can collect them. What it shows: statistics over a step range cost about one
untraced training step each, far below tracing a step; the figures take tens of milliseconds.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import timed  # noqa: E402
from microtrace.engine.data import load_dataset  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import trace_step  # noqa: E402
from microtrace.tracer.analysis.doctor import diagnose  # noqa: E402
from microtrace.tracer.analysis.gradcheck import gradcheck  # noqa: E402
from microtrace.tracer.analysis.gradstats import range_stats  # noqa: E402
from microtrace.viz.gradflow.matrices import flow_data, gradflow_figure  # noqa: E402
from microtrace.viz.gradflow.over_steps import steps_figure  # noqa: E402
from microtrace.viz.gradflow.positions import position_data, positions_figure  # noqa: E402


def bench_gradflow(steps=50):
    docs = load_dataset(None).docs
    out = {}

    def trainer():
        return Trainer(docs, TrainConfig(steps=1000))

    stats, t = timed(range_stats, trainer(), range(0, steps))
    out["range_stats_per_step"] = t / steps
    t_plain = trainer()
    _, t = timed(lambda: [t_plain.train_step() for _ in range(steps)])
    out["train_step"] = t / steps
    trace, out["trace_step"] = timed(trace_step, trainer(), 10)
    G, out["trace_graph"] = timed(trace.graph)
    data = flow_data(G)
    for fmt in ("png", "svg"):
        _, out[f"gradflow_figure_{fmt}"] = timed(gradflow_figure, data, fmt)
        _, out[f"steps_figure_{fmt}"] = timed(steps_figure, stats, fmt)
    positions, out["collapse_block"] = timed(lambda: position_data(trace.collapse("block")))
    _, out["positions_figure_png"] = timed(positions_figure, positions)
    _, out["doctor"] = timed(diagnose, G)
    _, out["gradcheck_3_per_matrix"] = timed(gradcheck, trainer(), 3)
    return out


if __name__ == "__main__":
    print(json.dumps({k: round(v, 4) for k, v in bench_gradflow().items()}, indent=1))
