"""Step 1, the data: reading files, labeled data and splits, validation, the bundled samples."""
from .encoding import ENCODINGS, check_encoding, describe_encoding
from .labeled import LabeledData, Split, guess_columns, make_split, to_labeled
from .reading import SUPPORTED_SUFFIXES, DataWarning, read_table, row_numbers
from .samples import Sample, list_samples, load_sample, sample_path
from .validation import Issue, ValidationReport, merge_labels, validate
from .versions import (
    Change,
    DataVersion,
    apply_changes,
    changes_since,
    labeled_rows,
    list_versions,
    prepared_from_file,
    read_version,
    save_version,
    split_version,
    unlabeled_rows,
)

__all__ = ["DataWarning", "ENCODINGS", "Issue", "LabeledData", "Sample", "Split", "SUPPORTED_SUFFIXES",
           "ValidationReport", "check_encoding", "describe_encoding", "guess_columns", "list_samples", "load_sample",
           "make_split", "merge_labels", "read_table", "row_numbers", "sample_path", "to_labeled", "validate",
           # versions of a data file (tlcore.data.versions): fixes and new labels saved as a new file, with a log
           "Change", "DataVersion", "apply_changes", "changes_since", "labeled_rows", "list_versions",
           "prepared_from_file", "read_version", "save_version", "split_version", "unlabeled_rows"]
