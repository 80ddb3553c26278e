"""Step K of an unmodified training script, as a `Trace` (`trace_script`, which runs this in a process
of its own: `child`).

The script runs as `python PATH ARGS` would run it (as `__main__`, in its own folder, with its own
`sys.argv`, imports and seeding), in the process that reads its nodes. Its autograd class is
found by what its instances hold (`observe`, `autograd`); step K is its K-th `backward()` call. Once
step K's backward returns, the step's nodes are copied into microtrace's own `Value`s (values and
gradients as they stand then, bit for bit) and the script is stopped at the first sign of the next
step, after its optimizer has run, so that the update can be read too.
"""

import builtins
import gc
import io
import os
import random
import re
import signal
import sys
import threading
import traceback
import types
from pathlib import Path

from microtrace.engine.value import Value
from microtrace.tracer.capture import autograd, conventions, where
from microtrace.tracer.capture.live import build_trace
from microtrace.tracer.capture.observe import NotReal, Observer, Stop, Unrecognised, without_loop
from microtrace.tracer.capture.record import Recording
from microtrace.tracer.model.trace import Trace, TraceError


class ScriptError(TraceError):
    """The script cannot be traced at that step. `detail`: the script's own traceback, if it raised."""

    def __init__(self, message, detail=None):
        super().__init__(message)
        self.detail = detail


class _Timeout(BaseException):
    pass


class _ReadsStdin(BaseException):
    pass


class _NoStdin(io.TextIOBase):
    """The script's standard input: reading it ends the run (a trace must not wait for a keyboard)."""

    def readable(self):
        return True

    def read(self, *args):
        raise _ReadsStdin

    readline = readlines = read

    def fileno(self):
        raise _ReadsStdin


def child_run(request):
    """In the child process (`child.child_main`): run the script to step K; the `_Run` (its `trace()` is
    the step). What the script prints goes to the child's stdout."""
    path = Path(request["path"])
    run = _Run(path, request["step"], compile_script(path))
    run.execute(list(request["args"]), None, sys.__stdout__)
    return run


def compile_script(path):
    """The script's code object; ScriptError (one line) for a missing, unreadable or non-Python file."""
    if not path.exists():
        raise ScriptError(f"{path}: no such file")
    if not path.is_file():
        raise ScriptError(f"{path} is not a file (give the training script, a .py file)")
    try:
        source = path.read_bytes()
        return compile(source, str(path.resolve()), "exec", dont_inherit=True)
    except SyntaxError as e:
        raise ScriptError(f"{path} is not a Python file ({e.msg}, line {e.lineno})") from None
    except (ValueError, OSError) as e:
        raise ScriptError(f"{path} cannot be read as a Python file ({e})") from None


