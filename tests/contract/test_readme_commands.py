"""Every shell command of the README and of docs/ runs as written, in order, after `make demo`: the ```sh
blocks of README.md, then of each docs/*.md in alphabetical order (they may use what the README's commands
made: runs/mine, step120.json), are extracted and run by bash in a temporary copy of the project whose
.venv is this one.

`make test` is left out (it would run this test inside itself), and `make demo` runs with its install
step switched off (MAKEFLAGS), since the copy's .venv is this test's own venv. The published run needs microGPT's
names.txt: it is taken from ../shared/data through MICROTRACE_MAKEMORE_URL (as the README documents),
and that block's command is dropped when the file is not there. Slow (minutes): `make test-all` and
.ci/run run it, `make test` does not.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MAKEMORE, ROOT

README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LEFT_OUT = {"make test", "make test-all"}  # recursion


def shell_blocks(text):
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)


def readme_script(texts, with_makemore):
    lines = []
    for block in (block for text in texts for block in shell_blocks(text)):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if not command or command in LEFT_OUT or ("--data makemore" in command and not with_makemore):
                continue
            lines.append(line)
    return "\n".join(["set -eo pipefail", "set -x", *lines, ""])


def test_the_pages_have_shell_blocks_and_no_synopsis_in_them():
    assert len(shell_blocks(README.read_text())) >= 8
    for block in (block for page in PAGES for block in shell_blocks(page.read_text())):
        assert "[--" not in block and "RUN_DIR" not in block, block  # a synopsis is ```text, not ```sh


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None or shutil.which("make") is None, reason="needs Graphviz's dot and make")
def test_every_command_of_the_readme_and_docs_runs_as_written(tmp_path):
    copy = tmp_path / "microtrace"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "demo", "runs", "out", "__pycache__", ".pytest_cache", "*.egg-info"
        ),
    )
    (copy / ".venv").symlink_to(Path(sys.prefix))  # this venv: make sees it installed, as after `make demo`
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "MICROTRACE_MAKEMORE_URL")}
    # `make demo` must not reinstall microtrace into this venv from the copy (an editable install would
    # then point at the temporary directory): its install step is switched off, the rest runs as written.
    env["MAKEFLAGS"] = "INSTALLED="
    env["MICROTRACE_CACHE"] = str(tmp_path / "cache")
    with_makemore = MAKEMORE.exists()
    if with_makemore:
        env["MICROTRACE_MAKEMORE_URL"] = MAKEMORE.resolve().as_uri()
    script = readme_script([page.read_text() for page in PAGES], with_makemore)
    result = subprocess.run(["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-4000:]
    for name in (
        "demo/report.html",
        "runs/mine/config.json",
        "step120.html",
        "step120.graphml",
        "stages.json",
        "emma.gif",
        "emma-sheet.png",
        "flow.csv",
        "head.svg",
        "backward.svg",
    ):
        assert (copy / name).is_file(), name
