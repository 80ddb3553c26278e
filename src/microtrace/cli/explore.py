"""`microtrace explore`: one self-contained HTML page to walk a traced step (viz/explore/page.py)."""

import os
from pathlib import Path

import click

from microtrace.cli.checks import command
from microtrace.cli.common import check_outputs, write_output
from microtrace.cli.options import output_option, trace_source_options
from microtrace.tracer import load_trace, trace_step
from microtrace.util.errors import BadInput
from microtrace.viz.explore.page import build_explorer
from microtrace.viz.explore.views import LIMIT


@command()
@output_option("HTML file to write.")
@click.option("--compare", "other", type=click.Path(), metavar="TRACE|RUN",
              help="A second trace file, or run directory (with --compare-step), of the same model: colour by the ratio and find the first difference.")  # fmt: skip
@click.option("--compare-step", type=click.IntRange(0), help="Step of the --compare run (default: the same step).")
@click.option("--max-nodes", type=click.IntRange(1), default=LIMIT, show_default=True,
              help="Scalar nodes one diagram draws at most; a larger group opens as a list of sub-groups.")  # fmt: skip
@click.option(
    "--film", metavar="HREF", help="Link to the film of this step's run (microtrace film), e.g. training.html."
)
@trace_source_options
def explore(trace, output, other, compare_step, max_nodes, film):
    """Write one HTML page to walk a traced step: from the block view down to every scalar.

    Double-click a group to open it into its stages and scalars (breadcrumbs lead back); search a
    node id, a parameter entry (wte[3,5]) or a scope path; the inspector shows each node's value,
    gradient and edges, and the top gradient paths to the loss. The player runs the forward pass in
    evaluation order and then the backward pass, and its position is in the URL (#t=...). Graphviz
    lays out every view when the file is written; the page makes no request of any kind (open it
    from disk, offline, or in an <iframe>).

    Example:

    \b
        microtrace explore --run runs/demo --step 120 -o step120.html
        microtrace explore --trace step120.json -o step120.html --compare other120.json
    """
    check_outputs([output], inputs=[other])
    _check_folder(output)
    if "fused" not in trace.views():
        n = trace.graph(trace.views()[0]).number_of_nodes()
        click.echo(f"note: this trace file holds the {trace.views()[0]} view only ({n:,} nodes), drawn node by node: "
                   "a larger page, slower to write; --run RUN --step K (or a trace saved with --view fused) "
                   "draws the engine's own nodes", err=True)  # fmt: skip
    second = _second(trace, other, compare_step) if other else None
    page = build_explorer(trace, second, limit=max_nodes, film=film)
    path = write_output(output, page)
    click.echo(f"wrote {path} ({len(page.encode('utf-8')) / 1e6:.1f} MB)", err=True)


def _check_folder(output):
    """Before the minutes of layout: the first folder on the way to `output` that exists must be one
    this user can write in (the rest of the output checks ran with the trace options)."""
    folder = Path(output).absolute().parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"cannot write {output}: {folder} is not a folder this user can write in")


def _second(trace, other, step):
    path = Path(other)
    if path.is_dir():
        k = trace.step if step is None else step
        click.echo(f"tracing step {k} of {other} ...", err=True)
        return trace_step(path, k)
    if step is not None:
        raise BadInput("--compare-step needs --compare RUN (a run directory)")
    return load_trace(path)


COMMANDS = [explore]
