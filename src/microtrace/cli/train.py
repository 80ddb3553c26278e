"""`microtrace train` and `microtrace sample`: thin commands over `microtrace.engine.run`.

Data goes to stdout in the published microGPT log format (num docs / vocab size / num params, one line
per step, then the samples); notes and the progress bar go to stderr.
"""

import random
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from microtrace.cli.checks import command
from microtrace.cli.options import POSITIVE, config_options
from microtrace.engine.data import load_dataset
from microtrace.engine.model import GPTConfig
from microtrace.engine.run import DEFAULT_CHECKPOINT_EVERY, create_run, make_run_dir, open_run, run_lock
from microtrace.engine.run import train as train_run
from microtrace.engine.train import TrainConfig
from microtrace.util.errors import BadInput, WorkFailed
from microtrace.util.limits import DEFAULT_MAX_MEMORY_GB, MEMORY_ENV
from microtrace.util.text import visible

SAMPLES_HEADER = "--- inference (new, hallucinated names) ---"
# Options that define a run; --resume takes them from the run's config.json instead.
RUN_OPTIONS = (
    "data",
    "steps",
    "seed",
    "n_embd",
    "n_head",
    "n_layer",
    "block_size",
    "lr",
    "out",
    "checkpoint_every",
    "force",
    "max_memory",
)


def step_line(step, steps, loss):
    """microGPT's progress line for 0-based `step`."""
    return f"step {step + 1:4d} / {steps:4d} | loss {loss:.4f}"


def stdout_is_terminal():
    return sys.stdout.isatty()


@command()
@click.option(
    "--data",
    metavar="PATH|names|makemore",
    help="Training data: a UTF-8 text file with one document per line; `names` (default): US Census "
    "first names; `makemore`: microGPT's names.txt, downloaded once.",
)
@config_options(TrainConfig, "steps", "seed")
@config_options(GPTConfig, "n_embd", "n_head", "n_layer", "block_size")
@config_options(TrainConfig, "lr")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("runs/run"),
    show_default=True,
    metavar="RUN_DIR",
    help="Run directory to create.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Replace a run already in RUN_DIR (only its own files; never through a symbolic link).",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=DEFAULT_CHECKPOINT_EVERY,
    show_default=True,
    help="Write a checkpoint every N steps (also at step 0 and at the end).",
)
@click.option(
    "--samples", default=20, show_default=True, type=click.IntRange(min=0), help="Names to sample after training."
)
@click.option(
    "--temperature",
    default=0.5,
    show_default=True,
    type=POSITIVE,
    help="Sampling temperature (above 0; lower is more conservative).",
)
@click.option(
    "--max-memory",
    type=POSITIVE,
    metavar="GB",
    help=f"Refuse a model estimated to need more memory than this to train and trace a step "
    f"[default: ${MEMORY_ENV} or {DEFAULT_MAX_MEMORY_GB:g}].",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Continue the run in RUN_DIR from its latest checkpoint, with its saved options.",
)
@click.pass_context
def train(
    ctx,
    data,
    steps,
    seed,
    n_embd,
    n_head,
    n_layer,
    block_size,
    lr,
    out,
    force,
    checkpoint_every,
    samples,
    temperature,
    max_memory,
    resume,
):
    """Train microGPT and save the run: config.json, losses.csv and checkpoints/.

    Prints microGPT's log to stdout (one line per step when stdout is not a terminal, a progress bar on
    stderr when it is), then samples names. The log numbers steps from 1, as microGPT does: its line
    `step K+1` is step K of every other command (0-based). A run resumed from any checkpoint continues bit
    for bit as if it had never stopped. A non-finite loss or gradient stops training before that step's
    update (exit code 1), keeping the checkpoints.
    While it trains, RUN_DIR/train.lock holds its pid: a second `train` on the same directory is refused.

    Example:

    \b
        microtrace train --steps 200 --out runs/demo
        microtrace train --data makemore --seed 42 --steps 1000 --out runs/published
        microtrace train --data my-words.txt --n-embd 32 --n-layer 2 --out runs/words
        microtrace train --resume runs/demo
    """
    if resume is not None:
        given = [
            p.opts[0]
            for p in ctx.command.params
            if p.name in RUN_OPTIONS and ctx.get_parameter_source(p.name) is not ParameterSource.DEFAULT
        ]
        if given:
            raise BadInput(f"--resume continues a run with the options it was made with; drop {', '.join(given)}")
        run = open_run(resume)
        with run_lock(run.path):
            _train_and_sample(run, run.latest(), samples, temperature, resuming=True)
        return
    if n_embd % n_head:
        raise BadInput(f"--n-embd ({n_embd}) must be a multiple of --n-head ({n_head})")
    if (out / "config.json").exists() and not force:
        raise BadInput(f"{out} already holds a run: continue it with --resume {out}, or replace it with --force")
    dataset = load_dataset(data)
    options = dict(n_embd=n_embd, n_head=n_head, n_layer=n_layer, block_size=block_size)
    config = TrainConfig(steps=steps, lr=lr, seed=seed)
    make_run_dir(out)
    with run_lock(out):  # from creating the run to its last step: no other writer in between
        run = create_run(out, dataset, config, options, checkpoint_every, overwrite=force, max_memory_gb=max_memory)
        _train_and_sample(run, run.latest(), samples, temperature)


