"""A fork whose parameters are a list of matrices passed to its training function, as no-magic's
microoptimizer keeps `params = [embedding, projection]` for a character bigram model: found as
`params0` and `params1` (they were leaves without names, one column in gradflow).
Usage: python param_list.py [NUM_STEPS]"""

import random
import sys

from engine import Value, softmax

random.seed(13)
docs = "ada bo cy dee eve fay".split()
uchars = sorted(set("".join(docs)))
BOS = len(uchars)
vocab_size, n_embd = BOS + 1, 4


def make_params():
    embedding = [[Value(random.gauss(0, 0.3)) for _ in range(n_embd)] for _ in range(vocab_size)]
    projection = [[Value(random.gauss(0, 0.3)) for _ in range(n_embd)] for _ in range(vocab_size)]
    return [embedding, projection]


def bigram_loss(params, tokens):
    embedding, projection = params
    losses = []
    for pos_id in range(len(tokens) - 1):
        x = embedding[tokens[pos_id]]
        logits = [sum(w * xi for w, xi in zip(row, x)) for row in projection]
        losses.append(-softmax(logits)[tokens[pos_id + 1]].log())
    return (1 / len(losses)) * sum(losses)


def train(params, num_steps):
    flat = [v for matrix in params for row in matrix for v in row]
    for step in range(num_steps):
        doc = docs[step % len(docs)]
        loss = bigram_loss(params, [BOS] + [uchars.index(ch) for ch in doc] + [BOS])
        loss.backward()
        for p in flat:
            p.data -= 0.1 * p.grad
            p.grad = 0
        print(f"step {step + 1} loss {loss.data:.4f}")


train(make_params(), int(sys.argv[1]) if len(sys.argv) > 1 else 100)
