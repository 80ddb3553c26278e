"""A run directory: the options of a training run, its losses and its checkpoints.

    RUN_DIR/config.json                   every option, the data's source and sha256, the version
    RUN_DIR/losses.csv                    step,loss (step 1-based, as printed; loss as repr, exact)
    RUN_DIR/checkpoints/step-000100.json  the whole state after 100 completed steps
    RUN_DIR/train.lock                    while a process writes the run: its pid

A checkpoint holds the parameters, Adam's moments, the completed step count, the losses so far and the
RNG state: with the data (reloaded and checked by sha256) that is everything a `Trainer` is. It also holds
the sha256 of each of those fields, so that any change to one (a digit) is found and named on loading. Training
draws nothing from the RNG, so training on from any checkpoint gives the same bits as never stopping,
and the final checkpoint's RNG state is the one sampling continues from.

Checkpoints are written at step 0, every `checkpoint_every` completed steps and at the end; losses.csv is
rewritten with each one, so the two always agree. Every file is written atomically, and the same options
give byte-identical files (JSON floats are `repr`s, which round-trip exactly, inf and nan included).
One process at a time writes a run (`run_lock`); nothing is written through a symbolic link.

Steps are 0-based in the API (`trainer_at(k)` is the state before step k runs, as in `Trainer.step`)
and 1-based where a person reads them (printed lines, losses.csv, messages).
"""

import csv
import hashlib
import importlib.metadata
import io
import json
import math
import os
import re
from dataclasses import fields
from pathlib import Path

from microtrace.engine.data import DataError, Dataset, load_dataset
from microtrace.engine.model import GPTConfig, check_model, is_number, is_whole
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.util.atomic import write_atomic
from microtrace.util.errors import BadInput, WorkFailed
from microtrace.util.jsontext import fields_by_line
from microtrace.util.limits import LimitError, parse_json, read_input
from microtrace.util.lock import LOCK_NAME, run_lock

RUN_FORMAT = "microtrace-run/1"
CHECKPOINT_FORMAT = "microtrace-checkpoint/2"  # /2: with "checksums"
DEFAULT_CHECKPOINT_EVERY = 100
MODEL_OPTIONS = tuple(f.name for f in fields(GPTConfig) if f.name != "vocab_size")
_CHECKPOINT_NAME = re.compile(r"step-(\d+)\.json")
_CHECKPOINT_FIELDS = ("config", "step", "params", "adam_m", "adam_v", "rng_state", "losses")
RUN_FILES = ("config.json", "losses.csv", LOCK_NAME)  # and everything in checkpoints/


class RunError(BadInput):
    """A run that cannot be made, read or continued; the message is one line meant for the user."""


class RunDiverged(WorkFailed, RunError):
    """Training met a non-finite loss or gradient at 0-based step `step`; no update was applied for it. A
    RunError (what catches those sees it too) whose work failed: exit code 1."""

    def __init__(self, run_dir, step, steps, loss, bad_grad=None):
        self.step, self.loss, self.bad_grad = step, loss, bad_grad
        what = f"the loss is {loss!r}" if bad_grad is None else f"the gradient of {bad_grad[0]} is {bad_grad[1]!r}"
        super().__init__(
            f"training stopped at step {step} (0-based; the log's line 'step {step + 1} / {steps}'): {what}; "
            f"no update was applied for it, and the checkpoints so far are kept in {run_dir}"
        )


def microtrace_version():
    try:
        return importlib.metadata.version("microtrace")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


# -- creating, opening, training ---------------------------------------------------------------------------


