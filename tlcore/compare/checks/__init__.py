"""Does it transfer, and is it fair? Checks on finished runs, one module each.

| module | check |
| --- | --- |
| ``ood`` | out-of-domain evaluation on another labeled file with the same labels (gap to in-domain) |
| ``slices`` | accuracy, macro-F1 and error rate per value of another column; worst and too-small slices |
| ``counterfactual`` | swap term pairs (he/she, first names) and count prediction flips and confidence changes |
| ``footprint`` | trainable parameters, FLOPs, wall time, energy and CO2e, with the assumptions stated |
| ``report_section`` | all of the above as an HTML fragment for the run report |
| ``store`` | where results live in the run folder (``evaluations/``, ``checks/``) |

Light at import time (no torch): models load inside the functions that need them.
"""
from .counterfactual import (
    DEFAULT_PAIRS,
    ProbeResult,
    Swapper,
    format_pairs,
    load_probes,
    parse_pairs,
    probe_counterfactual,
    saved_probe,
    sensitivity_verdicts,
)
from .footprint import Footprint, FootprintAssumptions, compare_compute, compute_footprint, energy_kwh, explain
from .ood import SENTIMENT_DOMAINS, OODResult, evaluate_ood, load_evaluations, match_labels, prepare
from .report_section import checks_html_section, flops_text
from .slices import MIN_SLICE_SIZE, TEXT_LENGTH, SliceReport, SliceRow, load_slice_reports, slice_metrics

__all__ = [
    "checks_html_section", "compare_compute", "compute_footprint", "DEFAULT_PAIRS", "energy_kwh", "evaluate_ood",
    "explain", "flops_text", "Footprint", "FootprintAssumptions", "format_pairs", "load_evaluations", "load_probes",
    "load_slice_reports", "match_labels", "MIN_SLICE_SIZE", "OODResult", "parse_pairs", "prepare",
    "probe_counterfactual", "ProbeResult", "saved_probe", "sensitivity_verdicts", "SENTIMENT_DOMAINS", "SliceReport",
    "SliceRow", "slice_metrics", "Swapper", "TEXT_LENGTH",
]
