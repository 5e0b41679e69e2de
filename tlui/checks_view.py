"""The Compare page's "Does it transfer, and is it fair?" section: out-of-domain evaluation, slices,
counterfactual probe and compute footprint for the chosen runs.

tlcore.compare.checks computes everything and saves it in the run folders (so the CLI and the report see the same
results); this module only lays it out. Models load only when the user asks for a check that needs one.
"""
from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import tlcore
from tlcore.compare import checks
from tlcore.data import guess_columns

from .charts import CHART_CONFIG
from .fmt import fmt_count, fmt_percent, fmt_seconds, model_tag, run_label
from .state import DATA_FRAME, DATA_NAME, DATA_TEXT_COLUMN

__all__ = ["render_checks"]

CHECK_TABS = ("Out-of-domain", "Slices", "Counterfactual probe", "Compute footprint")
KEY = "compare_checks"  # widget-key prefix of this section
UPLOAD_TYPES = ["csv", "tsv", "txt", "jsonl", "json", "xlsx", "parquet"]
WORST_STYLE = "background-color: #fee2e2; font-weight: 600"
SMALL_STYLE = "color: #9ca3af; font-style: italic"
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02,
                                                                 xanchor="left", x=0))


# -- cached work --------------------------------------------------------------------------------------
@st.cache_resource(max_entries=2, show_spinner=False)
def _loaded_method(run_path: str):
    """A run's method, loaded once per app process (scoring never changes it: tlcore copies it per call)."""
    return tlcore.load_method(tlcore.Run(Path(run_path)))


@st.cache_data(show_spinner=False, max_entries=8)
def _read_upload(raw: bytes, name: str) -> pd.DataFrame:
    return tlcore.read_table(io.BytesIO(raw), name=name)


@st.cache_data(show_spinner=False, max_entries=8)
def _read_path(path: str) -> pd.DataFrame:
    return tlcore.read_table(path)


@st.cache_data(show_spinner=False, max_entries=64)
def _footprint(run_path: str, assumptions: dict) -> dict:
    return checks.compute_footprint(tlcore.Run(Path(run_path)), checks.FootprintAssumptions(**assumptions)).to_dict()


def _frame_key(frame: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes()).hexdigest()[:16]


@st.cache_data(show_spinner=False, max_entries=64, hash_funcs={pd.DataFrame: _frame_key})
def _slices(run_path: str, column: str, source: pd.DataFrame | None, text_column: str | None, min_size: int,
            source_name: str) -> dict:
    run = tlcore.Run(Path(run_path))
    return checks.slice_metrics(run, column, source, text_column=text_column, min_size=min_size,
                                source_name=source_name).to_dict()


# -- helpers ------------------------------------------------------------------------------------------
def _runs(run_ids: Sequence[str], store: tlcore.RunStore) -> dict[str, tuple[tlcore.Run, dict]]:
    """Finished runs with their configs, in the order given; others are skipped."""
    out = {}
    for run_id in run_ids:
        try:
            run = store.get(run_id)
            out[run_id] = (run, run.config())
        except tlcore.TLCoreError:
            continue
    return out


def _name(run_id: str, config: dict) -> str:
    return run_label(config.get("method", ""), config.get("model", ""), run_id)


def _short(config: dict) -> str:
    return f"{config.get('method', '')} · {model_tag(config.get('model', ''))}"


def _uploaded_frame(label: str, key: str) -> tuple[pd.DataFrame | None, str]:
    upload = st.file_uploader(label, type=UPLOAD_TYPES, key=key)
    if upload is None:
        return None, ""
    try:
        return _read_upload(upload.getvalue(), upload.name), upload.name
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return None, ""


def _domain_picker(label: str, key: str, configs: Sequence[dict]) -> str:
    """A built-in review domain; the default is one the runs were not trained on."""
    names = list(checks.SENTIMENT_DOMAINS)
    trained = {str(c.get("data_name", "")).lower() for c in configs}
    default = next((i for i, n in enumerate(names) if not any(n.lower() in t for t in trained)), 0)
    return st.selectbox(label, names, index=default, key=key,
                        help="Review sentences from Amazon, IMDb and Yelp with the same labels (negative, "
                             "positive): Sentiment Labelled Sentences, Kotzias et al., KDD 2015 (UCI).")


