"""Record every scalar operation of one training step as a graph.

    from microtrace.tracer import trace_step
    trace = trace_step("runs/demo", step=120)
    G = trace.graph()                 # networkx.DiGraph, ~60,000 nodes (docs/trace-format.md)
    blocks = trace.collapse("block")  # one node per position x layer x block

    trace = trace_script("my_model/train.py", step=3)   # an unmodified script's 4th backward()

Capture (`record`, `live`, `observe`, `script`, `autograd`, `conventions`), model (`expand`, `trace`,
`scopes`, `collapse`), questions and diagnosis (`queries`, `doctor`, `gradcheck`, `gradstats`,
`attention`, `steps`, `summary`) and storage (`io`, `validate`; the Parquet store read by `store`, written
by `store_write`, collapsed by `store_collapse`, exported by `store_stream`; `xmlout`, `jsonout`). Plain data and networkx graphs; nothing here draws.

Imports: `microtrace.engine` (never `microtrace.viz`), networkx and the standard library.
"""

from microtrace.tracer.io import export, load_trace, save_trace
from microtrace.tracer.live import recording, trace_call
from microtrace.tracer.queries import dead_relus, first_nonfinite, resolve_node, scope_nodes, top_paths
from microtrace.tracer.script import ScriptError, trace_script
from microtrace.tracer.trace import FORMAT, Trace, TraceError, trace_step, trace_text

__all__ = [
    "FORMAT",
    "ScriptError",
    "Trace",
    "TraceError",
    "dead_relus",
    "export",
    "first_nonfinite",
    "load_trace",
    "recording",
    "resolve_node",
    "save_trace",
    "scope_nodes",
    "top_paths",
    "trace_call",
    "trace_script",
    "trace_step",
    "trace_text",
]