class _Run:
    """One run of the script. `observer`: a callable (step, folder, code, on_step) -> Observer."""

    def __init__(self, path, step, code, observer=Observer):
        self.path = path.resolve()
        self.step = step
        self.code = code
        self.module = types.ModuleType("__main__")
        self.module.__file__ = str(self.path)
        self.module.__builtins__ = builtins
        self.observer = observer(step, self.path.parent, code, self.on_step)
        self.snapshot = None

    # -- running -------------------------------------------------------------------------------------

    def execute(self, args, timeout, output):
        """Run the script to step K and copy the step (then `trace()` gives it)."""
        self.run_script(args, timeout, output)
        if not self.observer.done:
            raise ScriptError(self._ended())
        try:
            if self.snapshot is None:
                self.on_step(self.observer.loss)
            self.read_update()
        except NotReal as e:
            raise ScriptError(f"{self.path.name}: {e.args[0]}") from None
        if not self.snapshot.rec.loss._children:
            raise ScriptError(
                f"{self.path.name}: backward() call {self.step} is on a leaf (a value no operation made): "
                "there is no step to trace"
            )

    def run_script(self, args, timeout, output):
        """Run the script until the observer stops it (or it ends); its failures as ScriptError."""
        self.args = args
        saved = _Saved()
        build_class = builtins.__build_class__
        observer = self.observer

        def hook(func, name, *bases, **kwargs):
            cls = build_class(func, name, *bases, **kwargs)
            if isinstance(cls, type):
                observer.class_made(cls)
            return cls

        sink = output if output is not None else io.StringIO()
        try:
            sys.argv = [str(self.path), *args]
            sys.path.insert(0, str(self.path.parent))
            os.chdir(self.path.parent)
            sys.modules["__main__"] = self.module
            sys.stdin, sys.stdout, sys.stderr = _NoStdin(), sink, sink
            builtins.__build_class__ = hook
            # microtrace's own objects (networkx, click, ...) are left out of the garbage collector's
            # passes, so that the script's collections cost what they cost it when run alone
            gc.freeze()
            conventions.loops(self.code.co_filename)  # read the script's loops now, not inside step K
            with _deadline(timeout):
                exec(self.code, self.module.__dict__)
        except Stop:
            pass
        except _Timeout:
            raise ScriptError(
                f"{self.path.name} did not reach step {self.step} within the timeout of {timeout:g} s ({observer.calls} backward() calls)"
            ) from None
        except _ReadsStdin:
            if observer.done:
                return
            raise ScriptError(
                f"{self.path.name} reads standard input, which a trace cannot give it: pass what it needs as arguments after --"
            ) from None
        except Unrecognised as e:
            raise ScriptError(self._unrecognised(e.args[0])) from None
        except NotReal as e:
            raise ScriptError(f"{self.path.name}: {e.args[0]}") from None
        except SystemExit as e:
            if e.code not in (None, 0) and not self.observer.done:
                raise ScriptError(
                    f"{self.path.name} exited with status {e.code} after {observer.calls} backward() calls, before step {self.step}"
                ) from None
        except BaseException as e:  # the script's own exceptions, KeyboardInterrupt and its own BaseExceptions too
            if isinstance(e, ScriptError):
                raise
            if not observer.done:  # after step K (in its update) the step is recorded all the same
                raise ScriptError(self._raised(e), detail=self._traceback(e)) from None
        finally:
            gc.unfreeze()
            builtins.__build_class__ = build_class
            observer.restore()
            saved.restore(self.path.parent)

    def on_step(self, loss):
        """Step K's backward() has returned: copy the step; go on only if there is an update to see."""
        spaces = where.namespaces(self.observer.frames, self.module.__dict__)
        self.snapshot = _snapshot(self.observer, loss, where.find_params(spaces, self.observer.cls))
        self.document = _fitted(where.find_document(spaces), self.snapshot.rec.scopes)
        self.observer.frames = []
        return bool(self.snapshot.params)

    def read_update(self):
        snap = self.snapshot
        changed = False
        for node, (name, r, c) in snap.params:
            entry = snap.adam[name][r][c]
            new = _real(node.data, node, "its updated value")
            changed = changed or new != entry[0]
            snap.adam[name][r][c] = (entry[0], new, entry[2], None, None)
        if not changed:  # no parameter moved: there is no update to show
            for name, rows in snap.adam.items():
                snap.adam[name] = [[(e[0], None, e[2], None, None) for e in row] for row in rows]
        snap.update = changed

    # -- messages ------------------------------------------------------------------------------------

    def _ended(self):
        obs, name = self.observer, self.path.name
        if obs.calls == 0:
            if not obs.candidates and self._uses_our_engine():
                return f"{name} computes with microtrace's own engine: record it from Python with tracer.trace_call or tracer.recording"
            if not obs.candidates:
                return f"{name} makes no scalar autograd class (a class with data, grad, backward() and arithmetic): nothing to trace"
            return f"{name} never calls backward(): there is no step to trace"
        return f"{name} ended after {obs.calls} backward() call{'s' if obs.calls != 1 else ''}: step {self.step} needs {self.step + 1}"

    def _uses_our_engine(self):
        """Whether the script imported microtrace's engine (its Value exists before any script runs)."""
        for value in list(self.module.__dict__.values()):
            where = getattr(value, "__module__", None) or getattr(value, "__name__", None)
            if isinstance(where, str) and where.startswith("microtrace.engine"):
                return True
        return False

    def _unrecognised(self, node):
        cls = type(node)
        return (f"cannot recognise {cls.__name__}'s nodes as a scalar autograd class: they need data and grad, "
                f"and _children + _local_grads (microGPT) or _prev + _backward (micrograd)")  # fmt: skip

    def _raised(self, e):
        where = ""
        for frame in reversed(traceback.extract_tb(e.__traceback__)):
            if frame.filename.startswith(str(self.path.parent)):
                where = f" at {os.path.relpath(frame.filename, self.path.parent)}:{frame.lineno}"
                break
        message = str(e).splitlines()[0] if str(e) else ""
        return f"{self.path.name} raised {type(e).__name__}{': ' + message if message else ''}{where}"

    def _traceback(self, e):
        frames = traceback.extract_tb(e.__traceback__)
        ours = os.path.dirname(__file__)
        kept = traceback.StackSummary.from_list([f for f in frames if not f.filename.startswith(ours)])
        return (
            "Traceback (most recent call last):\n"
            + "".join(kept.format())
            + "".join(traceback.format_exception_only(type(e), e))
        )

    # -- the trace -----------------------------------------------------------------------------------

    def trace(self):
        snap, obs = self.snapshot, self.observer
        found = {
            "autograd": {"class": obs.cls.__qualname__, "style": obs.style, "module": obs.cls.__module__},
            "pos": obs.names.get("pos"),
            "layer": obs.names.get("layer"),
            "head": obs.names.get("head"),
            "params": snap.params_from,
            "attention": snap.attention,
            **self.document[3],
        }
        rel = os.path.relpath(self.path, os.getcwd()) if self.path.is_relative_to(os.getcwd()) else str(self.path)
        script = {"path": rel, "args": self.args}
        doc, tokens, chars, _ = self.document
        trace = build_trace(
            snap.rec, self.step, found, update=snap.update, script=script, doc=doc, tokens=tokens, chars=chars
        )
        # the script's own nodes; its fused view is derived from them as a trace file's is (model/fused.py)
        return Trace(trace.meta, sources={"elementary": trace.data("elementary")})


