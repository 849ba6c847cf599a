"""What each step of a one-process run cost: CPU seconds, wall seconds and the step's own peak memory.

Not a command group (it registers nothing): ``import --manifest … --link --score`` reports these figures per step
so that a town (and ``benchmarks/city.py``) can see where the minutes and the megabytes of the monthly run go.

CPU time is the process's user + system time (``time.process_time``: every thread, Argon2id's lanes included).
The peak memory of a step is the resident set's high-water mark while that step ran: on Linux the mark is reset
at the start of each step (``/proc/self/clear_refs``, "5") and read from ``VmHWM``; where that is not possible
(another kernel, Windows) the figure is the process's peak so far (``peak_is_cumulative``)."""

from __future__ import annotations

import time
from pathlib import Path

_PROC = Path("/proc/self")


def _vm_hwm_mb() -> float | None:
    try:
        for line in (_PROC / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open(_PROC / "clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_so_far_mb() -> float | None:
    try:
        import resource  # why: POSIX only (absent on Windows)
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepMeter:
    """``with meter.step("link"): ...`` records that step; :attr:`steps` is the JSON the run prints."""

    def __init__(self) -> None:
        self.steps: dict[str, dict] = {}

    def step(self, name: str) -> _Step:
        return _Step(self, name)


class _Step:
    def __init__(self, meter: StepMeter, name: str) -> None:
        self.meter, self.name = meter, name

    def __enter__(self) -> _Step:
        self.per_step = _reset_hwm() and _vm_hwm_mb() is not None
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        peak = _vm_hwm_mb() if self.per_step else _peak_so_far_mb()
        self.meter.steps[self.name] = {
            "cpu_s": round(time.process_time() - self.cpu, 3),  # ms: opening a town can take under 5 ms
            "wall_s": round(time.perf_counter() - self.wall, 3),
            "peak_rss_mb": round(peak) if peak is not None else None,
            **({} if self.per_step else {"peak_is_cumulative": True}),
        }
