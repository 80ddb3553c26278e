"""A debugging story: break microGPT on purpose, twice, and let microtrace say what went wrong.

    python examples/debugging_story.py          # -> examples/out/debugging/ (about 10 s)

1. A learning rate of 1e6. `microtrace train` stops at the first non-finite loss; `doctor` on the
   step after the first update points at the huge update and at where inf/nan first appears;
   gradflow and the block graph of that step show it (nan/inf nodes red).
2. A zero-initialised MLP matrix (`layer0.mlp_fc1`). Nothing crashes and the loss looks ordinary,
   but no gradient reaches fc1 or fc2 and every ReLU is dead: doctor says so.

Everything the commands print (stdout and stderr) is also written to story.md next to the figures.
"""

import argparse
import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import click

from microtrace.cli import cli
from microtrace.engine.data import load_dataset
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import trace_step
from microtrace.tracer.analysis.doctor import diagnose, report
from microtrace.util.atomic import write_atomic

HERE = Path(__file__).resolve().parent


def microtrace(*args):
    """Run a command as typed in a shell; returns its exit code (1 and 3 are answers here, not crashes)."""
    print("$ microtrace", " ".join(str(a) for a in args), flush=True)
    try:
        cli.main(args=[str(a) for a in args], prog_name="microtrace", standalone_mode=False)
        return 0
    except click.ClickException as e:
        e.show()
        return e.exit_code


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "debugging", help="folder for the files")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    log = io.StringIO()
    with redirect_stdout(log), redirect_stderr(log):
        story(out)
    print(log.getvalue())
    write_atomic(out / "story.md", "```\n" + log.getvalue() + "```\n")
    print(f"figures and story.md in {out}")
    return 0


def story(out):
    run = out / "huge-lr-run"

    print("# 1. A learning rate of 1e6\n")
    microtrace("train", "--lr", "1e6", "--steps", 50, "--samples", 0, "--out", run, "--force")
    microtrace("doctor", "--run", run, "--step", 1)
    microtrace("gradflow", "--run", run, "--step", 0, "-o", out / "huge-lr-gradflow.png")
    microtrace("graph", "--run", run, "--step", 1, "-o", out / "huge-lr-step1.svg")

    print("\n# 2. A zero-initialised matrix\n")
    trainer = Trainer(load_dataset(None).docs, TrainConfig(steps=1000, seed=42))
    for row in trainer.model.state_dict["layer0.mlp_fc1"]:
        for p in row:
            p.data = 0.0
    G = trace_step(trainer, 0).graph("fused")
    print(report(G, diagnose(G)))


if __name__ == "__main__":
    sys.exit(main())
