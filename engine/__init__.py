"""microGPT in pure Python: a scalar autograd engine and the model, training and sampling on it.

`value` (the scalar `Value`, fused `dot`/`linear`/`vsum`, microGPT's `_children` and `_local_grads`),
`hooks` (the one observer hook and the scopes the model opens), `model`, `train` (training and
sampling, exactly as microGPT), `data` (documents and the tokenizer), `run` (run directories:
options, losses, checkpoints), `atomic` (atomic file writes), `jsontext` (the one compact-JSON
writer), `limits` (how much is read or allocated before refusing), `lock` (one writer at a time on a
run directory).

Imports: the standard library only, nothing else of microtrace. The tracer observes this package
through `engine.hooks`, nothing else.
"""
