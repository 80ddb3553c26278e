"""The explorer's script: ES modules (js/*.js) joined by bundle.py, each in a scope of its own, and one
owner of the page's state (state.js)."""

import re
from pathlib import Path

import pytest

from microtrace.viz.explore import bundle

JS = Path(bundle.__file__).parent / "js"


def sources():
    return {name: (JS / name).read_text(encoding="utf-8") for name in bundle.MODULES}


def test_every_js_file_is_a_module_of_the_page_once():
    """A file added to the folder but not to MODULES (or the other way round) would leave the page
    without it; pyproject ships the folder."""
    assert sorted(bundle.MODULES) == sorted(p.name for p in JS.glob("*.js"))
    script = bundle.script()
    at = [script.index(f"// --- {name}\n") for name in bundle.MODULES]
    assert at == sorted(at) and all(script.count(f"// --- {name}\n") == 1 for name in bundle.MODULES)
    assert '"js/*.js"' in (Path(bundle.__file__).parents[4] / "pyproject.toml").read_text(encoding="utf-8")


def test_a_module_imports_only_what_it_uses():
    """Imports say what a module depends on: one it does not use would claim a dependency it has not."""
    for name, text in sources().items():
        body = bundle.IMPORT.sub("", text)
        for m in bundle.IMPORT.finditer(text):
            for _, loc in bundle._names(m.group(1) or ""):
                assert re.search(rf"(?<![\w$]){re.escape(loc)}(?![\w$])", body), (
                    f"{name} imports {loc} and never uses it"
                )


def test_only_state_js_writes_the_state():
    """One owner: every other module reads S and calls state.js's setters (S itself throws on a write)."""
    write = re.compile(
        r"\bS\.\w+(\.\w+)*\s*(=(?!=)|\+=|-=|\+\+|--)|\bS\.(items|opened|hl)\.(set|delete|push|pop|splice|clear)\("
    )
    for name, text in sources().items():
        if name != "state.js":
            assert not write.search(text), f"{name} writes the state: {write.search(text).group(0)}"
    assert "new Proxy(state" in sources()["state.js"]


@pytest.mark.parametrize(
    "mods, message",
    [
        ({"a.js": 'import { f } from "./b.js";\nf();\n', "b.js": "export function f() {}\n"}, "not a module before it"),
        ({"a.js": "export let x = 1;\n"}, "never reassigned"),
        ({"a.js": "export function f() {}\n", "b.js": 'import { g } from "./a.js";\n'}, "does not export"),
        ({"a.js": "const f = 1;\nexport { f };\n"}, "write imports"),
    ],
)
def test_the_joiner_refuses_what_it_cannot_keep_apart(mods, message):
    with pytest.raises(bundle.ModuleError, match=message):
        bundle.bundle(mods)


def test_imports_are_read_from_the_module_before():
    out = bundle.bundle(
        {
            "a.js": "export const x = 2;\nconst hidden = 3;\n",
            "b.js": 'import { x as y } from "./a.js";\nexport const z = y + 1;\n',
        }
    )
    assert "const { x: y } = m_a;" in out and "return { x };" in out and "return { z };" in out
