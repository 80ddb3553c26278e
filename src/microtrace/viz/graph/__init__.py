"""Graphviz diagrams of a traced step, as `graphviz.Digraph` objects, and their rendering.

Modules: `select` (which nodes a view shows: focus, around a node, size limits), `style` (themes,
colours, pen widths, labels), `diagram` (what both diagrams share: digraph, clusters, stubs), `block`
(the collapsed step: `block_diagram`), `scalar` (real scalar nodes in micrograd's style:
`scalar_diagram`), `fold` (a long scalar view cut into bands and rows), `figure` (a traced step's
figure from the command's options: `graph_figure`), `printed` (a figure scaled to a printed width,
its text no smaller than asked), `lanes` (the KV cache's edges in lanes beside the attention
column), `render` (DOT to SVG, PNG or PDF with Graphviz's `dot`). May import
`microtrace.engine` and `microtrace.tracer`; draws nothing but DOT.
"""
