"""Training and sampling, exactly as microGPT does them.

One `random.Random(seed)` stream drives everything: it shuffles the documents, draws every parameter,
and (after training) picks every sampled character. Training itself draws nothing, so a checkpoint's
RNG state is the state sampling continues from.
"""

import gc
import math
import random
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from microtrace.engine.data import Tokenizer
from microtrace.engine.model import GPT, GPTConfig, is_number, is_whole, softmax
from microtrace.util.errors import WorkFailed


@contextmanager
def gc_paused():
    """Pause Python's cycle collector while a step's graph is built and walked.

    The graph is acyclic (a node refers only to its operands), so reference counting frees all of it;
    the collector would only rescan tens of thousands of live nodes again and again (a quarter of the
    step's time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _square(g):
    """g ** 2, inf where the float overflows (Python raises there)."""
    try:
        return g**2
    except OverflowError:
        return math.inf


class SampleError(WorkFailed):
    """The model's next-token probabilities cannot be sampled from (nan, inf or all zero)."""


@dataclass(frozen=True)
class TrainConfig:
    # A field's metadata is its command-line option (`microtrace train --steps`): help text and range.
    steps: int = field(
        default=1000, metadata=dict(help="Training steps (the learning rate decays linearly to 0 over them).", min=1)
    )
    lr: float = field(
        default=0.01,
        metadata=dict(help="Adam learning rate at step 0 (above 0; it decays linearly to 0).", min=0, min_open=True),
    )
    beta1: float = 0.85
    beta2: float = 0.99
    eps: float = 1e-8
    seed: int = field(
        default=42, metadata=dict(help="Seed of the one RNG that shuffles the data, draws the parameters and samples.")
    )

    def __post_init__(self):
        # The one check of these values, for the CLI's options and a config.json read from disk alike.
        for name in ("steps", "seed"):
            if not is_whole(getattr(self, name)):
                raise ValueError(f"{name} must be a whole number, got {getattr(self, name)!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        for name in ("lr", "beta1", "beta2", "eps"):
            value = getattr(self, name)
            if not (is_number(value) and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be a number above 0, got {self.lr!r}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 0 and below 1, got {getattr(self, name)!r}")
        if self.eps <= 0:
            raise ValueError(f"eps must be above 0, got {self.eps!r}")

    def to_dict(self):
        return asdict(self)


class Trainer:
    """The whole state of a microGPT run: documents, model, Adam moments, step counter and RNG.

    `step` is the number of completed steps; `train_step()` trains step number `step` (0-based).
    """

    def __init__(self, docs, train_config=TrainConfig(), **model_options):
        self.train_config = train_config
        self.rng = random.Random(train_config.seed)
        self.docs = list(docs)
        self.rng.shuffle(self.docs)
        self.tokenizer = Tokenizer.from_docs(self.docs)
        self.model = GPT(GPTConfig(vocab_size=self.tokenizer.vocab_size, **model_options), self.rng)
        n = len(self.model.params)
        self.m = [0.0] * n
        self.v = [0.0] * n
        self.step = 0
        self.losses = []

    @property
    def config(self):
        return self.model.config

    def doc_for(self, step):
        return self.docs[step % len(self.docs)]

    def tokens_for(self, step):
        return self.tokenizer.encode(self.doc_for(step))[: self.config.block_size + 1]

    def forward_backward(self):
        """Loss of the current step's document, with every parameter's `.grad` filled in."""
        with gc_paused():
            loss = self.model.loss(self.tokens_for(self.step))
            loss.backward()
        return loss

    def adam_update(self):
        """One Adam step with linear learning-rate decay; resets the gradients; advances `step`."""
        tc, step = self.train_config, self.step
        lr_t = tc.lr * (1 - step / tc.steps)
        b1, b2, eps = tc.beta1, tc.beta2, tc.eps
        bias1, bias2 = 1 - b1 ** (step + 1), 1 - b2 ** (step + 1)
        m, v = self.m, self.v
        for i, p in enumerate(self.model.params):
            g = p.grad
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * _square(g)
            m_hat = m[i] / bias1
            v_hat = v[i] / bias2
            p.data -= lr_t * m_hat / (v_hat**0.5 + eps)
            p.grad = 0
        self.step += 1

    def train_step(self):
        """Train one step; returns its loss (a float, possibly inf or nan)."""
        loss = self.forward_backward().data
        self.adam_update()
        self.losses.append(loss)
        return loss

    def sample(self, temperature=0.5, rng=None):
        """One name: start at BOS, draw from softmax(logits / temperature) until BOS or block_size."""
        rng = rng or self.rng
        model, tok = self.model, self.tokenizer
        keys, values = model.new_cache()
        token_id, out = tok.bos, []
        for pos_id in range(self.config.block_size):
            logits = model.forward(token_id, pos_id, keys, values)
            weights = [p.data for p in softmax([logit / temperature for logit in logits])]
            if not (all(map(math.isfinite, weights)) and sum(weights) > 0):
                raise SampleError(
                    f"cannot sample: the model's probabilities are not finite at temperature {temperature}"
                )
            token_id = rng.choices(range(tok.vocab_size), weights=weights)[0]
            if token_id == tok.bos:
                break
            out.append(tok.chars[token_id])
        return "".join(out)
