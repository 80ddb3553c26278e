"""Where a script keeps its parameters and its document, found at step K without its help.

Forks keep them in many places: a module-level `state_dict` (microGPT's), a local of `main()`, an
attribute of a model object (`self.state_dict`, `model.sd`), a tokenizer object's `uchars`, an item of a
dict (`state["state_dict"]`, `tokenizer["uchars"]`). So every namespace the step can see is searched,
nearest first: the locals of the script's frames from the one that called backward() outwards, then the
module's globals, then the attributes of the script's own objects and the items of the dicts found there
(two levels: `model.tok.uchars`). Each find says where it was (`main().sd`, `model.state_dict`,
`run_one_step().state.state_dict`), and that goes into the trace's `conventions`.
"""

import re
import types

_NAME = re.compile(r"[^A-Za-z0-9_.\-]")
_MAX_OBJECTS = 200  # objects whose attributes are searched: enough for any script's models and tokenizers


def namespaces(frames, glb):
    """[(label, dict)] to search, nearest first: each frame's locals, the globals, then objects' attributes
    and dicts' items."""
    spaces = []
    for f in frames:  # the script's frames in any of its modules (a fork split across files)
        if not (f.f_globals is glb and f.f_code.co_name == "<module>"):  # (that one: the globals, below)
            spaces.append((f"{f.f_code.co_name}().", f.f_locals))
    spaces.append(("", glb))
    seen, objects = set(), []
    for depth in range(2):
        found = []
        for label, space in spaces if depth == 0 else objects[-1]:
            for var, obj in list(space.items()):
                if id(obj) in seen or len(seen) >= _MAX_OBJECTS or (members := _members(obj)) is None:
                    continue
                seen.add(id(obj))
                found.append((f"{label}{var}.", members))
        objects.append(found)
    return spaces + [s for level in objects for s in level]


def _members(obj):
    """What an object holds by name: a dict's items (when every key is a string), an instance's
    attributes; None for anything else."""
    if type(obj) is dict:
        return obj if obj and all(isinstance(k, str) for k in obj) else None
    return vars(obj) if _is_object(obj) else None


def _is_object(obj):
    """An instance of a class of the script's (or a library's) with attributes, not a module, class or function."""
    if isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return False
    try:
        return isinstance(vars(obj), dict) and type(obj).__module__ != "builtins"
    except TypeError:
        return False


def find_params(spaces, cls):
    """(where, {matrix name: rows of nodes}) of the script's parameters, or (None, {}).

    First a dict of matrices named `state_dict` anywhere, then any dict whose values are all matrices
    (or vectors: one-row matrices) of nodes, then a list named `params` of nodes (or of matrices: `params0`,
    `params1`, ...), then an object whose `parameters()` gives a list of nodes (micrograd's
    `model.parameters`).
    """

    def nodes(xs):
        return isinstance(xs, (list, tuple)) and xs and all(isinstance(x, cls) for x in xs)

    def matrices(d):
        if not (isinstance(d, dict) and d and all(isinstance(k, str) for k in d)):
            return None
        out = {}
        for k, m in d.items():
            if nodes(m):
                out[_plain(k)] = [list(m)]
            elif isinstance(m, (list, tuple)) and m and all(nodes(r) for r in m):
                out[_plain(k)] = [list(r) for r in m]
            else:
                return None
        return out

    for wanted in ("state_dict", None):
        for label, space in spaces:
            for var, value in list(space.items()):
                if (wanted is None or var == wanted) and (named := matrices(value)):
                    return f"{label}{var}", named
    for label, space in spaces:
        ps = space.get("params")
        if nodes(ps):
            return f"{label}params", {"params": [[p] for p in ps]}
        # a list of matrices (no-magic's [embedding, projection]): params0, params1, ... in its order
        named = matrices({f"params{i}": m for i, m in enumerate(ps)}) if isinstance(ps, (list, tuple)) else None
        if named:
            return f"{label}params", named
    for label, space in spaces:
        for var, obj in list(space.items()):
            if var.startswith("_") or isinstance(obj, (type, types.ModuleType)):
                continue
            if not callable(getattr(obj, "parameters", None)):
                continue
            try:
                ps = list(obj.parameters())
            except Exception:  # not a model's parameters(): not ours to judge
                continue
            if nodes(ps):
                name = _plain(f"{label}{var}.parameters")
                return name, {name: [[p] for p in ps]}
    return None, {}


def find_document(spaces):
    """(doc, tokens, chars, found) of the step: `doc` (its text), `tokens` (its ids) and the vocabulary
    that turns them into characters: `uchars` or `chars` (a list or string, BOS = its length when the
    ids reach it), or `itos` (id -> character). All or nothing: tokens without their characters are no
    document a reader can show, so they are left out (a trace records what it knows whole)."""
    found = {}
    tokens, where = _first(spaces, ("tokens",), _is_tokens)
    if tokens is None:
        return "", [], [], found
    chars = None
    for names in (("uchars",), ("chars",), ("itos",), _vocab_names(spaces)):  # forks' own names last
        for vocab, at in _all(spaces, names, _is_vocab):
            if (chars := _spelled(tokens, vocab)) is not None:
                found["chars"] = at
                break
        if chars is not None:
            break
    if chars is None:
        return "", [], [], found
    found["tokens"] = where
    doc, at = _first(spaces, ("doc",), lambda d: isinstance(d, str))
    if doc is not None:
        found["doc"] = at
    return doc or "", list(tokens), chars, found


def _first(spaces, names, ok):
    return next(_all(spaces, names, ok), (None, None))


def _all(spaces, names, ok):
    for label, space in spaces:
        for name in names:
            value = space.get(name)
            if value is not None and ok(value):
                yield value, f"{label}{name}"


def _vocab_names(spaces):
    """Other names forks give their vocabulary (`unique_chars`, `CHARS`, `vocab`), in order of first sight."""
    return list(dict.fromkeys(k for _, space in spaces for k in space if _VOCAB_NAME.search(k)))


_VOCAB_NAME = re.compile(r"(?i)char|vocab|itos")


def _is_tokens(t):
    return isinstance(t, list) and len(t) >= 2 and all(type(x) is int and x >= 0 for x in t)


def _is_vocab(v):
    if isinstance(v, dict):
        return bool(v) and all(type(k) is int and isinstance(c, str) for k, c in v.items())
    return isinstance(v, (list, tuple, str)) and len(v) > 0 and all(isinstance(c, str) for c in v)


def _spelled(tokens, vocab):
    """Each token as its character, or None if the vocabulary does not cover them."""
    if isinstance(vocab, dict):
        return [vocab[t] for t in tokens] if all(t in vocab for t in tokens) else None
    if not all(t <= len(vocab) for t in tokens):
        return None
    return ["<BOS>" if t == len(vocab) else vocab[t] for t in tokens]


def _plain(name):
    """A name as a trace names a matrix: letters, digits, '_', '.', '-'."""
    return _NAME.sub("_", name.replace("()", "")).strip(".") or "params"
