"""The app's diagnostic log: a rotating text file in the user's data folder (``<data_dir>/logs/kodomo.log``, or
``KODOMO_LOG_DIR``), private to the user, for whoever supports the town's installation.

It holds ids, counts, command names, exit codes and exception types — never a name or any other personal text.
That is enforced here, not left to each call: every record's final text passes :class:`NoPersonalText`, which
replaces any run of non-ASCII characters (names, addresses and the Japanese messages that may quote them) with
``...`` and drops the exception's message from tracebacks, keeping its type and the code lines. The access log inside
the database (audit/log.py) remains the record of who saw what; this file is only for diagnosing faults.

Use ``log = logging.getLogger(__name__)`` anywhere in the app; :func:`setup` is called once by the CLI and the GUI.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import traceback
from pathlib import Path

from . import platform

LOG_NAME = "kodomo.log"
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_HANDLER_FLAG = "_kodomo_file_handler"


def scrub(text: str) -> str:
    """Text with every run of non-ASCII characters replaced by ``...`` (the app's personal text is Japanese)."""
    return _NON_ASCII.sub("...", text)


class NoPersonalText(logging.Formatter):
    """Formats a record, then scrubs it; a traceback keeps the exception type and code lines, not its message."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        etype, _value, tb = ei
        lines = traceback.format_tb(tb) if tb else []
        return "".join(lines) + f"{etype.__module__}.{etype.__qualname__}" if etype else "".join(lines)

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def log_dir() -> Path:
    override = os.environ.get("KODOMO_LOG_DIR", "").strip()
    return Path(override).expanduser() if override else platform.data_dir() / "logs"


def setup(app: str, level: int = logging.INFO) -> Path | None:
    """Attach the file handler to the ``kodomo_desktop`` logger (once per process). Returns the file, or None when the
    folder cannot be made (a read-only profile): the app runs on without a log rather than refusing to start."""
    root = logging.getLogger("kodomo_desktop")
    for h in root.handlers:
        if getattr(h, _HANDLER_FLAG, False):
            return Path(h.baseFilename)  # type: ignore[attr-defined]
    try:
        folder = platform.ensure_private_dir(log_dir())
        path = folder / LOG_NAME
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
        platform.make_private(path)
    except OSError:
        return None
    handler.setFormatter(NoPersonalText(f"%(asctime)s {app} %(process)d %(levelname)s %(name)s: %(message)s"))
    setattr(handler, _HANDLER_FLAG, True)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return path
