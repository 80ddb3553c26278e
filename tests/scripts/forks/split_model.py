"""The model of split_files.py, in a module of its own: a tokenizer object, and a model object whose
method `learn` is the training loop (the step's tokens are its locals)."""

import random

from engine import Value, linear, rmsnorm, softmax


class Tokenizer:
    def __init__(self, docs):
        self.uchars = sorted(set("".join(docs)))
        self.bos = len(self.uchars)

    def tokenize(self, doc):
        return [self.bos] + [self.uchars.index(ch) for ch in doc] + [self.bos]


class Model:
    def __init__(self, docs, n_embd=4, n_head=2, block_size=8):
        random.seed(5)
        self.docs, self.tok = docs, Tokenizer(docs)
        self.n_embd, self.n_head, self.head_dim = n_embd, n_head, n_embd // n_head
        vocab_size = self.tok.bos + 1
        self.state_dict = {
            "wte": self.matrix(vocab_size, n_embd),
            "wpe": self.matrix(block_size, n_embd),
            "lm_head": self.matrix(vocab_size, n_embd),
        }
        for name in ("attn_wq", "attn_wk", "attn_wv", "attn_wo"):
            self.state_dict[f"layer0.{name}"] = self.matrix(n_embd, n_embd)
        self.params = [p for mat in self.state_dict.values() for row in mat for p in row]

    @staticmethod
    def matrix(nout, nin):
        return [[Value(random.gauss(0, 0.2)) for _ in range(nin)] for _ in range(nout)]

    def gpt(self, token_id, pos_id, keys, values):
        sd, hd = self.state_dict, self.head_dim
        x = rmsnorm([t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])])
        for li in range(1):
            q = linear(x, sd[f"layer{li}.attn_wq"])
            keys[li].append(linear(x, sd[f"layer{li}.attn_wk"]))
            values[li].append(linear(x, sd[f"layer{li}.attn_wv"]))
            x_attn = []
            for h in range(self.n_head):
                logits = [sum(q[h * hd + j] * k[h * hd + j] for j in range(hd)) / hd**0.5 for k in keys[li]]
                weights = softmax(logits)
                x_attn += [sum(w * v[h * hd + j] for w, v in zip(weights, values[li])) for j in range(hd)]
            x = [a + b for a, b in zip(linear(x_attn, sd[f"layer{li}.attn_wo"]), x)]
        return linear(x, sd["lm_head"])

    def learn(self, num_steps):
        for step in range(num_steps):
            doc = self.docs[step % len(self.docs)]
            tokens = self.tok.tokenize(doc)
            keys, values = [[]], [[]]
            losses = []
            for pos_id in range(len(tokens) - 1):
                probs = softmax(self.gpt(tokens[pos_id], pos_id, keys, values))
                losses.append(-probs[tokens[pos_id + 1]].log())
            loss = (1 / len(losses)) * sum(losses)
            loss.backward()
            for p in self.params:
                p.data -= 0.05 * p.grad
                p.grad = 0
            print(f"step {step + 1} loss {loss.data:.4f}")
