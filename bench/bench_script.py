"""What tracing a user's own script costs (`microtrace trace --script`; bench/run.py calls `bench_script`).

Targets (issue 14), on the example fork (examples/my_model) and on a canonical microGPT-style script
(tests/scripts/microgpt_style): reaching step K under the observer takes at most 1.2x the script's own
time for those steps (its set-up included), and recording step K (its nodes with their provenance,
copied with their gradients) at most 3x one plain step of it.

Every run is a fresh interpreter, best of REPEATS: a plain run of K steps; a traced run of step K whose
observer notes when it reached step K and when step K was recorded; and a traced run of step K + 1, in
which step K runs unrecorded (only its one backward() call is counted): that is step K's plain time.
The same target holds as `trace --script` runs the script, in a process of its own (tracer/capture/
child.py): from starting the child to step K reached, against `python SCRIPT` from its start to the end
of step K, both with the interpreter's start-up (the child also imports microtrace).

Run alone: python bench/bench_script.py
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import print_results  # noqa: E402

STEP, REPEATS = 3, 5
SCRIPTS = {
    "example (examples/my_model)": (ROOT / "examples" / "my_model" / "train.py", lambda n: ["--steps", str(n)]),
    "microGPT-style": (ROOT / "tests" / "scripts" / "microgpt_style" / "train.py", lambda n: [str(n)]),
}

PLAIN = """
import os, runpy, sys, time
path = sys.argv[1]
os.chdir(os.path.dirname(path)); sys.path.insert(0, os.path.dirname(path)); sys.argv = [path] + sys.argv[2:]
sys.stdout = open(os.devnull, "w")
t0 = time.perf_counter()
runpy.run_path(path, run_name="__main__")
print(time.perf_counter() - t0, file=sys.stderr)
"""

TRACED = """
import io, json, sys
sys.path.insert(0, {root!r})
from pathlib import Path
from microtrace.tracer.capture.script import _Run, compile_script
path, step = Path(sys.argv[1]), int(sys.argv[2])
run = _Run(path, step, compile_script(path))
run.execute(sys.argv[3:], None, None)
c = run.observer.clock
b = c["backward"]
print(json.dumps({{"reach": c["reached"] - c["start"], "record": c["recorded"] - c["reached"],
                  "last_plain": b[-2] - b[-3]}}), file=sys.stderr)
"""


PLAIN_PROCESS = PLAIN.replace("print(time.perf_counter() - t0", "print(time.perf_counter()")


def reached(request, write, dump):
    """In the child `trace --script` starts (child.in_child calls it by name): run the script as the
    child does; when step K was reached (time.perf_counter is the machine's clock, the same in every
    process)."""
    from microtrace.tracer.capture.script import child_run

    return child_run(request).observer.clock["reached"]


def reach_in_child(path, argv):
    """Seconds from starting `trace --script`'s child to step K reached in it, and from starting a plain
    `python` on the script to the end of its K steps."""
    from microtrace.tracer.capture.child import in_child, script_request

    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    start = time.perf_counter()  # the child finds `reached` here, on the path set above
    with in_child("bench.bench_script:reached", script_request(path, STEP, argv(STEP + 2))) as (reached_at, _):
        child = reached_at - start
    start = time.perf_counter()
    return child, float(_run(PLAIN_PROCESS, path, *argv(STEP))) - start


def _run(code, *args):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True)
    return out.stderr.strip().splitlines()[-1]


def bench_one(path, argv):
    plain_k = min(float(_run(PLAIN, path, *argv(STEP))) for _ in range(REPEATS))
    traced = [json.loads(_run(TRACED.format(root=str(ROOT)), path, STEP, *argv(STEP + 2))) for _ in range(REPEATS)]
    after = [json.loads(_run(TRACED.format(root=str(ROOT)), path, STEP + 1, *argv(STEP + 2))) for _ in range(REPEATS)]
    own = [reach_in_child(path, argv) for _ in range(REPEATS)]
    reach = min(t["reach"] for t in traced)
    record = min(t["record"] for t in traced)
    step = min(t["last_plain"] for t in after)
    return {
        f"plain: set-up + {STEP} steps s": plain_k,
        f"plain: step {STEP} s": step,
        f"traced: reach step {STEP} s": reach,
        "reach / plain (<= 1.2)": reach / plain_k,
        f"trace --script: its own process to step {STEP} s": min(c for c, _ in own),
        f"plain process: start to step {STEP} s": min(p for _, p in own),
        "own process reach / plain process (<= 1.2)": min(c for c, _ in own) / min(p for _, p in own),
        f"traced: record step {STEP} s": record,
        "record / plain step (<= 3)": record / step,
    }


def bench_script():
    results = {}
    for name, (path, argv) in SCRIPTS.items():
        for key, value in bench_one(path, argv).items():
            results[f"{name}: {key}"] = value
    return results


if __name__ == "__main__":
    print_results(bench_script())
