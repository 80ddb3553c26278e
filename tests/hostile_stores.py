"""Damaged trace stores, made the way a hostile file would be (issue 22): metadata of the wrong types,
JSON nested past any bound, footer row counts that the data does not hold, columns that disagree with
each other or with the node rules, `extra` attributes that override core columns.

`damage(good, out, kind, rng)` writes a damaged copy of the store `good`; `KINDS` lists the kinds. Used by
tests/tracer/storage/test_store_hostile.py (hypothesis picks the kinds and their details) and, as a
script, to count how many kinds every reading command refuses cleanly:

    python tests/hostile_stores.py STORE.parquet [PYTHON]   (a line per case not handled, and the counts)
"""

import json
import shlex
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# --- the footer: Parquet's FileMetaData in Thrift's compact protocol, read and written back --------
# Enough of the protocol to change a number in place: every value is kept as it was read.


def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i


def _write_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(n):
    return (n << 1) ^ (n >> 63)


def _unzigzag(n):
    return (n >> 1) ^ -(n & 1)


def _read_value(buf, i, t):
    if t in (1, 2):  # bool in a struct field: the type is the value
        return t == 1, i
    if t == 3:
        return buf[i], i + 1
    if t in (4, 5, 6):
        n, i = _varint(buf, i)
        return _unzigzag(n), i
    if t == 7:
        return buf[i : i + 8], i + 8
    if t == 8:
        n, i = _varint(buf, i)
        return bytes(buf[i : i + n]), i + n
    if t in (9, 10):
        head = buf[i]
        i += 1
        size, et = head >> 4, head & 0x0F
        if size == 15:
            size, i = _varint(buf, i)
        items = []
        for _ in range(size):
            if et in (1, 2):
                items.append(buf[i] == 1)
                i += 1
            else:
                v, i = _read_value(buf, i, et)
                items.append(v)
        return ("list", et, items), i
    if t == 12:
        return _read_struct(buf, i)
    raise ValueError(f"thrift type {t} not handled")


def _read_struct(buf, i):
    fields, last = [], 0
    while True:
        head = buf[i]
        i += 1
        if head == 0:
            return ("struct", fields), i
        delta, t = head >> 4, head & 0x0F
        if delta:
            fid = last + delta
        else:
            n, i = _varint(buf, i)
            fid = _unzigzag(n)
        v, i = _read_value(buf, i, t)
        fields.append([fid, t, v])
        last = fid


def _write_value(v, t):
    if t in (1, 2):
        return b""
    if t == 3:
        return bytes([v])
    if t in (4, 5, 6):
        return _write_varint(_zigzag(v))
    if t == 7:
        return bytes(v)
    if t == 8:
        return _write_varint(len(v)) + v
    if t in (9, 10):
        _, et, items = v
        head = bytes([(min(len(items), 15) << 4) | et]) + (_write_varint(len(items)) if len(items) >= 15 else b"")
        if et in (1, 2):
            return head + bytes(1 if x else 2 for x in items)
        return head + b"".join(_write_value(x, et) for x in items)
    if t == 12:
        return _write_struct(v)
    raise ValueError(t)


def _write_struct(s):
    out, last = bytearray(), 0
    for fid, t, v in s[1]:
        if t in (1, 2):
            t = 1 if v else 2
        if 0 < fid - last <= 15:
            out.append(((fid - last) << 4) | t)
        else:
            out.append(t)
            out += _write_varint(_zigzag(fid))
        out += _write_value(v, t)
        last = fid
    out.append(0)
    return bytes(out)


def _field(s, fid):
    return next(f for f in s[1] if f[0] == fid)


