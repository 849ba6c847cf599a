"""Shared test setup: Qt offscreen; key files in this process at a test cost, except in the key tests (see below)."""

import atexit
import contextlib
import copy
import functools
import gc
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

# Bytecode is written (into the git-ignored __pycache__ folders, as Python does by default). Under
# PYTHONDONTWRITEBYTECODE (as on our CI machine) every xdist worker and every CLI child process compiled the whole
# package from source again, and each worker re-did pytest's assertion rewrite of every test module: ~7 CPU-seconds
# per worker. Set before any test module is imported; the workers and the tests' child processes inherit it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# Test files go to memory (/dev/shm) where the OS has it: SQLite syncs every commit to the disk (synchronous=FULL, a
# rollback journal), ~25 ms of waiting per commit on this machine's virtual disk against 0.2 ms in memory, and the
# suite commits thousands of times. The product's own syncing is unchanged; a TMPDIR of the caller's is kept.
_SHM = Path("/dev/shm")
if not os.environ.get("TMPDIR") and _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK):
    os.environ["TMPDIR"] = str(_SHM)  # pytest's tmp_path, tempfile and the tests' child processes
    tempfile.tempdir = None  # tempfile computes its folder again from TMPDIR

try:
    import fcntl
except ImportError:  # Windows: no lock (and no xdist sharing needed there)
    fcntl = None  # type: ignore[assignment]

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("KODOMO_KDF_TARGET_MS", "20")
# The diagnostic log (core/logsetup.py) of every CLI run in or under the tests goes to a temporary folder.
# Made by the first process (pytest's, or xdist's controller: the workers inherit it) and removed at its end.
if not os.environ.get("KODOMO_LOG_DIR"):
    os.environ["KODOMO_LOG_DIR"] = tempfile.mkdtemp(prefix="kodomo-test-log-")
    atexit.register(shutil.rmtree, os.environ["KODOMO_LOG_DIR"], ignore_errors=True)

from kodomo_desktop.core.storage import keys as _keys  # noqa: E402

_keys.enable_test_derive_cache()  # the same derivation in one test process runs once

# --- Argon2id cost in tests --------------------------------------------------------------------------------------------
# A new key file takes its Argon2id parameters from keys.calibrate (64 MiB, t >= 3: ~0.22 CPU-second per derivation).
# The suite makes ~170 new key slots in its own processes, ~37 CPU-seconds of hashing that tests nothing but Argon2:
# in this process new key files get a test cost instead (Django's fast test hasher, the same idea). Only here: the
# application has no switch for it (no option, no environment variable); every new interpreter the tests start (the
# CLI, the self-test, the bundle) calibrates at the floor for the key files it makes (a fork, tests/forkrun.py, keeps
# this process's test cost); and the tests marked kdf_floor (test_kdf_prefetch.py whole, the floor and sign-in cost
# tests of test_keys and test_school_workspace) run at the floor. A key file records its own parameters, so copies
# of a test-cost town open at that cost everywhere, including in child processes.
_FLOOR_CALIBRATE = _keys.calibrate
TEST_KDF = (1, 64, 1)  # time_cost, memory_cost (KiB), parallelism: ~0.1 ms


def _test_cost_calibrate(target_ms=None):
    return _keys.KdfParams(*TEST_KDF, os.urandom(16))


_keys.calibrate = _test_cost_calibrate

# The files that leave the PC (core/sharing/crypto.py: handover packages, information sheets) are sealed at the same
# floor and refuse to open below it; in this process they are sealed and accepted at the test cost, except in the
# tests marked kdf_floor (among them the one that a file claiming less than the floor is refused).
from kodomo_desktop.core.sharing import crypto as _crypto  # noqa: E402

_FLOOR_SEALING = (dict(_crypto.KDF), _crypto.KDF_FLOOR)
_TEST_SEALING = ({"alg": "argon2id", "m": TEST_KDF[1], "t": TEST_KDF[0], "p": TEST_KDF[2]}, TEST_KDF[:2])
_crypto.KDF, _crypto.KDF_FLOOR = _TEST_SEALING

import pytest  # noqa: E402

