"""Where the checks keep their results: JSON files inside the run folder, written atomically.

runs/<run-id>/evaluations/<name>.json   out-of-domain evaluations (one per test file)
runs/<run-id>/checks/<kind>-<key>.json   counterfactual probes, slice reports, token counts

Both the CLI and the app read and write them, so a result computed once is seen everywhere.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Iterable

from ...data import Split
from ...runs.store import Run, write_json_atomic

EVALUATIONS = "evaluations"
CHECKS = "checks"


def slug(name: str, default: str = "evaluation") -> str:
    """A file-name-safe version of ``name`` ("imdb reviews.csv" -> "imdb-reviews")."""
    stem = Path(str(name)).stem if "." in str(name) else str(name)
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:80] or default


def digest(*parts: object) -> str:
    """A short stable key for a combination of inputs (pairs, texts, column, ...)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:12]


def save(run: Run, folder: str, name: str, payload: dict) -> Path:
    path = run.path / folder / f"{name}.json"
    path.parent.mkdir(exist_ok=True)
    write_json_atomic(path, payload)
    return path


def load(run: Run, folder: str, name: str) -> dict | None:
    try:
        return json.loads((run.path / folder / f"{name}.json").read_text())
    except (OSError, ValueError):  # missing, or damaged: recompute rather than fail
        return None


def load_all(run: Run, folder: str, prefix: str = "") -> Iterable[dict]:
    """Every readable result in ``folder`` whose file name starts with ``prefix``, oldest first."""
    directory = run.path / folder
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"{prefix}*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda item: item.get("created", 0.0))


def split_or_none(run: Run) -> Split | None:
    """The run's stored train/val/test split; None when the folder has none (a run brought in by
    `tlcore import` keeps its predictions but not its training data)."""
    if not (run.path / "data" / "train.csv").exists():
        return None
    return run.split()
