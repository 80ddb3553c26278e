"""The order in which a step happens, node by node: the forward pass as it was evaluated, the backward
pass as the engine's `backward()` visits it.

Node ids already put every operand before its result, but not in the order a reader would watch: every
parameter entry comes first (a trace numbers them before the step's first operation), so a player in
id order would spend half of the forward pass "reading parameters". Here a leaf (a parameter, an input,
a constant) is read just before its first use, and the operations follow in the order they were made.

Backward runs as `engine.value.Value.backward`: the operations in the reverse of microGPT's depth-first
topological order from the loss (`engine.value.topological_order`: operands in order, each node after
its operands); an operation's gradient is complete when it is visited, and a leaf's once its last user
has passed it its share.
"""


def forward_order(G):
    """Node ids in the order the forward pass computes them: operations by id (the order they were
    made), each leaf just before its first user; a leaf nothing uses keeps its own place."""
    pred, succ = G.pred, G.succ
    placed = bytearray(G.number_of_nodes())
    order = []
    for n in range(G.number_of_nodes()):
        if placed[n]:
            continue
        operands = pred[n]
        if not operands and succ[n]:  # a leaf waits for its first user
            continue
        for u in operands:
            if not placed[u]:  # ids put operands first: only a leaf can still be waiting
                placed[u] = 1
                order.append(u)
        placed[n] = 1
        order.append(n)
    return order


def backward_order(G):
    """Node ids in the order their gradients are complete in the backward pass: the loss, then the
    operations as `Value.backward` visits them, each leaf right after its last user. Operations the
    loss does not depend on (none in a recorded step) come after, latest first."""
    pred, succ = G.pred, G.succ
    N = G.number_of_nodes()
    ops = _topological(pred, G.graph["loss_node"], N)
    seen = bytearray(N)
    for n in ops:
        seen[n] = 1
    ops.reverse()
    ops += [n for n in range(N - 1, -1, -1) if pred[n] and not seen[n]]
    users_left = [len(succ[n]) for n in range(N)]
    order = []
    for v in ops:
        order.append(v)
        for u in pred[v]:
            if not pred[u]:  # a leaf: complete when its last user is done
                users_left[u] -= 1
                if users_left[u] == 0:
                    order.append(u)
    order += [n for n in range(N - 1, -1, -1) if not pred[n] and not succ[n] and not seen[n]]  # unused leaves
    return order


def _topological(pred, root, N):
    """`engine.value.topological_order` over a trace's graph: depth-first from `root`, operands in
    order, each operation after its operands; leaves left out."""
    order = []
    visited = bytearray(N)
    visited[root] = 1
    stack = [(root, iter(pred[root]))]
    while stack:
        node, operands = stack[-1]
        for child in operands:
            if pred[child] and not visited[child]:
                visited[child] = 1
                stack.append((child, iter(pred[child])))
                break
        else:
            stack.pop()
            order.append(node)
    return order
