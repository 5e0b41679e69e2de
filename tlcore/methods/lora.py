"""LoRA and DoRA: low-rank updates added to the backbone's linear layers; the backbone stays frozen.

DoRA additionally splits each weight into magnitude and direction and adapts the direction.
"""
from __future__ import annotations

from dataclasses import dataclass

from .base import TrainingConfig, option, register_method
from .finetune import PeftMethod


@dataclass
class LoraMethodConfig(TrainingConfig):
    lr: float = option(1e-3, "Peak learning rate (AdamW; linear warm-up then linear decay).", min=1e-7, max=1.0)
    r: int = option(8, "Rank of the low-rank update.", min=1, max=256)
    alpha: int = option(16, "Scaling of the update (alpha / r).", min=1, max=1024)
    # 0 by default (as in peft): dropout copies every adapted layer's input, ~25 % of a LoRA step on a CPU,
    # and at 8 examples per class it did not help accuracy (bench/README.md).
    dropout: float = option(0.0, "Dropout on the LoRA input (0 is fastest).", min=0.0, max=0.9)


class Lora(PeftMethod):
    description = ("Freezes the model and learns small low-rank updates to every linear layer plus a new "
                   "classification head: most of full fine-tuning's accuracy for ~1-2 % of the parameters.")
    when_to_use = ("Prefer it as the default fine-tuning method: near full fine-tuning accuracy, tiny adapters, "
                   "modest memory.")
    kinds = ("encoder", "decoder")
    use_dora = False
    in_portfolio = True
    adapter_prefixes = ("lora_",)

    def peft_config(self, model):
        from peft import LoraConfig as PeftLoraConfig

        # "all-linear": every linear layer but the output head, found by type, so no family's layer names are needed.
        return PeftLoraConfig(task_type="SEQ_CLS", r=self.config.r, lora_alpha=self.config.alpha,
                              lora_dropout=self.config.dropout, target_modules="all-linear",
                              use_dora=self.use_dora)


class Dora(Lora):
    description = ("LoRA with each weight split into magnitude and direction (DoRA): often closer to full "
                   "fine-tuning at low rank, somewhat slower per step.")
    when_to_use = ("Prefer it over LoRA when LoRA at a low rank falls short and a somewhat slower step is "
                   "acceptable.")
    use_dora = True
    in_portfolio = False  # LoRA stands for both in the portfolio; DoRA costs more per step


register_method(name="lora", config_cls=LoraMethodConfig, method_cls=Lora)
register_method(name="dora", config_cls=LoraMethodConfig, method_cls=Dora)
