"""Ranges of a run's steps written "A:B[:S]" (the `--steps` option of `attention` and `gradflow`). One
parser, so that every reader accepts and rejects the same text alike."""

import re

_STEPS = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*(?::\s*(\d+)\s*)?$")


def parse_steps(text, n_steps=None):
    """A `range` from "A:B" or "A:B:S" (as Python's range: 0-based, B excluded, S defaults to 1).

    ValueError with a one-line message for bad syntax, an empty range, or (given the run's `n_steps`)
    steps past the run's end."""
    m = _STEPS.match(text) if isinstance(text, str) else None
    if not m:
        raise ValueError(
            f"--steps {text!r} is not A:B:S: write A:B or A:B:S, whole numbers as in range(A, B, S) "
            "(0-based, B excluded), e.g. 0:200:10"
        )
    start, stop = int(m.group(1)), int(m.group(2))
    stride = int(m.group(3)) if m.group(3) is not None else 1
    if stride < 1:
        raise ValueError(f"--steps {text!r}: the stride S must be at least 1")
    if stop <= start:
        raise ValueError(f"--steps {text!r} is empty: B must be greater than A (B is excluded)")
    if n_steps is not None and stop > n_steps:
        raise ValueError(f"--steps {text!r} goes past the run: it has steps 0 to {n_steps - 1}, so B can be at most {n_steps}")
    return range(start, stop, stride)
