"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

The bytes go to a temporary file in the same directory (so the rename cannot cross file systems), are
flushed to disk, and the file is renamed over the target with `os.replace`. A crash at any point leaves
at worst a stray `.NAME.*.tmp` file, which nothing reads.
"""

import itertools
import os
from pathlib import Path

_counter = itertools.count()


def write_atomic(path, data):
    """Replace `path` with `data` (bytes, or str written as UTF-8). Raises OSError on failure."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_counter)}.tmp")
        try:
            # O_EXCL: never write through a name another writer (or a stale crash) left behind.
            # Mode 0o666 lets the umask decide, like a plain open() would (mkstemp would force 0o600).
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder):
    """Make the rename itself durable; some systems cannot open or fsync a directory, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
