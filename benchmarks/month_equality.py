"""Old code vs new on the monthly run in one process: the same links, the same people, the same score (issue 21).

    python benchmarks/month_equality.py --old-root DIR --files DIR [--new-root DIR]

``--old-root``: a copy of the package as it was (``git archive <commit> | tar -x -C DIR``); ``--new-root``: the
work tree (default: this one). ``--files``: a town's department files with their ``sources.csv`` (benchmarks/city.py
``--keep`` leaves them in ``city-N-*/files``; read only — the stores are made in a temporary folder).

For each root: ``init``, then ``import --manifest M --link --score --out F`` (one process, CPU time printed), then a
dump of what the month wrote: every ``link`` row (person, status, score, probability, method, explanation,
candidates), every ``person`` and ``household`` (without times of creation), every ``child_score`` row, the stored
link model (``link_model``, where the schema has it), the link and score runs' summaries (without times and
durations), the run's JSON summary (without its ``steps``) and the score CSV byte for byte. Any difference is
printed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "month-equality-password-1"

DUMP = r"""
import json, sys
from sqlalchemy import text
from kodomo_desktop.core.workspace import Workspace
ws = Workspace.open(sys.argv[1], sys.argv[2])
TIMES = {"created_at", "decided_at", "started_at", "finished_at", "imported_at", "fitted_at"}
out = {}
with ws.session() as s:
    def rows(table, order):
        # link_model.settings digests the engine's code too: it differs whenever the code does
        cols = [c[1] for c in s.execute(text(f"PRAGMA table_info({table})"))
                if c[1] not in TIMES and (table, c[1]) != ("link_model", "settings")]
        sql = "SELECT " + ", ".join('"%s"' % c for c in cols) + f" FROM {table} ORDER BY {order}"
        return [cols] + [list(r) for r in s.execute(text(sql))]
    have = {r[0] for r in s.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))}
    for table, order in (("link", "record_id"), ("person", "id"), ("household", "id"), ("child_score", "rowid"),
                         ("link_run", "id"), ("score_run", "id"), ("link_model", "rowid")):
        if table in have:  # (link_model: the stored model, schema 0012)
            out[table] = rows(table, order)
print(json.dumps(out, ensure_ascii=False, default=str, sort_keys=True))
"""


def _scrub(v):
    """Summaries without what differs from run to run anyway (times, durations) or with the code (reuse keys)."""
    if isinstance(v, str) and v[:1] in "{[":
        try:
            return _scrub(json.loads(v))
        except ValueError:
            return v
    if isinstance(v, dict):
        return {
            k: _scrub(x)
            for k, x in v.items()
            # global_key (score run) and inputs (link run) digest the code as well as the data: reuse keys
            if k
            not in ("steps", "seconds", "elapsed_s", "duration_s", "started_at", "finished_at", "global_key", "inputs")
        }
    if isinstance(v, list):
        return [_scrub(x) for x in v]
    return v


def month(root: Path, files: Path, work: Path) -> dict:
    env = dict(os.environ, KODOMO_DB_PASSWORD=PASSWORD, PYTHONPATH=str(root))
    env.pop("KODOMO_USER", None)
    db, csv_out = work / "town.db", work / "score.csv"

    def cli(*a: str) -> str:
        # cwd: the work folder — ``python -m`` puts the current directory before PYTHONPATH, so run from a work tree
        # both roots would otherwise import that tree's package
        p = subprocess.run(
            [sys.executable, "-m", "kodomo_desktop.cli", *a], env=env, capture_output=True, text=True, cwd=work
        )
        if p.returncode:
            sys.exit(f"{root}: {' '.join(a[:1])} failed ({p.returncode}): {p.stderr[-500:]}")
        return p.stdout

    cli("init", "--db", str(db))
    t = os.times()
    summary = json.loads(
        cli(
            "import", "--db", str(db), "--manifest", str(files / "sources.csv"), "--link", "--score", "--out",
            str(csv_out),
        ).strip().splitlines()[-1]
    )  # fmt: skip
    t2 = os.times()
    cpu = (t2.children_user - t.children_user) + (t2.children_system - t.children_system)
    steps = summary.get("steps", {})
    print(f"  {root}: cpu {cpu:.2f} s  " + "  ".join(f"{k} {v['cpu_s']:.2f}" for k, v in steps.items()))
    dump = subprocess.run(
        [sys.executable, "-c", DUMP, str(db), PASSWORD], env=env, capture_output=True, text=True, check=True, cwd=work
    ).stdout
    data = _scrub(json.loads(dump))
    data["summary"] = _scrub(json.loads(json.dumps(summary).replace(json.dumps(str(work))[1:-1], "WORK")))
    data["score_csv_sha256"] = hashlib.sha256(csv_out.read_bytes()).hexdigest()
    return data


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-root", type=Path, required=True)
    ap.add_argument("--new-root", type=Path, default=ROOT)
    ap.add_argument("--files", type=Path, required=True)
    a = ap.parse_args()
    res = {}
    for name, root in (("old", a.old_root), ("new", a.new_root)):
        with tempfile.TemporaryDirectory(prefix=f"month-eq-{name}-") as d:
            res[name] = month(root.resolve(), a.files.resolve(), Path(d))
    bad = 0
    for k in sorted(set(res["old"]) | set(res["new"])):
        o, n = res["old"].get(k), res["new"].get(k)
        if o == n:
            size = len(o) - 1 if isinstance(o, list) else ""
            print(f"  {k:<18} identical {size}")
            continue
        bad += 1
        print(f"  {k:<18} DIFFERS")
        if isinstance(o, list) and isinstance(n, list):
            print(f"    old {len(o)} rows, new {len(n)} rows")
            for i, (x, y) in enumerate(zip(o, n)):
                if x != y:
                    print(f"    first difference at row {i}:\n      old {str(x)[:300]}\n      new {str(y)[:300]}")
                    break
        else:
            print(f"    old {str(o)[:300]}\n    new {str(n)[:300]}")
    print("identical" if not bad else f"{bad} part(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
