"""How many CPU threads torch should use: the cores other processes leave free.

Training, the encoder and the decoder's scoring run their torch work inside ``free_cores()``;
``torch_threads`` caps the calling thread for one block (predicting one text in the app).
"""
from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator


def _cpu_sample() -> tuple[float, float, float]:
    """(CPU seconds of all cores, their idle seconds, this process's CPU seconds) so far, on any system (psutil
    reads Linux's /proc/stat and /proc/self/stat)."""
    import psutil

    times = psutil.cpu_times()
    # As psutil.cpu_percent counts: Linux's guest time is already inside user and nice; waiting on disk is idle.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    own = psutil.Process().cpu_times()
    return total, times.idle + getattr(times, "iowait", 0.0), own.user + own.system


def _busy_elsewhere(window: float) -> float | None:
    """Cores other processes used during the last ``window`` seconds (None where the system does not say).
    Not the load average: it lags by a minute, so right after one run ends it would count that finished run
    as busy and start the next one on half an idle machine."""
    import psutil

    try:
        total, idle, own = _cpu_sample()
        time.sleep(window)
        total_after, idle_after, own_after = _cpu_sample()
    except (psutil.Error, OSError, AttributeError):
        return None
    elapsed = total_after - total
    used = (elapsed - (idle_after - idle) - (own_after - own)) / elapsed * (os.cpu_count() or 1) if elapsed else 0.0
    return max(0.0, used)


_budget_cache: tuple[float, int | None] = (-1e9, None)


def thread_budget(window: float = 0.2, max_age: float = 10.0) -> int | None:
    """torch threads worth using now: the cores other processes leave free (None: leave torch's setting).

    torch's threads meet at a barrier after every operation, so one that waits for a core stalls the
    others: on a 2-core machine running other tests, 4 LoRA steps on MiniLM took 37-41 s on two threads and
    2.3 s on one (same losses); on an idle machine two threads train ~2x faster than one (bench/README.md).
    The answer is kept for ``max_age`` seconds. TLCORE_THREADS=N forces N threads.
    """
    global _budget_cache
    forced = os.environ.get("TLCORE_THREADS", "").strip()
    if forced.isdigit() and int(forced) > 0:
        return int(forced)
    checked, budget = _budget_cache
    if time.monotonic() - checked > max_age:
        busy = _busy_elsewhere(window)
        budget = None if busy is None else max(1, round((os.cpu_count() or 1) - busy))
        _budget_cache = (time.monotonic(), budget)
    return budget


def threads_worth_using(wanted: int) -> int:
    """At most ``wanted`` torch threads, and no more than ``thread_budget()`` allows now."""
    budget = thread_budget() if wanted > 1 else None  # one thread: nothing to lower
    return wanted if budget is None else max(1, min(wanted, budget))


@contextlib.contextmanager
def free_cores() -> Iterator[int]:
    """Run the block on at most ``thread_budget()`` torch threads (never more than torch's own setting)."""
    import torch

    with torch_threads(threads_worth_using(torch.get_num_threads())):
        yield torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(count: int | None):
    """At most ``count`` torch intra-op threads while the block runs (None: unchanged), then as before.

    With OpenMP torch applies it to the calling thread: threads already running keep their count (a thread
    that first uses torch during the block inherits it; that only changes its speed).
    """
    if count is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    if previous <= count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
