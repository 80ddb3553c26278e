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
    adam: dict = field(default_factory=dict)  # name -> list of rows of (data, new_data, m, v) tuples
    lr: float = 0.0


class _Recorder:
    def __init__(self):
        self.values = []
        self.scopes = []

    def __call__(self, value):
        self.values.append(value)
        self.scopes.append("/".join(hooks.stack))


def record_step(trainer):
    """Train `trainer`'s current step (forward, backward, Adam) while recording every node made."""
    recorder = _Recorder()
    hooks.observe(recorder)
    try:
        loss = trainer.forward_backward()
        marks = dict(hooks.marks)
    finally:
        hooks.observe(None)
    params = {}
    for name, mat in trainer.model.state_dict.items():
        for r, row in enumerate(mat):
            for c, p in enumerate(row):
                params[p] = (name, r, c)
    before = [(p.data, p.grad) for p in trainer.model.params]
    step = trainer.step
    tc = trainer.train_config
    trainer.adam_update()  # resets every parameter's .grad: the trace reads them from `adam`
    adam = _adam_table(trainer, before)
    rec = Recording(recorder.values, recorder.scopes, marks, loss, params, adam, tc.lr * (1 - step / tc.steps))
    return rec


def _adam_table(trainer, before):
    """Per matrix, per entry: (data before, data after, grad, m, v) of this step's update."""
    table = {}
    i = 0
    for name, mat in trainer.model.state_dict.items():
        rows = []
        for row in mat:
            out = []
            for p in row:
                data, grad = before[i]
                out.append((data, p.data, grad, trainer.m[i], trainer.v[i]))
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
