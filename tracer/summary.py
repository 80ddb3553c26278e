"""How a `Trace` shows itself in a notebook: step, loss, size, and what was recognised."""

import html
import math


def _size(trace):
    """Nodes and edges of the trace's graph when it is already built, else the recorded node count."""
    for G in trace._graphs.values():
        return f"{G.number_of_nodes():,} nodes, {G.number_of_edges():,} edges"
    rec = trace._rec
    return f"{len(rec.values):,} recorded nodes" if rec is not None else "?"


def _conventions(found):
    """One line per convention: what it is and what the script calls it (or that it was not found)."""
    rows = []
    for kind, value in found.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif value is None or value is False:
            value = "not found"
        elif value is True:
            value = "found"
        rows.append((kind, str(value)))
    return rows


def html_summary(trace):
    """A small HTML table (every value escaped)."""
    m = trace.meta
    loss = m.get("loss")
    rows = [
        ("step", str(m.get("step"))),
        ("loss", f"{loss:.6g}" if isinstance(loss, float) and math.isfinite(loss) else str(loss)),
        ("size", _size(trace)),
    ]
    if m.get("doc"):
        rows.append(("document", repr(m["doc"])))
    if "script" in m:
        script = m["script"]
        rows.append(("script", " ".join([script.get("path", "?"), *map(str, script.get("args", []))])))
    rows.append(("update", "recorded" if m.get("update") else "absent"))
    rows += [(f"convention: {k}", v) for k, v in _conventions(m.get("conventions", {}))]
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<div><b>microtrace Trace</b><table>{body}</table></div>"
