"""The tracer: exact op counts from the model's shapes, bit-identical numbers, gradient flow on edges,
scopes, collapse conservation, queries, and save/load/export round trips."""

import json
import math
import xml.etree.ElementTree as ET
from collections import Counter

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import MINI, NAMES, SMALL, examples
from microtrace.engine.train import TrainConfig, Trainer
from microtrace.tracer import (
    TraceError,
    export,
    load_trace,
    save_trace,
    trace_step,
    trace_text,
)
from microtrace.tracer.analysis.queries import _magnitude, best_links


def trainer(seed=0, steps=10, **options):
    return Trainer(NAMES, TrainConfig(steps=steps, seed=seed), **{**SMALL, **options})


@pytest.fixture(scope="module")
def traced():
    t = trainer()
    t.train_step()  # trace step 1, not the initial state
    return trace_step(t, 1)


@pytest.fixture(scope="module")
def mini():
    """A step of the 4-wide model (a few thousand nodes): for the checks that hold node by node."""
    t = trainer(**MINI)
    t.train_step()
    return trace_step(t, 1)


def expected_counts(n_embd, n_head, n_layer, vocab, n):
    """Operations microGPT performs for a document of n positions, counted from the shapes alone:
    (op nodes, constants). A dot of length L is L products + L sums + the constant 0 of `sum`."""
    E, hd = n_embd, n_embd // n_head
    ops = consts = 0

    def dots(rows, length):
        nonlocal ops, consts
        ops += rows * 2 * length
        consts += rows

    def rmsnorm():
        nonlocal ops, consts
        dots(1, E)
        ops += 3 + E  # * (1/E), + 1e-5, ** -0.5, x * scale
        consts += 2

    def softmax(T, used):
        nonlocal ops, consts
        ops += 2 * T  # + (-max), exp
        consts += T
        dots_sum = T  # sum of the exps
        ops += dots_sum
        consts += 1
        ops += 2 * used  # e / total is e * total ** -1: a new ** and a * per output that is used

    for p in range(n):
        T = p + 1
        ops += E  # wte + wpe
        rmsnorm()
        for _ in range(n_layer):
            rmsnorm()
            dots(3 * E, E)  # q, k, v
            for _ in range(n_head):
                for _ in range(T):
                    dots(1, hd)
                    ops += 1  # / sqrt(hd)
                    consts += 1
                softmax(T, T)
                dots(hd, T)
            dots(E, E)  # wo
            ops += E  # residual
            rmsnorm()
            dots(4 * E, E)
            ops += 4 * E  # relu
            dots(E, 4 * E)
            ops += E  # residual
        dots(vocab, E)  # lm_head
        softmax(vocab, 1)  # only the target's probability reaches the loss
        ops += 2  # log, * -1
        consts += 1
    ops += n + 1  # the sum of the losses (n additions), then * (1/n)
    consts += 2
    return ops, consts


@pytest.mark.parametrize("options", [{}, dict(n_embd=8, n_head=4, n_layer=2, block_size=6)])
def test_node_and_edge_counts_follow_from_the_shapes(options):
    t = trainer(**options)
    tr = trace_step(t, 0)
    G = tr.graph("elementary")  # microGPT's own ops, whose counts the shapes give
    c = t.config
    n = len(tr.meta["tokens"]) - 1
    ops, consts = expected_counts(c.n_embd, c.n_head, c.n_layer, c.vocab_size, n)
    kinds = Counter(d["op"] for _, d in G.nodes(data=True))
    assert sum(v for k, v in kinds.items() if k not in ("param", "const")) == ops
    assert kinds["const"] == consts
    distinct_tokens = len(set(tr.meta["tokens"][:-1]))
    E = c.n_embd
    params = (distinct_tokens + n + c.vocab_size) * E + c.n_layer * 12 * E * E
    assert kinds["param"] == params
    # every result has exactly its operands as in-edges: 2 for binary ops, 1 for unary, none for leaves
    binary = sum(v for k, v in kinds.items() if k in ("+", "*"))
    unary = sum(v for k, v in kinds.items() if k in ("**", "exp", "log", "relu"))
    merged = sum(1 for _, _, d in G.edges(data=True) if d.get("multiplicity") == 2)
    assert G.number_of_edges() == 2 * binary + unary - merged
    # all connected to the loss
    loss = G.graph["loss_node"]
    assert nx.ancestors(G, loss) | {loss} == set(G.nodes)


