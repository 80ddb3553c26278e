"""The user's script in its own process: `trace_script` starts a child Python that runs it (as
`script._Run` does) and sends back the recorded step; this process owns everything else. Every run of a
script goes through `in_child` (`gradcheck --script` runs it once per nudged entry, each in a child).

The parent owns the timeout (the child is killed, whatever it catches or ignores), standard input (the
child's is /dev/null and its `sys.stdin` refuses to be read), the messages (the child only reports what
happened, as data) and every file microtrace writes. What the child sends is checked with the readers'
own rules (`storage.validate.validate_trace`) before anything is built from it, so a script that calls
`os._exit`, leaves threads running, patches builtins or `os.replace`, or raises an exception of its own
leaves a clear line and nothing else.

The step crosses as one file in a private folder: a line of JSON (the graph attributes, each view's
tables of ops and scopes and its rarer node attributes) and then the views' number columns as raw arrays.
"""

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from microtrace.tracer.model.columns import GraphData

if TYPE_CHECKING:  # imported when a trace is made (the child process imports less)
    from microtrace.tracer.model.trace import Trace

# the columns of a GraphData sent as raw arrays, in this order
_ARRAYS = ("op", "scope", "data", "grad", "src", "dst", "local", "flow")
_CHILD = "from microtrace.tracer.capture.child import child_main; child_main()"


def trace_script(
    path: str | os.PathLike, step: int = 0, args: Sequence[str] = (), timeout: float | None = None, output=None
) -> "Trace":
    """Trace backward() call `step` (0-based) of the Python script at `path`, run with `args` in a
    process of its own. `timeout` (seconds) kills a script that has not sent the step by then; `output`
    (a text file) receives what the script printed (default: discarded). ScriptError (one line;
    `detail` holds the script's traceback) when the script cannot be traced."""
    from microtrace.tracer.capture.script import ScriptError, compile_script

    if step < 0:
        raise ScriptError(f"step must be 0 or more, got {step}")
    path = Path(path)
    compile_script(path)  # a missing or broken file is told here, before any process starts
    request = script_request(path, step, args)
    with in_child(f"{__name__}:child_trace", request, timeout, output) as (_, folder):
        return received(folder, path.name, step)


def script_request(path, step, args):
    """What a child needs to run the script at `path` to step `step` with `args`."""
    return {"path": str(Path(path).resolve()), "step": step, "args": list(map(str, args))}


@contextmanager
def in_child(target, request, timeout=None, output=None):
    """Run `target` ("module:function", called with the request and microtrace's own means of writing
    and dumping JSON, returning what to report as JSON) in a child Python that runs the script of
    `request`, in a private folder; give (what it reported, the folder) while the folder lasts.
    ScriptError (one line) when the child reports a failure, is killed at `timeout` seconds, or ends
    without a report. `output` (a text file) receives what the script printed."""
    folder = tempfile.mkdtemp(prefix="microtrace-script-")
    try:
        request = {**request, "target": target, "folder": folder}
        printed = os.path.join(folder, "printed")
        code = _run_child(request, printed, timeout)
        if output is not None:
            with open(printed, encoding="utf-8", errors="replace") as f:
                shutil.copyfileobj(f, output)
        yield _report(folder, code, request), folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_child(request, printed, timeout):
    from microtrace.tracer.capture.script import ScriptError

    with open(printed, "wb") as out:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(request)], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=out, start_new_session=True, env=_child_env())  # fmt: skip
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            name, step = Path(request["path"]).name, request["step"]
            raise ScriptError(f"{name} did not reach step {step} within the timeout of {timeout:g} s") from None
        finally:
            if child.poll() is None:  # the whole session: threads and processes the script started too
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()


def _child_env():
    """This process's environment, with the folder microtrace was imported from first on PYTHONPATH: the
    child imports the same microtrace even where it is not installed (a notebook that put it on sys.path)."""
    ours = str(Path(__file__).resolve().parents[3])  # src/ (or site-packages/), where microtrace/ is
    paths = [ours] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ours]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _report(folder, code, request):
    """What the child reported (its target's result), or its failure as a ScriptError."""
    from microtrace.tracer.capture.script import ScriptError

    try:
        with open(os.path.join(folder, "report.json"), encoding="utf-8") as f:
            said = json.load(f)
    except (OSError, ValueError):
        said = None
    if isinstance(said, dict) and said.get("ok") is True:
        return said.get("result")
    if isinstance(said, dict) and isinstance(said.get("error"), str):
        raise ScriptError(said["error"].splitlines()[0], detail=said.get("detail"))
    name, step = Path(request["path"]).name, request["step"]
    how = f"with status {code}" if code >= 0 else f"killed by signal {-code}"
    raise ScriptError(f"{name} ended {how} without sending step {step} (os._exit, or a crash of the interpreter)")


