"""Tracing code microtrace did not write: an unmodified microGPT-style script, a micrograd-style one,
a model on microtrace's engine through `recording`/`trace_call`, and every bad input of `--script`."""

import json
import math
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, invoke
from microtrace.engine import hooks
from microtrace.engine.value import Value
from microtrace.tracer import ScriptError, load_trace, recording, trace_call, trace_script
from microtrace.tracer.analysis.queries import path_links
from microtrace.tracer.capture import autograd
from microtrace.viz.graph.diagram import view_name
from microtrace.viz.graph.figure import graph_figure

SCRIPTS = ROOT / "tests" / "scripts"
MICROGPT = SCRIPTS / "microgpt_style" / "train.py"
MICROGRAD = SCRIPTS / "micrograd_style" / "train.py"

# The yardstick: the script run plainly in a fresh interpreter. A profile hook (nothing of
# microtrace's) reads, when the K-th backward() returns, the loss and every parameter's gradient.
PLAIN = r"""
import json, runpy, sys
path, k, params = sys.argv[1], int(sys.argv[2]), sys.argv[3]
calls = [0]
def hook(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "backward" and frame.f_code.co_filename.endswith(".py"):
        if frame.f_back is not None and frame.f_back.f_code.co_name == "backward":
            return
        if calls[0] == k:
            g = sys.modules["__main__"].__dict__
            found = eval(params, g)
            print(json.dumps({"loss": frame.f_locals["self"].data,
                              "grads": [[name, r, c, p.grad] for name, r, c, p in found]}), file=sys.__stderr__)
            sys.setprofile(None)
            raise SystemExit(0)
        calls[0] += 1
sys.argv = [path] + sys.argv[4:]
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])
sys.setprofile(hook)
runpy.run_path(path, run_name="__main__")
"""

STATE_DICT = "[(n, r, c, p) for n, m in state_dict.items() for r, row in enumerate(m) for c, p in enumerate(row)]"
MODEL = "[('model.parameters', i, 0, p) for i, p in enumerate(model.parameters())]"


def plain(path, step, params, *args):
    out = subprocess.run([sys.executable, "-c", PLAIN, str(path), str(step), params, *map(str, args)],
                         cwd=path.parent, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1])


def param_grads(G):
    return {(d["param"], *d["index"]): d["grad"] for _, d in G.nodes(data=True) if d["op"] == "param"}


# -- (a) microGPT's style: the script's own numbers, bit for bit -----------------------------------------


@pytest.fixture(scope="module")
def microgpt_trace():
    return trace_script(MICROGPT, step=2, args=["5"])


@pytest.mark.slow  # microGPT's own size (~5 CPU-s with the test below); the same check on a fork at MINI size is fast
def test_microgpt_style_loss_and_every_gradient_equal_the_plain_run(microgpt_trace):
    same_numbers_as_the_plain_run(microgpt_trace, plain(MICROGPT, 2, STATE_DICT, 5), at_least=1000)


def test_a_forks_loss_and_every_gradient_equal_the_plain_run():
    """A microGPT fork at MINI size, with operations of its own (safe_log, GELU): the script's numbers, bit
    for bit, at its second step."""
    fork = SCRIPTS / "forks" / "custom_op.py"
    same_numbers_as_the_plain_run(trace_script(fork, step=1, args=["3"]), plain(fork, 1, STATE_DICT, 3), at_least=100)


def same_numbers_as_the_plain_run(trace, ref, at_least):
    """The traced step's loss and every parameter's gradient are those of the plain run `ref` (PLAIN)."""
    G = trace.graph()
    assert G.graph["loss"] == ref["loss"]
    assert G.nodes[G.graph["loss_node"]]["data"] == ref["loss"]
    traced = param_grads(G)
    used = 0
    for name, r, c, grad in ref["grads"]:
        if (name, r, c) in traced:
            assert traced[(name, r, c)] == grad, (name, r, c)
            used += 1
        else:
            assert grad == 0, f"{name}[{r},{c}] has a gradient but is not in the trace"
    assert used == len(traced) > at_least
    stats = G.graph["param_stats"]
    assert set(stats) == {name for name, *_ in ref["grads"]}
    assert stats["wte"]["grad_norm"] == math.sqrt(math.fsum(g * g for n, r, c, g in ref["grads"] if n == "wte"))


