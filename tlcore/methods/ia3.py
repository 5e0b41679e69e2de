"""IA3: learned vectors that rescale keys, values and feed-forward activations; the fewest trainable weights."""
from __future__ import annotations

from dataclasses import dataclass

from ..engine.architectures import Architecture
from ..errors import MethodError
from .base import TrainingConfig, option, register_method
from .finetune import PeftMethod

# Families peft has no IA3 defaults for, by model type: (layers to rescale, which of them are feed-forward).
# They name their layers as Llama does (Phi-3 fuses q, k and v into qkv_proj).
EXTRA_TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "phi3": (["qkv_proj", "down_proj"], ["down_proj"]),
    "olmo": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
    "olmo2": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
    "smollm3": (["k_proj", "v_proj", "down_proj"], ["down_proj"]),
}


def target_modules(model_type: str) -> tuple[list[str], list[str]] | None:
    """(layers to rescale, the feed-forward ones among them) for a model type; None when nobody knows them."""
    from peft.utils import TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD
    from peft.utils import TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS

    if model_type in TARGETS and model_type in FEEDFORWARD:
        return list(TARGETS[model_type]), list(FEEDFORWARD[model_type])
    return EXTRA_TARGETS.get(model_type)


@dataclass
class IA3MethodConfig(TrainingConfig):
    # 2e-2, not 5e-3: IA3 only rescales activations and moves slowly (bench/README.md, "Defaults").
    lr: float = option(2e-2, "Peak learning rate (AdamW; linear warm-up then linear decay).", min=1e-7, max=1.0)


class IA3(PeftMethod):
    description = ("Learns one scaling vector per attention key/value and feed-forward layer (IA3) plus the head: "
                   "tens of thousands of weights, fast, a good fit for very small datasets.")
    when_to_use = "Prefer it for the smallest adapters and fast training; it usually needs more epochs than LoRA."
    kinds = ("encoder", "decoder")
    adapter_prefixes = ("ia3_",)

    @classmethod
    def check_model(cls, architecture: Architecture, kind: str) -> None:
        super().check_model(architecture, kind)
        if target_modules(architecture.model_type) is None:
            raise MethodError(f"method {cls.name!r} needs to know which layers of a model hold the attention keys and "
                              f"values and the feed-forward output, and neither peft nor TransferLab knows them for "
                              f"{architecture.described} models. Use 'lora' (it adapts every linear layer, whatever "
                              "they are named).")

    def peft_config(self, model):
        from peft import IA3Config

        targets, feedforward = target_modules(model.config.model_type) or (None, None)  # None: peft's own error
        return IA3Config(task_type="SEQ_CLS", target_modules=targets, feedforward_modules=feedforward)


register_method(name="ia3", config_cls=IA3MethodConfig, method_cls=IA3)
