"""Runs and checkpoints: checksums name any change, config values from disk pass the options' checks,
one writer at a time, `train --force` never reaches outside the run directory, models past the memory
limit refused before allocating."""

import json
import subprocess
import sys

import pytest
from safety import SMALL_RUN, make_run

from conftest import assert_refused, invoke
from microtrace.engine.data import Dataset
from microtrace.engine.run import LOCK_NAME, create_run
from microtrace.engine.train import TrainConfig
from microtrace.util.limits import DEFAULT_MAX_MEMORY_GB, LimitError


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path)[0]


@pytest.mark.parametrize("field", ["params", "adam_m", "adam_v", "losses", "rng_state"])
def test_one_changed_digit_in_a_checkpoint_is_named(run, field):
    path = run / "checkpoints" / "step-000003.json"
    text = path.read_text()
    start = text.index(f'"{field}":')
    i = next(i for i in range(start, len(text)) if text[i] in "123456789")
    path.write_text(text[:i] + str(int(text[i]) % 9 + 1) + text[i + 1 :])
    assert_refused(invoke("sample", "--run", run), str(path), f"its {field} changed")


def _set_config(run, section, key, value):
    path = run / "config.json"
    config = json.loads(path.read_text())
    (config[section] if section else config)[key] = value
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    "section, key, value, words",
    [
        ("training", "lr", float("nan"), "lr must be a finite number"),
        ("training", "lr", "0.01", "lr must be a finite number"),
        ("training", "eps", 0, "eps must be above 0"),
        ("training", "beta1", 1.5, "beta1 must be at least 0 and below 1"),
        ("training", "steps", 2.5, "steps must be a whole number"),
        ("training", "seed", None, "seed must be a whole number"),
        ("model", "n_embd", True, "n_embd must be a whole number"),
        ("model", "init_std", float("inf"), "init_std"),
        ("model", "n_embd", 100_000, "above the limit"),
        (None, "checkpoint_every", 0, "checkpoint_every"),
    ],
)
def test_config_values_from_disk_get_the_options_checks(run, section, key, value, words):
    _set_config(run, section, key, value)
    for args in (
        ["sample", "--run", run],
        ["train", "--resume", run],
        ["trace", "--run", run, "--step", "1", "-o", run.parent / "t.json"],
    ):
        assert_refused(invoke(*args), "config.json", words)


def test_the_cli_refuses_what_the_config_check_refuses(tmp_path):
    data = tmp_path / "d.txt"
    data.write_text("ab\ncd\n")
    assert_refused(invoke("train", "--data", data, "--lr", "nan", "--out", tmp_path / "r"), "--lr")


def test_a_model_past_the_memory_limit_is_refused_before_allocating(tmp_path):
    data = tmp_path / "d.txt"
    data.write_text("ab\ncd\n")
    args = ["train", "--data", data, "--out", tmp_path / "r", "--n-embd", "4096", "--n-head", "4", "--steps", "1"]
    message = assert_refused(
        invoke(*args), f"limit of {DEFAULT_MAX_MEMORY_GB:g} GB", "--max-memory", "MICROTRACE_MAX_MEMORY_GB"
    )
    assert "n_embd 4096" in message
    assert not (tmp_path / "r" / "config.json").exists()
    assert_refused(invoke(*args, "--max-memory", "0.5"), "limit of 0.5 GB")
    small = ["train", "--data", data, "--out", tmp_path / "s", *SMALL_RUN]
    assert_refused(invoke(*small, env={"MICROTRACE_MAX_MEMORY_GB": "0.000001"}), "limit of 1e-06 GB")
    assert invoke(*small, "--max-memory", "1").exit_code == 0


def test_the_library_names_its_own_argument_and_the_command_its_option(tmp_path):
    """One rule for limits: the library's LimitError carries the limit and names the argument that raises
    it, never a command-line option; the command words the same error with its option."""
    dataset = Dataset(["ab", "cd"], "d.txt", "0" * 64)
    with pytest.raises(LimitError) as e:
        create_run(tmp_path / "r", dataset, TrainConfig(steps=1), {"n_embd": 4096, "n_head": 4}, max_memory_gb=0.5)
    assert (e.value.value, e.value.setting, e.value.env) == (0.5, "max_memory_gb", "MICROTRACE_MAX_MEMORY_GB")
    assert "limit of 0.5 GB; raise it with max_memory_gb or $MICROTRACE_MAX_MEMORY_GB" in str(e.value)
    assert "--" not in str(e.value) and not (tmp_path / "r" / "config.json").exists()
    assert e.value.worded("--max-memory GB").endswith("raise it with --max-memory GB or $MICROTRACE_MAX_MEMORY_GB")


def _hold_lock(run):
    """Another process holding the run's lock, as a training process does."""
    code = (
        "import sys, time\n"
        "from microtrace.engine.run import run_lock\n"
        "with run_lock(sys.argv[1]):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_with_the_holders_pid(run):
    proc = _hold_lock(run)
    try:
        files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != LOCK_NAME}
        result = invoke("train", "--data", run.parent / "docs.txt", "--out", run, *SMALL_RUN, "--force")
        assert_refused(result, f"pid {proc.pid}")
        assert_refused(invoke("train", "--resume", run), f"pid {proc.pid}")
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != LOCK_NAME} == files
    finally:
        proc.kill()
        proc.wait()
    # Killed without cleaning up: its lock file stays, and is taken over.
    assert (run / LOCK_NAME).read_text().strip() == str(proc.pid)
    result = invoke("train", "--data", run.parent / "docs.txt", "--out", run, *SMALL_RUN, "--force")
    assert result.exit_code == 0, result.output
    assert not (run / LOCK_NAME).exists()  # removed on exit


def test_force_never_follows_a_symlink_out_of_the_run(tmp_path):
    run, data = make_run(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "step-000000.json").write_text("someone else's")
    (outside / "keep.json").write_text("theirs")
    # a checkpoint that is a link to a file outside: the link goes, the file stays
    (run / "checkpoints" / "step-000001.json").symlink_to(outside / "keep.json")
    result = invoke("train", "--data", data, "--out", run, *SMALL_RUN, "--force")
    assert result.exit_code == 0, result.output
    assert (outside / "keep.json").read_text() == "theirs"
    # checkpoints/ itself a link out of the run: refused before anything is deleted
    real = run / "checkpoints"
    moved = tmp_path / "moved"
    real.rename(moved)
    real.symlink_to(outside)
    assert_refused(invoke("train", "--data", data, "--out", run, *SMALL_RUN, "--force"), "symbolic link")
    assert sorted(p.name for p in outside.iterdir()) == ["keep.json", "step-000000.json"]
    assert (outside / "step-000000.json").read_text() == "someone else's"
    assert (run / "config.json").exists()


def test_a_checkpoint_that_is_a_symlink_is_not_written_through(tmp_path):
    run, data = make_run(tmp_path)
    target = tmp_path / "precious.json"
    target.write_text("precious")
    last = run / "checkpoints" / "step-000003.json"
    last.unlink()
    last.symlink_to(target)
    result = invoke("train", "--resume", run)
    assert result.exit_code in (0, 2)
    assert target.read_text() == "precious"
