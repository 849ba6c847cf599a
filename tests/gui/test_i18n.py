"""The English table (i18n/en.json) covers the GUI: every Japanese string passed to tr() has an English entry that
keeps the same placeholders. No Qt needed: the GUI sources are read with ``ast``.

Collected strings:
* direct — a literal first argument of ``tr(...)`` (implicit concatenation is merged by the parser), a module-level
  string constant passed by name (``tr(NOTICE)``), and every PageSpec label/hint (the main window calls tr(p.label));
* indirect — for a non-literal argument, the Japanese strings of the in-file literal it loops over or looks up
  (``for key, label in ((...), ...): tr(label)``, ``tr(self.KIND_LABELS.get(k, k))``, ``_combo(MASKS)``...);
* runtime — labels the GUI passes to tr() from core modules (roles, scoring catalogue, self-inspection items).
A tr() call none of these resolves is listed by :func:`collect` (``unresolved``); check it by hand.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import string
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUI = ROOT / "kodomo_desktop" / "gui"
EN = ROOT / "kodomo_desktop" / "i18n" / "en.json"


def _str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value  # implicit concatenation is merged by the parser
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _str(node.left), _str(node.right)
        return a + b if a is not None and b is not None else None
    return None


def _jp_strings(node):
    """Non-ASCII string constants inside a literal, skipping f-string fragments."""
    skip = {id(c) for j in ast.walk(node) if isinstance(j, ast.JoinedStr) for c in ast.walk(j)}
    return [
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip and not n.value.isascii()
    ]


def _names(node):
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in ("self", "cls"):
            yield n.attr


@functools.cache  # two tests read it; the sources do not change during a run (the callers do not mutate it)
def collect():
    """(direct, indirect, unresolved): direct = literal tr() args, named str constants and PageSpec label/hint;
    indirect = Japanese strings in the in-file literal a non-literal tr() argument iterates over or looks up;
    unresolved = 'file:line: tr(expr)' for the rest."""
    direct, indirect, unresolved = {}, {}, []
    for py in sorted(GUI.rglob("*.py")):
        tree = ast.parse(py.read_text(encoding="utf-8"), str(py))
        rel = py.relative_to(ROOT).as_posix()
        parent = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        consts = {}  # module- and class-level NAME = literal
        for scope in [tree] + [n for n in tree.body if isinstance(n, ast.ClassDef)]:
            for st in scope.body:
                if isinstance(st, (ast.Assign, ast.AnnAssign)) and st.value is not None:
                    for t in st.targets if isinstance(st, ast.Assign) else [st.target]:
                        if isinstance(t, ast.Name):
                            consts[t.id] = st.value
        for st in tree.body:
            if isinstance(st, ast.ImportFrom) and st.level == 1 and st.module:
                sib = py.parent / (st.module.replace(".", "/") + ".py")
                if sib.exists():
                    stree = ast.parse(sib.read_text(encoding="utf-8"))
                    wanted = {a.name for a in st.names}
                    for s2 in stree.body:
                        if isinstance(s2, ast.Assign):
                            for t in s2.targets:
                                if isinstance(t, ast.Name) and t.id in wanted:
                                    consts.setdefault(t.id, s2.value)
        # self.x = [literal] inside methods, e.g. self.fixed_cols
        for n in ast.walk(tree):
            if isinstance(n, ast.Assign) and isinstance(n.value, (ast.List, ast.Tuple, ast.Dict)):
                for t in n.targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        consts.setdefault(t.attr, n.value)

        def literal_of(node):
            if isinstance(node, (ast.List, ast.Tuple, ast.Dict, ast.Set)):
                return node
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.args
                and node.func.id in ("dict", "enumerate", "list", "sorted")
            ):
                return literal_of(node.args[0])
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
                parts = [x for x in (literal_of(node.left), literal_of(node.right)) if x is not None]
                return ast.Tuple(elts=parts, ctx=ast.Load()) if parts else None
            if isinstance(node, ast.Name) and node.id not in consts:
                for st in ast.walk(tree):  # a local variable assigned a literal somewhere in the file
                    if (
                        isinstance(st, ast.Assign)
                        and isinstance(st.value, (ast.List, ast.Tuple, ast.Dict, ast.BinOp))
                        and any(isinstance(t, ast.Name) and t.id == node.id for t in st.targets)
                    ):
                        return literal_of(st.value)
            key = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if key in consts and isinstance(consts[key], (ast.List, ast.Tuple, ast.Dict, ast.Call, ast.BinOp)):
                return literal_of(consts[key])
            return None

        def resolve(arg, call):
            found = []
            for name in set(_names(arg)):
                if name in consts:
                    v = _str(consts[name])
                    if v is not None:
                        found.append(v)
                        continue
                    lit = literal_of(consts[name])
                    if lit is not None:
                        found += _jp_strings(lit)
                        continue
                # local variable assigned a literal, or a parameter of the enclosing function
                func = call
                while func in parent and not isinstance(func, (ast.FunctionDef, ast.Lambda)):
                    func = parent[func]
                if isinstance(func, ast.FunctionDef):
                    for st in ast.walk(func):
                        if isinstance(st, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == name for t in st.targets
                        ):
                            lit = literal_of(st.value)
                            if lit is not None:
                                found += _jp_strings(lit)
                    params = [a.arg for a in func.args.args]
                    if name in params:
                        i = params.index(name)
                        for c in ast.walk(tree):
                            if (
                                isinstance(c, ast.Call)
                                and isinstance(c.func, ast.Name)
                                and c.func.id == func.name
                                and len(c.args) > i
                            ):
                                v = _str(c.args[i])
                                if v is not None:
                                    found.append(v)
                                else:
                                    lit = literal_of(c.args[i])
                                    found += _jp_strings(lit) if lit is not None else []
                # loop / comprehension variable
                node = call
                while node in parent:
                    node = parent[node]
                    gens = [node] if isinstance(node, ast.For) else getattr(node, "generators", [])
                    for g in gens:
                        if name in {n.id for n in ast.walk(g.target) if isinstance(n, ast.Name)}:
                            lit = literal_of(g.iter)
                            if lit is not None:
                                found += _jp_strings(lit)
            return found

        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name == "tr" and node.args:
                arg = node.args[0]
                v = _str(arg)
                if v is None and isinstance(arg, ast.Name) and arg.id in consts:
                    v = _str(consts[arg.id])
                if v is not None:
                    direct.setdefault(v, f"{rel}:{node.lineno}")
                    continue
                got = resolve(arg, node)
                for s in got:
                    indirect.setdefault(s, f"{rel}:{node.lineno} via tr({ast.unparse(arg)})")
                if not got:
                    unresolved.append(f"{rel}:{node.lineno}: tr({ast.unparse(arg)})")
            elif name == "PageSpec":
                vals = [a for i, a in enumerate(node.args) if i in (1, 4)]
                vals += [kw.value for kw in node.keywords if kw.arg in ("label", "hint")]
                for a in vals:
                    v = _str(a)
                    if v:
                        direct.setdefault(v, f"{rel}:{node.lineno} (PageSpec)")
    return direct, indirect, unresolved


def runtime_strings():
    """Japanese labels the GUI passes to tr() from core modules (checked by hand from the unresolved list)."""
    from kodomo_desktop.core.governance import register as R
    from kodomo_desktop.core.scoring import service as S
    from kodomo_desktop.core.security.roles import ROLES

    cat = S.catalogue()
    out = {S.CAVEAT: "scoring CAVEAT", "記録日": "TimelineEntry.date_basis", "時点": "TimelineEntry.date_basis"}
    out.update({v: "ROLES" for v in ROLES.values()})
    out.update({label: "register.MANUAL_ITEMS" for _, label in R.MANUAL_ITEMS})
    out.update({sp["label_ja"]: "scoring.supports()" for sp in S.supports()})
    out.update({t: "catalogue difficulty_types" for t in cat["difficulty_types"]})
    out.update({b["label"]: "catalogue age_bands" for b in cat["age_bands"]})
    return out


def _table() -> dict[str, str]:
    return json.loads(EN.read_text(encoding="utf-8"))


def _fields(text: str) -> set[str]:
    """The ``{name}`` fields str.format fills (``{{`` escapes excluded)."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


_PERCENT = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[sdifgxr%]")


def test_en_json_valid_and_no_empty_values():
    raw = EN.read_text(encoding="utf-8")
    pairs = json.loads(raw, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    assert not dup, f"duplicate keys in en.json: {dup}"
    table = dict(pairs)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
    empty = [k for k, v in table.items() if not v.strip()]
    assert not empty, f"empty English values: {empty}"


def test_every_literal_tr_string_and_page_label_has_english():
    direct, _, _ = collect()
    assert len(direct) > 100  # the collector still finds the GUI's strings
    table = _table()
    missing = [f"{where}: {text}" for text, where in direct.items() if text not in table]
    assert not missing, f"{len(missing)} strings missing from i18n/en.json:\n" + "\n".join(missing)


def test_page_labels_and_hints_are_translated():
    from kodomo_desktop.gui.pages import PAGES

    table = _table()
    missing = [t for p in PAGES for t in (p.label, p.hint) if t and t not in table]
    assert not missing, f"PageSpec labels/hints missing from i18n/en.json: {missing}"


def test_indirect_and_core_labels_have_english():
    _, indirect, _ = collect()
    indirect = dict(indirect)
    indirect.update(runtime_strings())
    table = _table()
    missing = [f"{where}: {text}" for text, where in indirect.items() if text not in table]
    assert not missing, f"{len(missing)} strings missing from i18n/en.json:\n" + "\n".join(missing)


def test_placeholders_match():
    bad = []
    for ja, en in _table().items():
        if ja.startswith("_"):
            continue
        try:
            if _fields(ja) != _fields(en):
                bad.append(f"{ja!r} {sorted(_fields(ja))} -> {en!r} {sorted(_fields(en))}")
        except ValueError as e:  # unbalanced braces
            bad.append(f"{ja!r} -> {en!r}: {e}")
        if _PERCENT.findall(ja) != _PERCENT.findall(en):
            bad.append(f"{ja!r} {_PERCENT.findall(ja)} -> {en!r} {_PERCENT.findall(en)}")
    assert not bad, "placeholders differ:\n" + "\n".join(bad)


@pytest.mark.parametrize("lang", ["en"])
def test_tr_fills_placeholders_in_english(lang):
    from kodomo_desktop.gui import i18n

    try:
        i18n.set_language(lang)
        for ja in _table():
            if ja.startswith("_") or not _fields(ja):
                continue
            out = i18n.tr(ja, **{f: "X" for f in _fields(ja)})
            assert "{" not in out.replace("{{", ""), (ja, out)
    finally:
        i18n.set_language("ja")
