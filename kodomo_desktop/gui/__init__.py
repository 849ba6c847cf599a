"""The Qt GUI: thin views, Qt models and dialogs over core's services.

Python's own import statement is kept here, before any module of this package imports PySide6: on its first
import PySide6 wraps the statement in two hooks of its own (one for ``from __feature__ import …``, one for star
imports of its lazily made classes), and every ``import`` run anywhere in the process then passes through them —
about 3 µs a statement instead of 1; pandas alone runs thousands inside its functions during a score run.
The app uses neither feature, so :func:`release_import_hooks` puts the plain statement back once PySide6 is in.
"""

from __future__ import annotations

import builtins

_PLAIN_IMPORT = builtins.__import__
_PYSIDE_HOOKS = ("__feature_import__", "__lazy_import__")


def release_import_hooks() -> bool:
    """Python's own ``__import__`` back in place of PySide6's hooks; True if they were there and are gone.

    Left as it is when this package was imported after PySide6 (what was kept is not the plain statement) or when
    the import statement is someone else's hook. Safe only while no module uses ``from __feature__ import …`` or
    ``from PySide6.… import *`` (tests/gui/test_qt_imports.py checks the package for both)."""
    plain = _PLAIN_IMPORT
    if getattr(plain, "__name__", None) != "__import__" or getattr(plain, "__self__", None) is not builtins:
        return False
    if getattr(builtins.__import__, "__name__", None) not in _PYSIDE_HOOKS:
        return False
    builtins.__import__ = plain
    return True
