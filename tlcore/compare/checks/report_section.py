"""The checks as an HTML fragment for the run report: what was saved in the run folders, escaped.

``checks_html_section(runs)`` shows every out-of-domain evaluation, slice report and counterfactual probe
saved for the runs, and computes their compute footprints. The fragment uses plain tables (class names
``tl-checks``, ``worst``, ``small``) so the report's own stylesheet can dress it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from ...errors import TLCoreError
from ...runs.store import Run
from ..formatting import escape, html_table, percent, signed_points
from .counterfactual import load_probes, sensitivity_verdicts
from .footprint import Footprint, FootprintAssumptions, compare_compute, compute_footprint, explain
from .ood import load_evaluations
from .slices import load_slice_reports

EXAMPLES_PER_RUN = 5


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    return html_table(headers, rows, raw=raw, css_class="tl-checks")


def flops_text(flops: float) -> str:
    """1.2e15 -> '1.2 PFLOP'."""
    for unit, size in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if flops >= size:
            return f"{flops / size:.1f} {unit}"
    return f"{flops:.0f} FLOP"


def _ood(runs: Sequence[Run]) -> str:
    rows = []
    for run in runs:
        for result in load_evaluations(run):
            mapping = ", ".join(f"{k}→{v}" for k, v in result.label_mapping.items())
            notes = "; ".join(result.notes() + ([f"labels mapped: {mapping}"] if mapping else []))
            rows.append([result.method, result.model, result.in_domain.get("data_name") or "", result.data_name,
                         f"{result.n:,}", percent(result.in_domain.get("accuracy")),
                         percent(result.out_of_domain["accuracy"]), signed_points(result.gap_accuracy),
                         f"{result.out_of_domain['macro_f1']:.3f}", notes])
    if not rows:
        return ("<p>No out-of-domain evaluation saved for these runs (<code>tlcore evaluate --run RUN --data "
                "OTHER.csv</code>, or the Compare page).</p>")
    return ("<p>Each run scored on another labeled file with the same labels. Gap = out-of-domain minus "
            "in-domain accuracy, in points.</p>"
            + _table(["Method", "Model", "Trained on", "Evaluated on", "Rows", "In-domain accuracy",
                      "Out-of-domain accuracy", "Gap (points)", "Out-of-domain macro-F1", "Notes"], rows))


def _slices(runs: Sequence[Run]) -> str:
    parts = []
    for run in runs:
        for report in load_slice_reports(run):
            rows = []
            for row in report.rows:
                flag = ("<strong class=\"worst\">worst slice</strong>" if row.value == report.worst
                        else "<em class=\"small\">too small to judge</em>" if row.too_small else "")
                rows.append([escape(row.value), f"{row.n:,}", percent(row.accuracy), f"{row.macro_f1:.3f}",
                             percent(row.error_rate), flag])
            lost = []
            if report.n_unmatched:
                lost.append(f"{report.n_unmatched} test texts not found in the data file")
            if report.n_ambiguous:
                lost.append(f"{report.n_ambiguous} found with two different values")
            parts.append(f"<h4>{escape(report.method)} · {escape(report.model)} — by {escape(report.column)}</h4>"
                         f"<p>{report.n_matched:,} of {report.n_test:,} test rows placed"
                         f"{escape('; ' + '; '.join(lost)) if lost else ''}; slices under {report.min_size} rows are "
                         "too small to judge.</p>"
                         + _table(["Slice", "Rows", "Accuracy", "Macro-F1", "Error rate", ""], rows, raw=True))
    if not parts:
        return ("<p>No slice report saved for these runs (<code>tlcore slices --run RUN --column COLUMN --data "
                "FILE</code>, or the Compare page).</p>")
    return "".join(parts)


def _probes(runs: Sequence[Run]) -> str:
    results = [result for run in runs for result in load_probes(run)]
    if not results:
        return ("<p>No counterfactual probe saved for these runs (<code>tlcore probe --run RUN</code>, or the "
                "Compare page).</p>")
    rows = [[r.method, r.model, r.source, f"{r.n_affected:,} of {r.n_texts:,}", f"{r.n_flipped:,}",
             percent(r.flip_rate), "–" if r.mean_abs_delta is None else f"{r.mean_abs_delta:.3f}",
             f"{len(r.pairs)} pairs"] for r in results]
    out = ("<p>Term pairs (e.g. he/she, first names) swapped both ways in the texts that contain one; flip rate = "
           "share of those texts whose predicted label changes; mean |Δ confidence| = mean change of the "
           "probability of the originally predicted class.</p>"
           + _table(["Method", "Model", "Texts", "Texts with a term", "Flipped", "Flip rate",
                     "Mean |Δ confidence|", "Pairs"], rows))
    verdicts = sensitivity_verdicts(results)
    if verdicts:
        out += "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in verdicts) + "</ul>"
    for r in results:
        if r.flipped:
            items = "".join(f"<li>{escape(f['text'])} → {escape(f['swapped'])}: "
                            f"{escape(f['before'])} → {escape(f['after'])}"
                            f" (Δ {f['delta']:+.2f})</li>" for f in r.flipped[:EXAMPLES_PER_RUN])
            out += f"<h4>Flipped by {escape(r.method)} · {escape(r.model)}</h4><ul>{items}</ul>"
    return out + "<p>Pairs: " + escape("; ".join(f"{a}/{b}" for a, b in results[0].pairs)) + ".</p>"


def _footprint(footprints: Sequence[Footprint], assumptions: FootprintAssumptions) -> str:
    if not footprints:
        return "<p>No finished run to measure.</p>"
    rows = [[f.method, f.model, percent(f.accuracy), f"{f.trainable_params:,}", flops_text(f.training_flops),
             flops_text(f.prediction_flops), f"{f.wall_seconds:.1f} s", f"{1000 * f.energy_kwh:.3f} Wh",
             f"{f.co2e_g:.3f} g"] for f in footprints]
    lines = "".join(f"<li>{escape(line)}</li>" for line in compare_compute(list(footprints)))
    return (_table(["Method", "Model", "Accuracy", "Trainable params", "Training FLOPs", "Test prediction FLOPs",
                    "Wall time", "Energy", "CO2e"], rows)
            + (f"<ul>{lines}</ul>" if lines else "")
            + "<p>How these are estimated:</p><ul>"
            + "".join(f"<li>{escape(line)}</li>" for line in explain(assumptions)) + "</ul>")


def checks_html_section(runs: Sequence[Run | str], *, runs_dir: str | Path | None = None,
                        footprints: Sequence[Footprint] | None = None,
                        assumptions: FootprintAssumptions | None = None) -> str:
    """An escaped HTML fragment with the four checks for ``runs`` (Run objects, run ids in ``runs_dir`` or
    run folders; finished runs).

    Saved results are read from the run folders; footprints are computed unless given (a run whose
    footprint cannot be computed is left out of that table).
    """
    from ...runs.store import as_run

    runs = [as_run(run, runs_dir) for run in runs]
    assumptions = assumptions or FootprintAssumptions()
    if footprints is None:
        footprints = []
        for run in runs:
            try:
                footprints.append(compute_footprint(run, assumptions))
            except TLCoreError:
                continue
    return ("<section class=\"tl-checks\"><h2>Does it transfer, and is it fair?</h2>"
            f"<h3>Out-of-domain evaluation</h3>{_ood(runs)}"
            f"<h3>Slices</h3>{_slices(runs)}"
            f"<h3>Counterfactual probe</h3>{_probes(runs)}"
            f"<h3>Compute footprint</h3>{_footprint(footprints, assumptions)}</section>")
