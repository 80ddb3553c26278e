"""Capture: recording one step as it runs, of a run (`record`), of any code on the engine (`live`), or of a
user's unmodified script (`script`, which runs it; `observe` watches its autograd class, `autograd`
recognises that class, `conventions` reads where each node was made, `where` finds the script's
parameters and document wherever it keeps them; `child` runs the script in a process of its own and
takes the step from it; its fused view is derived as any trace file's: `tracer.model.fused`).

In order: a recorder is installed, the step runs, and the recording is handed to `tracer.model`.

Imports: `microtrace.engine`, `microtrace.util` and the other tracer sub-packages; never `microtrace.viz`.
"""
