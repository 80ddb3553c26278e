"""What the commands on traces share: getting a trace from `--run DIR --step K`, `--trace FILE` or
`--script PATH [--step K] [-- SCRIPT_ARGS]` (the options themselves are in `options`), progress bars,
and writing output files.

Outputs are checked before any work (`check_outputs`): never one of the command's inputs, never a run's
own files, never a directory, a socket or a symbolic link to a file (util/atomic.py says why), and no
two outputs the same file. Then each is written atomically by `write_output`, a failure one line.
"""

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from microtrace.engine.run import run_owning
from microtrace.tracer import ScriptError, load_trace, trace_script, trace_step
from microtrace.util.atomic import UnsafePath, check_target, write_atomic, write_atomic_chunks
from microtrace.util.errors import BadInput

FIGURE_FORMATS = ("png", "svg", "pdf")  # what `viz.draw.canvas` makes


def figure_format(path):
    """The figure format the extension of `path` names (png, svg or pdf); BadInput for any other."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FIGURE_FORMATS:
        raise BadInput(f"cannot tell the figure format from {str(path)!r}: end it in .png, .svg or .pdf")
    return suffix


# The output options of commands with `options.trace_source_options`, checked before the trace is loaded.
OUTPUT_OPTIONS = ("output", "json_file", "csv_path")


class ScriptSource:
    """What the --script options asked for."""

    def __init__(self, path, args, timeout, verbose):
        self.path, self.args, self.timeout, self.verbose = path, tuple(args), timeout, verbose
        if args and not path:
            raise click.UsageError(f"unexpected argument {args[0]!r} (arguments after -- go to a --script)")
        if (timeout or verbose) and not path:
            raise click.UsageError("--timeout and --verbose go with --script")

    def trace(self, step):
        """The trace of step `step` of the script; a failure is one `Error:` line (with --verbose the
        script's traceback before it)."""
        step = self._step(step)
        click.echo(f"tracing backward() call {step} of {self.path} ...", err=True)
        output = sys.stderr if self.verbose else None
        with self._errors():
            return trace_script(self.path, step, self.args, self.timeout, output=output)

    def gradcheck(self, step, **options):
        """`tracer.analysis.gradcheck_script.gradcheck_script` of the script at `step`, failures as for `trace`."""
        from microtrace.tracer.analysis.gradcheck_script import gradcheck_script

        step = self._step(step)
        click.echo(f"checking backward() call {step} of {self.path} against finite differences ...", err=True)
        with self._errors():
            return gradcheck_script(self.path, step, self.args, timeout=self.timeout, **options)

    @staticmethod
    def _step(step):
        step = 0 if step is None else step
        if step < 0:
            raise BadInput(f"--step must be 0 or more, got {step}")
        return step

    @contextmanager
    def _errors(self):
        try:
            yield
        except ScriptError as e:  # its one line follows the script's own traceback
            if self.verbose and e.detail:
                click.echo(e.detail.rstrip("\n"), err=True)
            raise


def get_trace(run_dir, step, trace_file, script=None):
    """The trace the options name; UsageError or TraceError (one line, exit 2) when they don't."""
    given = [
        name
        for name, v in (
            ("--trace FILE", trace_file),
            ("--run DIR --step K", run_dir),
            ("--script PATH", script and script.path),
        )
        if v
    ]
    if len(given) > 1:
        raise click.UsageError(f"give either {given[0]} or {given[1]}, not both")
    if not given:
        raise click.UsageError("which step? give --run DIR --step K, --trace FILE, or --script PATH [--step K]")
    if script is not None and script.path:
        return script.trace(step)
    if run_dir and step is None:
        raise click.UsageError("--run needs --step K (the 0-based training step to trace)")
    if trace_file:
        return load_trace(trace_file)
    click.echo(f"tracing step {step} of {run_dir} ...", err=True)
    with progress("replaying from the checkpoint", None) as advance:
        return trace_step(run_dir, step, on_step=lambda done, total: advance(1, total))


def check_outputs(outputs, inputs=()):
    """Refuse (one line, exit 2), before any work, outputs that would destroy something: an input of the
    command (a trace file), a run's own files (config.json, losses.csv, checkpoints/), the same file named
    twice, or a path `util.atomic.check_target` will not write. `None`s are skipped."""
    seen = {}
    inputs = [(p, _real(p)) for p in inputs if p is not None]
    for out in outputs:
        if out is None:
            continue
        real = _real(out)
        for given, source in inputs:
            if real == source:
                raise BadInput(f"{out} is also an input ({given}); write the output somewhere else")
        run = run_owning(real)
        if run is not None:
            raise BadInput(f"{out} would replace a file of the run in {run}; write the output somewhere else")
        if real in seen:
            raise BadInput(f"{out} and {seen[real]} are the same file; give each output its own name")
        seen[real] = out
        check_target(out)


def _real(path):
    return os.path.realpath(os.fspath(path))


def stderr_is_terminal():
    return sys.stderr.isatty()


@contextmanager
def progress(label, length):
    """A progress bar on stderr while the block runs, when stderr is a terminal (nothing otherwise, so
    logs and pipes stay clean). Yields `advance(n=1, length=None)`; `length` may be given late."""
    if not stderr_is_terminal():
        yield lambda n=1, length=None: None
        return
    bar = None

    def advance(n=1, total=None):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total or length, label=label, file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.update(n)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def advance_to(advance):
    """For a library hook that says where it is, `on_progress(done, total)`, the `advance` of `progress`
    (which moves the bar by steps)."""
    at = 0

    def to(done, total):
        nonlocal at
        advance(done - at, total)
        at = done

    return to


def output_file(path):
    """An output path whose folder exists (made if needed); data files are written at the edge."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot create the folder {path.parent} ({e.strerror or e})") from None
    return path


def write_output(path, data):
    """Write `data` (bytes, text, or an iterable of text pieces written as they come) to the output file
    `path`, atomically, its folder made if needed; a failure is one `Error:` line (exit 2), the old file
    intact. Returns the path written."""
    target = output_file(path)
    try:
        write_atomic(target, data) if isinstance(data, (bytes, str)) else write_atomic_chunks(target, data)
    except UnsafePath:
        raise  # its own line
    except OSError as e:
        raise BadInput(f"cannot write {path} ({e.strerror or e})") from None
    return target
