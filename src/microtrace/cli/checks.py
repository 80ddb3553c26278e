"""Errors, the command class and option types of every command; those of runs (train, sample).

Exit codes: 0 success, 1 a failure of the work itself (a diverged run), 2 bad input (options, data, run
directories, checkpoints). Errors are one `Error: ...` line on stderr, never a traceback. click's own
UsageError, which would print the usage text as well, becomes one such line too (`OneLineCommand`).
Kept apart from cli_common (the trace options) so that `train` does not import the tracer.
"""

from contextlib import contextmanager

import click

from microtrace.engine.data import DataError
from microtrace.engine.run import RunDiverged, RunError
from microtrace.util.limits import LimitError
from microtrace.util.lock import RunLocked

# On every command, not only the group: click caches a command's help option the first time it is
# built, so a command first run on its own (a test, a script) would otherwise keep only --help.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

# The option that raises each limit a library function takes as an argument (LimitError.setting).
LIMIT_OPTIONS = {"max_memory_gb": "--max-memory GB"}


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
    """The library's user-facing errors as click errors: RunDiverged exits 1, bad input exits 2. A limit
    is worded with the option that raises it (the library names its own argument)."""
    try:
        yield
    except RunDiverged as e:
        raise Failed(str(e)) from None
    except (RunError, RunLocked, DataError) as e:
        raise BadInput(str(e)) from None
    except LimitError as e:
        raise BadInput(e.worded(LIMIT_OPTIONS.get(e.setting))) from None


class OneLineCommand(click.Command):
    """Usage errors as one `Error: ...` line (exit 2), like every other error of a command: the class of
    every microtrace command (see `command`)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            raise BadInput(e.format_message()) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            raise BadInput(e.format_message()) from None


class Group(click.Group):
    """The `microtrace` group: its commands are `OneLineCommand`s."""

    command_class = OneLineCommand


def command(name=None, **attrs):
    """`click.command` as every microtrace command is made: one-line usage errors, -h and --help."""
    return click.command(name, cls=Group.command_class, context_settings=HELP_OPTIONS, **attrs)
