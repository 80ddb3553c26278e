"""`print_options`: the options of every figure command that lay a figure out for print (`--width`,
`--font-size`, `--cols`, `--caption/--no-caption`, `--title`, `--dpi`), given to the command as one
`print_size` argument (a `viz.draw.printsize.PrintSize`, or None when none was given); and
`fit_notes`, which says on stderr what a figure could not do (`printsize.FitNote`).
"""

import functools
import warnings
from contextlib import contextmanager

import click

from microtrace.cli.options import FiniteRange
from microtrace.viz.draw import printsize


class Width(click.ParamType):
    """--width: `column` (3.25 in), `page` (6.75 in) or a number with in, cm, mm or pt; points."""

    name = "column|page|LENGTH"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            return printsize.parse_width(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def print_options(command):
    """Add the print options to a figure command; it receives `print_size` instead of them."""

    @click.option("--width", type=Width(),
                  help="Lay the figure out for this printed width: column (3.25 in), page (6.75 in), or e.g. "
                       "8.5cm, 3in, 240pt. Text keeps --font-size; heads per row, cells and lines fit the width.")  # fmt: skip
    @click.option("--font-size", type=FiniteRange(4, 72), help="Smallest text at the printed size, in points "
                  f"(with --width: default {printsize.DEFAULT_FONT_PT:g}).")  # fmt: skip
    @click.option("--cols", type=click.IntRange(1), help="Panels (heads) per row (default: as many as fit --width).")
    @click.option("--caption/--no-caption", default=True, show_default=True,
                  help="The caption and notes under the figure (a paper has its own caption).")  # fmt: skip
    @click.option("--title", help="Title above the figure (default: step, document and loss; '' for none).")
    @click.option("--dpi", type=click.IntRange(36, 1200),
                  help=f"Resolution of a .png (default: {printsize.DEFAULT_DPI} with --width or --font-size).")  # fmt: skip
    @functools.wraps(command)
    def wrapper(width, font_size, cols, caption, title, dpi, **kwargs):
        asked = width is not None or font_size is not None or cols is not None or not caption or title is not None
        size = (
            None
            if not asked and dpi is None
            else printsize.PrintSize(
                width_pt=width,
                font_pt=printsize.DEFAULT_FONT_PT if font_size is None else font_size,
                cols=cols,
                caption=caption,
                title=title,
                dpi=printsize.DEFAULT_DPI if dpi is None else dpi,
            )
        )
        with fit_notes():
            return command(print_size=size, **kwargs)

    return wrapper


@contextmanager
def fit_notes():
    """Say each `printsize.FitNote` a figure gives (drawn wider than asked, a view that would not fold)
    on stderr, one line each, as the figure is made."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", printsize.FitNote)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, printsize.FitNote):
                    click.echo(f"Note: {w.message}", err=True)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
