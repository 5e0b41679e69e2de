"""Using a finished run: predicting new texts, spreadsheet-safe CSV, exporting (with a model card) and
importing an export back as a run."""
