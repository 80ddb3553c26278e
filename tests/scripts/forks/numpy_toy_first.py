"""A micrograd-style script whose values are numpy scalars (`np.float64` data, `np.tanh`), and whose
first two backward() calls are toy expressions with no parameters, as a tutorial checks its engine
before it trains. Then an MLP of `Neuron`s learns XOR; its parameters come from `model.parameters()`.
Usage: python numpy_toy_first.py [NUM_STEPS]"""

import random
import sys

import numpy as np


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = np.float64(data)
        self.grad = np.float64(0.0)
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = np.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __radd__(self, other):
        return self + other

    def backward(self):
        topo, visited = [], set()

        def build(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build(child)
                topo.append(v)

        build(self)
        self.grad = np.float64(1.0)
        for v in reversed(topo):
            v._backward()


class Neuron:
    def __init__(self, nin):
        self.w = [Value(np.random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)

    def __call__(self, x):
        return (sum((wi * xi for wi, xi in zip(self.w, x)), self.b)).tanh()

    def parameters(self):
        return self.w + [self.b]


class MLP:
    def __init__(self, sizes):
        self.layers = [[Neuron(a) for _ in range(b)] for a, b in zip(sizes, sizes[1:])]

    def __call__(self, x):
        for layer in self.layers:
            x = [n(x) for n in layer]
        return x[0]

    def parameters(self):
        return [p for layer in self.layers for n in layer for p in n.parameters()]


# the engine first, on toy expressions (two backward() calls, no parameters)
a, b = Value(2.0), Value(-3.0)
(a * b + a).tanh().backward()
(a * a - b).backward()
print("toy gradients", a.grad, b.grad)

np.random.seed(0)
random.seed(0)
model = MLP([2, 3, 1])
xs, ys = [[0, 0], [0, 1], [1, 0], [1, 1]], [-1, 1, 1, -1]
for k in range(int(sys.argv[1]) if len(sys.argv) > 1 else 50):
    loss = sum(
        ((model([Value(v) for v in x]) - y) * (model([Value(v) for v in x]) - y) for x, y in zip(xs, ys)), Value(0.0)
    )
    for p in model.parameters():
        p.grad = np.float64(0.0)
    loss.backward()
    for p in model.parameters():
        p.data -= 0.1 * p.grad
    print(f"step {k} loss {loss.data:.4f}")
