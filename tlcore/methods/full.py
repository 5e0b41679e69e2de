"""Full fine-tuning (every weight trains) and freezing (only the top N layers and the head train)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .base import TrainingConfig, option, register_method
from .finetune import FullModelMethod


@dataclass
class FullConfig(TrainingConfig):
    # 1e-4, not 5e-5: the higher rate won all 3 validation cells of bench/defaults_grid.py on the auto schedule
    # (bench/README.md, "Defaults").
    lr: float = option(1e-4, "Peak learning rate (AdamW; linear warm-up then linear decay).", min=1e-7, max=1.0)


@dataclass
class FreezeConfig(TrainingConfig):
    lr: float = option(1e-4, "Peak learning rate (AdamW; linear warm-up then linear decay).", min=1e-7, max=1.0)
    trainable_layers: int = option(2, "How many of the top transformer layers train (the rest stay frozen).",
                                   min=0, max=100)


class Full(FullModelMethod):
    description = ("Updates every weight of the model and a new classification head: the most flexible and the "
                   "most expensive; can overfit a few hundred rows.")
    when_to_use = "Prefer it with a GPU or a few thousand rows, when every point of accuracy counts."
    kinds = ("encoder", "decoder")

    def prepare(self, model):
        for parameter in model.parameters():
            parameter.requires_grad = True
        return model


def transformer_layers(model):
    """The model's stack of transformer blocks (the largest ModuleList named like 'layer(s)' or 'h')."""
    import torch

    stacks = [(name, module) for name, module in model.named_modules()
              if isinstance(module, torch.nn.ModuleList) and name.split(".")[-1] in ("layer", "layers", "h", "blocks")]
    if not stacks:
        raise ConfigError(f"cannot find the transformer layers of {type(model).__name__} to freeze; "
                          "use method 'full' or 'lora' for this model.")
    return max(stacks, key=lambda item: len(item[1]))


class Freeze(FullModelMethod):
    description = ("Freezes the embeddings and lower layers and trains only the top N layers plus the head: "
                   "cheaper than full fine-tuning and less prone to overfitting small data.")
    when_to_use = ("Prefer it when full fine-tuning overfits or is too slow, and you want a plain model file to "
                   "export.")
    kinds = ("encoder", "decoder")

    def prepare(self, model):
        name, layers = transformer_layers(model)
        n = self.config.trainable_layers
        if n > len(layers):
            raise ConfigError(f"trainable_layers is {n}, but the model has only {len(layers)} layers.")
        for parameter in model.parameters():
            parameter.requires_grad = False
        trainable_prefixes = [f"{name}.{i}." for i in range(len(layers) - n, len(layers))]
        base_prefix = model.base_model_prefix + "."
        for param_name, parameter in model.named_parameters():
            is_head = not param_name.startswith(base_prefix)  # classifier / score
            # Modules above the layer stack (BERT's pooler, Llama's final norm) feed the head: train them too.
            is_top = param_name.startswith(base_prefix) and not param_name.startswith(name + ".") \
                and "embed" not in param_name
            if is_head or is_top or any(param_name.startswith(p) for p in trainable_prefixes):
                parameter.requires_grad = True
        return model


register_method(name="full", config_cls=FullConfig, method_cls=Full)
register_method(name="freeze", config_cls=FreezeConfig, method_cls=Freeze)
