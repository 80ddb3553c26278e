"""The options commands share, one decorator per group of options, as sqlite-utils writes them.

A group is `options(click.option(...), ...)`: one decorator that adds its options to a command in the
order listed (the order `--help` shows them). A command stacks the groups it takes:

    @command()
    @trace_source_options        # --run, --step, --trace, --script ...: the command receives `trace`
    @figure_output_option        # -o/--output FILE: .png, .svg or .pdf
    @scale_option("Size of the figure.")
    def gradflow(trace, output, scale): ...

A new group (a figure's print size, a page's options) is one more `options(...)` here, used by every
command that takes it. The option types (`StepRange`, `POSITIVE`, `SCALE`) live here too; options
generated from a config dataclass (train's model and training options) come from `config_options`.
"""

import dataclasses
import functools
import math

import click

from microtrace.cli.common import OUTPUT_OPTIONS, ScriptSource, check_outputs, get_trace
from microtrace.tracer.analysis.step_ranges import StepRangeError, default_jobs, parse_steps
from microtrace.tracer.export.strict_json import NAN_AS


def options(*decorators):
    """One decorator that applies click decorators in the order listed (the first is first in --help)."""

    def apply(command):
        for decorator in reversed(decorators):
            command = decorator(command)
        return command

    return apply


class FiniteRange(click.FloatRange):
    """`click.FloatRange` that also refuses nan and inf (they would only fail later, less clearly)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


POSITIVE = FiniteRange(min=0, min_open=True)
SCALE = FiniteRange(min=0, min_open=True, max=20)  # a figure's size multiplier (fonts.check_scale's rule)


class StepRange(click.ParamType):
    """`--steps A:B[:S]`: a `range` of 0-based steps, as Python's range (B excluded, S defaults to 1)."""

    name = "A:B[:S]"

    def convert(self, value, param, ctx):
        if isinstance(value, range):
            return value
        try:
            return parse_steps(value)
        except StepRangeError as e:
            self.fail(str(e), param, ctx)


def config_options(config, *names):
    """Options generated from fields of a config dataclass (`engine.model.GPTConfig`, `engine.train.TrainConfig`):
    `--n-embd` from `n_embd`, its default the field's, its help and range from the field's metadata
    (`help`; `min`, and for a float `min_open`)."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    return options(*(_config_option(fields[name]) for name in names))


def _config_option(field):
    meta = field.metadata
    if field.type in (float, "float"):
        kind = FiniteRange(min=meta.get("min"), min_open=meta.get("min_open", False))
    else:
        kind = click.IntRange(min=meta["min"]) if "min" in meta else int
    flag = "--" + field.name.replace("_", "-")
    return click.option(flag, type=kind, default=field.default, show_default=True, help=meta["help"])


def run_option(help="Run directory made by `microtrace train`."):
    return click.option("--run", "run_dir", type=click.Path(file_okay=False), help=help)


def step_option(help):
    return click.option("--step", type=int, help=help)


def trace_file_option(help="A trace file from `microtrace trace`."):
    return click.option("--trace", "trace_file", type=click.Path(dir_okay=False), help=help)


def output_option(help, required=True):
    """`-o/--output FILE`: the file the command writes."""
    return click.option("-o", "--output", type=click.Path(dir_okay=False), required=required, help=help)


figure_output_option = output_option("Figure to write: .png, .svg or .pdf.")


def scale_option(help):
    """`--scale`: a figure's size multiplier."""
    return click.option("--scale", type=SCALE, default=1.0, show_default=True, help=help)


def steps_option(help):
    """`--steps A:B[:S]`: a range of a run's steps."""
    return click.option("--steps", type=StepRange(), help=help)


# `--jobs N`: processes for the steps of `--steps` (each replays its share of the range from its nearest
# checkpoint; the numbers are those of one process).
jobs_option = click.option(
    "--jobs", type=click.IntRange(1), default=default_jobs, show_default="the number of cores",
    help="Processes for --steps, each replaying its share from its nearest checkpoint (the same numbers as one process).",
)  # fmt: skip

nan_as_option = click.option(
    "--nan-as",
    type=click.Choice(NAN_AS),
    default="string",
    show_default=True,
    help='How JSON writes nan and inf: "NaN"/"Infinity"/"-Infinity" strings (strict JSON; '
    "JavaScript's Number() reads them), null (strict, nan and inf alike), or literal NaN/Infinity "
    "(Python and JSON5 only).",
)

# `--script`, `--timeout`, `--verbose` and the script's arguments (after `--`).
script_options = options(
    click.option("--script", type=click.Path(), help="Your own training script (run unchanged): trace its step --step."),
    click.option("--timeout", type=POSITIVE, help="With --script: stop a script that has not reached the step after this many seconds."),
    click.option("--verbose", is_flag=True, help="With --script: show the script's output and, if it fails, its traceback."),
    click.argument("script_args", nargs=-1, metavar="[-- SCRIPT_ARGS...]"),
)  # fmt: skip

_trace_source = options(
    run_option(),
    step_option("Training step to trace (0-based), with --run; with --script the K-th backward() call (default 0)."),
    trace_file_option("A trace file from `microtrace trace` (a store or JSON)."),
    script_options,
)


def trace_source_options(command):
    """`--run`, `--step`, `--trace` and `--script` (with `--timeout`, `--verbose` and the script's own
    arguments after `--`); the command receives the step's `trace` instead. Its outputs (`OUTPUT_OPTIONS`)
    are checked before the trace is made."""

    @_trace_source
    @functools.wraps(command)
    def wrapper(run_dir, step, trace_file, script, timeout, verbose, script_args, **kwargs):
        source = ScriptSource(script, script_args, timeout, verbose)
        check_outputs([kwargs.get(name) for name in OUTPUT_OPTIONS], inputs=[trace_file, run_dir, script])
        return command(trace=get_trace(run_dir, step, trace_file, source), **kwargs)

    return wrapper
