"""Few-shot: K labeled examples per class, no gradient steps.

- decoder: the examples are placed in the prompt as earlier chat turns (in-context learning),
  then labels are scored as in zero-shot, with the same calibration.
- encoder: class prototypes, the mean embedding of each class's K examples; a text goes to the
  nearest prototype by cosine similarity.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..errors import DatasetError
from ..engine.decoder_scoring import Demonstration
from ..engine.callbacks import Callback
from .base import option, register_method
from .export_snippets import PROTOTYPE_BODY
from .zero_shot import PromptScoring, PromptScoringConfig


@dataclass
class FewShotConfig(PromptScoringConfig):
    shots: int = option(4, "Labeled examples per class (K) put in the prompt or averaged into a prototype.",
                        min=1, max=64)


class FewShot(PromptScoring):
    description = ("Uses K labeled examples per class without training: the decoder sees them in its prompt; the "
                   "encoder averages them into one prototype per class.")
    when_to_use = ("Prefer it when you have only a handful of labeled rows per class, or to see what examples alone"
                   " buy over zero-shot.")
    kinds = ("encoder", "decoder")
    family = "few-shot"
    encoder_snippet_body = PROTOTYPE_BODY

    @classmethod
    def check_data(cls, class_counts: dict[str, int], options: dict) -> None:
        shots = options.get("shots")
        if shots is None:
            return
        short = {label: n for label, n in class_counts.items() if n < shots}
        if short:
            raise DatasetError(f"few-shot needs {shots} training examples per class, but these classes have "
                               f"fewer after the test split: {short}; lower --shots or add rows.")

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self._record_prior(train, val)
        rng = np.random.default_rng(self.config.seed)
        chosen: list[int] = []
        for label in self.labels:
            rows = [i for i, y in enumerate(train.labels) if y == label]
            if not rows:
                raise DatasetError(f"class {label!r} has no training rows to take few-shot examples from.")
            chosen.extend(int(i) for i in rng.permutation(rows)[: self.config.shots])
        chosen = [int(i) for i in rng.permutation(chosen)]  # interleave classes in the prompt
        self.shots = [Demonstration(train.texts[i], train.labels[i]) for i in chosen]
        self._prepare()

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
        return {**super()._state(), "shots": [{"text": d.text, "label": d.label} for d in self.shots]}

    def _restore(self, state: dict) -> None:
        self.shots = [Demonstration(d["text"], d["label"]) for d in state["shots"]]
        self._prepare()
        super()._restore(state)


register_method(name="few-shot", config_cls=FewShotConfig, method_cls=FewShot)