@pytest.mark.slow  # microGPT's own size; a fork's conventions are found fast in test_forks
def test_microgpt_style_conventions_provenance_and_update(microgpt_trace):
    t = microgpt_trace
    found = t.meta["conventions"]
    assert found["autograd"]["style"] == "microGPT" and found["params"] == "state_dict"
    assert (found["pos"], found["layer"], found["head"]) == ("pos_id", "li", "h")
    assert found["attention"] is True and found["chars"] == "uchars"
    assert t.meta["update"] is True and t.meta["tokens"][0] == len(t.meta["chars"][0]) - 5 + max(t.meta["tokens"])
    G = t.graph()
    weights = [d for _, d in G.nodes(data=True) if d.get("stage") == "weights"]
    n = len(t.meta["tokens"]) - 1
    assert len(weights) == 4 * n * (n + 1) // 2  # every head, every query, every key at or before it
    assert all(
        d["key"] <= d["pos"] and d["source"].startswith("train.py:") and d["function"] == "softmax" for d in weights
    )
    # a query's weights sum to 1
    row = [d["data"] for d in weights if d["pos"] == 3 and d["head"] == 1]
    assert len(row) == 4 and abs(sum(row) - 1) < 1e-12
    # parameters named as built-in traces name them, with the update the script made
    p = next(d for _, d in G.nodes(data=True) if d.get("param") == "layer0.attn_wq")
    assert p["scope"] == "param/layer0.attn_wq" and p["layer"] == 0 and "new_data" in p and p["new_data"] != p["data"]
    # the stack of the script's own functions, with microGPT's loop variables
    scopes = {d["scope"] for _, d in G.nodes(data=True)}
    assert "pos3/gpt/layer0/head1/softmax/weights" in scopes and "pos0/gpt/layer0/linear" in scopes


@pytest.mark.slow
def test_the_attention_figure_and_the_block_view_read_a_script_trace(microgpt_trace, tmp_path):
    from microtrace.tracer import save_trace
    from microtrace.tracer.analysis.attention import read_attention

    save_trace(microgpt_trace.graph(), tmp_path / "s.json")
    loaded = load_trace(tmp_path / "s.json")  # the validator takes a script's trace
    assert loaded.meta["conventions"] == microgpt_trace.meta["conventions"]
    data = read_attention(loaded)
    assert len(data.attention) == 1 and len(data.attention[0]) == 4
    C = microgpt_trace.collapse("block")
    assert "pos0/gpt/layer0" in C and "pos0/softmax" in C
    assert sum(d["count"] for _, d in C.nodes(data=True)) == microgpt_trace.graph().number_of_nodes()


# -- (b) micrograd's style ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def micrograd_trace():
    return trace_script(MICROGRAD, step=1, args=["4"])


def test_micrograd_style_mlp_values_gradients_and_local_derivatives(micrograd_trace):
    t = micrograd_trace
    ref = plain(MICROGRAD, 1, MODEL, 4)
    G = t.graph()
    assert t.meta["conventions"]["autograd"]["style"] == "micrograd"
    assert t.meta["conventions"]["params"] == "model.parameters"
    # micrograd keeps operands in a set: its backward's order, and so the last bits of a gradient summed
    # from many uses (and of the step after it), can differ from one run of the script to the next
    assert G.graph["loss"] == pytest.approx(ref["loss"], rel=1e-13)
    traced = param_grads(G)
    assert len(traced) == len(ref["grads"])
    for name, r, c, grad in ref["grads"]:
        assert traced[(name, r, c)] == pytest.approx(grad, rel=1e-12, abs=1e-15)
    ops = {d["op"] for _, d in G.nodes(data=True)}
    assert {"+", "*", "**", "relu", "tanh", "sigmoid"} <= ops
    for u, v, e in G.edges(data=True):
        d = G.nodes[v]
        if d["op"] == "tanh":
            assert e["local_grad"] == 1 - d["data"] ** 2
        elif d["op"] == "sigmoid":  # not one of micrograd's: read from the script's own _backward
            assert e["local_grad"] == d["data"] * (1 - d["data"]) and "local_grad_known" not in d
    # gradients that flow: each node's gradient is the sum of what flows out along its edges (every
    # edge known: an unknown derivative, NaN, made every path through the script's sigmoid NaN)
    for n in G.nodes:
        out = [e["grad_flow"] for _, _, e in G.out_edges(n, data=True)]
        if out and G.nodes[n]["op"] != "param":
            assert G.nodes[n]["grad"] == pytest.approx(math.fsum(out), rel=1e-9, abs=1e-12)
    # and the largest gradient paths from every node are finite (one pass gives them all)
    contributions = [c for best in path_links(G, G.nodes, 3).values() for c, _ in best]
    assert contributions and all(math.isfinite(c) for c in contributions)


