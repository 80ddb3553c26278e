"""`microtrace gradflow`, `gradcheck` and `doctor`: where the gradient vanishes, explodes, dies or turns NaN.

Thin commands: they read options, call one library function (viz/gradflow*.py, viz/gradstats.py,
viz/gradcheck.py, viz/doctor.py) and write files at the edge, atomically. Exit codes: 0 fine, 1 the check
found a problem (gradcheck above tolerance, doctor findings), 2 bad input (one `Error:` line).
"""

import json
from dataclasses import asdict
from pathlib import Path

import click

from microtrace.cli.checks import command
from microtrace.cli.common import ScriptSource, check_outputs, figure_format, get_trace, progress, write_output
from microtrace.cli.options import (
    POSITIVE,
    figure_output_option,
    jobs_option,
    run_option,
    scale_option,
    script_options,
    step_option,
    steps_option,
    trace_file_option,
    trace_source_options,
)
from microtrace.cli.print_options import print_options
from microtrace.engine.run import open_run
from microtrace.util.errors import BadInput
from microtrace.viz.draw.canvas import figure_bytes


@command()
@run_option()
@step_option("Training step to trace (0-based), with --run.")
@trace_file_option()
@steps_option("A range of steps of --run, as Python's range (0-based, B excluded): statistics as lines, and a CSV.")
@click.option("--per-position", is_flag=True, help="Gradient per token position and block, and through the KV cache.")
@figure_output_option
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
    help="Also write the per-matrix numbers as CSV (with --steps the default is OUTPUT with .csv).",
)
@scale_option("Size of the figure.")
@print_options
@jobs_option
def gradflow(run_dir, step, trace_file, steps, per_position, output, csv_path, scale, jobs, print_size):
    """Draw how big each parameter matrix's gradient and Adam update are, for one step or a range.

    For one step: per matrix (model order) the gradient norm, mean |g| and max |g| on a log axis, the
    zero-gradient share, dead ReLU units, and the update/data ratio with the customary 1e-3 guide line.
    With --per-position: the gradient at each token position and block, and what the KV cache carries back
    to earlier positions. With --steps: the same statistics as lines over the steps, and their CSV.

    Example:

    \b
        microtrace gradflow --run runs/demo --step 120 -o flow.png
        microtrace gradflow --trace step120.json --per-position -o positions.svg
        microtrace gradflow --run runs/demo --steps 0:1000:10 -o flow.png   # also flow.csv
        microtrace gradflow --trace step120.json --width page --no-caption -o flow.pdf
    """
    fmt = figure_format(output)
    if print_size is not None and scale != 1.0:
        raise BadInput("give --scale or the print options (--width, --font-size, --dpi ...), not both")
    if steps is not None:
        csv_path = csv_path or str(Path(output).with_suffix(".csv"))
    check_outputs([output, csv_path], inputs=[trace_file])
    if steps is not None:
        figure, csv_text, note = _steps(run_dir, step, trace_file, steps, per_position, scale, fmt, jobs, print_size)
    else:
        from microtrace.viz.gradflow.matrices import trace_figure

        trace = get_trace(run_dir, step, trace_file)
        try:
            figure = trace_figure(trace, fmt, per_position, scale, print_size)
        except ValueError as e:  # nothing to draw (a trace with no positions)
            raise BadInput(str(e)) from None
        csv_text = _step_csv(trace.meta) if csv_path else None
        note = f"step {trace.step}"
    write_output(output, figure_bytes(figure))
    written = [output]
    if csv_text is not None:
        write_output(csv_path, csv_text)
        written.append(csv_path)
    click.echo(f"{note} -> {' and '.join(map(str, written))}", err=True)


def _steps(run_dir, step, trace_file, steps, per_position, scale, fmt, jobs, print_size):
    from microtrace.tracer.analysis.gradstats import check_range, progress_length, range_stats, stats_csv
    from microtrace.tracer.analysis.step_ranges import check_within
    from microtrace.viz.gradflow.over_steps import steps_figure

    if trace_file or step is not None:
        raise click.UsageError("--steps takes a range of --run DIR; drop --step and --trace")
    if per_position:
        raise click.UsageError("--per-position draws one traced step: use --step K, not --steps")
    if not run_dir:
        raise click.UsageError("--steps needs --run DIR")
    run = open_run(run_dir)
    check_within(steps, run.steps)
    check_range(run, steps)
    click.echo(f"computing gradient statistics of {len(steps)} steps of {run_dir} ...", err=True)
    with progress("training through the range", progress_length(steps, jobs)) as advance:
        stats = range_stats(run, steps, on_step=lambda k: advance(), jobs=jobs)
    return steps_figure(stats, fmt, scale, print_size), stats_csv(stats), f"{len(stats)} steps"


