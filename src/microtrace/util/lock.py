"""One writer at a time on a run directory: RUN_DIR/train.lock, an flock holding the writer's pid.

A second `train` on the same run (with or without --force) is refused with the holder's pid; a killed
holder's lock is free at once (flock dies with its process), and its stale file is taken over.
"""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from microtrace.util.errors import BadInput

LOCK_NAME = "train.lock"


class RunLocked(BadInput):
    """The run directory is being written by another process, or its lock file cannot be used."""


_held_locks: dict[
    str, list
] = {}  # real path of a run directory -> [open lock file, depth]; a process re-enters its own


@contextmanager
def run_lock(run_dir):
    """Hold RUN_DIR/train.lock while writing a run: a second writer (another `train`, with or without
    --force) is refused with the holder's pid. The lock is an flock on the file, so a killed holder's
    lock is free at once (its stale file is taken over); the file is removed on exit."""
    key = os.path.realpath(run_dir)
    if key in _held_locks:
        _held_locks[key][1] += 1
        try:
            yield
        finally:
            _held_locks[key][1] -= 1
        return
    path = Path(run_dir) / LOCK_NAME
    f = _take_lock(path)
    _held_locks[key] = [f, 1]
    try:
        yield
    finally:
        del _held_locks[key]
        try:
            path.unlink()
        except OSError:
            pass
        f.close()


def _take_lock(path):
    while True:
        if os.path.islink(path):
            raise RunLocked(f"{path} is a symbolic link; refusing to use it as the run's lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise RunLocked(f"{path}: cannot create the run's lock ({e.strerror or e})") from None
        f = os.fdopen(fd, "r+")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = f.read().strip() or "unknown"
            f.close()
            raise RunLocked(
                f"{path.parent} is being written by another process (pid {holder}, holding {path}); "
                "wait for it to finish"
            ) from None
        # The holder before us may have removed the file between our open and our flock: then this lock
        # is on a file nobody else will see, so start again with the file that is there now.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except OSError:
            same = False
        if same:
            f.seek(0)
            f.truncate()
            f.write(f"{os.getpid()}\n")
            f.flush()
            return f
        f.close()
