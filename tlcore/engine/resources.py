"""Will a run fit in memory? A lower-bound estimate, checked against the memory free now, before loading.

The estimate is deliberately a floor, not a guess at the peak: it counts only what must exist at once
(the Python/torch runtime, the fp32 weights, and for training the gradients and AdamW's two moment buffers
of the trainable weights). A run refused by it could not have finished; a run it lets through may still
need more for activations, which grow with batch size × max length.
"""
from __future__ import annotations

from dataclasses import dataclass

# Resident memory of a worker after importing torch + transformers, before any model (measured here:
# 0.35-0.45 GB on Linux x86-64 with torch 2.13 CPU).
RUNTIME_BYTES = 350 * 2**20
FP32 = 4
# Per trainable weight: its gradient plus AdamW's exp_avg and exp_avg_sq, all fp32.
TRAINING_BYTES_PER_PARAM = 3 * FP32


@dataclass
class MemoryEstimate:
    needed_bytes: int
    available_bytes: int | None  # None where the platform does not say
    breakdown: dict[str, int]

    @property
    def fits(self) -> bool:
        return self.available_bytes is None or self.needed_bytes <= self.available_bytes

    def message(self, what: str) -> str:
        parts = ", ".join(f"{name} {_gb(size)}" for name, size in self.breakdown.items())
        return (f"{what} needs at least {_gb(self.needed_bytes)} of memory ({parts}), but only "
                f"{_gb(self.available_bytes or 0)} is free. Close other programs, or choose a smaller model or a "
                f"method that trains fewer weights (linear-probe, LoRA), then run again.")


def _gb(size: int) -> str:
    return f"{size / 2**30:.2f} GB"


def available_memory() -> int | None:
    """Bytes the system can give without swapping (Linux's MemAvailable), or None if unknown."""
    import psutil

    try:
        return int(psutil.virtual_memory().available)
    except (psutil.Error, OSError):
        return None


def estimate_memory(total_params: int, trainable_params: int, available: int | None = None,
                    runtime_loaded: bool = False) -> MemoryEstimate:
    """The floor of what a run holds at once; ``available`` defaults to the memory free now.

    ``runtime_loaded``: the caller is the worker itself, whose torch runtime is already resident (and so
    already missing from the free memory).
    """
    breakdown = {} if runtime_loaded else {"runtime": RUNTIME_BYTES}
    breakdown["weights"] = FP32 * int(total_params)
    if trainable_params:
        breakdown["gradients and optimizer state"] = TRAINING_BYTES_PER_PARAM * int(trainable_params)
    return MemoryEstimate(needed_bytes=sum(breakdown.values()),
                          available_bytes=available_memory() if available is None else available,
                          breakdown=breakdown)
