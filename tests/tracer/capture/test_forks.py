"""The patterns the world's microGPT forks use (bench/forks.py found them in public forks), each in a
small script of ours (tests/scripts/forks/): traced, named right, and read by every command."""

import math

import pytest

from bench.forks import READERS  # the commands the corpus of forks goes through
from conftest import ROOT, assert_refused, invoke
from microtrace.tracer import load_trace, trace_script

FORKS = ROOT / "tests" / "scripts" / "forks"

# script -> (step, what the trace's conventions must say)
PATTERNS = {
    # li read inside a comprehension (a cell variable), `chars` with '<BOS>' in it, the head loop `head`
    "cell_variable_chars": (1, {"pos": "pos_id", "layer": "li", "head": "head", "params": "state_dict", "chars": "chars"}),
    # a local dict `weights` of main(), doc/tokens locals, backward() two functions deep, loops `layer`, `t`
    "local_state": (1, {"pos": "t", "layer": "layer", "head": "h", "params": "train_step().weights",
                        "chars": "train_step().uchars", "doc": "train_step().doc"}),
    # self.state_dict of a model object, self.tok.uchars, a latent loop `l` over range(self.n_latent)
    "model_object": (1, {"pos": "pos_id", "layer": "li", "head": "l", "params": "step().self.state_dict",
                         "chars": "step().self.tok.uchars"}),
    # the state in dicts: state["state_dict"], tokenizer["uchars"]; sums from a Value(0.0) of its own
    "dict_state": (1, {"pos": "pos_id", "layer": "li", "head": "h", "params": "run_one_step().state.state_dict",
                       "chars": "run_one_step().tokenizer.uchars"}),
    # split across files: the training loop a method of a model object in another module than the script
    "split_files": (1, {"pos": "pos_id", "layer": "li", "head": "h", "params": "learn().self.state_dict",
                        "chars": "learn().self.tok.uchars", "doc": "learn().doc"}),
    # functions of its own that make nodes (safe_log, gelu), outside the Value class; `unique_chars`
    "custom_op": (1, {"pos": "pos_id", "layer": "li", "head": "h", "params": "state_dict", "chars": "unique_chars"}),
}  # fmt: skip


def read_by_every_command(trace_file, tmp_path, skip=()):
    for name, args in READERS.items():
        if name in skip:
            continue
        result = invoke(*[a.format(out=tmp_path) for a in args], "--trace", trace_file)
        assert result.exit_code == 0, (name, result.output)


def traced(tmp_path, name, step, *args):
    out = tmp_path / f"{name}.json"
    result = invoke("trace", "--script", FORKS / f"{name}.py", "--step", step, "-o", out, "--", *args)
    assert result.exit_code == 0, result.output
    return out


def check_pattern(name, tmp_path, read=True):
    step, expected = PATTERNS[name]
    out = traced(tmp_path, name, step, 4)
    t = load_trace(out)  # the readers' own rules
    found = t.meta["conventions"]
    assert {k: found.get(k) for k in expected} == expected
    assert found["attention"] is True
    assert t.meta["chars"][0] == "<BOS>" and len(t.meta["chars"]) == len(t.meta["tokens"]) >= 3
    G = t.graph()
    weights = [d for _, d in G.nodes(data=True) if d.get("stage") == "weights"]
    n = len(t.meta["tokens"]) - 1
    assert len(weights) == 2 * n * (n + 1) // 2  # two heads, every query, every key at or before it
    scopes = {d["scope"] for _, d in G.nodes(data=True)}
    assert "pos1/gpt/layer0/head1/softmax/weights" in scopes or "pos1/forward/layer0/head1/softmax/weights" in scopes
    assert not any(part in s.split("/") for s in scopes for part in ("main", "train", "train_step", "step"))
    if read:
        read_by_every_command(out, tmp_path)


def test_a_cell_variable_and_chars_are_found_and_every_command_reads_the_trace(tmp_path):
    check_pattern("cell_variable_chars", tmp_path, read=False)
    # the explorer's page of it (~1.5 CPU-s) is built in the slow test below; test_explore_script builds
    # one of a script's trace in the fast tier
    read_by_every_command(tmp_path / "cell_variable_chars.json", tmp_path, skip=("explore",))


def test_state_kept_in_dicts_is_found_and_sums_from_a_value_of_its_own_are_fused(tmp_path):
    check_pattern("dict_state", tmp_path, read=False)  # every command reads it in the slow test below
    t = load_trace(tmp_path / "dict_state.json")
    fused = t.data("fused")
    assert {"lin", "dot", "sum"} <= set(fused.ops) and len(fused) * 2 < len(t.data("elementary"))


def test_an_op_made_by_a_function_of_the_scripts_is_named_by_it(tmp_path):
    check_pattern("custom_op", tmp_path, read=False)  # every command reads it in the slow test below
    G = load_trace(tmp_path / "custom_op.json").graph()
    made = {}
    for n, d in G.nodes(data=True):
        made.setdefault(d["op"], []).append(n)
    assert len(made["safe_log"]) == len(G.graph["tokens"]) - 1  # one per position's loss
    assert len(made["gelu"]) == 8 * (len(G.graph["tokens"]) - 1)  # the MLP's 8 hidden units
    assert all(len(G.pred[n]) == 1 for n in made["safe_log"] + made["gelu"])


def test_a_fork_split_across_files_has_its_document_found_in_the_other_modules_frames(tmp_path):
    check_pattern("split_files", tmp_path, read=False)  # every command reads it in the slow test below
    assert load_trace(tmp_path / "split_files.json").meta["doc"] == "bo"


