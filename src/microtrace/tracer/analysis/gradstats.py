"""Per-matrix gradient and update statistics over a range of training steps, without tracing.

Tracing a step records ~60,000 nodes; the per-matrix numbers of `param_stats` need none of that. A step
here is `Trainer.train_step()` split in two (as `engine.run.train` does): after `forward_backward()`
every parameter's `.grad` is the step's gradient, and comparing `.data` before and after
`adam_update()` gives the update. The statistics are computed by the tracer's own `param_stats`, so
they are the numbers a trace of the same step holds, bit for bit.

    stats = range_stats("runs/demo", range(0, 200, 10))
    write_atomic("flow.csv", stats_csv(stats))
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from microtrace.engine.run import RunError, open_run
from microtrace.engine.train import Trainer
from microtrace.tracer.analysis.step_ranges import in_pieces, pieces_of
from microtrace.tracer.model.trace import param_stats

# Columns of the CSV, after step, loss, lr and matrix (the fields of a trace's param_stats).
STAT_FIELDS = (
    "grad_norm",
    "grad_abs_mean",
    "grad_abs_max",
    "zero_fraction",
    "nonfinite",
    "data_norm",
    "data_nonfinite",
    "update_norm",
    "update_ratio",
)
COUNTS = ("nonfinite", "data_nonfinite")
CSV_HEADER = ("step", "loss", "lr", "matrix", "rows", "cols") + STAT_FIELDS


@dataclass(frozen=True)
class StepStats:
    """One training step: its 0-based number, loss, learning rate and per-matrix `param_stats`."""

    step: int
    loss: float
    lr: float
    params: dict  # matrix name -> {"shape", "grad_norm", ..., "update_ratio"} in model order


def step_stats(trainer):
    """Train the trainer's current step, exactly as `train_step()` would, and return its `StepStats`."""
    k, tc = trainer.step, trainer.train_config
    lr = tc.lr * (1 - k / tc.steps)  # what adam_update is about to use
    loss = trainer.forward_backward().data
    before = [(p.data, p.grad) for p in trainer.model.params]
    trainer.adam_update()
    trainer.losses.append(loss)
    # The tracer's table layout: per matrix, rows of (data before, data after, grad).
    table, i = {}, 0
    for name, mat in trainer.model.state_dict.items():
        rows = []
        for row in mat:
            rows.append([(before[i + j][0], p.data, before[i + j][1]) for j, p in enumerate(row)])
            i += len(row)
        table[name] = rows
    return StepStats(k, loss, lr, param_stats(table))


def check_range(source, steps):
    """RunError (one line) unless every step of `steps` can be reached in `source` (see `range_stats`)."""
    if not isinstance(steps, range) or len(steps) == 0 or steps.step < 1 or steps.start < 0:
        raise ValueError(f"steps must be a non-empty increasing range, got {steps!r}")
    last = steps[-1]
    if isinstance(source, Trainer):
        if source.step > steps.start:
            raise RunError(f"the trainer is at step {source.step}, past the range's start {steps.start}")
        if last >= source.train_config.steps:
            raise RunError(f"step {last} is out of range: this run has steps 0 to {source.train_config.steps - 1}")
        return
    if last >= source.steps:
        raise RunError(f"step {last} is out of range: this run has steps 0 to {source.steps - 1} (0-based)")
    source.check_trained(last)


def range_stats(source, steps, on_step=None, jobs=1):
    """`StepStats` for every step of `steps` (a range), from one trainer stepped through the range.

    `source` is a run directory, a `Run`, or a `Trainer` at or before `steps.start` (it is advanced).
    Steps in between are trained without statistics. `on_step(k)` is called after each step k. With
    `jobs` > 1 (a run only) the range is cut into `jobs` pieces computed by as many processes, each
    from its nearest checkpoint: the same numbers, bit for bit, as one process; `on_step` then hears
    from every piece as it goes, each from its own first step (`progress_length` counts them).
    RunError (one line) when the range leaves the run or passes the step where training stopped."""
    if isinstance(source, (str, Path)):
        source = open_run(source)
    check_range(source, steps)
    if jobs > 1 and not isinstance(source, Trainer):
        return in_pieces(_piece_stats, steps, jobs, str(source.path), on_step=on_step)
    last = steps[-1]
    trainer = source if isinstance(source, Trainer) else source.trainer_at(steps.start)
    wanted = set(steps)
    out = []
    while trainer.step <= last:
        k = trainer.step
        if k in wanted:
            out.append(step_stats(trainer))
        else:
            trainer.train_step()
        if on_step:
            on_step(k)
    return out


def progress_length(steps, jobs=1):
    """How many times `range_stats(run, steps, on_step, jobs)` calls `on_step`: each piece steps from
    its first step to its last."""
    return sum(p[-1] + 1 - p[0] for p in pieces_of(steps, jobs))


def _piece_stats(steps, run_dir, on_step=None):
    """range_stats of one piece of a range, in a worker process."""
    return range_stats(run_dir, steps, on_step)


def stats_csv(stats):
    """CSV text: one row per step and matrix, numbers as `repr` (they read back exactly). A matrix with a
    non-finite gradient has nan (or inf) statistics, and `nonfinite` says how many of its entries were."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for s in stats:
        for name, p in s.params.items():
            rows, cols = p["shape"]
            writer.writerow(
                [s.step, repr(s.loss), repr(s.lr), name, rows, cols]
                + [repr(p[f]) if f in p else "" for f in STAT_FIELDS]
            )
    return buf.getvalue()


def read_stats_csv(text):
    """The rows of `stats_csv` text back as dicts of numbers (for tests and notebooks)."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        out = {
            "step": int(row["step"]),
            "loss": float(row["loss"]),
            "lr": float(row["lr"]),
            "matrix": row["matrix"],
            "shape": [int(row["rows"]), int(row["cols"])],
        }
        out.update({f: (int if f in COUNTS else float)(row[f]) for f in STAT_FIELDS if row[f] != ""})
        rows.append(out)
    return rows