def forge_row_counts(path, rows):
    """Rewrite `path`'s footer so that the file and its first row group claim `rows` rows (and each of
    that group's column chunks as many values): the data pages stay as they are."""
    data = bytearray(open(path, "rb").read())
    length = struct.unpack("<I", data[-8:-4])[0]
    start = len(data) - 8 - length
    meta, _ = _read_struct(data, start)
    old_group = _field(_field(meta, 4)[2][2][0], 3)[2]
    _field(meta, 3)[2] += rows - old_group  # FileMetaData.num_rows
    group = _field(meta, 4)[2][2][0]  # RowGroup
    _field(group, 3)[2] = rows  # RowGroup.num_rows
    for chunk in _field(group, 1)[2][2]:  # ColumnChunk -> ColumnMetaData.num_values
        cm = next((f for f in chunk[1] if f[0] == 3), None)
        if cm is not None:
            _field(cm[2], 5)[2] = rows
    footer = _write_struct(meta)
    with open(path, "wb") as f:
        f.write(bytes(data[:start]) + footer + struct.pack("<I", len(footer)) + b"PAR1")


# --- the store's own content: metadata and columns ---------------------------------------------------


def _read(good):
    f = pq.ParquetFile(good)
    return f.read(), json.loads(f.metadata.metadata[b"microtrace"])


def _write(out, table, meta, raw_meta=None):
    table = table.replace_schema_metadata(None)
    with pq.ParquetWriter(out, table.schema, compression="zstd", write_page_checksum=True) as w:
        for view in ("elementary", "fused"):
            rows = table.filter(pc.equal(table["view"].cast(pa.string()), view))
            for lo in range(0, rows.num_rows, 65_536):
                w.write_table(rows.slice(lo, 65_536))
        w.add_key_value_metadata({"microtrace": raw_meta if raw_meta is not None else json.dumps(meta)})


def _set(table, name, row, value):
    """`table` with column `name`'s value at `row` replaced (a dictionary column stays one)."""
    col = table[name].combine_chunks()
    typ = table.schema.field(name).type
    values = col.to_pylist()
    values[row] = value
    arr = pa.array(values, typ.value_type if pa.types.is_dictionary(typ) else typ)
    if pa.types.is_dictionary(typ):
        arr = arr.dictionary_encode().cast(typ)
    return table.set_column(table.schema.get_field_index(name), name, arr)


def _first(table, name, test=lambda v: v is not None):
    return next(i for i, v in enumerate(table[name].to_pylist()) if test(v))


def _nested(depth):
    return "[" * depth + "]" * depth


def _meta_kind(change):
    def make(good, out, rng):
        table, meta = _read(good)
        raw = change(meta, rng)
        _write(out, table, meta, raw if isinstance(raw, str) else None)

    return make


def _column_kind(change):
    def make(good, out, rng):
        table, meta = _read(good)
        _write(out, change(table, meta, rng), meta)

    return make


def _edges_row(table, rng):
    """A row of the elementary view with at least two operands."""
    rows = [i for i, ops in enumerate(table["operands"].to_pylist()) if ops and len(ops) >= 2]
    return rows[rng.randrange(len(rows))]


def _short_list(name):
    def change(table, meta, rng):
        row = _edges_row(table, rng)
        values = table[name][row].as_py()
        return _set(table, name, row, values[:-1])

    return change


def _forged_counts(good, out, rng):
    rows = rng.choice([2**28, 2**31, 2**40])
    table, meta = _read(good)
    old = pq.ParquetFile(good).metadata.row_group(0).num_rows
    first = next(iter(meta["views"]))
    meta["views"][first]["nodes"] += rows - old  # the metadata agrees with the forged footer
    _write(out, table, meta)
    forge_row_counts(out, rows)


