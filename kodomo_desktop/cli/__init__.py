"""kodomo-desktop-cli: the headless contract (../shared/spec/CLI.md).

One JSON object on stdout for summaries, progress on stderr. Exit codes: 0 ok, 1 usage, 2 input refused and
nothing changed, 3 integrity failure. The password comes from KODOMO_DB_PASSWORD, the user from KODOMO_USER.

Each command group lives in its own module (``store``, ``data``, ``scoring`` …) with a ``register(cmd, sub)``
function; :data:`GROUPS` lists them in the order ``--help`` shows. A command module imports the core service it
calls inside the command function, so starting the CLI for one command does not load the others' dependencies.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from ..core import logsetup
from ..core.errors import KodomoError
from ..core.outputs import restrict_umask

# Command modules, in help order. A new command group: add a module with register(cmd, sub) and list it here.
GROUPS = [
    "store",
    "data",
    "batches",
    "scoring",
    "reports",
    "demo",
    "checklists",
    "governance",
    "sharing",
    "settings",
    "rounds",
    "keys",
    "catalogue",
    "audit",
]


log = logging.getLogger(__name__)


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # the contract says usage errors exit 1 (argparse would exit 2)
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        sys.exit(1)


def out(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def out_folder(path) -> None:
    """An output file's folder must exist: refused (exit 2) before the command opens or computes anything."""
    from ..core.errors import InputRefused

    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise InputRefused(f"出力先のフォルダー {parent} がありません。何も変更していません。")


def open_workspace(args):
    """The database named by --db, unlocked with KODOMO_DB_PASSWORD for KODOMO_USER (default: the coordinator)."""
    from ..core.workspace import Workspace, env_password

    ws = Workspace.open(args.db, env_password(), os.environ.get("KODOMO_USER") or None)
    settle_memory(collect=False)
    return ws


# Whether this call of :func:`main` owns the collector's frozen generation (see settle_memory): only when the process
# ends with it (``exiting``: the console script, ``python -m``). Called inside a longer process (an embedding
# program, the test suite) main neither freezes nor unfreezes: gc.unfreeze would thaw that process's own frozen
# objects, and what main froze would outlive the call. (Asking the collector whether anything is frozen —
# gc.get_freeze_count — walks the whole frozen generation: ~1 ms per 100,000 objects, at every call.)
_owns_freeze = False


def settle_memory(*, collect: bool = True) -> None:
    """What this process holds so far (modules, classes, the ORM's mappers; after a step of a one-process run, what
    that step keeps) is moved out of the cyclic garbage collector's reach (``gc.freeze``), so that the full
    collections of the work that follows do not scan it again and again. Frozen objects are still freed when
    their last reference goes; a cycle among them waits for :func:`main`'s ``gc.unfreeze``. ``collect``: collect
    first (between the steps of a run: the step's cyclic garbage is freed, not frozen). Only while :func:`main`
    owns the frozen generation (the process ends when it returns)."""
    if not _owns_freeze:
        return
    if collect:
        gc.collect()
    gc.freeze()


def build_parser() -> Parser:
    p = Parser(prog="kodomo-desktop-cli", description="Kodomo Desktop — headless commands")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def cmd(name, func, help_, db=True):
        sp = sub.add_parser(name, help=help_)
        if db:
            sp.add_argument("--db", required=True, help="encrypted database file")
        sp.set_defaults(func=func)
        return sp

    for group in GROUPS:
        importlib.import_module(f"{__name__}.{group}").register(cmd, sub)
    return p


def main(argv=None, *, exiting: bool = False) -> int:
    """``exiting``: the process ends when this returns (``python -m kodomo_desktop.cli``, the console script)."""
    restrict_umask()  # files this process creates are owner-only (POSIX)
    logsetup.setup("cli")
    args = build_parser().parse_args(argv)
    started = time.monotonic()
    if getattr(args, "db", None) and os.environ.get("KODOMO_DB_PASSWORD"):
        from ..core.storage import keys  # (argon2 + cryptography: what open_workspace imports anyway)

        keys.prefetch_sign_in(args.db, os.environ.get("KODOMO_USER") or None, os.environ["KODOMO_DB_PASSWORD"])
    log.info("command %s started", args.command)
    global _owns_freeze
    _owns_freeze = exiting
    thresholds = gc.get_threshold()
    # the young generation collected every 50,000 allocations, not 700: a data command allocates millions of small
    # objects that die young (rows, strings, frames' cells); the month at 3,000 spends 0.29 → 0.13 CPU s in the
    # collector. Cycles are still collected, a little later; the results are the same.
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    try:
        rc = _run(args)
    finally:
        gc.set_threshold(*thresholds)
        _owns_freeze = False
        if exiting:
            # settle_memory's objects thawed, every cycle collected once (its finalizers run), then the whole heap
            # frozen: the interpreter's teardown collects again and again as it clears the modules, and walking the
            # heap a month's run leaves (frames, caches, the ORM) cost ~0.3 s of CPU at 3,000 residents; the memory
            # goes to the OS
            gc.unfreeze()
            gc.collect()
            gc.freeze()
    log.info("command %s exit %s in %.1f s", args.command, rc, time.monotonic() - started)
    return rc


def console_main() -> int:
    """The ``kodomo-desktop-cli`` script and ``python -m kodomo_desktop.cli``: :func:`main`, then the process ends."""
    return main(exiting=True)


def _run(args) -> int:
    try:
        args.func(args)
        return 0
    except UsageError as e:
        print(f"エラー: {e}", file=sys.stderr)
        return 1
    except KodomoError as e:
        print(f"エラー: {e.message_ja}", file=sys.stderr)
        log.warning("command %s refused: %s (exit %s)", args.command, type(e).__name__, e.exit_code)
        return e.exit_code
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("kodomo_desktop"):
            print(f"エラー: この機能はまだありません（{e.name}）。", file=sys.stderr)
            return 1
        raise
    except Exception as e:  # the disk or the database file underneath: locked, full, read-only → exit 2
        from ..core.errors import storage_failure

        mapped = storage_failure(e)
        if mapped is not None:
            print(f"エラー: {mapped.message_ja}", file=sys.stderr)
            log.warning("command %s: storage failure %s", args.command, type(e).__name__)
            return mapped.exit_code
        import sqlcipher3
        from sqlalchemy import exc as sa_exc

        if isinstance(e, (sqlcipher3.DatabaseError, sa_exc.DatabaseError)):  # a damaged file: exit 3, no traceback
            msg = str(getattr(e, "orig", e))
            print(
                f"エラー: データベースが壊れているか読めません（{msg}）。verify で確認してください。", file=sys.stderr
            )
            return 3
        log.exception("command %s failed", args.command)
        raise


if __name__ == "__main__":
    sys.exit(main())
