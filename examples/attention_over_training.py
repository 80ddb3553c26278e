"""Attention figures of a small microGPT run: which earlier characters each character attends to.

Trains the default model (n_embd 16, 4 heads, 1 layer) on the default names for a few hundred steps
(about 10 s), then writes into OUT (default examples/out/attention/):

    grid.png          the attention of every head at the last step, on that step's own document
    grad.png          d loss / d attention weight for the same step (blue lowers the loss, red raises it)
    per_token.png     one strip per character of NAME: what it looks at, averaged over the heads
    NAME.gif          NAME's attention across training, one frame every STEPS/20 steps
    NAME-sheet.png    the same frames side by side

Run: python examples/attention_over_training.py [--out DIR] [--steps 500] [--name emma]
The same figures from the command line: `microtrace attention --help`.
"""

import argparse
import sys
import time
from pathlib import Path

from microtrace.engine.data import load_dataset
from microtrace.engine.run import create_run, train
from microtrace.engine.train import TrainConfig
from microtrace.tracer import trace_step, trace_text
from microtrace.tracer.analysis.attention import attention_series
from microtrace.util.atomic import write_atomic
from microtrace.viz.attention import animate, png_bytes
from microtrace.viz.attention.figure import attention_figure, contact_sheet_of, series_frames

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "attention", help="folder for the figures")
    parser.add_argument("--steps", type=int, default=500, help="training steps (20 ms each)")
    parser.add_argument("--name", default="emma", help="the text to follow across training")
    args = parser.parse_args()
    if args.steps < 20:
        sys.exit("--steps must be at least 20 (one GIF frame every steps/20 steps)")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def note(message):
        print(f"[{time.perf_counter() - t0:5.1f} s] {message}")

    run = create_run(out / "run", load_dataset(None), TrainConfig(steps=args.steps, seed=42), overwrite=True)
    train(run)
    note(f"trained {args.steps} steps into {run.path}")

    last = args.steps - 1
    trainer = run.trainer_at(last)  # one replay for both: trace_text leaves the trainer as it was
    per_token = attention_figure(trace_text(trainer, last, args.name), per_token=True, head="mean")
    trace = trace_step(trainer, last)  # the last step, on its own training document
    write_atomic(out / "grid.png", png_bytes(attention_figure(trace)))
    write_atomic(out / "grad.png", png_bytes(attention_figure(trace, grad=True)))
    write_atomic(out / "per_token.png", png_bytes(per_token))
    note(f"step {last} ({trace.meta['doc']!r}): grid.png, grad.png; per_token.png of {args.name!r}")

    # One trainer, trained forward from frame to frame: the run is replayed once, not once per frame.
    series = attention_series(run, args.name, range(0, args.steps, args.steps // 20))
    frames, labels = series_frames(series)
    write_atomic(out / f"{args.name}.gif", animate(frames, labels))
    write_atomic(out / f"{args.name}-sheet.png", png_bytes(contact_sheet_of(series)))
    note(f"{len(frames)} frames of {args.name!r}: {args.name}.gif, {args.name}-sheet.png in {out}")


if __name__ == "__main__":
    main()
