"""Traces and other input files are validated before they are trusted: every command that reads a trace
refuses a damaged one with one line naming what is wrong; nested, enormous and non-regular files are
refused without hanging or exhausting memory."""

import json
import os
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safety import make_run, make_trace

from conftest import assert_refused, examples, invoke
from microtrace.tracer import TraceError
from microtrace.tracer.storage.validate import validate_trace

# Every command that takes --trace, with what it needs besides.
READERS = {
    "trace": ["-o", "{tmp}/out.json"],
    "export": ["-o", "{tmp}/out.graphml"],
    "inspect": [],
    "graph": ["-o", "{tmp}/out.svg"],
    "report": ["-o", "{tmp}/out.html"],
    "attention": ["-o", "{tmp}/out.png"],
    "gradflow": ["-o", "{tmp}/out.svg"],
    "doctor": [],
}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("traces")
    run, _ = make_run(tmp)
    return make_trace(run, tmp / "step.json").read_text()


def _damaged(text, change):
    data = json.loads(text)  # a fresh copy each time
    change(data)
    return data


def _node(i, **changes):
    def change(d):
        for k, v in changes.items():
            if v is None:
                d["nodes"][i].pop(k)
            else:
                d["nodes"][i][k] = v

    return change


def _param_node(d):
    return next(i for i, n in enumerate(d["nodes"]) if n["op"] == "param")


# name -> (damage, words the one-line message must hold)
DAMAGES = {
    "no grad": (lambda d: _node(41, grad=None)(d), "node 41: no 'grad'"),
    "grad a string": (lambda d: _node(7, grad="0.5")(d), "node 7: 'grad' should be a number"),
    "data a bool": (lambda d: _node(3, data=True)(d), "node 3: 'data' should be a number"),
    "unknown op": (lambda d: _node(12, op="sqrt")(d), "node 12: unknown op"),
    "scope with quotes": (lambda d: _node(12, scope='a"b\\')(d), "node 12: 'scope'"),
    "pos beyond the text": (lambda d: _node(len(d["nodes"]) - 3, pos=999)(d), "'pos'"),
    "index outside the matrix": (lambda d: _node(_param_node(d), index=[99, 0])(d), "'index'"),
    "index not a pair": (lambda d: _node(_param_node(d), index=5)(d), "'index'"),
    "param unknown": (lambda d: _node(_param_node(d), param="nope")(d), "not in the graph's param_stats"),
    "ids out of order": (lambda d: _node(5, id=6)(d), "node 5: its id"),
    "node not an object": (lambda d: d["nodes"].__setitem__(9, [1, 2]), "node 9"),
    "edge to nowhere": (lambda d: d["edges"][0].update(target=10**9), "is not a node"),
    "edge backwards (a cycle)": (
        lambda d: d["edges"][0].update(source=d["edges"][0]["target"], target=d["edges"][0]["source"]),
        "cycle",
    ),
    "edge twice": (lambda d: d["edges"].append(dict(d["edges"][0])), "second edge"),
    "edge without local_grad": (lambda d: d["edges"][5].pop("local_grad"), "no 'local_grad'"),
    "no param_stats": (lambda d: d["graph"].pop("param_stats"), "param_stats"),
    "shape wrong": (lambda d: next(iter(d["graph"]["param_stats"].values())).update(shape="8x8"), "'shape'"),
    "moved entry outside the matrix": (
        lambda d: d["graph"]["param_stats"]["wte"].update(moved_without_grad={"99,0": [0.1, 0.2]}),
        "moved_without_grad '99,0' is not an entry",
    ),
    "moved entry not a pair": (
        lambda d: d["graph"]["param_stats"]["wte"].update(moved_without_grad={"0,0": [0.1, "NaN"]}),
        "moved_without_grad 0,0 should be [value before, value after]",
    ),
    "moved not an object": (
        lambda d: d["graph"]["param_stats"]["wte"].update(moved_without_grad=[1]),
        "'moved_without_grad' should be an object",
    ),
    "loss_node missing": (lambda d: d["graph"].update(loss_node=10**9), "'loss_node'"),
    "chars short": (lambda d: d["graph"]["chars"].pop(), "'chars'"),
    "doc a number": (lambda d: d["graph"].update(doc=5), "'doc'"),
    "view unknown": (lambda d: d["graph"].update(view="sideways"), "'view'"),
    "format other": (lambda d: d["graph"].update(format=2), "format 2"),
    "a list": (lambda d: (d.clear(), d.update(nodes=[])), "no format"),
    "nodes a dict": (lambda d: d.update(nodes={}), "'nodes'"),
    "multigraph": (lambda d: d.update(multigraph=True), "multigraph"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_the_validator_names_what_is_wrong(good, damage):
    change, words = DAMAGES[damage]
    with pytest.raises(TraceError) as e:
        validate_trace(_damaged(good, change))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_good_trace_passes(good):
    validate_trace(json.loads(good))


COMMAND_DAMAGES = [
    "no grad",
    "edge to nowhere",
    "index outside the matrix",
    "pos beyond the text",
    "scope with quotes",
    "no param_stats",
]


# `make test` gives every command one damage (each damage reaches several commands); the slow run tries all pairs.
@pytest.mark.parametrize(
    "command, damage",
    [(c, COMMAND_DAMAGES[i % len(COMMAND_DAMAGES)]) for i, c in enumerate(sorted(READERS))]
    + [
        pytest.param(c, d, marks=pytest.mark.slow)
        for i, c in enumerate(sorted(READERS))
        for d in COMMAND_DAMAGES
        if d != COMMAND_DAMAGES[i % len(COMMAND_DAMAGES)]
    ],
)
def test_every_command_refuses_a_damaged_trace_in_one_line(good, tmp_path, command, damage):
    change, words = DAMAGES[damage]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_damaged(good, change)))
    args = [a.format(tmp=tmp_path) for a in READERS[command]]
    assert_refused(invoke(command, "--trace", path, *args), str(path), words)
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())  # nothing half-written


