"""tracer/model/order.py: the order the explorer's player shows a step in."""

import networkx as nx
import pytest

from conftest import SMALL
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.engine.value import Value, topological_order
from microtrace.tracer import trace_step
from microtrace.tracer.model.order import backward_order, forward_order


@pytest.fixture(scope="module")
def trace():
    return trace_step(Trainer(["olivia", "emma", "lola"], TrainConfig(steps=4, seed=1), **SMALL), 1)


def positions(order):
    return {n: i for i, n in enumerate(order)}


def test_a_small_graph_by_hand():
    # loss = a * b + c: a, b, c leaves (ids first, as a trace numbers its parameters)
    G = nx.DiGraph(loss_node=4)
    G.add_edges_from([(0, 3), (1, 3), (3, 4), (2, 4)])
    assert forward_order(G) == [0, 1, 3, 2, 4]  # c is read when the sum needs it, not before a * b
    assert backward_order(G) == [4, 2, 3, 0, 1]  # the sum gives c and a * b their gradient at once


@pytest.mark.parametrize("view", ["fused", "elementary"])
def test_both_passes_are_topological_orders_of_every_node(trace, view):
    G = trace.graph(view)
    fwd, bwd = forward_order(G), backward_order(G)
    assert sorted(fwd) == sorted(bwd) == list(range(G.number_of_nodes()))
    f, b = positions(fwd), positions(bwd)
    for u, v in G.edges:
        assert f[u] < f[v], f"operand {u} after its result {v} in the forward pass"
        assert b[v] < b[u], f"{u}'s gradient complete before its user {v} passed it on"
    assert bwd[0] == G.graph["loss_node"]


@pytest.mark.parametrize("view", ["fused", "elementary"])
def test_forward_reads_each_leaf_just_before_its_first_use(trace, view):
    G = trace.graph(view)
    fwd = forward_order(G)
    ops = [n for n in fwd if G.in_degree(n)]
    assert ops == sorted(ops)  # operations in the order they were made
    for i, n in enumerate(fwd):
        if G.in_degree(n) or not G.out_degree(n):
            continue
        j = i + 1
        while not G.in_degree(fwd[j]):  # the other leaves read for the same operation
            j += 1
        first_use = fwd[j]
        assert first_use == min(G.successors(n))
        assert all(G.has_edge(fwd[k], first_use) for k in range(i, j))
    # a parameter is no longer read long before it is used: the first half of the forward pass computes
    params = sum(1 for n in G if G.nodes[n]["op"] == "param")
    assert sum(1 for n in fwd[:params] if G.in_degree(n)) > params // 10  # in id order: none


@pytest.mark.parametrize("view", ["fused", "elementary"])
def test_backward_visits_the_operations_as_the_engines_backward_does(trace, view):
    G = trace.graph(view)
    # the same graph as engine Values: the engine's own topological order, reversed, is its backward
    values = []
    for n in range(G.number_of_nodes()):
        operands = list(G.pred[n])
        local = tuple(G.pred[n][u]["local_grad"] for u in operands)
        values.append(Value(G.nodes[n]["data"], tuple(values[u] for u in operands), local, "mirror"))
    number = {id(v): n for n, v in enumerate(values)}
    engine = [number[id(v)] for v in reversed(topological_order(values[G.graph["loss_node"]]))]
    bwd = backward_order(G)
    assert [n for n in bwd if G.in_degree(n)] == engine
    # a leaf's gradient is complete right after its last user's turn
    b = positions(bwd)
    for n in G:
        if not G.in_degree(n) and G.out_degree(n):
            last = max(G.successors(n), key=b.get)
            assert all(not G.in_degree(bwd[k]) for k in range(b[last] + 1, b[n]))
