"""`microtrace report`: one self-contained HTML page explaining one training step (viz/report.py)."""

import click

from microtrace.cli.checks import command
from microtrace.cli.common import advance_to, progress, write_output
from microtrace.cli.options import output_option, trace_source_options
from microtrace.viz.page_safety import UnsafeLink, checked_link
from microtrace.viz.report.page import build_report


class Link(click.ParamType):
    """An http(s) address or a relative path: a link no reader can be harmed by following."""

    name = "href"

    def convert(self, value, param, ctx):
        try:
            return checked_link(value)
        except UnsafeLink as e:
            self.fail(str(e), param, ctx)


@command()
@output_option("HTML file to write.")
@click.option(
    "--explorer",
    metavar="HREF",
    type=Link(),
    help="Link the graph to this step's explorer page (microtrace explore), e.g. explore.html: a relative "
    "path or an http(s) address.",
)
@click.option(
    "--film",
    metavar="HREF",
    type=Link(),
    help="Link to the film of this step's run (microtrace film), e.g. training.html: a relative path or an "
    "http(s) address.",
)
@trace_source_options
def report(trace, output, explorer, film):
    """Write one HTML page that explains a training step, for reading along.

    The document and its tokens, the loss per position, the block graph (hover for numbers),
    attention weights and their gradient, gradient flow, per-matrix gradient statistics, the
    largest-gradient paths and the doctor's findings. Everything is inside the one file (no
    network, no JavaScript): open it in any browser, mail it, print it.

    Example:

    \b
        microtrace report --run runs/demo --step 120 -o step120.html
        microtrace report --trace step120.json -o step120.html --explorer explore120.html
    """
    with progress("writing the report", None) as advance:
        page = build_report(trace, explorer=explorer, on_progress=advance_to(advance), film=film)
    path = write_output(output, page)
    click.echo(f"wrote {path} ({len(page.encode('utf-8')) // 1024} KB)", err=True)


COMMANDS = [report]
