"""A two-layer MLP classifier in micrograd's style (its engine in engine.py, next to this file).

Usage: python train.py [NUM_STEPS]
"""

import random
import sys

from engine import Value

random.seed(1337)


class Neuron:
    def __init__(self, nin, nonlin="tanh"):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh() if self.nonlin == "tanh" else act.relu() if self.nonlin == "relu" else act

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        kinds = ["relu", "tanh", "linear"]
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=kinds[i]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0]

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


points = [(random.uniform(-2, 2), random.uniform(-2, 2)) for _ in range(24)]
labels = [1.0 if x * x + y * y < 1.5 else -1.0 for x, y in points]
model = MLP(2, [8, 8, 1])

num_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 50
for step in range(num_steps):
    scores = [model([Value(x), Value(y)]) for x, y in points]
    # hinge loss, plus a small L2 penalty; the sigmoid of the first score is only logged
    data_loss = sum((1 + -yi * si).relu() for yi, si in zip(labels, scores)) * (1.0 / len(points))
    reg_loss = 1e-4 * sum(p**2 for p in model.parameters())
    confidence = scores[0].sigmoid()
    loss = data_loss + reg_loss + 0 * confidence
    for p in model.parameters():
        p.grad = 0
    loss.backward()
    lr = 0.5 - 0.4 * step / num_steps
    for p in model.parameters():
        p.data -= lr * p.grad
    print(f"step {step} loss {loss.data:.6f}")
