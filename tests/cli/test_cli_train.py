"""`microtrace train` / `sample` through click's CliRunner: exact output format and one-line errors."""

import importlib.metadata
import math
import re

import pytest

import microtrace.cli.train
from conftest import MAKEMORE, PUBLISHED_LOG, TINY, WORDS, invoke, needs_shared
from microtrace.cli import cli
from microtrace.engine.data import load_dataset
from microtrace.engine.run import create_run, open_run, train
from microtrace.engine.train import TrainConfig


def train_args(data_file, out, steps=3, *more):
    return ["train", "--data", data_file, "--steps", steps, *TINY, "--out", out, *more]


def sample_lines(stdout):
    return [line for line in stdout.splitlines() if line.startswith("sample ")]


def test_train_prints_microgpt_log_format(tmp_path, data_file):
    out = tmp_path / "run"
    result = invoke(*train_args(data_file, out, 3, "--samples", "4"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    vocab = len(set("".join(WORDS))) + 1
    # n_embd 8, block 8, one layer: wte + lm_head (2 * vocab * 8), wpe (8 * 8), attention 4 * 8 * 8, MLP 2 * 32 * 8
    params = 2 * vocab * 8 + 64 + 4 * 64 + 2 * 256
    assert lines[:3] == [f"num docs: {len(WORDS)}", f"vocab size: {vocab}", f"num params: {params}"]
    losses = open_run(out).losses()
    assert len(losses) == 3
    assert lines[3:6] == [f"step {i:4d} /    3 | loss {loss:.4f}" for i, loss in enumerate(losses, 1)]
    assert re.fullmatch(r"step    1 /    3 \| loss \d\.\d{4}", lines[3])
    assert lines[6:8] == ["", "--- inference (new, hallucinated names) ---"]
    assert len(lines) == 12
    for i, line in enumerate(lines[8:], 1):
        assert re.fullmatch(rf"sample {i:2d}: [a-z]*", line), line
    assert f"run saved in {out}" in result.stderr
    assert "step" not in result.stderr


def test_sample_continues_the_saved_rng_and_prints_what_train_printed(tmp_path, data_file):
    out = tmp_path / "run"
    trained = invoke(*train_args(data_file, out, 4, "--samples", "6", "--temperature", "0.9"))
    assert trained.exit_code == 0, trained.output
    again = invoke(*["sample", "--run", out, "-n", "6", "--temperature", "0.9"])
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == sample_lines(trained.stdout)
    assert len(sample_lines(trained.stdout)) == 6


def test_sample_with_a_seed_is_repeatable(tmp_path, data_file):
    out = tmp_path / "run"
    assert invoke(*train_args(data_file, out, 2, "--samples", "0")).exit_code == 0
    first = invoke(*["sample", "--run", out, "--seed", "3", "-n", "5"])
    second = invoke(*["sample", "--run", out, "--seed", "3", "-n", "5"])
    assert first.exit_code == 0 and first.stdout == second.stdout
    assert len(first.stdout.splitlines()) == 5


def test_samples_zero_prints_no_inference_section(tmp_path, data_file):
    result = invoke(*train_args(data_file, tmp_path / "run", 2, "--samples", "0"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1].startswith("step    2 /    2 | loss ")


def test_resume_prints_the_rest_and_the_same_samples(tmp_path, data_file):
    full = invoke(*train_args(data_file, tmp_path / "full", 5, "--checkpoint-every", "2", "--samples", "5"))
    assert full.exit_code == 0, full.output

    run = create_run(
        tmp_path / "cut",
        load_dataset(data_file),
        TrainConfig(steps=5),
        dict(n_embd=8, n_head=2, n_layer=1, block_size=8),
        checkpoint_every=2,
    )

    def stop(k, loss):
        if k == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(run, stop)
    resumed = invoke(*["train", "--resume", tmp_path / "cut", "--samples", "5"])
    assert resumed.exit_code == 0, resumed.output
    full_lines, resumed_lines = full.stdout.splitlines(), resumed.stdout.splitlines()
    assert resumed_lines[:3] == full_lines[:3]
    assert resumed_lines[3:] == full_lines[3 + 2 :]  # steps 3..5 (after the step-2 checkpoint), then samples
    assert "resuming" in resumed.stderr


def test_resume_takes_its_options_from_the_run(tmp_path, data_file):
    out = tmp_path / "run"
    assert invoke(*train_args(data_file, out, 2, "--samples", "0")).exit_code == 0
    result = invoke(*["train", "--resume", out, "--steps", "10", "--lr", "0.1"])
    assert result.exit_code == 2
    assert result.stderr == "Error: --resume continues a run with the options it was made with; drop --steps, --lr\n"
    done = invoke(*["train", "--resume", out, "--samples", "2"])
    assert done.exit_code == 0 and "already trained all 2 steps" in done.stderr
    assert len(sample_lines(done.stdout)) == 2


def test_an_existing_run_is_kept_unless_force(tmp_path, data_file):
    out = tmp_path / "run"
    assert invoke(*train_args(data_file, out, 2, "--samples", "0")).exit_code == 0
    before = (out / "checkpoints" / "step-000002.json").read_bytes()
    again = invoke(*train_args(data_file, out, 2, "--samples", "0", "--seed", "5"))
    assert again.exit_code == 2 and "--force" in again.stderr
    assert (out / "checkpoints" / "step-000002.json").read_bytes() == before
    forced = invoke(*train_args(data_file, out, 2, "--samples", "0", "--seed", "5", "--force"))
    assert forced.exit_code == 0
    assert (out / "checkpoints" / "step-000002.json").read_bytes() != before


def test_a_terminal_gets_a_progress_bar_instead_of_step_lines(tmp_path, data_file, monkeypatch):
    monkeypatch.setattr(microtrace.cli.train, "stdout_is_terminal", lambda: True)
    out = tmp_path / "run"
    result = invoke(*train_args(data_file, out, 3, "--samples", "0"))
    assert result.exit_code == 0, result.output
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert steps == [f"step    3 /    3 | loss {open_run(out).losses()[-1]:.4f}"]
    assert "training" in result.stderr  # the bar's label (click hides the bar itself off a terminal)


def test_divergence_exits_1_naming_the_step_and_keeps_checkpoints(tmp_path, data_file):
    out = tmp_path / "run"
    result = invoke(*train_args(data_file, out, 30, "--lr", "1e6", "--checkpoint-every", "1"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    stderr = result.stderr.splitlines()
    assert len(stderr) == 1
    k = open_run(out).stopped_at()
    assert k is not None
    assert stderr[0].startswith(
        f"Error: training stopped at step {k} (0-based; the log's line 'step {k + 1} / 30'): the loss is "
    )
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(rf"step {k + 1:4d} /   30 \| loss (nan|inf|-inf)", last)
    assert open_run(out).checkpoint_steps() == list(range(k + 1))
    assert "inference" not in result.stdout
    assert not math.isfinite(open_run(out).losses()[-1])


def test_version():
    result = invoke(*["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"microtrace, version {importlib.metadata.version('microtrace')}\n"


@pytest.mark.parametrize("command", [[]] + [[name] for name in sorted(cli.commands)])
def test_help_with_h_and_an_example_everywhere(command):
    for flag in ("-h", "--help"):
        result = invoke(*[*command, flag])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"Usage: microtrace {' '.join(command)}".rstrip())
        assert "Example:" in result.stdout


def _bad_data(make):
    def args(tmp_path):
        return ["train", "--data", make(tmp_path), "--steps", "2", *TINY, "--out", tmp_path / "run"]

    return args


def _write(name, content):
    def make(tmp_path):
        path = tmp_path / name
        path.write_bytes(content)
        return path

    return make


def _corrupt_run(tmp_path):
    out = tmp_path / "run"
    assert invoke(*train_args(tmp_path / "words.txt", out, 2, "--samples", "0")).exit_code == 0
    path = out / "checkpoints" / "step-000002.json"
    path.write_bytes(path.read_bytes()[:1000])
    return ["sample", "--run", out]


BAD = {
    "missing file": (_bad_data(lambda t: t / "missing.txt"), "missing.txt: no such file"),
    "empty file": (_bad_data(_write("empty.txt", b"")), "no documents"),
    "blank lines": (_bad_data(_write("blank.txt", b"\n  \n\t\n\n")), "no documents"),
    "undecodable": (_bad_data(_write("bytes.txt", b"anna\n\xff\xfebob\n")), "not UTF-8"),
    "directory": (_bad_data(lambda t: t), "is a directory"),
    "unknown run (sample)": (lambda t: ["sample", "--run", t / "nowhere"], "no such run directory"),
    "unknown run (resume)": (lambda t: ["train", "--resume", t / "nowhere"], "no such run directory"),
    "not a run": (lambda t: ["sample", "--run", t], "no config.json"),
    "corrupt checkpoint": (_corrupt_run, "step-000002.json: bad checkpoint: not valid JSON"),
    "n_embd vs n_head": (lambda t: ["train", "--n-embd", "10", "--n-head", "4"], "multiple of --n-head"),
    "steps 0": (lambda t: ["train", "--steps", "0"], "'--steps': 0 is not in the range x>=1"),
    "n_layer 0": (lambda t: ["train", "--n-layer", "0"], "'--n-layer': 0 is not in the range x>=1"),
    "samples < 0": (lambda t: ["train", "--samples", "-1"], "'--samples': -1 is not in the range x>=0"),
    "lr nan": (lambda t: ["train", "--lr", "nan"], "'--lr': 'nan' is not"),
    "lr 0": (lambda t: ["train", "--lr", "0"], "'--lr': 0.0 is not in the range x>0"),
    "lr < 0": (lambda t: ["train", "--lr", "-0.01"], "'--lr': -0.01 is not in the range x>0"),
    "temperature 0": (lambda t: ["train", "--temperature", "0"], "'--temperature': 0.0 is not in the range x>0"),
    "temperature < 0": (lambda t: ["sample", "--run", t, "--temperature", "-1"], "'--temperature'"),
    "temperature inf": (lambda t: ["sample", "--run", t, "--temperature", "inf"], "'--temperature'"),
    "out is a file": (lambda t: train_args(t / "words.txt", t / "words.txt"), "not a directory"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_one_line_error_with_exit_code_2(tmp_path, data_file, case):
    make_args, words = BAD[case]
    result = invoke(*make_args(tmp_path))
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert words in lines[0]
    assert result.stdout == ""


@needs_shared()
def test_published_run_starts_exactly_like_the_published_log(tmp_path, monkeypatch):
    """The first steps of seed 42 on makemore's names, through the real command, cut short by ^C."""
    real_train = microtrace.cli.train.train_run

    def five_steps(run, on_step, trainer):
        def then_interrupt(k, loss):
            on_step(k, loss)
            if k == 4:
                raise KeyboardInterrupt

        return real_train(run, then_interrupt, trainer)

    monkeypatch.setattr(microtrace.cli.train, "train_run", five_steps)
    out = tmp_path / "published"
    result = invoke(*["train", "--data", MAKEMORE, "--seed", "42", "--steps", "1000", "--out", out])
    assert result.exit_code == 130
    assert result.stdout.splitlines() == PUBLISHED_LOG.read_text().splitlines()[:8]
    assert result.stderr.strip().endswith(f"microtrace train --resume {out}")
    assert open_run(out).checkpoint_steps() == [0]
