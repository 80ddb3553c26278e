"""Attention weights as a model gives them (each query's row a softmax over the keys it sees), made up
for the figure tests: random, seeded, of any size, with a label per token."""

import math
import random


def softmax(xs):
    m = max(xs)
    e = [math.exp(x - m) for x in xs]
    t = sum(e)
    return [v / t for v in e]


def random_attention(n, layers, heads, seed=0):
    rng = random.Random(seed)
    return [
        [[softmax([rng.gauss(0, 2) for _ in range(q + 1)]) for q in range(n)] for _ in range(heads)]
        for _ in range(layers)
    ]


def labels_for(n):
    return ["<BOS>"] + [chr(ord("a") + i % 26) for i in range(n - 1)]
