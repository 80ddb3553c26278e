"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

The bytes go to a temporary file in the same directory (so the rename cannot cross file systems), are
flushed to disk, and the file is renamed over the target with `os.replace`. A crash at any point leaves
at worst a stray `.NAME.PID.N.tmp` file, which nothing reads and the next write of NAME removes once
process PID is gone.

Renaming over a path replaces whatever it names, so the path is looked at first (`check_target`):

- a regular file, or nothing: replaced atomically, as above;
- a character device or a FIFO (`/dev/null`, `/dev/stdout`, a named pipe with a reader): written into
  in place, as `cat > PATH` would, never replaced;
- a symbolic link to a regular file (or to nothing), a directory, a socket or a block device: refused
  (`UnsafePath`). A link is never replaced and what it points at is never overwritten: write to the
  file it names instead;
- a read-only regular file: refused, as `cat >` would be.
"""

import errno
import itertools
import os
import stat
from contextlib import contextmanager
from pathlib import Path

from microtrace.util.errors import BadInput

_counter = itertools.count()


class UnsafePath(BadInput, OSError):
    """The output path names something that must not be replaced; the message is one line."""


def check_target(path):
    """How `path` would be written: "file" (atomic replace) or "stream" (in place); UnsafePath if neither."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "file"
    except OSError as e:
        raise UnsafePath(f"{path}: cannot look at it ({e.strerror or e})") from None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError:
            raise UnsafePath(f"{path} is a symbolic link to nothing; refusing to write through it") from None
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            raise UnsafePath(
                f"{path} is a symbolic link to {os.path.realpath(path)}; refusing to write through it "
                "(name that file itself to replace it)"
            )
    if stat.S_ISREG(st.st_mode):
        if not os.access(path, os.W_OK):
            raise UnsafePath(f"{path} is read-only; refusing to replace it")
        return "file"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return "stream"
    kind = (
        "a directory"
        if stat.S_ISDIR(st.st_mode)
        else "a socket"
        if stat.S_ISSOCK(st.st_mode)
        else "a block device"
        if stat.S_ISBLK(st.st_mode)
        else "not a regular file"
    )
    raise UnsafePath(f"{path} is {kind}; refusing to write there")


def write_atomic(path, data):
    """Write `data` (bytes, or str written as UTF-8) to `path` as `check_target` says. Raises OSError
    (UnsafePath for a path that must not be written) on failure; the old file is then intact."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if check_target(path) == "stream":
        return _write_in_place(path, data)
    remove_stale_temps(path)
    while True:
        tmp = _temp_name(path, os.getpid(), next(_counter))
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
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


def write_atomic_chunks(path, chunks):
    """`write_atomic` for data made piece by piece (an iterable of str, written as UTF-8), never all in
    memory at once: into a temporary file, then put at `path` (`atomic_temp`)."""
    with atomic_temp(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.writelines(chunks)


@contextmanager
def atomic_temp(path):
    """For a writer that streams into a file of its own (a Parquet file): yields a temporary path beside
    `path`; when the block ends, the file is put at `path` as `write_atomic` would (renamed over a
    regular file, copied into a device or FIFO), and removed if the block raises. UnsafePath first."""
    path = Path(path)
    kind = check_target(path)
    remove_stale_temps(path)
    tmp = _temp_name(path, os.getpid(), next(_counter))
    while tmp.exists():
        tmp = _temp_name(path, os.getpid(), next(_counter))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if kind == "stream":
            with open(tmp, "rb") as f:
                _write_in_place(path, f.read())
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
            _fsync_dir(path.parent)
    except BaseException:
        _remove(tmp)
        raise


def _remove(tmp):
    """Remove a temporary file of a failed write, if it is there."""
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _temp_name(path, pid, n):
    return path.with_name(f".{path.name}.{pid}.{n}.tmp")


def _write_in_place(path, data):
    """Into a device or FIFO, as `cat >` does. A FIFO nobody reads is refused rather than waited on."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise UnsafePath(f"{path} is a named pipe that nobody is reading; refusing to wait on it") from None
        raise
    os.set_blocking(fd, True)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def remove_stale_temps(path):
    """Remove temporary files of `path` left by processes that no longer run (a kill, a power cut)."""
    path = Path(path)
    prefix = f".{path.name}."
    try:
        names = os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid, _, n = name[len(prefix) : -len(".tmp")].partition(".")
        if not (pid.isdigit() and n.isdigit()) or pid_alive(int(pid)):
            continue
        tmp = path.with_name(name)
        try:
            if stat.S_ISREG(os.lstat(tmp).st_mode):
                os.unlink(tmp)
        except OSError:
            pass


def pid_alive(pid):
    """Whether a process `pid` exists (ours counts as alive)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is someone else's
        return True
    except OSError:
        return False
    return True


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