def create_run(
    run_dir: str | os.PathLike,
    dataset: Dataset,
    train_config: TrainConfig = TrainConfig(),
    model_options: dict | None = None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    overwrite: bool = False,
    max_memory_gb: float | None = None,
) -> "Run":
    """Start a run in `run_dir`: write config.json, an empty losses.csv and the step-0 checkpoint.

    `dataset` is a `data.Dataset`; `model_options` are `GPTConfig` fields but vocab_size (n_embd, n_head,
    n_layer, block_size, init_std). An existing run there is an error unless `overwrite`, which deletes
    its files (and only those, never through a symbolic link). A model needing more memory than
    `max_memory_gb` is refused (`limits.LimitError`) before anything is allocated. Returns the `Run`.
    """
    run_dir = Path(run_dir)
    model_options = dict(model_options or {})
    unknown = sorted(set(model_options) - set(MODEL_OPTIONS))
    if unknown:
        raise RunError(f"unknown model options: {', '.join(unknown)} (known: {', '.join(MODEL_OPTIONS)})")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise RunError(f"checkpoint_every must be at least 1, got {checkpoint_every!r}")
    trainer = _new_trainer(dataset.docs, train_config, model_options, max_memory_gb, "max_memory_gb")
    source = dataset.source if dataset.source in ("names", "makemore") else str(Path(dataset.source).resolve())
    config = {
        "format": RUN_FORMAT,
        "version": microtrace_version(),
        "model": {name: getattr(trainer.config, name) for name in MODEL_OPTIONS},
        "training": train_config.to_dict(),
        "data": {"source": source, "sha256": dataset.sha256, "num_docs": len(dataset.docs)},
        "checkpoint_every": checkpoint_every,
    }
    make_run_dir(run_dir)
    with run_lock(run_dir):
        if os.path.lexists(run_dir / "config.json"):
            if not overwrite:
                raise RunError(f"{run_dir} already holds a run")
            _delete_run_files(run_dir)
        try:
            _checkpoints_folder(run_dir).mkdir(exist_ok=True)
        except OSError as e:
            raise RunError(f"{run_dir}: cannot create the run directory ({e.strerror or e})") from None
        _write(run_dir / "config.json", json.dumps(config, indent=2) + "\n")
        run = Run(run_dir, config)
        run._dataset = dataset
        run.save(trainer)
    return run