# -- out-of-domain ------------------------------------------------------------------------------------
def _ood_source(configs: Sequence[dict]) -> tuple[pd.DataFrame | None, str]:
    source = st.radio("Test on", ["A built-in review domain", "My own labeled file"], horizontal=True,
                      key=f"{KEY}_ood_source")
    if source == "A built-in review domain":
        domain = _domain_picker("Domain", f"{KEY}_ood_domain", configs)
        path = checks.SENTIMENT_DOMAINS[domain]
        return _read_path(str(path)), path.name
    return _uploaded_frame("Labeled file with the runs' labels", f"{KEY}_ood_upload")


def _label_mapping(frame: pd.DataFrame, text_column: str, label_column: str, labels: list[str],
                   data_name: str) -> dict[str, str] | None:
    """Widgets mapping the file's labels onto the runs' labels; None until every label is mapped."""
    try:
        found = sorted(set(tlcore.to_labeled(frame, text_column, label_column, name=data_name).labels))
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return None
    mapping: dict[str, str] = {}
    unmatched = []
    for label in found:
        try:
            mapping.update(checks.match_labels([label], labels))
        except tlcore.TLCoreError:
            unmatched.append(label)
    if unmatched:
        st.warning(f"{data_name} has labels the runs never learned ({', '.join(unmatched)}); the runs know "
                   f"{', '.join(labels)}. Say which run label each one means:")
        for column, label in zip(st.columns(min(4, len(unmatched))) * len(unmatched), unmatched):
            choice = column.selectbox(f"{label} means", labels, index=None, placeholder="choose a label",
                                      key=f"{KEY}_ood_map::{label}")
            if choice is None:
                return None
            mapping[label] = choice
    return mapping


def _ood_tab(runs: dict[str, tuple[tlcore.Run, dict]]) -> None:
    st.caption("Score the chosen runs on a second labeled file with the same labels and compare with their own "
               "test accuracy: the gap shows how well what they learned carries over to other texts.")
    configs = [config for _, config in runs.values()]
    frame, data_name = _ood_source(configs)
    if frame is not None:
        labels = list(configs[0].get("labels") or [])
        first = configs[0]
        columns = [str(c) for c in frame.columns]
        try:
            guess = guess_columns(frame)
        except tlcore.TLCoreError as exc:
            st.error(str(exc))
            return
        own = (first.get("text_column"), first.get("label_column"))
        default = own if own[0] in columns and own[1] in columns else guess
        left, right = st.columns(2)
        text_column = left.selectbox("Text column", columns, index=columns.index(default[0]),
                                     key=f"{KEY}_ood_text::{data_name}")
        label_column = right.selectbox("Label column", columns, index=columns.index(default[1]),
                                       key=f"{KEY}_ood_label::{data_name}")
        mapping = _label_mapping(frame, text_column, label_column, labels, data_name)
        if st.button(f"Evaluate {len(runs)} run{'s' if len(runs) != 1 else ''} on {data_name}", type="primary",
                     disabled=mapping is None or text_column == label_column, key=f"{KEY}_ood_go"):
            _evaluate_all(runs, frame, data_name, text_column, label_column, mapping or {})
    _ood_results(runs)


def _evaluate_all(runs, frame, data_name, text_column, label_column, mapping) -> None:
    """Score every run on the file, skipping saved evaluations; a failure shows its error and the rest go on."""
    progress = st.progress(0.0, text="Starting…")
    for done, (run_id, (run, config)) in enumerate(runs.items()):
        progress.progress(done / len(runs), text=f"Scoring {len(frame):,} texts with {_short(config)} "
                                                 f"({done + 1} of {len(runs)})…")
        try:
            prepared = checks.prepare(run, frame, data_name=data_name, text_column=text_column,
                                      label_column=label_column, label_map=mapping)
            saved = checks.load_evaluations(run)
            if any(e.name == prepared.name and e.data_fingerprint == prepared.fingerprint for e in saved):
                continue  # scored before: the saved result is shown below
            with st.spinner(f"Loading {_short(config)} and scoring {len(prepared.data):,} texts…"):
                checks.evaluate_ood(run, frame, data_name=data_name, text_column=text_column,
                                    label_column=label_column, label_map=mapping, method=_loaded_method(str(run.path)))
        except tlcore.TLCoreError as exc:
            st.error(f"{_short(config)}: {exc}")
    progress.empty()


