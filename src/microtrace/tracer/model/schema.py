"""The trace's schema, once: every attribute a trace holds, as a commented entry (docs/trace-format.md).

Each entry says an attribute's name, its type, whether every node (or edge, or graph) must have it,
whether it is a number that may be nan or inf, which nodes carry it and what it means. Everything that
knows the format is derived from these tables, so that they cannot drift apart:

    the JSON validator's node, edge and graph rules  tracer/storage/validate.py (the store's too)
    the store's Arrow schema and its sparse columns   tracer/storage/store.py, store_write.py
    the number fields strict JSON decodes             tracer/export/strict_json.py
    the GraphML and GEXF attribute types              tracer/export/xml_graph.py
    the tables of docs/trace-format.md               `schema_doc` writes them
    the nan/inf spelling of files, pages, figures   `nonfinite_word`; the explorer's decoder (js/data.js)

tests/contract/test_schema.py checks that each of them agrees with the tables.
"""

from dataclasses import dataclass

from microtrace.util import jsontext

# Types: what a value must be. `natural` is a whole number, 0 or more; `number` any int or float (nan
# and inf included: `numeric` says it may be one); dicts and lists are JSON values.
TYPES = ("bool", "int", "natural", "number", "str", "name", "dict", "list[int]", "list[str]", "index")


@dataclass(frozen=True)
class Field:
    """One attribute: `name`, `type` (one of TYPES), `required` on every item of its table, `numeric`
    (a float that may be nan or inf: strict JSON spells it as a word), `on` (which nodes or graphs carry
    it, for the docs), `doc` (its meaning), `column` (the store's column and its Arrow type, when it has
    one of its own)."""

    name: str
    type: str
    doc: str
    on: str = ""
    required: bool = False
    numeric: bool = False
    column: str | None = None


def _f(name, type, doc, on="", required=False, column=None):
    return Field(name, type, doc, on, required, numeric=type == "number", column=column)


# --- graph attributes (`G.graph`; the store's key-value metadata) -----------------------------------
GRAPH = (
    _f("format", "int", "1. Readers refuse other values.", required=True),
    _f("version", "str", "microtrace version that wrote it"),
    _f("view", "str", "`elementary` (microGPT's granularity) or `fused` (one node per dot product / sum)", required=True),
    _f("step", "natural", "0-based training step traced", required=True),
    _f("doc", "str", "the training document of that step", required=True),
    _f("tokens", "list[int]", "token ids, `[BOS] + doc + [BOS]`, truncated to `block_size + 1`", required=True),
    _f("chars", "list[str]", 'one label per token; BOS is `"<BOS>"`', required=True),
    _f("loss", "number", "the step's loss (the `data` of the loss node)", required=True),
    _f("loss_node", "natural", "id of the loss node", required=True),
    _f("config", "dict", "model (`vocab_size`, `n_embd`, `n_head`, `n_layer`, `block_size`, `init_std`), training "
       "(`steps`, `lr`, `beta1`, `beta2`, `eps`, `seed`) and `data` (source, sha256)", required=True),
    _f("seed", "int", "RNG seed of the run", required=True),
    _f("update", "bool", "true for a training step (its Adam update is recorded); false for `trace_text`, a forward "
       "and backward of any text with no update (then no Adam attributes and no update fields in `param_stats`)",
       required=True),
    _f("lr", "number", "the learning rate used by this step's update (after linear decay)", required=True),
    _f("level", "str", "collapsed graphs only: `block`, `stage` or `layer`"),
    _f("param_stats", "dict", "per parameter matrix (model order): `shape`, `grad_norm`, `grad_abs_mean`, "
       "`grad_abs_max`, `zero_fraction`, `nonfinite` (entries whose gradient is nan or inf), `data_norm`, "
       "`data_nonfinite` (entries whose value is nan or inf), `update_norm`, `update_ratio` (= update_norm / "
       "data_norm), over all its entries, and `moved_without_grad` (the update of entries no node holds). A statistic over entries of which any is nan is nan, never the "
       "statistic of the finite rest", required=True),
    _f("conventions", "dict", "traces not made by `microtrace train` only (`trace_script`, `trace_call`): what was "
       "recognised, see [Traces of your own code](#traces-of-your-own-code)"),
    _f("script", "dict", "traces of a script (`trace_script`): `path` and `args` of the script run"),
)  # fmt: skip
# A trace of a user's script (graph attribute `conventions`) has no run config, seed or learning rate.
GRAPH_NOT_OF_SCRIPTS = ("config", "seed", "lr")

