"""Record every scalar operation of one training step as a graph.

    from microtrace.tracer import trace_step
    trace = trace_step("runs/demo", step=120)
    G = trace.graph()                 # networkx.DiGraph of the fused view, ~8,000 nodes
    E = trace.graph("elementary")     # microGPT's own ops, ~60,000 nodes (docs/trace-format.md)
    blocks = trace.collapse("block")  # one node per position x layer x block

    trace = trace_script("my_model/train.py", step=3)   # an unmodified script's 4th backward()

The pipeline, as the sub-packages are named, in the order a step goes through them:
`capture` (record a step of a run, of code on the engine, or of an unmodified script), `model` (the
recording as columns of nodes and edges, and the `Trace` over them), `analysis` (statistics, collapsed
views, queries, doctor, gradcheck, attention, steps), `storage` (JSON and the Parquet store, validated on
every read) and `export` (GraphML, GEXF, strict JSON, Model Explorer). Plain data and networkx graphs;
nothing here draws.

Imports: `microtrace.engine`, `microtrace.util` (never `microtrace.viz`), networkx and the standard library.
"""

from microtrace.tracer.capture.child import trace_script
from microtrace.tracer.capture.live import recording, trace_call
from microtrace.tracer.capture.script import ScriptError
from microtrace.tracer.model.trace import FORMAT, Trace, TraceError, trace_step, trace_text
from microtrace.tracer.storage.io import export, load_trace, save_trace

__all__ = [
    "FORMAT",
    "ScriptError",
    "Trace",
    "TraceError",
    "export",
    "load_trace",
    "recording",
    "save_trace",
    "trace_call",
    "trace_script",
    "trace_step",
    "trace_text",
]
