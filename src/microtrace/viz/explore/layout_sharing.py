"""Views that share one layout: the output units of a linear layer are drawn alike (the same nodes,
edges and shapes in the same order; only names, numbers, colours and pen widths differ), so dot lays
out one template per group and every member gets the template's geometry with its own texts, colours
and names: a thousand single-unit views cost a few dozen layouts.

The template is the members' DOT with, in each place, the longest of their texts, so that every box is
sized for the widest member (the boxes of a group are identical, each member's text centred in them).
What a member's DOT may vary in without changing the geometry is read from its source: node names, the
texts of labels, `color`, `fillcolor`, `fontcolor` and `penwidth`; anything else differing puts it in a
group of its own. A group is shared only when the template's own layout checks out: its texts are the
template's label texts in order and every colour and pen width drawn is the one its DOT gave.
"""

import html
import re

from microtrace.viz.explore.layout import _num, _Tables, compact_layout
from microtrace.viz.graph.render import layouts

# in a statement of the DOT that the graphviz package writes (one a line): a node name, or a value free
# to differ between the members of a group (a label: a quoted string or an HTML label up to the next
# attribute or the end of the list)
_FREE = re.compile(
    r"\b(?P<id>[no]\d+)\b"
    r'|\b(?P<attr>label|color|fillcolor|fontcolor|penwidth)=(?P<val>"(?:[^"\\]|\\.)*"|<.*?>(?= \w+=|\]$)|[^\s\]]+)'
)
_TAG = re.compile(r"(<[^>]*>)")
_HEAD = re.compile(r"\t(?:(?P<kw>graph|node|edge) \[|(?P<tail>\w+) -> (?P<head>\w+)|(?P<name>\w+) \[)")


def compact_layouts(sources):
    """{i: compact layout} of cluster-free views {i: DOT source}, laid out by one dot: a group of views
    alike as one template, whose layout each member takes with its own values; the rest one by one."""
    parsed = {i: p for i, src in sources.items() if (p := Parsed(src)).source() == src}
    tied = groups(parsed)
    templates = [template([parsed[i] for i in ids]) for ids in tied]
    single = [i for i in sources if not any(i in ids for ids in tied)]
    laid = layouts([t.source() for t in templates] + [sources[i] for i in single])
    out = {i: compact_layout(doc) for i, doc in zip(single, laid[len(templates) :])}
    redo = []
    for ids, tmpl, doc in zip(tied, templates, laid):
        shape = compact_layout(doc)
        steps = recipe(shape, tmpl)
        if steps is not None:
            out.update((i, member_layout(shape, steps, tmpl, parsed[i])) for i in ids)
        else:  # the template did not draw what its DOT says: lay its members out one by one
            redo += ids
    out.update(zip(redo, map(compact_layout, layouts([sources[i] for i in redo]) if redo else [])))
    return {i: out[i] for i in sources}


class Parsed:
    """A view's DOT cut into what it shares with its group (`signature`) and what is its own."""

    def __init__(self, src):
        self.pieces, self.values, sig = [], [], []  # pieces[k] is followed by values[k] (or nothing)
        self.names = []  # node names in order of first mention: a member's n-th name is the template's n-th
        self.items = {}  # item title as compact_layout names it -> (attrs, texts)
        self.graph_texts = None
        canon = {}
        lines = src.split("\n")
        for at, line in enumerate(lines):
            start, attrs, texts = 0, {}, []
            defaults = line.startswith(("\tgraph [", "\tnode [", "\tedge ["))
            for m in _FREE.finditer(line):
                if defaults and m["attr"] not in (None, "label"):
                    continue  # defaults are shared: a member whose defaults differ is not in the group
                self.pieces.append(line[start : m.start()] if m["id"] else line[start : m.start("val")])
                start = m.end()
                if m["id"]:
                    name = m["id"]
                    if name not in canon:
                        canon[name] = len(canon)
                        self.names.append(name)
                    sig += [self.pieces[-1], canon[name]]
                    self.values.append(("id", name))
                elif m["attr"] == "label" and m["val"].startswith("<"):
                    sig.append(self.pieces[-1])
                    for k, part in enumerate(_TAG.split(m["val"][1:-1])):
                        if k % 2:
                            self.pieces[-1] += part
                        else:
                            self.pieces[-1] += "<" if k == 0 else ""
                            self.values.append(("text", part))
                            self.pieces.append("")
                            if part.strip():
                                texts.append(html.unescape(part))
                        sig.append(part if k % 2 else "")
                    self.pieces[-1] += ">"
                    self.values.append(None)  # nothing after the closing bracket
                elif m["attr"] == "label":
                    sig.append(self.pieces[-1])
                    self.values.append(("text", m["val"]))
                    texts.append(re.sub(r"\\(.)", r"\1", m["val"][1:-1]))
                else:
                    sig.append(self.pieces[-1])
                    attrs[m["attr"]] = m["val"].strip('"')
                    self.values.append(("attr", m["val"]))
            self.pieces.append(line[start:] + ("\n" if at < len(lines) - 1 else ""))
            self.values.append(None)
            sig.append(self.pieces[-1])
            self._statement(line, attrs, texts)
        self.signature = tuple(sig)

    def _statement(self, line, attrs, texts):
        head = _HEAD.match(line)
        if head is None:
            return
        if head["kw"] == "graph" and texts:
            self.graph_texts = texts  # the last graph label is the one drawn
        elif head["tail"]:
            self.items[f"{head['tail']}->{head['head']}"] = (attrs, texts)
        elif head["name"]:
            self.items[head["name"]] = (attrs, texts)

    def source(self, values=None):
        values = self.values if values is None else values
        return "".join(p + (v[1] if v else "") for p, v in zip(self.pieces, values))


