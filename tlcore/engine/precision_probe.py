"""Measure, once per machine and model, whether bf16 mixed precision pays on this CPU (tlcore.engine.precision uses it).

CPUs differ by two orders of magnitude in bf16: ~4x fp32 on a Xeon with AMX, ~2.5x on an EPYC with AVX-512 BF16, under
1 GFLOP/s on an AVX2-only EPYC. So nothing is assumed from the CPU's name; two checks are timed:

1. ``cpu_bf16_speedup()``: a matrix product of our workloads' shape in fp32 and in bf16. A tiny product goes first,
   so a CPU without fast bf16 is found out in milliseconds, before a big product (or a model) runs in bf16 at all.
2. ``model_bf16_check(folder, kind)``: the model itself on ``probe_texts()`` (32 real sentences), in fp32 and under bf16
   autocast: its speed-up, and how well its outputs agree: the min cosine of the mean-pooled last hidden states (what
   an encoder's sentence vectors are made of) and, for a language model, how far each next token's log-probability
   moves (what decoder scoring sums).

Both answers are kept on disk (``cache_dir()/precision``), keyed by what they depend on: the CPU (its model, the
bf16-related instructions torch finds on it, torch's CPU capability) and torch's version; for a model also its folder
and the sizes and times of its weights files. Delete that folder to measure again.

Call these in the process that will compute, never in one that forks workers afterwards: a matrix product starts
torch's OpenMP threads, which a fork does not carry over. Torch's thread count is never changed here (a fork server
sets it before anything); the timings run within ``free_cores()``, as the model's real work does.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

PROBE_VERSION = 2  # part of every cache key: a change to the probe below measures again
# (m, k) @ (k, n): 512 tokens through a 384-wide layer into its 1536-wide feed-forward (MiniLM's shape).
WORK_SHAPE = (512, 384, 1536)
TINY_SHAPE = (128, 128, 128)  # ~4 MFLOP: milliseconds even where bf16 runs at 1 GFLOP/s
# Below this bf16/fp32 ratio on the tiny product, bf16 is taken as slow and the big product is not run. Measured
# here (AVX-512 BF16): 0.9-1.2 on the tiny shape (too small to show the gain), 2-3 on WORK_SHAPE; an AVX2-only CPU
# emulates bf16 at ~1/50 of fp32.
TINY_GATE = 0.5
PROBE_TEXTS_PER_FILE = 8  # from each bundled sample: 32 real sentences of SMS, reviews and film criticism
PROBE_MAX_TOKENS = 64
TIMED_ROUNDS = 2  # fp32 and bf16 alternate; each keeps its best round (other processes only ever slow one down)
# A model whose fp32 pass over the probe texts takes longer than this is timed once: the measurement stays a few
# seconds (smollm2-135m: ~3.5 s fp32 here when idle, 7 s with the other core busy), ~1 minute for a 1B model.
ONE_ROUND_SECONDS = 2.0
# Model checks kept on disk; beyond this the oldest go (test suites measure a fresh temporary model every session).
MAX_MODEL_FILES = 256
BUNDLED = Path(__file__).resolve().parent.parent / "data" / "bundled"
PROBE_FILES = ("sms_spam_sample.csv", "yelp_reviews.csv", "amazon_reviews.csv", "imdb_reviews.csv")


@dataclass(frozen=True)
class MatmulCheck:
    """bf16 and fp32 matrix-product throughput on this CPU."""

    fp32_gflops: float
    bf16_gflops: float
    shape: str  # the product timed, e.g. "512x384 @ 384x1536"
    note: str = ""  # why the big product was not timed, or the error bf16 raised

    @property
    def ratio(self) -> float:
        """bf16 throughput / fp32 throughput: above 1, bf16 is faster."""
        return self.bf16_gflops / self.fp32_gflops if self.fp32_gflops > 0 else 0.0


@dataclass(frozen=True)
class ModelCheck:
    """One model on the probe texts, in fp32 and under bf16 autocast."""

    fp32_seconds: float
    bf16_seconds: float
    min_cosine: float  # of the mean-pooled last hidden states, text by text
    texts: int
    error: str = ""  # what bf16 raised, if it failed
    # A language model's mean |bf16 - fp32| log-probability of each next token, nats (None: not a language model).
    logprob_error: float | None = None

    @property
    def speedup(self) -> float:
        return self.fp32_seconds / self.bf16_seconds if self.bf16_seconds > 0 and not self.error else 0.0


# -- the machine ------------------------------------------------------------------------------------------------

# torch's own CPU feature checks (the instructions its kernels use), read without /proc: Windows and macOS have none.
_TORCH_FLAGS = ("avx2", "avx512", "avx512_bf16", "vnni", "amx_tile", "amx_fp16", "arm_sve")


def machine_key() -> dict:
    """What a bf16 measurement depends on: the CPU (its model and the bf16-related instructions torch finds),
    torch's kernels and version."""
    import torch

    flags = sorted(flag for flag in _TORCH_FLAGS if getattr(torch.cpu, f"_is_{flag}_supported", lambda: False)())
    return {"cpu": _cpu_model(), "flags": flags, "capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "probe": PROBE_VERSION}


def _cpu_model() -> str:
    """The processor's name where the system says it (Windows, macOS), and on Linux its vendor, family and model
    numbers from sysfs (e.g. "x86,ven0002fam0019mod0011": an AMD Zen 4 EPYC), which do not need /proc."""
    name = platform.processor() or platform.machine()
    try:
        alias = Path("/sys/devices/system/cpu/modalias").read_text(encoding="ascii", errors="replace")
    except OSError:
        return name
    kind = alias.split(":feature:", 1)[0].removeprefix("cpu:type:").strip()
    return f"{name} {kind}".strip()


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def measurements_dir() -> Path:
    from .models import cache_dir

    return cache_dir() / "precision"


def _cached(path: Path, cls, measure: Callable[[], object], key: dict):
    """The measurement stored at ``path`` (for the same ``key``), else measured now and stored (atomically)."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return cls(**saved["result"])
    except (OSError, ValueError, KeyError, TypeError):  # not measured yet, or a damaged file: measure again
        pass
    result = measure()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "result": asdict(result), "measured": time.time()}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # a read-only cache: the answer still holds for this process
        pass
    return result


# -- 1. matrix products -----------------------------------------------------------------------------------------

def cpu_bf16_speedup() -> MatmulCheck:
    """bf16 against fp32 matrix products on this CPU (``.ratio``), measured once per machine and torch version."""
    key = machine_key()
    return _cached(measurements_dir() / f"cpu-{_digest(key)}.json", MatmulCheck, _measure_matmul, key)


def _best_gflops(shape: tuple[int, int, int], dtype, rounds: int) -> float:
    import torch

    m, k, n = shape
    a, b = torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)
    a @ b  # the first call picks and builds the kernel
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * m * k * n / max(best, 1e-9) / 1e9


def _shape_name(shape: tuple[int, int, int]) -> str:
    m, k, n = shape
    return f"{m}x{k} @ {k}x{n}"


def _measure_matmul() -> MatmulCheck:
    import torch

    from .runtime import free_cores

    with torch.inference_mode(), free_cores():
        fp32 = _best_gflops(TINY_SHAPE, torch.float32, 3)
        try:
            bf16 = _best_gflops(TINY_SHAPE, torch.bfloat16, 3)
        except RuntimeError as exc:  # a torch build without bf16 kernels for this CPU
            return MatmulCheck(fp32, 0.0, _shape_name(TINY_SHAPE), f"bf16 failed: {exc}")
        if bf16 < TINY_GATE * fp32:
            return MatmulCheck(fp32, bf16, _shape_name(TINY_SHAPE), "bf16 was slow on a tiny product; the big one "
                                                                    "was not run")
        fp32 = bf16 = 0.0
        for _ in range(3):  # alternate, so a burst of other work slows both alike; keep each one's best
            fp32 = max(fp32, _best_gflops(WORK_SHAPE, torch.float32, 2))
            bf16 = max(bf16, _best_gflops(WORK_SHAPE, torch.bfloat16, 2))
    return MatmulCheck(fp32, bf16, _shape_name(WORK_SHAPE))


# -- 2. the model ------------------------------------------------------------------------------------------------

def probe_texts() -> list[str]:
    """PROBE_TEXTS_PER_FILE real sentences from each bundled sample file (the first rows: the same every time)."""
    texts: list[str] = []
    for name in PROBE_FILES:
        with open(BUNDLED / name, encoding="utf-8", newline="") as handle:
            rows = csv.DictReader(handle)
            texts += [row["text"] for _, row in zip(range(PROBE_TEXTS_PER_FILE), rows)]
    return texts


def weights_stamp(folder: Path) -> list[str]:
    """Name, size and modification time of each weights file: a model changed in place is measured again."""
    return [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(folder.glob("*.safetensors"))]


def model_bf16_check(folder: str | Path, kind: str, device: str = "cpu") -> ModelCheck:
    """The model in ``folder`` (an "encoder" or a "decoder") on the probe texts in fp32 and in bf16 autocast;
    measured once per machine and model."""
    from .encoders import transformer_folder

    source = Path(transformer_folder(str(folder)))
    key = {"machine": machine_key(), "folder": str(source.resolve()), "weights": weights_stamp(source), "kind": kind,
           "device": device}
    def measure() -> ModelCheck:
        check = _measure_model(str(source), kind, device)
        _prune(measurements_dir(), "model-*.json", MAX_MODEL_FILES - 1)
        return check

    return _cached(measurements_dir() / f"model-{_digest(key)}.json", ModelCheck, measure, key)


def _prune(folder: Path, pattern: str, keep: int) -> None:
    """Delete all but the ``keep`` newest files matching ``pattern``."""
    try:
        files = sorted(folder.glob(pattern), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)
    except OSError:  # another process pruned at the same time
        pass


def _load_model(folder: str, kind: str, device: str):
    """An encoder through ``load_encoder``, which the run's embedding reuses (no second load). A decoder with its
    language-modelling head as decoder scoring loads it (head in fp32), but freshly: its training methods load their
    own class, and a cached copy would sit in memory beside it for the whole run. Without such a head: the bare one."""
    if kind == "encoder":
        from .encoders import load_encoder

        return load_encoder(folder, device)
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    from .decoder_scoring import keep_head_in_fp32
    from .models import SAFE_LOAD, quiet_transformers

    quiet_transformers()
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **SAFE_LOAD)
        keep_head_in_fp32(model)
    except (ValueError, KeyError):  # transformers has no causal-LM class for this architecture
        model = AutoModel.from_pretrained(folder, dtype=torch.float32, **SAFE_LOAD)
    return model.to(device).eval()


def _measure_model(folder: str, kind: str, device: str) -> ModelCheck:
    import torch

    from .autocast_state import device_type
    from .models import load_tokenizer
    from .runtime import free_cores

    model = _load_model(folder, kind, device)
    texts = probe_texts()
    batch = load_tokenizer(folder)(texts, padding=True, truncation=True, max_length=PROBE_MAX_TOKENS,
                                   return_tensors="pt").to(device)
    warm = {name: value[:4] for name, value in batch.items()}
    mask = batch["attention_mask"].bool()

    def run(inputs, bf16: bool):
        """(last hidden states, each next token's log-probability or None, seconds)."""
        with torch.autocast(device_type(device), dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
            started = time.perf_counter()
            out = model(**inputs, output_hidden_states=True)
            seconds = time.perf_counter() - started
        if getattr(out, "logits", None) is None:
            return out.last_hidden_state.float(), None, seconds
        logp = torch.log_softmax(out.logits[:, :-1].float(), dim=-1)
        return out.hidden_states[-1].float(), logp.gather(-1, inputs["input_ids"][:, 1:, None])[..., 0], seconds

    with torch.inference_mode(), free_cores():
        run(warm, False)
        try:
            run(warm, True)
        except RuntimeError as exc:  # an operation this model uses has no bf16 kernel here
            return ModelCheck(0.0, 0.0, 0.0, len(texts), f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        fp32_seconds = bf16_seconds = float("inf")
        for _ in range(TIMED_ROUNDS):
            fp32 = run(batch, False)
            fp32_seconds = min(fp32_seconds, fp32[2])
            bf16 = run(batch, True)
            bf16_seconds = min(bf16_seconds, bf16[2])
            if fp32_seconds > ONE_ROUND_SECONDS:
                break
    keep = mask.unsqueeze(-1).float()
    pooled = [(hidden * keep).sum(1) / keep.sum(1).clamp(min=1) for hidden, _, _ in (fp32, bf16)]
    cosine = torch.nn.functional.cosine_similarity(pooled[0], pooled[1], dim=-1)
    logprob_error = None
    if fp32[1] is not None:  # a decoder scores texts by these: how far bf16 moves them, per token
        scored = mask[:, 1:] & mask[:, :-1]
        logprob_error = float((bf16[1] - fp32[1])[scored].abs().mean())
    return ModelCheck(fp32_seconds, bf16_seconds, float(cosine.min()), len(texts), logprob_error=logprob_error)