# --- the statistics of each parameter matrix (`param_stats[name]`) ---------------------------------
PARAM_STATS = (
    _f("shape", "list[int]", "[rows, cols]", required=True),
    _f("grad_norm", "number", "norm of the gradient", required=True),
    _f("grad_abs_mean", "number", "mean absolute gradient", required=True),
    _f("grad_abs_max", "number", "largest absolute gradient", required=True),
    _f("zero_fraction", "number", "fraction of entries whose gradient is exactly 0", required=True),
    _f("nonfinite", "natural", "entries whose gradient is nan or inf"),
    _f("data_norm", "number", "norm of the values", required=True),
    _f("data_nonfinite", "natural", "entries whose value is nan or inf"),
    _f("update_norm", "number", "norm of the update (training steps)"),
    _f("update_ratio", "number", "update_norm / data_norm (training steps)"),
    _f("moved_without_grad", "dict", "training steps: the entries whose gradient this step is exactly 0 (the step "
       "does not read them, or passes them no gradient), so that no node holds their update, which the update moves "
       "all the same (Adam's momentum from earlier steps): `\"row,col\"` -> `[value before, value after]`, finite "
       "values only (a training step's file written before it was recorded lacks it: not known)"),
)  # fmt: skip
UPDATE_STATS = ("update_norm", "update_ratio")  # required of a training step's matrices

# --- nodes ---------------------------------------------------------------------------------------
# `column`: the store's column for it. pos, layer, block, head and stage are implied by the scope
# (tracer/model/scopes.py); the store keeps them as columns for other readers (DuckDB, pandas).
NODES = (
    _f("op", "str", "`param`, `const`, `+`, `*`, `**`, `exp`, `log`, `relu`; fused view also `dot`, `lin` (a row of "
       "a linear layer: a dot product with weights), `sum`", on="all", required=True, column="text"),
    _f("data", "number", "value (float; may be `inf`/`nan`)", on="all", required=True, column="double"),
    _f("grad", "number", "d loss / d node after backward", on="all", required=True, column="double"),
    _f("scope", "str", "where it was made: `pos3/layer0/attn/head2/weights`; parameters: `param/<name>`; the final "
       "mean: `loss/mean`", on="all", required=True, column="text"),
    _f("pos", "natural", "query position (0-based)", on="position nodes", column="int32"),
    _f("layer", "natural", "layer index", on="layer nodes and layer parameters", column="int32"),
    _f("block", "name", "`embed`, `attn`, `mlp`, `lm_head`, `loss`", on="all but consts of the mean", column="text"),
    _f("head", "natural", "head index", on="attention-head nodes", column="int32"),
    _f("stage", "name", "last named stage: `add`, `rmsnorm`, `q`, `k`, `v`, `logits`, `weights`, `out`, `wo`, "
       "`residual`, `fc1`, `relu`, `fc2`, `softmax`, `nll`, `mean`; for parameters the matrix's short name (`wte`, "
       "`attn_wq`, ...)", on="all", required=True, column="text"),
    _f("exponent", "number", "the exponent k of `x ** k`", on="`**`", column="double"),
    _f("key", "natural", "the key position this weight looks at (the node is in stage `weights`)",
       on="attention weights", column="int32"),
    _f("unit", "natural", "the output's index (row of the weight matrix; MLP unit)",
       on="outputs of a linear map and of `relu`", column="int32"),
    _f("param", "name", "matrix name: `wte`, `wpe`, `lm_head`, `layer0.attn_wq`, ..., `layer0.mlp_fc2`", on="`param`",
       column="text"),
    _f("index", "index", "`[row, col]` in that matrix (the store: columns `row` and `col`)", on="`param`"),
    _f("new_data", "number", "after this step's Adam update: the new value", on="`param`", column="double"),
    _f("adam_m", "number", "Adam's first moment after the update", on="`param`", column="double"),
    _f("adam_v", "number", "Adam's second moment after the update", on="`param`", column="double"),
    _f("update_ratio", "number", "`abs(new_data - data) / abs(data)`", on="`param`", column="double"),
    _f("source", "str", "`file:line` of the script's own code that made the node (file relative to the script's "
       "folder)", on="nodes of a script's trace"),
    _f("function", "str", "the script's function running that line (`<module>` at the top level)",
       on="nodes of a script's trace"),
    _f("local_grad_known", "bool", "`false`: the local derivatives on this node's in-edges are unknown (NaN), see "
       "below", on="a few nodes of a micrograd-style script"),
)  # fmt: skip
OPS = ("param", "const", "leaf", "+", "*", "**", "exp", "log", "relu", "dot", "lin", "sum")
VIEWS = ("elementary", "fused")
SCOPE_IMPLIED = ("pos", "layer", "block", "head", "stage")  # what `scopes.parse` gives of a scope
ADAM = ("new_data", "adam_m", "adam_v", "update_ratio")  # required of a parameter in a training step
SCRIPT_ADAM_OPTIONAL = ("adam_m", "adam_v")  # a script's own optimizer has no Adam moments

# --- edges (operand -> result) -------------------------------------------------------------------
EDGES = (
    _f("local_grad", "number", "d result / d operand, as the engine computed it", required=True),
    _f("grad_flow", "number", "`local_grad * grad(result)`: what flowed back along the edge; a node's `grad` is the "
       "sum of the `grad_flow` of its out-edges", required=True),
    _f("multiplicity", "natural", "present (2) when the operand enters the result twice (`x * x`); `local_grad` and "
       "`grad_flow` are then the totals"),
)  # fmt: skip

