"""How a `Trace` shows itself in a notebook: step, loss, size, and what was recognised."""

import html
import math

from microtrace.tracer.analysis import stats


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
    return f"<div><b>microtrace Trace</b><table>{body}</table>{_params(m.get('param_stats') or {})}</div>"


def _params(param_stats):
    """Per matrix: its gradient norm, max |g| and update ratio, nan-aware (`nan (80 of 96 non-finite)`)."""
    if not param_stats:
        return ""
    rows = []
    for name, s in param_stats.items():
        n = s["shape"][0] * s["shape"][1]
        cells = [stats.describe(s[k], s.get("nonfinite", 0), n) for k in ("grad_norm", "grad_abs_max")]
        cells.append(stats.describe(s["update_ratio"]) if "update_ratio" in s else "-")
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{s['shape'][0]}×{s['shape'][1]}</td>"
            + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
            + "</tr>"
        )
    head = "<tr><th>matrix</th><th>shape</th><th>‖g‖</th><th>max |g|</th><th>update/data</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"