def received(folder, name, step):
    """The Trace a child sent (`send_trace`), checked with the readers' rules."""
    from microtrace.tracer.capture.script import ScriptError
    from microtrace.tracer.model.trace import Trace, TraceError

    try:
        meta, views = read_step(os.path.join(folder, "step"))
        if set(views) != {"elementary"}:
            raise ValueError(f"views {sorted(views)}")
        trace = Trace(meta, sources=views)  # its fused view is folded from it here (tracer/model/fused.py)
        check_step(trace, "elementary")
    except (OSError, ValueError, KeyError, TypeError, TraceError) as e:
        raise ScriptError(
            f"{name}: the step it sent is not a trace the readers take ({str(e).splitlines()[0]})"
        ) from None
    return trace


def check_step(trace, view):
    """Raise TraceError unless every reader takes `trace`'s `view` (node by node, as a file's)."""
    from microtrace.tracer.storage.validate import validate_trace

    gd = trace.data(view)
    validate_trace({
        "directed": True, "multigraph": False, "graph": trace.graph_attrs(view),
        "nodes": [{"id": i, **attrs} for i, attrs in gd.nodes()],
        "edges": [{"source": u, "target": v, **attrs} for u, v, attrs in gd.edges()],
    })  # fmt: skip


# -- the two ends of the file ----------------------------------------------------------------------------


def write_step(path, meta, views, write, dump=json.dumps):
    """Write the step's views with `write(path, bytes)` and `dump` (the child's own, saved before the
    script ran): a line of JSON, then each view's columns."""
    head = {"meta": meta, "views": {}}
    parts = []
    for name, gd in views.items():
        head["views"][name] = {
            "ops": gd.ops, "scopes": gd.scopes, "loss": gd.loss,
            "extra": [[i, x] for i, x in gd.extra.items()], "multiplicity": [[e, m] for e, m in gd.multiplicity.items()],
            "sizes": [len(getattr(gd, column)) for column in _ARRAYS],
        }  # fmt: skip
        parts += [getattr(gd, column).tobytes() for column in _ARRAYS]
    write(path, b"".join([dump(head).encode() + b"\n", *parts]))


def read_step(path):
    """(graph attributes, {view: GraphData}) of a step written by `write_step`."""
    with open(path, "rb") as f:
        head = json.loads(f.readline())
        views = {name: _read_view(f, table) for name, table in head["views"].items()}
        if f.read(1):
            raise ValueError("more bytes than its columns")
    return head["meta"], views


def _read_view(f, head):
    gd = GraphData()
    for name, size in zip(_ARRAYS, head["sizes"]):
        column = array(getattr(gd, name).typecode)
        column.fromfile(f, size)
        setattr(gd, name, column)
    gd.ops, gd.scopes = list(head["ops"]), list(head["scopes"])
    gd._op_code = {op: i for i, op in enumerate(gd.ops)}
    gd._scope_id = {s: i for i, s in enumerate(gd.scopes)}
    gd.extra = {int(i): dict(x) for i, x in head["extra"]}
    gd.multiplicity = {int(e): int(m) for e, m in head["multiplicity"]}
    gd.loss = head["loss"]
    n, e = len(gd.op), len(gd.src)
    if not (len(gd.scope) == len(gd.data) == len(gd.grad) == n and len(gd.dst) == len(gd.local) == len(gd.flow) == e):
        raise ValueError("columns of different lengths")
    if max(gd.op, default=0) >= max(len(gd.ops), 1) or max(gd.scope, default=0) >= max(len(gd.scopes), 1):
        raise ValueError("an op or scope outside its table")
    return gd


def child_trace(request, write, dump):
    """The child of `trace_script`: run the script to step K and send the step."""
    from microtrace.tracer.capture.script import child_run

    send_trace(child_run(request), request, write, dump)


def send_trace(run, request, write, dump):
    """Write the step of a run of the script (`script._Run`) for `received`: its elementary view."""
    trace = run.trace()
    write_step(
        os.path.join(request["folder"], "step"), trace.meta, {"elementary": trace.data("elementary")}, write, dump
    )


def child_main():
    """The child: call the request's target (it runs the script), then write its report; exit at once
    (threads the script left running are not waited for)."""
    from microtrace.tracer.capture.script import ScriptError

    # microtrace's own means of writing, kept before the script can patch them
    write_bytes, exit_now, dump = _writer(), os._exit, json.dumps
    request = json.loads(sys.argv[1])
    report = os.path.join(request["folder"], "report.json")
    try:
        module, _, name = request["target"].partition(":")
        said = {"ok": True, "result": getattr(importlib.import_module(module), name)(request, write_bytes, dump)}
    except ScriptError as e:
        said = {"error": str(e), "detail": e.detail}
    except BaseException as e:  # a failure of microtrace's own, told as one line all the same
        said = {"error": f"tracing failed: {type(e).__name__}: {e}", "detail": None}
    try:
        write_bytes(report, dump(said).encode())
    finally:
        sys.stdout.flush() if hasattr(sys.stdout, "flush") else None
        exit_now(0)


def _writer():
    fd_open, fd_write, fd_close = os.open, os.write, os.close
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL

    def write(path, data):
        fd = fd_open(path, flags, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[fd_write(fd, view) :]
        finally:
            fd_close(fd)

    return write
