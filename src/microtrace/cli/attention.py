"""`microtrace attention`: which earlier characters each character attends to, per layer and head.

A thin command over `viz.attention_trace`: it checks the options, asks the library for images and
numbers, and writes them (atomically, the same bytes for the same inputs). Every bad input is one
`Error:` line and exit code 2.
"""

from pathlib import Path

import click

from microtrace.cli.checks import command
from microtrace.cli.common import check_outputs, figure_format, get_trace, progress, write_output
from microtrace.cli.options import (
    jobs_option,
    output_option,
    run_option,
    scale_option,
    step_option,
    steps_option,
    trace_file_option,
)
from microtrace.cli.print_options import print_options
from microtrace.engine.run import open_run
from microtrace.tracer.analysis import attention as tracer_attention
from microtrace.tracer.export import strict_json
from microtrace.util.errors import BadInput
from microtrace.util.jsontext import fields_by_line
from microtrace.viz import attention as viz_attention
from microtrace.viz.attention import figure
from microtrace.viz.draw.canvas import figure_bytes


class Head(click.ParamType):
    """--head: a head index or `mean`."""

    name = "H|mean"

    def convert(self, value, param, ctx):
        if value == "mean" or isinstance(value, int):
            return value
        if not (isinstance(value, str) and value.isdigit()):
            self.fail(f"{value!r} is not a head number (0, 1, ...) or 'mean'", param, ctx)
        return int(value)


def _check_combination(run_dir, step, trace_file, text, steps, per_token, layer, head, output, json_file):
    """One line about the first option combination that cannot work (before any slow work)."""
    if not output and not json_file:
        raise BadInput("nothing to write: give -o FILE (.png, .svg or .pdf; .gif with --steps) and/or --json FILE")
    if (layer is not None or head is not None) and not per_token:
        raise BadInput("--layer and --head choose the head of --per-token; the grid always shows every head")
    if steps is not None:
        if trace_file:
            raise BadInput("--steps needs --run (a trace file holds one step only)")
        if not run_dir:
            raise BadInput("--steps needs --run DIR")
        if step is not None:
            raise BadInput("give either --step K or --steps A:B:S, not both")
        if output and Path(output).suffix.lower() != ".gif":
            raise BadInput(f"with --steps the output is an animated GIF: -o {output} should end in .gif")
        return
    if output and Path(output).suffix.lower() == ".gif":
        raise BadInput(f"-o {output}: an animated .gif needs --steps A:B:S")
    if output:
        figure_format(output)
    if text is not None:
        if trace_file:
            raise BadInput("--text needs --run DIR --step K: a trace file holds its own text")
        if not run_dir or step is None:
            raise BadInput("--text needs --run DIR --step K (the model state to read the text with)")


def _frame_scale(look):
    """The scale the frames were laid out at (their "step K" labels follow it)."""
    return look["scale"] if look["print_size"] is None else look["print_size"].scale("png")


def _json_bytes(value):
    """One frame per line; floats are reprs, so the numbers are exactly the trace's; strict JSON (nan and
    inf as the strings "NaN", "Infinity", "-Infinity": tracer/export/strict_json.py)."""
    return fields_by_line(strict_json.strict(value), expand=("frames",)).encode("utf-8")