# --- collapsed graphs (`trace.collapse(level)`) ---------------------------------------------------
COLLAPSED_NODES = (
    _f("level", "str", "the level"),
    _f("scope", "str", "the scope path (= node id)"),
    _f("label", "str", "a short label"),
    _f("count", "natural", "number of elementary nodes inside"),
    _f("ops", "dict", "dict op -> count (JSON string in GraphML)"),
    _f("grad_norm", "number", "over the parameters and activations inside: constants' gradients (d loss / d(1/n), "
       "d loss / d(the 0 a sum starts from)) are left out"),
    _f("grad_abs_sum", "number", "as `grad_norm`"),
    _f("grad_abs_max", "number", "as `grad_norm`"),
    _f("data_norm", "number", "of the values inside"),
    _f("data_abs_max", "number", "of the values inside"),
    _f("nonfinite", "natural", "nodes inside whose value or gradient is nan or inf"),
    _f("zero_grad", "natural", "nodes inside whose gradient is exactly 0"),
    _f("internal_edges", "natural", "elementary edges with both ends inside"),
)  # fmt: skip
COLLAPSED_EDGES = (
    _f("count", "natural", "elementary edges between the two scopes"),
    _f("grad_flow", "number", "sum of their `grad_flow`"),
    _f("grad_flow_abs", "number", "sum of `abs(grad_flow)`"),
)

# --- answers (`inspect --json`, the report): numbers other tables do not hold --------------------------
ANSWERS = (_f("contribution", "number", "a gradient path's product of local gradients times the end's gradient"),)

# --- the store (Parquet): one row per node, both views -------------------------------------------
# Its columns, in the file's order: the node attributes whose Field has a `column` (its type), and the
# store's own. `index` is two columns; `extra` holds any further attribute a model marked, as JSON.
# "text" is a dictionary-encoded string (codes into the values met so far: op, scope, block, stage).
STORE_OWN = {
    "view": ("text", "`elementary` or `fused`; ids are per view"),
    "id": ("uint32", "the node id (`0..N-1` in each view, operands before results)"),
    "row": ("int32", "a parameter's `index`: its row"),
    "col": ("int32", "and its column"),
    "extra": ("string", "JSON of any further attribute a model marked (null when none); never one that has a column"),
    "operands": ("list<uint32>", "ids of the operands, in operand order: the sources of the node's in-edges"),
    "local_grads": ("list<double>", "each in-edge's `local_grad` (as many as `operands`)"),
    "grad_flows": ("list<double>", "each in-edge's `grad_flow` (as many as `operands`)"),
    "multiplicity": ("list<uint8>", "null, or each operand's multiplicity where one enters twice (`x * x`)"),
}
STORE_ORDER = ("view", "id", "op", "data", "grad", "scope", "pos", "layer", "head", "block", "stage", "param", "row",
               "col", "key", "unit", "exponent", "new_data", "adam_m", "adam_v", "update_ratio", "extra", "operands",
               "local_grads", "grad_flows", "multiplicity")  # fmt: skip
EDGE_LISTS = ("operands", "local_grads", "grad_flows", "multiplicity")  # one entry per in-edge, in step

# The spelling of a number that is not finite wherever microtrace writes one as text: "NaN", "Infinity",
# "-Infinity" (util/jsontext.py, below every package, so that viz/draw's number formats use it too).
NONFINITE = jsontext.NONFINITE
nonfinite_word = jsontext.nonfinite_word


# --- derived lists -------------------------------------------------------------------------------
def names(table):
    return tuple(f.name for f in table)


def by_name(table):
    return {f.name: f for f in table}


def number_fields():
    """Every attribute name whose value is a number that may be nan or inf, in any table."""
    tables = (GRAPH, PARAM_STATS, NODES, EDGES, COLLAPSED_NODES, COLLAPSED_EDGES, ANSWERS)
    return frozenset(f.name for t in tables for f in t if f.numeric)


def store_columns():
    """[(name, type, meaning)] of the store's columns, in the file's order."""
    nodes = {f.name: (f.column, f.doc) for f in NODES if f.column}
    return [(name, *(STORE_OWN.get(name) or nodes[name])) for name in STORE_ORDER]


# The node attributes beyond op, data, grad and scope that have columns of their own (the sparse ones):
# everything else a node holds is either implied by its scope or goes to `extra`.
SPARSE = tuple(f.name for f in NODES if f.column and f.name not in ("op", "data", "grad", "scope", *SCOPE_IMPLIED))
# XML (GraphML, GEXF) type of each of our types: lists and dicts are written as JSON strings.
_XML = {"bool": "boolean", "int": "long", "natural": "long", "number": "double", "str": "string", "name": "string",
        "dict": "string", "list[int]": "string", "list[str]": "string"}  # fmt: skip


def xml_types(domain):
    """name -> GraphML/GEXF type of the attributes of `domain` ("graph", "node" or "edge"), a collapsed
    graph's included; a parameter's `index` is written as `index_row` and `index_col`."""
    tables = {"graph": (GRAPH,), "node": (NODES, COLLAPSED_NODES), "edge": (EDGES, COLLAPSED_EDGES)}[domain]
    out = {}
    for table in tables:
        for f in table:
            if f.type == "index":
                out.update(index_row="long", index_col="long")
            else:
                out.setdefault(f.name, _XML[f.type])
    return out