def test_a_list_of_matrices_named_params_names_its_matrices_in_order(tmp_path):
    """no-magic's microoptimizer: `params = [embedding, projection]`, an argument of its training
    function. Its parameters were 'persisting leaves' (one unnamed column in gradflow)."""
    out = traced(tmp_path, "param_list", 1, 3)
    t = load_trace(out)
    assert t.meta["conventions"]["params"] == "train().params"
    shapes = {name: tuple(s["shape"]) for name, s in t.meta["param_stats"].items()}
    assert shapes == {"params0": (10, 4), "params1": (10, 4)}  # 9 letters and BOS, n_embd 4
    read_by_every_command(out, tmp_path, skip=("attention", "explore", "report"))


def test_a_bidirectional_attention_is_recorded_as_no_attention_and_attention_says_why(tmp_path):
    """A BERT-style encoder (no-magic's microbert): every query reads every position. Only the last
    position's softmax has pos + 1 outputs; the trace said it found attention and `attention` refused
    with "lacks the weight of layer 0 head 0 query 0 key 0". Now nothing is marked as weights."""
    out = traced(tmp_path, "bidirectional", 1, 4)
    t = load_trace(out)
    assert t.meta["conventions"]["attention"] is False
    assert not any(d.get("stage") == "weights" for _, d in t.graph().nodes(data=True))
    assert_refused(invoke("attention", "--trace", out, "-o", tmp_path / "a.png"), "causal", alone=True)
    assert not (tmp_path / "a.png").exists()
    read_by_every_command(out, tmp_path, skip=("attention", "explore", "report"))


@pytest.mark.slow  # two pages of their own; the fast test above runs every other command
def test_a_bidirectional_attention_is_drawn_by_the_pages(tmp_path):
    out = traced(tmp_path, "bidirectional", 1, 4)
    read_by_every_command(out, tmp_path, skip=("attention", "graph", "gradflow", "doctor", "export", "inspect"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["cell_variable_chars", "local_state", "model_object", "dict_state", "custom_op", "split_files"]
)
def test_fork_patterns_are_found_and_every_command_reads_the_trace(name, tmp_path):
    check_pattern(name, tmp_path)


@pytest.mark.slow
def test_the_training_loop_is_no_scope_at_step_0_either():
    t = trace_script(FORKS / "local_state.py", step=0, args=["2"])
    scopes = {d["scope"] for _, d in t.graph().nodes(data=True)}
    assert "pos0/gpt/layer0/head0/softmax/weights" in scopes
    assert not any(s.startswith(("main", "train")) for s in scopes)


def test_numpy_values_are_floats_and_toy_backward_calls_give_a_readable_trace(tmp_path):
    pytest.importorskip("numpy")
    toy = load_trace(traced(tmp_path, "numpy_toy_first", 0, 3))
    assert toy.meta["param_stats"] == {} and toy.meta["conventions"]["params"] is None
    # a view that needs what the step does not have says so, in one line; the others draw what there is
    read_by_every_command(tmp_path / "numpy_toy_first.json", tmp_path, skip=("attention", "gradflow"))
    refused = invoke("attention", "--trace", tmp_path / "numpy_toy_first.json", "-o", tmp_path / "a.png")
    assert_refused(refused, "no attention weights", "no loop over the position or the layer or the head")
    refused = invoke("gradflow", "--trace", tmp_path / "numpy_toy_first.json", "-o", tmp_path / "f.png")
    assert_refused(refused, "uses no parameter matrices")
    t = load_trace(traced(tmp_path, "numpy_toy_first", 3, 4))
    assert t.meta["conventions"]["params"] == "model.parameters" and t.meta["update"] is True
    G = t.graph()
    for _, d in G.nodes(data=True):
        assert type(d["data"]) is float and type(d["grad"]) is float and math.isfinite(d["data"])
        if d["op"] == "param":
            assert type(d["new_data"]) is float
    assert {"tanh", "*", "+", "param"} <= {d["op"] for _, d in G.nodes(data=True)}


@pytest.mark.parametrize(
    "value, kind",
    [("complex(1, 2)", "complex"), ("None", "NoneType"), ("[1.0]", "list"), ("'3'", "str")],
)
def test_a_value_that_is_not_a_real_number_is_one_line_exit_2(tmp_path, value, kind):
    script = tmp_path / "train.py"
    script.write_text(
        (FORKS / "engine.py").read_text() + f"\na = Value(2.0)\nb = a * a\nb.data = {value}\nb.backward()\n"
    )
    out = tmp_path / "out" / "s.json"
    result = invoke("trace", "--script", script, "-o", out)
    assert_refused(result, f"of type {kind}", "a trace records real numbers")
    assert not out.exists() and not out.parent.exists()


def test_the_fused_view_of_a_script_folds_its_sums_as_the_engine_makes_them(tmp_path):
    from microtrace.tracer.capture import script
    from microtrace.tracer.model.fused import fuse

    request = {"path": str(FORKS / "cell_variable_chars.py"), "step": 1, "args": ["3"]}
    trace = script.child_run(request).trace()  # what the child process sends, and its fused view
    elementary, fused = trace.data("elementary"), trace.data("fused")
    assert not {"dot", "lin", "sum"} & set(elementary.ops)  # the script's own nodes
    assert {"dot", "lin", "sum"} <= set(fused.ops) and len(fused) * 2 < len(elementary)
    assert fused.data[fused.loss] == elementary.data[elementary.loss]
    assert list(fuse(elementary).data) == list(fused.data)  # one way of folding, whatever the source
