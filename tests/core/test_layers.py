"""The house rules the import checker cannot see: the core is Qt-free, an import inside a function says why, and the
window and the CLI start without the heavy libraries (pandas, openpyxl, reportlab) that only some commands need."""

import ast
import json
import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[2] / "kodomo_desktop" / "core"


def test_core_never_names_qt():
    hits = [str(p) for p in CORE.rglob("*.py") if "PySide6" in p.read_text(encoding="utf-8")]
    assert hits == []


def test_every_import_inside_a_function_says_why():
    silent = []
    for p in CORE.rglob("*.py"):
        if "migrations" in p.parts:
            continue
        src = p.read_text(encoding="utf-8")
        lines = src.splitlines()
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        if "#" not in lines[sub.lineno - 1] and "#" not in lines[sub.end_lineno - 1]:
                            silent.append(f"{p.relative_to(CORE)}:{sub.lineno}")
    assert silent == [], "an import inside a function needs a comment saying why (or move it to the top)"


def test_window_and_cli_start_without_heavy_libraries():
    code = (
        "import sys, json\n"
        "import kodomo_desktop.cli, kodomo_desktop.core.persons, kodomo_desktop.core.workspace\n"
        "print(json.dumps([m for m in ('pandas', 'openpyxl', 'reportlab') if m in sys.modules]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == []
