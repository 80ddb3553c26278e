"""The README's gallery, made from scratch with the command line (about a minute).

    python examples/gallery.py                 # -> docs/gallery/
    python examples/gallery.py --out /tmp/g    # anywhere else

Trains the default model (n_embd 16, 4 heads, 1 layer) on the default names for 600 steps, traces
step 400 and draws every kind of figure microtrace makes. Each call below is a command you can type.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from microtrace.cli import cli

ROOT = Path(__file__).resolve().parents[1]
STEP = 400


def microtrace(*args):
    print("$ microtrace", " ".join(str(a) for a in args), file=sys.stderr)
    cli.main(args=[str(a) for a in args], prog_name="microtrace", standalone_mode=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery", help="folder for the figures")
    args = parser.parse_args(argv)
    out = args.out
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run, step_file = Path(tmp) / "run", Path(tmp) / "step.json"
        microtrace("train", "--steps", 600, "--out", run, "--samples", 0)
        microtrace("trace", "--run", run, "--step", STEP, "-o", step_file)
        microtrace("graph", "--trace", step_file, "-o", out / "block.svg")
        microtrace(
            "graph",
            "--trace",
            step_file,
            "--level",
            "scalar",
            "--focus",
            "pos2/layer0/attn/head1",
            "-o",
            out / "head.svg",
        )
        microtrace("attention", "--trace", step_file, "-o", out / "attention.png")
        microtrace("attention", "--trace", step_file, "--grad", "-o", out / "attention-grad.png")
        microtrace("attention", "--run", run, "--text", "emma", "--steps", "0:600:40", "-o", out / "emma.gif")
        microtrace("gradflow", "--trace", step_file, "-o", out / "gradflow.png")
        microtrace("gradflow", "--trace", step_file, "--per-position", "-o", out / "gradflow-positions.png")
        microtrace("gradflow", "--run", run, "--steps", "0:600:5", "-o", out / "gradflow-steps.png")
    (out / "gradflow-steps.csv").unlink(missing_ok=True)  # the numbers behind the figure: not gallery material
    print(f"gallery written to {out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
