"""The film: a whole training run on one time axis, in one self-contained HTML page (`page.build_film`):
the loss with a cursor, the block view recoloured at every frame (`block`), attention and predictions on
one text, gradient lines per matrix, health, samples, and embedded explorers of chosen steps. The
numbers are the tracer's (tracer/analysis/film.py); the page's script, style and template are package
data (`js/*.js`, `film.css`, `template.html`).

Imports: `microtrace.engine`, `microtrace.tracer`, `viz.draw` and `viz.graph` (never `cli`).
"""
