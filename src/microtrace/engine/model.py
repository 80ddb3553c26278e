"""The microGPT model: embeddings, RMSNorm, causal multi-head attention with a KV cache, a ReLU MLP.

Written to do microGPT's arithmetic operation for operation (see the module docs of `value`): the
order of every sum and the `x * k ** -1` form of every division decide the last bits of each loss.
Scopes name where each value is made (`pos3/layer0/attn/head2/weights`); they cost nothing untraced.
"""

import math
import random
from dataclasses import asdict, dataclass, field

from microtrace.engine.hooks import number, scope
from microtrace.engine.value import Value, dot, vsum
from microtrace.engine.value import linear as fused_linear  # the model's `linear` adds a scope
from microtrace.util.limits import MEMORY_ENV, LimitError, max_memory_gb


@dataclass(frozen=True)
class GPTConfig:
    # A field's metadata is its command-line option (`microtrace train --n-embd`): help text and range.
    vocab_size: int
    n_embd: int = field(default=16, metadata=dict(help="Embedding width.", min=1))
    n_head: int = field(default=4, metadata=dict(help="Attention heads (must divide the embedding width).", min=1))
    n_layer: int = field(default=1, metadata=dict(help="Transformer layers.", min=1))
    block_size: int = field(default=16, metadata=dict(help="Context length; longer documents are cut.", min=1))
    init_std: float = 0.08

    def __post_init__(self):
        # Also the check of a config.json read from disk, so types are checked too: a string or a nan
        # there must be one clear line, not a crash (or a silent nan run) later.
        for name in ("vocab_size", "n_embd", "n_head", "n_layer", "block_size"):
            value = getattr(self, name)
            if not is_whole(value):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if not (is_number(self.init_std) and math.isfinite(self.init_std) and self.init_std > 0):
            raise ValueError(f"init_std must be a finite number above 0, got {self.init_std!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")

    @property
    def head_dim(self):
        return self.n_embd // self.n_head

    def to_dict(self):
        return asdict(self)


def is_whole(x):
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def matrix_shapes(config):
    """(name, rows, cols) of every parameter matrix, in microGPT's order (which is the init order)."""
    c = config
    shapes = [("wte", c.vocab_size, c.n_embd), ("wpe", c.block_size, c.n_embd), ("lm_head", c.vocab_size, c.n_embd)]
    for i in range(c.n_layer):
        shapes += [
            (f"layer{i}.attn_wq", c.n_embd, c.n_embd),
            (f"layer{i}.attn_wk", c.n_embd, c.n_embd),
            (f"layer{i}.attn_wv", c.n_embd, c.n_embd),
            (f"layer{i}.attn_wo", c.n_embd, c.n_embd),
            (f"layer{i}.mlp_fc1", 4 * c.n_embd, c.n_embd),
            (f"layer{i}.mlp_fc2", c.n_embd, 4 * c.n_embd),
        ]
    return shapes


def linear(stage, x, w):
    """x times the rows of w (no bias), made in the named stage (`q`, `fc1`, ...)."""
    with scope(stage):
        out = fused_linear(x, w)
        number(out, "unit")  # the output's row index, for a tracer's labels
        return out


def residual(x, x_residual):
    with scope("residual"):
        return [a + b for a, b in zip(x, x_residual)]


def softmax(logits):
    max_val = max(v.data for v in logits)  # a plain float: no gradient flows through the max
    exps = [(v - max_val).exp() for v in logits]
    total = vsum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    with scope("rmsnorm"):
        ms = dot(x, x) / len(x)
        scale = (ms + 1e-5) ** -0.5
        return [xi * scale for xi in x]


