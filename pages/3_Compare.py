"""Step 3 · Compare: finished runs that share a test set, side by side."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import tlcore
import tlui

MATRICES_PER_ROW = 3


def group_label(runs: list[tlcore.RunSummary], n_test: int | None) -> str:
    first = runs[0]
    rows = f"{n_test:,} test rows" if n_test else "test rows"
    return (f"{first.data_name} · {rows} · {len(runs)} run{'s' if len(runs) != 1 else ''} · "
            f"test set {first.test_fingerprint[:8]}")


def metrics_table(selected: list[str], metrics: dict[str, dict]) -> None:
    rows = []
    for run_id in selected:
        m = metrics[run_id]
        rows.append({"Method": m.get("method"), "Model": tlui.model_tag(m.get("model", "")),
                     "Accuracy": m.get("accuracy"), "Macro-F1": m.get("macro_f1"),
                     "Trainable params": m.get("trainable_params"), "Train time (s)": m.get("train_seconds"),
                     "Predict time / 1,000 (s)": m.get("predict_seconds_per_1000"),
                     "Training rows": m.get("n_train"), "Run": run_id})
    rows.sort(key=lambda row: -(row["Accuracy"] or 0.0))
    baseline = next((m["majority_baseline"] for m in metrics.values() if m.get("majority_baseline")), None)
    if baseline:
        share = baseline["accuracy"]
        macro_f1 = baseline.get("macro_f1")
        if macro_f1 is None:  # runs from before tlcore recorded it: F1 2p/(1+p) for that class, 0 for the others
            macro_f1 = 2 * share / (1 + share) / len(next(iter(metrics.values())).get("labels") or [None, None])
        rows.append({"Method": f"majority class ({baseline['label']})", "Model": "—", "Accuracy": share,
                     "Macro-F1": macro_f1, "Trainable params": 0, "Train time (s)": 0.0,
                     "Predict time / 1,000 (s)": 0.0, "Training rows": 0,
                     "Run": "reference: always predicts the test set's most common class"})
    table = pd.DataFrame(rows).style.format(
        {"Accuracy": "{:.1%}", "Macro-F1": "{:.3f}", "Trainable params": "{:,.0f}", "Train time (s)": "{:.1f}",
         "Predict time / 1,000 (s)": "{:.1f}", "Training rows": "{:,.0f}"}, na_rep="–")
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "Accuracy": st.column_config.NumberColumn(help="Share of test rows predicted right."),
        "Macro-F1": st.column_config.NumberColumn(help="F1 averaged over classes, each class counting equally "
                                                       "(fair on imbalanced data)."),
        "Trainable params": st.column_config.NumberColumn(help="Parameters the method trained (0: none)."),
        "Predict time / 1,000 (s)": st.column_config.NumberColumn(
            help="Seconds to classify 1,000 texts on this machine."),
    })


def confusion_matrices(selected: list[str], metrics: dict[str, dict]) -> None:
    st.subheader("Confusion matrices")
    st.caption("Rows are the true (gold) labels, columns the predicted ones; the diagonal counts correct "
               "predictions.")
    for start in range(0, len(selected), MATRICES_PER_ROW):
        chunk = selected[start:start + MATRICES_PER_ROW]
        for column, run_id in zip(st.columns(MATRICES_PER_ROW), chunk):
            m = metrics[run_id]
            title = f"{m.get('method')} · {tlui.model_tag(m.get('model', ''))}"
            subtitle = f"accuracy {m['accuracy']:.1%} · macro-F1 {m['macro_f1']:.3f} · {tlui.run_time(run_id)}"
            with column:
                st.plotly_chart(tlui.confusion_figure(m, title, subtitle), width="stretch",
                                key=f"compare_cm::{run_id}", config={"displayModeBar": False})


def per_class_table(selected: list[str], metrics: dict[str, dict], labels: dict[str, str]) -> None:
    with st.expander("Per-class F1"):
        table = {labels[run_id]: {label: scores.get("f1") for label, scores in
                                  (metrics[run_id].get("per_class") or {}).items()} for run_id in selected}
        st.dataframe(table, width="stretch",
                     column_config={name: st.column_config.NumberColumn(format="%.3f") for name in table})


def main() -> None:
    store = tlcore.RunStore()
    summaries = store.summaries()
    finished = [s for s in summaries if s.status == "succeeded" and s.test_fingerprint]
    live = [s for s in summaries if s.status in tlcore.LIVE_STATES]
    if live:
        st.caption(f":material/progress_activity: {len(live)} run{'s are' if len(live) != 1 else ' is'} still "
                   "going; it appears here once it has finished.")
    if not finished:
        st.info("No finished runs yet. Start one on the Train page; it appears here when it succeeds.")
        st.page_link(tlui.TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
        return

    groups: dict[str, list[tlcore.RunSummary]] = {}
    for summary in finished:  # newest first, so the first group holds the most recent finished run
        groups.setdefault(summary.test_fingerprint, []).append(summary)
    all_metrics: dict[str, dict] = {}

    def metrics_of(run_id: str) -> dict | None:
        if run_id not in all_metrics:
            try:
                all_metrics[run_id] = store.get(run_id).metrics()
            except tlcore.TLCoreError:
                all_metrics[run_id] = None
        return all_metrics[run_id]

    def n_test(fingerprint: str) -> int | None:
        m = metrics_of(groups[fingerprint][0].id)
        return m.get("n_test") if m else None

    fingerprints = list(groups)
    st.caption("Runs are comparable only when they were scored on the same test rows (same data, test size "
               "and split seed), so they are grouped by test set.")
    fingerprint = st.selectbox("Test set", fingerprints,
                               format_func=lambda fp: group_label(groups[fp], n_test(fp)),
                               disabled=len(fingerprints) == 1,
                               help=f"{len(fingerprints)} different test set(s) among the finished runs.")
    runs = groups[fingerprint]
    labels = {s.id: tlui.run_label(s.method, s.model, s.id) for s in runs}
    options = [s.id for s in runs]
    selected = st.multiselect("Runs", options, default=options, format_func=labels.get,
                              key=f"compare_w_runs::{fingerprint}")
    selected = [run_id for run_id in selected if metrics_of(run_id)]
    if not selected:
        st.info("Select at least one run.")
        return
    metrics = {run_id: metrics_of(run_id) for run_id in selected}
    metrics_table(selected, metrics)
    confusion_matrices(selected, metrics)
    per_class_table(selected, metrics, labels)


tlui.page_setup("Compare")
st.title("3 · Compare")
main()