def test_a_scripts_figure_titles_name_its_own_nodes_and_leave_out_the_missing_document(micrograd_trace):
    """A micrograd-style script has no `doc`: a title has no “”, and names its view: the script's own nodes
    (elementary), or the fused view folded from them (the block view's and a scalar view's, as `graph` draws
    them and the explorer shows them)."""
    t = micrograd_trace
    assert t.meta["doc"] == ""
    block = graph_figure(t, level="block").source
    scalar = graph_figure(t, level="scalar", around=5, hops=1, view="elementary").source
    fused = graph_figure(t, level="scalar", around=5, hops=1, view="fused").source
    for source in (block, scalar, fused):
        assert "step 1" in source and "“" not in source
    assert "own nodes)" in scalar  # (the script's own nodes), the apostrophe escaped in the HTML label
    assert "fused view" in fused and "own nodes" not in fused
    # a model on microtrace's own engine has real fused dot products: its view is named as before
    assert view_name({"view": "fused", "conventions": {"autograd": {"style": "microtrace"}}}) == "fused view"


def test_an_operation_micrograd_does_not_define_is_read_from_its_own_backward():
    class Node:  # micrograd's shape: data, grad, _prev, _op, _backward
        def __init__(self, data, prev=(), op=""):
            self.data, self.grad, self._prev, self._op, self._backward = data, 0.5, set(prev), op, lambda: None

    x = Node(3.0)
    y = Node(27.0, (x,), "cube")

    def backward():
        x.grad += 3 * x.data**2 * y.grad

    y._backward = backward
    assert autograd.locals_of(y, autograd.MICROGRAD, (x,), "cube", None) == ((27.0,), True)
    assert x.grad == 0.5 and y.grad == 0.5  # put back: the script's step is untouched
    y._backward = lambda: 1 / 0  # a closure that fails: unknown, and said so
    (local,), known = autograd.locals_of(y, autograd.MICROGRAD, (x,), "cube", None)
    assert math.isnan(local) and known is False and x.grad == 0.5 and y.grad == 0.5


# -- (c) a model on microtrace's engine ---------------------------------------------------------------


def _tiny_model():
    w = [[Value(0.5), Value(-0.25)], [Value(0.75), Value(1.5)]]
    x = [Value(1.0), Value(2.0)]

    def loss():
        with hooks.scope("layer0"), hooks.scope("mlp"):
            h = [(w[r][0] * x[0] + w[r][1] * x[1]).relu() for r in range(2)]
        with hooks.scope("loss"):
            return (h[0] + h[1]) ** 2

    return w, loss


def test_trace_call_records_code_on_the_engine_with_its_scopes_and_names():
    w, loss = _tiny_model()
    t = trace_call(loss, params={"w": w})
    G = t.graph()
    assert t.loss == ((0.5 * 1 - 0.25 * 2) + max(0.0, 0.75 + 3.0)) ** 2 == G.graph["loss"]
    grads = param_grads(G)
    assert grads[("w", 1, 1)] == 2 * 3.75 * 2.0 and grads[("w", 0, 0)] == 0
    assert {d["scope"] for _, d in G.nodes(data=True)} >= {"layer0/mlp", "loss", "param/w"}
    page = t._repr_html_()
    assert ">step</th><td style='text-align:left'>0<" in page and "convention: scopes" in page
    t.meta["doc"] = "<b>&"
    assert "&#x27;&lt;b&gt;&amp;&#x27;" in t._repr_html_()