def _step_csv(g):
    from microtrace.tracer.analysis.gradstats import StepStats, stats_csv

    return stats_csv([StepStats(g["step"], g["loss"], g["lr"], g["param_stats"])])


@command()
@run_option()
@step_option("Training step to check (0-based; with --script the K-th backward() call, default 0).")
@click.option(
    "--samples",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Entries sampled from each parameter matrix (among those taking part in the step).",
)
@click.option(
    "--eps",
    default=1e-6,
    show_default=True,
    type=POSITIVE,
    help="Finite-difference step, from 1e-8 to 1e-2 (smaller ones make the floor larger than the gradients).",
)
@click.option("--tol", default=1e-4, show_default=True, type=POSITIVE, help="Largest relative error that passes.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sampling.")
@script_options
@click.pass_context
def gradcheck(ctx, run_dir, step, samples, eps, tol, seed, script, timeout, verbose, script_args):
    """Compare the engine's gradients with finite differences of the step's loss.

    For sampled entries of every parameter matrix: the autograd gradient and the central difference
    (L(w + eps) - L(w - eps)) / 2 eps, and their relative error |a - n| / max(|a|, |n|, floor), where
    floor = 1e-11 / eps keeps gradients that are essentially zero from measuring rounding noise. Exits 1
    when the largest relative error exceeds --tol.

    With --script, your script's own gradients: it is run again to step K twice per sampled entry,
    the entry moved up and down (its parameters must be named: a module-level state_dict, params list
    or model with parameters()). That is 2 x samples x matrices runs of K + 1 steps: keep --samples small.

    Example:

    \b
        microtrace gradcheck --run runs/demo --step 120
        microtrace gradcheck --run runs/demo --step 0 --samples 10 --eps 1e-5 --tol 1e-3
        microtrace gradcheck --script my_model/train.py --step 3 --samples 1 -- --steps 100
    """
    from microtrace.tracer.analysis.gradcheck import check_eps
    from microtrace.tracer.analysis.gradcheck import gradcheck as check

    check_eps(eps)
    source = ScriptSource(script, script_args, timeout, verbose)
    if bool(run_dir) == bool(script):
        raise click.UsageError("give --run DIR --step K or --script PATH [--step K]")
    if script:
        result = source.gradcheck(step, samples=samples, eps=eps, seed=seed)
    else:
        if step is None:
            raise click.UsageError("--run needs --step K (the 0-based training step to check)")
        run = open_run(run_dir)
        if step == run.steps:
            raise BadInput(
                f"step {step} is the trained model after the last update: it has no training "
                f"step to check (steps 0..{run.steps - 1})"
            )
        trainer = run.trainer_at(step)
        result = check(trainer, samples=samples, eps=eps, seed=seed)
    click.echo(result.table(tol))
    if not result.passed(tol):
        ctx.exit(1)


@command()
@trace_source_options
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def doctor(ctx, trace, as_json):
    """Diagnose a training step: NaN/inf, exploding or vanishing gradients, update ratios, dead ReLUs, saturation.

    Prints one line per finding (severity, where, what, a hint) and exits 1 if there is any, 0 for a
    healthy step. The thresholds, and why they are what they are, are in viz/doctor.py.

    Example:

    \b
        microtrace doctor --run runs/demo --step 120
        microtrace doctor --trace step120.json --json
    """
    from microtrace.tracer.analysis.doctor import checked_graph, diagnose, report

    G, nonfinite = checked_graph(trace, trace.default_view())
    findings = diagnose(G, nonfinite)
    if as_json:
        click.echo(json.dumps({"step": G.graph.get("step"), "findings": [asdict(f) for f in findings]}, indent=1))
    else:
        click.echo(report(G, findings))
    if findings:
        ctx.exit(1)


COMMANDS = [gradflow, gradcheck, doctor]
