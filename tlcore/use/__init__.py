"""Using a finished run: predicting new texts, spreadsheet-safe CSV, exporting (with a model card), importing an
export back as a run, and logging a run to an experiment tracker (MLflow, TensorBoard)."""
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
from .tracking import (
    DEFAULT_EXPERIMENT,
    DEFAULT_LOGDIR,
    TrackingResult,
    export_tracking,
    log_to_mlflow,
    log_to_tensorboard,
)

__all__ = ["DEFAULT_EXPERIMENT", "DEFAULT_LOGDIR", "PredictionReport", "TrackingResult", "check_usable",
           "choose_text_column", "csv_bytes", "export_kind", "export_run", "export_tracking", "import_export",
           "load_method", "log_to_mlflow", "log_to_tensorboard", "neutralize_formula", "predict_file", "predict_frame",
           "predict_texts", "write_csv"]
