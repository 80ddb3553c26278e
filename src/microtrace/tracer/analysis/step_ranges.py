"""Ranges of a run's steps written "A:B[:S]" (the `--steps` option of `attention` and `gradflow`). One
parser, so that every reader accepts and rejects the same text alike."""

import os
import re

from microtrace.util import pool
from microtrace.util.errors import BadInput

_STEPS = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*(?::\s*(\d+)\s*)?$")


class StepRangeError(BadInput, ValueError):
    """A range of steps that is malformed, empty or past the run's end; one line for the user (`setting`:
    the argument `steps`)."""

    def __init__(self, message):
        super().__init__(message, "steps")


def parse_steps(text, n_steps=None, trained_model=False):
    """A `range` from "A:B" or "A:B:S" (as Python's range: 0-based, B excluded, S defaults to 1).

    StepRangeError with a one-line message for bad syntax, an empty range, or (given the run's
    `n_steps`) steps past the run's end. `trained_model`: see `check_within`."""
    m = _STEPS.match(text) if isinstance(text, str) else None
    if not m:
        raise StepRangeError(
            f"{text!r} is not A:B:S: write A:B or A:B:S, whole numbers as in range(A, B, S) "
            "(0-based, B excluded), e.g. 0:200:10"
        )
    start, stop = int(m.group(1)), int(m.group(2))
    stride = int(m.group(3)) if m.group(3) is not None else 1
    if stride < 1:
        raise StepRangeError(f"{text!r}: the stride S must be at least 1")
    if stop <= start:
        raise StepRangeError(f"{text!r} is empty: B must be greater than A (B is excluded)")
    steps = range(start, stop, stride)
    if n_steps is not None:
        check_within(steps, n_steps, trained_model)
    return steps


def check_within(steps, n_steps, trained_model=False):
    """StepRangeError unless the range `steps` ends within a run of `n_steps` steps. `trained_model`: it
    may also hold step `n_steps`, the model after the last update (for what reads the model, not what
    trains a step)."""
    if steps.stop > n_steps + trained_model:
        text = f"{steps.start}:{steps.stop}:{steps.step}"
        final = f" and {n_steps} is the trained model" if trained_model else ""
        raise StepRangeError(
            f"{text} goes past the run: it has steps 0 to {n_steps - 1}{final}, "
            f"so B can be at most {n_steps + trained_model}"
        )


def default_jobs():
    """Worker processes for step-range work: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def pieces_of(steps, jobs):
    """`steps` (a range or list) cut into at most `jobs` contiguous, non-empty pieces."""
    n = len(steps)
    jobs = max(1, min(jobs, n))  # never more pieces than steps, however many jobs are asked for
    pieces = [steps[i * n // jobs : (i + 1) * n // jobs] for i in range(jobs)]
    return [p for p in pieces if len(p)]


def in_pieces(fn, steps, jobs, *args, on_step=None):
    """`fn(piece, *args)` for contiguous pieces of `steps` (a range or list) in `jobs` worker processes
    (util/pool.py), the lists it returns joined in step order. That is the very list `fn(steps, *args)`
    gives in one process: each piece replays the run from its nearest checkpoint, bit for bit
    (engine/run.py). `fn` must be a module-level function (the workers call it by name). With `on_step`,
    `fn` is called with `on_step=` too and what the workers report reaches `on_step` here, as they go
    (for a progress bar)."""
    parts = pool.in_order(fn, pieces_of(steps, jobs), jobs, *args, on_step=on_step)
    return [x for part in parts for x in part]
