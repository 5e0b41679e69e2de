"""Models from the Hugging Face Hub: found in the local cache with no network, or downloaded when asked to.

A Hub id (``BAAI/bge-small-en-v1.5``) names a model; the local Hugging Face cache (``HF_HUB_CACHE``, by default
``~/.cache/huggingface/hub``) may already hold a snapshot of it, put there by the user's own code or by
``hf download``. Resolving an id reads the cache only (``local_files_only``), so it works offline and never
waits on the network. Downloading is an explicit choice (``--allow-download``, a checkbox in the app): the size
is shown first, only safetensors weights and the small files beside them are fetched, and a model that needs its
own code is refused after its config.json arrives, before any weights do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ModelError

# owner/name, as the Hub spells repository ids (letters, digits, '-', '_', '.'; no '..', no leading '.').
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# What a model needs, and nothing else: no pickle weights (pytorch_model.bin), ONNX, GGUF or TF/Flax copies, and
# no second copy of the weights (Mistral's consolidated.safetensors beside its shards).
ROOT_FILES = ("*.json", "*.txt", "*.model", "tokenizer*", "*.jinja", "README.md")
WEIGHTS_INDEX = "model.safetensors.index.json"


def _wanted(name: str, siblings: dict[str, int]) -> bool:
    """Whether a repository file is part of the model: root config/tokenizer files, the weights transformers
    loads (the shards the index lists, else model.safetensors, else any root .safetensors), and the JSON of
    sentence-transformers' module folders (1_Pooling/config.json ...)."""
    import fnmatch

    if "/" in name:
        folder = name.split("/", 1)[0]
        return folder[:1].isdigit() and "_" in folder and name.endswith(".json")
    if name.endswith(".safetensors"):
        if WEIGHTS_INDEX in siblings:
            return "-of-" in name  # the index's shards: model-00001-of-00004.safetensors
        return name == "model.safetensors" or "model.safetensors" not in siblings
    return any(fnmatch.fnmatch(name, pattern) for pattern in ROOT_FILES)


@dataclass(frozen=True)
class CachedModel:
    """A model snapshot in the local Hugging Face cache."""

    hub_id: str
    path: Path  # the snapshot folder (config.json, tokenizer, weights)
    revision: str  # the snapshot's commit hash
    size_bytes: int


def is_hub_id(text: str) -> bool:
    """Whether ``text`` is spelled like a Hub id (owner/name). A folder of that name on disk wins over the Hub."""
    return bool(_HUB_ID.match(text)) and ".." not in text


def hub_cache() -> Path:
    """The cache folder huggingface_hub uses now (HF_HUB_CACHE, HF_HOME, or the default)."""
    import os

    from huggingface_hub import constants

    # Read the environment each time: constants are fixed at import, a test or a notebook may set it later.
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path(constants.HF_HUB_CACHE)


def cached_snapshot(hub_id: str, revision: str | None = None) -> CachedModel | None:
    """The cached snapshot of ``hub_id`` (``revision``, or the one its ``main`` ref names), or None; never touches
    the network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(hub_id, revision=revision, cache_dir=hub_cache(), local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    if not (path / "config.json").exists():
        return None
    return CachedModel(hub_id, path, path.name, _folder_size(path))


def cached_models() -> list[CachedModel]:
    """Every model in the local Hugging Face cache that has a config.json (usable or not: resolving says why)."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(hub_cache())
    except (CacheNotFound, OSError, ValueError):
        return []
    found = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id.lower()):
        if repo.repo_type != "model":
            continue
        snapshot = cached_snapshot(repo.repo_id)
        if snapshot is not None:
            found.append(snapshot)
    return found


def _folder_size(path: Path) -> int:
    # Snapshot files are links into blobs/: count what they point to, once each.
    seen, total = set(), 0
    for file in path.rglob("*"):
        if file.is_file():
            target = file.resolve()
            if target not in seen:
                seen.add(target)
                total += target.stat().st_size
    return total


