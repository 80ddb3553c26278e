"""Errors and option checks for commands that work on runs (train, sample).

Exit codes: 0 success, 1 a failure of the work itself (a diverged run), 2 bad input (options, data, run
directories, checkpoints). Errors are one `Error: ...` line on stderr, never a traceback. click's own
UsageError also exits 2 but prints the usage text as well; these errors are about values, not syntax.
Kept apart from cli_common (the trace options) so that `train` does not import the tracer.
"""

import math
from contextlib import contextmanager

import click

from microtrace.engine.data import DataError
from microtrace.engine.run import RunDiverged, RunError


# On every command, not only the group: click caches a command's help option the first time it is
# built, so a command first run on its own (a test, a script) would otherwise keep only --help.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class BadInput(click.ClickException):
    """Bad input from the user: one line, exit code 2."""

    exit_code = 2


class Failed(click.ClickException):
    """The input was fine but the work failed: one line, exit code 1 (or `exit_code`)."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def user_errors():
    """The library's user-facing errors as click errors: RunDiverged exits 1, bad input exits 2."""
    try:
        yield
    except RunDiverged as e:
        raise Failed(str(e)) from None
    except (RunError, DataError) as e:
        raise BadInput(str(e)) from None


def at_least(minimum):
    """An option callback: a whole number >= minimum."""

    def check(ctx, param, value):
        if value is not None and value < minimum:
            raise BadInput(f"{param.opts[-1]} must be at least {minimum}, got {value}")
        return value

    return check


def positive(ctx, param, value):
    """An option callback: a finite number above 0 (nan or inf would only fail later, less clearly)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise BadInput(f"{param.opts[-1]} must be a number above 0, got {value}")
    return value


def finite(ctx, param, value):
    """An option callback: a finite number."""
    if value is not None and not math.isfinite(value):
        raise BadInput(f"{param.opts[-1]} must be a finite number, got {value}")
    return value
