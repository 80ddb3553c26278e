"""Drawing primitives shared by every figure drawn without Graphviz.

`canvas` (one drawing interface, three outputs: Pillow for PNG, SVG and PDF written directly as vector
shapes and text; `png_bytes`, `figure_bytes`), `pdf` (the PDF page, its fonts embedded through
`truetype`, through fontTools; `vector` holds what the SVG and PDF writers share), `webfont` (the glyphs an SVG uses, embedded in it as WOFF through fontTools), `fonts` (the bundled font, sizes, measuring, token labels), `colormap`
(colour maps, scales and the colour bar), `axes` (log and linear axes, legends), `ticks` (the one tick
rule), `text` (titles, captions and notes), `printsize` (a figure laid out for a printed width, its
text no smaller than asked); numbers as text come from `microtrace.util.numfmt`.

Imports: Pillow, fontTools (truetype.py, webfont.py), the standard library and `microtrace.util`; nothing else of microtrace.
"""
