"""Few-shot: K labeled examples per class, no gradient steps.

- decoder: the examples are placed in the prompt as earlier chat turns (in-context learning),
  then labels are scored as in zero-shot, with the same calibration.
- encoder: class prototypes, the mean embedding of each class's K examples (by default every training
  row: a prototype costs one forward pass per row, and more rows make a better mean); a text goes to the
  nearest prototype by cosine similarity.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.callbacks import Callback
from ..engine.decoder_scoring import Demonstration
from ..errors import DatasetError
from .base import FlopEstimate, Workload, option, register_method
from .export_snippets import PROTOTYPE_BODY
from .zero_shot import PromptScoring, PromptScoringConfig

# K when shots is 0 ("auto"): a decoder's prompt grows with K (its cost too), an encoder's prototype does not.
DECODER_SHOTS = 4
# What few-shot runs saved before "auto" existed used, whatever model: 4 per class.
SHOTS_BEFORE_AUTO = 4


@dataclass
class FewShotConfig(PromptScoringConfig):
    shots: int = option(0, "Labeled examples per class (K) put in the prompt or averaged into a prototype; 0 (auto): "
                           "every training row for an encoder, 4 per class for a decoder (its prompt grows with K).",
                        min=0, max=64)


def resolve_shots(shots: int | None, model_kind: str) -> int | None:
    """Examples per class a run takes: the configured K, or for 0 every row (None) on an encoder, DECODER_SHOTS on a
    decoder."""
    if shots:
        return int(shots)
    return DECODER_SHOTS if model_kind == "decoder" else None


class FewShot(PromptScoring):
    description = ("Uses K labeled examples per class without training: the decoder sees them in its prompt; the "
                   "encoder averages them into one prototype per class.")
    when_to_use = ("Prefer it when you have only a handful of labeled rows per class, or to see what examples alone"
                   " buy over zero-shot.")
    kinds = ("encoder", "decoder")
    family = "few-shot"
    in_portfolio = True
    encoder_snippet_body = PROTOTYPE_BODY

    @classmethod
    def check_data(cls, class_counts: dict[str, int], options: dict) -> None:
        shots = options.get("shots")
        if not shots:  # auto: an encoder takes every row, a decoder up to DECODER_SHOTS (fewer when a class is short)
            return
        short = {label: n for label, n in class_counts.items() if n < shots}
        if short:
            raise DatasetError(f"few-shot needs {shots} training examples per class, but these classes have "
                               f"fewer training rows: {short}; lower --shots or add rows.")

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self._record_prior(train, val)
        rng = np.random.default_rng(self.config.seed)
        chosen: list[int] = []
        for label in self.labels:
            rows = [i for i, y in enumerate(train.labels) if y == label]
            if not rows:
                raise DatasetError(f"class {label!r} has no training rows to take few-shot examples from.")
            chosen.extend(int(i) for i in rng.permutation(rows)[: resolve_shots(self.config.shots,
                                                                                 self.model_spec.kind)])
        chosen = [int(i) for i in rng.permutation(chosen)]  # interleave classes in the prompt
        self.shots = [Demonstration(train.texts[i], train.labels[i]) for i in chosen]
        self._prepare()

    @classmethod
    def options_ran_with(cls, artifacts: Path) -> dict:
        options = super().options_ran_with(artifacts)
        if options and "shots" not in options:  # saved before its config was stored: K was 4
            options["shots"] = SHOTS_BEFORE_AUTO
        return options

    @classmethod
    def encoded_training_texts(cls, work: Workload, options: dict) -> int:
        shots = resolve_shots(options.get("shots"), work.model_kind)
        return work.n_train if shots is None else min(work.n_train, shots * work.n_labels)

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        return super().estimate_flops(work, {**options, "shots": resolve_shots(options.get("shots"), work.model_kind)})

    def _demonstrations(self) -> list[Demonstration]:
        return self.shots

    def _prepare(self) -> None:
        if self.model_spec.kind == "decoder":
            self._setup_decoder()
            return
        vectors = self._embed([d.text for d in self.shots])
        prototypes = np.stack([vectors[[d.label == label for d in self.shots]].mean(axis=0) for label in self.labels])
        self.prototypes = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        if self.model_spec.kind == "decoder":
            return self._decoder_proba(texts, callback)
        return self._encoder_proba(texts, callback, self.prototypes)

    def _state(self) -> dict:
        state = {**super()._state(), "shots": [{"text": d.text, "label": d.label} for d in self.shots]}
        if self.model_spec.kind == "encoder":  # every training row by default: reloading need not embed them again
            state["prototypes"] = np.asarray(self.prototypes).tolist()
        return state

    def _restore(self, state: dict) -> None:
        self.shots = [Demonstration(d["text"], d["label"]) for d in state["shots"]]
        if self.model_spec.kind == "encoder" and state.get("prototypes") is not None:
            self.prototypes = np.asarray(state["prototypes"], dtype=np.float32)  # as computed: exact
        else:  # a decoder, or an encoder run saved before prototypes were stored
            self._prepare()
        super()._restore(state)


register_method(name="few-shot", config_cls=FewShotConfig, method_cls=FewShot)
