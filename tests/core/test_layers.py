"""The house rules the import checker cannot see: the core is Qt-free, an import inside a function says why, every
service's ``ws`` is typed, mypy has no per-module baseline, and the window and the CLI start without the heavy
libraries (pandas, openpyxl, reportlab) that only some commands need."""

import ast
import functools
import io
import json
import pathlib
import re
import subprocess
import sys
import tokenize
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE = ROOT / "kodomo_desktop" / "core"
# markers that are not a reason: a bare "#", a linter's or type checker's switch
_NOT_A_REASON = re.compile(
    r"noqa(:\s*[A-Z]+[0-9]+(\s*,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?|pragma:\s*no\s*cover"
    r"|fmt:\s*(on|off|skip)|isort:\s*\w+",
    re.I,
)


def _core_files():
    return [p for p in sorted(CORE.rglob("*.py")) if "migrations" not in p.parts]


@functools.cache
def _parsed(p: pathlib.Path) -> tuple[str, ast.Module]:
    """A core file's text and syntax tree, read and parsed once for the tests of this module that walk them all."""
    src = p.read_text(encoding="utf-8")
    return src, ast.parse(src)


@pytest.fixture(scope="module", autouse=True)
def _forget_the_trees():
    """The trees go when this module's tests are done: ~430,000 objects that every later full collection of the
    test process would walk again (~0.2 s each)."""
    yield
    _parsed.cache_clear()


def _reasons(src: str) -> dict[int, str]:
    """Line number → the text of its comment, markers such as ``noqa`` left out."""
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.COMMENT:
            text = _NOT_A_REASON.sub("", tok.string.lstrip("#")).strip(" :#-")
            if re.search(r"\w{2}", text):
                out[tok.start[0]] = text
    return out


# the fields of a statement that hold statements: an import is a statement, so no expression is looked into
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _imports_inside_functions(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []
    stack: list[tuple[ast.AST, bool]] = [(tree, False)]  # (node, inside a function)
    while stack:
        node, inside = stack.pop()
        for field in _BLOCKS:
            for child in getattr(node, field, None) or ():
                if inside and isinstance(child, ast.Import | ast.ImportFrom):
                    found.append(child)
                stack.append((child, inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)))
    return found


def silent_function_imports(src: str, tree: ast.Module | None = None) -> list[int]:
    """Line numbers of the imports inside a function with no comment saying why on the import's line(s) or the
    line just above it. ``tree``: ``src`` parsed already."""
    imports = _imports_inside_functions(tree if tree is not None else ast.parse(src))
    reasons = _reasons(src) if imports else {}
    silent = []
    for sub in imports:
        lines = range(sub.lineno - 1, (sub.end_lineno or sub.lineno) + 1)
        if not any(n in reasons for n in lines):
            silent.append(sub.lineno)
    return sorted(set(silent))


def test_core_never_names_qt():
    hits = [str(p) for p in CORE.rglob("*.py") if "PySide6" in p.read_text(encoding="utf-8")]
    assert hits == []


def test_every_import_inside_a_function_says_why():
    silent = [f"{p.relative_to(CORE)}:{n}" for p in _core_files() for n in silent_function_imports(*_parsed(p))]
    assert silent == [], "an import inside a function needs a comment saying why (or move it to the top)"


def test_the_import_rule_can_fail():
    src = (
        "import os\n"  # module level: no reason needed
        "def a():\n    import json\n"  # silent
        "def b():\n    import json  # noqa: F401\n"  # a linter switch is not a reason
        "def c():\n    s = '# not a comment'; import json\n"  # a '#' in a string is not a comment
        "def d():\n    import json  # lazy: only needed here\n"
        "def e():\n    # a cycle: json imports this module\n    import json\n"
        "def f():\n    from os import (  # lazy: loads nothing heavy, an example\n        path,\n    )\n"
        "def g():\n    if True:\n        import json\n"  # nested in a block: still inside a function
    )
    assert silent_function_imports(src) == [3, 5, 7, 19]


def test_every_ws_parameter_is_annotated():
    bare = []
    for p in _core_files():
        for node in ast.walk(_parsed(p)[1]):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                    if a.arg == "ws" and a.annotation is None:
                        bare.append(f"{p.relative_to(CORE)}:{node.lineno} {node.name}")
    assert bare == [], "annotate ws (ws: Workspace, under `if TYPE_CHECKING:` below the workspace layer)"


def test_mypy_has_no_baseline_for_our_modules():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    overrides = cfg["tool"]["mypy"].get("overrides", [])
    ours = [o for o in overrides if any(str(m).startswith("kodomo_desktop") for m in _as_list(o.get("module")))]
    assert ours == [], "mypy overrides are for third-party modules only: fix the errors instead"
    assert "kodomo_desktop/core" in cfg["tool"]["mypy"]["files"]


def _as_list(v):
    return v if isinstance(v, list) else [v]


def test_window_and_cli_start_without_heavy_libraries():
    code = (
        "import sys, json\n"
        "import kodomo_desktop.cli, kodomo_desktop.core.persons, kodomo_desktop.core.workspace\n"
        "print(json.dumps([m for m in ('pandas', 'openpyxl', 'reportlab') if m in sys.modules]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == []
