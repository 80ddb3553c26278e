"""Run directories: deterministic checkpoints, exact resume, trainer_at, validation, divergence."""

import json
import math
import shutil

import pytest

from conftest import MINI, WORDS
from microtrace.engine.data import load_dataset
from microtrace.engine.run import RunDiverged, RunError, _checksum, create_run, open_run, train
from microtrace.engine.train import TrainConfig, Trainer

MODEL = MINI  # checkpoints of a small model: what is tested is the files, not the model


def make_run(run_dir, data_file, steps=6, every=2, **train_options):
    config = TrainConfig(steps=steps, **train_options)
    return create_run(run_dir, load_dataset(data_file), config, MODEL, checkpoint_every=every)


def files_of(run_dir):
    """Every file of a run, relative path -> bytes."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def state(trainer):
    """Everything that makes a trainer's future: compared with ==, so nan would fail (none expected)."""
    return (
        trainer.step,
        [p.data for p in trainer.model.params],
        list(trainer.m),
        list(trainer.v),
        list(trainer.losses),
        trainer.rng.getstate(),
    )


def plain_trainer(data_file, steps, k):
    """The reference: a Trainer made and stepped k times in memory, never saved."""
    trainer = Trainer(load_dataset(data_file).docs, TrainConfig(steps=steps), **MODEL)
    for _ in range(k):
        trainer.train_step()
    return trainer


def test_same_options_give_byte_identical_files(tmp_path, data_file):
    a, b = tmp_path / "a", tmp_path / "b"
    train(make_run(a, data_file))
    train(make_run(b, data_file))
    files = files_of(a)
    assert sorted(files) == [
        "checkpoints/step-000000.json",
        "checkpoints/step-000002.json",
        "checkpoints/step-000004.json",
        "checkpoints/step-000006.json",
        "config.json",
        "losses.csv",
    ]
    assert files == files_of(b)
    # A different seed must change them (the comparison above is not vacuous).
    c = tmp_path / "c"
    train(make_run(c, data_file, seed=7))
    assert files_of(c)["checkpoints/step-000006.json"] != files["checkpoints/step-000006.json"]


def test_losses_csv_is_one_based_and_exact(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file, steps=3, every=5)
    trainer = train(run)
    lines = (run.path / "losses.csv").read_text().splitlines()
    assert lines[0] == "step,loss"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert [float(line.split(",")[1]) for line in lines[1:]] == trainer.losses
    assert run.losses() == trainer.losses
    assert run.checkpoint_steps() == [0, 3]  # step 0 and the end, even though every=5 never came


def test_checkpoint_restores_the_exact_state(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file)
    final = train(run)
    assert state(run.load(6)) == state(final)
    assert state(run.load(6)) == state(plain_trainer(data_file, 6, 6))


def test_special_floats_round_trip(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file)
    trainer = run.latest()
    specials = [math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2]
    for p, x in zip(trainer.model.params, specials):
        p.data = x
    trainer.m[0] = math.nan
    trainer.v[-1] = math.inf
    run.save(trainer)
    back = run.load(0)
    assert [repr(p.data) for p in back.model.params[: len(specials)]] == [repr(x) for x in specials]
    assert math.isnan(back.m[0]) and back.v[-1] == math.inf


def test_resume_after_an_interruption_is_bit_identical(tmp_path, data_file):
    reference = tmp_path / "reference"
    final = train(make_run(reference, data_file))

    interrupted = tmp_path / "interrupted"
    run = make_run(interrupted, data_file)

    def stop_after_step_3(k, loss):
        if k == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(run, stop_after_step_3)
    assert run.checkpoint_steps() == [0, 2]
    assert len(run.losses()) == 2  # losses.csv agrees with the latest checkpoint

    resumed = train(open_run(interrupted))
    assert files_of(interrupted) == files_of(reference)
    assert state(resumed) == state(final)


def test_resume_from_an_early_checkpoint_rewrites_identically(tmp_path, data_file):
    reference = tmp_path / "reference"
    train(make_run(reference, data_file))
    copy = tmp_path / "copy"
    shutil.copytree(reference, copy)
    for step in (4, 6):
        (copy / "checkpoints" / f"step-{step:06d}.json").unlink()
    (copy / "losses.csv").write_text("step,loss\n1,0.5\n")  # stale rows must not survive a resume
    train(open_run(copy))
    assert files_of(copy) == files_of(reference)


