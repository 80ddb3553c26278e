"""my_model: a fork of microGPT, for `microtrace trace --script` (see README.md beside it).

What it changes from Karpathy's microgpt.py, as forks do:
- tanh instead of ReLU in the MLP (its own `Value.tanh`);
- an extra parameter matrix, `w_mix`, that mixes the embedding before the layers;
- a second loss term: a small L2 penalty on `w_mix`, added to the cross-entropy;
- its own data file (names.txt) and command line (--steps, --seed).
Nothing here knows about microtrace.

Usage: python train.py [--steps N] [--seed S]
"""

import argparse
import math
import random

parser = argparse.ArgumentParser(description="train a tiny GPT on names, one scalar at a time")
parser.add_argument("--steps", type=int, default=500, help="training steps")
parser.add_argument("--seed", type=int, default=42, help="random seed")
args = parser.parse_args()
random.seed(args.seed)

docs = [line.strip() for line in open("names.txt") if line.strip()]
random.shuffle(docs)
uchars = sorted(set("".join(docs)))
BOS = len(uchars)
vocab_size = len(uchars) + 1


class Value:
    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other):
        return Value(self.data**other, (self,), (other * self.data ** (other - 1),))

    def log(self):
        return Value(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        return Value(math.exp(self.data), (self,), (math.exp(self.data),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,))

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad


n_embd, n_head, n_layer, block_size = 16, 4, 1, 12
head_dim = n_embd // n_head


def matrix(nout, nin, std=0.08):
    return [[Value(random.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]


state_dict = {"wte": matrix(vocab_size, n_embd), "wpe": matrix(block_size, n_embd), "w_mix": matrix(n_embd, n_embd)}
for i in range(n_layer):
    state_dict[f"layer{i}.attn_wq"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wk"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wv"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.attn_wo"] = matrix(n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc1"] = matrix(4 * n_embd, n_embd)
    state_dict[f"layer{i}.mlp_fc2"] = matrix(n_embd, 4 * n_embd)
state_dict["lm_head"] = matrix(vocab_size, n_embd)
params = [p for mat in state_dict.values() for row in mat for p in row]


def linear(x, w):
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]


def softmax(logits):
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x):
    ms = sum(xi * xi for xi in x) / len(x)
    scale = (ms + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def attention(x, li, keys, values):
    q = linear(x, state_dict[f"layer{li}.attn_wq"])
    keys[li].append(linear(x, state_dict[f"layer{li}.attn_wk"]))
    values[li].append(linear(x, state_dict[f"layer{li}.attn_wv"]))
    out = []
    for h in range(n_head):
        hs = h * head_dim
        q_h = q[hs : hs + head_dim]
        logits = [sum(q_h[j] * k[hs + j] for j in range(head_dim)) / head_dim**0.5 for k in keys[li]]
        weights = softmax(logits)
        out.extend(sum(weights[t] * values[li][t][hs + j] for t in range(len(weights))) for j in range(head_dim))
    return linear(out, state_dict[f"layer{li}.attn_wo"])


def mlp(x, li):
    x = linear(x, state_dict[f"layer{li}.mlp_fc1"])
    x = [xi.tanh() for xi in x]
    return linear(x, state_dict[f"layer{li}.mlp_fc2"])


def gpt(token_id, pos_id, keys, values):
    x = [t + p for t, p in zip(state_dict["wte"][token_id], state_dict["wpe"][pos_id])]
    x = rmsnorm(linear(x, state_dict["w_mix"]))
    for li in range(n_layer):
        x = [a + b for a, b in zip(attention(rmsnorm(x), li, keys, values), x)]
        x = [a + b for a, b in zip(mlp(rmsnorm(x), li), x)]
    return linear(x, state_dict["lm_head"])


learning_rate, beta1, beta2, eps_adam = 0.01, 0.85, 0.99, 1e-8
m = [0.0] * len(params)
v = [0.0] * len(params)
for step in range(args.steps):
    doc = docs[step % len(docs)]
    tokens = [BOS] + [uchars.index(ch) for ch in doc] + [BOS]
    n = min(block_size, len(tokens) - 1)
    keys, values = [[] for _ in range(n_layer)], [[] for _ in range(n_layer)]
    losses = []
    for pos_id in range(n):
        probs = softmax(gpt(tokens[pos_id], pos_id, keys, values))
        losses.append(-probs[tokens[pos_id + 1]].log())
    penalty = 1e-3 * sum(w * w for row in state_dict["w_mix"] for w in row)
    loss = (1 / n) * sum(losses) + penalty
    loss.backward()

    lr_t = learning_rate * (1 - step / args.steps)
    for i, p in enumerate(params):
        m[i] = beta1 * m[i] + (1 - beta1) * p.grad
        v[i] = beta2 * v[i] + (1 - beta2) * p.grad**2
        m_hat = m[i] / (1 - beta1 ** (step + 1))
        v_hat = v[i] / (1 - beta2 ** (step + 1))
        p.data -= lr_t * m_hat / (v_hat**0.5 + eps_adam)
        p.grad = 0
    print(f"step {step + 1:4d} / {args.steps:4d} | loss {loss.data:.4f}")
