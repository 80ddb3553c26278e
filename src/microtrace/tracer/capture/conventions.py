"""What a user's script says about itself, read without its help: where each node was made.

microGPT's conventions are read from the script's own variables. A loop variable `pos_id` or `pos`
names the position, `li` the layer and `h` the head, while the code runs inside that `for` loop (or
while the name is a parameter of the running function, as `pos_id` is of `gpt`). Outside its loop a
name keeps its last value: then it says nothing, so it is not read. Loops are found in the script's
source (`ast`), once per file.
"""

import ast
from functools import cache

CONVENTIONS = {"pos_id": "pos", "pos": "pos", "li": "layer", "h": "head"}
PARTS = ("pos", "layer", "head")  # the order of convention parts within one frame's scope


@cache
def loops(filename):
    """(name, first body line, last line) of every `for NAME in ...` loop of a file, NAME a convention."""
    try:
        with open(filename, "rb") as f:
            tree = ast.parse(f.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    loops = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.AsyncFor)):
            targets = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
            last = node.body[-1].end_lineno
            for t in targets:
                if isinstance(t, ast.Name) and t.id in CONVENTIONS:
                    loops.append((t.id, node.body[0].lineno, last))
    return tuple(loops)


@cache
def frame_plan(code):
    """How to read one function's conventions: (parameter names, loops, is_comprehension, name).

    A comprehension's variables are its own loop targets, valid wherever its frame runs.
    """
    name = code.co_name
    comprehension = name.startswith("<") and name != "<module>"
    nargs = code.co_argcount + code.co_kwonlyargcount
    if comprehension:
        params = tuple(n for n in code.co_varnames if n in CONVENTIONS)
    else:
        params = tuple(n for n in code.co_varnames[:nargs] if n in CONVENTIONS)
    names = code.co_varnames + code.co_names
    mine = [lp for lp in loops(code.co_filename) if lp[0] in names]
    if name != "<module>":  # a function's own loops lie within its lines
        first, last = code.co_firstlineno, max((line for _, _, line in code.co_lines() if line), default=0)
        mine = [lp for lp in mine if first <= lp[1] <= last]
    return params, tuple(mine), comprehension, name


def active(frame, plan):
    """{kind: value} of the conventions that hold at the frame's current line (ints only)."""
    params, own_loops, _, _ = plan
    found = {}
    if not params and not own_loops:
        return found
    line = frame.f_lineno
    names = list(params) + [name for name, first, last in own_loops if first <= line <= last]
    if not names:
        return found
    local = frame.f_locals
    for name in names:
        value = local.get(name)
        if type(value) is int and value >= 0:
            found.setdefault(CONVENTIONS[name], (name, value))
    return found