@pytest.mark.parametrize("k", [0, 1, 2, 5])
def test_trainer_at_is_the_state_at_the_start_of_step_k(tmp_path, data_file, k):
    run = make_run(tmp_path / "r", data_file, every=4)
    train(run)
    at = open_run(run.path).trainer_at(k)
    assert at.step == k
    assert state(at) == state(plain_trainer(data_file, 6, k))


@pytest.mark.parametrize("k", [-1, 7, 100, "1", 1.0, True])
def test_trainer_at_refuses_steps_outside_the_run(tmp_path, data_file, k):
    run = make_run(tmp_path / "r", data_file)
    with pytest.raises(RunError, match="out of range") as e:
        run.trainer_at(k)
    assert "\n" not in str(e.value)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _binary(path):
    path.write_bytes(b"\xff\xfe\x00garbage")


def _empty(path):
    path.write_bytes(b"")


def _edit(change):
    """A structural change with the checksums made to match it: the checks behind the checksums."""

    def damage(path):
        checkpoint = json.loads(path.read_bytes())
        change(checkpoint)
        if isinstance(checkpoint.get("checksums"), dict):
            checkpoint["checksums"] = {k: _checksum(checkpoint[k]) for k in checkpoint["checksums"] if k in checkpoint}
        path.write_text(json.dumps(checkpoint))

    return damage


def _one_digit(field):
    """A change of one digit in `field`, in place, the checksums left as they were."""

    def damage(path):
        text = path.read_text()
        start = text.index(f'"{field}":')
        i = next(i for i in range(start, len(text)) if text[i] in "123456789")
        path.write_text(text[:i] + str(int(text[i]) % 9 + 1) + text[i + 1 :])

    return damage


