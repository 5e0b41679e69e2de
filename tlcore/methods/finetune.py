"""What every gradient-based method shares: a sequence-classification model, training, saving, costs.

Subclasses only decide which parameters train (``prepare``); full-model and PEFT methods differ in how
they are saved, reloaded and exported.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.callbacks import Callback
from ..engine.models import count_parameters, load_tokenizer
from ..engine.training import predict_logits, train_classifier
from .base import FlopEstimate, Method, Workload
from .export_snippets import full_snippet, peft_snippet


class SequenceClassifierMethod(Method):
    trains = True
    takes_epochs = True

    def base_model(self):
        """A fresh pretrained model with a new classification head for our labels."""
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(self.config.seed)  # the head's initialisation
        tokenizer = load_tokenizer(str(self.folder))
        model = AutoModelForSequenceClassification.from_pretrained(
            str(self.folder), num_labels=len(self.labels), dtype=torch.float32,
            id2label=dict(enumerate(self.labels)), label2id={label: i for i, label in enumerate(self.labels)})
        if model.config.pad_token_id is None:  # decoders: the head reads the last non-padding token
            model.config.pad_token_id = tokenizer.pad_token_id
        return model

    def prepare(self, model):
        """Choose what trains; return the model to train (possibly wrapped)."""
        raise NotImplementedError

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self.tokenizer = load_tokenizer(str(self.folder))
        self.model = self.prepare(self.base_model()).to(self.device)
        self.trainable_params, self.total_params = count_parameters(self.model)
        self.training = train_classifier(self.model, self.tokenizer, train, val, self.labels, self.config,
                                         callback, self.device)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        logits = predict_logits(self.model, self.tokenizer, texts, self.config.max_length, self.device,
                                callback=callback)
        return logits.softmax(-1).numpy()

    @classmethod
    def count_parameters(cls, model, n_labels: int, options: dict, folder: Path) -> tuple[int, int]:
        import torch

        from ..engine.models import ModelSpec

        spec = ModelSpec(name="plan", kind="encoder", description="", params=None, license="")
        instance = cls(cls.config_cls.from_dict(options), spec, folder, [str(i) for i in range(n_labels)])
        with torch.device("meta"):
            prepared = instance.prepare(model)
        return (sum(p.numel() for p in prepared.parameters() if p.requires_grad),
                sum(p.numel() for p in prepared.parameters()))

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        # Backward costs ~2x forward; adapters skip the frozen weights' gradients (~1x instead of 2x).
        flops_per_token = 2 * work.compute_params
        backward = 2 if work.trainable > work.total / 2 else 1
        return FlopEstimate(flops_per_token * work.tokens * work.n_train * work.passes * (1 + backward),
                            flops_per_token * work.tokens * work.n_test,
                            f"2 x params x tokens x ({1 + backward} per training pass x {work.passes:g} epochs + 1 "
                            "per prediction)")


class FullModelMethod(SequenceClassifierMethod):
    """Saves the whole model (for methods that change the backbone's own weights)."""

    export_kind = "model"
    required_artifacts = ("model/config.json",)

    @classmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        return full_snippet()

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder / "model")  # safetensors by default
        self.tokenizer.save_pretrained(folder / "model")

    def load(self, folder: Path) -> None:
        from transformers import AutoModelForSequenceClassification

        self.tokenizer = load_tokenizer(str(folder / "model"))
        import torch

        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(folder / "model"), dtype=torch.float32).to(self.device).eval()
        self.trainable_params, self.total_params = count_parameters(self.model)


class PeftMethod(SequenceClassifierMethod):
    """Wraps the model with a peft adapter; only the adapter and the head train."""

    export_kind = "peft"
    required_artifacts = ("adapter/adapter_config.json",)
    # Names of the adapter's own parameters (each PEFT method sets its own); the head is peft's modules_to_save.
    adapter_prefixes: tuple[str, ...] = ()

    @classmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        return peft_snippet(config, base, bundled)

    def peft_config(self):
        raise NotImplementedError

    def prepare(self, model):
        import warnings

        from peft import get_peft_model

        with warnings.catch_warnings():  # peft calls a transformers API that transformers 5 deprecates
            warnings.simplefilter("ignore", FutureWarning)
            return get_peft_model(model, self.peft_config())

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder / "adapter")  # adapter + head, safetensors
        self.tokenizer.save_pretrained(folder / "adapter")

    def load(self, folder: Path) -> None:
        from peft import PeftModel

        self.tokenizer = load_tokenizer(str(self.folder))
        self.model = PeftModel.from_pretrained(self.base_model(), str(folder / "adapter")).to(self.device).eval()
        self.trainable_params = sum(
            p.numel() for n, p in self.model.named_parameters()
            if any(key in n for key in (*self.adapter_prefixes, "modules_to_save")))
        self.total_params = count_parameters(self.model)[1]
