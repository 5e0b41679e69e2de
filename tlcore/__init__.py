"""tlcore: transfer learning from pretrained language models, as a library and a CLI.

The public surface is re-exported here. Nothing in this module imports torch: the app's
home page and the CLI's light commands stay fast; models load only when a method runs.
"""
from .data import (SUPPORTED_SUFFIXES, DataWarning, LabeledData, Split, guess_columns, make_split, read_table,
                   row_numbers, to_labeled)
from .errors import (ConfigError, DatasetError, ExportError, MethodError, ModelError, ResourceError, RunError,
                     TLCoreError)
from .evaluate import classification_metrics
from .experiment import create_run, method_options
from .export import export_run
from .inference import PredictionReport, load_method, predict_file, predict_frame, write_csv
from .methods import (Callback, MethodConfig, TrainingConfig, check_supported, get_method, list_methods,
                      register_method)
from .models import ModelSpec, has_gpu, is_available, list_models, resolve_model
from .planning import MethodPlan, Recommendation, plan_method, recommend
from .runs import FINAL_STATES, LIVE_STATES, Run, RunConfig, RunStore, RunSummary, start_worker
from .samples import Sample, list_samples, load_sample, sample_path
from .validation import Issue, ValidationReport, merge_labels, validate
from .worker import execute

__version__ = "0.1.0"

__all__ = [
    "Callback", "check_supported", "classification_metrics", "ConfigError", "create_run", "DatasetError",
    "DataWarning", "execute", "export_run", "ExportError", "FINAL_STATES", "get_method", "guess_columns",
    "has_gpu", "is_available", "Issue", "LabeledData", "list_methods", "list_models", "list_samples",
    "LIVE_STATES", "load_method", "load_sample", "make_split", "merge_labels", "method_options", "MethodConfig",
    "MethodError", "MethodPlan", "ModelError", "ModelSpec", "plan_method", "predict_file", "predict_frame",
    "PredictionReport", "read_table", "recommend", "Recommendation", "register_method", "ResourceError",
    "resolve_model", "row_numbers", "Run", "RunConfig", "RunError", "RunStore", "RunSummary", "Sample", "sample_path", "Split",
    "start_worker", "SUPPORTED_SUFFIXES", "TLCoreError", "to_labeled", "TrainingConfig", "validate",
    "ValidationReport", "write_csv",
]
