"""The diagrams' Digraph (viz/graph/diagram.py) quotes through a cache of its own: its DOT text must be
graphviz.Digraph's, byte for byte, for any names and attribute values (generated, not hand-picked)."""

import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microtrace.viz.graph.diagram import Digraph

texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "node", "Edge", "-4.2", ".42", "<<b>x</b>>", '"', '\\"', "a\\", "a:b:s", "a b:c"]),
)
attrs = st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.one_of(texts, st.none()), max_size=4)


def draw(cls, items, html_free):
    g = cls(name="g")
    g.attr("graph", label=html_free)
    # every name through `_attributes`: as keywords, "kw" or "name" would be the methods' own arguments
    g.attr("node", _attributes=items[0][1])
    with g.subgraph(name="cluster_x") as c:
        for name, a in items:
            c.node(name, _attributes=a)
    for (u, a), (v, _) in zip(items, items[1:]):
        g.edge(u, v, label=graphviz.nohtml(v), _attributes=list(a.items()))
    return g.source


@pytest.mark.filterwarnings("ignore::graphviz.DotSyntaxWarning")  # 'a\\' as a name: graphviz's warning, ours too
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(texts, attrs), min_size=1, max_size=5), texts)
def test_the_same_dot_text_as_graphviz(items, title):
    assert draw(Digraph, items, title) == draw(graphviz.Digraph, items, title)
