"""What the commands on traces share: getting a trace from `--run DIR --step K` or `--trace FILE`, the
`--steps A:B[:S]` type, and writing output files.

Outputs are checked before any work (`check_outputs`): never one of the command's inputs, never a run's
own files, never a directory, a socket or a symbolic link to a file (engine/atomic.py says why), and no
two outputs the same file. Then each is written atomically by `write_output`, a failure one line.
"""

import functools
import os
from pathlib import Path

import click

from microtrace.engine.atomic import UnsafePath, check_target, write_atomic
from microtrace.engine.run import run_owning
from microtrace.tracer import TraceError, load_trace, trace_step
from microtrace.tracer.steps import StepRangeError, parse_steps

from microtrace.viz.cli.checks import BadInput as UserError  # one-line error about the input, exit code 2


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


# The output options of commands with `trace_source_options`, checked before the trace is loaded.
OUTPUT_OPTIONS = ("output", "json_file", "csv_path")


def trace_source_options(command):
    """Add `--run`, `--step` and `--trace` to a command; it receives a `trace` argument instead."""

    @click.option("--run", "run_dir", type=click.Path(file_okay=False), help="Run directory made by `microtrace train`.")
    @click.option("--step", type=int, help="Training step to trace (0-based), with --run.")
    @click.option("--trace", "trace_file", type=click.Path(dir_okay=False), help="A trace file from `microtrace trace`.")
    @functools.wraps(command)
    def wrapper(run_dir, step, trace_file, **kwargs):
        check_outputs([kwargs.get(name) for name in OUTPUT_OPTIONS], inputs=[trace_file, run_dir])
        return command(trace=get_trace(run_dir, step, trace_file), **kwargs)

    return wrapper


def get_trace(run_dir, step, trace_file):
    """The trace the options name; UsageError/ClickException (one line, exit 2) when they don't."""
    if trace_file and run_dir:
        raise click.UsageError("give either --trace FILE or --run DIR --step K, not both")
    if not trace_file and not run_dir:
        raise click.UsageError("which step? give --run DIR --step K, or --trace FILE")
    if run_dir and step is None:
        raise click.UsageError("--run needs --step K (the 0-based training step to trace)")
    try:
        if trace_file:
            return load_trace(trace_file)
        click.echo(f"tracing step {step} of {run_dir} ...", err=True)
        return trace_step(run_dir, step)
    except TraceError as e:
        raise UserError(str(e)) from None


def check_outputs(outputs, inputs=()):
    """Refuse (one line, exit 2), before any work, outputs that would destroy something: an input of the
    command (a trace file), a run's own files (config.json, losses.csv, checkpoints/), the same file named
    twice, or a path `engine.atomic.check_target` will not write. `None`s are skipped."""
    seen = {}
    inputs = [(p, _real(p)) for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        real = _real(out)
        for given, source in inputs:
            if real == source:
                raise UserError(f"{out} is also an input ({given}); write the output somewhere else")
        run = run_owning(real)
        if run is not None:
            raise UserError(f"{out} would replace a file of the run in {run}; write the output somewhere else")
        if real in seen:
            raise UserError(f"{out} and {seen[real]} are the same file; give each output its own name")
        seen[real] = out
        try:
            check_target(out)
        except UnsafePath as e:
            raise UserError(str(e)) from None


def _real(path):
    return os.path.realpath(os.fspath(path))


def output_file(path):
    """An output path whose folder exists (made if needed); data files are written at the edge."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the folder {path.parent} ({e.strerror or e})") from None
    return path


def write_output(path, data):
    """Write `data` (bytes or text) to the output file `path`, atomically, its folder made if needed;
    a failure is one `Error:` line (exit 2), the old file intact. Returns the path written."""
    target = output_file(path)
    try:
        write_atomic(target, data)
    except UnsafePath as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError(f"cannot write {path} ({e.strerror or e})") from None
    return target