def make_run_dir(run_dir):
    """Make the folder `run_dir` (and its parents) if needed, so that it can be locked; RunError if not."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunError(f"{run_dir} exists and is not a directory")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"{run_dir}: cannot create the run directory ({e.strerror or e})") from None


def _new_trainer(docs, train_config, model_options, max_memory_gb=None, setting=None):
    """A Trainer, its model's size checked against the memory limit before anything is allocated: a
    LimitError naming `setting` as the way to raise the limit, or without one a RunError."""
    try:
        check_model(GPTConfig(vocab_size=len(set("".join(docs))) + 1, **model_options), max_memory_gb, setting)
        return Trainer(docs, train_config, **model_options)
    except LimitError as e:
        if setting:  # the caller's own argument raises the limit: its caller words the message
            raise
        raise RunError(str(e)) from None
    except (TypeError, ValueError) as e:
        raise RunError(str(e)) from None


def open_run(run_dir: str | os.PathLike) -> "Run":
    """The run in `run_dir`, its config.json checked; RunError if there is none or it is unreadable."""
    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    if not os.path.lexists(path):
        raise RunError(f"{run_dir} is not a microtrace run (it has no config.json)")
    config = _read_json(path, "run config")
    _check_config(config, path)
    return Run(run_dir, config)


def train(run: "Run", on_step=None, trainer: Trainer | None = None) -> Trainer:
    """Train `run` to its last step and return the final `Trainer`.

    Starts from `trainer` if given (a state of this run, e.g. from `run.latest()`), else from the latest
    checkpoint, so this both starts and resumes a run. `on_step(step, loss)` is called after each step
    (0-based step) once its checkpoint, if any, is written. A non-finite loss or gradient raises
    `RunDiverged` before any update for that step: the state at its start is checkpointed and its loss
    recorded in losses.csv, one row past the checkpoint (that is how `stopped_at` knows).
    """
    with run_lock(run.path):
        _checkpoints_folder(run.path)
        return _train(run, on_step, trainer or run.latest())


def _train(run, on_step, trainer):
    steps, every = run.steps, run.checkpoint_every
    run.write_losses(trainer.losses)  # rows past the state we continue from are about to be redone
    while trainer.step < steps:
        k = trainer.step
        # Trainer.train_step() split in two, to look at the loss and the gradient before the update: one
        # nan gradient would make every parameter it reaches nan through Adam's moments, for good.
        loss = trainer.forward_backward().data
        bad_grad = None if not math.isfinite(loss) else first_nonfinite_grad(trainer)
        if not math.isfinite(loss) or bad_grad is not None:
            for p in trainer.model.params:
                p.grad = 0
            run.save(trainer, extra_losses=[loss])
            if on_step:
                on_step(k, loss)
            raise RunDiverged(run.path, k, steps, loss, bad_grad)
        trainer.adam_update()
        trainer.losses.append(loss)
        if trainer.step % every == 0 or trainer.step == steps:
            run.save(trainer)
        if on_step:
            on_step(k, loss)
    return trainer


def first_nonfinite_grad(trainer):
    """(`matrix[row,col]`, gradient) of the first parameter, in model order, whose gradient is not
    finite; None when all are."""
    for name, mat in trainer.model.state_dict.items():
        for r, row in enumerate(mat):
            for c, p in enumerate(row):
                if not math.isfinite(p.grad):
                    return f"{name}[{r},{c}]", p.grad
    return None


def resume(run_dir, on_step=None):
    """Continue the run in `run_dir` from its latest checkpoint to the end; returns the final Trainer."""
    return train(open_run(run_dir), on_step)


# -- one writer at a time ---------------------------------------------------------------------------------


def run_owning(path):
    """The run directory `path` is one of the own files of (config.json, losses.csv, the lock, anything
    in checkpoints/), or None: an output written there would replace part of a run."""
    path = Path(os.path.realpath(path))
    folder = path.parent
    if folder.name == "checkpoints":
        folder = folder.parent
    elif path.name not in RUN_FILES:
        return None
    return folder if (folder / "config.json").is_file() and (folder / "checkpoints").is_dir() else None


def _checkpoints_folder(run_dir):
    """RUN_DIR/checkpoints, refused when it is a symbolic link: clearing or writing it would reach outside."""
    folder = Path(run_dir) / "checkpoints"
    if folder.is_symlink():
        raise RunError(f"{folder} is a symbolic link; refusing to follow it out of the run directory")
    return folder


# -- the run --------------------------------------------------------------------------------------------


class Run:
    """A run directory. `config` is config.json as a dict; steps are 0-based (see the module docs)."""

    def __init__(self, path, config):
        self.path = Path(path)
        self.config = config
        self._dataset = None
        self._states = {}  # completed steps -> a trainer's state kept in memory (`remember`)

    def __repr__(self):
        return f"Run({str(self.path)!r})"

    @property
    def steps(self):
        return self.config["training"]["steps"]

    @property
    def checkpoint_every(self):
        return self.config["checkpoint_every"]

    @property
    def train_config(self):
        return TrainConfig(**self.config["training"])

    @property
    def model_options(self):
        return dict(self.config["model"])

    @property
    def losses_path(self):
        return self.path / "losses.csv"

    def checkpoint_path(self, step):
        return self.path / "checkpoints" / f"step-{step:06d}.json"

    def dataset(self):
        """The training data, reloaded as the config says and checked against its sha256 (cached)."""
        if self._dataset is None:
            data = self.config["data"]
            try:
                dataset = load_dataset(data["source"])
            except DataError as e:
                raise RunError(f"{self.path}: cannot reload the run's data: {e}") from None
            if dataset.sha256 != data["sha256"]:
                raise RunError(
                    f"{self.path}: the run's data ({data['source']}) has changed since it was trained (sha256 differs)"
                )
            self._dataset = dataset
        return self._dataset

    def checkpoint_steps(self):
        """The completed-step counts that have a checkpoint, ascending."""
        try:
            names = [p.name for p in (self.path / "checkpoints").iterdir()]
        except OSError:
            return []
        return sorted(int(m.group(1)) for m in map(_CHECKPOINT_NAME.fullmatch, names) if m)

    def load(self, step):
        """The Trainer saved in the checkpoint after `step` completed steps; RunError naming a bad file."""
        path = self.checkpoint_path(step)
        if not path.is_file():
            raise RunError(f"{path}: no such checkpoint")
        return _restore(self, _read_json(path, "checkpoint"), path)

    def latest(self):
        """The Trainer of the latest checkpoint."""
        steps = self.checkpoint_steps()
        if not steps:
            raise RunError(f"{self.path} has no checkpoints (expected {self.path / 'checkpoints'}/step-*.json)")
        return self.load(steps[-1])

    def trainer_at(self, step, on_step=None):
        """The exact state at the start of 0-based step `step`: nearest checkpoint, then untraced steps
        (`on_step(done, total)` after each, for a progress bar). `step == steps` is the trained model,
        after the last update."""
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step <= self.steps:
            raise RunError(
                f"step {step!r} is out of range: this run has steps 0 to {self.steps - 1} (0-based), "
                f"and {self.steps} is the trained model after the last update"
            )
        self.check_trained(step)
        earlier = [s for s in self.checkpoint_steps() if s <= step]
        kept = max((s for s in self._states if s <= step), default=None)
        if kept is not None and (not earlier or kept > earlier[-1]):
            trainer = self._restored(self._states[kept])
        elif not earlier:
            raise RunError(f"{self.path} has no checkpoint at or before step {step}")
        else:
            trainer = self.load(earlier[-1])
        start = trainer.step
        while trainer.step < step:
            trainer.train_step()
            if on_step:
                on_step(trainer.step - start, step - start)
        return trainer

    def remember(self, state):
        """Keep a trainer's `state` (`trainer_state`, of this run, from any process) in memory: `trainer_at`
        starts from it as from a checkpoint. Whoever replayed the run to a step anyway keeps the step at
        hand for later (the film, for the steps it embeds)."""
        self._states[state["step"]] = state

    def _restored(self, state):
        trainer = _new_trainer(self.dataset().docs, self.train_config, self.model_options)
        for p, x in zip(trainer.model.params, state["params"]):
            p.data = x
        trainer.m, trainer.v = list(state["adam_m"]), list(state["adam_v"])
        trainer.step, trainer.losses = state["step"], list(state["losses"])
        trainer.rng.setstate(state["rng_state"])
        return trainer

    def losses(self):
        """The losses in losses.csv, index i for 0-based step i (a stopped run's last one is not finite)."""
        path = self.losses_path
        try:
            text = read_input(path).decode("utf-8")  # as every input: a FIFO is refused, not waited on
        except (OSError, UnicodeDecodeError) as e:
            raise RunError(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or rows[0] != ["step", "loss"]:
            raise RunError(f"{path}: not a losses file (its first line should be 'step,loss')")
        losses = []
        for line, row in enumerate(rows[1:], 2):
            try:
                step, loss = int(row[0]), float(row[1])
            except (ValueError, IndexError):
                raise RunError(f"{path}: line {line} is not 'step,loss'") from None
            if step != len(losses) + 1:
                raise RunError(f"{path}: line {line} has step {step}, expected {len(losses) + 1}")
            losses.append(loss)
        return losses

    def stopped_at(self):
        """The 0-based step whose non-finite loss or gradient stopped training, or None.

        A stopped run's losses.csv has one row more than its latest checkpoint has steps: the loss of the
        step that was not applied (not finite, or finite with a non-finite gradient)."""
        if not self.losses_path.exists():
            return None
        losses, done = self.losses(), self.checkpoint_steps()
        if done and len(losses) == done[-1] + 1:
            return done[-1]
        return next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)

    def check_trained(self, step):
        """RunError (one line) when training stopped on a non-finite loss or gradient before `step`."""
        stopped = self.stopped_at()
        if stopped is not None and step > stopped:
            raise RunError(
                f"step {step} (0-based) was never trained: the run stopped at step {stopped} "
                "on a non-finite loss or gradient"
            )

    # -- writing ------------------------------------------------------------------------------------

    def save(self, trainer, extra_losses=()):
        """Checkpoint `trainer` and rewrite losses.csv to match it (plus `extra_losses`, e.g. a nan)."""
        _write(self.checkpoint_path(trainer.step), _checkpoint_bytes(self.config, trainer))
        self.write_losses(list(trainer.losses) + list(extra_losses))

    def write_losses(self, losses):
        lines = ["step,loss"] + [f"{i},{loss!r}" for i, loss in enumerate(losses, 1)]
        _write(self.losses_path, "\n".join(lines) + "\n")


# -- checkpoints -------------------------------------------------------------------------------------------


def trainer_state(trainer):
    """What a checkpoint holds of a trainer, in memory: its parameters, Adam's moments, its step, the losses
    so far and its random generator (`Run.remember` takes it)."""
    return {
        "step": trainer.step,
        "params": [p.data for p in trainer.model.params],
        "adam_m": list(trainer.m),
        "adam_v": list(trainer.v),
        "losses": list(trainer.losses),
        "rng_state": trainer.rng.getstate(),
    }


def _shaped_like(state_dict, flat):
    """`flat` (a list in parameter order) cut into the matrices of `state_dict`, by name."""
    it = iter(flat)
    return {name: [[next(it) for _ in row] for row in mat] for name, mat in state_dict.items()}


def _checkpoint_bytes(config, trainer):
    sd = trainer.model.state_dict
    version, internal, gauss_next = trainer.rng.getstate()
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "config": config,
        "step": trainer.step,
        "params": {name: [[p.data for p in row] for row in mat] for name, mat in sd.items()},
        "adam_m": _shaped_like(sd, trainer.m),
        "adam_v": _shaped_like(sd, trainer.v),
        "rng_state": [version, list(internal), gauss_next],
        "losses": list(trainer.losses),
    }
    checkpoint["checksums"] = {key: _checksum(checkpoint[key]) for key in _CHECKPOINT_FIELDS}
    # one matrix per line: diffable, still compact
    return fields_by_line(checkpoint, expand=("params", "adam_m", "adam_v"))


