"""The model of a trace: its schema, every attribute once (`schema`, and the tables of docs/trace-format.md
written from it: `schema_doc`), a recording expanded into columns of nodes and edges (`columns`), the fused view of any
elementary one (`fused`), the `Trace`
that answers for them (`trace`), scope paths (`scopes`), the order of a step (`order`) and how a trace
shows itself in a notebook (`summary`).

Imports: `microtrace.engine`, `microtrace.util` and the other tracer sub-packages; never `microtrace.viz`.
"""
