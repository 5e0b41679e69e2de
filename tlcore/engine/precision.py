"""Which number format a run computes in: fp32, or mixed precision (bf16 / fp16) where it runs faster.

Mixed precision keeps the weights and the optimizer in fp32 and runs the matrix products of the forward and
backward passes in 16 bits (``torch.autocast``); fp16's narrow range needs its loss scaled (``GradScaler``),
bf16's does not. "auto" is chosen by measurement:

- CUDA GPU: bf16 (fp16 on a GPU without bf16) for large models; small models run no faster in 16 bits there
  (AUTO_MIXED_MIN_PARAMS).
- CPU: bf16 when this CPU multiplies bf16 matrices fast AND the model itself runs faster in bf16 with outputs that
  agree with fp32 (tlcore.engine.precision_probe: timed once per machine and model, kept on disk); else fp32. CPUs
  differ too much to guess: bf16 runs ~4x fp32 on a Xeon with AMX, ~2.5x on an EPYC with AVX-512 BF16, and under
  1 GFLOP/s on an AVX2-only EPYC.

``TLCORE_PRECISION=fp32`` makes "auto" mean fp32 everywhere: the one switch back. An explicit precision (``--precision
bf16``) always wins, and a finished run is reloaded in the precision it recorded (``recorded_precision``).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

from ..errors import ConfigError
from .autocast_state import autocast_tag, device_type  # noqa: F401  (re-exported: precision's vocabulary)

PrecisionName = Literal["fp32", "bf16", "fp16"]
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
PRECISION_ENV = "TLCORE_PRECISION"  # "fp32": "auto" means fp32 everywhere
# bf16 "auto" on a CPU needs both: this speed-up over fp32 (the CPU's matrix products, then the model itself)...
AUTO_BF16_MIN_SPEEDUP = 1.3
# ...and outputs that agree with fp32 on the probe texts (tlcore.engine.precision_probe). An encoder: the min cosine of
# its mean-pooled last hidden states. Measured here: bf16 autocast 0.99997 on minilm, which left 99.6 % of its
# zero-shot, few-shot and linear-probe labels unchanged on average (98.5-100 % per dataset and method, on 200 rows
# each: the changed ones were near ties; bench/precision.py), for 1.7x faster encoding; weights cast to bf16
# (0.996) and int8 dynamic quantisation (0.83) moved predictions further, and sit below the line.
AUTO_BF16_MIN_COSINE = 0.999
# A language model: the mean change of each next token's log-probability, which decoder scoring sums over a text. Its
# hidden states' cosine says little (smollm2-135m: 0.99998): its tokens moved by 0.023 nats on average (head in
# fp32), and 2-4 % of its calibrated zero-/few-shot labels flipped. Flips grow with this error about linearly, so
# 99.5 % unchanged labels needs about a sixth of it.
AUTO_BF16_MAX_LOGPROB_ERROR = 0.004


@dataclass(frozen=True)
class Precision:
    """The format a run computes in, and why it was chosen (shown in metrics.json and on the run's page)."""

    name: PrecisionName
    reason: str

    @property
    def mixed(self) -> bool:
        return self.name != "fp32"


# "auto" mixes precision on a GPU only for models at least this large. Measured on an H200 (bench/README.md, "GPU"):
# LoRA on minilm (22M) and smollm2-135m at 16 rows a step trained 10-40 % slower in bf16 than in fp32, with the same
# accuracy, because small matmuls leave the GPU waiting on kernel launches and autocast adds casts. Large models
# are bound by arithmetic and memory, where 16 bits halve both.
AUTO_MIXED_MIN_PARAMS = 1_000_000_000


def choose_precision(device: str, requested: str = "auto", params: int | None = None,
                     folder: str | Path | None = None, kind: str | None = None, name: str | None = None) -> Precision:
    """The precision for a run on ``device`` (already chosen, e.g. by ``choose_device``) of a model with
    ``params`` parameters (None: unknown, treated as small). On a CPU, "auto" measures the model in ``folder`` (an
    "encoder" or a "decoder" ``kind``, called ``name`` in the reason); without a folder it stays fp32."""
    if requested not in PRECISION_CHOICES:
        raise ConfigError(f"precision {requested!r} is not one of {', '.join(PRECISION_CHOICES)}.")
    kind_of_device = device_type(device)
    if requested == "fp32":
        return Precision("fp32", "fp32, as asked")
    if requested == "auto":
        if fp32_forced():
            return Precision("fp32", f"fp32: {PRECISION_ENV}=fp32 is set")
        if kind_of_device == "cpu":
            return _auto_on_cpu(folder, kind, name)
        if kind_of_device != "cuda":
            return Precision("fp32", f"fp32: the default on {kind_of_device}")
        if params is None or params < AUTO_MIXED_MIN_PARAMS:
            return Precision("fp32", "fp32: on a model this small the GPU waits on kernel launches, not on "
                                     "arithmetic, and mixed precision's casts made training slower (bench/gpu.py)")
        if _cuda_bf16(device):
            return Precision("bf16", "bf16 mixed precision: a large model on a GPU that computes in bf16 natively")
        return Precision("fp16", "fp16 mixed precision with loss scaling: a large model on a GPU without bf16")
    if requested == "fp16" and kind_of_device == "cpu":
        raise ConfigError("precision fp16 is for GPUs (a CPU computes fp16 slowly and without loss scaling); "
                          "use bf16 or fp32 on a CPU.")
    if requested == "bf16" and kind_of_device == "cuda" and not _cuda_bf16(device):
        raise ConfigError(f"precision bf16 was asked for, but the GPU {device} does not support it; use fp16 or auto.")
    return Precision(requested, f"{requested} mixed precision, as asked")


def fp32_forced() -> bool:
    """Whether TLCORE_PRECISION=fp32 is set; any other value but "auto" or nothing is refused."""
    value = os.environ.get(PRECISION_ENV, "").strip().lower()
    if value not in ("", "auto", "fp32"):
        raise ConfigError(f"{PRECISION_ENV}={os.environ[PRECISION_ENV]!r} is not understood; set it to fp32 (compute "
                          "in fp32 wherever the precision is auto) or unset it (choose by measurement).")
    return value == "fp32"


def _auto_on_cpu(folder: str | Path | None, kind: str | None, name: str | None) -> Precision:
    """bf16 only when the CPU's bf16 matrix products and then the model itself measure fast, and the model agrees
    with fp32; the model never runs in bf16 on a CPU whose tiny bf16 product was already slow."""
    if folder is None or kind not in ("encoder", "decoder"):
        return Precision("fp32", "fp32: the default on a CPU when no model is given to measure bf16 on")
    from .precision_probe import cpu_bf16_speedup, model_bf16_check

    cpu = cpu_bf16_speedup()
    product = f"this CPU multiplies bf16 matrices {cpu.ratio:.2f}x as fast as fp32 ({cpu.bf16_gflops:.0f} against " \
              f"{cpu.fp32_gflops:.0f} GFLOP/s, {cpu.shape})"
    if cpu.ratio < AUTO_BF16_MIN_SPEEDUP:
        return Precision("fp32", f"fp32: {product}, under the {AUTO_BF16_MIN_SPEEDUP}x that bf16 needs to pay"
                                 + (f"; {cpu.note}" if cpu.note else ""))
    model = model_bf16_check(folder, kind)
    name = name or Path(folder).name
    if model.error:
        return Precision("fp32", f"fp32: {product}, but {name} failed in bf16 ({model.error})")
    if model.speedup < AUTO_BF16_MIN_SPEEDUP:
        return Precision("fp32", f"fp32: {product}, but {name} itself ran only {model.speedup:.2f}x as fast in bf16 "
                                 f"({AUTO_BF16_MIN_SPEEDUP}x needed)")
    if model.logprob_error is not None:  # a language model: its token log-probabilities are what it is used for
        agreement = f"its next-token log-probabilities move by {model.logprob_error:.4f} nats on average on " \
                    f"{model.texts} probe texts"
        agrees, needed = model.logprob_error <= AUTO_BF16_MAX_LOGPROB_ERROR, f"at most {AUTO_BF16_MAX_LOGPROB_ERROR}"
    else:
        agreement = f"min cosine {model.min_cosine:.5f} to fp32 on {model.texts} probe texts"
        agrees, needed = model.min_cosine >= AUTO_BF16_MIN_COSINE, f"{AUTO_BF16_MIN_COSINE} needed"
    if not agrees:
        return Precision("fp32", f"fp32: {name} runs {model.speedup:.1f}x as fast in bf16, but its outputs move too "
                                 f"much ({agreement}; {needed})")
    return Precision("bf16", f"bf16 mixed precision: {product}, and {name} runs {model.speedup:.1f}x as fast in bf16 "
                             f"with outputs that agree with fp32 ({agreement}); {PRECISION_ENV}=fp32 turns it off")


def recorded_precision(metrics: dict | None, device: str) -> Precision:
    """The precision a finished run computed its predictions in (metrics.json), for scoring texts with it again on
    ``device``: a reload then predicts what the run did. Runs recorded before precisions existed were fp32."""
    name = (metrics or {}).get("precision") or "fp32"
    if name not in ("fp32", "bf16", "fp16"):
        return Precision("fp32", f"fp32: the run recorded an unknown precision {name!r}")
    if name == "fp16" and device_type(device) != "cuda":
        return Precision("fp32", "fp32: the run computed in fp16 on a GPU, which a CPU does not do well")
    if name == "bf16" and device_type(device) == "cuda" and not _cuda_bf16(device):
        return Precision("fp32", f"fp32: the run computed in bf16, which the GPU {device} does not support")
    return Precision(name, f"{name}, as the run recorded" if name != "fp32" else "fp32, as the run recorded")


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