import kodomo_desktop.cli as _cli  # noqa: E402
import kodomo_desktop.gui as _gui  # noqa: E402  (before pytest-qt imports PySide6: it keeps the plain import statement)

# The CLI's argument parser (14 command groups, ~120 sub-parsers: ~20 ms) is built once per test process, not at each
# of the hundreds of in-process CLI calls; parsing leaves a parser as it was (no mutable defaults), and the built
# parser is the same each time.
_cli.build_parser = functools.cache(_cli.build_parser)

# Screenshots and rendered pages go to the build folder, never into the tracked tree; `bash tools/update-screenshots.sh`
# runs the GUI/report tests and copies them into docs/images/ when a person decides the README should change.
IMAGES = Path(os.environ.get("KODOMO_SCREENSHOTS") or Path(__file__).resolve().parents[1] / "build" / "screenshots")
IMAGES.mkdir(parents=True, exist_ok=True)  # every test may save into it, whichever runs first
# Screenshots are saved at zlib level 1 (Qt's PNG quality 80) instead of the default 6: a third to half less time per
# PNG (~120 a run), files a few per cent larger: `pixmap.save(str(IMAGES / name), "PNG", PNG_QUICK)`. For the
# README (tools/update-screenshots.sh sets KODOMO_SCREENSHOTS) Qt's default level, as the committed images are.
PNG_QUICK = -1 if os.environ.get("KODOMO_SCREENSHOTS") else 80

PASSWORD = 'test "pass" ü 1'


@pytest.fixture
def password():
    return PASSWORD


# --- order: the heaviest files first ------------------------------------------------------------------------------------
# `.ci/run` runs `-n 2 --dist loadfile --no-loadscope-reorder`: each worker takes the next file in this order when it is
# done with one, so the long files start first and the two workers end together instead of one waiting for a last long
# file (xdist's own reorder puts files with many tests first, and the few-test long ones such as the self-test last).
# Measured per file (setup + call + teardown; junit times of a warm-cache run, 2026-12-02 16:45 UTC, load ~2); any
# file not named runs after these, in collection order.
HEAVY_FIRST = (
    "gui/test_big_lists.py",
    "core/test_linkage_incremental.py",
    "core/test_keys.py",
    "cli/test_startup_imports.py",
    "gui/test_screen_fit.py",
    "core/test_school_workspace.py",
    "core/test_import_stream.py",
    "gui/test_selftest.py",
    "cli/test_wheel_install.py",
    "cli/test_end_to_end.py",
    "core/test_documents_demo.py",
    "core/test_import_guards_core.py",
    "core/test_linkage_engine.py",
    "core/test_demo_town.py",
    "gui/test_print_gui.py",
    "core/test_checklists.py",
    "cli/test_import_faults.py",
    "cli/test_import_crash.py",
    "gui/test_governance_gui.py",
    "core/test_governance_demo.py",
    "gui/test_gui_shell.py",
    "cli/test_import_guards.py",
    "core/test_layers.py",
    "core/test_audit_workspace.py",
    "core/test_scoring_incremental.py",
    "cli/test_sharing.py",
    "gui/test_checklist_gui.py",
    "core/test_reports.py",
    "core/test_town_indicators.py",
    "core/test_scoring_fields.py",
    "gui/test_sharing_gui.py",
    "core/test_scoring_demo.py",
    "cli/test_scoring_cli.py",
    "gui/test_english_walk.py",
    "core/test_scoring.py",
    "gui/test_long_ops_gui.py",
    "gui/test_casework_gui.py",
    "core/test_backup.py",
    "cli/test_monthly_run.py",
    "cli/test_checklist_cli.py",
    "core/test_store.py",
    "core/test_normalize.py",
    "cli/test_catalogue_cli.py",
    "gui/test_i18n.py",
    "core/test_services.py",
    "core/test_kdf_prefetch.py",
    "gui/test_print_without_poppler.py",
    "core/test_import_values.py",
    "gui/test_scoring_fair_gui.py",
    "gui/test_catalogue_editor.py",
    "core/test_import_chunks.py",
    "core/test_output_injection.py",
    "gui/test_scoring_gui.py",
    "gui/test_import_guard_gui.py",
)


