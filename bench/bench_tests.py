"""What `make test`'s tests cost in CPU, Chromium's processes included: per test file, and in all.

    python bench/bench_tests.py            # the fast tier, as `make test` runs it (two workers)
    python bench/bench_tests.py -m slow    # any other pytest arguments replace the mark expression

`make test`'s budget is a minute of wall time on an idle 2-core machine, and its run is bound by CPU:
both cores busy from start to end. `time` does not see it: the pages' Chromium runs under Playwright's
driver, not under pytest, and its CPU is lost to the count when its processes end. So each pytest
process here (the workers and the one that leads them) watches its own process tree from a thread, every
0.2 s, and counts each process's CPU time as last seen (/proc/PID/stat); a test costs what the tree
spent between its start and its end. Linux only. The tree's total is the number to hold under the
budget: about 110 CPU-seconds on two cores, for a little under 60 s.
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(parent pid, start time, CPU seconds) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            after = f.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold anything
    except OSError:
        return None
    return int(after[1]), int(after[19]), (int(after[11]) + int(after[12])) / TICK


class Tree:
    """The CPU seconds the tree of processes under this one has spent, each process as last seen."""

    def __init__(self):
        self.seen, self.lock = {}, threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while True:
            self.total()
            time.sleep(0.2)

    def total(self):
        stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(p))}
        children = collections.defaultdict(list)
        for pid, (ppid, _, _) in stats.items():
            children[ppid].append(pid)
        todo = [os.getpid()]
        with self.lock:
            while todo:
                pid = todo.pop()
                if pid in stats:
                    self.seen[pid, stats[pid][1]] = stats[pid][2]
                todo += children[pid]
            return sum(self.seen.values())


_tree = None
_out = None


def pytest_configure(config):
    global _tree, _out
    _tree = Tree()
    name = os.environ.get("PYTEST_XDIST_WORKER", "lead")
    _out = open(Path(os.environ["BENCH_TESTS_DIR"]) / f"{name}.jsonl", "w")


def pytest_runtest_logstart(nodeid, location):
    _out.write(json.dumps(["start", nodeid, time.time(), _tree.total()]) + "\n")
    _out.flush()


def pytest_runtest_logfinish(nodeid, location):
    _out.write(json.dumps(["end", nodeid, time.time(), _tree.total()]) + "\n")
    _out.flush()


def report(folder):
    """Per file: CPU and wall seconds of its tests; and the whole tree's CPU and wall."""
    per = collections.defaultdict(lambda: [0.0, 0.0])
    for path in Path(folder).glob("gw*.jsonl"):
        started = {}
        for kind, nodeid, t, cpu in map(json.loads, path.read_text().splitlines()):
            if kind == "start":
                started[nodeid] = (t, cpu)
            else:
                per[nodeid.split("::")[0]][0] += cpu - started[nodeid][1]
                per[nodeid.split("::")[0]][1] += t - started[nodeid][0]
    lead = [json.loads(line) for line in (Path(folder) / "lead.jsonl").read_text().splitlines()]
    for name, (cpu, wall) in sorted(per.items(), key=lambda kv: -kv[1][0])[:25]:
        print(f"{cpu:7.1f} CPU-s {wall:7.1f} s  {name}")
    print(f"tests: {sum(c for c, _ in per.values()):.1f} CPU-s in {len(per)} files")
    print(
        f"the run: {lead[-1][3] - lead[0][3]:.1f} CPU-s, {lead[-1][2] - lead[0][2]:.1f} s from its first test to its last"
    )


def main(args):
    with tempfile.TemporaryDirectory() as folder:
        paths = [str(ROOT / "bench"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "BENCH_TESTS_DIR": folder, "PYTHONPATH": os.pathsep.join(paths)}
        command = [sys.executable, "-m", "pytest", "-p", "bench_tests", "-n", "2", "--dist", "loadfile"]
        subprocess.run(command + (args or ["-m", "not slow"]), cwd=ROOT, env=env, check=False)
        report(folder)


if __name__ == "__main__":
    main(sys.argv[1:])
