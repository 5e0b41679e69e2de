"""How a model folder turns token states into one sentence vector: its sentence-transformers configuration.

A sentence-transformers folder (``modules.json``) says how its encoder was trained to be used: the pooling (the CLS
token, the mean, the last token, ...), whether vectors are L2-normalised, the prompt put before each text
("query: "), where texts are cut and whether they are lower-cased. Mean-pooling such a model anyway gives silently
wrong vectors, so ``tlcore.engine.encoders`` follows this recipe. A plain transformers folder keeps mean pooling
and L2 normalisation (how all-MiniLM-L6-v2 and most sentence encoders are used).

The usual pipeline, Transformer -> Pooling -> (Normalize), is reproduced by the encoders module itself: no
sentence-transformers import, the same tokenizer and batching as everything else. Any other module of
sentence-transformers (Dense, LayerNorm, Router, static embeddings, ...) is left to ``SentenceTransformer`` itself
(``delegate``). A module type from outside sentence-transformers would run code that no installed library vets:
refused, as remote code is.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import ModelError

ST_CONFIG = "sentence-transformers config"
PLAIN = "mean pooling (plain transformers folder)"

# Pooling modes sentence-transformers 6 knows, in the order its legacy boolean keys concatenate them.
_LEGACY_MODES = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                 "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                 "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
POOLING_MODES = tuple(_LEGACY_MODES.values())
_MODE_NAMES = {"cls": "CLS token", "max": "max", "mean": "mean", "mean_sqrt_len_tokens": "mean x sqrt(length)",
               "weightedmean": "position-weighted mean", "lasttoken": "last token"}
# The Transformer module's settings that change what it feeds the pooling, with the values we reproduce.
_TRANSFORMER_PLAIN = {"transformer_task": (None, "feature-extraction"),
                      "module_output_name": (None, "token_embeddings"),
                      "processing_kwargs": (None, {}), "query_expansion": (None,)}


@dataclass(frozen=True)
class SentenceConfig:
    """The recipe of a folder's sentence vectors; ``encoders.embed`` follows it."""

    pooling: str = "mean"  # one of POOLING_MODES, or several joined by "+" (concatenated, as sentence-transformers)
    normalize: bool = True  # L2-normalise the pooled vector
    prompt: str = ""  # put before every text ("" = none)
    prompt_name: str | None = None  # its name in the folder's prompts
    max_length: int | None = None  # where the folder cuts texts (tokens); callers may ask for fewer
    lower_case: bool = False  # sentence_bert_config's do_lower_case
    include_prompt: bool = True  # False: the prompt's tokens are left out of the pooling (INSTRUCTOR-style)
    transformer_path: str = ""  # the transformers model inside the folder ("" = the folder itself)
    source: str = PLAIN
    delegate: bool = False  # modules we do not reproduce: SentenceTransformer itself encodes
    modules: tuple[str, ...] = field(default=())  # the module class names, for messages and the record

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.pooling.split("+"))

    def length(self, asked: int) -> int:
        """Tokens per text: what the caller asks, never more than the folder's own cut."""
        return min(asked, self.max_length) if self.max_length else asked

    @property
    def key(self) -> str:
        """What changes the vectors besides the folder and the length, for caches; "" for plain mean pooling, so
        caches filled before sentence-transformers configs were read stay valid (their vectors are the same)."""
        if (self.pooling == "mean" and self.normalize and not self.prompt and not self.lower_case
                and self.include_prompt and not self.transformer_path and not self.delegate):
            return ""
        return json.dumps([self.pooling, self.normalize, self.prompt, self.lower_case, self.include_prompt,
                           self.transformer_path, self.delegate, list(self.modules)])

    def describe(self) -> str:
        """One line for people: "CLS token pooling, L2-normalised, prompt 'query: ' (sentence-transformers config)"."""
        if self.delegate:
            parts = ["sentence-transformers modules " + " -> ".join(self.modules)]
        else:
            parts = [" + ".join(_MODE_NAMES.get(m, m) for m in self.modes) + " pooling"]
        parts.append("L2-normalised" if self.normalize else "not normalised")
        if self.prompt:
            parts.append(f"prompt {self.prompt!r}")
        if self.lower_case:
            parts.append("lower-cased")
        return ", ".join(parts) + f" ({self.source})"

    def to_dict(self) -> dict:
        """What a run records: the recipe, and the line people read."""
        values = asdict(self)
        values["modules"] = list(self.modules)
        return {**values, "description": self.describe()}

    @classmethod
    def from_dict(cls, values: dict) -> "SentenceConfig":
        """The recipe a run recorded (``to_dict``); unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        picked = {k: v for k, v in values.items() if k in known}
        return cls(**{**picked, "modules": tuple(picked.get("modules", ()))})


def read_sentence_config(folder: str | Path) -> SentenceConfig:
    """The folder's recipe: from its sentence-transformers files when it has ``modules.json``, else mean pooling.

    Raises ModelError for a folder whose configuration cannot be used as it is meant to be: a module from outside
    sentence-transformers, a cross- or sparse encoder, damaged JSON.
    """
    folder = Path(folder)
    modules_file = folder / "modules.json"
    if not modules_file.is_file():
        return SentenceConfig()
    modules = _read_json(modules_file, folder)
    if not isinstance(modules, list) or not all(isinstance(m, dict) and "type" in m for m in modules):
        raise ModelError(f"modules.json in {str(folder)!r} is not a list of modules with a 'type'; save the model "
                         "again with SentenceTransformer.save(), or delete modules.json to use it with mean pooling.")
    model_config = _read_json(folder / "config_sentence_transformers.json", folder, missing={})
    model_type = model_config.get("model_type")
    if model_type not in (None, "SentenceTransformer"):
        raise ModelError(f"{str(folder)!r} is a sentence-transformers {model_type}, not a sentence embedding model; "
                         "give a SentenceTransformer (bi-encoder) folder or a plain transformers folder.")
    names = []
    for module in modules:
        kind = str(module["type"])
        if not kind.startswith("sentence_transformers."):
            raise ModelError(f"modules.json in {str(folder)!r} names the module {kind!r}, which is not part of "
                             "sentence-transformers: loading it would run code from outside the installed "
                             "libraries, which TransferLab never does. Use a folder whose modules are all "
                             "sentence-transformers' own (or delete modules.json to use mean pooling).")
        names.append(kind.rsplit(".", 1)[-1])
    prompt_name, prompt = _classification_prompt(model_config)
    common = {"prompt": prompt, "prompt_name": prompt_name, "source": ST_CONFIG, "modules": tuple(names),
              # sentence-transformers' similarity is cosine unless the folder says otherwise: unit vectors are the
              # same comparison, and what zero-shot, few-shot and the probe expect.
              "normalize": "Normalize" in names or model_config.get("similarity_fn_name") in (None, "cosine")}

    reproducible = names[:2] == ["Transformer", "Pooling"] and names[2:] in ([], ["Normalize"])
    transformer = _read_json(folder / modules[0].get("path", "") / "sentence_bert_config.json", folder, missing={}) \
        if names and names[0] == "Transformer" else {}
    if reproducible and not _plain_transformer(transformer):
        reproducible = False
    if not reproducible:
        return SentenceConfig(delegate=True, **common)
    pooling = _read_json(folder / modules[1].get("path", "") / "config.json", folder, missing={})
    return SentenceConfig(pooling="+".join(_pooling_modes(pooling, folder)),
                          include_prompt=bool(pooling.get("include_prompt", True)),
                          max_length=_max_length(folder / modules[0].get("path", ""), transformer),
                          lower_case=bool(transformer.get("do_lower_case", False)),
                          transformer_path=str(modules[0].get("path", "")), **common)


def _classification_prompt(model_config: dict) -> tuple[str | None, str]:
    """(name, text) of the prompt a classification embedding uses.

    The folder's default prompt first: it is what ``SentenceTransformer(folder).encode(texts)`` applies, the author's
    choice. Else a prompt named "classification" (nomic, GTE and others name one for this task). Else "query":
    asymmetric retrieval models (E5, BGE) advise the query prompt for symmetric tasks such as classification and
    clustering, and a label name is query-like. Else none. An empty prompt counts as none.
    """
    prompts = {str(k): str(v) for k, v in (model_config.get("prompts") or {}).items() if v}
    default = model_config.get("default_prompt_name")
    if default:
        return (default, prompts[default]) if default in prompts else (None, "")
    for name in ("classification", "query"):
        if name in prompts:
            return name, prompts[name]
    return None, ""


def _plain_transformer(config: dict) -> bool:
    """Does the Transformer module feed the pooling plain last hidden states of text, as we compute them?"""
    for key, allowed in _TRANSFORMER_PLAIN.items():
        if config.get(key) not in allowed:
            return False
    modality = config.get("modality_config")
    return modality is None or (set(modality) == {"text"}
                                and modality["text"].get("method_output_name", "last_hidden_state")
                                == "last_hidden_state")


def _pooling_modes(config: dict, folder: Path) -> tuple[str, ...]:
    mode = config.get("pooling_mode")
    if mode is None:  # sentence-transformers before 6 saved one boolean per mode; none set means mean
        modes = tuple(m for key, m in _LEGACY_MODES.items() if config.get(key)) or ("mean",)
    else:
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
    unknown = [m for m in modes if m not in POOLING_MODES]
    if unknown or not modes:
        raise ModelError(f"the Pooling module of {str(folder)!r} asks for pooling {unknown or modes}, which "
                         f"sentence-transformers does not know (it knows {', '.join(POOLING_MODES)}).")
    return modes


def _max_length(model_folder: Path, transformer: dict) -> int | None:
    """Where sentence-transformers cuts texts: max_seq_length, else the tokenizer's model_max_length capped at the
    model's position embeddings (as its Transformer module does when max_seq_length is not set)."""
    if transformer.get("max_seq_length"):
        return int(transformer["max_seq_length"])
    tokenizer = _read_json(model_folder / "tokenizer_config.json", model_folder, missing={})
    config = _read_json(model_folder / "config.json", model_folder, missing={})
    limits = [int(v) for v in (tokenizer.get("model_max_length"), config.get("max_position_embeddings"))
              if isinstance(v, (int, float)) and 0 < v < 1e9]
    return min(limits) if limits else None


