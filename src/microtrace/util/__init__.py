"""What every layer shares, with no knowledge of any of them.

`errors` (the root of every error for the user, `MicrotraceError`, and its two branches: bad input and
work that failed), `atomic` (atomic file writes), `jsontext` (the one compact-JSON writer), `limits`
(how much is read or allocated before refusing), `lock` (one writer at a time on a run directory),
`text` (control characters made visible), `numfmt` (numbers as text: the one set of formats), `pool`
(the one process pool: work in forked workers, results in order, their progress relayed).

Imports: the standard library only, nothing else of microtrace.
"""
