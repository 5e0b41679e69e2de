"""Transfer methods. Importing this package registers every built-in method."""
from . import few_shot, lora, zero_shot  # noqa: F401  (registration side effects)
from .base import (Callback, Method, MethodConfig, MethodEntry, TrainingConfig, check_supported, get_method,
                   list_methods, register_method)

__all__ = ["Callback", "Method", "MethodConfig", "MethodEntry", "TrainingConfig", "check_supported",
           "get_method", "list_methods", "register_method"]