KINDS = {
    # metadata
    "meta a list": _meta_kind(lambda m, r: json.dumps([m])),
    "meta a number": _meta_kind(lambda m, r: "3"),
    "meta without views": _meta_kind(lambda m, r: m.pop("views") and None),
    "views a string": _meta_kind(lambda m, r: m.update(views="elementary")),
    "views a list": _meta_kind(lambda m, r: m.update(views=list(m["views"]))),
    "a view a string": _meta_kind(lambda m, r: m["views"].update(elementary="x")),
    "edges a string": _meta_kind(lambda m, r: m["views"]["elementary"].update(edges=str(m["views"]["elementary"]["edges"]))),
    "nodes a float": _meta_kind(lambda m, r: m["views"]["elementary"].update(nodes=m["views"]["elementary"]["nodes"] + 0.5)),
    "edges too many": _meta_kind(lambda m, r: m["views"]["elementary"].update(edges=m["views"]["elementary"]["edges"] + r.randint(1, 9))),
    "edges negative": _meta_kind(lambda m, r: m["views"]["elementary"].update(edges=-1)),
    "loss node a string": _meta_kind(lambda m, r: m["views"]["elementary"].update(loss_node="0")),
    "loss node past the end": _meta_kind(lambda m, r: m["views"]["fused"].update(loss_node=10**9)),
    "meta nested deep": _meta_kind(lambda m, r: json.dumps({**m, "config": None}).replace(
        '"config": null', '"config": ' + _nested(r.randint(2_000, 100_000)))),
    "doc a number": _meta_kind(lambda m, r: m.update(doc=3)),
    "tokens a string": _meta_kind(lambda m, r: m.update(tokens="abc")),
    "param_stats a list": _meta_kind(lambda m, r: m.update(param_stats=list(m["param_stats"]))),
    "a shape a string": _meta_kind(lambda m, r: m["param_stats"][next(iter(m["param_stats"]))].update(shape="2x3")),
    "format a string": _meta_kind(lambda m, r: m.update(format="1")),
    "store version 2": _meta_kind(lambda m, r: m.update(store=2)),
    "meta not JSON": _meta_kind(lambda m, r: "{" + json.dumps(m)),
    # counts
    "footer claims 2^28 rows": _forged_counts,
    # columns against the node rules
    "unknown parameter name": _column_kind(lambda t, m, r: _set(t, "param", _first(t, "param"), "nosuch")),
    "parameter row outside its matrix": _column_kind(lambda t, m, r: _set(t, "row", _first(t, "row"), 10**6)),
    "parameter without its row": _column_kind(lambda t, m, r: _set(t, "row", _first(t, "row"), None)),
    "empty scope": _column_kind(lambda t, m, r: _set(t, "scope", r.randrange(t.num_rows), "")),
    "scope ending in a backslash": _column_kind(lambda t, m, r: _set(t, "scope", r.randrange(t.num_rows), "pos0/embed\\")),
    "scope with a quote": _column_kind(lambda t, m, r: _set(t, "scope", r.randrange(t.num_rows), 'pos0/a"b')),
    "scope position past the document": _column_kind(lambda t, m, r: _set(t, "scope", r.randrange(t.num_rows), "pos99/layer0/attn")),
    "unknown op": _column_kind(lambda t, m, r: _set(t, "op", r.randrange(t.num_rows), "<script>")),
    "no op": _column_kind(lambda t, m, r: _set(t, "op", r.randrange(t.num_rows), None)),
    "key after its position": _column_kind(lambda t, m, r: _set(t, "key", _first(t, "key"), 50)),
    "power without exponent": _column_kind(lambda t, m, r: _set(t, "exponent", _first(t, "exponent"), None)),
    "no value": _column_kind(lambda t, m, r: _set(t, "data", r.randrange(t.num_rows), None)),
    # the extra column
    "extra overrides op": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), '{"op": "*"}')),
    "extra overrides scope": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), '{"scope": "x"}')),
    "extra overrides data": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), '{"data": "x"}')),
    "extra overrides param": _column_kind(lambda t, m, r: _set(t, "extra", _first(t, "param"), '{"param": "nosuch"}')),
    "extra pos a string": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), '{"pos": "x"}')),
    "extra a list": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), "[1, 2]")),
    "extra not JSON": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows), "{")),
    "extra nested deep": _column_kind(lambda t, m, r: _set(t, "extra", r.randrange(t.num_rows),
                                                           '{"x": ' + _nested(r.randint(2_000, 100_000)) + "}")),
    # edges: lists that disagree
    "local_grads one short": _column_kind(_short_list("local_grads")),
    "grad_flows one short": _column_kind(_short_list("grad_flows")),
    "operands one short": _column_kind(_short_list("operands")),
    "multiplicity of the wrong length": _column_kind(lambda t, m, r: _set(t, "multiplicity", _edges_row(t, r), [2])),
    "operand after its result": _column_kind(lambda t, m, r: _set(t, "operands", _edges_row(t, r), [10**6, 0])),
    "operands missing": _column_kind(lambda t, m, r: _set(t, "operands", _edges_row(t, r), None)),
}  # fmt: skip


