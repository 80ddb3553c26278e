"""The layering the package docstrings promise: the engine imports nothing of microtrace but itself, the
tracer nothing of viz, viz.draw nothing of microtrace but itself, and only cli imports click or is
imported as the command line. Read from the source (every import, also inside functions)."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "microtrace"


def imports(path):
    """Every module name imported by the file at `path` (absolute imports only: the project uses no other)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(folder):
    return sorted((PKG / folder).rglob("*.py"))


def ours(names):
    return {n for n in names if n == "microtrace" or n.startswith("microtrace.")}


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [
        ("util", ("microtrace.util",)),
        ("engine", ("microtrace.engine", "microtrace.util")),
        ("tracer", ("microtrace.engine", "microtrace.tracer", "microtrace.util")),
        ("viz", ("microtrace.engine", "microtrace.tracer", "microtrace.util", "microtrace.viz")),
        ("viz/draw", ("microtrace.viz.draw", "microtrace.util")),
    ],
)
def test_each_layer_imports_only_what_is_below_it(folder, allowed):
    for path in modules(folder):  # the bare root package is no layer: it holds a docstring (where it is installed)
        bad = {n for n in ours(imports(path)) - {"microtrace"} if not n.startswith(allowed)}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_command_line_uses_click():
    for path in modules("util") + modules("engine") + modules("tracer") + modules("viz"):
        names = imports(path)
        assert not any(n == "click" or n.startswith("click.") for n in names), path
        assert not any(n.startswith("microtrace.cli") for n in names), path


def test_every_package_says_what_it_holds_and_may_import():
    for init in sorted(PKG.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "TODO" not in doc and len(doc) > 80, f"{init.relative_to(ROOT)} needs its docstring"
        assert "import" in doc.lower(), f"{init.relative_to(ROOT)}: say what it may import"


def _docstrings(tree):
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def _cli_options():
    """Every option name of every microtrace command (`--steps`, `--no-fold`...)."""
    from microtrace.cli import cli

    names = set()
    for command in [cli, *cli.commands.values()]:
        for param in command.params:
            names.update(o for o in [*param.opts, *param.secondary_opts] if o.startswith("--"))
    return names


def test_library_messages_name_no_command_line_option():
    """Only cli knows the options: a library error carries what the CLI needs to word its own message
    (e.g. `LimitError.setting`), and a figure's text names no flag. Docstrings and comments may."""
    flag = re.compile(r"(?<![\w-])--[a-z][a-z-]+")
    options = _cli_options()  # microtrace's own: another program's (dot's, Chromium's) are no CLI of ours
    assert {"--max-memory", "--steps", "--focus"} <= options
    found = []
    for path in modules("util") + modules("engine") + modules("tracer") + modules("viz"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno}: {m}" for m in flag.findall(node.value) if m in options
                ]
    assert not found, found


def _library_modules():
    for path in modules("util") + modules("engine") + modules("tracer") + modules("viz"):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_library_error_has_the_one_root():
    """Every exception class of the library is a MicrotraceError (BadInput or WorkFailed), so a notebook
    catches one class and the command line words each in one place; BaseException subclasses are control
    flow (a recorder's stop, a script's timeout), never shown to a user."""
    import importlib
    import inspect

    from microtrace.util.errors import BadInput, MicrotraceError, WorkFailed

    errors = []
    for name in _library_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, Exception) and cls is not MicrotraceError:
                if issubclass(cls, Warning):  # a note that goes on (printsize.FitNote), not an error
                    continue
                errors.append(cls)
                assert issubclass(cls, (BadInput, WorkFailed)), f"{name}.{cls.__name__} is no MicrotraceError"
    assert len(errors) >= 15 and all(issubclass(e, MicrotraceError) for e in errors)


def test_an_error_is_worded_with_the_option_the_command_line_has_for_its_argument():
    from microtrace.tracer.analysis.gradcheck import check_eps
    from microtrace.tracer.analysis.step_ranges import parse_steps
    from microtrace.util.limits import LimitError

    with pytest.raises(Exception) as e:
        check_eps(1e-12)
    assert str(e.value).startswith("eps 1e-12") and e.value.worded("--eps").startswith("--eps 1e-12 makes")
    with pytest.raises(Exception) as e:
        parse_steps("3:3")
    assert e.value.worded("--steps") == "--steps " + str(e.value) and e.value.exit_code == 2
    assert LimitError("x is 3, above 2", 2, None, "n").worded("--n N") == "x is 3, above 2; raise it with --n N"


def _packages():
    return sorted(init.parent for init in PKG.rglob("__init__.py"))


@pytest.mark.parametrize("package", _packages(), ids=lambda p: str(p.relative_to(PKG.parent)))
def test_each_package_docstring_names_all_its_modules(package):
    """The docstring of a package is its map: each module and sub-package named as `name` in it, so a
    module added without a word in the map fails here."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    named = {part for name in re.findall(r"`([\w.]+)", doc) for part in [name, *name.split(".")]}
    parts = [p.stem for p in package.glob("*.py") if p.stem != "__init__"]
    parts += [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    missing = sorted(p for p in parts if p not in named and f"{package.name}.{p}" not in named)
    assert not missing, f"{package.relative_to(ROOT)}/__init__.py does not name {missing}"
