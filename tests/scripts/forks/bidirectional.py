"""A fork whose attention is bidirectional, as a BERT-style encoder's: every position's query reads the
keys of every position, before and after it, so the attention is not microGPT's causal one. The
tracer must say it found no attention (and `attention` say why) rather than record the one call
whose count happens to fit. The model predicts each position's next character from the whole
sequence shifted by one (a toy objective: what matters here is the shape of its attention).
Usage: python bidirectional.py [NUM_STEPS]"""

import random
import sys

from engine import Value, linear, rmsnorm, softmax

random.seed(12)
docs = "ada bo cy dee eve fay".split()
uchars = sorted(set("".join(docs)))
BOS = len(uchars)
vocab_size = BOS + 1
n_embd, n_head, n_layer, block_size = 4, 2, 1, 8
head_dim = n_embd // n_head


def matrix(nout, nin):
    return [[Value(random.gauss(0, 0.2)) for _ in range(nin)] for _ in range(nout)]


state_dict = {
    "wte": matrix(vocab_size, n_embd),
    "wpe": matrix(block_size, n_embd),
    "lm_head": matrix(vocab_size, n_embd),
}
for i in range(n_layer):
    for name in ("attn_wq", "attn_wk", "attn_wv", "attn_wo"):
        state_dict[f"layer{i}.{name}"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc1"] = matrix(2 * n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc2"] = matrix(n_embd, 2 * n_embd)
params = [p for mat in state_dict.values() for row in mat for p in row]


def encoder(tokens):
    """Every position at once, layer by layer: the keys and values of the whole sequence first."""
    xs = [rmsnorm([t + p for t, p in zip(state_dict["wte"][tok], state_dict["wpe"][pos_id])])
          for pos_id, tok in enumerate(tokens)]  # fmt: skip
    for li in range(n_layer):
        keys = [linear(x, state_dict[f"layer{li}.attn_wk"]) for x in xs]
        values = [linear(x, state_dict[f"layer{li}.attn_wv"]) for x in xs]
        out = []
        for pos_id in range(len(xs)):
            q = linear(xs[pos_id], state_dict[f"layer{li}.attn_wq"])
            x_attn = []
            for h in range(n_head):
                hs = h * head_dim
                logits = [sum(q[hs + j] * k[hs + j] for j in range(head_dim)) / head_dim**0.5 for k in keys]
                weights = softmax(logits)  # over every position: no mask
                x_attn += [sum(w * v[hs + j] for w, v in zip(weights, values)) for j in range(head_dim)]
            x = [a + b for a, b in zip(linear(x_attn, state_dict[f"layer{li}.attn_wo"]), xs[pos_id])]
            hidden = [u.relu() for u in linear(rmsnorm(x), state_dict[f"layer{li}.mlp_fc1"])]
            out.append([a + b for a, b in zip(linear(hidden, state_dict[f"layer{li}.mlp_fc2"]), x)])
        xs = out
    return [linear(x, state_dict["lm_head"]) for x in xs]


num_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
for step in range(num_steps):
    doc = docs[step % len(docs)]
    tokens = [BOS] + [uchars.index(ch) for ch in doc] + [BOS]
    n = min(block_size, len(tokens) - 1)
    logits = encoder(tokens[:n])
    losses = [-softmax(logits[i])[tokens[i + 1]].log() for i in range(n)]
    loss = (1 / n) * sum(losses)
    loss.backward()
    for p in params:
        p.data -= 0.05 * p.grad
        p.grad = 0
    print(f"step {step + 1} loss {loss.data:.4f}")