# -- downloading, only when asked ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DownloadPlan:
    """What ``download`` would fetch: the files, their total size, and the revision."""

    hub_id: str
    revision: str
    files: tuple[str, ...]
    sizes: tuple[int, ...]  # bytes of each file, in the order of ``files``

    @property
    def size_bytes(self) -> int:
        return sum(self.sizes)


def _network_error(hub_id: str, exc: Exception) -> ModelError:
    if type(exc).__name__ == "OfflineModeIsEnabled":
        return ModelError(f"cannot fetch {hub_id!r}: HF_HUB_OFFLINE=1 is set in this environment, which forbids "
                          "the Hugging Face Hub; unset it to download, or copy the model folder here.")
    return ModelError(f"could not reach the Hugging Face Hub to fetch {hub_id!r} ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:200] if str(exc) else 'no answer'}). Check the network or proxy "
                      "(HF_ENDPOINT), or download it on a machine that has one and copy the model folder here.")


def plan_download(hub_id: str) -> DownloadPlan:
    """Ask the Hub which files the model needs and how large they are (no weights are fetched)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    if not is_hub_id(hub_id):
        raise ModelError(f"{hub_id!r} is not a Hugging Face Hub id; write it as owner/name, e.g. "
                         "BAAI/bge-small-en-v1.5.")
    try:
        info = HfApi().model_info(hub_id, files_metadata=True)
    except RepositoryNotFoundError:
        raise ModelError(f"the Hugging Face Hub has no model {hub_id!r} (or it is private: log in with "
                         "`hf auth login`); check the spelling.") from None
    except GatedRepoError:
        raise ModelError(f"{hub_id!r} is gated: accept its terms on huggingface.co and log in with "
                         "`hf auth login`, then try again.") from None
    except Exception as exc:  # noqa: BLE001 - HTTP, proxy and connection errors (httpx's are not OSErrors)
        raise _network_error(hub_id, exc) from None
    siblings = {s.rfilename: s.size or 0 for s in info.siblings or []}
    files = sorted(name for name in siblings if _wanted(name, siblings))
    if "config.json" not in files:
        raise ModelError(f"{hub_id!r} has no config.json: it is not a transformers model TransferLab can load.")
    if not any(name.endswith(".safetensors") for name in files):
        raise ModelError(f"{hub_id!r} has no .safetensors weights; only safetensors are loaded, because pickle "
                         "weights can run code. Pick a model that publishes safetensors.")
    return DownloadPlan(hub_id, info.sha or "main", tuple(files), tuple(siblings[name] for name in files))


def download(plan: DownloadPlan, progress: Callable[[str, int, int], None] | None = None) -> CachedModel:
    """Fetch the planned files into the Hugging Face cache, config.json first (a model needing its own code is
    refused before any weights arrive); ``progress(file, bytes_done, bytes_total)`` after each file."""
    from huggingface_hub import hf_hub_download

    from .architectures import read_architecture

    done = 0
    order = ["config.json", *(name for name in plan.files if name != "config.json")]
    sizes = dict(zip(plan.files, plan.sizes))
    for index, name in enumerate(order):
        try:
            # By the branch name, not the planned commit: only a branch download writes refs/main, which is how
            # the cache finds the model afterwards (offline, by its id alone).
            path = hf_hub_download(plan.hub_id, name, revision="main", cache_dir=hub_cache())
        except Exception as exc:  # noqa: BLE001 - as in plan_download
            raise _network_error(plan.hub_id, exc) from None
        if index == 0:
            read_architecture(Path(path).parent)  # ModelError for remote code, before the weights
        done += sizes.get(name, 0)
        if progress:
            progress(name, done, plan.size_bytes)
    snapshot = cached_snapshot(plan.hub_id)
    if snapshot is None:
        raise ModelError(f"{plan.hub_id!r} was downloaded but its snapshot is not in the cache at {hub_cache()}; "
                         "check that the folder is writable and has space, then try again.")
    return snapshot

