"""Check the engine's gradients against finite differences of the loss, at sampled parameters.

For a step of a run, the autograd gradient d loss / d w of a few entries w of every parameter matrix is
compared with the central difference (L(w + eps) - L(w - eps)) / (2 eps) of the same step's loss,
computed by two more forward passes with that one entry moved. Only entries that take part in the step
are sampled (wte rows of the tokens read, wpe rows of the positions used; every entry of the other
matrices), deterministically from `seed`. Every entry is put back exactly as it was, and the trainer's
gradients are left as they were: checking a step changes nothing.

    result = gradcheck(run.trainer_at(120), samples=3)
    print(result.table(tol=1e-4)); assert result.passed(1e-4)

The relative error is |a - n| / max(|a|, |n|, floor). A central difference is exact up to rounding,
and rounding the loss costs about 1e-16 * |L| / eps of absolute error (measured on the default model,
loss ~2.5, eps 1e-6: at most 2e-10), so for a gradient of 1e-6 the relative error would measure noise,
not the engine. Gradients below the floor are therefore compared in absolute terms, against the floor:
floor = 1e-11 / eps (1e-5 at the default eps), which keeps rounding noise near 2e-5, under the default
tolerance 1e-4, while a 1% error in any gradient above 1e-7 still shows.
"""

import math
import random
from dataclasses import dataclass

from microtrace.util.errors import BadInput

FLOOR_TIMES_EPS = 1e-11  # floor = FLOOR_TIMES_EPS / eps, see the module docs
# Step sizes whose comparison means something. Below 1e-8 the floor passes 1e-3, so every gradient below
# it is compared in absolute terms against it: at eps 1e-12 (floor 10) a 3% error in a gradient of 0.1
# passes a 1e-4 tolerance. Above 1e-2 the central difference's own error (eps^2 times the third
# derivative) is no longer small next to the gradients of a softmax model.
EPS_RANGE = (1e-8, 1e-2)


@dataclass(frozen=True)
class Check:
    """One sampled entry: the two gradients and how far apart they are."""

    matrix: str
    index: tuple  # (row, col)
    autograd: float
    numeric: float
    rel_error: float


@dataclass(frozen=True)
class GradcheckResult:
    step: int
    loss: float
    eps: float
    floor: float
    checks: tuple  # of Check, matrices in model order

    @property
    def max_error(self):
        """The largest relative error (nan counts as infinitely large)."""
        return max((math.inf if c.rel_error != c.rel_error else c.rel_error for c in self.checks), default=0.0)

    @property
    def worst(self):
        return max(self.checks, key=lambda c: math.inf if c.rel_error != c.rel_error else c.rel_error, default=None)

    def passed(self, tol):
        return self.max_error <= tol

    def table(self, tol):
        """Plain text: one line per sampled entry, then the maximum against `tol`."""
        lines = [
            f"step {self.step}  loss {self.loss:.6f}  eps {self.eps:g}  floor {self.floor:g}  "
            f"({len(self.checks)} entries)",
            "",
            f"{'matrix':<16} {'index':>8} {'autograd':>14} {'numeric':>14} {'rel. error':>10}",
        ]
        for c in self.checks:
            lines.append(
                f"{c.matrix:<16} {f'[{c.index[0]},{c.index[1]}]':>8} {c.autograd:>14.6e} {c.numeric:>14.6e} "
                f"{c.rel_error:>10.2e}"
            )
        under = sum(1 for c in self.checks if max(abs(c.autograd), abs(c.numeric)) < self.floor)
        if under:
            lines += [
                "",
                f"{under} of {len(self.checks)} gradients are below the floor {self.floor:g}: their error is "
                "measured against the floor (absolute), not against themselves",
            ]
        worst = self.worst
        where = f" at {worst.matrix}[{worst.index[0]},{worst.index[1]}]" if worst else ""
        verdict = "OK" if self.passed(tol) else "FAILED"
        lines += ["", f"max relative error {self.max_error:.2e}{where} (tolerance {tol:g}): {verdict}"]
        return "\n".join(lines)


