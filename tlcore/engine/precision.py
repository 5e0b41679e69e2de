"""Which number format a run computes in: fp32, or mixed precision (bf16 / fp16) where it runs faster.

Mixed precision keeps the weights and the optimizer in fp32 and runs the matrix products of the forward and
backward passes in 16 bits (``torch.autocast``); fp16's narrow range needs its loss scaled (``GradScaler``),
bf16's does not. "auto" is bf16 (fp16 on a GPU without bf16) for large models on a CUDA GPU, and fp32 otherwise:
small models run no faster in 16 bits on a GPU (AUTO_MIXED_MIN_PARAMS), and CPUs differ (bf16 matmuls run ~4x
fp32 on a Xeon with AMX and under 1 GFLOP/s on an AVX2-only EPYC), so a CPU uses bf16 only when asked for.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Literal

from ..errors import ConfigError

PrecisionName = Literal["fp32", "bf16", "fp16"]
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Precision:
    """The format a run computes in, and why it was chosen (shown in metrics.json and on the run's page)."""

    name: PrecisionName
    reason: str

    @property
    def mixed(self) -> bool:
        return self.name != "fp32"


def device_type(device: str) -> str:
    """'cuda' for 'cuda:1': what torch.autocast and torch.amp name a device by."""
    return device.split(":", 1)[0]


# "auto" mixes precision on a GPU only for models at least this large. Measured on an H200 (bench/README.md, "GPU"):
# LoRA on minilm (22M) and smollm2-135m at 16 rows a step trained 10-40 % slower in bf16 than in fp32, with the same
# accuracy, because small matmuls leave the GPU waiting on kernel launches and autocast adds casts. Large models
# are bound by arithmetic and memory, where 16 bits halve both.
AUTO_MIXED_MIN_PARAMS = 1_000_000_000


def choose_precision(device: str, requested: str = "auto", params: int | None = None) -> Precision:
    """The precision for a run on ``device`` (already chosen, e.g. by ``choose_device``) of a model with
    ``params`` parameters (None: unknown, treated as small)."""
    if requested not in PRECISION_CHOICES:
        raise ConfigError(f"precision {requested!r} is not one of {', '.join(PRECISION_CHOICES)}.")
    kind = device_type(device)
    if requested == "fp32":
        return Precision("fp32", "fp32, as asked")
    if requested == "auto":
        if kind != "cuda":
            return Precision("fp32", f"fp32: the default on {'a CPU' if kind == 'cpu' else kind}; bf16 is used on "
                                     "a CPU only when asked for (its speed differs by CPU: measure it first)")
        if params is None or params < AUTO_MIXED_MIN_PARAMS:
            return Precision("fp32", "fp32: on a model this small the GPU waits on kernel launches, not on "
                                     "arithmetic, and mixed precision's casts made training slower (bench/gpu.py)")
        if _cuda_bf16(device):
            return Precision("bf16", "bf16 mixed precision: a large model on a GPU that computes in bf16 natively")
        return Precision("fp16", "fp16 mixed precision with loss scaling: a large model on a GPU without bf16")
    if requested == "fp16" and kind == "cpu":
        raise ConfigError("precision fp16 is for GPUs (a CPU computes fp16 slowly and without loss scaling); "
                          "use bf16 or fp32 on a CPU.")
    if requested == "bf16" and kind == "cuda" and not _cuda_bf16(device):
        raise ConfigError(f"precision bf16 was asked for, but the GPU {device} does not support it; use fp16 or auto.")
    return Precision(requested, f"{requested} mixed precision, as asked")


def _cuda_bf16(device: str) -> bool:
    import torch

    with torch.cuda.device(device if ":" in device else 0):
        return bool(torch.cuda.is_bf16_supported())


def _torch_dtype(name: PrecisionName):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[name]


@contextlib.contextmanager
def compute_in(precision: Precision, device: str) -> Iterator[None]:
    """Run the block's matrix products in the precision (autocast); fp32 changes nothing.

    The block may train: autocast's cache of 16-bit weight copies is off, because it lives until the block
    ends, so every step would reuse the copies made at the first step and never see its own updates (measured:
    LoRA on minilm stayed at chance, loss 0.69 after 20 steps against 0.52 in fp32). The loop runs each
    backward pass outside autocast (``backward``), as torch's documentation asks.
    """
    if not precision.mixed:
        yield
        return
    import torch

    with torch.autocast(device_type(device), dtype=_torch_dtype(precision.name), cache_enabled=False):
        yield


def backward(loss, device: str, scaler=None) -> None:
    """``loss.backward()`` outside autocast (its ops take the dtypes their forward ops chose), scaled for fp16."""
    import torch

    with torch.autocast(device_type(device), enabled=False):
        (scaler.scale(loss) if scaler else loss).backward()


def grad_scaler(device: str):
    """A GradScaler when the calling code runs under fp16 autocast on ``device`` (fp16 gradients underflow
    without one), else None. Read from torch's autocast state, so the training loop needs no extra argument."""
    import torch

    kind = device_type(device)
    if kind == "cpu" or not torch.is_autocast_enabled(kind) or torch.get_autocast_dtype(kind) != torch.float16:
        return None
    return torch.amp.GradScaler(kind)


def full_precision(device: str):
    """A block in fp32 even inside a run's ``compute_in``: what is cached across runs (sentence embeddings, probe
    features) must not depend on the precision of the run that computed it first."""
    import torch

    return torch.autocast(device_type(device), enabled=False)
