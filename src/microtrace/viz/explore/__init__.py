"""The explorer: one self-contained HTML page to walk a traced step, from the block view down to single
scalars (`page.build_explorer`). `views` (which diagram each scope opens into), `layout` (each view
laid out by dot), `layout_sharing` (views alike share one layout), `payload` (the index and per-view
payloads), `compare` (two traces of one model, node by node), `bundle` (the page's JS modules joined at
write time), `chromium` (how tests, bench and examples start the system's Chromium on a page); the
page's script, style and template are package data (`js/*.js`, `explorer.css`, `template.html`).

Imports: `microtrace.engine`, `microtrace.tracer`, `viz.draw` and `viz.graph` (never `cli`).
"""
