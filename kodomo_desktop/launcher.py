"""The ``kodomo-desktop`` command: the desktop app, or a clear message when Qt (the ``gui`` extra) is missing.

The CLI (``kodomo-desktop-cli``) installs and runs without Qt; this launcher is what keeps a CLI-only install from
answering ``kodomo-desktop`` with a traceback.
"""

from __future__ import annotations

import os
import sys


def _utf8_locale() -> None:
    """Started with no locale (``env -i``, a service account), Qt warns and switches to C.UTF-8: say it first."""
    from .core import platform

    if platform.needs_utf8_locale():
        os.environ["LC_ALL"] = "C.UTF-8"


def gui_main(argv: list[str] | None = None) -> int:
    _utf8_locale()
    try:
        import PySide6  # noqa: F401
    except ImportError:
        print(
            "エラー: 画面版には Qt for Python が必要です。`pip install \"kodomo-desktop[gui]\"` で入れてください"
            "（コマンド版 kodomo-desktop-cli は Qt なしで動きます）。",
            file=sys.stderr,
        )
        return 1
    from .gui.app import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(gui_main())
