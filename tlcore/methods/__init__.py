"""Transfer methods. Importing this package registers every built-in method.

Each method is one module: a config dataclass, a ``Method`` subclass that owns everything about the method
(fitting, saving, reloading, exporting, its costs), and one ``register_method(...)`` line.
"""
# Registration order is the order users see: cheapest first.
from . import zero_shot, few_shot, linear_probe, setfit, full, lora, ia3, prompt_tuning  # noqa: F401,I001
from ..engine.callbacks import Callback
from .advice import Recommendation, recommend
from .base import (FlopEstimate, Method, MethodConfig, MethodEntry, TrainingConfig, Workload, check_supported,
                   get_method, list_methods, portfolio, reference_methods, register_method)

__all__ = ["Callback", "FlopEstimate", "Method", "MethodConfig", "MethodEntry", "Recommendation", "TrainingConfig",
           "Workload", "check_supported", "get_method", "list_methods", "portfolio", "recommend", "reference_methods",
           "register_method"]
