"""`microtrace graph`: a Graphviz figure of one traced step, from the whole step down to single scalars.

Exit codes: 0 done, 2 bad input (one `Error: ...` line), 3 Graphviz's `dot` is missing (the `.dot`
source is written instead, and the line says how to install Graphviz).
"""

import functools

import click

from microtrace.cli.checks import command
from microtrace.cli.options import trace_source_options
from microtrace.cli.print_options import print_options
from microtrace.util.errors import BadInput
from microtrace.viz.graph import select as graph_select
from microtrace.viz.graph.figure import FOCUS_SCOPES, LEVELS, RATIOS, graph_figure, page_attrs
from microtrace.viz.graph.render import RenderError, output_format, render


class PageSize(click.ParamType):
    """--size W,H: a page in inches."""

    name = "W,H"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            w, h = (float(x) for x in value.split(","))
            page_attrs(size=(w, h))
        except ValueError:
            self.fail(f"{value!r} is not W,H in inches above 0, e.g. 10,7.5", param, ctx)
        return (w, h)


class Ratio(click.ParamType):
    """--ratio: a number (height / width) or fill, compress, expand, auto."""

    name = "NUMBER|" + "|".join(RATIOS)

    def convert(self, value, param, ctx):
        if value in RATIOS:
            return value
        try:
            number = float(value)
            page_attrs(ratio=number)
        except ValueError:
            self.fail(f"{value!r} is not a number above 0 or one of {', '.join(RATIOS)}", param, ctx)
        return number


DEFAULT_DPI = 144  # a .png's resolution without the print options


def _check_output(ctx, param, value):
    try:
        output_format(value)
    except RenderError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _check_options(command):
    """Checks that need no trace, done before tracing (which takes seconds)."""

    @functools.wraps(command)
    def wrapper(**kw):
        scalar = kw["level"] == "scalar"
        if scalar and not (kw["focus"] or kw["around"] is not None or kw["highlight"]):
            raise BadInput("--level scalar needs --focus SCOPE, --around NODE or --highlight K --target NODE")
        if kw["around"] is not None and not scalar:
            raise BadInput("--around draws scalar nodes: add --level scalar")
        if kw["focus"] and kw["around"] is not None:
            raise BadInput("give --focus SCOPE or --around NODE, not both")
        if kw["view"] and not scalar:
            raise BadInput("--view chooses the scalar level's nodes: add --level scalar")
        if kw["label"] != "id" and not scalar:
            raise BadInput("--label names scalar nodes: add --level scalar")
        if kw["highlight"] and not kw["target"]:
            raise BadInput("--highlight K needs --target NODE (a node id or a parameter such as layer0.attn_wq[3,7])")
        return command(**kw)

    return wrapper


@command()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), callback=_check_output,
              help="Figure to write: .svg, .png, .pdf or .dot (the format follows the extension).")  # fmt: skip
@click.option("--level", type=click.Choice(LEVELS), default="block", show_default=True,
              help="Collapse to one node per block, stage or layer, or draw the scalar nodes.")  # fmt: skip
@click.option(
    "--focus",
    metavar="SCOPE",
    help="Only this scope (a path or a prefix of one). The scopes each level draws: "
    + "; ".join(f"{level}: {scopes}" for level, scopes in FOCUS_SCOPES.items())
    + ".",
)
@click.option("--around", metavar="NODE", help="Scalar level: the nodes near this node id or parameter (wte[3,5]).")
@click.option("--hops", type=click.IntRange(0, 50), default=2, show_default=True, help="How far --around reaches.")
@click.option("--view", type=click.Choice(["fused", "elementary"]),
              help="Scalar level: one node per dot product (fused, smaller; the default when the trace has it) "
              "or microGPT's own nodes (elementary).")  # fmt: skip
@click.option("--backward", is_flag=True, help="Arrows along the gradient, edges labelled with the flow.")
@click.option("--color", type=click.Choice(["grad", "value", "none"]), default="grad", show_default=True,
              help="Node fill: |grad| (log scale), value (collapsed levels: the norm of the values inside), or none.")  # fmt: skip
@click.option(
    "--highlight",
    type=click.IntRange(1, 50),
    metavar="K",
    help="Mark the K paths carrying most gradient from --target to the loss.",
)
@click.option("--target", metavar="NODE", help="Node id or parameter entry (layer0.attn_wq[3,7]) for --highlight.")
@click.option(
    "--params/--no-params", default=True, show_default=True, help="Draw the parameter matrices (collapsed levels)."
)
@click.option("--max-nodes", type=click.IntRange(1), default=graph_select.DEFAULT_MAX_NODES, show_default=True,
              help="Refuse a scalar view with more nodes than this.")  # fmt: skip
