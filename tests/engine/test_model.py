"""The model against microGPT: bit-identical losses and gradients to the plain reference engine,
parameter gradients against finite differences, and the published seed-42 run line for line."""

import math
import random

import pytest

from bench.reference import ReferenceGPT
from conftest import MAKEMORE, NAMES, PUBLISHED_LOG, SMALL, needs_shared
from microtrace.engine.data import read_docs
from microtrace.engine.model import GPT, GPTConfig, matrix_shapes
from microtrace.engine.train import TrainConfig, Trainer


def test_default_model_has_microgpts_4192_parameters():
    model = GPT(GPTConfig(vocab_size=27), random.Random(0))
    assert len(model.params) == 4192
    assert [n for n, _, _ in matrix_shapes(model.config)] == [
        "wte",
        "wpe",
        "lm_head",
        "layer0.attn_wq",
        "layer0.attn_wk",
        "layer0.attn_wv",
        "layer0.attn_wo",
        "layer0.mlp_fc1",
        "layer0.mlp_fc2",
    ]


@pytest.mark.parametrize("options", [SMALL, dict(n_embd=8, n_head=4, n_layer=2, block_size=6)])
def test_losses_grads_and_updates_equal_the_reference_bit_for_bit(options):
    ours = Trainer(NAMES, TrainConfig(steps=20, seed=3), **options)
    ref = ReferenceGPT(NAMES, seed=3, num_steps=20, **options)
    for _ in range(4):
        loss = ours.forward_backward()
        ref_loss = ref.forward_backward()
        assert loss.data == ref_loss.data
        assert [p.grad for p in ours.model.params] == [p.grad for p in ref.params]
        ours.adam_update()
        ref.step += 1  # the reference's own update, done by hand to compare states
        lr_t = 0.01 * (1 - (ref.step - 1) / 20)
        for i, p in enumerate(ref.params):
            ref.m[i] = 0.85 * ref.m[i] + (1 - 0.85) * p.grad
            ref.v[i] = 0.99 * ref.v[i] + (1 - 0.99) * p.grad**2
            m_hat = ref.m[i] / (1 - 0.85**ref.step)
            v_hat = ref.v[i] / (1 - 0.99**ref.step)
            p.data -= lr_t * m_hat / (v_hat**0.5 + 1e-8)
            p.grad = 0
        assert [p.data for p in ours.model.params] == [p.data for p in ref.params]


def test_parameter_gradients_match_finite_differences():
    trainer = Trainer(NAMES, TrainConfig(steps=10, seed=5), **SMALL)
    tokens = trainer.tokens_for(0)
    loss = trainer.model.loss(tokens)
    loss.backward()
    rng = random.Random(0)
    h = 1e-6
    for name, mat in trainer.model.state_dict.items():
        used_rows = set(tokens[:-1]) if name == "wte" else range(len(tokens) - 1) if name == "wpe" else range(len(mat))
        for _ in range(3):
            r = rng.choice(sorted(used_rows))
            c = rng.randrange(len(mat[0]))
            p = mat[r][c]
            saved = p.data
            p.data = saved + h
            up = trainer.model.loss(tokens).data
            p.data = saved - h
            down = trainer.model.loss(tokens).data
            p.data = saved
            numeric = (up - down) / (2 * h)
            assert p.grad == pytest.approx(numeric, rel=1e-4, abs=1e-8), (name, r, c)


def test_loss_decreases_on_a_short_run():
    trainer = Trainer(NAMES * 3, TrainConfig(steps=60, seed=1), **SMALL)
    losses = [trainer.train_step() for _ in range(60)]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 0.3


def test_same_seed_same_run_other_seed_other_run():
    a = Trainer(NAMES, TrainConfig(steps=5, seed=7), **SMALL)
    b = Trainer(NAMES, TrainConfig(steps=5, seed=7), **SMALL)
    c = Trainer(NAMES, TrainConfig(steps=5, seed=8), **SMALL)
    la = [a.train_step() for _ in range(5)]
    assert la == [b.train_step() for _ in range(5)]
    assert la != [c.train_step() for _ in range(5)]


def test_a_diverging_run_gives_nonfinite_losses_not_exceptions():
    trainer = Trainer(NAMES, TrainConfig(steps=10, seed=1, lr=1e6), **SMALL)
    losses = [trainer.train_step() for _ in range(4)]
    assert not all(math.isfinite(x) for x in losses)


@pytest.mark.slow
@needs_shared()
def test_published_microgpt_run_line_for_line():
    """Seed 42 on microGPT's names: all 1,000 printed losses and the 20 samples (about 25 s)."""
    published = PUBLISHED_LOG.read_text().splitlines()
    trainer = Trainer(read_docs(MAKEMORE).docs, TrainConfig(steps=1000, seed=42))
    lines = [
        f"num docs: {len(trainer.docs)}",
        f"vocab size: {trainer.tokenizer.vocab_size}",
        f"num params: {len(trainer.model.params)}",
    ]
    for step in range(1000):
        lines.append(f"step {step + 1:4d} / {1000:4d} | loss {trainer.train_step():.4f}")
    assert lines[3:6] == [
        "step    1 / 1000 | loss 3.3660",
        "step    2 / 1000 | loss 3.4243",
        "step    3 / 1000 | loss 3.1778",
    ]
    samples = [f"sample {i + 1:2d}: {trainer.sample()}" for i in range(20)]
    assert lines == [line for line in published if line.startswith(("num ", "vocab ", "step "))]
    assert samples == [line for line in published if line.startswith("sample ")]
