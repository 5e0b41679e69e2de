"""Every base model this machine can use, for the model picker and ``tlcore models``: the bundled ones, models
adapted to the user's texts, models in the local Hugging Face cache, and folders used recently.

Listing reads config.json files and safetensors headers only: no weights load, nothing touches the network.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ModelError
from .models import BUNDLED, ModelSpec, adapted_models, cache_dir, folder_spec

RECENT_FILE = "recent_models.json"
RECENT_MAX = 10


def list_models(include_local: bool = True) -> list[ModelSpec]:
    """Bundled models first, then (``include_local``) adapted models, Hugging Face cache models and recent folders;
    a model found twice is listed once. Cached or recent models that cannot be loaded are left out (resolving one by
    name says why)."""
    specs = list(BUNDLED.values())
    if not include_local:
        return specs
    specs += adapted_models()
    specs += hub_cache_models()
    specs += recent_folders()
    seen, unique = set(), []
    for spec in specs:
        key = spec.path or spec.name
        if key not in seen:
            seen.add(key)
            unique.append(spec)
    return unique


def hub_cache_models() -> list[ModelSpec]:
    """Models in the local Hugging Face cache that TransferLab can load (config.json and safetensors)."""
    from dataclasses import replace

    from .hub import cached_models

    found = []
    for cached in cached_models():
        try:
            spec = folder_spec(cached.path, source="hub-cache", name=cached.hub_id)
        except ModelError:
            continue
        found.append(replace(spec, hub_id=cached.hub_id, revision=cached.revision, size_bytes=cached.size_bytes))
    return found


def _recent_path() -> Path:
    return cache_dir() / RECENT_FILE


def recent_folders() -> list[ModelSpec]:
    """Model folders used for a run recently (newest first) that still exist and load."""
    try:
        entries = json.loads(_recent_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    found = []
    for entry in entries if isinstance(entries, list) else []:
        try:
            found.append(folder_spec(Path(str(entry.get("path", "")))))
        except (ModelError, OSError, AttributeError):
            continue
    return found


def remember_folder(spec: ModelSpec) -> None:
    """Put a folder model at the top of the recent list (the picker offers it next time). Bundled, cached and
    adapted models are listed anyway and are not recorded."""
    if spec.source != "folder" or not spec.path:
        return
    from filelock import FileLock

    path = _recent_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=5):
            try:
                entries = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                entries = []
            entries = [e for e in entries if isinstance(e, dict) and e.get("path") != spec.path]
            entries.insert(0, {"path": spec.path, "used": time.time()})
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(entries[:RECENT_MAX], indent=1), encoding="utf-8")
            tmp.replace(path)
    except OSError:
        pass  # a read-only cache folder: the picker just will not remember it


def describe(spec: ModelSpec) -> dict:
    """One row of ``tlcore models --json`` and of the picker: what the model is, where from, how big."""
    from .models import is_available

    return {**spec.to_dict(), "available_offline": is_available(spec),
            "size_mb": round(spec.size_bytes / 2**20, 1) if spec.size_bytes else None}


def fetch_model(hub_id: str, progress=None) -> ModelSpec:
    """The model ``hub_id`` from the local Hugging Face cache, downloading it first when it is not there (the caller
    decided downloading is wanted). ``progress(message)`` hears the size before anything large is fetched, then each
    file."""
    from .hub import cached_snapshot, download, is_hub_id, plan_download
    from .models import resolve_model

    if not is_hub_id(hub_id) or Path(hub_id).expanduser().exists():
        return resolve_model(hub_id)  # a bundled name, an adapted model or a folder: nothing to download
    if cached_snapshot(hub_id) is None:
        plan = plan_download(hub_id)
        if progress:
            progress(f"Downloading {hub_id} ({len(plan.files)} files, {plan.size_bytes / 2**20:,.1f} MB) into the "
                     "Hugging Face cache")
        download(plan, (lambda name, done, total: progress(f"  {name}: {done / 2**20:,.1f} of {total / 2**20:,.1f} "
                                                           "MB")) if progress else None)
    return resolve_model(hub_id)
