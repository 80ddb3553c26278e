"""The store is an optional extra: without pyarrow, microtrace imports and JSON traces work (`make demo`
installs the runtime dependencies only)."""

import subprocess
import sys

from conftest import MINI, ROOT, as_options

# pyarrow hidden as an uninstalled package is: its import raises ImportError.
WITHOUT_PYARROW = "import sys; sys.modules['pyarrow'] = None; "


def test_the_command_line_works_without_pyarrow(tmp_path):
    commands = [
        ["train", "--steps", "2", "--out", str(tmp_path / "run"), *as_options(MINI)],
        ["trace", "--run", str(tmp_path / "run"), "--step", "1", "-o", str(tmp_path / "s.json")],
    ]
    code = (
        WITHOUT_PYARROW
        + "from microtrace.cli import cli; "
        + "; ".join(f"cli({args!r}, standalone_mode=False)" for args in commands)
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "s.json").stat().st_size > 0
