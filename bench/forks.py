"""The world's microGPT forks through `trace --script` and every reading command: one line per script.

    python bench/forks.py DIR [--timeout 300] [--only NAME] [--keep OUT]

DIR holds the scripts, unmodified (third-party code: keep it outside the repository). Its `corpus.tsv`
lists them, a tab-separated line each: name, repo, script (relative to DIR), step, args (split as a
shell would), env (NAME=VALUE ..., paths relative to DIR). Without it, every DIR/*/*.py that is the only
.py of its folder is a script, traced at step 1 with no arguments.

Each script is traced to a store, then read by graph, attention, gradflow, doctor, report, explore,
export and inspect (each its own `microtrace` process with a timeout). A line says whether it was
traced (or the one line it was refused with), how many readers took the trace (and the first that
did not, with its line), the conventions found, the trace's size and the times; the explorer page's
size, because it has a budget (10 MB, 30 s).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READERS = {
    "graph": ["graph", "--level", "block", "-o", "{out}/graph.svg"],
    "attention": ["attention", "-o", "{out}/attention.png"],
    "gradflow": ["gradflow", "-o", "{out}/gradflow.png"],
    "doctor": ["doctor"],
    "report": ["report", "-o", "{out}/report.html"],
    "explore": ["explore", "-o", "{out}/explore.html"],
    "export": ["export", "--level", "block", "-o", "{out}/export.json"],
    "inspect": ["inspect"],
}
CLI = "import sys; sys.argv[0] = 'microtrace'; from microtrace.cli import main; main()"
CONVENTIONS = ("pos", "layer", "head", "params", "chars", "attention")


def corpus(folder):
    """[(name, repo, script path, step, args, env)] of the scripts in `folder`."""
    manifest = folder / "corpus.tsv"
    if not manifest.exists():
        found = []
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            scripts = list(sub.glob("*.py"))
            if len(scripts) == 1:
                found.append((sub.name, "", scripts[0], 1, [], {}))
        return found
    found = []
    for line in manifest.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, repo, script, step, args, env = (line.split("\t") + [""] * 6)[:6]
        env = dict(kv.split("=", 1) for kv in shlex.split(env))
        env = {k: os.pathsep.join(str(folder / p) for p in v.split(os.pathsep)) for k, v in env.items()}
        found.append((name, repo, folder / script, int(step or 1), shlex.split(args), env))
    return found


def microtrace(args, env, timeout):
    """(exit code, seconds, the last line it wrote to stderr) of one `microtrace` command."""
    start = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", CLI, *args], env=_merged(env),
                             capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start, f"timed out after {timeout:g} s"
    lines = [x for x in out.stderr.splitlines() if x.strip() and "\r" not in x]
    return out.returncode, time.perf_counter() - start, (lines[-1] if lines else "")


def _merged(env):
    """This process's environment with `env`: a PYTHONPATH of the script's goes before this one's (the
    microtrace under test stays importable)."""
    merged = {**os.environ, **env}
    if "PYTHONPATH" in env and os.environ.get("PYTHONPATH"):
        merged["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], os.environ["PYTHONPATH"]])
    return merged


def conventions(store):
    """The trace's `conventions`, read from the store's metadata as it is (no reader's judgement)."""
    import pyarrow.parquet as pq

    meta = json.loads(pq.ParquetFile(store).metadata.metadata[b"microtrace"])
    found = meta.get("graph", meta).get("conventions") or {}
    nodes = meta.get("views", {}).get("elementary", {}).get("nodes")
    return found, nodes


def run_one(name, script, step, args, env, timeout, out, skip=()):
    row = {"name": name}
    store = out / "trace.parquet"
    cmd = ["trace", "--script", str(script), "--step", str(step), "-o", str(store), "--", *args]
    rc, row["trace_s"], line = microtrace(cmd, env, timeout)
    if rc != 0:
        row["traced"] = f"exit {rc}: {line}"
        return row
    row["traced"] = "yes"
    try:
        found, row["nodes"] = conventions(store)
        row["conventions"] = ",".join(f"{k}={found[k]}" for k in CONVENTIONS if found.get(k))
    except Exception as e:  # what the bench reports, not what it judges
        row["conventions"] = f"unreadable metadata ({e})"
    row["readers"], row["refused"], row["skipped"] = 0, [], list(skip)
    for reader, argv in READERS.items():
        if reader in skip:
            row[f"{reader}_s"] = None
            continue
        argv = [a.format(out=out) for a in argv]
        rc, seconds, line = microtrace([*argv, "--trace", str(store)], env, timeout)
        row[f"{reader}_s"] = seconds
        if rc == 0 or (reader == "doctor" and rc == 1):  # doctor exits 1 when it has findings
            row["readers"] += 1
        else:
            row["refused"].append(f"{reader}: {line}" if rc is not None else f"{reader}: {line}")
    page = out / "explore.html"
    row["page_mb"] = page.stat().st_size / 1e6 if page.exists() else None
    return row


def line_of(repo, row):
    if row["traced"] != "yes":
        return f"{row['name']:<22} {repo:<40} NOT TRACED ({row['trace_s']:.1f} s) {row['traced']}"
    page = f"{row['page_mb']:.1f} MB" if row.get("page_mb") is not None else "-"
    text = (
        f"{row['name']:<22} {repo:<40} traced {row['trace_s']:5.1f} s, {row.get('nodes') or '?'} nodes; "
        f"read {row['readers']}/{len(READERS) - len(row['skipped'])}; "
        + (f"explore {row['explore_s']:.1f} s {page}; " if row["explore_s"] is not None else "")
        + (row["conventions"] or "-")
    )
    return text + "".join(f"\n    refused by {r}" for r in row["refused"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--timeout", type=float, default=300, help="seconds one command may take")
    ap.add_argument("--only", action="append", help="only this script (by name); repeatable")
    ap.add_argument("--skip", action="append", default=[], choices=list(READERS), help="leave out this reader")
    ap.add_argument("--keep", type=Path, help="keep each script's outputs in KEEP/NAME")
    ap.add_argument("--json", type=Path, help="also write every row as JSON here")
    opts = ap.parse_args()
    rows = []
    for name, repo, script, step, args, env in corpus(opts.folder.resolve()):
        if opts.only and name not in opts.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = opts.keep / name if opts.keep else Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            row = run_one(name, script, step, args, env, opts.timeout, out, opts.skip)
        row["repo"] = repo
        rows.append(row)
        print(line_of(repo, row), flush=True)
    traced = sum(r["traced"] == "yes" for r in rows)
    whole = sum(r["traced"] == "yes" and r["readers"] == len(READERS) - len(r["skipped"]) for r in rows)
    print(f"{len(rows)} scripts: {traced} traced, {whole} read by every command")
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