def _checksum(value):
    """sha256 of a field's JSON in one canonical spelling: what it holds, not how the file spaces it."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _restore(run, checkpoint, path):
    """A Trainer rebuilt from the run's data and options, then given the checkpoint's state."""

    def bad(reason):
        return RunError(f"{path}: bad checkpoint: {reason}")

    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        raise bad(f"format is {found!r}, expected {CHECKPOINT_FORMAT!r}")
    missing = [k for k in _CHECKPOINT_FIELDS + ("checksums",) if k not in checkpoint]
    if missing:
        raise bad(f"missing {', '.join(missing)}")
    sums = checkpoint["checksums"]
    if not isinstance(sums, dict):
        raise bad("checksums should map each field to its sha256")
    for key in _CHECKPOINT_FIELDS:
        if sums.get(key) != _checksum(checkpoint[key]):
            raise bad(f"its {key} changed after it was written (the sha256 differs from its checksum)")
    if not _same_run(checkpoint["config"], run.config):
        raise bad(f"it belongs to another run (its config differs from {run.path / 'config.json'})")
    step = checkpoint["step"]
    if step != _step_of(path) or not is_whole(step) or not 0 <= step <= run.steps:
        raise bad(f"its step ({step!r}) does not match its file name")
    losses = checkpoint["losses"]
    if not isinstance(losses, list) or len(losses) != step or not all(map(is_number, losses)):
        raise bad(f"losses should be {step} numbers")

    trainer = _new_trainer(run.dataset().docs, run.train_config, run.model_options)
    sd = trainer.model.state_dict
    flat = {}
    for key in ("params", "adam_m", "adam_v"):
        mats = checkpoint[key]
        if not isinstance(mats, dict) or list(mats) != list(sd):
            names = list(mats) if isinstance(mats, dict) else type(mats).__name__
            raise bad(f"{key} should hold the matrices {', '.join(sd)}; it holds {names}")
        flat[key] = []
        for name, mat in sd.items():
            rows, cols = len(mat), len(mat[0])
            got = mats[name]
            if not (
                isinstance(got, list) and len(got) == rows and all(isinstance(r, list) and len(r) == cols for r in got)
            ):
                raise bad(f"{key} {name} is not a {rows}x{cols} matrix")
            if not all(is_number(x) for r in got for x in r):
                raise bad(f"{key} {name} holds something that is not a number")
            flat[key].extend(float(x) for r in got for x in r)

    for p, x in zip(trainer.model.params, flat["params"]):
        p.data = x
    trainer.m, trainer.v = flat["adam_m"], flat["adam_v"]
    trainer.step = step
    trainer.losses = [float(x) for x in losses]
    state = checkpoint["rng_state"]
    try:
        version, internal, gauss_next = state
        if gauss_next is not None and not is_number(gauss_next):
            raise TypeError
        trainer.rng.setstate((version, tuple(internal), gauss_next))
    except (TypeError, ValueError, OverflowError):
        raise bad("rng_state is not a random.Random state") from None
    return trainer


def _same_run(a, b):
    """Same options and data; the version that wrote them may differ."""
    if not isinstance(a, dict):
        return False
    return {k: v for k, v in a.items() if k != "version"} == {k: v for k, v in b.items() if k != "version"}


def _step_of(path):
    m = _CHECKPOINT_NAME.fullmatch(path.name)
    return int(m.group(1)) if m else None


# -- files ------------------------------------------------------------------------------------------------


def _write(path, data):
    try:
        write_atomic(path, data)
    except OSError as e:
        raise RunError(f"{path}: cannot write ({e.strerror or e})") from None


def _read_json(path, what):
    try:
        raw = read_input(path)
    except LimitError as e:
        raise RunError(str(e)) from None
    except OSError as e:
        raise RunError(f"{path}: cannot read ({e.strerror or e})") from None
    if not raw.strip():
        raise RunError(f"{path}: bad {what}: the file is empty")
    try:
        return parse_json(raw)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError; both messages are one line
        raise RunError(f"{path}: bad {what}: not valid JSON ({e})") from None
    except RecursionError:
        raise RunError(f"{path}: bad {what}: its JSON is nested too deeply") from None


def _check_config(config, path):
    """config.json has every field with a usable value (TrainConfig and GPTConfig check the values)."""

    def bad(reason):
        return RunError(f"{path}: bad run config: {reason}")

    if not isinstance(config, dict) or config.get("format") != RUN_FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise bad(f"format is {found!r}, expected {RUN_FORMAT!r}")
    for key in ("model", "training", "data"):
        if not isinstance(config.get(key), dict):
            raise bad(f"missing {key}")
    if not is_whole(config.get("checkpoint_every")) or config["checkpoint_every"] < 1:
        raise bad("checkpoint_every should be a whole number of at least 1")
    data = config["data"]
    if not isinstance(data.get("source"), str) or not isinstance(data.get("sha256"), str):
        raise bad("data needs a source and a sha256")
    model, training = config["model"], config["training"]
    if set(model) != set(MODEL_OPTIONS):
        raise bad(f"model should have {', '.join(MODEL_OPTIONS)}")
    try:  # the same checks as the options of `microtrace train`, and the memory limit
        TrainConfig(**training)
        check_model(GPTConfig(vocab_size=1, **model))
    except (TypeError, ValueError) as e:
        raise bad(str(e)) from None


def _delete_run_files(run_dir):
    """Remove what a run writes (and nothing else) so a new run can take the directory."""
    doomed = [run_dir / "config.json", run_dir / "losses.csv"]
    folder = _checkpoints_folder(run_dir)
    if folder.is_dir():
        doomed += [p for p in folder.iterdir() if _CHECKPOINT_NAME.fullmatch(p.name)]
    try:
        for p in doomed:
            p.unlink(missing_ok=True)
    except OSError as e:
        raise RunError(f"{run_dir}: cannot replace the run there ({e.strerror or e})") from None