@pytest.mark.slow
@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_damage_to_a_trace_reaches_past_the_validator(good, data):
    """Any attribute of any node, edge or the graph removed or replaced by a value of another type: the
    validator refuses it, or what it lets through loads and is used by every reader without crashing."""
    where = data.draw(st.sampled_from(["graph", "nodes", "edges"]))
    d = json.loads(good)
    target = d["graph"] if where == "graph" else d[where][data.draw(st.integers(0, len(d[where]) - 1))]
    key = data.draw(st.sampled_from(sorted(target)))
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 10**6),
        st.floats(),
        st.text(max_size=3),
        st.lists(st.integers(0, 3), max_size=3),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    )
    if data.draw(st.booleans()):
        target.pop(key)
    else:
        target[key] = data.draw(junk)
    try:
        validate_trace(d)
    except TraceError as e:
        assert "\n" not in str(e)
        return
    # Accepted: then it must be usable by the readers that look at every node.
    import tempfile

    from microtrace.tracer.storage.io import load_trace

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.json")
        with open(path, "w") as f:
            json.dump(d, f)
        load_trace(path)
        for command in ("inspect", "doctor"):
            result = invoke(command, "--trace", path)
            assert result.exit_code in (0, 1), (key, result.output, result.exception)


def test_deeply_nested_json_is_refused_even_under_a_raised_recursion_limit(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)  # as bench/reference.py does: json's C recursion would overflow the stack
    try:
        assert_refused(invoke("inspect", "--trace", path), "nested too deeply")
        run, _ = make_run(tmp_path / "made")
        (run / "config.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
        assert_refused(invoke("sample", "--run", run), "nested too deeply")
    finally:
        sys.setrecursionlimit(old)


def test_an_enormous_trace_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(3 * 2**20)  # sparse: 3 MB of zeros, over a 2 MB limit
    assert_refused(
        invoke("inspect", "--trace", path, env={"MICROTRACE_MAX_FILE_MB": "2"}),
        "above the limit of 2 MB",
        "MICROTRACE_MAX_FILE_MB",
    )


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/null", "directory"])
def test_a_non_regular_trace_file_is_refused_without_hanging(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "pipe.json"
        os.mkfifo(path)
    elif kind == "directory":
        path = tmp_path
    else:
        path = kind
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(invoke("inspect", "--trace", path)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert outcome, "the command hung"
    assert_refused(outcome[0])


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_non_regular_training_data_and_run_files_are_refused(tmp_path, kind):
    path = tmp_path / "pipe.txt"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(kind)
    assert_refused(invoke("train", "--data", path, "--out", tmp_path / "run", "--steps", "1"), "not a regular file")
    run, _ = make_run(tmp_path / "made")
    config = run / "config.json"
    config.unlink()
    if kind == "fifo":
        os.mkfifo(config)
    else:
        config.symlink_to(kind)
    assert_refused(invoke("sample", "--run", run), "not a regular file")
