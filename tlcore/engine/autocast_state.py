"""What torch's autocast is doing on a device: the two facts every module that computes or caches needs, kept apart
from tlcore.engine.precision (which measures and chooses), so that encoders and scorers can ask them without
importing the chooser that measures them."""
from __future__ import annotations


def device_type(device: str) -> str:
    """'cuda' for 'cuda:1': what torch.autocast and torch.amp name a device by."""
    return device.split(":", 1)[0]


def autocast_tag(device: str) -> str:
    """The autocast state on ``device`` as a cache key's part: empty outside autocast (fp32 keys stay what they always
    were), else its dtype ("bf16", "fp16"), so a cache never serves fp32 vectors to a bf16 run or the other way."""
    import torch

    kind = device_type(device)
    if not torch.is_autocast_enabled(kind):
        return ""
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(torch.get_autocast_dtype(kind), "autocast")
