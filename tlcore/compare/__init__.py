"""Comparing finished runs on the same test rows: the comparison tables, reliability (calibration), the
HTML report, and the checks on finished runs (out-of-domain, slices, counterfactual probe, footprint: the
``tlcore.compare.checks`` package)."""
from .best_method import Candidate, SearchResult, create_search, search_groups, search_result
from .comparison import (
    ACCURACY_CI,
    MACRO_F1_CI,
    MAJORITY,
    METRIC_FORMATS,
    PER_CLASS_FORMAT,
    VIEW_HELP,
    VIEWS,
    ComparedRun,
    Comparison,
    comparable_groups,
    comparison_records,
    dataset_summary,
    examples_csv,
    examples_table,
    filter_examples,
    format_table,
    interval_text,
    load_comparison,
    majority_metrics,
    metrics_table,
    paired_with_best,
    per_class_f1,
    per_class_table,
    sort_examples,
    view_problem,
)
from .formatting import percent, signed_points
from .label_issues import LabelIssue, LabelIssueReport, find_label_issues
from .reliability import Reliability, ReliabilityBin, reliability, run_reliability
from .report import build_report
from .sample_size import TestSizeAdvice, advise_test_size
from .sweep import (
    MAX_SWEEP_RUNS,
    Configuration,
    SweepResult,
    check_grid,
    configuration_label,
    configurations,
    create_sweep,
    main_options,
    parse_grid,
    suggested_values,
    sweep_groups,
    sweep_result,
    sweepable_options,
    value_text,
)

__all__ = [
    # the comparison of runs on one test split, and its tables (tlcore.compare.comparison)
    "ACCURACY_CI", "MACRO_F1_CI", "MAJORITY", "METRIC_FORMATS", "PER_CLASS_FORMAT", "VIEW_HELP", "VIEWS",
    "ComparedRun", "Comparison", "comparable_groups", "comparison_records", "dataset_summary", "examples_csv",
    "examples_table", "filter_examples", "format_table", "interval_text", "load_comparison", "majority_metrics",
    "metrics_table", "paired_with_best", "per_class_f1", "per_class_table", "sort_examples", "view_problem",
    # "find the best method": a small portfolio of runs, the winner picked on validation rows
    "Candidate", "SearchResult", "create_search", "search_groups", "search_result",
    # a sweep: one method over a grid of option values, the best configuration picked on validation rows
    "MAX_SWEEP_RUNS", "Configuration", "SweepResult", "check_grid", "configuration_label", "configurations",
    "create_sweep", "main_options", "parse_grid", "suggested_values", "sweep_groups", "sweep_result",
    "sweepable_options", "value_text",
    # reliability (calibration) and the HTML report
    "Reliability", "ReliabilityBin", "build_report", "reliability", "run_reliability",
    # how many test rows a comparison needs (the Train page's advice)
    "TestSizeAdvice", "advise_test_size",
    # how numbers are written for people (the report, the CLI and the app alike)
    "percent", "signed_points",
    # suspected label errors: out-of-sample probabilities and confident learning (tlcore.compare.label_issues)
    "LabelIssue", "LabelIssueReport", "find_label_issues",
]
