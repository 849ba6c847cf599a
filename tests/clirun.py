"""Run the CLI inside the test process: ``cli.main(argv)`` with its own working folder, environment, empty stdin
and captured stdout/stderr — a tenth of a subprocess's cost (no interpreter start, no re-import of pandas).

It answers like ``subprocess.run(..., capture_output=True, text=True)``: a CompletedProcess with the exit code, and an
uncaught exception becomes exit 1 with its traceback on stderr, as a real process would show it. A few tests stay
true subprocesses on purpose (killed imports, the module entry point, the installed wheel).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback


def run_cli(args, *, cwd=None, env: dict | None = None) -> subprocess.CompletedProcess:
    """``env``: the whole environment of the call (as for subprocess), None for this process's own."""
    from kodomo_desktop.cli import main

    argv = [str(a) for a in args]
    saved_env, saved_cwd, saved_umask = dict(os.environ), os.getcwd(), os.umask(0o022)
    os.umask(saved_umask)
    out, err = io.StringIO(), io.StringIO()
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update({k: str(v) for k, v in env.items()})
        if cwd is not None:
            os.chdir(cwd)
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            contextlib.ExitStack() as stack,
        ):
            stack.callback(setattr, sys, "stdin", sys.stdin)
            sys.stdin = io.StringIO("")
            try:
                rc = main(argv)
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            except Exception:
                traceback.print_exc()
                rc = 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        os.umask(saved_umask)
    return subprocess.CompletedProcess(argv, rc, out.getvalue(), err.getvalue())
