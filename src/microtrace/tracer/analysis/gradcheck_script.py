"""`gradcheck_script`: a user's script's gradients at step K against finite differences of its loss.

The script is traced at step K (its own gradients), then run again to step K twice per sampled
parameter entry, once with the entry moved up by eps and once down, and stopped as step K's backward()
begins: the loss it is called on is L(w +- eps). Where the entry is moved:
- step K > 0: as step K-1's backward() returns, before the script's optimizer runs; an update that
  moves `data` (SGD, Adam) moves the nudged value as it would the value (up to one rounding);
- step 0: as the parameter is made (the run makes its nodes in the same order every time).
The difference is divided by the step actually taken (the two entries' values at step K). Parameters
must be named (a module-level `state_dict`, `params` list or model with `parameters()`). Each run of the
script is a process of its own, as `trace --script`'s is (tracer/capture/child.py): the timeout, standard
input and the messages are this process's.
"""

import math
import random
import sys
from pathlib import Path

from microtrace.tracer.analysis.gradcheck import Check, GradcheckResult, floor_for, relative_error
from microtrace.tracer.capture import where
from microtrace.tracer.capture.child import in_child, received, script_request, send_trace
from microtrace.tracer.capture.observe import Observer, Stop
from microtrace.tracer.capture.script import ScriptError, _Run, child_run, compile_script


def gradcheck_script(path, step=0, args=(), samples=3, eps=1e-6, seed=0, timeout=None):
    """Compare the script's gradients of `samples` entries per parameter matrix at backward() call
    `step` with central differences; a `GradcheckResult` (tracer.analysis.gradcheck). Every run of the
    script is a process of its own (`capture.child.in_child`), each stopped at `timeout` seconds."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a whole number of at least 1, got {samples!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a number above 0, got {eps!r}")
    path = Path(path)
    compile_script(path)  # a missing or broken file is told before any process starts
    request = script_request(path, step, args)
    with in_child(f"{__name__}:child_trace", request, timeout) as (made, folder):
        trace = received(folder, path.name, step)
    source = trace.meta["conventions"].get("params")
    if source is None or source == "persisting leaves":
        raise ScriptError(
            f"{path.name}: its parameters have no names (no state_dict or other dict of matrices, params list or "
            "model with parameters()), so a gradient check cannot find the same parameter in another run"
        )
    G = trace.graph("elementary")  # the parameters as the script made them, no fused view to derive
    rng = random.Random(seed)
    by_matrix = {}
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            by_matrix.setdefault(d["param"], []).append((tuple(d["index"]), d["grad"]))
    created = {(name, r, c): i for name, r, c, i in made}  # step 0: where each parameter was made
    checks = []
    for name, entries in by_matrix.items():
        for (r, c), grad in sorted(rng.sample(sorted(entries), min(samples, len(entries)))):
            entry = (name, r, c, created.get((name, r, c)))
            up = _nudged_loss(request, timeout, entry, eps)
            down = _nudged_loss(request, timeout, entry, -eps)
            numeric = (up[0] - down[0]) / (up[1] - down[1])
            floor = floor_for(eps)
            checks.append(Check(name, (r, c), grad, numeric, relative_error(grad, numeric, floor)))
    return GradcheckResult(step, G.graph["loss"], eps, floor_for(eps), tuple(checks))


def child_trace(request, write, dump):
    """The first child: the step, as `trace_script`'s child sends it, and at step 0 where each parameter
    was made (the n-th node of the run: the nudged runs move it as it is made)."""
    run = child_run(request)
    send_trace(run, request, write, dump)
    if run.step != 0:
        return []
    made = {id(n): i for i, n in enumerate(run.observer.nodes)}
    return [[name, r, c, made.get(id(node))] for node, (name, r, c) in run.snapshot.params]


def _nudged_loss(request, timeout, entry, delta):
    """(step K's loss, the entry's value at step K) of a run, in a child, with `entry` moved by `delta`."""
    with in_child(f"{__name__}:child_nudged", {**request, "entry": entry, "delta": delta}, timeout) as (said, _):
        return said["loss"], said["value"]


def child_nudged(request, write, dump):
    """A child of `_nudged_loss`: run the script with the entry moved, stop it as step K's backward() begins."""
    path, step, (name, r, c, made), delta = Path(request["path"]), request["step"], request["entry"], request["delta"]

    def observer(k, folder, module_code, on_step):
        return _Nudge(k, folder, module_code, on_step, (name, r, c, made), delta)

    run = _Run(path, step, compile_script(path), observer)
    run.observer.glb = run.module.__dict__  # where the script's parameters will be
    run.run_script(list(request["args"]), None, None)
    obs = run.observer
    if obs.result is None:
        raise ScriptError(f"{path.name} did not reach step {step} again with {name}[{r},{c}] moved")
    try:
        return {"loss": float(obs.result[0]), "value": float(obs.result[1])}
    except (TypeError, ValueError):
        raise ScriptError(f"{path.name}: its loss at step {step} is not a real number") from None


class _Nudge(Observer):
    """Moves one parameter entry by `delta` before step K, and stops the run as step K's backward()
    begins, keeping (loss, the entry's value)."""

    def __init__(self, step, folder, module_code, on_step, entry, delta):
        super().__init__(step, folder, module_code, on_step)
        self.entry, self.delta, self.glb = entry, delta, {}
        self.node = None
        self.made = 0  # nodes made so far (step 0: the entry is the `entry[3]`-th)
        self.result = None

    def _wrap_init(self, cls):
        """At step 0, count the nodes made until the parameter itself is made; move it then."""
        if self.step != 0 or any(c is cls and a == "__init__" for c, a, _ in self.patched):
            return
        original, base = vars(cls).get("__init__"), cls.__init__
        target = self.entry[3]

        def __init__(node, *args, **kwargs):
            base(node, *args, **kwargs)
            if self.made == target:
                node.data = node.data + self.delta
                self.node = node
            self.made += 1

        self.patched.append((cls, "__init__", original))
        cls.__init__ = __init__

    def before_backward(self, node):
        if self.calls == self.step:
            moved = self.node if self.node is not None else self._find(node)
            self.result = (node.data, moved.data)
            raise Stop

    def after_backward(self, node):
        k = self.calls
        super().after_backward(node)
        if k == self.step - 1:  # before the optimizer: it moves the nudged value as it would the value
            self.node = self._find(node)
            self.node.data = self.node.data + self.delta

    def _find(self, node):
        name, r, c, _ = self.entry
        spaces = where.namespaces(self._chain(sys._getframe(1)), self.glb)
        _, named = where.find_params(spaces, type(node))
        try:
            return named[name][r][c]
        except (KeyError, IndexError):
            raise ScriptError(f"{name}[{r},{c}] is not a parameter of this run") from None
