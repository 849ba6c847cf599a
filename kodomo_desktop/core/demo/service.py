"""The demo town, end to end: generate a synthetic town, write its department files in the forms towns send,
then import them one by one through the real importer, link and score — the same path a coordinator takes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..auditspace import audit_files
from ..importing.service import import_file
from ..linkage.service import run_linkage
from ..schoolspace import school_files
from ..scoring.service import run_scoring
from ..storage.keys import key_file_path
from ..storage.models import Setting
from ..workspace import Workspace
from .files import write_department_files
from .names import TOWN_NAME
from .town import generate_town

DEMO_PASSWORD = "demo"


def database_files(db: Path) -> list[Path]:
    """The files a database consists of (the encrypted database and its key file, and its schools' and auditor's
    workspaces with theirs)."""
    own = [f for p in school_files(db) + audit_files(db) for f in (p, key_file_path(p))]
    return [Path(db), key_file_path(Path(db)), *own]


def demo_exists(db: Path) -> bool:
    return all(p.exists() for p in database_files(db))


def remove_database(db: Path) -> None:
    """Remove a half-built demo town (never called on a town's real database)."""
    for p in database_files(db):
        p.unlink(missing_ok=True)


def build_demo(
    db: Path,
    residents: int = 3000,
    seed: int = 1,
    files_out: Path | None = None,
    progress=None,
    password: str | None = None,
    user_name: str = "coordinator",
    score: bool = True,
) -> dict:

    say = progress or (lambda *_: None)
    password = password if password is not None else (os.environ.get("KODOMO_DB_PASSWORD") or DEMO_PASSWORD)
    db = Path(db)
    say(f"デモの町（住民 {residents} 人）を作成しています…")
    town = generate_town(residents=residents, seed=seed)
    tmp = None
    if files_out is None:
        tmp = Path(tempfile.mkdtemp(prefix="kodomo-demo-"))
        out_dir = tmp
    else:
        out_dir = Path(files_out)
        out_dir.mkdir(parents=True, exist_ok=True)
    try:
        files = write_department_files(town, out_dir)
        ws = (
            Workspace.open_town(db, password, user_name)
            if db.exists()
            else Workspace.create(db, password, user_name, demo=True)
        )
        try:
            with ws.session() as s:  # printed on every document's header; a town sets its own in 設定
                if s.get(Setting, "town_name") is None:
                    s.add(Setting(key="town_name", value=TOWN_NAME))
            imported = []
            # the registry first: it is the spine the others link to
            for f in sorted(files, key=lambda f: f.source_type != "resident_registry"):
                say(f"取込: {f.file_name}")
                res = import_file(ws, Path(f.path), f.source_type, as_of=getattr(town, "as_of", None))
                imported.append(
                    {
                        "file": f.file_name,
                        "source_type": f.source_type,
                        "imported": res.imported,
                        "rejected": res.rejected,
                    }
                )
            say("名寄せを実行しています…")
            link = run_linkage(ws, progress=say)
            summary = {
                "db": str(db),
                "residents": residents,
                "seed": seed,
                "files": len(files),
                "imported": imported,
                "link": link,
            }
            if score:
                say("スコアを算出しています…")
                summary["score_run"] = run_scoring(ws)
            ws.log("demo_built", detail={"residents": residents, "seed": seed, "files": len(files)})
        finally:
            ws.close()
        return summary
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
