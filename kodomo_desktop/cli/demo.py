"""The demo town."""

from __future__ import annotations

from pathlib import Path

from . import Parser, UsageError, out, progress  # noqa: F401
from . import open_workspace as _open  # noqa: F401


def cmd_demo(args):
    from ..core.demo.service import build_demo

    out(
        build_demo(
            Path(args.db),
            residents=args.residents,
            seed=args.seed,
            files_out=Path(args.files_out) if args.files_out else None,
            progress=progress,
        )
    )


def register(cmd, sub) -> None:
    sp = cmd("demo", cmd_demo, "build a synthetic town")
    sp.add_argument("--residents", type=int, default=3000)
    sp.add_argument("--seed", type=int, default=1)
    sp.add_argument("--files-out")