def test_recording_nests_and_puts_the_previous_observer_back():
    seen = []
    hooks.observe(seen.append)
    try:
        w, loss = _tiny_model()
        with recording(params={"w": w}) as outer:
            a = Value(1.0) * 3
            with recording() as inner:
                b = Value(2.0) * a
            c = b + 1
        assert hooks.observer == seen.append
        assert inner.values[-1] is b and c in outer.values and b in outer.values
        assert outer.trace(c).loss == 7.0
    finally:
        hooks.observe(None)


# -- (d) bad input: one line, exit 2, nothing written --------------------------------------------------


SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    "body, message",
    [
        ("print('hello')\n", "makes no scalar autograd class"),
        # the rest of the kinds of bad script run in make test-all (each a child process, ~1 s)
        pytest.param(
            MICROGPT.read_text().replace("    loss.backward()\n", "    pass\n"), "never calls backward()", marks=SLOW
        ),
        pytest.param(
            MICROGPT.read_text().replace("num_steps = int", "num_steps = 1 or int"),
            "ended after 1 backward() call: step 2 needs 3",
            marks=SLOW,
        ),
        ("raise RuntimeError('boom')\n", "raised RuntimeError: boom at train.py:1"),
        pytest.param("name = input('your name? ')\n", "reads standard input", marks=SLOW),
        pytest.param(
            "class V:\n    def __init__(self, x):\n        self.data, self.grad = x, 0\n"
            "    def __add__(self, o):\n        return V(self.data + o.data)\n"
            "    def backward(self):\n        pass\n\nV(1.0).backward()\n",
            "cannot recognise V's nodes",
            marks=SLOW,
        ),
        ("def f(:\n", "is not a Python file"),
        (
            "from microtrace.engine.value import Value\n(Value(2.0) * 3).backward()\n",
            "record it from Python with tracer.trace_call",
        ),
    ],
)
def test_bad_scripts_are_one_line_exit_2_and_nothing_written(tmp_path, body, message):
    script = tmp_path / "train.py"
    script.write_text(body)
    out = tmp_path / "out" / "step.json"
    result = invoke("trace", "--script", script, "--step", 2, "-o", out, "--", 3)
    assert result.exit_code == 2, result.output
    assert message in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert "Traceback" not in result.output and len(errors) == 1 and message in errors[0]
    assert not out.exists() and not out.parent.exists()


