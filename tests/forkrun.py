"""Run a short Python program in a child process that is a fork of the test process: a real process that the product
ends abruptly (``KODOMO_CRASH_AT`` → ``os._exit(86)``), without a new interpreter's start-up and imports, and with the
test process's Argon2 derivations at hand (tests/conftest.py) — a crash test costs what its own work costs.

The program sees ``sys.argv[1:]`` and the environment it is given, as under ``python -c CODE ARGS``. Without
``os.fork`` (Windows) it is exactly that subprocess. The caller must have closed its own connections to the
databases the child opens (SQLite's rule for fork); the crash tests do so before they start the child.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
from pathlib import Path

CLI_MAIN = (
    "import sys\nfrom kodomo_desktop.cli import main\nsys.exit(main(sys.argv[1:]))\n"  # `python -m kodomo_desktop.cli`
)


def run_code(code: str, *argv, env: dict) -> int:
    """The exit code of ``python -c code *argv`` with environment ``env``, run as a fork where the OS has one."""
    return start_code(code, *argv, env=env).wait()


class Started:
    """A started child (:func:`start_code`): ``wait()`` gives its exit code, then ``stdout``/``stderr`` its output
    when it was captured."""

    def __init__(self, pid: int | None, popen: subprocess.Popen | None, out, err):
        self._pid, self._popen, self._files = pid, popen, (out, err)
        self.pid: int = popen.pid if popen is not None else pid  # type: ignore[assignment]
        self.stdout = self.stderr = ""

    def output_so_far(self) -> str:
        """What the child has written to its stdout up to now (captured runs)."""
        out = self._files[0]
        return out.read_text(encoding="utf-8", errors="replace") if out is not None and out.exists() else ""

    def wait(self) -> int:
        if self._popen is not None:
            rc = self._popen.wait()
        else:
            assert self._pid is not None
            _, status = os.waitpid(self._pid, 0)
            rc = os.waitstatus_to_exitcode(status)
        out, err = self._files
        if out is not None:
            self.stdout = out.read_text(encoding="utf-8")
            self.stderr = err.read_text(encoding="utf-8")
        return rc


def start_code(code: str, *argv, env: dict, capture_in=None) -> Started:
    """``python -c code *argv`` started, as a fork where the OS has one, not waited for: several run at once (two
    processes importing the same file). ``capture_in``: a folder for the child's stdout and stderr (as files: a pipe
    would fill while nobody reads it)."""
    args = [str(a) for a in argv]
    out = err = None
    if capture_in is not None:
        out, err = (Path(capture_in) / f"child-{os.urandom(4).hex()}.{n}" for n in ("out", "err"))
    if not hasattr(os, "fork"):
        with contextlib.ExitStack() as files:
            streams = {} if out is None else {"stdout": files.enter_context(open(out, "wb")),
                                              "stderr": files.enter_context(open(err, "wb"))}  # fmt: skip
            popen = subprocess.Popen([sys.executable, "-c", code, *args], env=env, **streams)
        return Started(None, popen, out, err)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        rc = 1
        try:
            if out is not None:
                for fd, path in ((1, out), (2, err)):
                    f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(f, fd)
                    os.close(f)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)
            os.environ.clear()
            os.environ.update(env)
            sys.argv = ["-c", *args]
            exec(compile(code, "<forked child>", "exec"), {"__name__": "__main__"})
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
    return Started(pid, None, out, err)
