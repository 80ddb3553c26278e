"""Big steps: every command on the trace store at four model sizes, wall time and peak memory.

Each size trains a 2-step run on long documents (every position of the context is used), traces step 1
into a store, then runs each command as `microtrace` would, in a fresh process, and reports its wall
time, CPU time and peak memory (VmHWM), and the load average when the size began. Each process may use
at most --max-gb of address space (default 10): on a shared machine a runaway size fails, not the others. Targets for the ~1M-node step (issue 13): trace < 20 s and < 2 GB, store
< 100 bytes a node, partial commands < 5 s and < 1 GB, block view < 10 s, report < 30 s.

Run: python bench/bench_scale.py [--sizes 1x16x16,2x16x16,2x24x16,2x32x16] [--keep DIR]
     python bench/bench_scale.py --sizes 4x64x32 --only trace,inspect,focus   (13.8M nodes: minutes)
     python bench/bench_scale.py --sizes 4x64x64x8 --only trace               (28.7M nodes)
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
SIZES = "1x16x16,2x16x16,2x24x16,2x32x16"
WORDS = ["internationalization", "characteristically", "electroencephalogram", "incomprehensibilities"]

COMMANDS = {  # name -> arguments after `microtrace`; {t} is the store, {o} an output folder
    "trace": ["trace", "--run", "{run}", "--step", "1", "-o", "{t}"],
    "inspect": ["inspect", "--trace", "{t}"],
    "focus": [
        "graph",
        "--trace",
        "{t}",
        "--level",
        "scalar",
        "--focus",
        "pos2/layer0/attn/head1",
        "-o",
        "{o}/head.svg",
    ],
    "around": [
        "graph",
        "--trace",
        "{t}",
        "--level",
        "scalar",
        "--around",
        "wpe[1,1]",
        "--hops",
        "1",
        "-o",
        "{o}/around.svg",
    ],
    "attention": ["attention", "--trace", "{t}", "-o", "{o}/attention.png"],
    "gradflow": ["gradflow", "--trace", "{t}", "-o", "{o}/gradflow.png"],
    "doctor": ["doctor", "--trace", "{t}"],
    "block": ["graph", "--trace", "{t}", "-o", "{o}/block.svg"],
    "report": ["report", "--trace", "{t}", "-o", "{o}/report.html"],
}

_PEAK = (
    "import os, re, runpy, sys, time\n"
    "sys.argv = ['microtrace'] + sys.argv[1:]\n"
    "t0 = time.perf_counter()\n"
    "try:\n"
    "    from microtrace.cli import main\n"
    "    main()\n"
    "except SystemExit as e:\n"
    "    code = e.code or 0\n"
    "else:\n"
    "    code = 0\n"
    "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
    "cpu = sum(os.times()[:2])\n"
    "print(f'BENCH {time.perf_counter() - t0:.3f} {peak} {code} {cpu:.3f}', file=sys.stderr)\n"
)


def _limit_address_space(limit):
    """At most `limit` bytes of address space for this process (or the lower limit it already has)."""
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def run_command(args, max_gb=10):
    """(seconds, peak MB, CPU seconds) of `microtrace ARGS` in a fresh process; raises if it fails. On
    a shared machine the CPU time (user + system, all threads) says what wall time an idle one gives.
    The process may use `max_gb` of address space at most."""
    limit = int(max_gb * (1 << 30))
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        preexec_fn=lambda: _limit_address_space(limit),
    )
    m = re.search(r"BENCH (\S+) (\d+) (\d+) (\S+)", out.stderr)
    if not m or m.group(3) not in ("0", "1"):  # doctor exits 1 when it finds something
        raise RuntimeError(f"microtrace {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return float(m.group(1)), int(m.group(2)) / 1024, float(m.group(4))


def make_run(folder, layers, width, context, heads=4, max_gb=10):
    docs = folder / "long.txt"  # every document at least as long as the context: all of it is used
    docs.write_text("\n".join((a + b) * (1 + context // len(a + b)) for a in WORDS for b in WORDS) + "\n")
    run = folder / "run"
    run_command(["train", "--data", str(docs), "--steps", "2", "--n-layer", str(layers), "--n-embd", str(width),
                 "--n-head", str(heads), "--block-size", str(context), "--out", str(run), "--force", "--samples", "0",
                 "--checkpoint-every", "1"], max_gb)  # fmt: skip
    return run


def bench_size(size, folder, only, max_gb=10):
    run = make_run(folder, *map(int, size.split("x")), max_gb=max_gb)
    store = folder / "step.parquet"
    rows = {}
    for name, args in COMMANDS.items():
        if only and name not in only and name != "trace":
            continue
        args = [a.format(run=run, t=store, o=folder) for a in args]
        rows[name] = run_command(args, max_gb)
    from microtrace.tracer.storage.store import Store

    info = Store(store).views["elementary"]
    return info["nodes"], store.stat().st_size, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=SIZES, help="layers x width x context [x heads, default 4], comma-separated")
    parser.add_argument("--only", help="commands to time besides trace, comma-separated")
    parser.add_argument("--keep", help="keep runs, stores and figures in this folder")
    parser.add_argument("--max-gb", type=float, default=10, help="address space each command may use (GB)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    print(
        f"{'size':>8} {'nodes':>11} {'bytes/node':>10}  command: seconds (CPU seconds), peak MB, microseconds per node"
    )
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(args.keep or tmp) / size
            folder.mkdir(parents=True, exist_ok=True)
            t0, load = time.perf_counter(), os.getloadavg()[0]
            nodes, size_bytes, rows = bench_size(size, folder, only, args.max_gb)
            cells = "  ".join(
                f"{k} {s:.1f}s (cpu {cpu:.1f}s) {mb:.0f}MB {1e6 * s / nodes:.1f}us" for k, (s, mb, cpu) in rows.items()
            )
            print(
                f"{size:>8} {nodes:>11,} {size_bytes / nodes:>10.1f}  {cells}  ({time.perf_counter() - t0:.0f} s in all; load average {load:.1f} at the start)",
                flush=True,
            )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