def _ood_results(runs: dict[str, tuple[tlcore.Run, dict]]) -> None:
    rows, results = [], []
    for run_id, (run, config) in runs.items():
        for result in checks.load_evaluations(run):
            results.append((run_id, config, result))
            rows.append({"Run": _short(config), "Trained on": result.in_domain.get("data_name") or "",
                         "Evaluated on": result.data_name, "Rows": result.n,
                         "In-domain accuracy": result.in_domain.get("accuracy"),
                         "Out-of-domain accuracy": result.out_of_domain["accuracy"],
                         "Gap (points)": None if result.gap_accuracy is None else 100 * result.gap_accuracy,
                         "In-domain macro-F1": result.in_domain.get("macro_f1"),
                         "Out-of-domain macro-F1": result.out_of_domain["macro_f1"],
                         "Notes": "; ".join(result.notes() + ([
                             "labels mapped: " + ", ".join(f"{k}→{v}" for k, v in result.label_mapping.items())]
                             if result.label_mapping else []))})
    if not rows:
        st.info("No out-of-domain evaluation yet for these runs: pick a file above and press Evaluate.")
        return
    table = pd.DataFrame(rows)
    styled = table.style.format({"In-domain accuracy": "{:.1%}", "Out-of-domain accuracy": "{:.1%}",
                                 "Gap (points)": "{:+.1f}", "In-domain macro-F1": "{:.3f}",
                                 "Out-of-domain macro-F1": "{:.3f}", "Rows": "{:,}"}, na_rep="–")
    styled = styled.map(lambda v: "color: #b91c1c; font-weight: 600" if isinstance(v, float) and v <= -5 else "",
                        subset=["Gap (points)"])
    st.dataframe(styled, hide_index=True, width="stretch", key=f"{KEY}_ood_table", column_config={
        "Gap (points)": st.column_config.NumberColumn(
            help="Out-of-domain minus in-domain accuracy, in percentage points (below 0: worse on the other file)."),
        "Notes": st.column_config.TextColumn(help="Overlap with the run's own data, and labels that were mapped.")})
    st.plotly_chart(_ood_figure(results), width="stretch", key=f"{KEY}_ood_chart",
                    config=CHART_CONFIG)
    with st.expander("Most confident mistakes out of domain"):
        for run_id, config, result in results:
            if result.errors:
                st.markdown(f"**{_short(config)}** on {result.data_name}")
                st.dataframe(pd.DataFrame(result.errors), hide_index=True, width="stretch",
                             key=f"{KEY}_ood_errors::{run_id}::{result.name}",
                             column_config={"confidence": st.column_config.NumberColumn(format="%.2f")})


def _ood_figure(results) -> go.Figure:
    """In-domain vs out-of-domain accuracy per run: one bar group per run."""
    names = list(dict.fromkeys(_short(config) for _, config, _ in results))
    fig = go.Figure()
    in_domain = {}
    for _, config, result in results:
        in_domain.setdefault(_short(config), result.in_domain.get("accuracy"))
    fig.add_trace(go.Bar(x=names, y=[in_domain[n] for n in names], name="in-domain (own test split)",
                         marker_color="#2563eb", hovertemplate="%{x}<br>in-domain %{y:.1%}<extra></extra>"))
    palette = ["#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2"]
    files = list(dict.fromkeys(result.data_name for _, _, result in results))
    for index, data_name in enumerate(files):
        values = {_short(config): result.out_of_domain["accuracy"] for _, config, result in results
                  if result.data_name == data_name}
        fig.add_trace(go.Bar(x=names, y=[values.get(n) for n in names], name=f"on {data_name}",
                             marker_color=palette[index % len(palette)],
                             hovertemplate=f"%{{x}}<br>{data_name} %{{y:.1%}}<extra></extra>"))
    fig.update_layout(barmode="group", height=320, yaxis=dict(title=dict(text="accuracy"), range=[0, 1],
                                                              tickformat=".0%"), **_LAYOUT)
    return fig


