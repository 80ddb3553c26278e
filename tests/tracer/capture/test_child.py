"""The user's script runs in its own process (tracer/capture/child.py): whatever it does to its process,
the trace is complete or nothing is written, with one line and exit 2; `gradcheck --script` runs it so
too, each of its runs a child of its own."""

import os
import tempfile
import textwrap

import pytest

from conftest import ROOT, assert_refused, invoke
from microtrace.tracer import load_trace

ENGINE = (ROOT / "tests" / "scripts" / "forks" / "engine.py").read_text()
# two steps of a tiny model on the engine: a parameter, its loss, backward(), an update
TRAIN = "w = Value(0.5)\nfor step in range(2):\n    loss = (w * 3.0 - 1.0) ** 2\n    loss.backward()\n    w.data -= 0.1 * w.grad\n    w.grad = 0\n"


@pytest.fixture(autouse=True)
def own_tmp(tmp_path, monkeypatch):
    """A temporary folder of the test's own, to see that the child's private folder is gone afterwards."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def run(tmp_path, body, *options, command="trace"):
    """`command` (trace, or gradcheck, which writes no file) on a script of `body`: (result, the output
    file trace would write)."""
    script = tmp_path / "train.py"
    script.write_text(body)
    out = tmp_path / "out" / "s.json"
    output = ("-o", out) if command == "trace" else ()
    return invoke(command, "--script", script, *output, *options), out


@pytest.mark.parametrize(
    "body, options, words",
    [
        ("import os\nos._exit(3)\n", (), ["ended with status 3 without sending step 0"]),
        (ENGINE + "import os\nos._exit(0)\n", (), ["ended with status 0 without sending step 0"]),
        ("class Mine(BaseException):\n    pass\n\nraise Mine('stop')\n", (), ["raised Mine: stop at train.py:4"]),
        (ENGINE + "Value(1.0).backward()\n", (), ["backward() call 0 is on a leaf"]),
        ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
         "while True:\n    time.sleep(1)\n", ("--timeout", 1), ["did not reach step 0 within the timeout of 1 s"]),
        ("x = input()\n", (), ["reads standard input"]),
        ("import os\nif not os.read(0, 10):\n    raise SystemExit('nothing on fd 0')\n", (), ["exited with status nothing on fd 0"]),
        ("import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n", (),
         ["makes no scalar autograd class"]),
    ],
)  # fmt: skip
def test_a_script_that_misbehaves_gives_one_line_and_leaves_nothing(tmp_path, own_tmp, body, options, words):
    result, out = run(tmp_path, body, *options)
    assert_refused(result, *words)
    assert not out.exists() and not out.parent.exists()
    assert list(own_tmp.iterdir()) == []  # the child's private folder is gone


def test_a_script_that_patches_builtins_and_os_replace_or_leaves_threads_running_is_traced_whole(tmp_path, own_tmp):
    body = ENGINE + (
        "import builtins, json, os, threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()  # never joined\n"
        "builtins.open = None\nos.replace = None\njson.dumps = None\n" + TRAIN
    )
    result, out = run(tmp_path, body, "--step", 1)
    assert result.exit_code == 0, result.output
    t = load_trace(out)
    assert t.meta["update"] is True and t.meta["loss"] == pytest.approx((0.2 * 3 - 1) ** 2)
    assert list(own_tmp.iterdir()) == []


# a parameter list gradcheck can find again in every run, two steps
NAMED = "params = [Value(0.5)]\nfor step in range(2):\n    loss = (params[0] * 3.0 - 1.0) ** 2\n    loss.backward()\n    params[0].data -= 0.1 * params[0].grad\n    params[0].grad = 0\n"


@pytest.mark.parametrize(
    "later, options, words",
    [
        ("import os\nos._exit(5)\n", (), ["ended with status 5 without sending step 1"]),
        ("class Mine(BaseException):\n    pass\n\nraise Mine('again')\n", (), ["raised Mine: again at train.py"]),
        pytest.param("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)\n",
                     ("--timeout", 4), ["did not reach step 1 within the timeout of 4 s"],
                     marks=pytest.mark.slow),  # 4 s asleep; every run's timeout is in_child's, fast above (trace)
    ],
)  # fmt: skip
def test_gradcheck_gives_one_line_when_a_later_run_misbehaves_and_leaves_no_process(
    tmp_path, own_tmp, later, options, words
):
    """The first run traces the step in a child, as `trace` does (the misbehaviours above); the runs with an
    entry moved are children of their own too: one that exits, raises its own BaseException or hangs (its
    signals ignored) is one line, and is gone."""
    marker, pid = tmp_path / "ran", tmp_path / "pid"
    body = ENGINE + (
        f"import os, pathlib\npathlib.Path({str(pid)!r}).write_text(str(os.getpid()))\n"
        f"marker = pathlib.Path({str(marker)!r})\nif marker.exists():\n{textwrap.indent(later, '    ')}"
        f"marker.write_text('')\n{NAMED}"
    )
    result, _ = run(tmp_path, body, "--step", 1, "--samples", 1, *options, command="gradcheck")
    assert_refused(result, *words)
    assert marker.exists() and list(own_tmp.iterdir()) == []
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid.read_text()), 0)  # the last run's process (the one that hung, too) is no more


def test_gradcheck_of_a_script_that_leaves_threads_running_and_patches_builtins_checks_its_gradients(tmp_path, own_tmp):
    body = ENGINE + (
        "import builtins, json, threading, time\n"
        "threading.Thread(target=time.sleep, args=(600,)).start()  # never joined\n"
        "builtins.open = None\njson.dumps = None\n" + NAMED
    )
    result, _ = run(tmp_path, body, "--step", 1, "--samples", 1, command="gradcheck")
    assert result.exit_code == 0, result.output
    assert "params" in result.output and result.output.rstrip().endswith("OK")
    assert list(own_tmp.iterdir()) == []
