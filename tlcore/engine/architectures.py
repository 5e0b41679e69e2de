"""What a model folder's architecture can do, read from its config.json before any weight loads.

Methods ask it before a run starts (``Method.check_model``): which classes transformers has for the model type
(a sequence classifier, a causal LM, a bare model). A folder that could only run with code of its own (a model
type transformers does not know, or an ``auto_map`` naming classes transformers does not have) is refused here
for every method: loading it would need ``trust_remote_code``, which TransferLab never sets, because that runs
Python from the model folder.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

# The transformers auto-mapping that lists each head's class per model type.
HEADS = {"sequence-classification": "MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES",
         "causal-lm": "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "base": "MODEL_MAPPING_NAMES"}
REMOTE_CODE = ("it would need the model's own Python code (trust_remote_code), which TransferLab never runs "
               "because that executes code from the model folder")


@dataclass(frozen=True)
class Architecture:
    """A model folder's architecture as its config.json states it."""

    folder: str
    model_type: str
    architectures: tuple[str, ...]

    def head_class(self, head: str) -> str | None:
        """The transformers class for ``head`` (a key of HEADS) on this model type; None when it has none."""
        from transformers.models.auto import modeling_auto

        found = getattr(modeling_auto, HEADS[head]).get(self.model_type)
        return found[0] if isinstance(found, (tuple, list)) else found

    @property
    def described(self) -> str:
        """'qwen2 (Qwen2ForCausalLM)': how messages name it."""
        return f"{self.model_type} ({', '.join(self.architectures)})" if self.architectures else self.model_type


def read_architecture(folder: str | Path) -> Architecture:
    """The folder's architecture, or ModelError when it cannot be loaded without running its own code."""
    path = Path(folder)
    return _read(str(path), path.joinpath("config.json").stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _read(folder: str, mtime: int) -> Architecture:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    try:
        config = json.loads(Path(folder, "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"config.json in {folder!r} cannot be read as JSON: {exc}") from None
    model_type = str(config.get("model_type") or "")
    architectures = tuple(config.get("architectures") or ())
    if model_type not in CONFIG_MAPPING_NAMES:
        what = f"its model type {model_type!r}" if model_type else "its config.json names no model_type, so it"
        raise ModelError(f"the model in {folder!r} cannot be used: {what} is not one transformers "
                         f"{transformers.__version__} knows; {REMOTE_CODE}. Pick a model of a family transformers "
                         "supports (Llama, Qwen2, Gemma, Phi-3, Mistral, BERT, ...), or upgrade transformers if the "
                         "family is newer than it.")
    custom = sorted(name for name in architectures if not hasattr(transformers, name))
    if config.get("auto_map") and custom:
        raise ModelError(f"the model in {folder!r} cannot be used: its config.json maps {', '.join(custom)} to code "
                         f"in the model folder (auto_map), and transformers has no such class; {REMOTE_CODE}. "
                         f"Pick a checkpoint of the same family saved with transformers' own {model_type!r} classes.")
    _check_tokenizer(Path(folder))
    return Architecture(folder, model_type, architectures)


def _check_tokenizer(folder: Path) -> None:
    """A tokenizer class that only exists as code in the model folder cannot be loaded either."""
    import transformers

    path = folder / "tokenizer_config.json"
    if not path.exists():
        return
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # the tokenizer's own loading says what is wrong with it
    name = str(config.get("tokenizer_class") or "")
    if config.get("auto_map") and name and not hasattr(transformers, name):
        raise ModelError(f"the tokenizer in {folder!s} cannot be used: tokenizer_config.json names {name}, a class "
                         f"that exists only as code in the model folder (auto_map); {REMOTE_CODE}.")