class GPT:
    """Parameters in `state_dict` (name -> rows of `Value`s) and a one-token forward with a KV cache."""

    def __init__(self, config, rng):
        self.config = config
        gauss, std = rng.gauss, config.init_std
        self.state_dict = {
            name: [[Value(gauss(0, std)) for _ in range(cols)] for _ in range(rows)]
            for name, rows, cols in matrix_shapes(config)
        }
        self.params = [p for mat in self.state_dict.values() for row in mat for p in row]

    def new_cache(self):
        """Empty per-layer key and value caches for one sequence."""
        n = self.config.n_layer
        return [[] for _ in range(n)], [[] for _ in range(n)]

    def forward(self, token_id, pos_id, keys, values):
        """Logits for the next token after `token_id` at `pos_id`; appends this position's k and v."""
        sd, c = self.state_dict, self.config
        with scope("embed"):
            with scope("add"):
                x = [t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])]
            x = rmsnorm(x)
        for li in range(c.n_layer):
            with scope(f"layer{li}"):
                x = self._attention(x, li, keys[li], values[li])
                x = self._mlp(x, li)
        with scope("lm_head"):
            return linear("logits", x, sd["lm_head"])

    def _attention(self, x, li, keys, values):
        sd, hd = self.state_dict, self.config.head_dim
        with scope("attn"):
            x_residual = x
            x = rmsnorm(x)
            q = linear("q", x, sd[f"layer{li}.attn_wq"])
            k = linear("k", x, sd[f"layer{li}.attn_wk"])
            v = linear("v", x, sd[f"layer{li}.attn_wv"])
            keys.append(k)
            values.append(v)
            x_attn = []
            for h in range(self.config.n_head):
                with scope(f"head{h}"):
                    x_attn.extend(self._head(q, keys, values, h * hd, hd))
            x = linear("wo", x_attn, sd[f"layer{li}.attn_wo"])
            return residual(x, x_residual)

    def _head(self, q, keys, values, hs, hd):
        q_h = q[hs : hs + hd]
        with scope("logits"):
            logits = [dot(q_h, k[hs : hs + hd]) / hd**0.5 for k in keys]
        with scope("weights"):
            weights = softmax(logits)
        number(weights, "key")  # the key position each weight looks at
        with scope("out"):
            return [dot(weights, [v[hs + j] for v in values]) for j in range(hd)]

    def _mlp(self, x, li):
        sd = self.state_dict
        with scope("mlp"):
            x_residual = x
            x = rmsnorm(x)
            x = linear("fc1", x, sd[f"layer{li}.mlp_fc1"])
            with scope("relu"):
                x = [xi.relu() for xi in x]
                number(x, "unit")  # a tracer finds dead units by this index
            x = linear("fc2", x, sd[f"layer{li}.mlp_fc2"])
            return residual(x, x_residual)

    def loss(self, tokens):
        """Mean cross-entropy of predicting tokens[1:] from tokens[:-1], one position at a time."""
        n = min(self.config.block_size, len(tokens) - 1)
        keys, values = self.new_cache()
        losses = []
        for pos_id in range(n):
            with scope(f"pos{pos_id}"):
                logits = self.forward(tokens[pos_id], pos_id, keys, values)
                with scope("loss"):
                    with scope("softmax"):
                        probs = softmax(logits)
                    with scope("nll"):
                        losses.append(-probs[tokens[pos_id + 1]].log())
        with scope("loss"), scope("mean"):
            return (1 / n) * vsum(losses)


def init_model(config, rng):
    """A fresh model whose parameters are drawn from `rng` (a `random.Random`) in microGPT's order."""
    if not isinstance(rng, random.Random):
        raise TypeError("rng must be a random.Random")
    return GPT(config, rng)


# Measured on CPython 3.11: a parameter (its Value, Adam's two moments, the state dict) takes ~200 bytes;
# one training step builds ~50 bytes of graph per parameter and position, and a traced step ~5x that.
_BYTES_PER_PARAM = 200
_BYTES_PER_PARAM_POSITION = 250


def num_params(config):
    """How many parameters `config` has: the sum over `matrix_shapes`, by its formula (a list of the shapes
    of a hostile n_layer of 10**18 would exhaust memory before the memory check could refuse it)."""
    c = config
    per_layer = 4 * c.n_embd * c.n_embd + 2 * 4 * c.n_embd * c.n_embd  # attn_wq/wk/wv/wo, mlp_fc1/fc2
    return (2 * c.vocab_size + c.block_size) * c.n_embd + c.n_layer * per_layer


def model_memory(config):
    """Estimated bytes to hold a model of `config` and trace one step of it."""
    n = num_params(config)
    return n * (_BYTES_PER_PARAM + _BYTES_PER_PARAM_POSITION * config.block_size)


def check_model(config, limit_gb=None, setting=None):
    """LimitError when a `GPTConfig` would need more memory than the limit (`max_memory_gb`). `setting`:
    the caller's argument that raises the limit (its name goes into the message), if it has one."""
    limit = max_memory_gb(limit_gb)
    need = model_memory(config)
    if need > limit * 1e9:
        raise LimitError(
            f"this model (n_embd {config.n_embd}, n_layer {config.n_layer}, block_size {config.block_size}, "
            f"{num_params(config):,} parameters) needs about {need / 1e9:.3g} GB to train and trace a step, above "
            f"the limit of {limit:g} GB",
            limit,
            MEMORY_ENV,
            setting,
        )