DAMAGES = {
    "truncated": (_truncate, "not valid JSON"),
    "binary": (_binary, "not valid JSON"),
    "empty": (_empty, "empty"),
    "format": (_edit(lambda c: c.update(format="something-else/9")), "format"),
    "missing row": (_edit(lambda c: c["params"]["wte"].pop()), "wte is not a"),
    "short row": (_edit(lambda c: c["adam_v"]["layer0.mlp_fc1"][3].pop()), "mlp_fc1 is not a"),
    "missing matrix": (_edit(lambda c: c["adam_m"].pop("lm_head")), "adam_m should hold"),
    "string value": (_edit(lambda c: c["params"]["wpe"][0].__setitem__(0, "1.0")), "not a number"),
    "losses": (_edit(lambda c: c["losses"].append(1.0)), "losses"),
    "step": (_edit(lambda c: c.update(step=2)), "does not match its file name"),
    "rng": (_edit(lambda c: c["rng_state"][1].pop()), "rng_state"),
    "other run": (_edit(lambda c: c["config"]["training"].update(seed=1)), "another run"),
    "not a dict": (_edit(lambda c: c.clear() or c.update(x=[])), "format"),
    "no checksums": (_edit(lambda c: c.pop("checksums")), "missing checksums"),
    "one digit of params": (_one_digit("params"), "its params changed"),
    "one digit of adam_v": (_one_digit("adam_v"), "its adam_v changed"),
    "one digit of rng_state": (_one_digit("rng_state"), "its rng_state changed"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_checkpoint_is_a_one_line_error_naming_the_file(tmp_path, data_file, damage):
    run = make_run(tmp_path / "r", data_file)
    train(run)
    path = run.checkpoint_path(4)
    damage_fn, words = DAMAGES[damage]
    damage_fn(path)
    for load in (lambda: run.load(4), lambda: run.trainer_at(5)):
        with pytest.raises(RunError) as e:
            load()
        message = str(e.value)
        assert str(path) in message and words in message and "\n" not in message
    assert state(run.trainer_at(3)) == state(plain_trainer(data_file, 6, 3))  # earlier ones still load


def test_non_finite_loss_stops_at_once_and_keeps_checkpoints(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file, steps=30, every=1, lr=1e6)
    seen = []
    with pytest.raises(RunDiverged) as e:
        train(run, lambda k, loss: seen.append((k, loss)))
    k = e.value.step
    assert 0 < k < 30 and not math.isfinite(e.value.loss)
    assert f"step {k} (0-based; the log's line 'step {k + 1} / 30')" in str(e.value) and "\n" not in str(e.value)
    assert seen[-1][0] == k and all(math.isfinite(loss) for _, loss in seen[:-1])
    losses = run.losses()
    assert len(losses) == k + 1 and not math.isfinite(losses[-1])
    assert all(map(math.isfinite, losses[:-1]))
    assert run.checkpoint_steps() == list(range(k + 1))
    assert run.stopped_at() == k
    # The last checkpoint is the state before the bad step: no update was applied.
    before = run.trainer_at(k)
    assert state(before) == state(plain_trainer_lr(data_file, 30, k, lr=1e6))
    assert not math.isfinite(before.forward_backward().data)
    with pytest.raises(RunError, match="never trained"):
        run.trainer_at(k + 1)


def test_non_finite_gradient_stops_before_its_update(tmp_path, data_file, monkeypatch):
    """A finite loss with one nan gradient: Adam would spread the nan to the parameter for good."""
    run = make_run(tmp_path / "r", data_file, steps=8, every=2)
    forward_backward = Trainer.forward_backward

    def poisoned(self):
        loss = forward_backward(self)
        if self.step == 5:
            self.model.state_dict["lm_head"][1][2].grad = math.nan
        return loss

    monkeypatch.setattr(Trainer, "forward_backward", poisoned)
    with pytest.raises(RunDiverged) as e:
        train(run)
    assert e.value.step == 5 and math.isfinite(e.value.loss)
    assert "the gradient of lm_head[1,2] is nan" in str(e.value)
    assert run.checkpoint_steps() == [0, 2, 4, 5]
    assert run.stopped_at() == 5
    # No update for step 5: its checkpoint is the untouched state at its start, every number finite.
    assert state(run.load(5)) == state(plain_trainer(data_file, 8, 5))
    with pytest.raises(RunError, match="never trained"):
        run.trainer_at(6)


def test_the_trained_model_is_step_steps(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file, steps=4, every=2)
    final = train(run)
    assert state(run.trainer_at(4)) == state(final)
    with pytest.raises(RunError, match="4 is the trained model"):
        run.trainer_at(5)


def test_lr_must_be_positive():
    for lr in (0.0, -1e-2):
        with pytest.raises(ValueError, match="lr must be a number above 0"):
            TrainConfig(lr=lr)
    for lr in (math.nan, math.inf):
        with pytest.raises(ValueError, match="lr must be a finite number"):
            TrainConfig(lr=lr)


def plain_trainer_lr(data_file, steps, k, lr):
    trainer = Trainer(load_dataset(data_file).docs, TrainConfig(steps=steps, lr=lr), **MODEL)
    for _ in range(k):
        trainer.train_step()
    return trainer


def test_changed_or_missing_data_is_an_error(tmp_path, data_file):
    run = make_run(tmp_path / "r", data_file)
    data_file.write_text("\n".join(WORDS[:-1]) + "\n")
    with pytest.raises(RunError, match="has changed"):
        open_run(run.path).latest()
    data_file.unlink()
    with pytest.raises(RunError, match="no such file"):
        open_run(run.path).trainer_at(0)


def test_open_run_errors(tmp_path, data_file):
    with pytest.raises(RunError, match="no such run directory"):
        open_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no config.json"):
        open_run(tmp_path / "empty")
    run = make_run(tmp_path / "r", data_file)
    config = run.path / "config.json"
    for text, words in [
        ("{", "not valid JSON"),
        ('{"format": "microtrace-run/1"}', "missing model"),
        (config.read_text().replace('"steps": 6', '"steps": 0'), "steps must be at least 1"),
    ]:
        config.write_text(text)
        with pytest.raises(RunError, match=words) as e:
            open_run(run.path)
        assert str(config) in str(e.value)


def test_create_run_refuses_a_run_unless_overwrite_and_then_leaves_no_stale_checkpoint(tmp_path, data_file):
    run_dir = tmp_path / "r"
    train(make_run(run_dir, data_file, steps=6, every=1))
    with pytest.raises(RunError, match="already holds a run"):
        make_run(run_dir, data_file, steps=2)
    run = create_run(run_dir, load_dataset(data_file), TrainConfig(steps=2), MODEL, 1, overwrite=True)
    train(run)
    assert open_run(run_dir).checkpoint_steps() == [0, 1, 2]
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


def test_bad_options_are_run_errors(tmp_path, data_file):
    dataset = load_dataset(data_file)
    with pytest.raises(RunError, match="multiple of n_head"):
        create_run(tmp_path / "a", dataset, TrainConfig(steps=2), dict(n_embd=10, n_head=4))
    with pytest.raises(RunError, match="unknown model options: width"):
        create_run(tmp_path / "b", dataset, TrainConfig(steps=2), dict(width=3))
    with pytest.raises(RunError, match="checkpoint_every"):
        create_run(tmp_path / "c", dataset, TrainConfig(steps=2), MODEL, checkpoint_every=0)
    assert not (tmp_path / "a").exists()
