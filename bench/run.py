"""`make bench`: speed of the engine and the tracer, as ratios against the plain reference engine
(bench/reference.py, microGPT's own formulation) measured in this same process.

Run: python bench/run.py [--quick]. Uses microGPT's dataset from ../shared/data when it is there
(the published figures are for it), else the default names dataset.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.reference import ReferenceGPT  # noqa: E402
from bench.timing import timed  # noqa: E402
from microtrace.engine.data import load_dataset, read_docs  # noqa: E402
from microtrace.engine.train import TrainConfig, Trainer  # noqa: E402
from microtrace.tracer import load_trace, save_trace, trace_step  # noqa: E402

MAKEMORE = ROOT.parent / "shared" / "data" / "makemore-names.txt"


def docs():
    if MAKEMORE.exists():
        return read_docs(MAKEMORE).docs, "microGPT's names.txt (../shared/data)"
    return load_dataset(None).docs, "default names dataset"


def _run_steps(make, steps):
    """Train a fresh model `steps` steps; per-step seconds and losses (and nodes, for the reference)."""
    model = make()
    times, losses, nodes = [], [], 0
    for _ in range(steps):
        loss, dt = timed(model.train_step)
        times.append(dt)
        losses.append(loss)
        nodes += getattr(model, "nodes_last_step", 0)
    return times, losses, nodes


def _best_of(make, steps, repeats):
    """Each step's fastest time over `repeats` fresh runs: noise from a busy machine only adds time."""
    runs = [_run_steps(make, steps) for _ in range(repeats)]
    best = [min(r[0][i] for r in runs) for i in range(steps)]
    return sum(best), runs[0][1], runs[0][2]


def bench_engine(data, steps, repeats):
    ref_time, ref_losses, nodes = _best_of(lambda: ReferenceGPT(data, seed=42), steps, repeats)
    our_time, our_losses, _ = _best_of(lambda: Trainer(data, TrainConfig(steps=1000, seed=42)), steps, 3 * repeats)
    assert our_losses == ref_losses, "engine and reference disagree: not the same arithmetic"
    ref_step, our_step, ops_per_step = ref_time / steps, our_time / steps, nodes / steps
    return {
        "reference s/step": ref_step,
        "engine s/step": our_step,
        "engine steps/s": 1 / our_step,
        "speed-up (x)": ref_step / our_step,
        "elementary ops/step": ops_per_step,
        "reference ops/s": ops_per_step / ref_step,
        "engine ops/s": ops_per_step / our_step,
    }, ref_step


def bench_tracer(data, ref_step, step):
    trainer = Trainer(data, TrainConfig(steps=1000, seed=42))
    for _ in range(step):
        trainer.train_step()
    trace, t_record = timed(trace_step, trainer, step)
    gd, t_expand = timed(trace.data, "elementary")
    G, t_graph = timed(trace.graph, "elementary")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "step.json"
        _, t_save = timed(save_trace, G, path)
        size = path.stat().st_size
        _, t_load = timed(lambda: load_trace(path).graph())
    n = G.number_of_nodes()
    return {
        "traced step": step,
        "nodes": n,
        "edges": G.number_of_edges(),
        "record s (forward+backward+Adam, observed)": t_record,
        "expand s (elementary graph, before networkx)": t_expand,
        "trace cost / reference step (must be < 1)": (t_record + t_expand) / ref_step,
        "networkx build s (< 2)": t_graph,
        "networkx nodes/s": n / t_graph,
        "JSON save s (< 3)": t_save,
        "JSON load s (< 3)": t_load,
        "JSON MB": size / 1e6,
        "peak memory MB (< 500)": peak_memory_mb(step),
    }


def peak_memory_mb(step):
    """Peak RSS of a fresh process that traces a step and builds its networkx graph."""
    code = (
        f"import resource, sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.run import docs\n"
        "from microtrace.engine.train import TrainConfig, Trainer\n"
        "from microtrace.tracer import trace_step\n"
        "t = Trainer(docs()[0], TrainConfig(steps=1000, seed=42))\n"
        f"for _ in range({step}): t.train_step()\n"
        f"trace_step(t, {step}).graph()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


def optional(module, function):
    """Figures from the viz benchmarks, when those modules exist in this checkout."""
    try:
        mod = __import__(f"bench.{module}", fromlist=[function])
    except ImportError:
        return None
    return getattr(mod, function)()


def show(title, table):
    print(f"\n{title}")
    width = max(len(k) for k in table)
    for k, v in table.items():
        value = f"{v:,.4f}" if isinstance(v, float) and abs(v) < 1000 else f"{v:,.0f}" if isinstance(v, float) else v
        print(f"  {k:<{width}}  {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a rougher figure)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    data, source = docs()
    print(f"microtrace benchmark on {source}, seed 42, default model; {os.cpu_count()} cores")
    steps, repeats = (3, 1) if args.quick else (8, 3)
    engine, ref_step = bench_engine(data, steps, repeats)
    show(f"engine vs reference (the same {steps} steps, identical losses; best of {repeats} runs per step)", engine)
    tracer = bench_tracer(data, ref_step, step=40)
    show("tracer (one default step)", tracer)
    results = {"engine": engine, "tracer": tracer}
    for title, module, function in (
        ("graph figures", "bench_graph", "bench_graph"),
        ("attention figures", "bench_attention", "bench_attention"),
        ("gradient flow, doctor, gradcheck", "bench_gradflow", "bench_gradflow"),
        ("explorer page (headless Chromium)", "bench_explore", "bench_explore"),
        ("your own script (trace --script)", "bench_script", "bench_script"),
        ("the README's quoted times (wall time of its commands)", "bench_readme", "bench_readme"),
    ):
        figures = optional(module, function)
        if figures:
            show(title, figures)
            results[title] = figures
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
