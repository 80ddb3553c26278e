"""`gradcheck_script`: a user's script's gradients at step K against finite differences of its loss.

The script is traced at step K (its own gradients), then run again to step K twice per sampled
parameter entry, once with the entry moved up by eps and once down, and stopped as step K's backward()
begins: the loss it is called on is L(w +- eps). Where the entry is moved:
- step K > 0: as step K-1's backward() returns, before the script's optimizer runs; an update that
  moves `data` (SGD, Adam) moves the nudged value as it would the value (up to one rounding);
- step 0: as the parameter is made (the run makes its nodes in the same order every time).
The difference is divided by the step actually taken (the two entries' values at step K). Parameters
must be named (a module-level `state_dict`, `params` list or model with `parameters()`).
"""

import math
import random
import sys
from pathlib import Path

from microtrace.tracer.analysis.gradcheck import Check, GradcheckResult, floor_for, relative_error
from microtrace.tracer.capture import where
from microtrace.tracer.capture.observe import Observer, Stop
from microtrace.tracer.capture.script import ScriptError, _Run, compile_script

NAMED = ("state_dict", "params")


def gradcheck_script(path, step=0, args=(), samples=3, eps=1e-6, seed=0, timeout=None):
    """Compare the script's gradients of `samples` entries per parameter matrix at backward() call
    `step` with central differences; a `GradcheckResult` (tracer.analysis.gradcheck)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"samples must be a whole number of at least 1, got {samples!r}")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a number above 0, got {eps!r}")
    path = Path(path)
    code = compile_script(path)
    run = _Run(path, step, code)
    run.execute(list(args), timeout, None)
    source = run.snapshot.params_from
    if source is None or source == "persisting leaves":
        raise ScriptError(
            f"{path.name}: its parameters have no names (no state_dict or other dict of matrices, params list or "
            "model with parameters()), so a gradient check cannot find the same parameter in another run"
        )
    G = run.trace().graph()
    rng = random.Random(seed)
    by_matrix = {}
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            by_matrix.setdefault(d["param"], []).append((tuple(d["index"]), d["grad"]))
    created = {id(n): i for i, n in enumerate(run.observer.nodes)} if step == 0 else {}
    nodes = {pos: node for node, pos in run.snapshot.params}
    checks = []
    for name, entries in by_matrix.items():
        for (r, c), grad in sorted(rng.sample(sorted(entries), min(samples, len(entries)))):
            node = nodes[(name, r, c)]
            where = created.get(id(node))
            up = _nudged_loss(path, code, step, args, timeout, (name, r, c, where), eps)
            down = _nudged_loss(path, code, step, args, timeout, (name, r, c, where), -eps)
            numeric = (up[0] - down[0]) / (up[1] - down[1])
            floor = floor_for(eps)
            checks.append(Check(name, (r, c), grad, numeric, relative_error(grad, numeric, floor)))
    return GradcheckResult(step, G.graph["loss"], eps, floor_for(eps), tuple(checks))


def _nudged_loss(path, code, step, args, timeout, entry, delta):
    """(step K's loss, the entry's value at step K) of a run with `entry` moved by `delta`."""

    def observer(k, folder, module_code, on_step):
        return _Nudge(k, folder, module_code, on_step, entry, delta)

    run = _Run(path, step, code, observer)
    run.observer.glb = run.module.__dict__  # where the script's parameters will be
    run.run_script(list(args), timeout, None)
    obs = run.observer
    if obs.result is None:
        raise ScriptError(f"{path.name} did not reach step {step} again with {entry[0]}[{entry[1]},{entry[2]}] moved")
    return obs.result


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
