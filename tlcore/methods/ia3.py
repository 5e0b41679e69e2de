"""IA3: learned vectors that rescale keys, values and feed-forward activations; the fewest trainable weights."""
from __future__ import annotations

from dataclasses import dataclass

from .base import TrainingConfig, option, register_method
from .finetune import PeftMethod


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

    def peft_config(self):
        from peft import IA3Config

        return IA3Config(task_type="SEQ_CLS")  # peft picks the target modules for the architecture


register_method(name="ia3", config_cls=IA3MethodConfig, method_cls=IA3)
