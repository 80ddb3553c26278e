"""Scope paths such as `pos3/layer0/attn/head2/weights` and the attributes they stand for."""

import re
from functools import cache

BLOCKS = ("embed", "attn", "mlp", "lm_head", "loss")


@cache
def parse(scope):
    """The node attributes a scope path implies: pos, layer, block, head, stage (those that apply)."""
    attrs = {}
    parts = scope.split("/")
    if parts[0] == "param":
        return param_attrs(parts[1])
    for part in parts:
        if part.startswith("pos") and part[3:].isdigit():
            attrs["pos"] = int(part[3:])
        elif part.startswith("layer") and part[5:].isdigit():
            attrs["layer"] = int(part[5:])
        elif part.startswith("head") and part[4:].isdigit():
            attrs["head"] = int(part[4:])
        elif part in BLOCKS and "block" not in attrs:
            attrs["block"] = part
    if "block" not in attrs:  # a script's scope (`pos3/gpt/layer0/head1/softmax`): see _script_prefix
        functions = [p for p in parts if not _CONVENTION.match(p)][:2]
        attrs["block"] = functions[-1] if functions else "script"
    attrs["stage"] = parts[-1]
    return attrs


_CONVENTION = re.compile(r"^(pos|layer|head)\d+$")


_LAYER = re.compile(r"^layer(\d+)\.")


@cache
def param_attrs(name):
    """Attributes of a parameter matrix from its microGPT name (`wte`, `layer0.attn_wq`, ...)."""
    attrs = {}
    short = name
    m = _LAYER.match(name)
    if m:
        attrs["layer"] = int(m.group(1))
        short = name[m.end() :]
    attrs["block"] = {"wte": "embed", "wpe": "embed", "lm_head": "lm_head"}.get(short) or short.split("_")[0]
    attrs["stage"] = short
    return attrs


def prefix(scope, level):
    """The scope a node belongs to at a collapse level: `block`, `stage` or `layer`."""
    parts = scope.split("/")
    if parts[0] == "param":
        if level == "layer":
            name = scope[len("param/") :]
            return name.split(".")[0] if _LAYER.match(name) else param_attrs(name)["block"]
        return scope
    if level == "stage":
        return scope
    for i, part in enumerate(parts):
        if part in BLOCKS:
            if level == "block":
                return "/".join(parts[: i + 1])
            # layer level: drop the position; layers keep their number
            if part in ("attn", "mlp"):
                return parts[i - 1]
            return part
    return _script_prefix(parts, level)


def _script_prefix(parts, level):
    """A script's scope has no microGPT block. Its block keeps the path's position and layer and its
    first two functions, in order (`pos3/gpt/layer0/linear`, `pos3/gpt/rmsnorm`, `pos3/softmax`); its
    layer keeps the first function and the layer (`gpt/layer0`); module-level code is `script`."""
    kept, functions = [], 0
    for part in parts:
        m = _CONVENTION.match(part)
        if m:
            if m.group(1) == "layer" or (m.group(1) == "pos" and level != "layer"):
                kept.append(part)
        elif functions < (1 if level == "layer" else 2):
            functions += 1
            kept.append(part)
    return "/".join(kept) or "script"