def groups(parsed):
    """Indices of `parsed` (a dict id -> Parsed) grouped by signature, in order; groups of one left out."""
    by_sig = {}
    for i, p in parsed.items():
        by_sig.setdefault(p.signature, []).append(i)
    return [ids for ids in by_sig.values() if len(ids) > 1]


def template(members):
    """The DOT that lays out a group: the first member's, with the longest text of the group in each place."""
    values = list(members[0].values)
    for k, v in enumerate(values):
        if v is not None and v[0] == "text":
            values[k] = max((m.values[k] for m in members), key=lambda w: _width(html.unescape(w[1])))
    return Parsed(members[0].source(values))


# advance widths of DejaVu Sans (the labels' font) in em, enough to tell which of two texts is wider:
# a minus sign or a point is half a digit ("data -0.0151" is narrower than "data 0.00179")
_NARROW = dict.fromkeys(" .,:;-/()[]|!'ijlft", 0.34)
_EM = {**_NARROW, **dict.fromkeys("0123456789", 0.64), **dict.fromkeys("#+=<>×≤≥%mwMW", 0.84)}


def _width(text):
    return sum(_EM.get(c, 0.62) for c in text)


def recipe(shape, tmpl):
    """How to draw a member from the template's compact layout `shape`: per item, per shape, which of
    its paint's or font's fields come from which attribute of the member's statement; None when the
    template's layout does not draw exactly its texts (in order) and each colour and pen width of a
    drawn node or edge where dot drew it (then substituting would not give what dot draws)."""
    steps, used = [], set()
    for kind, title, *shapes in shape["items"]:
        own = ({}, tmpl.graph_texts) if kind == "graph" else tmpl.items.get(title)
        if own is None or own[1] is None:
            return None
        plan = []
        for s in shapes:
            if s[0] == "t":
                base, fields = shape["fonts"][s[1]], ((2, ("fontcolor",)),)
            else:
                base, fields = shape["paints"][s[1]], ((0, ("color",)), (1, ("fillcolor", "color")), (2, ("penwidth",)))
            take = []
            for field, attrs in fields:
                a = next((a for a in attrs if a in own[0] and _value(own[0][a], a) == base[field]), None)
                if a is not None:
                    take.append((field, a))
                    used.add((title, a))
            plan.append((s, tuple(base), take))
        steps.append((kind, title, plan))
    drawn = {(title, a) for _, title, _ in steps for a in (tmpl.items.get(title) or ({},))[0]}
    if not drawn <= used:
        return None
    try:
        if member_layout(shape, steps, tmpl, tmpl) != shape:
            return None
    except (KeyError, StopIteration, ValueError):
        return None
    return steps


def member_layout(shape, steps, tmpl, member):
    """The template's compact layout `shape` with `member`'s names, texts, colours and pen widths, as
    `recipe` says."""
    rename = dict(zip(tmpl.names, member.names))
    tables = _Tables()
    items = []
    for kind, title, plan in steps:
        if kind == "graph":
            new_title, (attrs, texts) = None, ({}, member.graph_texts)
        elif kind == "edge":
            tail, head = title.split("->")
            new_title = f"{rename.get(tail, tail)}->{rename.get(head, head)}"
            attrs, texts = member.items[new_title]
        else:  # a node (a view with clusters is never shared)
            new_title = rename.get(title, title)
            attrs, texts = member.items[new_title]
        texts = iter(texts)
        out = []
        for s, base, take in plan:
            if take:
                base = list(base)
                for field, a in take:
                    base[field] = _value(attrs[a], a)
                base = tuple(base)
            if s[0] == "t":
                out.append(["t", tables.font(base), *s[2:5], next(texts)])
            else:
                out.append([s[0], tables.paint(base), *s[2:]])
        if next(texts, None) is not None:
            raise ValueError("a text not drawn")
        items.append([kind, new_title, *out])
    skel = shape["dot"]
    return {
        **shape,
        "paints": [list(k) for k in tables.paints],
        "fonts": [list(k) for k in tables.fonts],
        "items": items,
        "dot": {**skel, "n": [[rename.get(n[0], n[0]), *n[1:]] for n in skel["n"]]},
    }


def _value(raw, attr):
    """An attribute's value as compact_layout writes it."""
    return _num(float(raw)) if attr == "penwidth" else raw
