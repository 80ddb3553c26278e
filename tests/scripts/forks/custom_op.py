"""A fork with operations of its own: functions outside the `Value` class that make a node from its
operands and their local derivatives themselves, as the no-magic scripts' `safe_log` (a log clipped
away from 0) and forks' GELU (tanh approximation) do. Each node's op is the name of the function. The vocabulary is
`unique_chars`, no-magic's name for it.
Usage: python custom_op.py [NUM_STEPS]"""

import math
import random
import sys

from engine import Value, linear, rmsnorm, softmax

random.seed(11)
docs = "ada bo cy dee eve fay".split()
unique_chars = sorted(set("".join(docs)))  # a vocabulary by another name
BOS = len(unique_chars)
vocab_size = BOS + 1
n_embd, n_head, n_layer, block_size = 4, 2, 1, 8
head_dim = n_embd // n_head


def safe_log(prob):
    clamped = max(prob.data, 1e-10)  # log(0) would end training: the node keeps prob as its operand
    return Value(math.log(clamped), (prob,), (1.0 / clamped,))


def gelu(x):
    c = math.sqrt(2 / math.pi)
    u = c * (x.data + 0.044715 * x.data**3)
    t = math.tanh(u)
    slope = 0.5 * (1 + t) + 0.5 * x.data * (1 - t * t) * c * (1 + 3 * 0.044715 * x.data**2)
    return Value(0.5 * x.data * (1 + t), (x,), (slope,))


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


def gpt(token_id, pos_id, keys, values):
    x = rmsnorm([t + p for t, p in zip(state_dict["wte"][token_id], state_dict["wpe"][pos_id])])
    for li in range(n_layer):
        q = linear(x, state_dict[f"layer{li}.attn_wq"])
        keys[li].append(linear(x, state_dict[f"layer{li}.attn_wk"]))
        values[li].append(linear(x, state_dict[f"layer{li}.attn_wv"]))
        x_attn = []
        for h in range(n_head):
            hs = h * head_dim
            logits = [sum(q[hs + j] * k[hs + j] for j in range(head_dim)) / head_dim**0.5 for k in keys[li]]
            weights = softmax(logits)
            x_attn += [sum(w * v[hs + j] for w, v in zip(weights, values[li])) for j in range(head_dim)]
        x = [a + b for a, b in zip(linear(x_attn, state_dict[f"layer{li}.attn_wo"]), x)]
        hidden = [gelu(u) for u in linear(rmsnorm(x), state_dict[f"layer{li}.mlp_fc1"])]
        x = [a + b for a, b in zip(linear(hidden, state_dict[f"layer{li}.mlp_fc2"]), x)]
    return linear(x, state_dict["lm_head"])


num_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
for step in range(num_steps):
    doc = docs[step % len(docs)]
    tokens = [BOS] + [unique_chars.index(ch) for ch in doc] + [BOS]
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for pos_id in range(n):
        probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
        losses.append(-safe_log(probs[tokens[pos_id + 1]]))
    loss = (1 / n) * sum(losses)
    loss.backward()
    for p in params:
        p.data -= 0.05 * p.grad
        p.grad = 0
    print(f"step {step + 1} loss {loss.data:.4f}")
