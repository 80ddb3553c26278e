"""Drawing primitives shared by every figure drawn without Graphviz.

`canvas` (one drawing interface, two outputs: Pillow for PNG/PDF, SVG written directly; `png_bytes`,
`pdf_bytes`, `figure_bytes`), `fonts` (the bundled font, sizes, measuring, token labels), `colormap`
(colour maps, scales and the colour bar), `axes` (log and linear axes, legends), `ticks` (the one tick
rule), `numfmt` (the one set of number formats), `text` (titles, captions and notes).

Imports: Pillow and the standard library; nothing else of microtrace.
"""
