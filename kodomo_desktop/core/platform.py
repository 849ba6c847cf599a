"""Every difference between Windows, Linux and macOS that the app cares about, in one place.

- where the app keeps its own files (the demo town, default databases): :func:`data_dir`
- where per-PC preferences live (language, last database): :func:`config_dir`
- where short-lived working files go (print-preview pages): :func:`temp_dir`, :func:`private_tempdir`
- how a file or folder is made private to its owner: :func:`make_private`
- what an executable is called: :func:`exe_suffix`, :func:`executable_name`
- whether a window can be shown, and whether the locale must be set to UTF-8: :func:`has_display`,
  :func:`needs_utf8_locale`

Nothing here lives in the source tree or the install folder, so the app runs the same from a wheel, a
PyInstaller bundle in ``Program Files``/``%LOCALAPPDATA%\\Programs`` or a developer's checkout.

Windows: data and settings in ``%LOCALAPPDATA%\\KodomoDesktop`` (the user's own, non-roaming profile: a roaming
profile would copy the encrypted database to a server on every sign-out), temporary files in ``%TEMP%``. Windows
sets these variables for every signed-in user; reading them (instead of calling the shell API, as ``platformdirs``
does on Windows) keeps the logic testable on Linux by setting ``sys.platform`` and the environment, which is how
tests/core/test_platform.py tests the Windows branch. That is also why this module does not depend on
``platformdirs``: the three rules below are all the app needs. Linux follows the XDG base-directory rules.

``KODOMO_DATA_DIR``, ``KODOMO_CONFIG_DIR`` and ``KODOMO_TEMP_DIR`` override each place (tests, a portable
install on a USB stick). Qt-free: the CLI and the GUI both use it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

APP_DIR = "KodomoDesktop"


def is_windows() -> bool:
    # sys.platform alone (not os.name): tests switch it to "win32" without turning pathlib into WindowsPath.
    return sys.platform == "win32"


def is_macos() -> bool:
    return sys.platform == "darwin"


def _env_dir(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def _home() -> Path:
    # Path.home() reads USERPROFILE on Windows and HOME elsewhere; an env -i start may have neither.
    for name in ("USERPROFILE", "HOME") if is_windows() else ("HOME",):
        p = _env_dir(name)
        if p:
            return p
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return Path(tempfile.gettempdir())


def _local_appdata() -> Path:
    return _env_dir("LOCALAPPDATA") or (_home() / "AppData" / "Local")


def data_dir() -> Path:
    """The app's own per-user folder (demo town, default database folder). Not created here."""
    override = _env_dir("KODOMO_DATA_DIR")
    if override:
        return override
    if is_windows():
        return _local_appdata() / APP_DIR
    if is_macos():
        return _home() / "Library" / "Application Support" / APP_DIR
    base = _env_dir("XDG_DATA_HOME")
    return (base if base and base.is_absolute() else _home() / ".local" / "share") / APP_DIR


def config_dir() -> Path:
    """Where the per-PC preferences file lives (no personal data: a file path and a user name)."""
    override = _env_dir("KODOMO_CONFIG_DIR")
    if override:
        return override
    if is_windows():
        # Local, not %APPDATA% (roaming): the settings name a database on this PC's disk.
        return _local_appdata() / APP_DIR
    if is_macos():
        return _home() / "Library" / "Preferences" / APP_DIR
    base = _env_dir("XDG_CONFIG_HOME")
    return (base if base and base.is_absolute() else _home() / ".config") / APP_DIR


def temp_dir() -> Path:
    """The folder for short-lived working files, private to the user where the OS offers one."""
    override = _env_dir("KODOMO_TEMP_DIR")
    if override:
        return override
    if is_windows():
        # %TEMP% is inside the user's profile (C:\Users\<name>\AppData\Local\Temp): already the user's own.
        return _env_dir("TEMP") or _env_dir("TMP") or (_local_appdata() / "Temp")
    runtime = _env_dir("XDG_RUNTIME_DIR")  # a tmpfs only this user can read, removed at sign-out
    if runtime and runtime.is_dir() and os.access(runtime, os.W_OK | os.X_OK):
        return runtime
    return Path(tempfile.gettempdir())


def private_tempdir(prefix: str = "kodomo-") -> Path:
    """A new folder under :func:`temp_dir` that only this user can open (mkdtemp: mode 0700 on POSIX)."""
    base = temp_dir()
    with contextlib.suppress(OSError):
        base.mkdir(parents=True, exist_ok=True)
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    except OSError:
        return Path(tempfile.mkdtemp(prefix=prefix))


def private_mode(is_dir: bool) -> int | None:
    """The POSIX mode that keeps a file (0600) or folder (0700) to its owner; None on Windows.

    On Windows ``os.chmod`` only sets the read-only flag; privacy comes from the folder's access list — a
    user profile folder (``%LOCALAPPDATA%``, Documents) is readable by its owner and administrators only.
    """
    if is_windows():
        return None
    return stat.S_IRWXU if is_dir else stat.S_IRUSR | stat.S_IWUSR


def make_private(path: str | os.PathLike) -> bool:
    """Restrict ``path`` to its owner where the OS does it through modes; True when a mode was set."""
    p = Path(path)
    mode = private_mode(p.is_dir())
    if mode is None:
        return False
    os.chmod(p, mode)
    return True


def ensure_private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) and restrict the last folder to its owner."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        make_private(p)
    return p


def has_display() -> bool:
    """Whether a window can be shown: Windows and macOS always; Linux when X11 or Wayland is there."""
    if is_windows() or is_macos():
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def needs_utf8_locale() -> bool:
    """POSIX started with no locale (``env -i``, a service account): Qt would warn and switch to C.UTF-8."""
    if is_windows():
        return False
    current = os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE") or os.environ.get("LANG") or "C"
    return current in ("C", "POSIX")


def exe_suffix() -> str:
    return ".exe" if is_windows() else ""


def executable_name(base: str) -> str:
    """``kodomo-desktop`` → ``kodomo-desktop.exe`` on Windows."""
    return base + exe_suffix()


def describe() -> dict:
    """The places in force (shown by ``kodomo-desktop --self-test`` and useful in a support call)."""
    return {
        "platform": "windows" if is_windows() else "macos" if is_macos() else "linux",
        "data_dir": str(data_dir()),
        "config_dir": str(config_dir()),
        "temp_dir": str(temp_dir()),
    }
