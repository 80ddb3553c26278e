"""The times the README quotes, measured: each is the wall time of the README's own command, run with
the installed `microtrace` in a temporary directory (so nothing of yours is touched).

    python -m bench.bench_readme       # alone; `make bench` includes it

The published run needs microGPT's names.txt: it is read from ../shared/data when that is there (as
MICROTRACE_MAKEMORE_URL=file://...), and skipped otherwise rather than downloaded.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKEMORE = ROOT.parent / "shared" / "data" / "makemore-names.txt"
MICROTRACE = Path(sys.executable).parent / "microtrace"

# The README's quoted commands: (what the README calls it, the command).
COMMANDS = [
    ("train --steps 300 (First figure)", ["train", "--steps", "300", "--out", "runs/mine"]),
    ("report of step 120 of that run", ["report", "--run", "runs/mine", "--step", "120", "-o", "step120.html"]),
    (
        "published run: makemore, 1000 steps",
        ["train", "--data", "makemore", "--seed", "42", "--steps", "1000", "--out", "runs/published"],
    ),
]


def bench_readme():
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MICROTRACE_CACHE=str(Path(tmp) / "cache"))
        if MAKEMORE.exists():
            env["MICROTRACE_MAKEMORE_URL"] = MAKEMORE.resolve().as_uri()
        for name, args in COMMANDS:
            if "makemore" in args and not MAKEMORE.exists():
                continue
            t0 = time.perf_counter()
            subprocess.run(
                [str(MICROTRACE), *args],
                cwd=tmp,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            results[f"{name} s"] = time.perf_counter() - t0
    return results


if __name__ == "__main__":
    from bench.timing import print_results

    print_results(bench_readme())
