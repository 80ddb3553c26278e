"""`microtrace trace`, `export` and `inspect`: a step's graph as files, and answers about it."""

import json

import click

from microtrace.tracer import TraceError, dead_relus, first_nonfinite, scope_nodes, top_paths
from microtrace.tracer.io import EXPORT_FORMATS, export_bytes

from microtrace.viz.cli.checks import command
from microtrace.viz.cli.common import UserError, trace_source_options, write_output
from microtrace.viz.draw import numfmt

VIEWS = click.Choice(["elementary", "fused"])


@command()
@trace_source_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Trace file to write (.json).")
@click.option("--view", type=VIEWS, default="elementary", show_default=True, help="One node per scalar op, or per dot product.")
def trace(trace, output, view):
    """Record every scalar operation of one training step and save it as node-link JSON.

    The file holds the forward graph with values, gradients, local derivatives and gradient flow on
    every edge, and the step's Adam update (docs/trace-format.md). Other commands read it with --trace.

    --script traces your own training script, unchanged (a microGPT fork, a micrograd-style model):
    it runs as `python PATH SCRIPT_ARGS` would and stops once its K-th backward() call is recorded.

    Example:

    \b
        microtrace trace --run runs/demo --step 120 -o step120.json
        microtrace graph --trace step120.json --level block -o step120.svg
        microtrace trace --script my_model/train.py --step 3 -o mine.json -- --steps 100
    """
    G = _graph(trace, view)
    write_output(output, export_bytes(G, "json"))
    click.echo(f"step {G.graph['step']}: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges, loss {G.graph['loss']:.4f} -> {output}", err=True)


@command(name="export")
@trace_source_options
@click.option("-f", "--format", "fmt", type=click.Choice(EXPORT_FORMATS), help="Default: from the file extension.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--view", type=VIEWS, default="elementary", show_default=True)
@click.option("--level", type=click.Choice(["block", "stage", "layer"]), help="Export the graph collapsed to this level.")
def export_command(trace, fmt, output, view, level):
    """Export a step's graph as node-link JSON, GraphML or GEXF (for Gephi, yEd, Cytoscape, ...).

    GraphML and GEXF hold scalar attributes only: lists and dicts become JSON strings and a
    parameter's index becomes index_row and index_col.

    Example:

    \b
        microtrace export --run runs/demo --step 120 -o step120.graphml
        microtrace export --trace step120.json --level block -f gexf -o blocks.gexf
    """
    fmt = fmt or output.rsplit(".", 1)[-1].lower()
    if fmt not in EXPORT_FORMATS:
        raise click.UsageError(f"cannot tell the format from {output!r}: pass --format {'|'.join(EXPORT_FORMATS)}")
    G = _graph(trace, view)
    if level:
        G = trace.collapse(level, view)
    write_output(output, export_bytes(G, fmt))
    click.echo(f"wrote {G.number_of_nodes()} nodes, {G.number_of_edges()} edges -> {output}", err=True)


@command()
@trace_source_options
@click.option("--paths", "target", help="Show the paths carrying most gradient from this node id or parameter (wte[3,5]) to the loss.")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many paths.")
@click.option("--scope", help="List the nodes of a scope, e.g. pos2/layer0/attn/head1/weights.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
def inspect(trace, target, k, scope, as_json):
    """Summarise a traced step: loss, graph size, per-matrix gradients, NaN/inf origin, dead ReLUs.

    Example:

    \b
        microtrace inspect --run runs/demo --step 120
        microtrace inspect --trace step120.json --paths "layer0.attn_wq[3,7]" -k 3
        microtrace inspect --trace step120.json --scope pos2/layer0/attn/head1/weights
    """
    G = _graph(trace, "elementary")
    try:
        report = {
            "step": G.graph["step"],
            "doc": G.graph["doc"],
            "loss": G.graph["loss"],
            "nodes": G.number_of_nodes(),
            "edges": G.number_of_edges(),
            "params": G.graph["param_stats"],
            "first_nonfinite": first_nonfinite(G),
            "dead_relus": dead_relus(G),
        }
        if target:
            report["paths"] = [{**p, "scopes": _scope_runs(G, p["nodes"])} for p in top_paths(G, target, k)]
        if scope:
            report["scope"] = [{"node": n, **G.nodes[n]} for n in scope_nodes(G, scope)]
    except TraceError as e:
        raise UserError(str(e)) from None
    click.echo(json.dumps(report, indent=1) if as_json else _text(report))


def _graph(trace, view):
    try:
        return trace.graph(view)
    except TraceError as e:
        raise UserError(str(e)) from None


def _scope_runs(G, nodes):
    """A path as the scopes it passes through, each with how many of its nodes lie there."""
    runs = []
    for n in nodes:
        d = G.nodes[n]
        scope = f"{d['param']}[{d['index'][0]},{d['index'][1]}]" if "param" in d else d["scope"]
        if runs and runs[-1][0] == scope:
            runs[-1][1] += 1
        else:
            runs.append([scope, 1])
    return runs


def _text(r):
    lines = [
        f"step {r['step']}  doc {r['doc']!r}  loss {r['loss']:.4f}  ({r['nodes']} nodes, {r['edges']} edges)",
        "",
        f"{'matrix':<16} {'shape':>7} {'grad norm':>10} {'mean |g|':>10} {'max |g|':>10} {'zero':>6} {'update/data':>12}",
    ]
    for name, s in r["params"].items():
        shape = "x".join(map(str, s["shape"]))
        lines.append(
            f"{name:<16} {shape:>7} {numfmt.general(s['grad_norm']):>10} {numfmt.general(s['grad_abs_mean']):>10} "
            f"{numfmt.general(s['grad_abs_max']):>10} {s['zero_fraction']:>6.1%} {numfmt.general(s.get('update_ratio', '-')):>12}"
        )
    bad = r["first_nonfinite"]
    lines.append("")
    if bad:
        lines.append(f"first non-finite {bad['what']}: node {bad['node']} ({bad['op']}) in {bad['scope']}: value {bad['data']}, grad {bad['grad']}")
        for o in bad["operands"]:
            lines.append(f"  operand {o['node']} ({o['op']}) in {o['scope']}: value {o['data']}")
    else:
        lines.append("all values and gradients are finite")
    dead = r["dead_relus"]
    lines.append(f"dead ReLU units: {len(dead)}" + (": " + ", ".join(f"layer{d['layer']}.unit{d['unit']}" for d in dead) if dead else ""))
    for i, p in enumerate(r.get("paths", []), 1):
        lines.append(f"path {i}: contribution {p['contribution']:.4g} over {len(p['nodes']) - 1} edges")
        lines.append("  " + " -> ".join(f"{scope} ({n})" if n > 1 else scope for scope, n in p["scopes"]))
    for d in r.get("scope", []):
        lines.append(f"{d['node']:>7} {d['op']:>6} value {numfmt.general(d['data']):>11} grad {numfmt.general(d['grad']):>11}  {d['scope']}")
    return "\n".join(lines)


COMMANDS = [trace, export_command, inspect]
