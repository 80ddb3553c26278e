"""The store is an optional extra: without pyarrow, microtrace imports and JSON traces work (`make demo`
installs the runtime dependencies only). With it, pyarrow is imported only when a store is read or
written: the command line, a JSON trace and a traced script's child process never pay for it."""

import subprocess
import sys

from conftest import MINI, ROOT, as_options, small_trace
from microtrace.tracer import save_trace

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


def test_pyarrow_is_imported_only_when_a_store_is_read_or_written(tmp_path):
    save_trace(small_trace(), tmp_path / "s.json")
    code = f"""if True:
        import sys
        from microtrace.cli import cli
        from microtrace.tracer import load_trace
        from microtrace.tracer.storage.io import save_store
        from microtrace.tracer.capture.child import child_main  # what a script's child imports
        trace = load_trace({str(tmp_path / "s.json")!r})
        trace.collapse("block")
        print("pyarrow" in sys.modules, "numpy" in sys.modules)
        save_store(trace, {str(tmp_path / "s.parquet")!r})
        print("pyarrow" in sys.modules)
        """
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]
