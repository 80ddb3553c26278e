"""A fork with classes: the parameters are `self.state_dict` of a `GPT` object, the vocabulary
`self.uchars` of a `Tokenizer` object the model holds, and the attention is multi-latent: its head loop
runs over `range(self.n_latent)` with the variable `l` (which other forks use for the layer; here the
loop's range says what it is). Usage: python model_object.py [NUM_STEPS]"""

import random
import sys

from engine import Value, linear, rmsnorm, softmax


class Tokenizer:
    def __init__(self, docs):
        self.uchars = sorted(set("".join(docs)))
        self.bos = len(self.uchars)

    def encode(self, doc):
        return [self.bos] + [self.uchars.index(c) for c in doc] + [self.bos]


class GPT:
    def __init__(self, tok, n_embd=4, n_layer=1, n_latent=2):
        self.tok, self.n_layer, self.n_latent = tok, n_layer, n_latent
        vocab = tok.bos + 1
        self.state_dict = {
            "wte": self.matrix(vocab, n_embd),
            "wpe": self.matrix(8, n_embd),
            "lm_head": self.matrix(vocab, n_embd),
        }
        for li in range(n_layer):
            for name in ("wq", "wk", "wv", "wo"):
                self.state_dict[f"layer{li}.{name}"] = self.matrix(n_embd, n_embd)

    @staticmethod
    def matrix(nout, nin):
        return [[Value(random.gauss(0, 0.1)) for _ in range(nin)] for _ in range(nout)]

    def forward(self, token_id, pos_id, cache):
        sd = self.state_dict
        x = rmsnorm([a + b for a, b in zip(sd["wte"][token_id], sd["wpe"][pos_id])])
        d = len(x) // self.n_latent
        for li in range(self.n_layer):
            q = linear(x, sd[f"layer{li}.wq"])
            cache[li].append((linear(x, sd[f"layer{li}.wk"]), linear(x, sd[f"layer{li}.wv"])))
            mixed = []
            for l in range(self.n_latent):  # noqa: E741 (the name the fork uses is the point)
                w = softmax([sum(q[l * d + j] * k[l * d + j] for j in range(d)) for k, _ in cache[li]])
                mixed.extend(sum(wt * v[l * d + j] for wt, (_, v) in zip(w, cache[li])) for j in range(d))
            x = [a + b for a, b in zip(linear(mixed, sd[f"layer{li}.wo"]), x)]
        return linear(x, sd["lm_head"])

    def step(self, doc):
        tokens = self.tok.encode(doc)
        cache = [[] for _ in range(self.n_layer)]
        losses = []
        for pos_id in range(len(tokens) - 1):
            probs = softmax(self.forward(tokens[pos_id], pos_id, cache))
            losses.append(-probs[tokens[pos_id + 1]].log())
        loss = sum(losses) * (1 / len(losses))
        loss.backward()
        for mat in self.state_dict.values():
            for row in mat:
                for p in row:
                    p.data -= 0.05 * p.grad
                    p.grad = 0
        return loss.data


random.seed(5)
docs = "ada bo cy dee eve fay".split()
model = GPT(Tokenizer(docs))
for step in range(int(sys.argv[1]) if len(sys.argv) > 1 else 100):
    print(f"step {step} loss {model.step(docs[step % len(docs)]):.4f}")
