"""The Compare page's parts: metrics tables, confusion matrices, per-class F1, calibration, the per-example
browser, learning curves and the HTML report; and the plotly figures they draw (the report embeds the same
figures, so it shows what the page shows).

Everything is computed by tlcore (``tlcore.compare``: the comparison, reliability and the report;
``tlcore.runs``: learning curves); this module only lays it out.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import tlcore
from tlcore import compare as cal  # reliability (calibration)
from tlcore import compare as cmp  # the comparison and its tables
from tlcore import runs as lc  # learning curves
from tlcore.data import LabeledData
from tlcore.engine import is_available
from tlcore.runs import RunSummary, classification_metrics, row_normalized

from .charts import CHART_CONFIG
from .fmt import model_tag, run_label
from .links import new_linked_run
from .state import DATA_FRAME, DATA_LABEL_COLUMN, DATA_NAME, DATA_PAGE, DATA_TEXT_COLUMN, POLL_SECONDS

MATRICES_PER_ROW = 3
PALETTE = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563",
           "#65a30d"]
REFERENCE_COLORS = {"zero-shot": "#6b7280", "few-shot": "#a16207"}
# Margins leave room for tick labels: a report's figure is drawn without Streamlit's padding around it.
_LAYOUT = dict(margin=dict(l=60, r=20, t=50, b=50),
               legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))


def _plural(n: int) -> str:
    return "s" if n != 1 else ""


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


# -- figures ---------------------------------------------------------------------------------------------
def confusion_grid_figure(comparison: cmp.Comparison, normalize: bool = False) -> go.Figure:
    """Every run's confusion matrix side by side (rows = gold, columns = predicted), counts or row shares."""
    runs = comparison.runs
    cols = min(MATRICES_PER_ROW, len(runs))
    rows = math.ceil(len(runs) / cols)
    titles = [f"{run.name}<br><sup>accuracy {run.metrics['accuracy']:.1%} · macro-F1 "
              f"{run.metrics['macro_f1']:.3f}</sup>" for run in runs]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.08,
                        vertical_spacing=0.3 / rows if rows > 1 else 0.1)
    labels = [str(label) for label in comparison.labels]
    for index, run in enumerate(runs):
        counts = run.metrics.get("confusion_matrix") or classification_metrics(
            run.predictions["gold"].astype(str).tolist(), run.predictions["predicted"].astype(str).tolist(),
            comparison.labels)["confusion_matrix"]
        shares = row_normalized(counts)
        z = shares if normalize else counts
        text = [[f"{v:.0%}" for v in row] for row in shares] if normalize else counts
        custom = [[[c, s] for c, s in zip(count_row, share_row)] for count_row, share_row in zip(counts, shares)]
        fig.add_trace(go.Heatmap(
            z=z, x=labels, y=labels, text=text, texttemplate="%{text}", textfont=dict(size=13), customdata=custom,
            colorscale="Blues", showscale=False, xgap=2, ygap=2, zmin=0,
            zmax=1 if normalize else max(1, max(max(row) for row in counts)),
            hovertemplate="gold %{y}, predicted %{x}: %{customdata[0]} examples (%{customdata[1]:.0%} of "
                          "the gold class)<extra></extra>"),
            row=index // cols + 1, col=index % cols + 1)
    # Axis titles would collide with the neighbouring matrices: the caption and the hover text say it instead.
    fig.update_xaxes(type="category", tickangle=0 if len(labels) <= 4 else -45)
    fig.update_yaxes(type="category", autorange="reversed")
    side = 230 + 26 * len(labels)
    fig.update_layout(height=min(side, 640) * rows + 40, margin=dict(l=80, r=20, t=80, b=40))
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    fig.update_annotations(font=dict(size=13))
    return fig


def per_class_f1_figure(comparison: cmp.Comparison) -> go.Figure:
    """F1 of each class, one bar per run, grouped by class."""
    scores = cmp.per_class_f1(comparison)
    fig = go.Figure()
    for index, (name, by_label) in enumerate(scores.items()):
        fig.add_trace(go.Bar(x=[str(label) for label in by_label], y=list(by_label.values()), name=name,
                             marker_color=color(index), text=[f"{v:.2f}" for v in by_label.values()],
                             textposition="outside", cliponaxis=False,
                             hovertemplate=f"{name}<br>%{{x}}: F1 %{{y:.3f}}<extra></extra>"))
    fig.update_layout(barmode="group", height=380, **_LAYOUT, xaxis=dict(title=dict(text="class"), type="category"),
                      yaxis=dict(title=dict(text="F1"), range=[0, 1.08]))
    return fig


def reliability_figure(comparison: cmp.Comparison, reliabilities: dict[str, cal.Reliability]) -> go.Figure:
    """Reliability diagram (accuracy against confidence per bin, the diagonal is perfect calibration) and the
    number of examples per bin below."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.06)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=dict(color="#9ca3af", dash="dash", width=1.5), hoverinfo="skip"), row=1, col=1)
    for index, run in enumerate(comparison.runs):
        rel = reliabilities[run.id]
        filled = [b for b in rel.bins if b.count]
        name = f"{run.name} (ECE {rel.ece:.3f})"
        fig.add_trace(go.Scatter(
            x=[b.mean_confidence for b in filled], y=[b.accuracy for b in filled], mode="lines+markers", name=name,
            legendgroup=run.id, line=dict(color=color(index), width=2),
            marker=dict(size=[6 + 14 * math.sqrt(b.count / rel.n) for b in filled]),
            customdata=[[b.lower, b.upper, b.count] for b in filled],
            hovertemplate=f"{run.name}<br>confidence in (%{{customdata[0]:.1f}}, %{{customdata[1]:.1f}}]: "
                          "%{customdata[2]} examples<br>mean confidence %{x:.1%} · accuracy %{y:.1%}<extra></extra>"),
            row=1, col=1)
        fig.add_trace(go.Bar(
            x=[(b.lower + b.upper) / 2 for b in rel.bins], y=[b.count for b in rel.bins], name=name,
            legendgroup=run.id, showlegend=False, marker_color=color(index), width=0.1 / max(1, len(comparison.runs)),
            offset=-0.05 + 0.1 * index / max(1, len(comparison.runs)),
            hovertemplate=f"{run.name}<br>%{{y}} examples<extra></extra>"), row=2, col=1)
    fig.update_layout(height=580, margin=dict(l=60, r=20, t=90, b=50), barmode="overlay",
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0))
    # A prediction's confidence is never below 1 / classes, so the bins below it are always empty.
    low = math.floor(10 / max(2, len(comparison.labels))) / 10
    fig.update_xaxes(range=[low - 0.01, 1.01], tickformat=".0%", dtick=0.1)
    fig.update_xaxes(title=dict(text="confidence (probability of the predicted class)"), row=2, col=1)
    fig.update_yaxes(title=dict(text="accuracy"), range=[-0.02, 1.05], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title=dict(text="examples"), rangemode="tozero", row=2, col=1)
    return fig


def learning_curve_figure(points: list[dict], summary: list[dict], refs: list[dict], metric: str = "accuracy",
                          title: str = "") -> go.Figure:
    """Mean across seeds per size with its 95 % interval as a band, each seed's point, references as flat lines.

    The band (``tlcore.runs.learning_curve.curve_summary``): with several seeds, the 95 % interval of the mean
    across seeds; with one seed, that run's bootstrap interval over the test rows. A summary without
    intervals (older callers) falls back to ± 1 standard deviation.
    x is the number of labeled examples per class on a log2 scale ('all' at the mean rows per class).
    """
    label = "accuracy" if metric == "accuracy" else "macro-F1"
    fig = go.Figure()
    if summary:
        xs = [row["x"] for row in summary]
        upper, lower, name = band_edges(summary)
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=upper + lower[::-1], fill="toself", mode="lines", name=name,
                                 fillcolor="rgba(37, 99, 235, 0.15)", line=dict(width=0), hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=xs, y=[row["mean"] for row in summary], mode="lines+markers", name=f"mean {label}",
            line=dict(color="#2563eb", width=2.5), marker=dict(size=8),
            customdata=[[str(row["per_class"]), row["std"], row["seeds"], row["n_train"], low, high, _band_words(row)]
                        for row, low, high in zip(summary, lower, upper)],
            hovertemplate="%{customdata[0]} per class (%{customdata[3]:.0f} training rows)<br>mean %{y:.3f} ± "
                          "%{customdata[1]:.3f} over %{customdata[2]} seed(s)<br>95 % interval %{customdata[4]:.3f} "
                          "to %{customdata[5]:.3f} (%{customdata[6]})<extra></extra>"))
    if points:
        fig.add_trace(go.Scatter(
            x=[p["x"] for p in points], y=[p[metric] for p in points], mode="markers", name="each seed",
            marker=dict(color="#1e3a8a", size=5, opacity=0.45),
            customdata=[[str(p["per_class"]), p["seed"], p["run_id"]] for p in points],
            hovertemplate="%{customdata[0]} per class, seed %{customdata[1]}: %{y:.3f}<br>%{customdata[2]}"
                          "<extra></extra>"))
    xs_all = [p["x"] for p in points] or [8, 64]
    span = [min(xs_all) / 1.25, max(xs_all) * 1.25]
    for index, ref in enumerate(refs):
        value = ref.get(metric)
        if value is None:
            continue
        fig.add_trace(go.Scatter(x=span, y=[value, value], mode="lines", name=f"{ref['name']} ({value:.3f})",
                                 line=dict(color=REFERENCE_COLORS.get(ref["method"], color(index + 3)), width=2,
                                           dash="dash" if ref["method"] == "zero-shot" else "dot"),
                                 hovertemplate=f"{ref['name']}: %{{y:.3f}}<extra></extra>"))
    ticks = sorted({row["x"] for row in summary})
    fig.update_layout(
        height=420, **_LAYOUT, title=dict(text=title, font=dict(size=15)) if title else None,
        xaxis=dict(title=dict(text="labeled examples per class (log scale)"), type="log",
                   tickvals=ticks or None,
                   ticktext=[next((f"all ({row['x']:.0f})" if row["per_class"] == lc.ALL else str(row["per_class"]))
                                  for row in summary if row["x"] == t) for t in ticks] or None),
        yaxis=dict(title=dict(text=label), tickformat=".0%" if metric == "accuracy" else ".2f"))
    return fig


def band_edges(summary: list[dict]) -> tuple[list[float], list[float], str]:
    """(upper, lower, legend name) of the learning curve's band: the 95 % intervals of the summary rows, or
    ± 1 std at a size without one (a summary made before intervals existed)."""
    upper = [row["high"] if row.get("band") else row["mean"] + row["std"] for row in summary]
    lower = [row["low"] if row.get("band") else row["mean"] - row["std"] for row in summary]
    kinds = {row.get("band") for row in summary}
    name = {frozenset({"seeds"}): "95 % interval of the mean across seeds",
            frozenset({"test rows"}): "95 % interval over test rows (one seed)"}.get(
        frozenset(kinds), "95 % interval" if None not in kinds else "± 1 std across seeds")
    return upper, lower, name


def _band_words(row: dict) -> str:
    return {"seeds": f"across {row['seeds']} seeds", "test rows": "over the test rows, one seed"}.get(
        row.get("band"), "± 1 std")


# -- tables ------------------------------------------------------------------------------------------
def _styled(frame, formats: dict[str, str] | None = None, default: str | None = None):
    formats = {c: f for c, f in (formats or {}).items() if c in frame.columns}
    if default:
        formats.update({c: default for c in frame.columns if c not in formats and frame[c].dtype.kind == "f"})
    frame = frame.copy()
    for column in frame.columns:  # st.dataframe draws a None as a grey "None": numbers get NaN, text a dash
        if not frame[column].isna().any():
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if numbers.notna().sum() == frame[column].notna().sum():
            frame[column] = numbers.astype(float)  # the styler writes na_rep for a NaN
        else:
            frame[column] = frame[column].where(frame[column].notna(), "–")
    return frame.style.format(formats, na_rep="–")


def reliabilities(comparison: cmp.Comparison) -> dict[str, cal.Reliability]:
    return {run.id: cal.run_reliability(run.predictions) for run in comparison.runs}


def metrics_section(comparison: cmp.Comparison, rel: dict[str, cal.Reliability]) -> None:
    table = cmp.metrics_table(comparison, {run_id: r.ece for run_id, r in rel.items()})
    st.dataframe(_styled(table, cmp.METRIC_FORMATS), hide_index=True, width="stretch", column_config={
        "Accuracy": st.column_config.NumberColumn(help="Share of test rows predicted right."),
        "Macro-F1": st.column_config.NumberColumn(help="F1 averaged over classes, each class counting equally "
                                                       "(fair on imbalanced data)."),
        "Trainable params": st.column_config.NumberColumn(help="Parameters the method trained (0: none)."),
        "Predict time / 1,000 (s)": st.column_config.NumberColumn(
            help="Seconds to classify 1,000 texts on this machine."),
        "ECE": st.column_config.NumberColumn(help="Expected calibration error: how far confidence is from "
                                                  "accuracy (0 is perfect); see Calibration."),
        cmp.ACCURACY_CI: st.column_config.TextColumn(
            help="Where the accuracy would likely land on another test set of the same size: 95 % bootstrap "
                 "interval over the test rows. Few test rows give a wide interval."),
        cmp.MACRO_F1_CI: st.column_config.TextColumn(help="95 % bootstrap interval of macro-F1 over the test rows."),
        "Run id": st.column_config.TextColumn(width="small")})
    verdicts_section(comparison)
    st.markdown("**Per-class precision, recall and F1**")
    st.dataframe(_styled(cmp.per_class_table(comparison), default=cmp.PER_CLASS_FORMAT), hide_index=True,
                 width="stretch")
    st.caption("The majority-class row always predicts the most common test class: a run that does not beat it "
               "has learned nothing useful.")


def verdicts_section(comparison: cmp.Comparison) -> None:
    """Can the test set tell the best run from each other one? One plain-words verdict per run (tlcore's rule:
    a win only when the paired 95 % interval excludes 0 and McNemar's p < 0.05), never a winner it cannot show."""
    paired = cmp.paired_with_best(comparison)
    if not paired:
        return
    st.markdown("**Can the test set tell them apart?**")
    for result in paired.values():
        (st.success if result.clear else st.info)(result.verdict, icon=":material/balance:")
    st.caption(f"Each run against the best one on the same {comparison.n_test:,} test rows: the difference in "
               "accuracy with its 95 % paired-bootstrap interval and the exact McNemar test on the rows where exactly "
               "one run is right. A run beats another only when both agree; otherwise the gap may be luck of the "
               "test rows.")


def confusion_section(comparison: cmp.Comparison) -> None:
    shown = st.radio("Show", ["Counts", "Share of each gold class"], horizontal=True, key="compare_w_cm_mode",
                     help="Share of each gold class divides each row by its total: the diagonal is per-class "
                          "recall.")
    st.caption("Rows are the true (gold) labels, columns the predicted ones; the diagonal holds the correct "
               "predictions.")
    st.plotly_chart(confusion_grid_figure(comparison, normalize=shown != "Counts"), width="stretch",
                    key="compare_cm", config=CHART_CONFIG)


def per_class_section(comparison: cmp.Comparison) -> None:
    st.plotly_chart(per_class_f1_figure(comparison), width="stretch", key="compare_f1", config=CHART_CONFIG)


def calibration_section(comparison: cmp.Comparison, rel: dict[str, cal.Reliability]) -> None:
    st.caption("Confidence is the probability a run gave its predicted class. Examples are put in 10 equal-width "
               "bins of confidence; a well-calibrated run lies on the diagonal (when it says 80 %, it is right 80 % "
               "of the time). ECE: the bins' gaps between accuracy and mean confidence, weighted by the share of "
               "examples in each bin (0 is perfect).")
    rows = [{"Run": run.name, "ECE": rel[run.id].ece, "Mean confidence": rel[run.id].mean_confidence,
             "Accuracy": rel[run.id].accuracy, "Over-confidence": rel[run.id].overconfidence}
            for run in comparison.runs]
    st.dataframe(_styled(pd.DataFrame(rows), {"ECE": "{:.3f}", "Mean confidence": "{:.1%}", "Accuracy": "{:.1%}",
                                              "Over-confidence": "{:+.1%}"}), hide_index=True, width="stretch",
                 column_config={"Over-confidence": st.column_config.NumberColumn(
                     help="Mean confidence minus accuracy: above 0 the run claims more than it delivers.")})
    st.plotly_chart(reliability_figure(comparison, rel), width="stretch", key="compare_reliability",
                    config=CHART_CONFIG)


# -- per-example browser -----------------------------------------------------------------------------
SORTS = ("Test order", "Lowest confidence first", "Highest confidence first")


def examples_section(comparison: cmp.Comparison) -> None:
    frame = cmp.examples_table(comparison)
    row1 = st.columns([2, 2, 3])
    views = list(cmp.VIEWS)
    view = row1[0].selectbox("Show", views, format_func=cmp.VIEWS.get, key="compare_w_view",
                             help="\n\n".join(f"**{cmp.VIEWS[v]}**: {cmp.VIEW_HELP[v]}" for v in views))
    label = row1[1].selectbox("Gold class", ["All classes", *comparison.labels], key="compare_w_class")
    search = row1[2].text_input("Text contains", key="compare_w_search", placeholder="search the texts")
    row2 = st.columns([2, 2, 3])
    sort = row2[0].selectbox("Sort", SORTS, key="compare_w_sort")
    by_options = ["mean", *(run.id for run in comparison.runs)]
    names = {"mean": "mean of all runs", **{run.id: run.name for run in comparison.runs}}
    by = row2[1].selectbox("Confidence of", by_options, format_func=names.get, key="compare_w_sort_by",
                           disabled=sort == SORTS[0])
    problem = cmp.view_problem(comparison, view)
    if problem:
        st.info(problem[0].upper() + problem[1:])
        return
    shown = cmp.filter_examples(frame, comparison, view, None if label == "All classes" else label, search)
    shown = cmp.sort_examples(shown, comparison, None if sort == SORTS[0] else by, ascending=sort != SORTS[2])
    with row2[2]:
        st.caption(f"**{len(shown):,}** of {len(frame):,} test examples")
        st.download_button("Download these rows (CSV)", data=cmp.examples_csv(shown), file_name="examples.csv",
                           mime="text/csv", icon=":material/download:", key="compare_download_examples",
                           on_click="ignore", disabled=shown.empty)
    display = shown.drop(columns=[comparison.correct_column(run) for run in comparison.runs])
    for run in comparison.runs:  # a mark makes right and wrong visible at a glance; the CSV keeps plain labels
        column = comparison.predicted_column(run)
        display[column] = [("✓ " if ok else "✗ ") + value for value, ok in
                           zip(shown[column], shown[comparison.correct_column(run)])]
    config = {"Row": st.column_config.NumberColumn(width="small", help="Position in the test split"),
              "Text": st.column_config.TextColumn(width="large"), "Gold": st.column_config.TextColumn(width="small")}
    for run in comparison.runs:
        config[comparison.predicted_column(run)] = st.column_config.TextColumn(
            run.name, help=f"{run.name}: predicted label (✓ right, ✗ wrong); run {run.id}")
        config[comparison.confidence_column(run)] = st.column_config.ProgressColumn(
            "confidence", min_value=0.0, max_value=1.0, format="percent", width=110,
            help=f"{run.name}: probability of its predicted label")
    st.dataframe(display, hide_index=True, width="stretch", column_config=config,
                 height=min(38 + 35 * len(display), 560))


# -- learning curves ---------------------------------------------------------------------------------
def _curve_label(group: str, runs: list) -> str:
    """What identifies a curve (its progress is shown below it: a label must not change while it runs)."""
    configs = [run.config() for run in runs]
    sizes = {config.get("per_class") for config in configs}
    seeds = {(config.get("method_options") or {}).get("seed", 0) for config in configs}
    started = time.strftime("%d %b %H:%M:%S", time.localtime(configs[0].get("created", 0)))
    return (f"{configs[0].get('method')} · {model_tag(str(configs[0].get('model')))} · {len(sizes)} "
            f"size{_plural(len(sizes))} × {len(seeds)} seed{_plural(len(seeds))} · started {started}")


def _chosen_data() -> LabeledData | None:
    frame = st.session_state.get(DATA_FRAME)
    if frame is None:
        return None
    try:
        return tlcore.to_labeled(frame, st.session_state.get(DATA_TEXT_COLUMN), st.session_state.get(DATA_LABEL_COLUMN),
                                 name=st.session_state.get(DATA_NAME) or "the data")
    except tlcore.TLCoreError:
        return None


def new_curve_form(comparison: cmp.Comparison, store: tlcore.RunStore) -> None:
    """Start a learning curve on this test set: a method at several sizes and seeds, in a background worker."""
    reference = store.get(comparison.runs[0].id)
    config = reference.config()
    data = _chosen_data()
    data_name = st.session_state.get(DATA_NAME)
    if data is None:
        st.info(f"To start a learning curve, choose the data these runs used (**{config.get('data_name')}**) on the "
                "Data page: the curve's runs are sampled from its training rows.")
        st.page_link(DATA_PAGE, label="Choose data", icon=":material/table:")
        return
    models = [spec for spec in tlcore.list_models() if is_available(spec)]
    cols = st.columns([2, 2, 3, 1])
    model_names = [spec.name for spec in models]
    default_model = config.get("model") if config.get("model") in model_names else model_names[0]
    model = cols[0].selectbox("Model", model_names, index=model_names.index(default_model), key="compare_w_lc_model")
    kind = next(spec.kind for spec in models if spec.name == model)
    methods = [entry.name for entry in tlcore.list_methods() if entry.method_cls.trains and kind in entry.kinds]
    method = cols[1].selectbox("Method", methods, index=methods.index("linear-probe") if "linear-probe" in methods
                               else 0, key="compare_w_lc_method",
                               help="A method that trains; zero-shot and few-shot are drawn as reference lines.")
    split = tlcore.make_split(data, test_size=config.get("test_size", 0.2), val_size=config.get("val_size", 0.1),
                              split_seed=config.get("split_seed", 0)) if not config.get("test_name") else None
    counts = split.train.class_counts() if split else {}
    default = ",".join(str(s) if s else lc.ALL for s in lc.default_sizes(counts)) if counts else "8,16,32,all"
    sizes_text = cols[2].text_input("Examples per class", value=default, key="compare_w_lc_sizes",
                                    help="Comma-separated sizes; 'all' uses every training row. Each size is "
                                         "sampled from the training rows, the test rows stay the same.")
    seeds = cols[3].number_input("Seeds", min_value=1, max_value=10, value=3, key="compare_w_lc_seeds",
                                 help="Each size runs once per seed (another sample of rows and another "
                                      "initialisation); the band shows the spread.")
    present = {r["method"] for r in lc.references(store, comparison.test_fingerprint, model)}
    missing = [m for m in tlcore.methods.reference_methods() if m not in present]
    with_refs = st.checkbox(f"Also run {' and '.join(missing)} with {model} as reference line"
                            f"{'s' if len(missing) > 1 else ''}", value=True, key="compare_w_lc_refs",
                            disabled=not missing) if missing else False
    try:
        sizes = lc.parse_sizes(sizes_text)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    n_runs = len(sizes) * int(seeds)
    if data_name and data_name != config.get("data_name"):
        st.caption(f":material/warning: The data chosen now is {data_name}; these runs used "
                   f"{config.get('data_name')}. The curve starts only if it gives the same test rows.")
    if st.button(f"Start learning curve ({n_runs} run{'s' if n_runs != 1 else ''})", type="primary",
                 icon=":material/trending_up:", key="compare_lc_start"):
        try:
            runs = lc.curve_like(reference, data, method, model, sizes, range(int(seeds)), store)
            extra = lc.references_like(reference, data, model, missing, store) if with_refs else []
            lc.start_curve(extra + runs)
        except tlcore.TLCoreError as exc:  # a refused curve, or no process / cluster to run it (start_curve)
            st.error(str(exc))
            return
        st.session_state[curve_key(comparison.test_fingerprint)] = runs[0].config()["group"]  # show the new one
        st.rerun()


def curve_view(group: str, store: tlcore.RunStore, fingerprint: str, metric: str, margin: float,
               reference_name: str | None) -> int:
    """The chosen curve: progress while it runs, the chart, and the answer to 'how much data to beat X?'."""
    runs = lc.curve_groups(store, fingerprint).get(group, [])
    if not runs:
        st.info("This learning curve's runs were deleted.")
        return 0
    counts = lc.curve_status(runs)
    live = sum(counts.get(state, 0) for state in tlcore.LIVE_STATES)
    line = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    if live:
        st.progress(counts.get("succeeded", 0) / len(runs), text=f"{counts.get('succeeded', 0)} of {len(runs)} runs "
                                                                 f"finished ({line})")
        if st.button("Cancel learning curve", icon=":material/cancel:", key=f"compare_lc_cancel::{group}"):
            asked = lc.cancel_curve(runs)
            st.toast(f"Cancel requested for {asked} run{'s' if asked != 1 else ''}.")
    else:
        st.caption(f"{len(runs)} run{'s' if len(runs) != 1 else ''}: {line}.")
    points = lc.curve_points(runs)
    summary = lc.curve_summary(points, metric)
    refs = lc.references(store, fingerprint)
    if not points:
        st.info("No point finished yet: the first appears when its run succeeds.")
    else:
        st.plotly_chart(learning_curve_figure(points, summary, refs, metric), width="stretch",
                        key=f"compare_lc_chart::{group}", config=CHART_CONFIG)
        answer_line(summary, refs, metric, margin, reference_name)
        st.dataframe(_styled(summary_frame(summary), SUMMARY_FORMATS), hide_index=True, width="stretch")
    if live == 0 and counts.get("failed"):
        errors = {run.status().get("error") for run in runs if run.status().get("status") == "failed"}
        st.warning("Some runs failed: " + "; ".join(sorted(str(e) for e in errors)))
    return live


SUMMARY_FORMATS = {"mean": "{:.3f}", "std": "{:.3f}", "min": "{:.3f}", "max": "{:.3f}", "training rows": "{:,.0f}"}
BAND_COLUMN = "95 % interval"


def summary_frame(summary: list[dict]) -> pd.DataFrame:
    """One row per size; the last column is the band's 95 % interval and what it is across (seeds or test rows)."""
    return pd.DataFrame([{"examples per class": str(row["per_class"]), "training rows": row["n_train"],
                          "seeds": row["seeds"], "mean": row["mean"], "std": row["std"], "min": row["min"],
                          "max": row["max"],
                          BAND_COLUMN: (f"{cmp.interval_text((row['low'], row['high']), '{:.3f}')} ({_band_words(row)})"
                                        if row.get("band") else None)} for row in summary])


def answer_line(summary: list[dict], refs: list[dict], metric: str, margin: float, reference_name: str | None) -> None:
    ref = next((r for r in refs if r["name"] == reference_name), None)
    if ref is None or ref.get(metric) is None:
        st.caption("Run zero-shot or few-shot on this test set to see how much labeled data beats them.")
        return
    label = "accuracy" if metric == "accuracy" else "macro-F1"
    unit = 100 if metric == "accuracy" else 1
    target = ref[metric] + margin / unit
    shown_margin = f"{margin:g} points" if metric == "accuracy" else f"{margin:g}"
    row = lc.examples_needed(summary, ref[metric], margin / unit)
    if row is None:
        st.warning(f"No size on this curve beats {ref['name']} ({ref[metric]:.3f} {label}) by {shown_margin} on "
                   f"average (needs a mean {label} above {target:.3f}).")
    else:
        size = ("all training rows" if row["per_class"] == lc.ALL
                else f"**{row['per_class']} labeled examples per class**")
        st.success(f"To beat {ref['name']} ({ref[metric]:.3f}) by {shown_margin} of {label}, you need {size} "
                   f"(mean {row['mean']:.3f} ± {row['std']:.3f} over {row['seeds']} seed"
                   f"{'s' if row['seeds'] != 1 else ''}).")


def curve_key(fingerprint: str) -> str:
    """The widget key of the learning-curve chooser of one test set (its value: the chosen group id)."""
    return f"compare_w_lc_group::{fingerprint}"


def learning_curve_section(comparison: cmp.Comparison, store: tlcore.RunStore) -> str | None:
    """Existing curves on this test set and the form to start one; returns the chosen curve's group id."""
    st.caption("A learning curve runs one method at 8, 16, 32, … labeled examples per class (and all), with several "
               "seeds, on the same test rows: how much labeled data do you need to beat zero-shot?")
    groups = lc.curve_groups(store, comparison.test_fingerprint)
    with st.expander("New learning curve", expanded=not groups, icon=":material/add:"):
        new_curve_form(comparison, store)
    if not groups:
        return None
    options = list(groups)
    key = curve_key(comparison.test_fingerprint)
    if st.session_state.get(key) not in options:  # deleted meanwhile, or never chosen: the newest curve
        st.session_state.pop(key, None)
    group = st.selectbox("Learning curve", options, format_func=lambda g: _curve_label(g, groups[g]), key=key)
    refs = lc.references(store, comparison.test_fingerprint)
    cols = st.columns([2, 3, 2])
    metric = cols[0].radio("Metric", ["accuracy", "macro_f1"], format_func=lambda m: "accuracy" if m == "accuracy"
                           else "macro-F1", horizontal=True, key="compare_w_lc_metric")
    reference_name = cols[1].selectbox("Beat", [r["name"] for r in refs] or ["(no zero-shot or few-shot run)"],
                                       key="compare_w_lc_ref", disabled=not refs)
    margin = cols[2].number_input("by (points)" if metric == "accuracy" else "by (macro-F1)", min_value=0.0,
                                  max_value=100.0 if metric == "accuracy" else 1.0,
                                  value=5.0 if metric == "accuracy" else 0.05,
                                  step=1.0 if metric == "accuracy" else 0.01, key=f"compare_w_lc_margin::{metric}")
    live = any(run.status().get("status") in tlcore.LIVE_STATES for run in groups[group])

    def draw() -> None:
        still_live = curve_view(group, store, comparison.test_fingerprint, metric, margin,
                                reference_name if refs else None)
        if live and not still_live:
            st.rerun()  # finished: redraw the whole page once (the run list and the report gain the new runs)

    st.fragment(draw, run_every=POLL_SECONDS if live else None)()
    return group


def curve_for_report(group: str | None, store: tlcore.RunStore, fingerprint: str):
    """(figure, summary table) of the chosen curve for the report, or (None, None)."""
    if not group:
        return None, None
    runs = lc.curve_groups(store, fingerprint).get(group, [])
    points = lc.curve_points(runs)
    if not points:
        return None, None
    summary = lc.curve_summary(points, "accuracy")
    config = runs[0].config()
    title = f"{config.get('method')} · {model_tag(str(config.get('model')))}"
    figure = learning_curve_figure(points, summary, lc.references(store, fingerprint), "accuracy")
    table = cmp.format_table(summary_frame(summary), SUMMARY_FORMATS)
    return (f"Learning curve: {title}", figure), (f"Learning curve: {title} (accuracy across seeds)", table)


# -- report ------------------------------------------------------------------------------------------
def report_html(comparison: cmp.Comparison, rel: dict[str, cal.Reliability], curve=None, curve_table=None) -> str:
    """The page's tables and figures as one offline HTML file."""
    figures = [("Confusion matrices: counts (rows: gold label, columns: predicted label)",
                confusion_grid_figure(comparison)),
               ("Confusion matrices: share of each gold class (the diagonal is each class's recall)",
                confusion_grid_figure(comparison, normalize=True)),
               ("Per-class F1", per_class_f1_figure(comparison)),
               ("Reliability diagram: accuracy against confidence in 10 equal-width bins (the diagonal is perfect "
                "calibration)", reliability_figure(comparison, rel))]
    if curve:
        figures.append(curve)
    calibration = pd.DataFrame([{"Run": run.name, "ECE": f"{rel[run.id].ece:.3f}",
                                 "Mean confidence": f"{rel[run.id].mean_confidence:.1%}",
                                 "Accuracy": f"{rel[run.id].accuracy:.1%}"} for run in comparison.runs])
    sections = [("Calibration (10 equal-width confidence bins)", calibration)]
    if curve_table:
        sections.append(curve_table)
    return tlcore.build_report(comparison, figures, ece={run_id: r.ece for run_id, r in rel.items()},
                               sections=sections)


def report_section(comparison: cmp.Comparison, rel: dict[str, cal.Reliability], curve_group: str | None,
                   store: tlcore.RunStore) -> None:
    st.caption("One HTML file with the tables, charts, the data summary and every run's settings. It opens offline "
               "in any browser (nothing is loaded from the internet), so it can be mailed to people without "
               "TransferLab.")
    curve, curve_table = curve_for_report(curve_group, store, comparison.test_fingerprint)
    name = (comparison.info.get("data_name") or "comparison").rsplit(".", 1)[0]
    st.download_button("Download report (HTML)", data=lambda: report_html(comparison, rel, curve, curve_table),
                       file_name=f"transferlab-{name}-{comparison.test_fingerprint[:8]}.html", mime="text/html",
                       icon=":material/description:", key="compare_download_report", on_click="ignore",
                       type="primary")
    if curve:
        st.caption(f"Includes the learning curve chosen in its tab: {curve[0].split(': ', 1)[1]}.")


# -- the page ---------------------------------------------------------------------------------------
TABS = ["Metrics", "Confusion matrices", "Per-class F1", "Calibration", "Examples", "Learning curve", "Report"]


TEST_SET = "compare_w_test_set"


def _follow_link(groups: dict[str, list[RunSummary]]) -> str | None:
    """?run=ID (a shared link): choose that run's test set; return the run id to add to the selection."""
    wanted = new_linked_run("compare")
    if wanted is None:
        return None
    fingerprint = next((fp for fp, runs in groups.items() if any(s.id == wanted for s in runs)), None)
    if fingerprint is None:
        st.warning(f"The link asks for run `{wanted}`, which is not a finished run of this runs folder.",
                   icon=":material/link_off:")
        return None
    st.session_state[TEST_SET] = fingerprint
    return wanted


def choose_runs(store: tlcore.RunStore, summaries: Sequence[RunSummary]) -> list[str] | None:
    """Test-set and run pickers; the chosen run ids (None when there is nothing to compare)."""
    groups = cmp.comparable_groups(summaries)
    if not groups:
        return None
    fingerprints = list(groups)

    def group_label(fp: str) -> str:
        runs = groups[fp]
        rows = f"{runs[0].n_test:,} test rows" if runs[0].n_test else "test rows"
        return (f"{runs[0].data_name} · {rows} · {len(runs)} run{'s' if len(runs) != 1 else ''} · "
                f"test set {fp[:8]}")

    st.caption("Runs are comparable only when they were scored on the same test rows (same data, test size and "
               "split seed), so they are grouped by test set: runs of different test sets cannot be chosen together.")
    linked = _follow_link(groups)
    fingerprint = st.selectbox("Test set", fingerprints, format_func=group_label, disabled=len(fingerprints) == 1,
                               help=f"{len(fingerprints)} different test set(s) among the finished runs.",
                               key=TEST_SET)
    runs = groups[fingerprint]
    curve_of = {}
    for summary in runs:
        try:
            config = store.get(summary.id).config()
        except tlcore.TLCoreError:
            continue
        if config.get("group"):
            curve_of[summary.id] = f" · {config.get('per_class') or 'all'}/class · seed " \
                                   f"{(config.get('method_options') or {}).get('seed', 0)} (learning curve)"
    labels = {s.id: run_label(s.method, s.model, s.id) + curve_of.get(s.id, "") for s in runs}
    options = [s.id for s in runs]
    default = [run_id for run_id in options if run_id not in curve_of] or options
    if curve_of:
        st.caption(f"{len(curve_of)} learning-curve run{'s are' if len(curve_of) != 1 else ' is'} on this test set; "
                   "they are left out of the selection unless you add them (the Learning curve tab shows them).")
    key = f"compare_w_runs::{fingerprint}"
    if linked in options and linked not in st.session_state.get(key, default):
        st.session_state[key] = [*st.session_state.get(key, default), linked]
    return st.multiselect("Runs", options, default=None if key in st.session_state else default,
                          format_func=labels.get, key=key)


def show(comparison: cmp.Comparison, store: tlcore.RunStore) -> None:
    """Every part of the comparison, one tab each."""
    rel = reliabilities(comparison)
    tabs = dict(zip(TABS, st.tabs(TABS, key="compare_tabs")))
    with tabs["Metrics"]:
        metrics_section(comparison, rel)
    with tabs["Confusion matrices"]:
        confusion_section(comparison)
    with tabs["Per-class F1"]:
        per_class_section(comparison)
    with tabs["Calibration"]:
        calibration_section(comparison, rel)
    with tabs["Examples"]:
        examples_section(comparison)
    with tabs["Learning curve"]:
        group = learning_curve_section(comparison, store)
    with tabs["Report"]:
        report_section(comparison, rel, group, store)