def test_tracing_changes_no_number():
    traced_t, plain = trainer(seed=4), trainer(seed=4)
    for _ in range(2):
        plain.train_step()
    tr = trace_step(traced_t, 2)
    loss = plain.forward_backward()
    G = tr.graph("elementary")  # microGPT's own ops, whose counts the shapes give
    assert tr.loss == loss.data == G.nodes[G.graph["loss_node"]]["data"]
    grads = {}
    for name, mat in plain.model.state_dict.items():
        for r, row in enumerate(mat):
            for c, p in enumerate(row):
                grads[(name, r, c)] = p.grad
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            assert d["grad"] == grads[(d["param"], *d["index"])]
    plain.adam_update()
    assert [p.data for p in traced_t.model.params] == [p.data for p in plain.model.params]
    assert traced_t.m == plain.m and traced_t.v == plain.v and traced_t.step == plain.step == 3
    for _, d in G.nodes(data=True):
        if d["op"] == "param":
            assert d["new_data"] == plain.model.state_dict[d["param"]][d["index"][0]][d["index"][1]].data


def test_elementary_values_equal_the_fused_ones(traced):
    G, F = traced.graph("elementary"), traced.graph("fused")
    assert G.graph["loss"] == F.graph["loss"]
    assert F.number_of_nodes() < G.number_of_nodes() / 4
    fused_dots = [d for _, d in F.nodes(data=True) if d["op"] == "dot"]
    partial_sums = {(d["scope"], d["data"]) for _, d in G.nodes(data=True) if d["op"] == "+"}
    assert all((d["scope"], d["data"]) in partial_sums for d in fused_dots)


def test_gradient_flows_out_of_a_node_add_up_to_its_gradient(mini):
    G = mini.graph()
    loss = G.graph["loss_node"]
    checked = 0
    for n, d in G.nodes(data=True):
        if n == loss:
            assert d["grad"] == 1.0
            continue
        flows = [e["grad_flow"] for _, _, e in G.out_edges(n, data=True)]
        assert math.fsum(flows) == pytest.approx(d["grad"], rel=1e-9, abs=1e-15)
        checked += 1
    assert checked == G.number_of_nodes() - 1
    for _u, v, e in G.edges(data=True):
        assert e["grad_flow"] == pytest.approx(e["local_grad"] * G.nodes[v]["grad"], rel=1e-12, abs=1e-300)


def test_every_node_has_a_scope_and_its_attributes(traced):
    G = traced.graph()
    for _, d in G.nodes(data=True):
        assert d["scope"] and d["stage"]
        if d["op"] == "param":
            assert d["scope"] == f"param/{d['param']}" and len(d["index"]) == 2
        elif d["scope"] != "loss/mean":
            assert "pos" in d and d["block"] in ("embed", "attn", "mlp", "lm_head", "loss")
        if d["block"] == "attn" and not d["scope"].startswith("param/") and d["stage"] in ("logits", "weights", "out"):
            assert "head" in d and "layer" in d


def test_hand_computed_attention_weights():
    """n_embd 4, one head, two tokens: the weights at position 1 are softmax(q1.k_t / 2) by hand."""
    t = Trainer(["ab"], TrainConfig(steps=3, seed=2), n_embd=4, n_head=1, n_layer=1, block_size=2)
    sd = {k: [[p.data for p in row] for row in m] for k, m in t.model.state_dict.items()}
    tokens = t.tokens_for(0)
    tr = trace_step(t, 0)
    G = tr.graph("elementary")  # microGPT's own ops, whose counts the shapes give
    weights = sorted(
        (
            (d["key"], d["data"])
            for _, d in G.nodes(data=True)
            if d["scope"] == "pos1/layer0/attn/head0/weights" and "key" in d
        )
    )
    assert [k for k, _ in weights] == [0, 1]

    def rms(x):
        s = (sum(v * v for v in x) / len(x) + 1e-5) ** -0.5
        return [v * s for v in x]

    def lin(x, w):
        return [sum(a * b for a, b in zip(row, x)) for row in w]

    xs = [rms(rms([a + b for a, b in zip(sd["wte"][tok], sd["wpe"][p])])) for p, tok in enumerate(tokens[:2])]
    q1 = lin(xs[1], sd["layer0.attn_wq"])
    ks = [lin(x, sd["layer0.attn_wk"]) for x in xs]
    logits = [sum(a * b for a, b in zip(q1, k)) / 2 for k in ks]
    exps = [math.exp(logit - max(logits)) for logit in logits]
    expect = [e / sum(exps) for e in exps]
    assert [w for _, w in weights] == pytest.approx(expect, rel=1e-12)
    assert sum(w for _, w in weights) == pytest.approx(1.0, rel=1e-15)
    # the key cached at position 0 is the same node position 1 uses: edges cross positions
    k0 = [n for n, d in G.nodes(data=True) if d["scope"] == "pos0/layer0/attn/k" and "unit" in d]
    assert any(G.nodes[v]["scope"].startswith("pos1/") for n in k0 for v in G.successors(n))


