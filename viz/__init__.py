"""Everything that draws what the tracer recorded, and the `microtrace` command.

Sub-packages: `draw` (canvas, fonts, colours, axes, text, number formats), `graph` (Graphviz
diagrams), `attention` (attention figures), `gradflow` (gradient-flow figures), `report` (the HTML
report), `explore` (the explorer page), `cli` (the commands, thin shells over the others).

Imports: `microtrace.engine` and `microtrace.tracer`; `draw` imports no other sub-package of viz, and
only `cli` imports click.
"""
