"""Follow one number: how the gradient of one embedding weight is made, edge by edge.

    python examples/follow_one_number.py            # -> examples/out/follow/

Trains microGPT briefly on the default names, traces one step, and follows the parameter
`wte[c, 0]` (c = the first character of that step's name) up to the loss along the paths that
carry the most gradient. Writes:

- walkthrough.md: the strongest path at microGPT's own granularity (every product and partial
  sum), each node with its value and gradient and each edge with its local derivative; the running
  product of local derivatives is that path's share of d loss / d wte[c, 0], and the shares of
  all paths add up to the gradient the engine computed.
- path.svg / path.png: the three strongest paths in the fused view (one node per dot product),
  every scalar with its value and gradient, micrograd style.

The same from the command line:

    microtrace inspect --run RUN --step 30 --paths "wte[8,0]" -k 3
    microtrace graph --run RUN --step 30 --level scalar --view fused --highlight 3 --target "wte[8,0]" -o path.svg
"""

import argparse
import math
import sys
from pathlib import Path

from microtrace.engine.data import load_dataset
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.util.atomic import write_atomic
from microtrace.viz.graph.render import DotNotFound, render
from microtrace.viz.graph.scalar import scalar_diagram

HERE = Path(__file__).resolve().parent


def walkthrough(G, target, path):
    """Markdown: one row per node of `path`, with the local derivative of the edge leaving it."""
    d0 = G.nodes[path[0]]
    lines = [
        f"# Following `{target}` at step {G.graph['step']} ({G.graph['doc']!r}, loss {G.graph['loss']:.4f})",
        "",
        f"Its gradient, from the engine: **{d0['grad']:.6g}**. That is the sum, over every path from it to the",
        f"loss, of the product of the local derivatives along the path. The strongest path ({len(path) - 1} edges)",
        f"contributes **{_product(G, path):.6g}**; the other paths add the rest, some with the opposite sign.",
        "",
        "| # | node | op | scope | value | gradient | d next / d this | product so far |",
        "|---|---|---|---|---|---|---|---|",
    ]
    product = 1.0
    for i, n in enumerate(path):
        d = G.nodes[n]
        if i + 1 < len(path):
            local = G.edges[n, path[i + 1]]["local_grad"]
            product *= local
            local_text, product_text = f"{local:.6g}", f"{product:.6g}"
        else:
            local_text, product_text = "(the loss)", ""
        name = f"{d['param']}[{d['index'][0]},{d['index'][1]}]" if "param" in d else d["op"]
        lines.append(
            f"| {i} | {n} | `{name}` | {d['scope']} | {d['data']:.6g} | {d['grad']:.6g} | {local_text} | {product_text} |"
        )
    return "\n".join(lines) + "\n"


def _product(G, path):
    return math.prod(G.edges[u, v]["local_grad"] for u, v in zip(path, path[1:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "follow", help="folder for the files")
    parser.add_argument("--steps", type=int, default=30, help="train this many steps, then trace the next one")
    parser.add_argument("--paths", type=int, default=3, help="how many paths to draw")
    args = parser.parse_args(argv)

    trainer = Trainer(load_dataset(None).docs, TrainConfig(steps=1000, seed=42))
    trace = trace_step(trainer, args.steps)
    G, fused = trace.graph("elementary"), trace.graph("fused")  # the walk goes op by op, as microGPT
    target = f"wte[{G.graph['tokens'][1]},0]"  # the first character's embedding, first dimension
    best = trace.top_paths(target, k=1, view="elementary")[0]["nodes"]
    text = walkthrough(G, target, best)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "walkthrough.md", text)
    print(text)

    paths = [p["nodes"] for p in trace.top_paths(target, k=args.paths, view="fused")]
    nodes = sorted({n for p in paths for n in p})
    what = f"the {args.paths} strongest gradient paths from {target} ({G.graph['chars'][1]!r}) to the loss"
    digraph = scalar_diagram(fused, nodes, highlight=paths, what=what)
    try:
        for ext in ("svg", "png"):
            print(f"wrote {render(digraph, args.out / f'path.{ext}')}")
    except DotNotFound as e:
        print(e, file=sys.stderr)
        print(f"wrote {render(digraph, args.out / 'path.dot')}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
