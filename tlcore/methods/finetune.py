"""What every gradient-based method shares: a sequence-classification model, training, saving, costs.

Subclasses only decide which parameters train (``prepare``); full-model and PEFT methods differ in how
they are saved, reloaded and exported.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from ..data import LabeledData
from ..engine.architectures import Architecture
from ..engine.callbacks import Callback
from ..engine.models import SAFE_LOAD, count_parameters, load_tokenizer
from ..engine.training import predict_logits, train_classifier
from ..errors import ModelError
from .base import FlopEstimate, Method, Workload, missing_head
from .export_snippets import full_snippet, peft_snippet

LEFT_PADDED = "left_padded.txt"  # beside a saved adapter whose decoder rows were padded on the left


class SequenceClassifierMethod(Method):
    trains = True
    takes_epochs = True
    # True for methods whose model reads embeddings rather than token ids (prompt tuning): a decoder's classifier
    # then cannot find the last real token of a right-padded row, so its rows are padded on the left.
    pads_left_on_decoders: ClassVar[bool] = False

    @classmethod
    def check_model(cls, architecture: Architecture, kind: str) -> None:
        if architecture.head_class("sequence-classification") is None:
            raise missing_head(cls.name, architecture, "sequence-classification",
                               "a classification head on top of the model",
                               "Use zero-shot or few-shot with this model, or pick a model of a family that has one "
                               "(Llama, Qwen2, Gemma, Phi-3, Mistral, BERT, ...).")

    # A run saved before decoders were padded on the left (its saved tokenizer says "right") reloads as it was
    # trained, so its predictions stay the ones it recorded.
    saved_right_padded: bool = False

    def pads_left(self) -> bool:
        return self.pads_left_on_decoders and self.model_spec.kind == "decoder" and not self.saved_right_padded

    def tokenizer_for(self, folder: Path):
        """The model's tokenizer as this method feeds it (a copy when its padding side changes)."""
        tokenizer = load_tokenizer(str(folder))
        if self.pads_left() and tokenizer.padding_side != "left":
            tokenizer = copy.copy(tokenizer)  # the cached one is shared: leave it as it is
            tokenizer.padding_side = "left"
        return tokenizer

    def base_model(self):
        """A fresh pretrained model with a new classification head for our labels."""
        import torch
        from transformers import AutoModelForSequenceClassification

        torch.manual_seed(self.config.seed)  # the head's initialisation
        tokenizer = load_tokenizer(str(self.folder))
        if tokenizer.pad_token_id is None:
            raise ModelError(f"the tokenizer in {self.folder} has neither a padding token nor an end-of-text token "
                             "to pad with; add one (tokenizer.pad_token = ...) and save the folder again.")
        model = AutoModelForSequenceClassification.from_pretrained(
            str(self.folder), num_labels=len(self.labels), dtype=torch.float32, **SAFE_LOAD,
            id2label=dict(enumerate(self.labels)), label2id={label: i for i, label in enumerate(self.labels)})
        # A decoder's head reads each row's last token that is not padding: it must know the id rows are padded with
        # (a config's own pad id may differ from the one the tokenizer pads with, or be missing).
        if self.model_spec.kind == "decoder" or model.config.pad_token_id is None:
            model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
            model.config.pad_token_id = tokenizer.pad_token_id
        if self.pads_left():
            number_positions_from_mask(getattr(model, model.base_model_prefix))
        return model

    def prepare(self, model):
        """Choose what trains; return the model to train (possibly wrapped)."""
        raise NotImplementedError

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        self.tokenizer = self.tokenizer_for(self.folder)
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


def number_positions_from_mask(body) -> None:
    """Make a decoder body number each row's positions from its attention mask.

    Left-padded, a row's tokens would otherwise sit as many positions further on as it has padding (peft drops
    position ids for prompt tuning), so a text would be classified differently alone and beside a longer one.
    """
    def with_positions(module, args, kwargs):
        mask = kwargs.get("attention_mask")
        if kwargs.get("position_ids") is None and mask is not None and mask.dim() == 2:
            kwargs["position_ids"] = (mask.long().cumsum(-1) - 1).clamp(min=0)
        return args, kwargs

    body.register_forward_pre_hook(with_positions, with_kwargs=True)


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

        self.tokenizer = self.tokenizer_for(folder / "model")
        import torch

        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(folder / "model"), dtype=torch.float32, **SAFE_LOAD).to(self.device).eval()
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

    def peft_config(self, model):
        """The peft config for ``model`` (a sequence classifier; its config says the architecture)."""
        raise NotImplementedError

    def prepare(self, model):
        import warnings

        from peft import get_peft_model

        with warnings.catch_warnings():  # peft calls a transformers API that transformers 5 deprecates
            warnings.simplefilter("ignore", FutureWarning)
            return get_peft_model(model, self.peft_config(model))

    def save(self, folder: Path) -> None:
        self.model.save_pretrained(folder / "adapter")  # adapter + head, safetensors
        self.tokenizer.save_pretrained(folder / "adapter")
        if self.pads_left():  # transformers does not save the padding side: say it, for reloading
            (folder / "adapter" / LEFT_PADDED).write_text("rows were padded on the left\n", encoding="utf-8")

    def load(self, folder: Path) -> None:
        from peft import PeftModel

        self.saved_right_padded = self.pads_left_on_decoders and not (folder / "adapter" / LEFT_PADDED).exists()
        self.tokenizer = self.tokenizer_for(self.folder)
        self.model = PeftModel.from_pretrained(self.base_model(), str(folder / "adapter")).to(self.device).eval()
        self.trainable_params = sum(
            p.numel() for n, p in self.model.named_parameters()
            if any(key in n for key in (*self.adapter_prefixes, "modules_to_save")))
        self.total_params = count_parameters(self.model)[1]
