"""The explorer's script: ES modules (js/*.js, one idea a file, each with its own scope, importing what it
uses by name) joined into one classic script when the page is written, so the page stays one file that
works from disk, in an <iframe> and under a Content-Security-Policy that admits only its own inline
scripts (an inline module cannot import another inline one).

Each module becomes a function run once, in MODULES order, that returns its exports; an import becomes
a read of an earlier module's exports. So a module may import only from modules before it (no cycles:
a module lower down tells those above through state.js's `on`), and exports only what it will never
reassign (`const`, `function`, `class`): what a module hands out is read once, when the next one starts.
"""

import re
from importlib import resources

from microtrace.util.errors import WorkFailed

MODULES = (
    "dom.js",  # an element by selector, escaping, a line of news
    "data.js",  # the index, views unpacked on demand, the per-node tables
    "state.js",  # the page's state and its one owner: setters, and `on` for who listens
    "draw.js",  # a view's compact layout -> shapes -> SVG
    "camera.js",  # where the drawing sits: fit, zoom, pan, centre, dive
    "view.js",  # opening a view, placing its drawing, breadcrumbs, selection
    "lod.js",  # level of detail: no text on screen under 9 px, a box's name kept as long as it fits
    "lanes.js",  # the KV cache's edges in lanes beside the attention column (as viz/graph/lanes.py)
    "router.js",  # the other edges that place no node, in right angles around the boxes
    "relayout.js",  # a view laid out again by Graphviz (in the page) with groups open in place
    "inplace.js",  # a group opened in place, and closed again
    "minimap.js",  # the whole view small, the part on screen outlined; click or drag to move there
    "search.js",  # node ids, parameter entries, scopes, source lines
    "inspector.js",  # the selected item's numbers, gradient paths
    "compare.js",  # a second trace's colours and first difference
    "split.js",  # the two steps side by side under one camera
    "player.js",  # forward and backward, one operation at a time
    "hash.js",  # the URL
    "input.js",  # the mouse, touch and the keys
    "main.js",  # the start
)

IMPORT = re.compile(r'^import (?:\{([^}]*)\} from )?"\./([\w-]+\.js)";\n', re.M)
EXPORT = re.compile(r"^export (async function\*? |function\*? |class |const |let |var )([\w$]+)?", re.M)


class ModuleError(WorkFailed, ValueError):
    """A module the joiner cannot keep apart: a cycle, a name not exported, an export it may reassign (the
    package's own JS is at fault, not the input: work that failed)."""


def _names(spec):
    """`a, b as c` -> [("a", "a"), ("b", "c")]: (exported name, local name)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.fullmatch(r"([\w$]+)(?:\s+as\s+([\w$]+))?", part)
        if not m:
            raise ModuleError(f"cannot read the import {part!r}")
        out.append((m.group(1), m.group(2) or m.group(1)))
    return out


def _var(name):
    return "m_" + name.removesuffix(".js").replace("-", "_")


def bundle(sources):
    """{file name: module text} in MODULES order -> one script (str), each module in a scope of its own."""
    exports, out = {}, []
    for name, text in sources.items():
        mine = []
        for m in EXPORT.finditer(text):
            kind, ident = m.group(1).strip(), m.group(2)
            if kind in ("let", "var") or ident is None:
                raise ModuleError(
                    f"{name}: export only what is never reassigned (const, function, class): {m.group(0)!r}"
                )
            mine.append(ident)
        head = []
        for m in IMPORT.finditer(text):
            spec, dep = m.group(1), m.group(2)
            if dep not in exports:
                raise ModuleError(f"{name} imports {dep}, which is not a module before it (in MODULES order)")
            pairs = _names(spec or "")
            for ext, _ in pairs:
                if ext not in exports[dep]:
                    raise ModuleError(f"{name} imports {ext} from {dep}, which does not export it")
            if pairs:
                fields = ", ".join(e if e == loc else f"{e}: {loc}" for e, loc in pairs)
                head.append(f"const {{ {fields} }} = {_var(dep)};")
        body = EXPORT.sub(lambda m: m.group(1) + (m.group(2) or ""), IMPORT.sub("", text)).strip("\n")
        if re.search(r"^(export|import)\b", body, re.M):
            raise ModuleError(
                f'{name}: write imports as `import {{ a, b }} from "./x.js";` and exports as `export function|const|class`'
            )
        exports[name] = set(mine)
        out.append(
            f"// --- {name}\nconst {_var(name)} = (() => {{\n"
            + "".join(h + "\n" for h in head)
            + body
            + f"\nreturn {{ {', '.join(mine)} }};\n}})();"
        )
    return '"use strict";\n' + "\n".join(out) + "\n"


def script():
    """The page's script: js/*.js in MODULES order, joined."""
    js = resources.files("microtrace.viz.explore").joinpath("js")
    return bundle({name: js.joinpath(name).read_text(encoding="utf-8") for name in MODULES})
