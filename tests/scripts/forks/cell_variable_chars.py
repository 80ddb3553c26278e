"""A fork as Karpathy first published microGPT: the vocabulary is `chars`, with '<BOS>' its first entry
(`stoi`/`itos`), and the layer variable `li` is used inside a comprehension, which makes it a cell
variable of `gpt` (`gpt.__code__.co_cellvars`); the head loop is called `head`.
Usage: python cell_variable_chars.py [NUM_STEPS]"""

import random
import sys

from engine import Value, linear, rmsnorm, softmax

random.seed(7)
docs = "ada bo cy dee eve fay".split()
chars = ["<BOS>"] + sorted(set("".join(docs)))
vocab_size = len(chars)
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}
n_embd, n_head, n_layer, block_size = 4, 2, 1, 8
head_dim = n_embd // n_head


def matrix(nout, nin):
    return [[Value(random.gauss(0, 0.1)) for _ in range(nin)] for _ in range(nout)]


state_dict = {
    "wte": matrix(vocab_size, n_embd),
    "wpe": matrix(block_size, n_embd),
    "lm_head": matrix(vocab_size, n_embd),
}
for i in range(n_layer):
    for name in ("attn_wq", "attn_wk", "attn_wv", "attn_wo"):
        state_dict[f"layer{i}.{name}"] = matrix(n_embd, n_embd)
params = [p for mat in state_dict.values() for row in mat for p in row]


def gpt(token_id, pos_id, keys, values):
    x = rmsnorm([t + p for t, p in zip(state_dict["wte"][token_id], state_dict["wpe"][pos_id])])
    for li in range(n_layer):
        q = linear(x, state_dict[f"layer{li}.attn_wq"])
        keys[li].append(linear(x, state_dict[f"layer{li}.attn_wk"]))
        values[li].append(linear(x, state_dict[f"layer{li}.attn_wv"]))
        x_attn = []
        for head in range(n_head):
            hs = head * head_dim
            # `li` read inside the comprehensions: a cell variable of gpt
            k_h = [keys[li][t][hs : hs + head_dim] for t in range(pos_id + 1)]
            v_h = [values[li][t][hs : hs + head_dim] for t in range(pos_id + 1)]
            logits = [sum(q[hs + j] * k[j] for j in range(head_dim)) / head_dim**0.5 for k in k_h]
            weights = softmax(logits)
            x_attn.extend(sum(weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(head_dim))
        x = [a + b for a, b in zip(linear(x_attn, state_dict[f"layer{li}.attn_wo"]), x)]
    return linear(x, state_dict["lm_head"])


num_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
for step in range(num_steps):
    doc = docs[step % len(docs)]
    tokens = [stoi["<BOS>"]] + [stoi[ch] for ch in doc] + [stoi["<BOS>"]]
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for pos_id in range(n):
        probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
        losses.append(-probs[tokens[pos_id + 1]].log())
    loss = (1 / n) * sum(losses)
    loss.backward()
    for p in params:
        p.data -= 0.05 * p.grad
        p.grad = 0
    print(f"step {step + 1} loss {loss.data:.4f} sample {''.join(itos[t] for t in tokens[1:-1])}")
