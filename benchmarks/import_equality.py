"""Old importer vs new, on a generated town: the same rows, the same rejections, the same summary (issue 21).

    python benchmarks/import_equality.py --old-root DIR --files DIR [--new-root DIR] [--runs 1]

``--old-root``: a copy of the package as it was (``git archive <commit> | tar -x -C DIR``); ``--new-root``: the
work tree (default: this one). ``--files``: a town's department files with their ``sources.csv`` (benchmarks/city.py
``--keep`` leaves them in ``city-N-*/files``; read only — the stores are made in a temporary folder).

For each root, one CLI process per step (as city.py runs them): ``init``, ``import --manifest`` (wall, CPU and peak
memory of the import printed), then a dump of what the import wrote: every ``source_record`` row (all columns, by id),
every ``rejected_row`` (by id), every ``source_batch`` (without its time of import), the mapping profiles and the
import's JSON summary. The dumps are compared byte for byte; any difference is printed and the exit code is 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "import-equality-password-1"

DUMP = r"""
import json, sys
from sqlalchemy import text
from kodomo_desktop.core.workspace import Workspace
ws = Workspace.open(sys.argv[1], sys.argv[2])
out = {}
with ws.session() as s:
    def rows(sql):
        return [list(r) for r in s.execute(text(sql))]
    out["source_record"] = rows("SELECT * FROM source_record ORDER BY id")
    out["rejected_row"] = rows("SELECT * FROM rejected_row ORDER BY id")
    cols = [c[1] for c in s.execute(text("PRAGMA table_info(source_batch)")) if c[1] != "imported_at"]
    out["source_batch"] = rows("SELECT " + ", ".join('"%s"' % c for c in cols) + " FROM source_batch ORDER BY id")
    cols = [c[1] for c in s.execute(text("PRAGMA table_info(mapping_profile)")) if c[1] not in ("used_at", "created_at")]
    out["mapping_profile"] = rows("SELECT " + ", ".join('"%s"' % c for c in cols) + " FROM mapping_profile ORDER BY id")
ws.close()
json.dump(out, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False, default=str)
"""


def _spawn(root: Path, argv: list[str], cwd: Path) -> tuple[int, str, str, float, float, float]:
    """(exit code, stdout, stderr, wall s, CPU s, peak RSS MB) of one process (posix_spawn: the rusage is its own)."""
    env = dict(os.environ, KODOMO_DB_PASSWORD=PASSWORD, PYTHONPATH=str(root), KODOMO_KDF_TARGET_MS="50")
    env.pop("KODOMO_USER", None)
    out_p, err_p = cwd / ".out", cwd / ".err"
    fo = os.open(out_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fe = os.open(err_p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    t = time.perf_counter()
    try:
        pid = os.posix_spawn(
            sys.executable,
            [sys.executable, *argv],
            env,
            file_actions=[(os.POSIX_SPAWN_DUP2, fo, 1), (os.POSIX_SPAWN_DUP2, fe, 2)],
        )
        _, status, ru = os.wait4(pid, 0)
    finally:
        os.close(fo)
        os.close(fe)
    wall = time.perf_counter() - t
    out, err = out_p.read_text(encoding="utf-8"), err_p.read_text(encoding="utf-8")
    return os.waitstatus_to_exitcode(status), out, err, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024


def run(root: Path, manifest: Path, work: Path, keep: Path) -> tuple[dict, dict]:
    db = work / "town.db"
    rc, _, err, *_ = _spawn(root, ["-m", "kodomo_desktop.cli", "init", "--db", str(db)], work)
    if rc:
        raise SystemExit(f"init failed ({root}): {err[-500:]}")
    rc, out, err, wall, cpu, mb = _spawn(
        root, ["-m", "kodomo_desktop.cli", "import", "--db", str(db), "--manifest", str(manifest)], work
    )
    if rc not in (0, 2):
        raise SystemExit(f"import failed ({root}): rc={rc} {err[-800:]}")
    fig = {"rc": rc, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_mb": round(mb)}
    dump = work / "dump.json"
    rc, _, err, *_ = _spawn(root, ["-c", DUMP, str(db), PASSWORD, str(dump)], work)
    if rc:
        raise SystemExit(f"dump failed ({root}): {err[-800:]}")
    data = json.loads(dump.read_text(encoding="utf-8"))
    data["summary"] = json.loads(out)
    # this process keeps only the digests: a spawned child's peak memory counts this process's pages (vfork), so
    # holding one run's dump would inflate the next run's figure
    keep.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    return fig, {part: (_digest(v), len(v) if isinstance(v, list) else "") for part, v in data.items()}


def _digest(v) -> str:
    return hashlib.sha256(json.dumps(v, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-root", type=Path, required=True)
    ap.add_argument("--new-root", type=Path, default=ROOT)
    ap.add_argument("--files", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=1, help="old, new, old, new … (CPU figures pair-wise)")
    a = ap.parse_args()
    manifest = a.files / "sources.csv" if a.files.is_dir() else a.files
    results: dict[str, list] = {"old": [], "new": []}
    digests: dict[str, dict] = {}
    out = Path(tempfile.mkdtemp(prefix="impeq-dumps-"))
    for _ in range(a.runs):
        for label, root in (("old", a.old_root), ("new", a.new_root)):
            with tempfile.TemporaryDirectory(prefix=f"impeq-{label}-") as tmp:
                fig, digests[label] = run(root.resolve(), manifest.resolve(), Path(tmp), out / f"{label}.json")
            results[label].append(fig)
            print(f"  {label}: {fig}", file=sys.stderr, flush=True)
    same = True
    for part in ("source_record", "rejected_row", "source_batch", "mapping_profile", "summary"):
        (do, count), (dn, _) = digests["old"][part], digests["new"][part]
        print(f"{part:<16} {count!s:>8}  old {do}  new {dn}  {'same' if do == dn else 'DIFFERENT'}")
        if do != dn:
            same = False
            o = json.loads((out / "old.json").read_text(encoding="utf-8"))[part]
            n = json.loads((out / "new.json").read_text(encoding="utf-8"))[part]
            if isinstance(o, list) and isinstance(n, list):
                for i, (x, y) in enumerate(zip(o, n)):
                    if x != y:
                        print(f"    first difference at {i}:\n      old {str(x)[:400]}\n      new {str(y)[:400]}")
                        break
                if len(o) != len(n):
                    print(f"    lengths {len(o)} vs {len(n)}")
    for label in ("old", "new"):
        figs = results[label]
        print(
            f"{label}: import cpu {[f['cpu_s'] for f in figs]} s, wall {[f['wall_s'] for f in figs]} s, "
            f"peak {[f['peak_mb'] for f in figs]} MB"
        )
    for f in out.iterdir():
        f.unlink()
    out.rmdir()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