def test_verbose_shows_the_scripts_traceback(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("def f():\n    raise ValueError('deep')\n\nf()\n")
    result = invoke("trace", "--script", script, "--verbose", "-o", tmp_path / "s.json")
    assert result.exit_code == 2
    assert "Traceback" in result.output and 'train.py", line 2, in f' in result.output
    assert "script.py" not in result.output  # microtrace's own frames are left out


def test_a_path_that_is_not_a_script(tmp_path):
    assert "no such file" in invoke("trace", "--script", tmp_path / "nope.py", "-o", tmp_path / "s.json").output
    assert "is not a file" in invoke("trace", "--script", tmp_path, "-o", tmp_path / "s.json").output
    (tmp_path / "data.bin").write_bytes(b"\x00\xff\xfe")
    result = invoke("trace", "--script", tmp_path / "data.bin", "-o", tmp_path / "s.json")
    assert result.exit_code == 2 and "Python file" in result.output


def test_timeout_stops_a_script_that_runs_forever(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("while True:\n    pass\n")
    result = invoke("trace", "--script", script, "--timeout", 0.5, "-o", tmp_path / "s.json")
    assert result.exit_code == 2 and "within the timeout of 0.5 s" in result.output


def test_trace_script_cli_end_to_end_and_the_process_is_left_as_it_was(tmp_path):
    import os
    import random

    cwd, argv, state = os.getcwd(), list(sys.argv), random.getstate()
    out = tmp_path / "m.json"
    result = invoke("trace", "--script", MICROGRAD, "--step", 1, "-o", out, "--", 3)
    assert result.exit_code == 0, result.output
    assert (os.getcwd(), sys.argv, random.getstate()) == (cwd, argv, state)
    assert "engine" not in sys.modules  # the script's own module is imported afresh next time
    t = load_trace(out)
    assert t.meta["script"]["args"] == ["3"] and t.meta["conventions"]["autograd"]["class"] == "Value"
    assert invoke("doctor", "--trace", out).exit_code in (0, 1)
    result = invoke("attention", "--trace", out, "-o", tmp_path / "a.png")
    assert (
        result.exit_code == 2 and "no loop over the position or the layer or the head was recognised" in result.output
    )


def test_script_errors_are_trace_errors():
    with pytest.raises(ScriptError, match="no such file"):
        trace_script(SCRIPTS / "missing.py")


# -- gradcheck --script --------------------------------------------------------------------------------

TINY = """
import random

class Value:
    def __init__(self, data, children=(), local_grads=()):
        self.data, self.grad, self._children, self._local_grads = data, 0, children, local_grads
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))
    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))
    def backward(self):
        order, seen = [], set()
        def visit(v):
            if v not in seen:
                seen.add(v)
                for c in v._children:
                    visit(c)
                order.append(v)
        visit(self)
        self.grad = 1
        for v in reversed(order):
            for c, g in zip(v._children, v._local_grads):
                c.grad += g * v.grad

random.seed(0)
weights = [Value(random.uniform(-1, 1)) for _ in range(3)]
for step in range(4):
    x = [Value(float(step + i)) for i in range(3)]
    loss = sum((w * xi * w for w, xi in zip(weights, x)), Value(0.0))
    loss.backward()
    for w in weights:
        w.data -= 0.01 * w.grad
        w.grad = 0
"""


@pytest.mark.slow
def test_gradcheck_script_compares_the_scripts_gradients_with_finite_differences():
    result = invoke("gradcheck", "--script", MICROGRAD, "--step", 1, "--samples", 2, "--", 3)
    assert result.exit_code == 0, result.output
    assert "model.parameters" in result.output and result.output.rstrip().endswith("OK")
    for step in (0, 2):  # moved as the parameter is made (step 0), or before the optimizer (later)
        result = invoke("gradcheck", "--script", MICROGPT, "--step", step, "--samples", 1, "--", 3)
        assert result.exit_code == 0, result.output
        assert "layer0.mlp_fc1" in result.output and result.output.rstrip().endswith("OK")


def test_gradcheck_script_needs_named_parameters(tmp_path):
    script = tmp_path / "tiny.py"
    script.write_text(TINY)
    t = trace_script(script, step=2)  # the weights persist across steps: numbered leaves
    assert t.meta["conventions"]["params"] == "persisting leaves"
    assert {d["param"] for _, d in t.graph().nodes(data=True) if d["op"] == "param"} == {"leaves"}
    result = invoke("gradcheck", "--script", script, "--step", 2)
    assert result.exit_code == 2 and "its parameters have no names" in result.output


@pytest.mark.slow
def test_the_same_script_and_step_give_byte_identical_traces(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path in paths:
        result = invoke("trace", "--script", MICROGPT, "--step", 1, "-o", path, "--", 2)
        assert result.exit_code == 0, result.output
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_a_script_that_fails_after_the_step_is_recorded_still_gives_its_trace(tmp_path):
    script = tmp_path / "train.py"  # the micrograd-style MLP (a microGPT-style run costs 3x the CPU)
    shutil.copy(SCRIPTS / "micrograd_style" / "engine.py", tmp_path)
    script.write_text(
        MICROGRAD.read_text().replace(
            '    print(f"step {step} loss',
            "    assert step < 1, 'a bug after the update'\n    print(f\"step {step} loss",
        )
    )
    t = trace_script(script, step=1, args=["3"])
    assert t.meta["update"] is True and t.meta["step"] == 1
    with pytest.raises(ScriptError, match="raised AssertionError: a bug after the update at train.py:"):
        trace_script(script, step=2, args=["3"])