class _Saved:
    """What running a script changes in this process, put back afterwards."""

    def __init__(self):
        self.argv, self.path, self.cwd = sys.argv, list(sys.path), os.getcwd()
        self.main = sys.modules.get("__main__")
        self.streams = sys.stdin, sys.stdout, sys.stderr
        self.random = random.getstate()
        self.modules = set(sys.modules)

    def restore(self, folder):
        sys.argv, sys.path[:] = self.argv, self.path
        os.chdir(self.cwd)
        if self.main is not None:
            sys.modules["__main__"] = self.main
        sys.stdin, sys.stdout, sys.stderr = self.streams
        random.setstate(self.random)
        prefix = os.path.join(str(folder), "")
        for name in set(sys.modules) - self.modules:  # the script's own modules: imported afresh next run
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(prefix):
                del sys.modules[name]


class _deadline:
    """SIGALRM after `seconds` (main thread only; elsewhere there is no timeout)."""

    def __init__(self, seconds):
        self.seconds = seconds if seconds and threading.current_thread() is threading.main_thread() else None

    def __enter__(self):
        if self.seconds:
            self.old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.old)

    @staticmethod
    def _fire(signum, frame):
        raise _Timeout


# -- copying the step ---------------------------------------------------------------------------------


def _snapshot(obs, loss, found):
    """The step as a `Recording` of microtrace `Value`s: every node made since it began, with the
    script's values and gradients as they are now (right after step K's backward), and the nodes made
    before it that it uses (parameters, inputs kept across steps) as leaves."""
    style = obs.style
    index = {id(n): i for i, n in enumerate(obs.nodes)}
    params_from, named = found
    param_pos = {id(p): pos for p, pos in _entries(named)}
    microgpt = style == autograd.MICROGPT
    copies, older, older_copies = {}, [], []

    def copy_of(k):
        c = copies.get(id(k))
        if c is None:  # made before the step began: a leaf of this step's graph
            c = copies[id(k)] = Value(_real(k.data, k, "value"))
            c.grad = _real(k.grad, k, "gradient")
            older.append(k)
            older_copies.append(c)
        return c

    def order(n):  # micrograd's operands come in a set: put them in the order they were made
        i = index.get(id(n))
        return (1, i, "", 0) if i is not None else (0, 0, *param_pos.get(id(n), ("", 0, 0))[:2])

    values, scopes, marks = [], [], {}
    get = copies.get
    if obs.loop_names:  # step 0: the scopes begin with the training loop's functions
        names, renamed = obs.loop_names, {}
        sites = [((renamed.get(s) or renamed.setdefault(s, without_loop(s, names))), *rest) for s, *rest in obs.sites]
    else:
        sites = obs.sites
    for n, (scope, source, method, detail) in zip(obs.nodes, sites):
        if microgpt:  # the common case, spelled out: this runs for every node of the step
            kids = n._children
            local, known = n._local_grads, True
            op = _method_op(method, detail) if kids else ("const" if method is not None else "")
        else:
            op, exponent = autograd.micrograd_op(n)
            kids = autograd.operands(n, style, op, order)
            local, known = autograd.locals_of(n, style, kids, op, exponent)
            if not kids:
                op = "const" if method is not None else ""
            elif op == "**":
                op = f"**{exponent!r}" if isinstance(exponent, (int, float)) else "pow"
        if len(kids) == 2:
            a, b = kids
            operands = (get(id(a)) or copy_of(a), get(id(b)) or copy_of(b))
        else:
            operands = tuple([get(id(k)) or copy_of(k) for k in kids])
        data, grad = n.data, n.grad
        if type(data) is not float or type(grad) is not float:  # numpy scalars, ints, bools: as floats
            data, grad = _real(data, n, "value"), _real(grad, n, "gradient")
        if not all(type(x) in (float, int) for x in local):
            local = tuple(_real(x, n, "local derivative") for x in local)
        c = copies[id(n)] = Value(data, operands, local, op or "?")
        c.grad = grad
        values.append(c)
        scopes.append(scope)
        if not known:
            source = {**(source or {}), "local_grad_known": False}
        if source:
            marks[c] = source
    if not named and obs.step > 0:  # leaves that persist across steps, numbered in order of use
        leaves = [k for k in older if not _kids_raw(k, style)]
        if leaves:
            params_from, named = "persisting leaves", {"leaves": [[k] for k in leaves]}
            param_pos = {id(k): ("leaves", i, 0) for i, k in enumerate(leaves)}
    values[:0] = older_copies
    scopes[:0] = ["earlier"] * len(older_copies)
    params = {copies[id(p)]: pos for p, pos in _entries(named) if id(p) in copies}
    adam = {name: [[(_real(p.data, p, "value"), None, _real(p.grad, p, "gradient"), None, None) for p in row]
                   for row in mat] for name, mat in named.items()}  # fmt: skip
    attention = _attention_weights(values, scopes, marks)
    rec = Recording(values, scopes, marks, copies[id(loss)], params, adam, None)
    return _Snapshot(rec, _entries(named), params_from, attention)


