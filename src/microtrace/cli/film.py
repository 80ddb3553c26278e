"""`microtrace film`: a whole training run on one time axis, in one offline HTML page (viz/film/page.py)."""

import shlex

import click

from microtrace.cli.checks import command
from microtrace.cli.common import check_outputs, progress, write_output
from microtrace.cli.explore import _check_folder
from microtrace.cli.options import jobs_option, output_option, steps_option
from microtrace.engine.run import open_run
from microtrace.tracer import trace_step
from microtrace.tracer.analysis.attention import AttentionError
from microtrace.tracer.analysis.film import checkpoint_samples, default_text, film_frames, notable_steps
from microtrace.tracer.analysis.step_ranges import check_within
from microtrace.util.errors import BadInput
from microtrace.viz.explore.page import build_explorer
from microtrace.viz.film.page import build_film


class StepList(click.ParamType):
    """`--open K,K,...`: 0-based steps."""

    name = "K,..."

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            steps = sorted({int(part) for part in value.split(",") if part.strip()})
        except ValueError:
            self.fail(
                f"{value!r} is not a list of steps: write whole numbers separated by commas, e.g. 40,120", param, ctx
            )
        if steps and steps[0] < 0:
            self.fail(f"{value!r}: steps are 0 or more", param, ctx)
        return steps


@command()
@click.option(
    "--run",
    "run_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Run directory made by `microtrace train`.",
)
@steps_option("The frames, as Python's range (0-based, B excluded)  [default: about 100 frames over the whole run].")
@click.option(
    "--text",
    help="The text whose attention and predictions the page shows  [default: the first frame's training document].",
)
@click.option(
    "--open",
    "open_steps",
    type=StepList(),
    default="",
    help="Steps embedded whole as explorer pages, besides the largest gradient, the first dead ReLU and the last frame.",
)
@click.option("--no-auto-open", is_flag=True, help="Embed only the steps of --open.")
@output_option("HTML file to write.")
@jobs_option
def film(run_dir, steps, text, open_steps, no_auto_open, output, jobs):
    """Write one HTML page that plays a whole training run: the loss with a cursor, the block view
    coloured at each frame by ‖grad‖ (or update ÷ data, or the change since the previous frame), every
    head's attention on one text with the model's predictions, the gradient per matrix, dead ReLUs,
    saturated softmaxes and doctor's findings per step, and samples from the checkpoints.

    Play, pause, step and scrub with the mouse or the keys (Space, arrows, Home, End); the cursor's step
    is in the URL (#s=420). "Open this step" shows the full explorer of an embedded step (--open, and by
    default the step with the largest gradient, the first with a dead ReLU and the last frame); for any
    other step the page shows the command that writes its explorer. The page makes no request of any
    kind (open it from disk, offline, or in an <iframe>).

    Example:

    \b
        microtrace film --run runs/demo -o training.html
        microtrace film --run runs/demo --steps 0:200:5 --text emma --open 40,120 -o training.html
    """
    check_outputs([output], inputs=[run_dir])
    _check_folder(output)
    run = open_run(run_dir)
    steps = steps or _default_steps(run)
    check_within(steps, run.steps)
    run.check_trained(steps[-1])
    if any(k >= run.steps for k in open_steps):
        raise BadInput(f"--open: this run has steps 0 to {run.steps - 1}")
    for k in open_steps:
        run.check_trained(k)
    text = text if text is not None else default_text(run, steps[0])
    try:
        with progress("frames", len(steps)) as advance:
            frames = film_frames(run, steps, text, jobs=jobs, on_step=lambda k: advance(), keep=open_steps)
    except AttentionError as e:  # the text cannot be read: worded with this command's option
        raise BadInput(f"--text: {e}") from None
    samples = checkpoint_samples(run, steps[-1] + 1)
    chosen = sorted(set(open_steps) | (set() if no_auto_open else set(notable_steps(frames))))
    explorers = {}
    for k in chosen:
        click.echo(f"embedding the explorer of step {k} ...", err=True)
        explorers[k] = build_explorer(trace_step(run, k), jobs=jobs)  # from the state the frames kept
    commands = {k: explore_command(run_dir, k) for k in steps}
    page = build_film(run, frames, text, samples, explorers, commands)
    path = write_output(output, page)
    click.echo(f"wrote {path} ({len(page.encode('utf-8')) / 1e6:.1f} MB, {len(frames)} frames, "
               f"{len(explorers)} steps embedded)", err=True)  # fmt: skip


def explore_command(run_dir, step):
    """The command that writes the explorer of `step`, the run directory quoted for a POSIX shell."""
    return f"microtrace explore --run {shlex.quote(str(run_dir))} --step {step} -o step{step}.html"


def _default_steps(run):
    """About 100 frames over the whole run."""
    return range(0, run.steps, max(1, run.steps // 100))


COMMANDS = [film]
