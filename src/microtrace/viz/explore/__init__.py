"""The explorer: one self-contained HTML page to walk a traced step, from the block view down to single
scalars (`page.build_explorer`). `views` (which diagram each scope opens into), `layout` (each view
laid out by dot), `layout_sharing` (views alike share one layout), `routing` (edges that place no node
routed around the boxes), `payload` (the index and per-view
payloads), `compare` (two traces of one model, node by node), `bundle` (the page's JS modules joined at
write time), `chromium` (how tests, bench and examples start the system's Chromium on a page); the
page's script, style and template are package data (`js/*.js`, `explorer.css`, `template.html`), and so
is the Graphviz it carries to lay a view out again in the page (`vendor/`: WebAssembly, with its licence).

Imports: `microtrace.engine`, `microtrace.tracer`, `viz.draw` and `viz.graph` (never `cli`).
"""
