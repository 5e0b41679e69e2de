"""tlcore: transfer learning from pretrained language models, as a library and a CLI.

The public surface is re-exported here. Nothing in this module imports torch: the app's
home page and the CLI's light commands stay fast; models load only when a method runs.
"""
from .data import LabeledData, Split, guess_columns, make_split, read_table, to_labeled
from .errors import ConfigError, DatasetError, MethodError, ModelError, RunError, TLCoreError
from .evaluate import classification_metrics
from .experiment import create_run, method_options
from .methods import (Callback, MethodConfig, TrainingConfig, check_supported, get_method, list_methods,
                      register_method)
from .models import ModelSpec, is_available, list_models, resolve_model
from .planning import MethodPlan, Recommendation, plan_method, recommend
from .samples import Sample, list_samples, load_sample, sample_path
from .runs import FINAL_STATES, LIVE_STATES, Run, RunConfig, RunStore, RunSummary, start_worker
from .worker import execute

__version__ = "0.1.0"

__all__ = [
    "Callback", "ConfigError", "DatasetError", "FINAL_STATES", "LIVE_STATES", "LabeledData", "MethodConfig",
    "MethodError", "ModelError", "ModelSpec", "Run", "RunConfig", "RunError", "RunStore", "RunSummary", "Sample", "Split",
    "TLCoreError", "TrainingConfig", "check_supported", "classification_metrics", "create_run", "execute",
    "get_method", "guess_columns", "is_available", "list_methods", "list_models", "make_split", "method_options",
    "MethodPlan", "Recommendation", "plan_method", "recommend", "read_table", "register_method", "list_samples", "load_sample", "resolve_model", "sample_path", "start_worker", "to_labeled",
]
