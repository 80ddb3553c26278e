"""The scalar engine: every op's gradient against central finite differences, fused ops against the
elementary chain they stand for (bit for bit), deep graphs, and inf/nan instead of exceptions."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import examples
from microtrace.engine import hooks
from microtrace.engine.value import Value, dot, dot_pairs, linear, vsum

finite = st.floats(-3, 3, allow_nan=False)
positive = st.floats(0.1, 3)


def numeric_grad(f, xs, i, h=1e-6):
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def check(f_value, f_float, xs):
    vs = [Value(x) for x in xs]
    out = f_value(*vs)
    out.backward()
    assert out.data == pytest.approx(f_float(*xs), rel=1e-12, abs=1e-12)
    for i, v in enumerate(vs):
        assert v.grad == pytest.approx(numeric_grad(f_float, xs, i), rel=1e-4, abs=1e-6)


@given(finite, finite)
def test_add_sub_mul_grads(a, b):
    check(lambda x, y: x + y, lambda x, y: x + y, [a, b])
    check(lambda x, y: x - y, lambda x, y: x - y, [a, b])
    check(lambda x, y: x * y, lambda x, y: x * y, [a, b])
    check(lambda x, y: x * y + x * x - y, lambda x, y: x * y + x * x - y, [a, b])


@given(finite, positive)
def test_div_and_reflected_grads(a, b):
    check(lambda x, y: x / y, lambda x, y: x / y, [a, b])
    check(lambda x, y: 2.5 / y - x, lambda x, y: 2.5 / y - x, [a, b])
    check(lambda x, y: 3 - x * 2 + 1.5 * y, lambda x, y: 3 - x * 2 + 1.5 * y, [a, b])
    check(lambda x, y: -x + (1 + y), lambda x, y: -x + (1 + y), [a, b])


@given(positive, st.sampled_from([2, 3, -1, -0.5, 0.5, 1.5]))
def test_pow_grad(a, k):
    check(lambda x: x**k, lambda x: x**k, [a])


@given(positive)
def test_log_exp_grads(a):
    check(lambda x: x.log(), math.log, [a])
    check(lambda x: x.exp(), math.exp, [a])
    check(lambda x: (x * x).log().exp(), lambda x: math.exp(math.log(x * x)), [a])


@given(finite.filter(lambda x: abs(x) > 1e-3))
def test_relu_grad(a):
    check(lambda x: x.relu() * 3, lambda x: max(0.0, x) * 3, [a])


def test_relu_is_microgpts_max():
    assert Value(-2.0).relu().data == 0 and isinstance(Value(-2.0).relu().data, int)
    assert Value(math.nan).relu().data == 0  # max(0, nan) is 0: microGPT hides a nan here


pair_lists = st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.lists(finite, min_size=n, max_size=n), st.lists(finite, min_size=n, max_size=n))
)


@settings(max_examples=examples(60))
@given(pair_lists, finite)
def test_dot_is_bitwise_the_elementary_sum(ab, w):
    a, b = ab
    # fused
    av, bv = [Value(x) for x in a], [Value(x) for x in b]
    out = dot(av, bv) * w
    out.backward()
    # elementary, as microGPT writes it
    ae, be = [Value(x) for x in a], [Value(x) for x in b]
    ref = sum(x * y for x, y in zip(ae, be)) * w
    ref.backward()
    assert out.data == ref.data
    assert [v.grad for v in av + bv] == [v.grad for v in ae + be]


@settings(max_examples=examples(60))
@given(st.lists(finite, min_size=1, max_size=12))
def test_dot_with_itself_and_vsum_are_bitwise_elementary(xs):
    fv = [Value(x) for x in xs]
    out = dot(fv, fv) + vsum(fv) * vsum(fv)
    out.backward()
    ev = [Value(x) for x in xs]
    ref = sum(x * x for x in ev) + sum(ev) * sum(ev)
    ref.backward()
    assert out.data == ref.data
    assert [v.grad for v in fv] == [v.grad for v in ev]


@pytest.mark.slow
def test_million_node_chain_backpropagates():
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1 and y.data == 1_000_001.0


def test_grads_accumulate_like_micrograd():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda: Value(0.0).log(), -math.inf),
        (lambda: Value(-1.0).log(), math.nan),
        (lambda: Value(1000.0).exp(), math.inf),
        (lambda: Value(0.0) ** -1, math.inf),
        (lambda: Value(-4.0) ** 0.5, math.nan),
        (lambda: Value(1e200) ** 2, math.inf),
    ],
)
def test_diverging_arithmetic_gives_inf_or_nan(make, expect):
    v = make()
    v.backward()  # no exception either way
    if math.isnan(expect):
        assert math.isnan(v.data)
    else:
        assert v.data == expect


def test_pow_takes_only_numbers():
    with pytest.raises(TypeError):
        Value(2.0) ** Value(2.0)


def test_operand_layouts_dot_interleaves_lin_concatenates():
    """The layouts the tracer's elementary view relies on: `dot_pairs` recovers each (a_j, b_j) product."""
    a = [Value(1.0) + 0, Value(2.0) + 0]  # not leaves: `linear` fuses only leaf weights times non-leaf inputs
    b = [Value(3.0), Value(4.0)]
    d = dot(a, b)
    assert d._op == "dot"
    assert d._children == (a[0], b[0], a[1], b[1])
    assert d._local_grads == (3.0, 1.0, 4.0, 2.0)
    assert dot_pairs(d) == [(a[0], b[0], 3.0, 1.0), (a[1], b[1], 4.0, 2.0)]
    w = [[Value(5.0), Value(6.0)], [Value(7.0), Value(8.0)]]
    rows = linear(a, w)
    assert [r._op for r in rows] == ["lin", "lin"]
    assert rows[1]._children == (w[1][0], w[1][1], a[0], a[1])
    assert rows[1]._local_grads == (1.0, 2.0, 7.0, 8.0)
    assert dot_pairs(rows[1]) == [(w[1][0], a[0], 1.0, 7.0), (w[1][1], a[1], 2.0, 8.0)]
    assert [r.data for r in rows] == [dot(w[0], a).data, dot(w[1], a).data]
    with pytest.raises(ValueError, match="'sum'"):
        dot_pairs(vsum(a))


def test_observing_restores_the_previous_observer_scopes_and_marks():
    outer, inner = [], []
    with hooks.observing(outer.append):
        with hooks.scope("outer"):
            x = Value(1.0)
            hooks.number([x], "unit")
            with hooks.observing(inner.append) as marks:
                assert hooks.stack == [] and marks == {}
                with hooks.scope("inner"):
                    y = Value(2.0)
            assert hooks.observer == outer.append
            assert hooks.stack == ["outer"]
            assert hooks.marks == {x: {"unit": 0}}
            z = Value(3.0)
    assert hooks.observer is None
    assert outer == [x, z] and inner == [y]
