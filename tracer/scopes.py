"""Scope paths such as `pos3/layer0/attn/head2/weights` and the attributes they stand for."""

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
    attrs["stage"] = parts[-1]
    return attrs


@cache
def param_attrs(name):
    """Attributes of a parameter matrix from its microGPT name (`wte`, `layer0.attn_wq`, ...)."""
    attrs = {}
    short = name
    if name.startswith("layer"):
        layer, short = name.split(".", 1)
        attrs["layer"] = int(layer[5:])
    attrs["block"] = {"wte": "embed", "wpe": "embed", "lm_head": "lm_head"}.get(short) or short.split("_")[0]
    attrs["stage"] = short
    return attrs


def prefix(scope, level):
    """The scope a node belongs to at a collapse level: `block`, `stage` or `layer`."""
    parts = scope.split("/")
    if parts[0] == "param":
        if level == "layer":
            name = parts[1]
            return name.split(".")[0] if name.startswith("layer") else param_attrs(name)["block"]
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
    raise ValueError(f"scope {scope!r} has no block")
