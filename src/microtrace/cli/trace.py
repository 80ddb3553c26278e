"""`microtrace trace`, `export` and `inspect`: a step's graph as files, and answers about it."""

import click

from microtrace.cli.checks import command
from microtrace.cli.common import advance_to, output_file, progress, write_output
from microtrace.cli.options import nan_as_option, output_option, trace_source_options
from microtrace.tracer import TraceError
from microtrace.tracer.analysis import stats
from microtrace.tracer.export import strict_json
from microtrace.tracer.storage.io import (
    EXPORT_FORMATS,
    EXPORT_MAX_NODES,
    STREAMED,
    check_export_size,
    export_bytes,
    export_chunks,
    save_store,
)
from microtrace.util import numfmt
from microtrace.util.atomic import UnsafePath
from microtrace.util.errors import BadInput
from microtrace.viz.graph.select import focus_collapsed

VIEWS = click.Choice(["elementary", "fused"])


@command()
@trace_source_options
@output_option("Trace file to write: the store (.parquet, any size) or node-link JSON (.json, small steps).")
@click.option("--view", type=VIEWS, help="JSON: the view to write (default elementary). A store holds both.")
@nan_as_option
def trace(trace, output, view, nan_as):
    """Record every scalar operation of one training step and save it as a trace file.

    The file holds the forward graph with values, gradients, local derivatives and gradient flow on
    every edge, and the step's Adam update (docs/trace-format.md). A .json name writes node-link JSON
    of one view (small steps); any other name writes the store: one Parquet file of both views, ~45
    bytes a node, that pandas, polars or DuckDB read too. Other commands read either with --trace.

    --script traces your own training script, unchanged (a microGPT fork, a micrograd-style model):
    it runs as `python PATH SCRIPT_ARGS` would and stops once its K-th backward() call is recorded.

    Example:

    \b
        microtrace trace --run runs/demo --step 120 -o step120.parquet
        microtrace graph --trace step120.parquet --level block -o step120.svg
        microtrace trace --run runs/demo --step 120 --view fused -o step120.json
        microtrace trace --script my_model/train.py --step 3 -o mine.parquet -- --steps 100
    """
    if output.lower().endswith(".json"):
        view = view or "elementary"
        check_export_size(trace.size(view)[0], "json")
        write_output(output, export_bytes(trace.graph(view), "json", nan_as))
        n, m = trace.size(view)
    else:
        if view:
            raise BadInput("--view chooses the view of a .json file; a store holds both")
        try:
            with progress("writing the store", None) as advance:
                counts = save_store(trace, output_file(output), on_progress=advance_to(advance))
        except UnsafePath:
            raise  # its own line: a link, a directory...
        except OSError as e:
            raise BadInput(f"cannot write {output} ({e.strerror or e})") from None
        view = trace.default_view()  # a store holds both: counted in the view every command counts in
        n, m = counts[view]["nodes"], counts[view]["edges"]
    click.echo(
        f"step {trace.step}: {n:,} nodes, {m:,} edges ({view} view), loss {trace.loss:.4f} -> {output}", err=True
    )


@command(name="export")
@trace_source_options
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Default: from the file extension (.json, .graphml, .gexf); model-explorer must be named.",
)
@output_option("File to write.")
@click.option("--view", type=VIEWS, default="elementary", show_default=True)
@click.option(
    "--level", type=click.Choice(["block", "stage", "layer"]), help="Export the graph collapsed to this level."
)
@click.option(
    "--focus",
    metavar="SCOPE",
    help="Export only the nodes made in SCOPE (pos2/layer0/attn/head1), with their neighbours; with --level, "
    "the groups inside SCOPE and the parameters they read.",
)
@nan_as_option
@click.option(
    "--links", "links", is_flag=True, help='JSON: the edges under "links", the key d3-force reads, not "edges".'
)
def export_command(trace, fmt, output, view, level, focus, nan_as, links):
    """Export a step's graph as node-link JSON, GraphML, GEXF or Google Model Explorer's graph JSON.

    JSON is strict (RFC 8259): nan and inf as --nan-as says. GraphML and GEXF (Gephi, yEd, Cytoscape) hold
    scalar attributes only: lists and dicts become JSON strings and a parameter's index becomes
    index_row and index_col; non-finite numbers are NaN, Infinity and -Infinity, as Java reads them.
    GEXF labels nodes by op and scope and keeps the graph's attributes (step, doc, loss, config) in its
    <meta>. model-explorer (pip install 'microtrace[explorer]') opens in Model Explorer with the scopes
    as collapsible layers and each node's value and gradient. See docs/trace-format.md.

    GraphML and GEXF of a whole view are written a node and an edge at a time, in bounded memory, from a
    store of any size. JSON and model-explorer build the whole graph: above 400,000 nodes export a
    --focus scope or a collapsed --level instead.

    Example:

    \b
        microtrace export --run runs/demo --step 120 -o step120.graphml
        microtrace export --trace step120.json --level block -f gexf -o blocks.gexf
        microtrace export --trace step120.json --links -o d3.json
        microtrace export --trace step120.json -f model-explorer -o step120-explorer.json
        microtrace export --trace big.parquet --focus pos2/layer0/attn/head1 -o head.json
    """
    fmt = fmt or {"json": "json", "graphml": "graphml", "gexf": "gexf"}.get(output.rsplit(".", 1)[-1].lower())
    if fmt is None:
        raise click.UsageError(f"cannot tell the format from {output!r}: pass --format {'|'.join(EXPORT_FORMATS)}")
    if level:
        G = trace.collapse(level, view)
        G = focus_collapsed(G, focus) if focus else G
    elif focus:
        nodes = trace.scope_nodes(focus, view)
        _check_export_size(len(nodes), fmt)
        G = trace.subgraph(nodes, view)
    elif fmt in STREAMED:  # written a node and an edge at a time: any size, in bounded memory
        with progress("writing " + fmt, None) as advance:
            write_output(output, export_chunks(trace, fmt, view, advance_to(advance)))
        n, e = trace.size(view)
        click.echo(f"wrote {n:,} nodes, {e:,} edges ({view} view) -> {output}", err=True)
        return
    else:
        _check_export_size(trace.size(view)[0], fmt)
        G = trace.graph(view)
    write_output(output, export_bytes(G, fmt, nan_as, "links" if links else "edges"))
    what = f"{level}-level groups of the {view} view" if level else f"{view} view"
    click.echo(f"wrote {G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges ({what}) -> {output}", err=True)