# -- slices -------------------------------------------------------------------------------------------
def _slice_source(configs: Sequence[dict]) -> tuple[str | None, pd.DataFrame | None, str | None, str]:
    """(column, source frame, its text column, source name); column None until one is chosen."""
    options = [checks.TEXT_LENGTH + " (built in)"]
    data_frame = st.session_state.get(DATA_FRAME)
    data_name = st.session_state.get(DATA_NAME)
    trained_on = {c.get("data_name") for c in configs}
    if data_frame is not None and data_name in trained_on:
        options.append(f"A column of {data_name} (the Data page's table)")
    options.append("A column of an uploaded file")
    choice = st.radio("Slice by", options, horizontal=True, key=f"{KEY}_slice_source")
    if choice == options[0]:
        return checks.TEXT_LENGTH, None, None, ""
    if choice.endswith("(the Data page's table)"):
        frame, name, text_column = data_frame, data_name, st.session_state.get(DATA_TEXT_COLUMN)
    else:
        frame, name = _uploaded_frame("The data file the runs were trained on, with the column to slice by",
                                      f"{KEY}_slice_upload")
        text_column = None
        if frame is None:
            return None, None, None, ""
    text_column = text_column or configs[0].get("text_column")
    candidates = [str(c) for c in frame.columns if str(c) != text_column]
    if not candidates:
        st.warning(f"{name} has no column besides the text.")
        return None, None, None, ""
    label_column = configs[0].get("label_column")
    default = next((i for i, c in enumerate(candidates) if c != label_column), 0)
    column = st.selectbox("Column", candidates, index=default, key=f"{KEY}_slice_column::{name}",
                          help="Each test text is looked up in this file's text column to find its value.")
    return column, frame, text_column, name


def _slices_tab(runs: dict[str, tuple[tlcore.Run, dict]]) -> None:
    st.caption("Accuracy, macro-F1 and error rate of each run's test predictions for each value of another "
               "column: where does a model fail? The worst slice is highlighted; slices with too few test rows "
               "are marked and never called the worst.")
    configs = [config for _, config in runs.values()]
    column, frame, text_column, source_name = _slice_source(configs)
    left, right = st.columns(2)
    metric = left.segmented_control("Show", ["Accuracy", "Macro-F1", "Error rate"], default="Accuracy",
                                    key=f"{KEY}_slice_metric") or "Accuracy"
    min_size = right.number_input("Too small to judge below (test rows)", min_value=1, max_value=10_000,
                                  value=checks.MIN_SLICE_SIZE, key=f"{KEY}_slice_min")
    if column is None:
        return
    reports = {}
    for run_id, (run, config) in runs.items():
        try:
            reports[run_id] = checks.SliceReport.from_dict(
                _slices(str(run.path), column, frame, text_column, int(min_size), source_name))
        except tlcore.TLCoreError as exc:
            st.error(f"{_short(config)}: {exc}")
            return
    if not reports:
        return
    first = next(iter(reports.values()))
    lost = []
    if first.n_unmatched:
        lost.append(f"{first.n_unmatched} test texts are not in the file")
    if first.n_ambiguous:
        lost.append(f"{first.n_ambiguous} appear in it with two different values")
    st.caption(f"{first.n_matched:,} of {first.n_test:,} test rows placed" + (f" ({'; '.join(lost)}; they are left "
               "out)" if lost else "") + ".")
    st.dataframe(_slice_table(reports, runs, metric), hide_index=True, width="stretch", key=f"{KEY}_slice_table")
    worst = [f"**{_short(runs[run_id][1])}**: {report.worst} "
             f"({fmt_percent(report.row(report.worst).accuracy)} accuracy)" for run_id, report in reports.items()
             if report.worst]
    if worst:
        st.markdown("Worst slice — " + " · ".join(worst))
    else:
        st.caption("No worst slice: fewer than two slices are large enough to judge.")


