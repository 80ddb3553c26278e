"""A fork that keeps everything inside functions: the parameters are a local dict of `main()` called
`weights` (not `state_dict`), the document `doc` and its `tokens` are locals of `train_step`, the
training loop is two functions deep (main -> train -> train_step calls backward()), and its loops are
called `layer` and `t`. Usage: python local_state.py [NUM_STEPS]"""

import random
import sys

from engine import Value, linear, rmsnorm, softmax


def matrix(nout, nin):
    return [[Value(random.gauss(0, 0.1)) for _ in range(nin)] for _ in range(nout)]


def gpt(weights, token_id, pos, keys, values, n_layer, n_head):
    x = rmsnorm([a + b for a, b in zip(weights["wte"][token_id], weights["wpe"][pos])])
    head_dim = len(x) // n_head
    for layer in range(n_layer):
        q = linear(x, weights[f"layer{layer}.attn_wq"])
        keys[layer].append(linear(x, weights[f"layer{layer}.attn_wk"]))
        values[layer].append(linear(x, weights[f"layer{layer}.attn_wv"]))
        out = []
        for h in range(n_head):
            s = h * head_dim
            logits = [sum(q[s + j] * k[s + j] for j in range(head_dim)) for k in keys[layer]]
            w = softmax(logits)
            out.extend(sum(w[i] * v[s + j] for i, v in enumerate(values[layer])) for j in range(head_dim))
        x = [a + b for a, b in zip(linear(out, weights[f"layer{layer}.attn_wo"]), x)]
        x = [
            a + b
            for a, b in zip(
                linear(
                    [xi.relu() for xi in linear(x, weights[f"layer{layer}.mlp_fc1"])], weights[f"layer{layer}.mlp_fc2"]
                ),
                x,
            )
        ]
    return linear(x, weights["lm_head"])


def train_step(weights, uchars, doc, n_layer, n_head):
    bos = len(uchars)
    tokens = [bos] + [uchars.index(c) for c in doc] + [bos]
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for t in range(len(tokens) - 1):
        probs = softmax(gpt(weights, tokens[t], t, keys, values, n_layer, n_head))
        losses.append(-probs[tokens[t + 1]].log())
    loss = sum(losses) / len(losses)
    loss.backward()
    for mat in weights.values():
        for row in mat:
            for p in row:
                p.data -= 0.05 * p.grad
                p.grad = 0
    return loss.data


def train(weights, uchars, docs, steps, n_layer, n_head):
    for step in range(steps):
        print(f"step {step} loss {train_step(weights, uchars, docs[step % len(docs)], n_layer, n_head):.4f}")


def main():
    random.seed(3)
    docs = "ada bo cy dee eve fay".split()
    uchars = sorted(set("".join(docs)))
    n_embd, n_layer, n_head = 4, 1, 2
    weights = {
        "wte": matrix(len(uchars) + 1, n_embd),
        "wpe": matrix(8, n_embd),
        "lm_head": matrix(len(uchars) + 1, n_embd),
    }
    for i in range(n_layer):
        for name, shape in (("attn_wq", (4, 4)), ("attn_wk", (4, 4)), ("attn_wv", (4, 4)), ("attn_wo", (4, 4)),
                            ("mlp_fc1", (8, 4)), ("mlp_fc2", (4, 8))):  # fmt: skip
            weights[f"layer{i}.{name}"] = matrix(*shape)
    train(weights, uchars, docs, int(sys.argv[1]) if len(sys.argv) > 1 else 100, n_layer, n_head)


if __name__ == "__main__":
    main()