def damage(good, out, kind, rng):
    """Write to `out` a copy of the store `good` damaged as `kind` says (KINDS), details from `rng`."""
    KINDS[kind](good, out, rng)


# --- every reading command, in a process of its own, under a memory limit ------------------------------

COMMANDS = {
    "inspect": ["inspect"],
    "doctor": ["doctor"],
    "graph": ["graph", "-o", "out.svg"],
    "attention": ["attention", "-o", "out.png"],
    "gradflow": ["gradflow", "-o", "out.png"],
    "report": ["report", "-o", "out.html"],
    "explore": ["explore", "-o", "out.html"],
    "export": ["export", "-o", "out.graphml"],
    "trace": ["trace", "-o", "out.json"],
}
MEMORY_KB = 4_000_000  # ulimit -v: a few GB, so that an allocation believed from a forged count fails


def run(command, store, workdir, python=sys.executable, env=None):
    """(exit code, stderr, the output's bytes) of `microtrace COMMAND --trace STORE` run in `workdir` in a
    process of its own under a `ulimit -v` of MEMORY_KB."""
    args = [*COMMANDS[command][:1], "--trace", str(store), *COMMANDS[command][1:]]
    code = f"import sys; sys.argv = ['microtrace', *{args!r}]; from microtrace.cli import main; main()"
    line = f"ulimit -v {MEMORY_KB}; exec {shlex.quote(python)} -c {shlex.quote(code)}"
    r = subprocess.run(["bash", "-c", line], cwd=workdir, capture_output=True, env=env, timeout=600)
    out = Path(workdir) / COMMANDS[command][-1] if "-o" in COMMANDS[command] else None
    made = out.read_bytes() if out and out.exists() else r.stdout
    if out and out.exists():
        out.unlink()
    return r.returncode, r.stderr.decode(errors="replace"), made


def verdict(code, err, made, good):
    """None when a damaged store was met as it should be: one line on stderr and exit 2, or (a command that
    does not read what was damaged) exactly what the good store gives; else what went wrong."""
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 2 and len(lines) == 1 and "Traceback" not in err:
        return None
    if code in (0, 1) and made == good:
        return None
    if "Traceback" in err:
        return f"traceback: {lines[-1][:100] if lines else ''}"
    if code in (0, 1):
        return f"exit {code} with a different output"
    return f"exit {code}, {len(lines)} lines: {lines[-1][:100] if lines else ''}"


def main(good, python=sys.executable, seed=0):
    """Damage `good` every way KINDS knows, run every command on each, print a line per failure and the
    counts."""
    import random

    with tempfile.TemporaryDirectory() as tmp:
        expected = {c: run(c, good, tmp, python)[2] for c in COMMANDS}
        handled = total = 0
        for kind in KINDS:
            bad = Path(tmp) / "bad.parquet"
            damage(good, bad, kind, random.Random(seed))
            for command in COMMANDS:
                total += 1
                wrong = verdict(*run(command, bad, tmp, python), expected[command])
                if wrong:
                    print(f"NOT handled: {kind} / {command}: {wrong}", flush=True)
                else:
                    handled += 1
        print(f"{handled} of {total} handled ({len(KINDS)} kinds x {len(COMMANDS)} commands)")


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:3])
