"""microGPT in pure Python: a scalar autograd engine and the model, training and sampling on it.

Standard library only. The tracer observes this package through `engine.hooks`, nothing else.
"""
