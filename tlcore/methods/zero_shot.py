"""Zero-shot: no labeled example is used.

- encoder: cosine similarity of the text's embedding to each label's embedding (its name, or a
  description the user wrote), calibrated like the decoder's scores.
- decoder: by default "channel" scoring, the log-likelihood of the text after a request for each
  label ("Write a text that is <label>.", see tlcore.channel_scoring); or "direct" scoring, the
  log-likelihood of each label as the answer to an instruction prompt.

Either way the scores are calibrated: raw scores of a small LM favour one label, so each label's mean
score over the evaluated texts is subtracted ("batch calibration"), or the score of a content-free
input ("contextual calibration"). Batch calibration assumes balanced classes, so "auto" adds the log
class frequency back ("prior", the Bayes correction for a known class balance), measured from the
label counts of the validation split, never its texts. On balanced classes the two agree; on SMS spam
(87 % ham) the prior took SmolLM2's direct scores from 52 % to 81 %, and on TREC, where ABBR is 2 % of
the questions, MiniLM from 60 % to 68 %. With channel scores, which spread much wider, it still calls
too many SMS texts spam (bench/README.md, "The method table").
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..channel_scoring import DEFAULT_CHANNEL_PROMPT, ChannelScorer
from ..data import LabeledData
from ..encoders import embed
from ..lm_scoring import DEFAULT_INSTRUCTION, Demonstration, LabelScorer, scores_to_proba
from .base import Callback, Method, MethodConfig, option, register_method


@dataclass
class ZeroShotConfig(MethodConfig):
    label_descriptions: dict = option({}, "Optional text per label used instead of its name, e.g. "
                                          "{'ABBR': 'abbreviation'}.")
    scoring: str = option("channel", "Decoder: channel (how likely the text is after a request for each label; "
                                     "much better for small models) or direct (how likely each label is as the "
                                     "answer to the instruction).", choices=("channel", "direct"))
    channel_prompt: str = option(DEFAULT_CHANNEL_PROMPT, "Decoder, channel scoring: the request the text answers; "
                                                         "{label} is replaced by each label (or its description).")
    instruction: str = option(DEFAULT_INSTRUCTION, "Decoder, direct scoring: the prompt; {labels} is replaced by "
                                                   "the label list.")
    calibration: str = option("auto", "Score calibration: batch (subtract each label's mean score; "
                                      "assumes balanced classes), prior (batch, plus the log class frequency of "
                                      "the labeled rows), contextual (subtract the score of 'N/A'), none, or "
                                      "auto (prior when the class frequencies are known, else batch).",
                              choices=("auto", "batch", "prior", "contextual", "none"))
    temperature: float = option(0.05, "Encoder: softmax temperature over cosine similarities.", min=1e-4, max=10.0)
    max_length: int = option(256, "Tokens per text; longer texts are cut.", min=8, max=4096)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_template("instruction", self.instruction, "labels", "the label names are inserted")
        _check_template("channel prompt", self.channel_prompt, "label", "each label (or its description) goes")


def _check_template(name: str, template: str, field: str, where: str) -> None:
    from ..errors import ConfigError

    if "{" + field + "}" not in template:
        raise ConfigError(f"the {name} must contain {{{field}}}, where {where}.")
    try:  # a stray {0} or {name} would otherwise fail only when the run starts
        template.format(**{field: ""})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"the {name} may use only {{{field}}} in braces ({type(exc).__name__}: {exc}); "
                          "write a literal brace as {{ or }}.") from None


def saved_scoring(artifacts: Path) -> str:
    """How a saved zero- or few-shot run scores with a decoder: "channel", or "direct" for runs saved before
    channel scoring existed (their options did not name it)."""
    path = artifacts / "method_state.json"
    if not path.exists():
        return "direct"
    return json.loads(path.read_text(encoding="utf-8")).get("config", {}).get("scoring", "direct")


def resolve_calibration(mode: str, class_prior: list[float] | None) -> str:
    """The calibration "auto" stands for: prior when the class frequencies are known, else batch.

    With balanced classes the prior adds the same constant to every label, so it equals batch; a
    threshold on "how imbalanced" would only decide where that stops being true (an earlier one looked
    at the largest class only and missed TREC's 2 % ABBR class).
    """
    if mode != "auto":
        return mode
    return "batch" if class_prior is None else "prior"


class PromptScoring(Method):
    """Shared by zero-shot and few-shot: encoder similarity or decoder label scoring."""

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
        self.calibration_means: list[float] | None = getattr(self, "calibration_means", None)

    def _decoder_proba(self, texts: Sequence[str], callback: Callback | None) -> np.ndarray:
        progress = (lambda d, t: callback.on_progress("scoring", d, t)) if callback else None
        scores = self.scorer.score(texts, progress=progress, should_stop=callback.should_stop if callback else None)
        return self._calibrated_proba(scores, lambda: self.scorer.content_free_scores())

    def _encoder_proba(self, texts: Sequence[str], callback: Callback | None, class_vectors: np.ndarray) -> np.ndarray:
        progress = (lambda d, t: callback.on_progress("encoding", d, t)) if callback else None
        vectors = embed(texts, str(self.folder), self.device, max_length=self.config.max_length, progress=progress)

        def content_free() -> np.ndarray:
            return embed(["N/A"], str(self.folder), self.device)[0] @ class_vectors.T / self.config.temperature

        return self._calibrated_proba(vectors @ class_vectors.T / self.config.temperature, content_free)

    def _calibrated_proba(self, scores: np.ndarray, content_free) -> np.ndarray:
        """Scores (texts x labels, log-probability-like) → probabilities, calibrated as the config says.

        Both model kinds share it: a cosine-similarity classifier is as biased towards some label names as a
        small LM is (minilm zero-shot on SMS spam: 68 % uncalibrated, 83 % with the prior; few-shot
        prototypes 64 % → 87 %). Batch means are taken once, from the first texts scored (the run's test
        split, labels unseen), and stored with the run: afterwards each text is labelled on its own, so a
        row's label never depends on the other rows of a file.
        """
        mode = resolve_calibration(self.config.calibration, getattr(self, "class_prior", None))
        if mode in ("batch", "prior"):
            if getattr(self, "calibration_means", None) is None:  # the run's own test texts, once
                self.calibration_means = scores.mean(axis=0).tolist()
            scores = scores - np.asarray(self.calibration_means)
            if mode == "prior":
                scores = scores + np.log(np.asarray(self.class_prior))
        elif mode == "contextual":
            if getattr(self, "calibration_means", None) is None:
                self.calibration_means = np.asarray(content_free()).tolist()
            scores = scores - np.asarray(self.calibration_means)
        return scores_to_proba(scores)

    def _record_prior(self, train: LabeledData, val: LabeledData | None = None) -> None:
        """Class frequencies (label counts only, never texts), for prior-corrected calibration.

        The validation split is a stratified sample of the data taken before any per-class sampling,
        so it keeps the real class balance that a balanced training sample hides; use it when it has rows.
        """
        source = val if val is not None and len(val) >= 2 * len(self.labels) else train
        counts = np.array([source.labels.count(label) for label in self.labels], dtype=float) + 1.0
        self.class_prior = (counts / counts.sum()).tolist()

    def _state(self) -> dict:
        state = {"calibration_means": getattr(self, "calibration_means", None),
                 "class_prior": getattr(self, "class_prior", None)}
        if isinstance(getattr(self, "scorer", None), ChannelScorer):  # the exact prompts, for the export
            state["channel_prompts"] = {label: self.scorer.render_prompt(label) for label in self.labels}
        return state

    def save(self, folder: Path) -> None:
        self._write_json(folder / "method_state.json", {**self._state(), "config": self.config.to_dict()})

    def load(self, folder: Path) -> None:
        state = json.loads((folder / "method_state.json").read_text())
        self.config.scoring = saved_scoring(folder)  # the run's own, whatever today's default is
        self._restore(state)

    def _restore(self, state: dict) -> None:
        self.calibration_means = state.get("calibration_means")
        self.class_prior = state.get("class_prior")


class ZeroShot(PromptScoring):
    description = ("Uses no labeled examples: the encoder compares each text with the label names; the decoder "
                   "scores how likely the text is as the answer to a request for each label.")
    when_to_use = "Prefer it when you have no labels yet, or as the floor every other method must beat."
    kinds = ("encoder", "decoder")

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self._record_prior(train, val)
        self._prepare()

    def _prepare(self) -> None:
        if self.model_spec.kind == "decoder":
            self._setup_decoder()
        else:
            texts = self._label_texts()
            self.label_vectors = embed([texts[label] for label in self.labels], str(self.folder), self.device)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        if self.model_spec.kind == "decoder":
            return self._decoder_proba(texts, callback)
        return self._encoder_proba(texts, callback, self.label_vectors)

    def _restore(self, state: dict) -> None:
        self._prepare()
        super()._restore(state)


register_method(name="zero-shot", config_cls=ZeroShotConfig, method_cls=ZeroShot)
