"""The plain reference: microGPT's own engine and model, one elementary node per operation.

This is the yardstick for speed (bench/run.py) and for exactness (tests compare gradients bit for bit).
It follows docs of the published algorithm: micrograd-style nodes with local gradients, a recursive
topological sort, Python's `sum` over nodes. Kept deliberately naive; do not optimise it.
"""

import math
import random
import sys


class Value:
    __slots__ = ("data", "grad", "_children", "_local_grads")

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

    def relu(self):
        return Value(max(0, self.data), (self,), (float(self.data > 0),))

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
        return len(topo)


class ReferenceGPT:
    """microGPT, parameterised by its documents, seed and sizes; `train_step()` as the script does."""

    def __init__(self, docs, seed=42, n_embd=16, n_head=4, n_layer=1, block_size=16, num_steps=1000):
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 100_000))
        self.rng = random.Random(seed)
        self.docs = list(docs)
        self.rng.shuffle(self.docs)
        self.uchars = sorted(set("".join(self.docs)))
        self.bos = len(self.uchars)
        self.vocab_size = len(self.uchars) + 1
        self.n_embd, self.n_head, self.n_layer, self.block_size = n_embd, n_head, n_layer, block_size
        self.head_dim = n_embd // n_head
        self.num_steps = num_steps

        def matrix(nout, nin, std=0.08):
            return [[Value(self.rng.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]

        sd = {"wte": matrix(self.vocab_size, n_embd), "wpe": matrix(block_size, n_embd)}
        sd["lm_head"] = matrix(self.vocab_size, n_embd)
        for i in range(n_layer):
            sd[f"layer{i}.attn_wq"] = matrix(n_embd, n_embd)
            sd[f"layer{i}.attn_wk"] = matrix(n_embd, n_embd)
            sd[f"layer{i}.attn_wv"] = matrix(n_embd, n_embd)
            sd[f"layer{i}.attn_wo"] = matrix(n_embd, n_embd)
            sd[f"layer{i}.mlp_fc1"] = matrix(4 * n_embd, n_embd)
            sd[f"layer{i}.mlp_fc2"] = matrix(n_embd, 4 * n_embd)
        self.state_dict = sd
        self.params = [p for mat in sd.values() for row in mat for p in row]
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        self.step = 0
        self.nodes_last_step = 0

    @staticmethod
    def linear(x, w):
        return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]

    @staticmethod
    def softmax(logits):
        max_val = max(val.data for val in logits)
        exps = [(val - max_val).exp() for val in logits]
        total = sum(exps)
        return [e / total for e in exps]

    @staticmethod
    def rmsnorm(x):
        ms = sum(xi * xi for xi in x) / len(x)
        scale = (ms + 1e-5) ** -0.5
        return [xi * scale for xi in x]

    def gpt(self, token_id, pos_id, keys, values):
        sd, hd = self.state_dict, self.head_dim
        x = [t + p for t, p in zip(sd["wte"][token_id], sd["wpe"][pos_id])]
        x = self.rmsnorm(x)
        for li in range(self.n_layer):
            x_residual = x
            x = self.rmsnorm(x)
            q = self.linear(x, sd[f"layer{li}.attn_wq"])
            k = self.linear(x, sd[f"layer{li}.attn_wk"])
            v = self.linear(x, sd[f"layer{li}.attn_wv"])
            keys[li].append(k)
            values[li].append(v)
            x_attn = []
            for h in range(self.n_head):
                hs = h * hd
                q_h = q[hs : hs + hd]
                k_h = [ki[hs : hs + hd] for ki in keys[li]]
                v_h = [vi[hs : hs + hd] for vi in values[li]]
                attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(hd)) / hd**0.5 for t in range(len(k_h))]
                attn_weights = self.softmax(attn_logits)
                head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(hd)]
                x_attn.extend(head_out)
            x = self.linear(x_attn, sd[f"layer{li}.attn_wo"])
            x = [a + b for a, b in zip(x, x_residual)]
            x_residual = x
            x = self.rmsnorm(x)
            x = self.linear(x, sd[f"layer{li}.mlp_fc1"])
            x = [xi.relu() for xi in x]
            x = self.linear(x, sd[f"layer{li}.mlp_fc2"])
            x = [a + b for a, b in zip(x, x_residual)]
        return self.linear(x, sd["lm_head"])

    def loss(self, step):
        doc = self.docs[step % len(self.docs)]
        tokens = [self.bos] + [self.uchars.index(ch) for ch in doc] + [self.bos]
        n = min(self.block_size, len(tokens) - 1)
        keys, values = [[] for _ in range(self.n_layer)], [[] for _ in range(self.n_layer)]
        losses = []
        for pos_id in range(n):
            token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
            logits = self.gpt(token_id, pos_id, keys, values)
            probs = self.softmax(logits)
            losses.append(-probs[target_id].log())
        return (1 / n) * sum(losses)

    def forward_backward(self):
        loss = self.loss(self.step)
        self.nodes_last_step = loss.backward()
        return loss

    def train_step(self):
        loss = self.forward_backward()
        lr, beta1, beta2, eps = 0.01, 0.85, 0.99, 1e-8
        lr_t = lr * (1 - self.step / self.num_steps)
        for i, p in enumerate(self.params):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * p.grad
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * p.grad**2
            m_hat = self.m[i] / (1 - beta1 ** (self.step + 1))
            v_hat = self.v[i] / (1 - beta2 ** (self.step + 1))
            p.data -= lr_t * m_hat / (v_hat**0.5 + eps)
            p.grad = 0
        self.step += 1
        return loss.data
