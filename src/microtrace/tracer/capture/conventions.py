"""What a user's script says about itself, read without its help: where each node was made.

microGPT's conventions are read from the script's own loop variables: the position, the layer and the
head, each while the code runs inside its `for` loop (or while the name is a parameter of the running
function, as `pos_id` is of `gpt`). A loop is known by what it runs over first (`range(n_layer)` is the
layer loop whatever its variable is called; `range(n_head)` or `range(n_latent)` the head loop;
`range(block_size)` the position loop) and else by the names forks give it (`li`/`layer`/`l`,
`h`/`head`, `pos_id`/`pos`/`t`). Outside its loop a name keeps its last value: then it says nothing, so
it is not read. A loop variable that a nested function or comprehension uses is a cell variable of its
function (`co_cellvars`), read all the same. Loops are found in the script's source (`ast`), once per
file.
"""

import ast
import re
from functools import cache

# variable names -> the convention they stand for when the loop's range says nothing
NAMES = {"pos_id": "pos", "pos": "pos", "t": "pos", "li": "layer", "layer": "layer", "l": "layer",
         "layer_idx": "layer", "h": "head", "head": "head", "hi": "head"}  # fmt: skip
# names a function's parameter is read by (short loop names such as `t` or `l` are too common there)
PARAMS = {
    "pos_id": "pos",
    "pos": "pos",
    "li": "layer",
    "layer": "layer",
    "layer_idx": "layer",
    "h": "head",
    "head": "head",
}
# what the loop runs over -> the convention: the first word found in `range(...)`'s text decides
RANGES = (("layer", re.compile(r"layer")), ("head", re.compile(r"head|latent")),
          ("pos", re.compile(r"block_size|seq_len|len\(tok")))  # fmt: skip
PARTS = ("pos", "layer", "head")  # the order of convention parts within one frame's scope


def loop_kind(name, over):
    """The convention a `for name in over` loop stands for (None: none): the range decides, else the name."""
    if over is not None:
        for kind, pattern in RANGES:
            if pattern.search(over):
                return kind
    return NAMES.get(name)


@cache
def loops(filename):
    """(name, kind, first body line, last line) of every `for NAME in ...` loop of a file that stands for
    a convention."""
    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            over = _range_text(node.iter, len(targets))
            last = node.body[-1].end_lineno
            for i, name in enumerate(names):
                # in `for i, x in enumerate(...)` only the index counts; `range`'s text only for its variable
                kind = loop_kind(name, over if i == 0 else None) if i == 0 or len(names) == 1 else NAMES.get(name)
                if kind:
                    found.append((name, kind, node.body[0].lineno, last))
    return tuple(found)


def _range_text(it, targets):
    """The source of what `range(...)` (or `enumerate(...)`'s first argument) runs over, or None."""
    if isinstance(it, ast.Call) and isinstance(it.func, ast.Name):
        if it.func.id == "range" and targets == 1 and it.args:
            return ast.unparse(it.args[-1] if len(it.args) < 3 else it.args[1])
        if it.func.id == "enumerate" and targets == 2 and it.args:
            return ast.unparse(it.args[0])
    return None


@cache
def frame_plan(code):
    """How to read one function's conventions: (parameter (name, kind)s, loops, is_comprehension, name).

    A comprehension's variables are its own loop targets, valid wherever its frame runs. A function's
    loop variables may be its cell variables (used by a nested function or comprehension).
    """
    name = code.co_name
    comprehension = name.startswith("<") and name != "<module>"
    nargs = code.co_argcount + code.co_kwonlyargcount
    if comprehension:
        params = tuple((n, NAMES[n]) for n in code.co_varnames if n in NAMES)
    else:
        params = tuple((n, PARAMS[n]) for n in code.co_varnames[:nargs] if n in PARAMS)
    names = set(code.co_varnames + code.co_cellvars + code.co_names)
    mine = [lp for lp in loops(code.co_filename) if lp[0] in names]
    if name != "<module>":  # a function's own loops lie within its lines
        first, last = code.co_firstlineno, max((line for _, _, line in code.co_lines() if line), default=0)
        mine = [lp for lp in mine if first <= lp[2] <= last]
    return params, tuple(mine), comprehension, name


def active(frame, plan):
    """{kind: (variable, value)} of the conventions that hold at the frame's current line (ints only)."""
    params, own_loops, _, _ = plan
    found = {}
    if not params and not own_loops:
        return found
    line = frame.f_lineno
    names = list(params) + [(name, kind) for name, kind, first, last in own_loops if first <= line <= last]
    if not names:
        return found
    local = frame.f_locals
    for name, kind in names:
        value = local.get(name)
        if type(value) is int and value >= 0:
            found.setdefault(kind, (name, value))
    return found