@click.option(
    "--rankdir",
    type=click.Choice(["LR", "TB"]),
    default="LR",
    show_default=True,
    help="Left to right or top to bottom.",
)
@click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True)
@click.option(
    "--precision", type=click.IntRange(1, 10), default=3, show_default=True, help="Significant digits of the numbers."
)
@click.option(
    "--size",
    type=PageSize(),
    help="Draw at most this big, in inches (e.g. 10,7.5 for a landscape page): a long scalar chain is scaled to fit.",
)
@click.option(
    "--ratio",
    type=Ratio(),
    help="Aspect ratio of the drawing (height / width, e.g. 0.7), or Graphviz's "
    "fill, compress, expand, auto; with --size, fill fills the page.",
)
@click.option(
    "--fold/--no-fold",
    default=True,
    show_default=True,
    help="Scalar level: cut a chain too long for a page into bands drawn one under the other (LR) or side "
    "by side (TB), and wrap parallel parts too wide for it (a ReLU's units) into columns (LR) or rows (TB), "
    "in order. --ratio turns it off.",
)
@click.option("--legend/--no-legend", default=True, show_default=True)
@click.option("--label", type=click.Choice(["id", "source"]), default="id", show_default=True,
              help="Scalar level: name each value by its node id, or also by the file:line that made it (traces of a --script).")  # fmt: skip
@print_options
@_check_options
@trace_source_options
def graph(trace, output, level, focus, around, hops, view, backward, color, highlight, target, params,
          max_nodes, rankdir, theme, precision, size, ratio, fold, legend, label, print_size):  # fmt: skip
    """Draw one traced step with Graphviz: the whole step collapsed, or single scalars.

    \b
    --level block|stage|layer  the collapsed step: clusters for positions, layers
                               and heads; edges as wide as the gradient they carry
    --level scalar             real scalar nodes, micrograd style, of --focus SCOPE
                               or --around NODE --hops N (stubs for what leaves)

    Example:

    \b
        microtrace graph --run runs/demo --step 120 -o step.svg
        microtrace graph --trace step.json --level scalar --focus pos2/layer0/attn/head1 -o head.png
        microtrace graph --trace step.json --highlight 3 --target "layer0.attn_wq[3,7]" -o paths.pdf
        microtrace graph --trace mine.json --level scalar --focus pos1/gpt/layer0/head0/softmax --label source -o sm.svg
        microtrace graph --trace step.json --level scalar --focus pos1/layer0/attn/head0 --width column -o head.pdf
    """
    if print_size is not None and print_size.cols is not None:
        raise BadInput("--cols sets the heads per row of attention figures; a graph has no panels")
    if print_size is not None and print_size.width_pt is not None and (size or ratio):
        raise BadInput("give --width or --size/--ratio, not both")
    try:
        digraph = graph_figure(
            trace,
            level,
            focus=focus,
            around=around,
            hops=hops,
            view=view,
            highlight=highlight or 0,
            target=target,
            params=params,
            max_nodes=max_nodes,
            label=label,
            size=size,
            ratio=ratio,
            fold=fold,
            backward=backward,
            color=color,
            rankdir=rankdir,
            theme=theme,
            precision=precision,
            legend=legend,
            print_size=print_size,
        )
    except graph_select.ViewTooLarge as e:  # worded with this command's options
        raise BadInput(_too_large(e)) from None
    try:
        path = render(digraph, output, dpi=print_size.dpi if print_size else DEFAULT_DPI)
    except OSError as e:
        raise BadInput(f"cannot write {output} ({e.strerror or e})") from None
    click.echo(f"wrote {path}", err=True)


def _too_large(e):
    """ViewTooLarge in the words of this command's options."""
    tips = [f"narrow it (e.g. --focus {e.narrower})" if e.narrower else "narrow --focus or lower --hops"]
    if e.fused_would_help:
        tips.append("use --view fused")
    tips.append("or draw a collapsed --level block|stage|layer")
    return f"the scalar view of {e.what} has {e.count:,} nodes, more than --max-nodes {e.limit:,}: {', '.join(tips)}"


COMMANDS = [graph]