def floor_for(eps):
    """The denominator's floor for step size `eps` (1e-5 at eps 1e-6)."""
    return FLOOR_TIMES_EPS / eps


class GradcheckError(BadInput, ValueError):
    """A gradient check that cannot be made as asked. `setting` names the argument at fault ("eps",
    "samples") and the message starts with it, so the command line can name its option instead."""


def check_eps(eps, floor=None):
    """GradcheckError (one line) when `eps` (or an explicit `floor`) makes the comparison meaningless."""
    lo, hi = EPS_RANGE
    if floor is not None:
        return
    if eps < lo:
        raise GradcheckError(
            f"eps {eps:g} makes the comparison meaningless: its floor would be {floor_for(eps):g}, and "
            f"every gradient below the floor is compared in absolute terms; use an eps from {lo:g} to {hi:g}",
            "eps",
        )
    if eps > hi:
        raise GradcheckError(
            f"eps {eps:g} is too large: the finite difference's own error would hide the engine's; "
            f"use an eps from {lo:g} to {hi:g}",
            "eps",
        )


def relative_error(a, n, floor):
    """|a - n| / max(|a|, |n|, floor); nan if either is not finite (they cannot be compared)."""
    if not (math.isfinite(a) and math.isfinite(n)):
        return math.nan
    return abs(a - n) / max(abs(a), abs(n), floor)


def participating_entries(trainer, tokens):
    """Per matrix (model order), the sorted (row, col) entries the loss of `tokens` depends on."""
    config = trainer.config
    n = min(config.block_size, len(tokens) - 1)
    rows_used = {"wte": sorted(set(tokens[:n])), "wpe": list(range(n))}
    out = {}
    for name, mat in trainer.model.state_dict.items():
        rows = rows_used.get(name, range(len(mat)))
        out[name] = [(r, c) for r in rows for c in range(len(mat[r]))]
    return out


def gradcheck(trainer, samples=3, eps=1e-6, seed=0, floor=None):
    """Compare autograd and numeric gradients of `samples` entries per matrix at the trainer's step.

    `floor` defaults to `floor_for(eps)`. GradcheckError for a bad `samples` or `eps`."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise GradcheckError(f"samples must be a whole number of at least 1, got {samples!r}", "samples")
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise GradcheckError(f"eps must be a number above 0, got {eps!r}", "eps")
    check_eps(eps, floor)
    floor = floor_for(eps) if floor is None else floor
    model = trainer.model
    tokens = trainer.tokens_for(trainer.step)
    saved_grads = [p.grad for p in model.params]
    for p in model.params:
        p.grad = 0
    try:
        loss = model.loss(tokens)
        loss.backward()
        rng = random.Random(seed)
        chosen = []
        for name, entries in participating_entries(trainer, tokens).items():
            picked = sorted(rng.sample(entries, min(samples, len(entries))))
            mat = model.state_dict[name]
            chosen += [(name, r, c, mat[r][c], mat[r][c].grad) for r, c in picked]
    finally:
        for p, g in zip(model.params, saved_grads):
            p.grad = g
    checks = []
    for name, r, c, p, grad in chosen:
        numeric = _central_difference(model, tokens, p, eps)
        checks.append(Check(name, (r, c), grad, numeric, relative_error(grad, numeric, floor)))
    return GradcheckResult(trainer.step, loss.data, eps, floor, tuple(checks))


def _central_difference(model, tokens, p, eps):
    original = p.data
    try:
        up, down = original + eps, original - eps
        p.data = up
        loss_up = model.loss(tokens).data
        p.data = down
        loss_down = model.loss(tokens).data
    finally:
        p.data = original  # the very float it was, not original + eps - eps
    # Divide by the step actually taken: up - down is 2 eps up to the rounding of original +- eps.
    return (loss_up - loss_down) / (up - down)