def _train_and_sample(run, trainer, samples, temperature, resuming=False):
    if resuming and trainer.step < run.steps:
        click.echo(f"resuming {run.path} after step {trainer.step} of {run.steps}", err=True)
    elif resuming:
        click.echo(f"{run.path} has already trained all {run.steps} steps", err=True)
    click.echo(f"num docs: {len(trainer.docs)}")
    click.echo(f"vocab size: {trainer.tokenizer.vocab_size}")
    click.echo(f"num params: {len(trainer.model.params)}")
    trainer = _train_with_progress(run, trainer)
    click.echo(f"run saved in {run.path}", err=True)
    if samples:
        click.echo()
        click.echo(SAMPLES_HEADER)
        _print_samples(trainer, samples, temperature)


def _train_with_progress(run, trainer):
    steps = run.steps
    try:
        if not stdout_is_terminal():
            return train_run(run, lambda k, loss: click.echo(step_line(k, steps, loss)), trainer)
        # A terminal gets a progress bar on stderr, then the last step's line.
        last = []
        with click.progressbar(
            length=steps, label="training", file=sys.stderr, show_pos=True, item_show_func=lambda item: item
        ) as bar:
            bar.update(trainer.step)

            def on_step(k, loss):
                last[:] = [k, loss]
                bar.update(1, f"loss {loss:.4f}")

            trainer = train_run(run, on_step, trainer)
        if last:
            click.echo(step_line(last[0], steps, last[1]))
        return trainer
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; continue from the latest checkpoint with: microtrace train --resume {run.path}"
        ) from None


class Interrupted(WorkFailed):
    """Training stopped by Ctrl-C (exit code 130, the shell's for SIGINT); the checkpoints stay."""

    exit_code = 130


def _print_samples(trainer, count, temperature, rng=None):
    for i in range(1, count + 1):
        name = trainer.sample(temperature, rng)  # SampleError: a model that cannot be sampled from (exit 1)
        click.echo(f"sample {i:2d}: {visible(name)}")  # a control character shown, not acted on


@command()
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Run directory made by `microtrace train`.",
)
@click.option("-n", "--num", "count", default=20, show_default=True, type=click.IntRange(min=0), help="How many names.")
@click.option("--temperature", default=0.5, show_default=True, type=POSITIVE, help="Sampling temperature (above 0).")
@click.option("--seed", type=int, help="Sample with a fresh random.Random(SEED) instead of the saved RNG state.")
def sample(run_dir, count, temperature, seed):
    """Sample names from a run's latest checkpoint.

    By default sampling continues the RNG state saved with the checkpoint, so after a finished run this
    prints exactly the names `microtrace train` printed.

    Example:

    \b
        microtrace sample --run runs/demo
        microtrace sample --run runs/demo -n 5 --temperature 0.8 --seed 7
    """
    run = open_run(run_dir)
    trainer = run.latest()
    if trainer.step < run.steps:
        click.echo(f"note: {run.path} stopped after step {trainer.step} of {run.steps}; sampling from there", err=True)
    _print_samples(trainer, count, temperature, random.Random(seed) if seed is not None else None)


COMMANDS = [train, sample]
