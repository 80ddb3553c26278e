"""Train microGPT briefly, trace one step, and draw it with Graphviz: the whole step and one head.

    python examples/graph_of_one_step.py                  # -> examples/out/graph/
    python examples/graph_of_one_step.py --out /tmp/figs --steps 50

Writes block.svg / block.png (the whole step, one node per position x block: where the gradient goes)
and head.svg / head.png (one attention head at one position, every scalar with its value and
gradient, micrograd style). Runs in a few seconds on the default model (n_embd 16, 4 heads, 1 layer)
and the default names data. Needs Graphviz's `dot` for SVG and PNG; without it the .dot sources are
written instead.

The same figures from the command line:

    microtrace train --steps 1000 --out runs/demo
    microtrace graph --run runs/demo --step 50 -o block.svg
    microtrace graph --run runs/demo --step 50 --level scalar --focus pos2/layer0/attn/head1 -o head.svg
"""

import argparse
import sys
import time
from pathlib import Path

from microtrace.engine.data import load_dataset
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.viz.graph.block import block_diagram
from microtrace.viz.graph.render import DotNotFound, render
from microtrace.viz.graph.scalar import scalar_diagram

HERE = Path(__file__).resolve().parent


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "graph", help="folder for the figures")
    parser.add_argument("--steps", type=int, default=50, help="train this many steps, then trace the next one")
    parser.add_argument("--head", default="pos2/layer0/attn/head1", help="scope of the scalar view")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    trainer = Trainer(load_dataset(None).docs, TrainConfig(steps=1000, seed=args.seed))
    trace = trace_step(trainer, args.steps)  # trains steps 0..steps-1 untraced, then traces one
    print(
        f"step {trace.step}: {trace.meta['doc']!r}, loss {trace.loss:.4f}, {trace.size('elementary')[0]:,} scalar nodes"
    )

    fused = trace.graph("fused")  # one node per dot product: a head fits a screen
    figures = {
        "block": block_diagram(trace.collapse("block")),
        "head": scalar_diagram(fused, trace.scope_nodes(args.head, "fused"), what=f"scalar view of {args.head}"),
    }
    try:
        for name, digraph in figures.items():
            for ext in ("svg", "png"):
                path = render(digraph, args.out / f"{name}.{ext}")
                print(f"wrote {path}")
    except DotNotFound as e:
        print(e, file=sys.stderr)
        for name, digraph in figures.items():
            print(f"wrote {render(digraph, args.out / f'{name}.dot')}")
        return 3
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
