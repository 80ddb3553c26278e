"""microtrace: trace and draw every scalar operation of a GPT trained in pure Python (microGPT).

The architecture is three layers and the command line over them:
`engine` (the scalar autograd engine and microGPT: model, training, checkpoints; the standard library only),
`tracer` (records a step as plain data, reads, analyses, stores and exports it; imports the engine),
`viz` (everything that draws: Graphviz views, figures, the report, the explorer and film pages), and
`cli` (the `microtrace` command, thin shells over the three). `util` holds what all of them share:
atomic writes, compact JSON, limits, the run lock, and the error root.

Imports: nothing at import time; `import microtrace` stays light.
"""
