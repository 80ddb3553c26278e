"""Capture: run one training step with the engine's hook installed and keep what it made.

The engine is observed, never changed: the recorder only appends each new `Value` and the scope it was
made in to two lists, so the step's numbers are exactly those of an untraced step.
"""

import math
from dataclasses import dataclass, field

from microtrace.engine import hooks
from microtrace.engine.value import topological_order


@dataclass
class Recording:
    """Plain data of one recorded step: the engine's own nodes (fused), in creation order."""

    values: list  # Value objects made during the forward pass, in creation order
    scopes: list  # scope path of each, parallel to `values`
    marks: dict  # Value -> extra attributes the model attached (key, unit)
    loss: object  # the loss Value
    params: dict  # parameter Value -> (matrix name, row, col)
    adam: dict = field(default_factory=dict)  # name -> rows of (data, new_data, grad, m, v); None: no update
    lr: float = 0.0


class _Recorder:
    def __init__(self):
        self.values = []
        self.scopes = []

    def __call__(self, value):
        self.values.append(value)
        self.scopes.append("/".join(hooks.stack))


def record_step(trainer, tokens=None):
    """Record every node of a step made by `trainer`.

    Without `tokens`: train the trainer's current step (forward, backward, Adam), as `train_step` would.
    With `tokens`: forward and backward of that sequence only; no update, and the gradients are reset
    afterwards, so the trainer is left exactly as it was.
    """
    recorder = _Recorder()
    with hooks.observing(recorder) as observed_marks:
        if tokens is None:
            loss = trainer.forward_backward()
        else:
            loss = trainer.model.loss(tokens)
            loss.backward()
        marks = dict(observed_marks)
    params = {}
    for name, mat in trainer.model.state_dict.items():
        for r, row in enumerate(mat):
            for c, p in enumerate(row):
                params[p] = (name, r, c)
    before = [(p.data, p.grad) for p in trainer.model.params]
    step = trainer.step
    tc = trainer.train_config
    if tokens is None:
        trainer.adam_update()  # resets every parameter's .grad: the trace reads them from `adam`
        table = _param_table(trainer, before, updated=True)
    else:
        for p in trainer.model.params:
            p.grad = 0
        table = _param_table(trainer, before, updated=False)
    return Recording(recorder.values, recorder.scopes, marks, loss, params, table, tc.lr * (1 - step / tc.steps))


def _param_table(trainer, before, updated):
    """Per matrix, per entry: (data before, data after, grad, m, v); the last three None without update."""
    table = {}
    i = 0
    for name, mat in trainer.model.state_dict.items():
        rows = []
        for row in mat:
            out = []
            for p in row:
                data, grad = before[i]
                if updated:
                    out.append((data, p.data, grad, trainer.m[i], trainer.v[i]))
                else:
                    out.append((data, None, grad, None, None))
                i += 1
            rows.append(out)
        table[name] = rows
    return table


def reachable(loss):
    """The non-leaf nodes the loss depends on (the recorded graph keeps only these and their leaves)."""
    return set(topological_order(loss))


def update_ratio(before, after):
    delta = abs(after - before)
    if before == 0:
        return math.inf if delta else 0.0
    return delta / abs(before)
