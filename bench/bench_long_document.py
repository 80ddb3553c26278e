"""Cost linear in the input (issue 22): every figure, the report and the explorer of a step whose document
is 50,000 characters long, against the same of a 50-character one. Titles quote a document shortened
(viz.draw.text.shorten), so the ratio should be about 1; before, attention and gradflow titles took
superlinear time (500 / 1,000 / 2,000 characters: 1.3 / 5.3 / 36 s) and `graph` and `explore` failed in dot.

    python -m bench.bench_long_document            # 50 and 50,000 characters
    python -m bench.bench_long_document 50 2000    # any lengths

Each command runs in a fresh process; the figure is its CPU time (user + system, so that other people's
jobs on a shared machine do not count), and the ratio of each length's to the first's.
"""

import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

MICROTRACE = Path(sys.executable).parent / "microtrace"
MODEL = ["--n-embd", "8", "--n-head", "2", "--block-size", "8", "--samples", "0", "--steps", "2"]
COMMANDS = {  # command: (extra arguments, output file)
    "attention": (["--trace", "step.json"], "attention.png"),
    "gradflow": (["--trace", "step.json"], "gradflow.png"),
    "graph": (["--trace", "step.json"], "graph.svg"),
    "report": (["--trace", "step.json"], "report.html"),
    "explore": (["--run", "run", "--step", "1"], "explore.html"),
}


def cpu_seconds(args, cwd):
    """CPU time of `microtrace ARGS` run to its end in a child process (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([str(MICROTRACE), *args], cwd=cwd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_long_document(lengths=(50, 50_000)):
    results = {}
    rng = random.Random(0)
    for n in lengths:
        with tempfile.TemporaryDirectory() as tmp:
            # one word, no space: the worst case for wrapping a title
            Path(tmp, "doc.txt").write_text("".join(rng.choice("abcdefghij") for _ in range(n)) + "\n")
            cpu_seconds(["train", "--data", "doc.txt", "--out", "run", *MODEL], tmp)
            cpu_seconds(["trace", "--run", "run", "--step", "1", "-o", "step.json"], tmp)
            for name, (args, out) in COMMANDS.items():
                results[f"{name} {n:,} chars cpu s"] = cpu_seconds([name, *args, "-o", out], tmp)
    first = lengths[0]
    for n in lengths[1:]:
        for name in COMMANDS:
            results[f"{name} {n:,} / {first:,} chars"] = (
                results[f"{name} {n:,} chars cpu s"] / results[f"{name} {first:,} chars cpu s"]
            )
    return results


if __name__ == "__main__":
    from bench.timing import print_results

    lengths = tuple(int(a) for a in sys.argv[1:]) or (50, 50_000)
    print(f"one step of a document of each length; CPU seconds per command; {os.cpu_count()} cores")
    print_results(bench_long_document(lengths))
