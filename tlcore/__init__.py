"""tlcore: transfer learning from pretrained language models, as a library and a CLI.

The public surface is re-exported here. Nothing in this module imports torch: the app's
home page and the CLI's light commands stay fast; models load only when a method runs.
"""
from .data import (SUPPORTED_SUFFIXES, DataWarning, LabeledData, Split, guess_columns, make_split,
    read_table, row_numbers, to_labeled)
from .errors import (ConfigError, DatasetError, ExportError, MethodError, ModelError, ResourceError, RunError,
    TLCoreError)
from .compare.reliability import Reliability, reliability, run_reliability
from .compare.comparison import ComparedRun, Comparison, comparable_groups, load_comparison
from .runs.metrics import classification_metrics
from .runs.create import create_run, method_options
from .use.export import export_run
from .use.importing import import_export
from .use.predict import PredictionReport, load_method, predict_file, predict_frame, predict_texts
from .use.csv_safe import csv_bytes, write_csv
from .methods import (Callback, MethodConfig, TrainingConfig, check_supported, get_method, list_methods,
    register_method)
from .engine.models import ModelSpec, has_gpu, is_available, list_models, resolve_model
from .runs.planning import MethodPlan, plan_method
from .methods.advice import Recommendation, recommend
from .runs.store import FINAL_STATES, LIVE_STATES, Run, RunConfig, RunStore, RunSummary, start_worker
from .data.samples import Sample, list_samples, load_sample, sample_path
from .data.validation import Issue, ValidationReport, merge_labels, validate
from .runs.worker import execute
from .compare.checks import (DEFAULT_PAIRS, SENTIMENT_DOMAINS, TEXT_LENGTH, Footprint, FootprintAssumptions,
    OODResult, ProbeResult, SliceReport, checks_html_section, compute_footprint, evaluate_ood, load_evaluations,
    probe_counterfactual, slice_metrics)
from .runs.learning_curve import (create_curve, curve_groups, curve_points, curve_summary, run_learning_curve,
    start_curve)
from .compare.report import build_report

__version__ = "0.1.0"

__all__ = [
    "Callback", "check_supported", "classification_metrics", "ConfigError", "create_run", "csv_bytes", "DatasetError",
    "DataWarning", "execute", "export_run", "ExportError", "FINAL_STATES", "get_method", "guess_columns",
    "has_gpu", "import_export", "is_available", "Issue", "LabeledData", "list_methods", "list_models", "list_samples",
    "LIVE_STATES", "load_method", "load_sample", "make_split", "merge_labels", "method_options", "MethodConfig",
    "MethodError", "MethodPlan", "ModelError", "ModelSpec", "plan_method", "predict_file", "predict_frame", "predict_texts",
    "PredictionReport", "read_table", "recommend", "Recommendation", "register_method", "ResourceError",
    "resolve_model", "row_numbers", "Run", "RunConfig", "RunError", "RunStore", "RunSummary", "Sample", "sample_path", "Split",
    "start_worker", "SUPPORTED_SUFFIXES", "TLCoreError", "to_labeled", "TrainingConfig", "validate",
    "ValidationReport", "write_csv",
    # comparing runs (tlcore.compare.comparison, .calibration, .learning_curve, .report)
    "build_report", "comparable_groups", "ComparedRun", "Comparison", "create_curve", "curve_groups", "curve_points",
    "curve_summary", "load_comparison", "reliability", "Reliability", "run_learning_curve", "run_reliability",
    "start_curve",
    # checks on finished runs (tlcore.compare.checks: out-of-domain, slices, counterfactual probe, compute footprint)
    "checks_html_section", "compute_footprint", "DEFAULT_PAIRS", "evaluate_ood", "Footprint", "FootprintAssumptions",
    "load_evaluations", "OODResult", "probe_counterfactual", "ProbeResult", "SENTIMENT_DOMAINS", "slice_metrics",
    "SliceReport", "TEXT_LENGTH",
]
