"""Zero-shot: no labeled example is used.

- encoder: cosine similarity of the text's embedding to each label's vector: its name, or a description
  the user wrote, refined on the training texts without their labels (tlcore.methods.label_vectors).
- decoder: by default "channel" scoring, the log-likelihood of the text after a request for each
  label ("Write a text that is <label>.", see tlcore.engine.channel_scoring); or "direct" scoring, the
  log-likelihood of each label as the answer to an instruction prompt.

Either way the scores are calibrated (tlcore.methods.score_offsets): raw scores favour some labels whatever the
text, so one offset per label is taken from the run's test texts, labels unseen. By default ("auto") the
offsets make the average predicted probability of each label equal its class frequency, measured from the
label counts of the validation split, never its texts.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.architectures import Architecture
from ..engine.callbacks import Callback
from ..engine.channel_scoring import DEFAULT_CHANNEL_PROMPT, ChannelScorer
from ..engine.decoder_scoring import DEFAULT_INSTRUCTION, Demonstration, LabelScorer
from ..engine.encoders import embed
from ..engine.sentence_config import read_sentence_config
from .base import FlopEstimate, Method, MethodConfig, Workload, missing_head, option, register_method
from .export_snippets import CLASS_VECTOR_BODY, channel_snippet, decoder_snippet, encoder_snippet
from .label_vectors import MAX_POOL, refine_label_vectors, worth_refining
from .score_offsets import MODES, calibration_offsets, resolve_calibration, saved_mode, saved_offsets, softmax

ENCODER, DECODER = ("encoder",), ("decoder",)  # options only one kind of model uses


@dataclass
class PromptScoringConfig(MethodConfig):
    """The options zero-shot and few-shot share."""

    label_descriptions: dict = option({}, "Optional text per label used instead of its name, e.g. "
                                          "{'ABBR': 'abbreviation'}.")
    scoring: str = option("channel", "Decoder: channel (how likely the text is after a request for each label; "
                                     "much better for small models) or direct (how likely each label is as the "
                                     "answer to the instruction).", choices=("channel", "direct"),
                          model_kinds=DECODER)
    channel_prompt: str = option(DEFAULT_CHANNEL_PROMPT, "Decoder, channel scoring: the request the text answers; "
                                                         "{label} is replaced by each label (or its description).",
                                 model_kinds=DECODER)
    instruction: str = option(DEFAULT_INSTRUCTION, "Decoder, direct scoring: the prompt; {labels} is replaced by "
                                                   "the label list.", model_kinds=DECODER)
    calibration: str = option("auto", "Score calibration, one offset per label from the test texts: match (the "
                                      "average probability of each label equals its class frequency in the "
                                      "labeled rows), prior (subtract each label's mean score, add the log "
                                      "class frequency), batch (subtract the mean; assumes balanced classes), "
                                      "contextual (subtract the score of 'N/A'), none, or auto (match when the "
                                      "class frequencies are known, else batch).", choices=MODES)
    temperature: float = option(0.05, "Encoder: softmax temperature over cosine similarities.", min=1e-4, max=10.0,
                                model_kinds=ENCODER)
    max_length: int = option(256, "Tokens per text; longer texts are cut.", min=8, max=4096)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_template("instruction", self.instruction, "labels", "the label names are inserted")
        _check_template("channel prompt", self.channel_prompt, "label", "each label (or its description) goes")


@dataclass
class ZeroShotConfig(PromptScoringConfig):
    refine_rounds: int = option(3, "Encoder: rounds that move each label's vector towards the training texts most "
                                   "like it (their labels are never read; skipped with fewer than 8 per label); 0 "
                                   "uses the label texts alone.", min=0, max=20, model_kinds=ENCODER)


def _check_template(name: str, template: str, field: str, where: str) -> None:
    from ..errors import ConfigError

    if "{" + field + "}" not in template:
        raise ConfigError(f"the {name} must contain {{{field}}}, where {where}.")
    try:  # a stray {0} or {name} would otherwise fail only when the run starts
        template.format(**{field: ""})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"the {name} may use only {{{field}}} in braces ({type(exc).__name__}: {exc}); "
                          "write a literal brace as {{ or }}.") from None


# What runs saved before these options existed did, whatever today's default is: direct scoring, no refinement.
BEFORE_OPTION = {"scoring": "direct", "refine_rounds": 0}


def options_ran_with(state: dict) -> dict:
    """Every option a saved zero- or few-shot run (its method_state.json) ran with, defaults included: its saved
    config, plus what it did for options added since (BEFORE_OPTION), so reloading or repeating it keeps its
    predictions."""
    return {**BEFORE_OPTION, **state.get("config", {})}


def saved_options(artifacts: Path) -> dict:
    """``options_ran_with`` for a run's artifacts folder; {} for other methods."""
    path = artifacts / "method_state.json"
    if not path.exists():
        return {}
    return options_ran_with(json.loads(path.read_text(encoding="utf-8")))