@pytest.mark.parametrize("level", ["block", "stage", "layer"])
def test_collapse_conserves_counts(traced, level):
    G = traced.graph()
    C = traced.collapse(level)
    assert sum(d["count"] for _, d in C.nodes(data=True)) == G.number_of_nodes()
    assert (
        sum(d["count"] for _, _, d in C.edges(data=True)) + sum(d["internal_edges"] for _, d in C.nodes(data=True))
        == G.number_of_edges()
    )
    ops = Counter()
    for _, d in C.nodes(data=True):
        ops.update(d["ops"])
    assert ops == Counter(d["op"] for _, d in G.nodes(data=True))
    if level == "block":
        n = len(traced.meta["tokens"]) - 1
        assert {f"pos{p}/layer0/attn" for p in range(n)} <= set(C.nodes)
        # the KV cache carries gradient from later positions' attention back to earlier ones
        assert C.has_edge("pos0/layer0/attn", "pos1/layer0/attn")
        assert C.edges["pos0/layer0/attn", "pos1/layer0/attn"]["grad_flow_abs"] > 0


def test_collapse_rejects_unknown_level(traced):
    with pytest.raises(ValueError):
        traced.collapse("head")


def test_nan_finder_on_an_absurd_learning_rate():
    t = Trainer(NAMES, TrainConfig(steps=10, seed=1, lr=1e6), **SMALL)
    t.train_step()
    found = trace_step(t, 1).first_nonfinite()
    assert found is not None
    assert found["what"] in ("value", "gradient") and found["scope"]
    assert not math.isfinite(found["data"] if found["what"] == "value" else found["grad"])
    if found["what"] == "value":  # the first non-finite value comes from finite operands
        assert all(math.isfinite(o["data"]) for o in found["operands"])


def test_nan_finder_on_a_healthy_step(traced):
    assert traced.first_nonfinite() is None


def test_top_paths_are_real_paths_with_their_products(traced):
    G = traced.graph()
    target = "layer0.attn_wq[1,2]"
    src = traced.resolve(target)
    paths = traced.top_paths(target, k=4)
    assert len(paths) == 4
    mags = [abs(p["contribution"]) for p in paths]
    assert mags == sorted(mags, reverse=True)
    for p in paths:
        nodes = p["nodes"]
        assert nodes[0] == src and nodes[-1] == G.graph["loss_node"]
        product = 1.0
        for u, v in zip(nodes, nodes[1:]):
            product *= G.edges[u, v]["local_grad"]
        assert p["contribution"] == pytest.approx(product, rel=1e-9)


def _every_candidate_links(successors, loss, nodes, k):
    """best_links as first written: every (successor, rank) a candidate, one stable sort."""
    best = {loss: [(1.0, None)]}
    for n in sorted(nodes, reverse=True):
        if n != loss:
            cands = [(lg * c, (v, r)) for v, lg in successors(n) for r, (c, _) in enumerate(best.get(v, ()))]
            cands.sort(key=lambda t: _magnitude(t[0]), reverse=True)
            best[n] = cands[:k]
    return best


SIMPLE = st.sampled_from([1.0, -1.0, 2.0, 0.5, -0.5, 0.0, -0.0, math.inf, -math.inf, math.nan, 1e308])
GRADS = st.one_of(SIMPLE, SIMPLE, SIMPLE, st.floats())  # mostly numbers whose products tie


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), n=st.integers(2, 12), k=st.integers(1, 3))
def test_best_links_equal_ranking_every_candidate(data, n, k):
    """Only the successors whose best path ranks among the k best are expanded: the same links, ties,
    zeros, nan and inf included, as ranking every (successor, rank) pair."""
    out = {u: [(v, data.draw(GRADS)) for v in sorted(data.draw(st.sets(st.integers(u + 1, n - 1), max_size=5)))]
           for u in range(n - 1)}  # fmt: skip
    out[n - 1] = []
    _same_links(out, k)


def _same_links(out, k):
    loss = len(out) - 1
    got = best_links(out.__getitem__, loss, range(len(out)), k)
    assert repr(got) == repr(_every_candidate_links(out.__getitem__, loss, range(len(out)), k))  # nan == nan


def test_best_links_keep_successor_order_among_ties():
    # node 0's successors in order: 1 (best 3), 2 (best 5, next 3: a tie with 1's), 3 (best 1); the two
    # best from 0 are 2's best, then 1's (it comes before 2's second in successor order)
    out = {
        0: [(1, 1.0), (2, 1.0), (3, 1.0)],
        1: [(5, 3.0)],
        2: [(4, 1.0), (5, 5.0)],
        3: [(5, 1.0)],
        4: [(5, 3.0)],
        5: [],
    }
    _same_links(out, 2)
    assert [link for _, link in best_links(out.__getitem__, 5, range(6), 2)[0]] == [(2, 0), (1, 0)]


