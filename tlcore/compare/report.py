"""A comparison as one self-contained HTML file, for people who do not run TransferLab.

The file needs no network and no other file: plotly.js is inlined once (in the first figure), the
styles are inline, and nothing is loaded from a URL, so it opens offline in any browser and can be
mailed as it is. Every piece of user text (file names, labels, example texts, settings) is
HTML-escaped; plotly writes figure text as JSON with ``<`` escaped.

The tables are the ones the Compare page shows (``tlcore.compare.comparison``), formatted the same way.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import pandas as pd

from ..runs.store import Run
from . import formatting
from .comparison import (
    METRIC_FORMATS,
    PER_CLASS_FORMAT,
    Comparison,
    dataset_summary,
    format_table,
    metrics_table,
    paired_with_best,
    per_class_table,
)
from .formatting import escape

# Plotly config for the report: no "edit in Chart Studio" link or logo (they would point outside the file).
FIGURE_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 2rem auto;
       max-width: 1200px; padding: 0 1.5rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
  border-bottom: 1px solid #e5e7eb; padding-bottom: .3rem; } h3 { font-size: 1.05rem; margin-top: 1.4rem; }
.meta { color: #6b7280; font-size: .9rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .88rem; }
th, td { border: 1px solid #e5e7eb; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.reference td { color: #6b7280; font-style: italic; }
pre { background: #f9fafb; border: 1px solid #e5e7eb; padding: .7rem; overflow-x: auto; font-size: .82rem; }
.figure { margin: .5rem 0 1.5rem; } .note { color: #4b5563; font-size: .9rem; }
ul.verdicts li { margin: .25rem 0; } ul.verdicts li.clear { font-weight: 600; }
details summary { cursor: pointer; font-weight: 600; margin: .4rem 0; }
"""


def html_table(frame: pd.DataFrame, numeric: Sequence[str] = (), reference_rows: Sequence[int] = ()) -> str:
    """A table of display strings (a formatted frame); every cell and header escaped."""
    return formatting.html_table(list(frame.columns), frame.itertuples(index=False, name=None),
                                 numeric=[i for i, column in enumerate(frame.columns) if column in numeric],
                                 reference_rows=reference_rows)


def _key_values(values: dict) -> str:
    rows = []
    for key, value in values.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        rows.append(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>")
    return f"<table><tbody>{''.join(rows)}</tbody></table>"


def figure_html(figure, include_plotlyjs: bool) -> str:
    """One plotly figure as a <div>; plotly.js itself inlined only when asked (the first figure)."""
    return figure.to_html(full_html=False, include_plotlyjs=include_plotlyjs, config=FIGURE_CONFIG,
                          default_width="100%")


def _run_settings(comparison: Comparison) -> str:
    parts = []
    for run in comparison.runs:
        try:
            settings = Run(run.path).config_yaml() if run.path else None
        except Exception:  # noqa: BLE001  (a report never fails on one unreadable config)
            settings = None
        if settings is None:
            import json

            settings = json.dumps(run.config, indent=2, default=str)
        m = run.metrics
        facts = {"run id": run.id, "device": m.get("device"), "training rows": m.get("n_train"),
                 "validation rows": m.get("n_val"), "epochs": m.get("epochs_completed") or m.get("epochs"),
                 "steps": m.get("steps"), "libraries": run.config.get("versions")}
        parts.append(f"<details><summary>{escape(run.name)}</summary>{_key_values(facts)}"
                     f"<pre>{escape(settings)}</pre></details>")
    return "".join(parts)


VERDICTS_HEADING = "Can the test set tell them apart?"


def verdicts_html(comparison: Comparison) -> str:
    """The paired verdicts, the best run against each other run, with the rule that produced them."""
    paired = paired_with_best(comparison)
    if not paired:
        return ""
    clear = ' class="clear"'
    items = "".join(f"<li{clear if result.clear else ''}>{escape(result.verdict)}</li>" for result in paired.values())
    return (f"<h2>{escape(VERDICTS_HEADING)}</h2>"
            f"<p class=\"note\">Each run against the best one ({escape(comparison.runs[0].name)}) on the same "
            f"{comparison.n_test:,} test rows. A run beats another only when the 95 % paired-bootstrap interval of "
            "the accuracy difference excludes 0 and the exact McNemar test (on the rows where exactly one run is "
            "right) gives p &lt; 0.05; otherwise the test set cannot tell them apart, whatever the two accuracies "
            "say.</p>"
            f"<ul class=\"verdicts\">{items}</ul>")


def build_report(comparison: Comparison, figures: Sequence[tuple[str, Any]] = (), *, title: str | None = None,
                 ece: dict[str, float] | None = None, sections: Sequence[tuple[str, pd.DataFrame]] = (),
                 notes: Sequence[str] = (), checks: bool = True) -> str:
    """The comparison as one HTML document (a string).

    ``figures``: (heading, plotly figure) pairs, drawn in order (the Compare page passes the figures it
    shows). ``ece``: expected calibration error per run id. ``sections``: extra (heading, table) pairs
    of display strings, e.g. a learning curve's summary. ``notes``: short paragraphs after the title.
    ``checks``: include the transfer and fairness checks saved with the runs (out-of-domain, slices,
    counterfactual probe) and each run's compute footprint.
    """
    summary = dataset_summary(comparison)
    title = title or f"TransferLab comparison · {summary['data']}"
    metrics = metrics_table(comparison, ece)
    shown = format_table(metrics, METRIC_FORMATS)
    numeric = [c for c in METRIC_FORMATS if c in shown.columns]
    per_class = format_table(per_class_table(comparison), default=PER_CLASS_FORMAT)
    body = [f"<h1>{escape(title)}</h1>",
            f"<p class=\"meta\">Generated {escape(time.strftime('%Y-%m-%d %H:%M'))} by TransferLab · "
            f"{len(comparison.runs)} run{'s' if len(comparison.runs) != 1 else ''} on the same "
            f"{comparison.n_test:,} test rows (test set {escape(comparison.test_fingerprint[:8])})</p>"]
    body += [f"<p class=\"note\">{escape(note)}</p>" for note in notes]
    body += ["<h2>Data</h2>", _key_values(summary),
             "<h2>Results</h2>",
             "<p class=\"note\">Accuracy: share of test rows predicted right. Macro-F1: F1 averaged over classes, "
             "each class counting equally. The majority-class row always predicts the most common test class: "
             "every useful run should beat it. The 95 % intervals come from redrawing the test rows with replacement "
             "(bootstrap): the fewer the test rows, the wider they are.</p>",
             html_table(shown, numeric=numeric, reference_rows=[len(shown) - 1]),
             "<h3>Per-class precision, recall and F1</h3>",
             html_table(per_class, numeric=[c for c in per_class.columns if c != "Run"],
                        reference_rows=[len(per_class) - 1]),
             verdicts_html(comparison)]
    for heading, table in sections:
        body += [f"<h2>{escape(heading)}</h2>", html_table(table)]
    if figures:
        body.append("<h2>Charts</h2>")
        for index, (heading, figure) in enumerate(figures):
            body += [f"<h3>{escape(heading)}</h3>",
                     f"<div class=\"figure\">{figure_html(figure, include_plotlyjs=index == 0)}</div>"]
    folders = [run.path for run in comparison.runs if run.path is not None]
    if checks and folders:
        from .checks.report_section import checks_html_section

        body.append(checks_html_section(folders))
    body += ["<h2>Run settings</h2>",
             "<p class=\"note\">Each run's settings as YAML: re-run one with <code>tlcore run --config FILE "
             "--train DATA</code>.</p>", _run_settings(comparison)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
