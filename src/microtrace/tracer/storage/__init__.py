"""Traces on disk: saving and loading with format detection (`io`), the one check of what is read
(`validate`), and the Parquet store: read (`store`), written (`store_write`), collapsed in Arrow
(`store_collapse`) and streamed to an exporter (`store_stream`).

Imports: `microtrace.engine`, `microtrace.util` and the other tracer sub-packages; never `microtrace.viz`.
"""