def _read_json(path: Path, folder: Path, missing=None):
    if not path.is_file():
        if missing is not None:
            return missing
        raise ModelError(f"{str(folder)!r} has no {path.name}.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path.name} in {str(folder)!r} is not valid JSON ({exc}); save the model again with "
                         "SentenceTransformer.save().") from None


def write_sentence_config(recipe: SentenceConfig, folder: str | Path, dimension: int, max_length: int) -> None:
    """Save ``recipe`` as the sentence-transformers files of a transformers folder (a fine-tuned body), so that
    ``SentenceTransformer(folder).encode(texts)`` embeds as the run did and ``read_sentence_config`` reads it back.

    The module types are sentence-transformers' legacy names, which every version since 2.0 loads.
    """
    folder = Path(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if recipe.normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(parents=True, exist_ok=True)
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    legacy = tuple(m for m in POOLING_MODES if m in recipe.modes) == recipe.modes
    # The boolean keys every version reads, unless the modes are concatenated in another order (6.x's key).
    pooling = ({"word_embedding_dimension": dimension, **{k: m in recipe.modes for k, m in _LEGACY_MODES.items()}}
               if legacy else {"embedding_dimension": dimension, "pooling_mode": list(recipe.modes)})
    files = {"modules.json": modules,
             "1_Pooling/config.json": {**pooling, "include_prompt": recipe.include_prompt},
             "sentence_bert_config.json": {"max_seq_length": recipe.length(max_length),
                                           "do_lower_case": recipe.lower_case},
             "config_sentence_transformers.json": {"model_type": "SentenceTransformer",
                                                   # read back as "normalise" (cosine) or not (dot product)
                                                   "similarity_fn_name": "cosine" if recipe.normalize else "dot",
                                                   "prompts": {recipe.prompt_name or "query": recipe.prompt}
                                                   if recipe.prompt else {},
                                                   "default_prompt_name": (recipe.prompt_name or "query")
                                                   if recipe.prompt else None}}
    for name, payload in files.items():
        (folder / name).write_text(json.dumps(payload, indent=2), encoding="utf-8")
