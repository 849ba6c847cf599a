"""core/platform.py: every OS difference behind one module; the Windows branch is tested by its logic here."""

import os
import stat
import sys
from pathlib import Path

import pytest

from kodomo_desktop.core import platform as plat

ALL_VARS = (
    "KODOMO_DATA_DIR",
    "KODOMO_CONFIG_DIR",
    "KODOMO_TEMP_DIR",
    "LOCALAPPDATA",
    "APPDATA",
    "USERPROFILE",
    "TEMP",
    "TMP",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
)


@pytest.fixture
def clean_env(monkeypatch):
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def as_windows(mp, **env):
    mp.setattr(sys, "platform", "win32")  # os.name stays: pathlib would refuse WindowsPath on Linux
    for k, v in env.items():
        mp.setenv(k, v)


def as_linux(mp, **env):
    mp.setattr(sys, "platform", "linux")
    for k, v in env.items():
        mp.setenv(k, v)


def test_windows_places_follow_localappdata_and_temp(clean_env):
    as_windows(
        clean_env,
        LOCALAPPDATA=r"C:\Users\taro\AppData\Local",
        APPDATA=r"C:\Users\taro\AppData\Roaming",
        TEMP=r"C:\Users\taro\AppData\Local\Temp",
        USERPROFILE=r"C:\Users\taro",
    )
    assert plat.is_windows()
    assert plat.data_dir() == Path(r"C:\Users\taro\AppData\Local") / "KodomoDesktop"
    # settings stay local too: not the roaming profile that is copied to a server at sign-out
    assert plat.config_dir() == Path(r"C:\Users\taro\AppData\Local") / "KodomoDesktop"
    assert "Roaming" not in str(plat.config_dir())
    assert plat.temp_dir() == Path(r"C:\Users\taro\AppData\Local\Temp")
    assert plat.exe_suffix() == ".exe"
    assert plat.executable_name("kodomo-desktop") == "kodomo-desktop.exe"
    assert plat.private_mode(is_dir=False) is None
    assert plat.describe()["platform"] == "windows"


def test_windows_without_localappdata_falls_back_to_the_profile(clean_env):
    as_windows(clean_env, USERPROFILE=r"C:\Users\hanako")
    assert plat.data_dir() == Path(r"C:\Users\hanako") / "AppData" / "Local" / "KodomoDesktop"
    assert plat.temp_dir() == Path(r"C:\Users\hanako") / "AppData" / "Local" / "Temp"
    clean_env.setenv("TMP", r"D:\tmp")
    assert plat.temp_dir() == Path(r"D:\tmp")


def test_windows_make_private_sets_no_mode(clean_env, tmp_path):
    f = tmp_path / "x.pdf"
    f.write_bytes(b"%PDF")
    before = f.stat().st_mode
    as_windows(clean_env, LOCALAPPDATA=str(tmp_path))
    assert plat.make_private(f) is False  # the profile's access list protects it; chmod would only set read-only
    assert f.stat().st_mode == before


def test_linux_places_follow_xdg(clean_env, tmp_path):
    as_linux(clean_env, HOME=str(tmp_path / "home"))
    assert not plat.is_windows()
    assert plat.data_dir() == tmp_path / "home" / ".local" / "share" / "KodomoDesktop"
    assert plat.config_dir() == tmp_path / "home" / ".config" / "KodomoDesktop"
    clean_env.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    clean_env.setenv("XDG_CONFIG_HOME", str(tmp_path / "conf"))
    assert plat.data_dir() == tmp_path / "data" / "KodomoDesktop"
    assert plat.config_dir() == tmp_path / "conf" / "KodomoDesktop"
    clean_env.setenv("XDG_DATA_HOME", "relative/ignored")  # the XDG rules say relative paths are invalid
    assert plat.data_dir() == tmp_path / "home" / ".local" / "share" / "KodomoDesktop"
    assert plat.exe_suffix() == ""
    assert plat.executable_name("kodomo-desktop-cli") == "kodomo-desktop-cli"


POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes (also run on the Windows workflow)")


@POSIX_ONLY
def test_linux_temp_prefers_the_users_runtime_dir(clean_env, tmp_path):
    as_linux(clean_env, HOME=str(tmp_path))
    run = tmp_path / "run"
    clean_env.setenv("XDG_RUNTIME_DIR", str(run))
    assert plat.temp_dir() != run  # missing: not used
    run.mkdir(mode=0o700)
    assert plat.temp_dir() == run
    d = plat.private_tempdir("kodomo-preview-")
    assert d.parent == run and d.name.startswith("kodomo-preview-")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_overrides_win_on_every_platform(clean_env, tmp_path):
    for setup in (as_windows, as_linux):
        setup(clean_env, LOCALAPPDATA=r"C:\x", HOME=str(tmp_path))
        clean_env.setenv("KODOMO_DATA_DIR", str(tmp_path / "d"))
        clean_env.setenv("KODOMO_CONFIG_DIR", str(tmp_path / "c"))
        clean_env.setenv("KODOMO_TEMP_DIR", str(tmp_path / "t"))
        assert plat.data_dir() == tmp_path / "d"
        assert plat.config_dir() == tmp_path / "c"
        assert plat.temp_dir() == tmp_path / "t"


@POSIX_ONLY
def test_posix_make_private(clean_env, tmp_path):
    as_linux(clean_env, HOME=str(tmp_path))
    f = tmp_path / "out.csv"
    f.write_text("a")
    os.chmod(f, 0o644)
    assert plat.make_private(f) is True
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    d = plat.ensure_private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_no_place_is_inside_the_source_tree(clean_env, tmp_path):
    as_linux(clean_env, HOME=str(tmp_path))
    src = Path(plat.__file__).resolve().parents[2]
    for p in (plat.data_dir(), plat.config_dir(), plat.temp_dir()):
        assert not str(p.resolve()).startswith(str(src) + os.sep)


def test_display_and_locale(clean_env):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "LC_ALL", "LC_CTYPE", "LANG"):
        clean_env.delenv(name, raising=False)
    as_linux(clean_env)
    assert not plat.has_display() and plat.needs_utf8_locale()
    clean_env.setenv("WAYLAND_DISPLAY", "wayland-0")
    clean_env.setenv("LANG", "ja_JP.UTF-8")
    assert plat.has_display() and not plat.needs_utf8_locale()
    clean_env.delenv("WAYLAND_DISPLAY")
    clean_env.delenv("LANG")
    as_windows(clean_env)
    assert plat.has_display() and not plat.needs_utf8_locale()
