"""The test suite's time against the filing day's (issue 18: "`.ci/run` takes at most half of today's time on this
machine, today about 200 s of tests"), measured like for like on this machine.

    python benchmarks/suite_time.py [--baseline 65543bd] [--pairs 1] [--warm]

Both suites run from clean worktrees of this repository (temporary, removed afterwards), each in a venv of its own
made with the same Python (``PYTHON``, else this one) and its own ``pip install -e .[test]``:

- the baseline (65543bd: the last commit of 2026-11-23, the day #18 was filed) as its ``.ci/run`` ran it:
  ``pytest -q -p no:cacheprovider``, one process;
- HEAD as ``installer/setup-and-test.sh`` (``.ci/run``'s test step) runs it, read from that script.

Each run gets an empty cache folder (``XDG_CACHE_HOME``): the demo towns and the 200,000-person store are built in
the run, as on a CI machine that starts cold; ``--warm`` runs each suite once first and times the second run.
``PYTHONDONTWRITEBYTECODE`` is lifted for both (the baseline was slower with it: every process compiled again).
Prints each run's wall and CPU seconds and the ratio HEAD / baseline per pair, then the median ratio and HEAD's
median time against the issue's own figure (half of "about 200 s").

``--same-files``: HEAD runs only the test files the baseline had (by file name, wherever they live now; they have
gained a few tests since), like for like — without the 66 test files that came with the capabilities built after
the filing day (the 200,000-person store, school and audit workspaces, the bundle's self-test, …).
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "65543bd"  # the last commit on the day issue 18 was filed (2026-11-23)


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def _head_pytest_args() -> list[str]:
    """The pytest options of ``installer/setup-and-test.sh``'s test step (the line that runs ``-m pytest``)."""
    script = (ROOT / "installer" / "setup-and-test.sh").read_text(encoding="utf-8")
    line = next(x for x in script.splitlines() if " -m pytest " in x and not x.lstrip().startswith("#"))
    words = shlex.split(line.split(" -m pytest ", 1)[1].split("#", 1)[0])
    return [w for w in words if w != "$@"]


def _venv(tree: Path, python: str) -> Path:
    subprocess.run([python, "-m", "venv", str(tree / ".venv")], check=True)
    py = tree / ".venv" / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f"{tree}[test]"], check=True
    )
    return py


def _run(label: str, tree: Path, py: Path, args: list[str], env: dict, cache: Path) -> dict:
    env = {**env, "XDG_CACHE_HOME": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    r = subprocess.run(
        [str(py), "-m", "pytest", *args], cwd=tree, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tail = (r.stdout.strip().splitlines() or [""])[-1]
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-3000:] + r.stderr[-2000:])
    print(f"  {label:8} {wall:7.1f} s wall  {cpu:7.1f} s CPU  exit {r.returncode}  {tail}", flush=True)
    return {"wall": wall, "cpu": cpu, "rc": r.returncode}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE, help="the commit to compare with (default: %(default)s)")
    ap.add_argument("--pairs", type=int, default=1, help="baseline/HEAD pairs, the order alternating (default 1)")
    ap.add_argument("--warm", action="store_true", help="time each suite's second run (caches filled by the first)")
    ap.add_argument("--same-files", action="store_true", help="HEAD runs only the test files the baseline had")
    opts = ap.parse_args()

    python = os.environ.get("PYTHON") or sys.executable
    head_args = _head_pytest_args()
    base_args = ["-q", "-p", "no:cacheprovider"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "PYTHONPATH")}
    env.update(QT_QPA_PLATFORM="offscreen", CI="true", KODOMO_BUNDLE_SELF_TEST_FOLLOWS="1")
    work = Path(tempfile.mkdtemp(prefix="suite-time-"))
    trees = {"baseline": work / "baseline", "HEAD": work / "head"}
    revs = {"baseline": _git("rev-parse", opts.baseline).strip(), "HEAD": _git("rev-parse", "HEAD").strip()}
    try:
        for name, tree in trees.items():
            _git("worktree", "add", "--detach", str(tree), revs[name])
        print(f"baseline {revs['baseline'][:10]}: pytest {' '.join(base_args)}")
        print(f"HEAD     {revs['HEAD'][:10]}: pytest {' '.join(head_args)}")
        print(f"{os.cpu_count()} cores, Python {python}; installing both venvs …", flush=True)
        pys = {name: _venv(tree, python) for name, tree in trees.items()}
        args = {"baseline": base_args, "HEAD": head_args}
        if opts.same_files:
            names = {Path(f).name for f in _git("ls-tree", "-r", "--name-only", revs["baseline"], "tests").split()}
            same = sorted(
                str(f.relative_to(trees["HEAD"]))
                for f in (trees["HEAD"] / "tests").rglob("test_*.py")
                if f.name in names
            )
            args["HEAD"] = head_args + same
            print(f"HEAD runs the baseline's {len(same)} test files only", flush=True)
        ratios, head_walls = [], []
        for i in range(opts.pairs):
            order = ["baseline", "HEAD"] if i % 2 == 0 else ["HEAD", "baseline"]
            print(f"pair {i + 1} ({'warm' if opts.warm else 'cold'} caches):", flush=True)
            got = {}
            for name in order:
                cache = Path(tempfile.mkdtemp(prefix=f"cache-{name}-", dir=work))
                if opts.warm:
                    _run(f"{name} (warm-up)", trees[name], pys[name], args[name], env, cache)
                got[name] = _run(name, trees[name], pys[name], args[name], env, cache)
                shutil.rmtree(cache, ignore_errors=True)
            ratio = got["HEAD"]["wall"] / got["baseline"]["wall"]
            ratios.append(ratio)
            head_walls.append(got["HEAD"]["wall"])
            print(f"  ratio HEAD / baseline: {ratio:.3f} (CPU {got['HEAD']['cpu'] / got['baseline']['cpu']:.3f})")
            if any(g["rc"] != 0 for g in got.values()):
                print("  (a suite failed: its time is not comparable)")
        print(f"median ratio over {len(ratios)} pair(s): {statistics.median(ratios):.3f} (target: at most 0.5)")
        print(
            f"HEAD's median: {statistics.median(head_walls):.1f} s (the issue's figure: at most 100 s, half of 200 s)"
        )
        return 0
    finally:
        for tree in trees.values():
            if tree.exists():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        _git("worktree", "prune")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
