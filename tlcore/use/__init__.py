"""Using a finished run: predicting new texts, spreadsheet-safe CSV, exporting (with a model card) and
importing an export back as a run."""
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

__all__ = ["PredictionReport", "check_usable", "choose_text_column", "csv_bytes", "export_kind", "export_run",
           "import_export", "load_method", "neutralize_formula", "predict_file", "predict_frame", "predict_texts",
           "write_csv"]
