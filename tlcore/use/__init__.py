"""Using a finished run: predicting new texts, spreadsheet-safe CSV, exporting (with a model card), importing an
export back as a run, logging a run to an experiment tracker (MLflow, TensorBoard), and what to label next."""
from .csv_safe import csv_bytes, neutralize_formula, write_csv
from .export import export_kind, export_run
from .importing import import_export
from .predict import (
    PredictionReport,
    check_usable,
    choose_text_column,
    load_method,
    predict_file,
    predict_frame,
    predict_texts,
)
from .suggest import STRATEGIES, Pool, Suggestion, SuggestionReport, rank_pool, read_pool, suggest_next, suggest_report
from .tracking import (
    DEFAULT_EXPERIMENT,
    DEFAULT_LOGDIR,
    TrackingResult,
    export_tracking,
    log_to_mlflow,
    log_to_tensorboard,
)

__all__ = ["DEFAULT_EXPERIMENT", "DEFAULT_LOGDIR", "STRATEGIES", "Pool", "PredictionReport", "Suggestion",
           "SuggestionReport", "TrackingResult", "check_usable",
           "choose_text_column", "csv_bytes", "export_kind", "export_run", "export_tracking", "import_export",
           "load_method", "log_to_mlflow", "log_to_tensorboard", "neutralize_formula", "predict_file", "predict_frame",
           "predict_texts", "rank_pool", "read_pool", "suggest_next", "suggest_report", "write_csv"]
