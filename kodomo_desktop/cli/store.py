"""Store commands: init, verify, backup/restore, users, passwd."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import IntegrityFailure
from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_init(args):
    from ..core.workspace import Workspace, env_password

    ws = Workspace.create(args.db, env_password(), os.environ.get("KODOMO_USER") or "coordinator")
    ws.close()
    out({"created": str(args.db)})


def cmd_verify(args):
    ws = _open(args)
    try:
        out(ws.verify())
    except IntegrityFailure as e:
        out(getattr(e, "result", {"ok": False}))
        raise
    finally:
        ws.close()


def cmd_backup(args):
    from ..core.security import backup as B

    with _open(args) as ws:
        out(B.backup(ws, Path(args.out)))


def cmd_restore(args):
    from ..core.security import backup as B
    from ..core.workspace import env_password

    out(
        B.restore(
            Path(args.from_),
            Path(args.db),
            env_password(),
            os.environ.get("KODOMO_USER") or None,
            force=args.force,
            backup_password=os.environ.get("KODOMO_BACKUP_PASSWORD") or None,
        )
    )


def cmd_users(args):
    with _open(args) as ws:
        if args.users_cmd == "add":
            ws.add_user(args.name, os.environ.get("KODOMO_NEW_PASSWORD", ""), args.role, args.school)
            out({"user": args.name, "role": args.role, **({"school": args.school} if args.school else {})})
        elif args.users_cmd == "remove":
            r = ws.remove_user(args.name)
            out({"removed": args.name, "rekeyed": r["rekeyed"], "need_new_password": r["need_new_password"]})
        else:
            users = ws.list_users()
            out({"users": users, "count": len(users)})


def cmd_passwd(args):
    from ..core.workspace import change_password, env_password

    name = change_password(
        args.db, os.environ.get("KODOMO_USER") or None, env_password(), os.environ.get("KODOMO_NEW_PASSWORD", "")
    )
    out({"user": name, "password_changed": True, "rekeyed": True})


def register(cmd, sub) -> None:
    cmd("init", cmd_init, "create a new encrypted database")
    cmd("verify", cmd_verify, "cipher integrity check + access-log chain check")
    sp = cmd("backup", cmd_backup, "encrypted backup")
    sp.add_argument("--out", required=True)
    sp = sub.add_parser("restore", help="restore an encrypted backup")
    sp.add_argument("--from", dest="from_", required=True)
    sp.add_argument("--db", required=True)
    sp.add_argument(
        "--force", action="store_true", help="replace a target that cannot be opened (its files are kept beside it)"
    )
    sp.set_defaults(func=cmd_restore)
    sp = cmd("users", cmd_users, "manage users", db=False)
    usub = sp.add_subparsers(dest="users_cmd", required=True, parser_class=Parser)
    u = usub.add_parser("add")
    u.add_argument("--db", required=True)
    u.add_argument("--name", required=True)
    u.add_argument("--role", required=True)
    u.add_argument("--school")
    u = usub.add_parser("list")
    u.add_argument("--db", required=True)
    u = usub.add_parser("remove")
    u.add_argument("--db", required=True)
    u.add_argument("--name", required=True)
    sp.set_defaults(func=cmd_users)
    cmd("passwd", cmd_passwd, "change the current user's password to KODOMO_NEW_PASSWORD")
