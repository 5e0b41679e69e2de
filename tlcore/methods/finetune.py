"""What every gradient-based method shares: a sequence-classification model, training, saving.

Subclasses only decide which parameters train (``prepare``) and how they are saved and loaded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.models import count_parameters, load_tokenizer
from ..engine.training import predict_logits, train_classifier
from ..engine.callbacks import Callback
from .base import Method


class SequenceClassifierMethod(Method):
    trains = True

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


class FullModelMethod(SequenceClassifierMethod):
    """Saves the whole model (for methods that change the backbone's own weights)."""

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
            if any(key in n for key in ("lora_", "ia3_", "prompt_encoder", "modules_to_save")))
        self.total_params = count_parameters(self.model)[1]
