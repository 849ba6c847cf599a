"""Run a short Python program in a child process that is a fork of the test process: a real process that the product
ends abruptly (``KODOMO_CRASH_AT`` → ``os._exit(86)``), without a new interpreter's start-up and imports, and with the
test process's Argon2 derivations at hand (tests/conftest.py) — a crash test costs what its own work costs.

The program sees ``sys.argv[1:]`` and the environment it is given, as under ``python -c CODE ARGS``. Without
``os.fork`` (Windows) it is exactly that subprocess. The caller must have closed its own connections to the
databases the child opens (SQLite's rule for fork); the crash tests do so before they start the child.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback


def run_code(code: str, *argv, env: dict) -> int:
    """The exit code of ``python -c code *argv`` with environment ``env``, run as a fork where the OS has one."""
    args = [str(a) for a in argv]
    if not hasattr(os, "fork"):
        return subprocess.run([sys.executable, "-c", code, *args], env=env).returncode
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        rc = 1
        try:
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
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
