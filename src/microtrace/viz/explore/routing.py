"""Edges that do not place nodes, routed around the boxes: dot draws an edge with constraint=false (the
block view's KV cache: every earlier position's attention to every later one's) as an arc that cuts
through the boxes beside it. Graphviz's own spline router (neato on the positions dot chose, its -n2)
draws each of them around every box instead; the page routes them the same way when it lays a view out
again (js/relayout.js), so a view looks alike before and after a group opens in it."""

import json
from pathlib import Path

from microtrace.viz.explore.layout import quote
from microtrace.viz.graph.render import _run_dot, dot_program

_KEEP = ("color", "penwidth", "arrowsize", "arrowhead", "dir", "style", "tailport", "headport")


def free_edges(doc):
    """The edges of dot's JSON `doc` that are drawn but place no node."""
    return [e for e in doc.get("edges", []) if e.get("constraint") == "false" and e.get("style") != "invis"]


def route_free_edges(doc):
    """`doc` (dot's JSON of a view) with its constraint=false edges drawn by the spline router; the
    same doc when it has none."""
    free = free_edges(doc)
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