def _entries(named):
    """(node, (matrix, row, col)) of every parameter."""
    return [(p, (name, r, c)) for name, mat in named.items() for r, row in enumerate(mat) for c, p in enumerate(row)]


class _Snapshot:
    """A recorded step, and the script's own parameter nodes (to read their update from later)."""

    def __init__(self, rec, params, params_from, attention):
        self.rec = rec
        self.params = params  # [(the script's parameter node, (name, r, c))]
        self.adam = rec.adam
        self.params_from = params_from
        self.attention = attention
        self.update = False


def _kids_raw(n, style):
    return n._children if style == autograd.MICROGPT else n._prev


def _method_op(method, detail):
    """The op of a microGPT-style node made by the class method `method`, `detail` being __pow__'s
    exponent; made outside the class's methods (method None), by the function `detail` of the script's
    (a clipped log, a gelu of its own): that function's name."""
    if method is None:
        return _maker_op(detail)
    op = _METHOD_OPS.get(method)
    if op is None:
        op = _METHOD_OPS[method] = autograd.METHOD_OPS.get(method) or method.strip("_")
    if op == "**":
        return f"**{detail!r}" if isinstance(detail, (int, float)) else "pow"
    return op


def _maker_op(function):
    """A plain name for an op made by `function` ('<lambda>' -> 'lambda'; 'custom' if none is plain)."""
    name = (function or "").strip("<>")
    return name if _PLAIN_OP.fullmatch(name) else "custom"