@command()
@run_option()
@step_option(
    "Training step (0-based), with --run: its own document, or --text (with --text, "
    "the run's step count is the trained model, after the last update)."
)
@trace_file_option()
@click.option(
    "--text", help="Any text (e.g. a name) read by the model as it is at --step, instead of the step's document."
)
@steps_option(
    "An animated GIF over steps range(A, B, S) of --run (B excluded; B = steps + 1 ends on the trained "
    "model), for --text (default: the document of step A, cut to block_size)."
)
@click.option("--grad", is_flag=True, help="Draw d loss / d attention weight (blue-white-red, centred on zero).")
@click.option("--per-token", is_flag=True, help="One strip per query token over its context, for one layer and head.")
@click.option("--layer", type=click.IntRange(min=0), help="Layer of --per-token.  [default: 0]")
@click.option(
    "--head",
    type=Head(),
    metavar="H|mean",
    help="Head of --per-token, or the mean of the layer's heads.  [default: mean]",
)
@click.option("--values", is_flag=True, help="Print the number in each cell when it fits.")
@scale_option("Pixel size multiplier.")
@click.option(
    "--duration", type=click.IntRange(10, 60000), default=600, show_default=True, help="Milliseconds per GIF frame."
)
@click.option(
    "--max-frames",
    type=click.IntRange(1, figure.MAX_FRAMES),
    default=figure.DEFAULT_MAX_FRAMES,
    show_default=True,
    help=f"With --steps: refuse a range of more frames than this (each a GIF frame and a contact-sheet "
    f"tile); at most {figure.MAX_FRAMES}.",
)
@click.option(
    "--json", "json_file", type=click.Path(dir_okay=False), help="Also write the numbers behind the figure as JSON."
)
@output_option("Figure to write: .png, .svg or .pdf, or .gif with --steps.", required=False)
@print_options
@jobs_option
def attention(
    run_dir,
    step,
    trace_file,
    text,
    steps,
    grad,
    per_token,
    layer,
    head,
    values,
    scale,
    duration,
    max_frames,
    json_file,
    output,
    jobs,
    print_size,
):
    """Attention heatmaps: which earlier characters each character attends to, in every head.

    One heatmap per layer and head: query rows, key columns, the masked future hatched, characters
    labelled (BOS as a dark badge). The weights are the tracer's softmax outputs for that step. With
    --steps, an animated GIF of the same text across training and a contact sheet beside it
    (out.gif -> out-sheet.png); --grad frames share one colour scale.

    --json FILE writes {"step", "text", "training", "loss", "tokens", "token_ids", "attention"} with
    attention[layer][head][query] the weights of keys 0..query (and "grad" in the same shape with
    --grad); with --steps, {"text", "steps", "frames": [one such record per step]}.

    Example:

    \b
        microtrace attention --run runs/demo --step 120 -o attn.png
        microtrace attention --run runs/demo --step 120 --text emma --grad --values -o grad.png
        microtrace attention --trace step120.json --per-token --head mean -o strips.png
        microtrace attention --run runs/demo --steps 0:200:10 --text emma -o emma.gif --json emma.json
        microtrace attention --trace step120.json --width column --no-caption -o attn.pdf
    """
    _check_combination(run_dir, step, trace_file, text, steps, per_token, layer, head, output, json_file)
    sheet = figure.sheet_path(output) if steps is not None and output else None
    check_outputs([output, sheet, json_file], inputs=[trace_file])
    if print_size is not None and scale != 1.0:
        raise BadInput("give --scale or the print options (--width, --font-size, --dpi ...), not both")
    look = dict(
        grad=grad,
        per_token=per_token,
        layer=layer or 0,
        head="mean" if head is None else head,
        values=values,
        scale=scale,
        print_size=print_size,
    )
    if steps is not None:
        _over_steps(run_dir, text, steps, look, duration, max_frames, output, json_file, jobs)
    else:
        _one_step(run_dir, step, trace_file, text, look, output, json_file)


def _one_step(run_dir, step, trace_file, text, look, output, json_file):
    if text is not None:
        click.echo(f"reading {text!r} with the model at step {step} of {run_dir} ...", err=True)
        trace = tracer_attention.text_trace(run_dir, step, text)
    else:
        trace = get_trace(run_dir, step, trace_file)
    data = tracer_attention.read_attention(trace)
    if output:
        fmt = figure_format(output)
        image = figure.draw(data, fmt=fmt, **look)
        write_output(output, figure_bytes(image))
        click.echo(f"step {data.meta['step']}: {data.meta['text']!r} -> {output}", err=True)
    if json_file:
        write_output(json_file, _json_bytes(tracer_attention.record(data, look["grad"])))
        click.echo(f"numbers -> {json_file}", err=True)


def _over_steps(run_dir, text, steps, look, duration, max_frames, output, json_file, jobs):
    run = open_run(run_dir)
    figure.check_steps(steps, run.steps, max_frames)
    click.echo(f"tracing {len(steps)} steps of {run_dir} ({steps.start}:{steps.stop}:{steps.step}) ...", err=True)
    with progress("tracing the frames", len(steps)) as advance:
        series = tracer_attention.attention_series(run, text, steps, jobs=jobs, on_step=lambda k: advance())
    if output:
        frames, labels = figure.series_frames(series, **look)
        write_output(output, viz_attention.animate(frames, labels, duration_ms=duration, scale=_frame_scale(look)))
        sheet = figure.sheet_path(output)
        write_output(sheet, viz_attention.png_bytes(figure.contact_sheet_of(series, **look)))
        click.echo(
            f"{len(frames)} frames of {series[0].meta['text']!r} -> {output}, contact sheet -> {sheet}", err=True
        )
    if json_file:
        doc = {
            "text": series[0].meta["text"],
            "steps": list(steps),
            "frames": [tracer_attention.record(d, look["grad"]) for d in series],
        }
        write_output(json_file, _json_bytes(doc))
        click.echo(f"numbers -> {json_file}", err=True)


COMMANDS = [attention]
