"""Edges that do not place nodes, drawn where dot placed the boxes: dot draws an edge with
constraint=false (the block view's KV cache: every earlier position's attention to every later one's)
as an arc that cuts through the boxes beside it. The KV cache's edges run in lanes beside the attention
column (viz/graph/lanes.py); any other such edge, or all of them when the lanes do not fit, is drawn by
Graphviz's own spline router (neato on the positions dot chose, its -n2) around every box. The page
does the same when it lays a view out again (js/lanes.js, js/relayout.js), so a view looks alike before
and after a group opens in it."""

import json
from pathlib import Path

from microtrace.viz.explore.layout import quote
from microtrace.viz.graph import lanes
from microtrace.viz.graph.render import _run_dot, dot_program

_KEEP = ("color", "penwidth", "arrowsize", "arrowhead", "dir", "style", "tailport", "headport")


def free_edges(doc):
    """The edges of dot's JSON `doc` that are drawn but place no node."""
    return [e for e in doc.get("edges", []) if e.get("constraint") == "false" and e.get("style") != "invis"]


def route_free_edges(doc):
    """`doc` (dot's JSON of a view) with its constraint=false edges drawn in lanes (the KV cache's) or by
    the spline router; the same doc when it has none."""
    free = free_edges(doc)
    free = [e for e in free if e.get("class") != "kv"] + _in_lanes(doc, [e for e in free if e.get("class") == "kv"])
    neato = Path(dot_program() or "dot").with_name("neato")  # Graphviz's programs live side by side
    if not free or not neato.exists():
        return doc
    objects = doc.get("objects", [])
    lines = ['digraph{graph[splines="true" pad="0"];node[fixedsize="true" label=""];']
    for o in objects:
        if "pos" in o and "nodes" not in o:
            shape = quote(o.get("shape", "box"))
            lines.append(
                f'{quote(o["name"])}[pos="{o["pos"]}!" width={o["width"]} height={o["height"]} shape={shape}];'
            )
    for e in free:
        attrs = " ".join(f"{k}={quote(e[k])}" for k in _KEEP if k in e)
        lines.append(f"{quote(objects[e['tail']]['name'])}->{quote(objects[e['head']]['name'])}[{attrs}];")
    lines.append("}")
    out = json.loads(_run_dot([str(neato), "-n2", "-Tjson"], "\n".join(lines).encode("utf-8"), "route edges"))
    # neato moves the drawing to the origin: back to dot's coordinates, by any node
    node = next(o for o in out.get("objects", []) if "pos" in o)
    was = next(o for o in objects if o.get("name") == node["name"])
    (x0, y0), (x1, y1) = (map(float, o["pos"].split(",")) for o in (node, was))
    for e, r in zip(free, out.get("edges", [])):
        for key in ("_draw_", "_hdraw_", "_tdraw_"):
            if key in r:
                e[key] = [
                    {**op, "points": [[x + x1 - x0, y + y1 - y0] for x, y in op["points"]]} if "points" in op else op
                    for op in r[key]
                ]
    return doc


def _in_lanes(doc, kv):
    """Draw the edges `kv` of `doc` in lanes (their xdot operations replaced); returns those that do not
    fit, for the spline router."""
    names = [o.get("name") for o in doc.get("objects", [])]
    ends = [(names[e["tail"]], names[e["head"]]) for e in kv]
    paths, labels = lanes.plan(lanes.boxes(doc), ends, lanes.label_boxes(doc)) if kv else ([], {})
    for e, path in zip(kv, paths):
        if path is not None:
            e["_draw_"], e["_hdraw_"] = lanes.xdot_ops(path, e.get("color", "#000000"), float(e.get("penwidth", 1)))
            e.pop("_tdraw_", None)
    firsts = {}
    for e, path in zip(kv, paths):  # the count on the first edge of each bundle
        if path is not None:
            firsts.setdefault(names[e["tail"]], e)
    for t, e in firsts.items():
        e["_ldraw_"] = lanes.count_ops(*labels[t], e.get("color", "#000000"))
    return [e for e, path in zip(kv, paths) if path is None]