def test_a_node_with_one_path_gets_its_whole_gradient(traced):
    G = traced.graph()
    loss = G.graph["loss_node"]
    const = next(u for u in G.predecessors(loss) if G.nodes[u]["op"] == "const")  # the 1/n of the mean
    (path,) = traced.top_paths(const, k=3)
    assert path["contribution"] == pytest.approx(G.nodes[const]["grad"])


def test_dead_relus_are_found():
    t = trainer(seed=3)
    for c in range(len(t.model.state_dict["layer0.mlp_fc1"][5])):
        t.model.state_dict["layer0.mlp_fc1"][5][c].data = 0.0  # unit 5 never fires
    dead = trace_step(t, 0).dead_relus()
    assert {"layer": 0, "unit": 5, "positions": len(t.tokens_for(0)) - 1} in dead
    assert all(d["unit"] != 5 or d["layer"] == 0 for d in dead)


def test_bad_requests_give_one_line_errors(mini, tmp_path):
    G = mini.graph()
    with pytest.raises(TraceError, match="no scope"):
        mini.scope_nodes("pos99/layer0")
    with pytest.raises(TraceError, match="no parameter matrix"):
        mini.resolve("nosuch[1,2]")
    with pytest.raises(TraceError, match="no node"):
        mini.resolve(10**9)
    with pytest.raises(TraceError, match="beyond"):
        trace_step(trainer(steps=3), 5)
    path = tmp_path / "t.json"
    save_trace(G, path)
    data = json.loads(path.read_text())
    data["graph"]["format"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(TraceError, match="format 99"):
        load_trace(path)
    path.write_text("{not json")
    with pytest.raises(TraceError, match="not a trace file"):
        load_trace(path)
    with pytest.raises(TraceError, match="no such"):
        load_trace(tmp_path / "missing.json")


def test_save_load_round_trip_gives_an_identical_graph(mini, tmp_path):
    G = mini.graph()
    save_trace(G, tmp_path / "a.json")
    H = load_trace(tmp_path / "a.json").graph()
    assert nx.utils.graphs_equal(G, H)
    assert all(G.nodes[n] == H.nodes[n] for n in G)
    assert all(G.edges[e] == H.edges[e] for e in G.edges)
    assert G.graph == H.graph
    save_trace(H, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    # the loaded trace collapses exactly like the live one
    assert nx.utils.graphs_equal(load_trace(tmp_path / "a.json").collapse("block"), mini.collapse("block"))


def test_traces_are_deterministic(tmp_path):
    for name in ("a", "b"):
        save_trace(trace_step(trainer(seed=9, **MINI), 0).graph(), tmp_path / f"{name}.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
def test_graphml_and_gexf_exports_parse(mini, tmp_path, fmt):
    G = mini.graph("fused")
    path = tmp_path / f"t.{fmt}"
    export(G, path, fmt)
    ET.parse(path)  # well-formed XML
    H = nx.read_graphml(path) if fmt == "graphml" else nx.read_gexf(path)
    assert H.number_of_nodes() == G.number_of_nodes() and H.number_of_edges() == G.number_of_edges()
    if fmt == "graphml":
        param = next(n for n, d in G.nodes(data=True) if d["op"] == "param")
        h = H.nodes[str(param)]
        assert [h["index_row"], h["index_col"]] == G.nodes[param]["index"]
        assert h["grad"] == G.nodes[param]["grad"]
        assert json.loads(H.graph["tokens"]) == G.graph["tokens"]


def test_trace_text_leaves_the_trainer_as_it_was():
    t, plain = trainer(seed=6), trainer(seed=6)
    tr = trace_text(t, 0, "ava")
    G = tr.graph("elementary")  # microGPT's own ops, whose counts the shapes give
    assert (
        G.graph["doc"] == "ava" and G.graph["update"] is False and G.graph["chars"] == ["<BOS>", "a", "v", "a", "<BOS>"]
    )
    assert tr.loss == plain.model.loss(plain.tokenizer.encode("ava")).data
    assert all("new_data" not in d for _, d in G.nodes(data=True))
    assert "update_ratio" not in G.graph["param_stats"]["wte"]
    assert t.step == 0 and all(p.grad == 0 for p in t.model.params)
    assert [p.data for p in t.model.params] == [p.data for p in plain.model.params]
    assert t.train_step() == plain.train_step()


@pytest.mark.parametrize("text, message", [("Ava!", "not in the vocabulary"), ("abigailabigail", "at most block_size")])
def test_trace_text_refuses_what_the_model_cannot_read(text, message):
    with pytest.raises(TraceError, match=message):
        trace_text(trainer(), 0, text)