def _check_export_size(nodes, fmt):
    """`check_export_size`, worded with the options that export less."""
    try:
        check_export_size(nodes, fmt)
    except TraceError:
        raise BadInput(
            f"{nodes:,} nodes are too many to export as {fmt} (at most {EXPORT_MAX_NODES:,}): export a scope "
            "(--focus SCOPE) or a collapsed --level, -f graphml or gexf (any size), or query the store"
        ) from None


@command()
@trace_source_options
@click.option(
    "--paths",
    "target",
    help="Show the paths carrying most gradient from this node id or parameter (wte[3,5]) to the loss.",
)
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="How many paths.")
@click.option("--scope", help="List the nodes of a scope, e.g. pos2/layer0/attn/head1/weights.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON (strict: see --nan-as).")
@nan_as_option
def inspect(trace, target, k, scope, as_json, nan_as):
    """Summarise a traced step: loss, graph size, per-matrix gradients, NaN/inf origin, dead ReLUs.

    Example:

    \b
        microtrace inspect --run runs/demo --step 120
        microtrace inspect --trace step120.json --paths "layer0.attn_wq[3,7]" -k 3
        microtrace inspect --trace step120.json --scope pos2/layer0/attn/head1/weights
    """
    view = trace.default_view()
    nodes, edges = trace.size(view)
    report = {
        "view": view,
        "step": trace.step,
        "doc": trace.meta["doc"],
        "loss": trace.loss,
        "nodes": nodes,
        "edges": edges,
        "params": trace.meta["param_stats"],
        "first_nonfinite": trace.first_nonfinite(view),
        "dead_relus": trace.dead_relus(view),
    }
    if target:
        G = trace.graph(view)
        report["paths"] = [{**p, "scopes": _scope_runs(G, p["nodes"])} for p in trace.top_paths(target, k, view)]
    if scope:
        ids = trace.scope_nodes(scope, view)
        report["scope"] = [{"node": n, **d} for n, d in trace.data(view).nodes(ids)]
    click.echo(strict_json.dumps(report, nan_as, indent=1) if as_json else _text(report))


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
        f"step {r['step']}  doc {r['doc']!r}  loss {r['loss']:.4f}  ({r['nodes']:,} nodes, {r['edges']:,} edges, "
        f"{r['view']} view: node ids are this view's, as the explorer's)",
        "",
        f"{'matrix':<16} {'shape':>7} {'grad norm':>10} {'mean |g|':>10} {'max |g|':>10} {'zero':>6} {'update/data':>12}",
    ]
    for name, s in r["params"].items():
        shape = "x".join(map(str, s["shape"]))
        lines.append(
            f"{name:<16} {shape:>7} {numfmt.terminal(s['grad_norm']):>10} {numfmt.terminal(s['grad_abs_mean']):>10} "
            f"{numfmt.terminal(s['grad_abs_max']):>10} {s['zero_fraction']:>6.1%} {numfmt.terminal(s.get('update_ratio', '-')):>12}"
            + ("  " + stats.nonfinite_note(s["nonfinite"], s["shape"][0] * s["shape"][1]) if s.get("nonfinite") else "")
        )
    bad = r["first_nonfinite"]
    lines.append("")
    if bad:
        lines.append(
            f"first non-finite {bad['what']}: node {bad['node']} ({bad['op']}) in {bad['scope']}: value {bad['data']}, grad {bad['grad']}"
        )
        for o in bad["operands"]:
            lines.append(f"  operand {o['node']} ({o['op']}) in {o['scope']}: value {o['data']}")
    else:
        lines.append("all values and gradients are finite")
    dead = r["dead_relus"]
    lines.append(
        f"dead ReLU units: {len(dead)}"
        + (": " + ", ".join(f"layer{d['layer']}.unit{d['unit']}" for d in dead) if dead else "")
    )
    for i, p in enumerate(r.get("paths", []), 1):
        lines.append(f"path {i}: contribution {p['contribution']:.4g} over {len(p['nodes']) - 1} edges")
        lines.append("  " + " -> ".join(f"{scope} ({n})" if n > 1 else scope for scope, n in p["scopes"]))
    for d in r.get("scope", []):
        lines.append(
            f"{d['node']:>7} {d['op']:>6} value {numfmt.terminal(d['data']):>11} grad {numfmt.terminal(d['grad']):>11}  {d['scope']}"
        )
    return "\n".join(lines)


COMMANDS = [trace, export_command, inspect]