def saved_scoring(artifacts: Path) -> str:
    """How a saved decoder run scores: "channel", or "direct" for runs saved before channel scoring existed."""
    return str(saved_options(artifacts).get("scoring", BEFORE_OPTION["scoring"]))


def saved_refine_rounds(artifacts: Path) -> int:
    """How many rounds a saved encoder zero-shot run refined its label vectors (0 before refinement existed)."""
    return int(saved_options(artifacts).get("refine_rounds", BEFORE_OPTION["refine_rounds"]))


class PromptScoring(Method):
    """Shared by zero-shot and few-shot: encoder similarity or decoder label scoring."""

    required_artifacts = ("method_state.json",)
    encoder_snippet_body: list[str] = CLASS_VECTOR_BODY  # how an export's snippet builds the class vectors

    def _label_texts(self) -> dict[str, str]:
        descriptions = getattr(self.config, "label_descriptions", {}) or {}
        return {label: str(descriptions.get(label, label)) for label in self.labels}

    def _demonstrations(self) -> list[Demonstration]:
        return []

    def _setup_decoder(self) -> None:
        shared = {"demonstrations": self._demonstrations(), "max_text_tokens": self.config.max_length,
                  "label_texts": self._label_texts()}
        if self.config.scoring == "channel":
            self.scorer = ChannelScorer(str(self.folder), self.labels, self.device, prompt=self.config.channel_prompt,
                                        **shared)
        else:
            self.scorer = LabelScorer(str(self.folder), self.labels, self.device, instruction=self.config.instruction,
                                      **shared)
        self.calibration_offsets: list[float] | None = getattr(self, "calibration_offsets", None)

    def _decoder_proba(self, texts: Sequence[str], callback: Callback | None) -> np.ndarray:
        progress = (lambda d, t: callback.on_progress("scoring", d, t)) if callback else None
        scores = self.scorer.score(texts, progress=progress, should_stop=callback.should_stop if callback else None)
        return self._calibrated_proba(scores, lambda: self.scorer.content_free_scores())

    def _embed(self, texts: Sequence[str], progress=None) -> np.ndarray:
        self.embedding = read_sentence_config(self.folder).to_dict()  # the recipe the run records (metrics.json)
        return embed(texts, str(self.folder), self.device, max_length=self.config.max_length, progress=progress)

    def _encoder_proba(self, texts: Sequence[str], callback: Callback | None, class_vectors: np.ndarray) -> np.ndarray:
        progress = (lambda d, t: callback.on_progress("encoding", d, t)) if callback else None
        vectors = self._embed(texts, progress)

        def content_free() -> np.ndarray:
            return embed(["N/A"], str(self.folder), self.device)[0] @ class_vectors.T / self.config.temperature

        return self._calibrated_proba(vectors @ class_vectors.T / self.config.temperature, content_free)

    def _calibrated_proba(self, scores: np.ndarray, content_free) -> np.ndarray:
        """Scores (texts x labels, log-probability-like) → probabilities, calibrated as the config says.

        Both model kinds share it: a cosine-similarity classifier is as biased towards some label names as a
        small LM is (minilm zero-shot on SMS spam: 68 % uncalibrated, 83 % with the prior). The offsets are
        taken once, from the first texts scored (the run's test split, labels unseen), and stored with the
        run: afterwards each text is labelled on its own, so a row's label never depends on the other rows
        of a file.
        """
        if getattr(self, "calibration_offsets", None) is None:
            mode = resolve_calibration(self.config.calibration, getattr(self, "class_prior", None))
            self.calibration_offsets = calibration_offsets(mode, scores, getattr(self, "class_prior", None),
                                                           content_free).tolist()
        return softmax(np.asarray(scores, dtype=float) + np.asarray(self.calibration_offsets))

    def _record_prior(self, train: LabeledData, val: LabeledData | None = None) -> None:
        """Class frequencies (label counts only, never texts), for prior-corrected calibration.

        The validation split is a stratified sample of the data taken before any per-class sampling,
        so it keeps the real class balance that a balanced training sample hides; use it when it has rows.
        """
        source = val if val is not None and len(val) >= 2 * len(self.labels) else train
        self.class_prior = label_frequencies(source, self.labels)

    def _state(self) -> dict:
        state = {"calibration_offsets": getattr(self, "calibration_offsets", None),
                 "class_prior": getattr(self, "class_prior", None)}
        if isinstance(getattr(self, "scorer", None), ChannelScorer):  # the exact prompts, for the export
            state["channel_prompts"] = {label: self.scorer.render_prompt(label) for label in self.labels}
        return state

    def save(self, folder: Path) -> None:
        self._write_json(folder / "method_state.json", {**self._state(), "config": self.config.to_dict()})

    def load(self, folder: Path) -> None:
        state = json.loads((folder / "method_state.json").read_text())
        ran_with = options_ran_with(state)  # the run's own, whatever today's defaults are
        self.config.scoring = ran_with["scoring"]
        if hasattr(self.config, "refine_rounds"):
            self.config.refine_rounds = ran_with["refine_rounds"]
        self._restore(state)

    def _restore(self, state: dict) -> None:
        self.class_prior = state.get("class_prior")
        self.calibration_offsets = saved_offsets(state, self.config.calibration)

    @classmethod
    def options_ran_with(cls, artifacts: Path) -> dict:
        return saved_options(artifacts)

    @classmethod
    def check_model(cls, architecture: Architecture, kind: str) -> None:
        # A decoder scores text with its language-modelling head; an encoder embeds with the bare model.
        head = "causal-lm" if kind == "decoder" else "base"
        if architecture.head_class(head) is None:
            needed = ("a language-modelling head to score labels" if kind == "decoder" else
                      "the bare model to embed texts")
            raise missing_head(cls.name, architecture, head, needed,
                               "Pick a model of a family transformers can load with AutoModelForCausalLM (decoders) "
                               "or AutoModel (encoders).")

    @classmethod
    def encoded_training_texts(cls, work: Workload, options: dict) -> int:
        """Training texts the encoder reads while fitting (none: a prompt method learns no weights)."""
        return 0

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        flops_per_token = 2 * work.compute_params  # one forward pass
        if work.model_kind == "decoder":
            shots, n_labels, tokens = int(options.get("shots", 0) or 0), work.n_labels, work.tokens
            if options.get("scoring", "channel") == "channel":
                # each label's prompt (with every shot) once, then each text after each label
                return FlopEstimate(flops_per_token * n_labels * (shots * n_labels * (tokens + 12) + 12),
                                    flops_per_token * tokens * n_labels * work.n_test,
                                    "2 x params x text tokens x labels per test text")
            # Each query re-reads the shared prompt through attention; its weights cost is the query's tokens.
            return FlopEstimate(flops_per_token * shots * n_labels * (tokens + 8),
                                flops_per_token * (tokens + 12) * work.n_test,
                                "2 x params x (query + label tokens) per test text")
        return FlopEstimate(flops_per_token * work.tokens * cls.encoded_training_texts(work, options),
                            flops_per_token * work.tokens * work.n_test,
                            "2 x params x tokens per text (one forward pass)")

    @classmethod
    def export_spec(cls, artifacts: Path, spec: dict) -> dict:
        state = json.loads((artifacts / "method_state.json").read_text(encoding="utf-8"))
        options, labels = state.get("config", {}), spec["labels"]
        descriptions = options.get("label_descriptions") or {}
        label_texts = {label: str(descriptions.get(label, label)) for label in labels}
        instruction = options.get("instruction", DEFAULT_INSTRUCTION)
        spec.update({"options": options, "label_texts": label_texts, "max_length": options.get("max_length", 256)})
        mode = options.get("calibration", "auto")
        spec.update({"calibration": saved_mode(state, mode),
                     "calibration_offsets": saved_offsets(state, mode), "class_prior": state.get("class_prior")})
        if state.get("label_vectors") is not None:  # zero-shot label vectors refined on the training texts
            spec["class_vectors"] = state["label_vectors"]
        if spec["model_kind"] == "encoder":
            spec.update({"temperature": options.get("temperature", 0.05),
                         "embedding": "mean of the last hidden states over non-padding tokens, L2-normalised",
                         "scoring": "cosine(text, class vector) / temperature, calibrated, then softmax; class "
                                    "vector = class_vectors (zero-shot: the label texts' embeddings refined on the "
                                    "training texts) or the normalised mean of the shots' embeddings (few-shot)"})
        elif saved_scoring(artifacts) == "channel":
            spec.update({"channel_prompts": state["channel_prompts"],
                         "scoring": "channel: sum of the log-probabilities of the text's tokens (cut to max_length) "
                                    "after each label's prompt in channel_prompts, calibrated, then softmax"})
        else:
            spec.update({"system_prompt": instruction.format(labels=", ".join(label_texts[label] for label in labels)),
                         "scoring": "sum of the log-probabilities of each label text (+ end-of-turn token) after "
                                    "the chat prompt, calibrated, then softmax"})
        if "shots" in state:
            spec["shots"] = state["shots"]
        return spec

    @classmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        if model_kind == "decoder":
            scoring = saved_scoring(artifacts)
            return channel_snippet(base, bundled) if scoring == "channel" else decoder_snippet(base, bundled)
        return encoder_snippet(cls.encoder_snippet_body, base, bundled)


