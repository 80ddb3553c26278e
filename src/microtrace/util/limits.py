"""The documented limits: how big a file microtrace reads and how much it allocates before it refuses.

Each is checked before the work starts, from an estimate, so that a hostile or mistaken input is one
line (exit 2) instead of a hang or the machine running out of memory. Each message names the limit and
how to raise it (docs/safety.md, "Limits").
"""

import errno
import json
import os
import stat
import sys

from microtrace.util.errors import BadInput

# Bytes of memory a model may need to train (or trace) one step, estimated by `engine.model.model_memory`.
# `create_run(max_memory_gb=...)` (`train --max-memory GB`) or the environment variable
# MICROTRACE_MAX_MEMORY_GB raises it.
DEFAULT_MAX_MEMORY_GB = 4.0
MEMORY_ENV = "MICROTRACE_MAX_MEMORY_GB"

# Input files: a training text, a trace file, a run's JSON files. MICROTRACE_MAX_FILE_MB raises it.
DEFAULT_MAX_FILE_MB = 1024
FILE_ENV = "MICROTRACE_MAX_FILE_MB"

# The largest value each limit can be raised to: a petabyte of memory, a terabyte file. Past them a number
# is a mistake (or a hostile 1e300, which would overflow the sizes it becomes), not a machine.
MOST = {MEMORY_ENV: 2.0**20, FILE_ENV: 2.0**20}


class LimitError(BadInput, ValueError):
    """An input past a documented limit. It carries the limit (`value`), the environment variable that
    raises it (`env`) and the name of the argument that does (`setting`, e.g. "max_memory_gb", or None);
    the message says what is past the limit and how to raise it. Library code never names a command-line
    option: the command line words the same error with its own (`worded`)."""

    def __init__(self, what, value=None, env=None, setting=None):
        self.what, self.value, self.env = what, value, env
        super().__init__(self._with(setting), setting)

    def worded(self, option):
        """The message, with `option` (the command line's name for `setting`) as a way to raise it."""
        return self._with(option)

    def _with(self, option):
        ways = [w for w in (option, self.env and f"${self.env}") if w]
        return f"{self.what}; raise it with {' or '.join(ways)}" if ways else self.what


def env_number(name, default, most):
    """The number in the environment variable `name` (`default` when unset): LimitError unless it is a
    number above 0 and at most `most`, so that nothing is ever sized from a nan, an inf or a 1e300."""
    value = os.environ.get(name)
    if value is None:
        return default
    return in_range(value, f"the environment variable {name}", most)


def in_range(value, what, most):
    """`value` (a number or its text) as a float in (0, most]; LimitError naming `what` otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LimitError(f"{what} should be a number, got {value!r}") from None
    if not 0 < number <= most:
        raise LimitError(f"{what} should be a number above 0 and at most {most:,.0f}, got {value!r}")
    return number


def max_memory_gb(given=None):
    """The memory limit in GB: `given` (an option), else $MICROTRACE_MAX_MEMORY_GB, else the default."""
    if given is not None:
        return in_range(given, "the memory limit (GB)", MOST[MEMORY_ENV])
    return env_number(MEMORY_ENV, DEFAULT_MAX_MEMORY_GB, MOST[MEMORY_ENV])


def max_file_bytes():
    return int(env_number(FILE_ENV, DEFAULT_MAX_FILE_MB, MOST[FILE_ENV]) * 2**20)


def read_input(path):
    """The bytes of the input file `path`: OSError when it cannot be read, LimitError when it is not a
    regular file (a FIFO or a device would hang or never end) or is larger than `max_file_bytes`."""
    limit = max_file_bytes()
    # O_NONBLOCK: opening a FIFO to read would otherwise wait for a writer before fstat could say what it is.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb", buffering=0) as f:
        st = os.fstat(f.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise LimitError(f"{path} is not a regular file (a device, a pipe or a socket); give a file")
        if st.st_size > limit:
            mb = f"{st.st_size / 2**20:.0f}"
            raise LimitError(f"{path} is {mb} MB, above the limit of {limit / 2**20:g} MB", limit, FILE_ENV)
        data = f.read(limit + 1)  # a file that grows while it is read still stops at the limit
    if len(data) > limit:
        raise LimitError(f"{path} is larger than the limit of {limit / 2**20:g} MB", limit, FILE_ENV)
    return data


# How deep JSON may nest below the caller: microtrace's files nest a few levels. json's C parser recurses
# once per level and counts against Python's recursion limit, which a program may have raised far past
# what the C stack holds (bench/reference.py raises it to 100,000): with the limit lowered around the
# parse, deep nesting is a RecursionError, never a crash.
JSON_NESTING = 500


def parse_json(raw):
    """`json.loads(raw)`, nesting bounded by JSON_NESTING (RecursionError beyond it)."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, depth + JSON_NESTING))
    try:
        return json.loads(raw)
    finally:
        sys.setrecursionlimit(old)
