"""Prompt tuning: a few learned "virtual token" embeddings are prepended to every input; the model is frozen."""
from __future__ import annotations

from dataclasses import dataclass

from .base import TrainingConfig, option, register_method
from .finetune import PeftMethod


@dataclass
class PromptTuningMethodConfig(TrainingConfig):
    lr: float = option(3e-2, "Peak learning rate; prompt tuning needs a high one.", min=1e-7, max=1.0)
    virtual_tokens: int = option(16, "Number of learned prompt vectors.", min=1, max=256)


class PromptTuning(PeftMethod):
    description = ("Learns a short soft prompt (a few embedding vectors put before the text) and the head, with "
                   "the model frozen: tiny to store, but slower to converge and weaker on small models.")
    when_to_use = ("Prefer it to store many tasks as tiny prompts on one frozen model; expect it to trail LoRA on "
                   "small models.")
    kinds = ("encoder", "decoder")
    adapter_prefixes = ("prompt_encoder",)
    pads_left_on_decoders = True  # peft feeds embeddings: a decoder's head then reads the last column of each row

    def peft_config(self, model):
        from peft import PromptTuningConfig

        return PromptTuningConfig(task_type="SEQ_CLS", num_virtual_tokens=self.config.virtual_tokens)


register_method(name="prompt-tuning", config_cls=PromptTuningMethodConfig, method_cls=PromptTuning)
