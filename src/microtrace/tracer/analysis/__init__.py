"""Questions asked of a trace, in plain numbers: statistics that never hide a nan (`stats`), collapsed views
(`collapse`), the algorithms behind `Trace`'s queries (`queries`), diagnosis (`doctor`), gradients against finite differences
(`gradcheck`, `gradcheck_script`), per-matrix statistics over steps (`gradstats`), attention weights
(`attention`), ranges of steps (`step_ranges`) and a whole run's frames for the film (`film`).

Imports: `microtrace.engine`, `microtrace.util` and the other tracer sub-packages; never `microtrace.viz`.
"""
