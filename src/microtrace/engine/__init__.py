"""microGPT in pure Python: a scalar autograd engine and the model, training and sampling on it.

`value` (the scalar `Value`, fused `dot`/`linear`/`vsum`, microGPT's `_children` and `_local_grads`),
`hooks` (the one observer hook and the scopes the model opens), `model`, `train` (training and
sampling, exactly as microGPT), `data` (documents and the tokenizer), `run` (run directories:
options, losses, checkpoints).

Imports: the standard library and `microtrace.util` only, nothing else of microtrace. The tracer observes this package
through `engine.hooks`, nothing else.
"""
