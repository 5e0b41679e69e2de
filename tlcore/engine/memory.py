"""Keep a run's resident memory near what it uses: freed heap pages go back to the OS, kernel caches stay bounded.

Two things held memory a run no longer used (bench/README.md, "Peak memory of realistic runs"):
- glibc's malloc keeps freed blocks for reuse. A prediction pass frees activations of many shapes at once; the
  heap kept ~360 MB of them resident afterwards (MiniLM DoRA). ``return_freed_memory`` hands them back.
- oneDNN, which computes bf16 matrix products on a CPU, keeps the kernels it built for every matrix shape, in two
  caches of 1,024 entries. Each batch is padded to its own length, so every length brings new shapes: one bf16 linear
  layer grew the heap by ~1.6 MB per shape, a MiniLM step by ~8 MB. ``limit_kernel_caches`` bounds them.
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys

# Entries per oneDNN cache. 64 hold the shapes of a step and the next few; rebuilding an evicted kernel cost nothing
# measurable (MiniLM DoRA in bf16, an epoch of the sms_spam batches: 4.1-4.2 s of CPU capped, 4.1-4.6 s not).
KERNEL_CACHE_ENTRIES = 64
KERNEL_CACHE_ENV = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")  # oneDNN's own cache, and ideep's


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc, else None (musl, macOS, Windows: their allocators return memory
    on their own terms, and have no malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)  # the C library this process already runs on, not a second copy
    except OSError:
        return None
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "malloc_trim")):
        return None
    libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    return libc


def supported() -> bool:
    """Whether this process's allocator can be asked to hand freed memory back (glibc)."""
    return _glibc() is not None


def return_freed_memory() -> bool:
    """Hand the free pages of every malloc arena back to the OS (glibc's ``malloc_trim``); False where unsupported.

    Call it after a burst of freeing (a prediction pass), not after every training step: the next step faults the
    pages in again: trimmed after every step, MiniLM trained 10-36 % slower (bf16 the worst) for ~20-40 MB off the peak.
    """
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_kernel_caches() -> list[str]:
    """Bound oneDNN's kernel caches for this process; returns the variables it set (a user's own are kept).

    oneDNN reads them once, at its first bf16 product: call this before a run computes anything.
    """
    done = []
    for name in KERNEL_CACHE_ENV:
        if name not in os.environ:
            os.environ[name] = str(KERNEL_CACHE_ENTRIES)
            done.append(f"{name}={KERNEL_CACHE_ENTRIES}")
    return done


def peak_rss_mb() -> float:
    """The most memory this process has held at once, MiB.

    On Linux the peak of this process's own memory (VmHWM): ``ru_maxrss`` also counts the memory of the process that
    started this one when that was larger, because Linux carries the high-water mark over ``exec`` (a run started from
    a 2 GB benchmark process reported 2,050 MB whatever it did)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # not Linux
        pass
    try:
        import resource  # POSIX only
    except ImportError:  # Windows: the peak working set, which psutil reads there
        import psutil

        info = psutil.Process().memory_info()
        return getattr(info, "peak_wset", info.rss) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS reports bytes, Linux KiB