@pytest.fixture(autouse=True)
def _kdf_cost(request):
    """The floor for the tests marked ``kdf_floor``; the test cost for the rest."""
    floor = request.node.get_closest_marker("kdf_floor") is not None
    _keys.calibrate = _FLOOR_CALIBRATE if floor else _test_cost_calibrate
    _crypto.KDF, _crypto.KDF_FLOOR = _FLOOR_SEALING if floor else _TEST_SEALING
    yield
    _keys.calibrate = _test_cost_calibrate
    _crypto.KDF, _crypto.KDF_FLOOR = _TEST_SEALING


def pytest_configure(config):
    _compile_once_before_the_workers(config)


def _compile_once_before_the_workers(config) -> None:
    """xdist's controller, before its workers start: the package's bytecode and pytest's assertion rewrite of every
    test module (cached in the ``__pycache__`` folders, the rewrite keyed by the source's hash), split over the
    cores. In a fresh clone each worker otherwise rewrote all ~100 test modules itself at its collection — the same
    ~5.6 CPU-seconds twice, pytest copying the location onto every node of each rewritten assert — and compiled the
    package. With the caches in place this checks them and returns (~0.1 s). Anything unexpected (another pytest, no
    fork): the workers do it themselves, as before."""
    workers = getattr(config.option, "numprocesses", None)
    if os.environ.get("PYTEST_XDIST_WORKER") or not workers or sys.dont_write_bytecode or not hasattr(os, "fork"):
        return
    try:
        import compileall
        import multiprocessing

        from _pytest.assertion import assertstate_key
        from _pytest.assertion import rewrite as R

        import kodomo_desktop

        state = config.stash[assertstate_key]
        tests = Path(__file__).resolve().parent
        todo = []
        for fn in sorted([*tests.rglob("test_*.py"), *tests.rglob("conftest.py")]):
            pyc = R.get_cache_dir(fn) / (fn.name[:-3] + R.PYC_TAIL)
            if R._read_pyc(fn, pyc) is None:
                todo.append((fn, pyc))
        cores = max(1, min(os.cpu_count() or 1, 4))
        compileall.compile_dir(Path(kodomo_desktop.__file__).parent, quiet=1, workers=cores)
        if not todo:
            return

        def rewrite(part: int) -> None:
            for fn, pyc in todo[part::cores]:
                R.try_makedirs(pyc.parent)
                source_hash, co = R._rewrite_test(fn, config)
                R._write_pyc(state, co, source_hash, pyc)

        procs = [multiprocessing.get_context("fork").Process(target=rewrite, args=(i,)) for i in range(cores)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
    except Exception:  # only a head start: a worker rewrites whatever is missing, as pytest always does
        return


def pytest_collection_finish(session):
    """What collection loaded (the modules: Qt, pandas, SQLAlchemy, the package, the tests) is frozen out of the
    cyclic collector's reach, as the CLI does after its start-up (cli.settle_memory): each full collection of the
    run would otherwise walk those ~200,000 objects again. And the young generation is collected every 50,000
    allocations, not 700, as the CLI's data commands do, the older ones every 20: the tests allocate millions of
    short-lived rows, cells and frames; with the default thresholds the two workers spent ~20 s in the collector,
    ~6 s at (10,000, 10, 10), and tests/core's 3.3 s became 2.1 s at these. Cycles are still collected, a little
    later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    _gui.release_import_hooks()  # pytest-qt has imported PySide6 by now: the app does the same after its imports


def pytest_runtest_setup(item):
    _gui.release_import_hooks()  # (a test that imports PySide6 first in this process: the hooks go again)


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    tests = Path(__file__).resolve().parent

    def key(item) -> int:
        try:
            rel = Path(str(item.path)).resolve().relative_to(tests).as_posix()
        except ValueError:
            return len(rank)
        return rank.get(rel, len(rank))

    items.sort(key=key)  # stable: within a file (and among the unnamed files) the collected order stays


# --- demo towns: built once, kept between runs, copied per test ---------------------------------------------------------
DEMO_PW = PASSWORD  # the password of every cached demo town (copies keep it)
_TOWNS: dict[tuple, tuple[Path, dict]] = {}
# The dependencies whose versions can change what build_demo writes (with Python's and the package's own files).
_TOWN_DEPS = (
    "pandas", "numpy", "pyarrow", "SQLAlchemy", "alembic", "sqlcipher3", "rapidfuzz", "jaconv", "yosina", "openpyxl",
    "python-calamine", "argon2-cffi", "cryptography",
)  # fmt: skip


def _copy_town(src: Path, dest: Path, name: str) -> Path:
    from kodomo_desktop.core.demo.service import database_files

    dest.mkdir(parents=True, exist_ok=True)
    for f in database_files(src):
        shutil.copy2(f, dest / f.name.replace(src.name, name, 1))
    return dest / name


@functools.cache
def _code_key() -> str:
    """What a built demo town depends on: every file of the package (its code, catalogue, checklists, migrations),
    this conftest's test cost, Python's and the dependencies' versions. A different key is a different cache."""
    import hashlib
    from importlib import metadata

    import kodomo_desktop

    h = hashlib.sha256(repr((sys.version, TEST_KDF)).encode())
    pkg = Path(kodomo_desktop.__file__).resolve().parent
    for f in sorted(p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for dist in _TOWN_DEPS:
        try:
            h.update(f"{dist}={metadata.version(dist)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=-;".encode())
    return h.hexdigest()[:20]


def _towns_root(tmp_path_factory) -> Path:
    """Where the towns are built and kept: outside the checkout, in the user's cache folder (as mypy's cache and the
    200k store), under a key of the code that builds them (:func:`_code_key`) — so the second run of the same code,
    in this clone or a fresh one, copies the towns instead of building them (~3 CPU-seconds each), and any change to
    the package builds them again. Older keys are removed (the newest three are kept). ``KODOMO_TEST_TOWNS=run``
    keeps them for this run only; without flock (Windows) each worker builds its own."""
    if fcntl is None:
        return tmp_path_factory.getbasetemp() / "demo-towns"
    if os.environ.get("KODOMO_TEST_TOWNS") == "run":
        base = tmp_path_factory.getbasetemp()
        return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo-towns"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kodomo-desktop-dev" / "demo-towns"
    root = cache / _code_key()
    root.mkdir(parents=True, exist_ok=True)
    os.utime(root)  # the newest in use
    with contextlib.suppress(OSError), _exclusive(cache / "prune.lock"):
        for old in sorted((p for p in cache.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)[:-3]:
            shutil.rmtree(old, ignore_errors=True)
    return root


@contextlib.contextmanager
def _exclusive(lock: Path):
    with open(lock, "a") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)  # another worker or run waits while this one builds the town
        yield


@pytest.fixture(scope="session")
def demo_town(tmp_path_factory):
    """``demo_town(db_path, residents=600, seed=1, score=True, files_out=None) -> summary``: puts at ``db_path`` a
    copy of the demo town (``build_demo``, password :data:`DEMO_PW`) with those parameters, built the first time a
    test asks for it (kept between runs of the same code: :func:`_towns_root`) and copied after that — 13 modules
    used to build their own, 7 of them the same town. ``files_out``: a folder that gets a copy of the department
    files the town was imported from (what ``demo --files-out`` writes). The build itself runs in a temporary folder
    in memory (SQLite syncs each commit) and is moved into place whole, its summary last."""
    from kodomo_desktop.core.demo.service import build_demo

    root = _towns_root(tmp_path_factory)

    def get(db: Path, residents: int = 600, seed: int = 1, score: bool = True, files_out: Path | None = None) -> dict:
        key = (residents, seed, score)
        if key not in _TOWNS:
            d = root / f"town_{residents}_{seed}_{int(score)}"
            d.mkdir(parents=True, exist_ok=True)
            done = d / "summary.pickle"
            with _exclusive(d / "build.lock"):
                if not done.exists():
                    build = Path(tempfile.mkdtemp(prefix="demo-town-"))
                    was, _keys.calibrate = _keys.calibrate, _test_cost_calibrate  # kept towns: always the test cost
                    try:
                        summary = build_demo(
                            build / "demo.db",
                            residents=residents,
                            seed=seed,
                            password=DEMO_PW,
                            score=score,
                            files_out=build / "files",
                        )
                        summary["db"] = str(d / "demo.db")
                        shutil.rmtree(d / "files", ignore_errors=True)
                        shutil.copytree(build / "files", d / "files")
                        _copy_town(build / "demo.db", d, "demo.db")
                    finally:
                        _keys.calibrate = was
                        shutil.rmtree(build, ignore_errors=True)
                    (d / "summary.tmp").write_bytes(pickle.dumps(summary))
                    os.replace(d / "summary.tmp", done)
            _TOWNS[key] = (d / "demo.db", pickle.loads(done.read_bytes()))
        src, summary = _TOWNS[key]
        _copy_town(src, Path(db).parent, Path(db).name)
        if files_out is not None:
            shutil.copytree(src.parent / "files", files_out, dirs_exist_ok=True)
        return copy.deepcopy(summary)

    return get


_NEW_DB: dict[bool, Path] = {}


def _new_db_template(tmp_path_factory) -> Path:
    """The database ``Workspace.create`` made once in this worker (password :data:`PASSWORD`), closed: one at the
    test cost, one at the floor for the tests marked ``kdf_floor``."""
    from kodomo_desktop.core.workspace import Workspace

    floor = _keys.calibrate is _FLOOR_CALIBRATE
    if floor not in _NEW_DB:
        d = tmp_path_factory.mktemp("new_db")
        Workspace.create(d / "t.db", PASSWORD).close()
        _NEW_DB[floor] = d / "t.db"
    return _NEW_DB[floor]


@pytest.fixture
def new_db(tmp_path, tmp_path_factory):
    """A fresh encrypted database (path, open Workspace) with its first coordinator: a copy of one created once per
    worker (a copy opens with the derivation cached). Its log holds db_created, db_open, db_close, then this test's db_open."""
    from kodomo_desktop.core.workspace import Workspace

    ws = Workspace.open(_copy_town(_new_db_template(tmp_path_factory), tmp_path, "t.db"), PASSWORD)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def new_db_at(tmp_path_factory):
    """``new_db_at(path) -> Workspace``: what :func:`new_db` gives, at ``path`` and as many as a test needs (the
    caller closes them)."""
    from kodomo_desktop.core.workspace import Workspace

    def make(path) -> Workspace:
        path = Path(path)
        return Workspace.open(_copy_town(_new_db_template(tmp_path_factory), path.parent, path.name), PASSWORD)

    return make


# --- GUI tests ---------------------------------------------------------------------------------------------------------
def forbid_modals(monkeypatch) -> None:
    """A modal dialog under offscreen Qt waits for a click that never comes and hangs the run: fail fast instead."""
    from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

    def no_modal(*a, **k):
        raise AssertionError("a modal dialog was opened in a test")

    for name in ("warning", "information", "critical", "question", "about", "exec"):
        monkeypatch.setattr(QMessageBox, name, no_modal)
    for name in ("getText", "getItem", "getInt", "getMultiLineText"):
        monkeypatch.setattr(QInputDialog, name, no_modal)
    for name in ("getSaveFileName", "getOpenFileName", "getOpenFileNames", "getExistingDirectory"):
        monkeypatch.setattr(QFileDialog, name, no_modal)
    monkeypatch.setattr(QDialog, "exec", no_modal)
    try:
        from PySide6.QtPrintSupport import QPrintDialog

        monkeypatch.setattr(QPrintDialog, "exec", no_modal)
    except ImportError:
        pass


@pytest.fixture
def no_modals(monkeypatch):
    forbid_modals(monkeypatch)


@pytest.fixture
def app(qapp, tmp_path, monkeypatch):
    """The Qt application as the app sets it up: its own config folder, the bundled Japanese font, Japanese UI."""
    monkeypatch.setenv("KODOMO_CONFIG_DIR", str(tmp_path / "config"))
    from kodomo_desktop.gui import i18n
    from kodomo_desktop.gui.app import register_fonts

    assert "IPAex" in register_fonts(qapp)  # without it Japanese renders as boxes
    i18n.set_language("ja")
    return qapp


def show_page(qtbot, page, width: int = 1360, height: int = 860):
    qtbot.addWidget(page)
    page.resize(width, height)
    page.show()
    qtbot.waitExposed(page)
    return page
