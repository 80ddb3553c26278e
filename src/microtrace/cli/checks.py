"""The command class of every microtrace command: where errors become one line and an exit code.

Exit codes: 0 success, 2 bad input (options, data, run directories, checkpoints, traces), 1 a failure
of the work itself (a diverged run), or the failure's own code (3: Graphviz's dot is missing; 130:
training interrupted). The library raises `util.errors.MicrotraceError` (its `BadInput` or `WorkFailed`
branch); `OneLineCommand.invoke`, which every command runs through, turns it into one `Error: ...`
line on stderr and its exit code, worded with the option the command line has for the argument at
fault (`OPTIONS`). click's own UsageError, which would print the usage text as well, becomes one such
line too. Never a traceback.
"""

import click

from microtrace.util.errors import MicrotraceError

# On every command, not only the group: click caches a command's help option the first time it is
# built, so a command first run on its own (a test, a script) would otherwise keep only --help.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

# The option the command line has for each library argument an error names (MicrotraceError.setting).
OPTIONS = {
    "max_memory_gb": "--max-memory GB",
    "max_frames": "--max-frames",
    "steps": "--steps",
    "eps": "--eps",
    "samples": "--samples",
}


class OneLine(click.ClickException):
    """An error as click shows it: `Error: message` on stderr, then exit with `exit_code`."""

    def __init__(self, message, exit_code=2):
        super().__init__(message)
        self.exit_code = exit_code


def one_line(error):
    """The `OneLine` of a library error: its message in the command line's words, its exit code."""
    return OneLine(error.worded(OPTIONS.get(error.setting)), error.exit_code)


OUT_OF_MEMORY = (
    "out of memory: this input needs more memory than this machine gives the process; try a smaller model, "
    "step, view or --steps range (docs/safety.md)"
)


class OneLineCommand(click.Command):
    """Library errors and usage errors as one `Error: ...` line and the exit code: the class of every
    microtrace command (see `command`)."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            raise OneLine(e.format_message()) from None
        except MicrotraceError as e:  # an option's own check (a callback) may ask the library
            raise one_line(e) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            raise OneLine(e.format_message()) from None
        except MicrotraceError as e:
            raise one_line(e) from None
        except MemoryError:  # anywhere in the work: the input asked for more than this machine has
            raise OneLine(OUT_OF_MEMORY) from None


class Group(click.Group):
    """The `microtrace` group: its commands are `OneLineCommand`s."""

    command_class = OneLineCommand


def command(name=None, **attrs):
    """`click.command` as every microtrace command is made: one-line errors, -h and --help."""
    return click.command(name, cls=Group.command_class, context_settings=HELP_OPTIONS, **attrs)
