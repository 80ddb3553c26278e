"""A fork that keeps its state in dicts: a backend object's `create_state()` returns a dict holding the
parameter matrices under "state_dict" (and a flat list of them under "params"), the tokenizer is a dict
with its vocabulary under "uchars", and backward() is called in the backend's `run_one_step(state,
tokenizer, doc)`. Its sums start from a Value of its own: `sum(terms, Value(0.0))`.
Usage: python dict_state.py [NUM_STEPS]"""

import random
import sys

from engine import Value, rmsnorm, softmax


def linear(x, w):
    return [sum((wi * xi for wi, xi in zip(row, x)), Value(0.0)) for row in w]


def matrix(nout, nin):
    return [[Value(random.gauss(0, 0.1)) for _ in range(nin)] for _ in range(nout)]


class Backend:
    def create_state(self, vocab_size, n_embd=4, n_layer=1, n_head=2):
        sd = {"wte": matrix(vocab_size, n_embd), "wpe": matrix(8, n_embd), "lm_head": matrix(vocab_size, n_embd)}
        for i in range(n_layer):
            for name, shape in (("attn_wq", (4, 4)), ("attn_wk", (4, 4)), ("attn_wv", (4, 4)), ("attn_wo", (4, 4)),
                                ("mlp_fc1", (8, 4)), ("mlp_fc2", (4, 8))):  # fmt: skip
                sd[f"layer{i}.{name}"] = matrix(*shape)
        params = [p for m in sd.values() for row in m for p in row]
        return {"state_dict": sd, "params": params, "n_layer": n_layer, "n_head": n_head, "lr": 0.05}

    def gpt(self, state, token_id, pos_id, keys, values):
        sd, n_head = state["state_dict"], state["n_head"]
        x = rmsnorm([a + b for a, b in zip(sd["wte"][token_id], sd["wpe"][pos_id])])
        hd = len(x) // n_head
        for li in range(state["n_layer"]):
            q = linear(x, sd[f"layer{li}.attn_wq"])
            keys[li].append(linear(x, sd[f"layer{li}.attn_wk"]))
            values[li].append(linear(x, sd[f"layer{li}.attn_wv"]))
            out = []
            for h in range(n_head):
                w = softmax([sum((q[h * hd + j] * k[h * hd + j] for j in range(hd)), Value(0.0)) for k in keys[li]])
                out.extend(sum(w[t] * v[h * hd + j] for t, v in enumerate(values[li])) for j in range(hd))
            x = [a + b for a, b in zip(linear(out, sd[f"layer{li}.attn_wo"]), x)]
            hidden = [xi.relu() for xi in linear(x, sd[f"layer{li}.mlp_fc1"])]
            x = [a + b for a, b in zip(linear(hidden, sd[f"layer{li}.mlp_fc2"]), x)]
        return linear(x, sd["lm_head"])

    def run_one_step(self, state, tokenizer, doc):
        tokens = [tokenizer["BOS"]] + [tokenizer["stoi"][c] for c in doc] + [tokenizer["BOS"]]
        keys, values = [[] for _ in range(state["n_layer"])], [[] for _ in range(state["n_layer"])]
        losses = []
        for pos_id in range(len(tokens) - 1):
            probs = softmax(self.gpt(state, tokens[pos_id], pos_id, keys, values))
            losses.append(-probs[tokens[pos_id + 1]].log())
        loss = sum(losses) / len(losses)
        loss.backward()
        for p in state["params"]:
            p.data -= state["lr"] * p.grad
            p.grad = 0
        return loss.data


def build_tokenizer(docs):
    uchars = sorted(set("".join(docs)))
    return {"uchars": uchars, "stoi": {c: i for i, c in enumerate(uchars)}, "BOS": len(uchars)}


def main():
    random.seed(5)
    docs = "ada bo cy dee eve fay".split()
    tokenizer = build_tokenizer(docs)
    backend = Backend()
    state = backend.create_state(tokenizer["BOS"] + 1)
    for step in range(int(sys.argv[1]) if len(sys.argv) > 1 else 100):
        print(f"step {step} loss {backend.run_one_step(state, tokenizer, docs[step % len(docs)]):.4f}")


if __name__ == "__main__":
    main()