_PLAIN_OP = re.compile(r"[A-Za-z0-9_.\-]+")
_METHOD_OPS: dict[str, str] = {}


def _real(x, node, what):
    """`x` as a Python float: numbers of any real type (numpy scalars, ints, bools) are; anything else
    (complex, None, a list) is no value a trace can hold: NotReal (one line)."""
    if isinstance(x, float):
        return float(x)
    if not isinstance(x, (str, bytes, complex)) and hasattr(type(x), "__float__") and not _complex(x):
        try:
            return float(x)
        except (TypeError, ValueError, OverflowError):
            pass
    raise NotReal(
        f"a node of {type(node).__name__} has a {what} of type {type(x).__name__} ({_short(x)}): a trace records real numbers"
    )


def _complex(x):
    import numbers

    return isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real)


def _short(x):
    text = repr(x)
    return text if len(text) <= 30 else text[:27] + "..."


def _fitted(document, scopes):
    """The document, unless the positions the step's scopes name do not fit it (then none: a reader
    checks every position against the document)."""
    doc, tokens, chars, found = document
    if tokens:
        from microtrace.tracer.model.scopes import parse

        last = max((parse(s).get("pos", -1) for s in set(scopes)), default=-1)
        if last >= len(tokens) - 1:
            return "", [], [], {}
    return doc, tokens, chars, found


def _attention_weights(values, scopes, marks):
    """The outputs of a `softmax` called inside a head (the nodes of that call no other node of it
    uses) are attention weights, key = their order, when every such call has exactly pos + 1 of them:
    a causal attention, as microGPT's. One that is not (a bidirectional encoder's query reads every
    position) is recorded as no attention found, never as the few calls that happen to fit."""
    from microtrace.tracer.model.scopes import parse

    calls = []  # (scope, output indices) of each softmax call inside a head
    i = 0
    n = len(values)
    while i < n:
        scope = scopes[i]
        j = i
        while j < n and scopes[j] == scope:
            j += 1
        attrs = parse(scope)
        if scope.rsplit("/", 1)[-1] == "softmax" and "head" in attrs and "pos" in attrs and "layer" in attrs:
            used = {id(c) for v in values[i:j] for c in v._children}
            outputs = [k for k in range(i, j) if id(values[k]) not in used]
            calls.append((scope, attrs["pos"], outputs))
        i = j
    if not calls or any(len(outputs) != pos + 1 for _, pos, outputs in calls):
        return False
    for scope, _, outputs in calls:
        for key, k in enumerate(outputs):
            scopes[k] = scope + "/weights"
            marks[values[k]] = {**marks.get(values[k], {}), "key": key}  # (source dicts are shared)
    return True
