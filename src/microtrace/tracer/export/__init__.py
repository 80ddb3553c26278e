"""Exports for other tools: GraphML and GEXF (`xml_graph`), strict JSON that holds nan and inf
(`strict_json`), and Google Model Explorer's graph JSON (`model_explorer`).

Imports: `microtrace.engine`, `microtrace.util` and the other tracer sub-packages; never `microtrace.viz`.
"""