def label_frequencies(data: LabeledData, labels: Sequence[str]) -> list[float]:
    """How often each label occurs in ``data``, add-one smoothed so no class has probability zero."""
    counts = np.array([data.labels.count(label) for label in labels], dtype=float) + 1.0
    return (counts / counts.sum()).tolist()


class ZeroShot(PromptScoring):
    description = ("Uses no labeled examples: the encoder compares each text with the label names (or your "
                   "descriptions), tuned on the training texts without their labels; the decoder scores how "
                   "likely the text is as the answer to a request for each label.")
    when_to_use = "Prefer it when you have no labels yet, or as the floor every other method must beat."
    kinds = ("encoder", "decoder")
    family = "zero-shot"
    in_portfolio = True

    @classmethod
    def encoded_training_texts(cls, work: Workload, options: dict) -> int:
        # The label vectors are refined on (up to MAX_POOL) training texts, when there are enough of them.
        if options.get("refine_rounds") and worth_refining(min(work.n_train, MAX_POOL), work.n_labels):
            return min(work.n_train, MAX_POOL)
        return 0

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self._record_prior(train, val)
        if self.model_spec.kind == "decoder":
            self._setup_decoder()
            return
        self.label_vectors = self._label_text_vectors()
        if self.config.refine_rounds and worth_refining(min(len(train), MAX_POOL), len(self.labels)):
            self.label_vectors = self._refined(self.label_vectors, train, callback)

    def _label_text_vectors(self) -> np.ndarray:
        """Each label's text (name or description) embedded at embed's own length, as runs always did."""
        texts = self._label_texts()
        return embed([texts[label] for label in self.labels], str(self.folder), self.device)

    def _refined(self, label_vectors: np.ndarray, train: LabeledData, callback: Callback) -> np.ndarray:
        """The label vectors moved towards the training texts (tlcore.methods.label_vectors); labels are never read,
        only their counts, which say how often each label occurs among those texts."""
        rows = np.arange(len(train))
        if len(rows) > MAX_POOL:
            rows = np.sort(np.random.default_rng(self.config.seed).choice(rows, MAX_POOL, replace=False))
        pool = LabeledData([train.texts[i] for i in rows], [train.labels[i] for i in rows])
        progress = (lambda d, t: callback.on_progress("encoding training texts", d, t)) if callback else None
        vectors = self._embed(pool.texts, progress)
        return refine_label_vectors(label_vectors, vectors, label_frequencies(pool, self.labels),
                                    self.config.temperature, self.config.refine_rounds)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        if self.model_spec.kind == "decoder":
            return self._decoder_proba(texts, callback)
        return self._encoder_proba(texts, callback, self.label_vectors)

    def _state(self) -> dict:
        state = super()._state()
        if self.model_spec.kind == "encoder":  # refined on training texts: they cannot be recomputed from the config
            state["label_vectors"] = np.asarray(self.label_vectors).tolist()
        return state

    def _restore(self, state: dict) -> None:
        if self.model_spec.kind == "decoder":
            self._setup_decoder()
        elif state.get("label_vectors") is not None:
            self.label_vectors = np.asarray(state["label_vectors"], dtype=float)
        else:  # saved before refinement existed: the label texts alone
            self.label_vectors = self._label_text_vectors()
        super()._restore(state)


register_method(name="zero-shot", config_cls=ZeroShotConfig, method_cls=ZeroShot)
