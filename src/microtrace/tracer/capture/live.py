"""Recording any code that computes with microtrace's engine, and the `Trace` of a step not made by
`microtrace train` (a model written on the engine, or a user's script, `tracer.capture.script`).

    from microtrace.tracer import recording, trace_call

    with recording(params=state_dict) as rec:     # scopes: hooks.scope("mlp"), ...
        loss = my_model(x)
        loss.backward()
    trace = rec.trace()                            # the loss: the last node made, unless given

    trace = trace_call(my_loss, x, params=state_dict)   # the same; backward() is called if fn did not
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from microtrace.engine import hooks
from microtrace.engine.run import microtrace_version
from microtrace.engine.value import Value, topological_order
from microtrace.tracer.capture.record import Recording
from microtrace.tracer.model.trace import FORMAT, Trace, TraceError, param_stats


class Recorder:
    """What `recording()` saw: every Value made inside, with the scope it was made in."""

    def __init__(self, params=None, outer=None):
        self.values, self.scopes = [], []
        self.marks = {}
        self.params = params
        self.outer = outer  # the observer this recording is nested in: it sees every value too

    def __call__(self, value):
        self.values.append(value)
        self.scopes.append("/".join(hooks.stack) or "script")
        if self.outer is not None:
            self.outer(value)

    def trace(self, loss=None, step=0):
        """The `Trace` of what was recorded; `loss` defaults to the last node made."""
        if loss is None:
            if not self.values:
                raise TraceError("nothing was computed with microtrace's Value inside the recording")
            loss = self.values[-1]
        params_from, named = _matrices(self.params)
        params = {}
        for name, mat in named.items():
            for r, row in enumerate(mat):
                for c, p in enumerate(row):
                    params.setdefault(p, (name, r, c))
        adam = {name: [[(p.data, None, p.grad, None, None) for p in row] for row in mat] for name, mat in named.items()}
        earlier = _earlier(self.values)
        values = earlier + self.values
        scopes = ["earlier"] * len(earlier) + self.scopes
        rec = Recording(values, scopes, self.marks, loss, params, adam, None)
        found = {"autograd": {"class": "Value", "style": "microtrace", "module": "microtrace.engine.value"},
                 "scopes": "hooks.scope", "params": params_from}  # fmt: skip
        return build_trace(rec, step, found)


@contextmanager
def recording(params: dict | None = None) -> Iterator[Recorder]:
    """Record every `microtrace.engine.Value` made inside the block; the previous observer, scopes and
    marks are put back on exit, so recordings nest (an outer one sees the inner one's values). `params`: a state_dict-like dict of matrices (or a
    list) that names the parameters."""
    rec = Recorder(params, hooks.observer)
    with hooks.observing(rec):
        try:
            yield rec
        finally:
            rec.marks = dict(hooks.marks)


def trace_call(fn: Callable[..., Value], *args, params: dict | None = None, **kwargs) -> Trace:
    """Call `fn(*args, **kwargs)`, which returns a loss `Value`, recording it; backward() is called on
    the loss unless `fn` did. Returns the step's `Trace`."""
    with recording(params) as rec:
        loss = fn(*args, **kwargs)
        if not hasattr(loss, "backward") or not hasattr(loss, "grad"):
            raise TraceError(f"{getattr(fn, '__name__', fn)!s} returned {type(loss).__name__}, not a Value loss")
        if loss.grad != 1:  # backward() sets the loss's own gradient to 1: not called yet
            loss.backward()
    return rec.trace(loss)


def _earlier(values):
    """The nodes made before the recording began that it uses (inputs, parameters, results computed
    earlier), operands first: they are part of the step's graph, under the scope `earlier`."""
    recorded = {id(v) for v in values}
    leaves, inner, seen = [], [], set()
    for v in values:
        for c in v._children:
            if id(c) in recorded or id(c) in seen:
                continue
            for n in topological_order(c) if c._children else ():
                if id(n) not in seen and id(n) not in recorded:
                    seen.add(id(n))
                    inner.append(n)
            seen.add(id(c))
            if not c._children:
                leaves.append(c)
    for n in inner:
        for c in n._children:
            if not c._children and id(c) not in seen and id(c) not in recorded:
                seen.add(id(c))
                leaves.append(c)
    return leaves + inner


def _matrices(params):
    if params is None:
        return None, {}
    if isinstance(params, dict):
        return "params", {name: [list(r) for r in m] for name, m in params.items()}
    return "params", {"params": [[p] for p in params]}


def build_trace(rec, step, conventions, update=False, script=None, doc="", tokens=(), chars=()):
    """A `Trace` of a `Recording` not made by a `Trainer` (no training config); `conventions` says
    what was recognised, `script` which script it came from; doc, tokens and chars are empty where
    they are not known."""
    graph_attrs = {
        "format": FORMAT,
        "version": microtrace_version(),
        "step": step,
        "doc": doc,
        "tokens": list(tokens),
        "chars": list(chars),
        "loss": float(rec.loss.data),
        "update": update,
        "param_stats": param_stats(rec.adam),
        "conventions": conventions,
    }
    if script is not None:
        graph_attrs["script"] = script
    return Trace(graph_attrs, recording=rec)
