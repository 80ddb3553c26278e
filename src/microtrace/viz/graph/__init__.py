"""Graphviz diagrams of a traced step, as `graphviz.Digraph` objects, and their rendering.

Modules: `select` (which nodes a view shows: focus, around a node, size limits), `style` (themes,
colours, pen widths, labels), `diagram` (what both diagrams share: digraph, clusters, stubs), `block`
(the collapsed step: `block_diagram`), `scalar` (real scalar nodes in micrograd's style:
`scalar_diagram`), `render` (DOT to SVG, PNG or PDF with Graphviz's `dot`). May import
`microtrace.engine` and `microtrace.tracer`; draws nothing but DOT.
"""