def _slice_table(reports: dict[str, checks.SliceReport], runs, metric: str):
    attribute = {"Accuracy": "accuracy", "Macro-F1": "macro_f1", "Error rate": "error_rate"}[metric]
    values = list(dict.fromkeys(row.value for report in reports.values() for row in report.rows))
    names = {run_id: _short(runs[run_id][1]) for run_id in reports}
    if len(set(names.values())) < len(names):  # two runs of one method: tell them apart
        names = {run_id: _name(run_id, runs[run_id][1]) for run_id in reports}
    rows = []
    for value in values:
        row = {"Slice": value}
        for run_id, report in reports.items():
            found = next((r for r in report.rows if r.value == value), None)
            row["Rows"] = found.n if found else row.get("Rows", 0)
            row[names[run_id]] = getattr(found, attribute) if found else None
        small = all(next((r.too_small for r in rep.rows if r.value == value), True) for rep in reports.values())
        row["Note"] = "too small to judge" if small else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    fmt = "{:.3f}" if attribute == "macro_f1" else "{:.1%}"

    def style(frame: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for run_id, report in reports.items():
            for i, value in enumerate(frame["Slice"]):
                if value == report.worst:
                    css.loc[i, names[run_id]] = WORST_STYLE
        for i, note in enumerate(frame["Note"]):
            if note:
                css.loc[i, :] = SMALL_STYLE
        return css

    return table.style.format({name: fmt for name in names.values()} | {"Rows": "{:,}"}, na_rep="–").apply(
        style, axis=None)


# -- counterfactual -----------------------------------------------------------------------------------
def _probe_texts(runs) -> tuple[list[str] | None, str]:
    configs = [config for _, config in runs.values()]
    choice = st.radio("Texts", ["The runs' test texts", "A built-in review domain"], horizontal=True,
                      key=f"{KEY}_probe_texts")
    if choice == "The runs' test texts":
        return None, "test split"
    domain = _domain_picker("Domain", f"{KEY}_probe_domain", configs)
    path = checks.SENTIMENT_DOMAINS[domain]
    frame = _read_path(str(path))
    return [text for text in frame["text"].dropna().astype(str).str.strip() if text], path.name


def _probe_tab(runs: dict[str, tuple[tlcore.Run, dict]]) -> None:
    st.caption("Swap each term for its partner (both ways, whole words, case kept) in the texts that contain one, "
               "and see how often the prediction flips and how much the confidence moves. Zero-shot and "
               "few-shot runs show the base model's own sensitivity; trained runs show whether training "
               "amplified or reduced it.")
    default = "\n".join(f"{a}:{b}" for a, b in checks.DEFAULT_PAIRS)
    left, right = st.columns([1, 2])
    text = left.text_area("Term pairs (one A:B per line)", value=default, height=260, key=f"{KEY}_probe_pairs",
                          help="Gendered words and first names of different genders and origins; edit freely. "
                               "A term may appear in one pair only.")
    with right:
        texts, source = _probe_texts(runs)
        try:
            pairs = checks.parse_pairs(text)
        except tlcore.TLCoreError as exc:
            st.error(str(exc))
            return
        st.caption(f"{len(pairs)} pairs. Note: 'her' is both possessive and object, so his↔her cannot be "
                   "grammatical in every sentence.")
        missing = [run_id for run_id, (run, _) in runs.items() if checks.saved_probe(run, pairs, texts) is None]
        go_label = f"Run the probe on {len(missing)} run{'s' if len(missing) != 1 else ''}" if missing else \
            "Probed: results below"
        if st.button(go_label, type="primary", disabled=not missing, key=f"{KEY}_probe_go"):
            progress, failed = st.progress(0.0, text="Starting…"), False
            for done, run_id in enumerate(missing):
                run, config = runs[run_id]
                progress.progress(done / len(missing), text=f"Probing {_short(config)} ({done + 1} of "
                                                            f"{len(missing)})…")
                try:
                    with st.spinner(f"Loading {_short(config)} and scoring the swapped texts…"):
                        checks.probe_counterfactual(run, pairs, texts, source=source,
                                                    method=_loaded_method(str(run.path)))
                except tlcore.TLCoreError as exc:
                    st.error(f"{_short(config)}: {exc}")
                    failed = True
            progress.empty()
            if not failed:
                st.rerun()  # redraw the button as done
    results = {run_id: checks.saved_probe(run, pairs, texts) for run_id, (run, _) in runs.items()}
    results = {run_id: result for run_id, result in results.items() if result is not None}
    if not results:
        st.info("No probe yet with these pairs on these texts: press the button to run it.")
        return
    rows = [{"Run": _short(runs[run_id][1]), "Texts": r.n_texts, "Texts with a term": r.n_affected,
             "Flipped": r.n_flipped, "Flip rate": r.flip_rate, "Mean |Δ confidence|": r.mean_abs_delta,
             "Mean Δ confidence": r.mean_delta,
             "Flips to": ", ".join(f"{label} {n}" for label, n in r.flips_to.items())}
            for run_id, r in results.items()]
    st.dataframe(pd.DataFrame(rows).style.format({"Flip rate": "{:.1%}", "Mean |Δ confidence|": "{:.3f}",
                                                  "Mean Δ confidence": "{:+.3f}"}, na_rep="–"),
                 hide_index=True, width="stretch", key=f"{KEY}_probe_table", column_config={
                     "Mean |Δ confidence|": st.column_config.NumberColumn(
                         help="Mean change of the probability of the originally predicted class after the swap.")})
    for line in checks.sensitivity_verdicts(list(results.values())):
        st.markdown(f":material/balance: {line}")
    for run_id, result in results.items():
        if result.flipped:
            with st.expander(f"{result.n_flipped} flipped by {_short(runs[run_id][1])}"):
                flipped = pd.DataFrame(result.flipped)
                flipped["change"] = flipped["before"] + " → " + flipped["after"]
                st.dataframe(flipped[["change", "delta", "swapped", "text"]], hide_index=True, width="stretch",
                             key=f"{KEY}_probe_flipped::{run_id}", column_config={
                                 "change": st.column_config.TextColumn("Prediction", width="medium"),
                                 "delta": st.column_config.NumberColumn(
                                     "Δ confidence", format="%+.2f",
                                     help="Change of the probability of the originally predicted class."),
                                 "swapped": "Swapped text", "text": "Original text"})


# -- footprint ----------------------------------------------------------------------------------------
def _assumptions() -> checks.FootprintAssumptions:
    defaults = checks.FootprintAssumptions()
    columns = st.columns(4)
    per_core = columns[0].number_input("W per CPU core", min_value=0.5, max_value=500.0,
                                       value=defaults.cpu_watts_per_core, step=1.0, key=f"{KEY}_fp_core_w",
                                       help="Assumed average power of one busy CPU core.")
    cores = columns[1].number_input("CPU cores in use", min_value=1, max_value=512, value=defaults.cpu_cores,
                                    key=f"{KEY}_fp_cores", help="Default: the cores of this machine.")
    gpu = columns[2].number_input("W per GPU", min_value=1.0, max_value=2000.0, value=defaults.gpu_watts,
                                  step=10.0, key=f"{KEY}_fp_gpu_w", help="Used for runs that trained on a GPU.")
    grid = columns[3].number_input("Grid intensity (g CO2e/kWh)", min_value=0.0, max_value=2000.0,
                                   value=defaults.grid_g_per_kwh, step=10.0, key=f"{KEY}_fp_grid",
                                   help="About 400 is a world average; 20–50 for hydro or nuclear grids, "
                                        "700+ for coal-heavy ones.")
    return checks.FootprintAssumptions(cpu_watts_per_core=float(per_core), cpu_cores=int(cores),
                                       gpu_watts=float(gpu), grid_g_per_kwh=float(grid))


def _footprint_tab(runs: dict[str, tuple[tlcore.Run, dict]]) -> None:
    st.caption("What each run cost, next to what it scored: parameters trained, floating-point operations, "
               "measured time, and the energy and CO2e that time implies under the assumptions below.")
    assumptions = _assumptions()
    footprints = []
    with st.spinner("Counting tokens and parameters…"):
        for run, config in runs.values():
            try:
                footprints.append(checks.Footprint(**{k: v for k, v in _footprint(
                    str(run.path), assumptions.to_dict()).items() if k != "wall_seconds"}))
            except tlcore.TLCoreError as exc:
                st.error(f"{_short(config)}: {exc}")
    if not footprints:
        return
    rows = [{"Run": _short(runs[f.run_id][1]), "Accuracy": f.accuracy, "Macro-F1": f.macro_f1,
             "Trainable params": f.trainable_params, "Training FLOPs": checks.flops_text(f.training_flops),
             "Test prediction FLOPs": checks.flops_text(f.prediction_flops), "Wall time": fmt_seconds(f.wall_seconds),
             "Energy (Wh)": 1000 * f.energy_kwh, "CO2e (g)": f.co2e_g, "Power assumed": f.power_basis}
            for f in footprints]
    st.dataframe(pd.DataFrame(rows).style.format({"Accuracy": "{:.1%}", "Macro-F1": "{:.3f}",
                                                  "Trainable params": "{:,}", "Energy (Wh)": "{:.3f}",
                                                  "CO2e (g)": "{:.3f}"}, na_rep="–"),
                 hide_index=True, width="stretch", key=f"{KEY}_fp_table", column_config={
                     "Training FLOPs": st.column_config.TextColumn(help="Floating-point operations of training, "
                                                                       "estimated (see How these are estimated)."),
                     "Wall time": st.column_config.TextColumn(help="Measured training + test prediction time."),
                 })
    for line in checks.compare_compute(footprints):
        st.markdown(f":material/bolt: {line}")
    st.plotly_chart(_footprint_figure(footprints, runs), width="stretch", key=f"{KEY}_fp_chart",
                    config=CHART_CONFIG)
    with st.expander("How these are estimated"):
        st.markdown("\n".join(f"- {line}" for line in checks.explain(assumptions)))


def _log_ticks(values: Sequence[float]) -> list[float]:
    """1-2-5 steps spanning the values (plotly's own log ticks label the minor ones with bare digits)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return []
    low, high = min(positive) / 1.5, max(positive) * 1.5
    ticks = [m * 10.0 ** k for k in range(int(math.floor(math.log10(low))), int(math.ceil(math.log10(high))) + 1)
             for m in (1, 2, 5)]
    return [t for t in ticks if low <= t <= high]


def _footprint_figure(footprints: Sequence[checks.Footprint], runs) -> go.Figure:
    """Accuracy against the run's compute (training + test prediction FLOPs), log scale."""
    fig = go.Figure(go.Scatter(
        x=[f.training_flops + f.prediction_flops for f in footprints], y=[f.accuracy for f in footprints],
        mode="markers+text", text=[_short(runs[f.run_id][1]) for f in footprints], textposition="top center",
        marker=dict(size=12, color="#2563eb"),
        customdata=[[checks.flops_text(f.training_flops), fmt_count(f.trainable_params)] for f in footprints],
        hovertemplate="%{text}<br>accuracy %{y:.1%}<br>training %{customdata[0]}<br>trainable params "
                      "%{customdata[1]}<extra></extra>"))
    accuracies = [f.accuracy for f in footprints if f.accuracy is not None]
    low = max(0.0, min(accuracies, default=0.0) - 0.05)
    ticks = _log_ticks([f.training_flops + f.prediction_flops for f in footprints])
    fig.update_layout(height=340, showlegend=False, **_LAYOUT,
                      xaxis=dict(title=dict(text="compute per run: training + test prediction (FLOPs, log scale)"),
                                 type="log", tickvals=ticks, ticktext=[checks.flops_text(t) for t in ticks]),
                      yaxis=dict(title=dict(text="test accuracy"), tickformat=".0%",
                                 range=[low, min(1.0, max(accuracies, default=1.0) + 0.05)]))
    return fig


# -- the section --------------------------------------------------------------------------------------
def render_checks(run_ids: Sequence[str], store: tlcore.RunStore | None = None) -> None:
    """Draw the four checks for the chosen finished runs (only the open tab's work runs)."""
    store = store or tlcore.RunStore()
    runs = _runs(run_ids, store)
    with st.container(key=KEY):  # one block (CSS class st-key-compare_checks), e.g. for a screenshot
        st.subheader("Does it transfer, and is it fair?")
        if not runs:
            st.info("Choose finished runs above to check them.")
            return
        tabs = st.tabs(CHECK_TABS, key=f"{KEY}_tab", on_change="rerun")
        draw = {"Out-of-domain": _ood_tab, "Slices": _slices_tab, "Counterfactual probe": _probe_tab,
                "Compute footprint": _footprint_tab}
        for name, tab in zip(CHECK_TABS, tabs):
            if tab.open is False:  # lazy: a closed tab costs nothing (None when the tabs do not track state)
                continue
            with tab:
                draw[name](runs)
