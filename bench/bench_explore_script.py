"""Budgets of `microtrace explore` on a script's trace (issue 21), each printed with its limit.

A script computes with scalars: its trace holds its own nodes, and the explorer draws the fused view
folded from them (tracer/model/fused.py). Budgets: the page of a default-size script trace (microGPT's
sizes: tests/scripts/microgpt_style, n_embd 16, one layer, block 16) at most 10 MB and written in under
30 s; the page of a ~230,000-node script trace (the same script, two layers and a document that fills the
block) written in under 60 s. Each `microtrace explore` runs as a command of its own; its
wall time is reported with the machine's load (`uptime`), and its CPU time (its own and its children's:
the layout workers and dot), which the load does not change.

Run alone: python bench/bench_explore_script.py [--big-only] [--keep DIR]
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "scripts" / "microgpt_style" / "train.py"
CLI = "import sys; sys.argv[0] = 'microtrace'; from microtrace.cli import main; main()"
STEP = 1
MB = 1e6


def microtrace(*args):
    """(wall seconds, CPU seconds of the command and everything it started) of one `microtrace` command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", CLI, *map(str, args)], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def big_script(folder):
    """The microGPT-style script at two layers, and a document that fills the block at steps 0 and 1."""
    text = SCRIPT.read_text()
    text = re.sub(r"^n_layer = 1$", "n_layer = 2", text, count=1, flags=re.M)
    text = text.replace("random.shuffle(docs)", "random.shuffle(docs)\ndocs = ['penelopealexandra'] * 2 + docs", 1)
    path = folder / "big" / "train.py"
    path.parent.mkdir()
    path.write_text(text)
    return path


def measure(label, name, script, out, limit_s, limit_mb=None):
    trace = out / f"{name}.parquet"
    microtrace("trace", "--script", script, "--step", STEP, "-o", trace, "--", STEP + 1)
    from microtrace.tracer import load_trace

    nodes = load_trace(trace).size("elementary")[0]
    page = out / f"{name}.html"
    wall, cpu = microtrace("explore", "--trace", trace, "-o", page)
    load = os.getloadavg()[0]
    size = page.stat().st_size / MB
    ok_time = "ok" if cpu < limit_s else "OVER"
    print(f"{label}: {nodes:,} elementary nodes")
    print(f"  written in {cpu:.1f} s CPU (limit {limit_s} s: {ok_time}); wall {wall:.1f} s at load {load:.1f}")
    if limit_mb is not None:
        print(f"  page {size:.1f} MB (limit {limit_mb} MB: {'ok' if size <= limit_mb else 'OVER'})")
    return cpu < limit_s and (limit_mb is None or size <= limit_mb)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big-only", action="store_true", help="only the ~230,000-node trace")
    ap.add_argument("--keep", type=Path, help="keep the traces and pages here")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = opts.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        ok = True
        if not opts.big_only:
            ok &= measure("default-size script trace", "default", SCRIPT, out, 30, 10)
        ok &= measure("big script trace", "big", big_script(Path(tmp)), out, 60)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
