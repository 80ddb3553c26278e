"""The one hook through which the engine can be observed, and the scopes the model code opens.

The engine knows nothing of tracing. A tracer sets `observer` to a callable; every new `Value` is then
handed to it, and `scope(...)` / `number(...)` let it know where in the model that value was made. With no
observer (the normal case) a new `Value` costs one `if`, `scope` returns a shared do-nothing context and
`number` returns at once.
"""

from contextlib import contextmanager

observer = None  # callable(value) | None: called with every Value made while set
stack: list[str] = []  # names of the scopes open right now, outermost first, e.g. ["pos3", "layer0", "attn"]
marks: dict = {}  # value -> dict of extra attributes (e.g. {"key": 2} on an attention weight)


class _Scope:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        stack.append(self.name)

    def __exit__(self, *exc):
        stack.pop()


class _NoScope:
    __slots__ = ()

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        pass


_NO_SCOPE = _NoScope()


def scope(name):
    """Context manager naming the part of the model being computed (only recorded while observed)."""
    return _NO_SCOPE if observer is None else _Scope(name)


def number(values, attr):
    """Mark each of `values` with its index under the name `attr` (e.g. the unit of an MLP output)."""
    if observer is not None:
        for i, v in enumerate(values):
            marks.setdefault(v, {})[attr] = i


def observe(callback):
    """Install `callback` as the observer (None removes it); clears scopes and marks. Returns the old one."""
    global observer
    old, observer = observer, callback
    stack.clear()
    marks.clear()
    return old


@contextmanager
def observing(callback):
    """Observe with `callback` inside the block, then put back the previous observer, scopes and marks.

    Yields `marks`, which the block may read (they are cleared on the way in, restored on the way out), so
    a step can be recorded from inside an outer observer without disturbing it.
    """
    global observer
    saved = observer, list(stack), dict(marks)
    observe(callback)
    try:
        yield marks
    finally:
        observer = saved[0]
        stack[:] = saved[1]
        marks.clear()
        marks.update(saved[2])
