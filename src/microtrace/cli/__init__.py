"""The `microtrace` command: one click group; each family of commands lives in a small module of this package.

`checks` (the command class: where a library error becomes one `Error:` line and its exit code),
`options` (the shared options, one decorator per group, and the option types), `print_options` (a
figure's print size: `--width`, `--font-size`, `--cols`, ...), `common` (getting a
trace, progress bars, checking and writing outputs), one module per family: `train`, `trace`, `graph`,
`attention`, `debug`, `report`, `explore`, `film`; `reference` writes docs/cli.md, the command reference.
A command checks its options, calls one library function and writes the result; every bad input is one
`Error:` line and exit code 2. May import everything of microtrace.
"""

import importlib

import click

from microtrace.cli.checks import HELP_OPTIONS, Group


@click.group(name="microtrace", cls=Group, context_settings=HELP_OPTIONS)
@click.version_option(package_name="microtrace", prog_name="microtrace")
def cli():
    """Train microGPT (Karpathy's pure-Python GPT) and trace one training step.

    Example:

    \b
        microtrace train --steps 200 --out runs/demo
        microtrace sample --run runs/demo
    """


def register(module):
    """Add the commands listed in `COMMANDS` of viz/<module>.py to the group."""
    for command in importlib.import_module(f"{__package__}.{module}").COMMANDS:
        cli.add_command(command)


# One line per module of commands.
register("train")  # train, sample
register("trace")  # trace, export, inspect
register("graph")  # graph
register("attention")  # attention
register("report")  # report
register("explore")  # explore
register("film")  # film
register("debug")  # gradflow, gradcheck, doctor


def main():
    cli(prog_name="microtrace")
