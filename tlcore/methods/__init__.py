"""Transfer methods. Importing this package registers every built-in method."""
# Registration order is the order users see: cheapest first.
from . import zero_shot, few_shot, linear_probe, full, lora, ia3, prompt_tuning  # noqa: F401,I001
from ..engine.callbacks import Callback
from .base import (Method, MethodConfig, MethodEntry, TrainingConfig, check_supported, get_method, list_methods,
    register_method)

__all__ = ["Callback", "Method", "MethodConfig", "MethodEntry", "TrainingConfig", "check_supported",
           "get_method", "list_methods", "register_method"]
