"""The Train page's "Sweep": the chosen method at several values of its main options (learning rate, epochs, its own
main knob), every configuration on the current split, the best picked on validation rows and reported on the test
rows (tlcore.compare.sweep). The runs are one series, started detached, so a browser refresh does not stop them."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import tlcore
from tlcore.compare import (
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
from tlcore.data import LabeledData, Split
from tlcore.engine import ModelSpec
from tlcore.runs import cancel_series, plan_method, start_series

from .fmt import fmt_estimate, fmt_percent
from .options import option_label
from .state import POLL_SECONDS, remember

SWEEP = "train_sweep"  # the sweep this session follows (its id)
OPEN = "train_w_sweep_open"  # the expander's open state: the estimate is only worked out while it is open
TOKENS_PER_TEXT = 32  # planning's default; the estimate is rough (within a factor of about 2) anyway


@st.cache_data(show_spinner="Estimating the sweep's time…", max_entries=256)
def planned_seconds(model: str, method: str, n_labels: int, n_train: int, n_test: int, options_json: str) -> float:
    """The Train page's planning estimate of one configuration (cached: the first call builds the model on the
    meta device, later ones are instant)."""
    return plan_method(model, method, n_labels, n_train, n_test, mean_tokens=TOKENS_PER_TEXT,
                       options=json.loads(options_json)).estimated_seconds


def values_key(method: str, name: str) -> str:
    return f"train_w_sweep::{method}::{name}"


def _grid_items(method: str, model_kind: str, options: dict) -> list[str]:
    """One "Values of ..." box per main option (the first prefilled with values around the current one, the others
    with the current value), plus any other option the analyst adds; their text as ``name=v1,v2`` items."""
    fields = {f["name"]: f for f in sweepable_options(method, model_kind)}
    main = main_options(method, model_kind)
    extra = st.multiselect("More options to vary", [name for name in fields if name not in main],
                           format_func=option_label, key=f"train_w_sweep_more::{method}",
                           help="Options that keep the value set above unless you list several values here.")
    names = main + extra
    items = []
    for start in range(0, len(names), 3):
        for column, name in zip(st.columns(3), names[start:start + 3]):
            current = options.get(name, fields[name]["default"])
            tried = suggested_values(fields[name], current) if name == names[0] else [current]
            with column:
                text = st.text_input(f"Values of {option_label(name)}", help=f"{fields[name]['help']} Separate "
                                     "values with commas; one value keeps the option fixed.",
                                     **remember(values_key(method, name), ", ".join(value_text(v) for v in tried)))
            items.append(f"{name}={text}")
    return items


def _estimate(spec: ModelSpec, method: str, options: dict, grid: dict, made: Split) -> float | None:
    """Seconds for every configuration, as the planning estimate of each (epochs and rank change the cost)."""
    try:
        return sum(planned_seconds(spec.name, method, len(made.labels), len(made.train), len(made.test),
                                   json.dumps({**options, **chosen}, sort_keys=True, default=str))
                   for chosen in configurations(grid))
    except Exception:  # an estimate must never break the page
        return None


def start_sweep(config: tlcore.RunConfig, data: LabeledData, grid: dict, test: LabeledData | None) -> None:
    """Create one run per configuration on the split ``config`` describes and start them in one worker process."""
    try:
        runs = create_sweep(config, data, grid, test, store=tlcore.RunStore())
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    try:
        start_series(runs)
    except tlcore.TLCoreError:  # e.g. TLCORE_EXECUTOR=ray and no cluster: each run's status says why
        pass
    st.session_state[SWEEP] = runs[0].config()["sweep"]
    st.rerun()


def _sweep_runs(sweep: str) -> list[tlcore.Run]:
    return sweep_groups(tlcore.RunStore()).get(sweep, [])


def sweep_live() -> bool:
    """Whether the followed sweep still has runs queued or running (a session runs one sweep at a time)."""
    sweep = st.session_state.get(SWEEP)
    return bool(sweep) and any(run.status().get("status") in tlcore.LIVE_STATES for run in _sweep_runs(sweep))


def _draw(sweep: str, polling: bool) -> None:
    runs = _sweep_runs(sweep)
    if not runs:
        st.session_state.pop(SWEEP, None)
        return
    result = sweep_result(runs)
    if polling and not result.live:
        st.rerun()  # the whole page: it stops polling and shows the result
    total = len(result.configurations)
    if result.live:
        st.progress(result.finished_count / total, text=f"{result.finished_count} of {total} configurations "
                                                        f"finished ({result.method} on {result.model})")
    picked = result.picked.run_id if result.picked else None
    rows = [{"Configuration": c.label + ("  ← picked" if c.run_id == picked else ""), "Status": c.status,
             "Validation accuracy": fmt_percent(c.val_accuracy), "Test accuracy": fmt_percent(c.accuracy),
             "Test 95 % interval": (f"{fmt_percent(c.accuracy_ci[0])} – {fmt_percent(c.accuracy_ci[1])}"
                                    if c.accuracy_ci else "–"), "Run": c.run_id}
            for c in result.configurations]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    lines = result.summary
    if result.picked is not None:
        st.success("\n\n".join(lines[:2]), icon=":material/emoji_events:")
        for line in lines[2:]:
            st.caption(line)
    else:
        st.info(lines[0], icon=":material/hourglass_top:" if result.live else ":material/error:")
        if result.live and st.button("Cancel the sweep", icon=":material/stop:", key=f"sweep_cancel::{sweep}"):
            cancel_series(runs)
            st.rerun()


def sweep_panel() -> None:
    """The followed sweep, redrawn every few seconds while any of its runs is queued or running."""
    sweep = st.session_state.get(SWEEP)
    if not sweep:
        return
    live = sweep_live()
    st.fragment(_draw, run_every=POLL_SECONDS if live else None)(sweep, live)


def sweep_section(spec: ModelSpec, entry, config: tlcore.RunConfig, data: LabeledData, test: LabeledData | None,
                  made: Split | None, reason: str | None) -> None:
    """The "Sweep" expander under Start run: the grid, its size and time, Start sweep, then the followed sweep."""
    followed = st.session_state.get(SWEEP)
    box = st.expander("Sweep: this method at several option values", icon=":material/grid_view:",
                      expanded=bool(followed), key=OPEN, on_change="rerun")
    with box:
        if box.open:  # worked out only while open: the estimate plans every configuration
            _grid_form(spec, entry, config, data, test, made, reason)
        sweep_panel()


def _grid_form(spec: ModelSpec, entry, config: tlcore.RunConfig, data: LabeledData, test: LabeledData | None,
               made: Split | None, reason: str | None) -> None:
    st.caption("Runs every combination of the values below on this split, one after another; the pick is the best "
               "*validation* accuracy (a tie goes to the cheaper configuration), so the test rows only judge it.")
    items = _grid_items(entry.name, spec.kind, config.method_options)
    grid, problem = None, None
    if not items:
        problem = "Choose an option to vary under 'More options to vary'."
        st.caption(problem)
    elif not reason:  # with the page's settings refused, the grid would only repeat their error
        try:
            grid = parse_grid(items, entry.name, spec.kind, config.method_options)
        except tlcore.TLCoreError as exc:
            problem = str(exc)
            st.error(problem)
    if grid is not None and made is not None:
        chosen = configurations(grid)
        varied = [name for name, values in grid.items() if len(values) > 1]
        seconds = _estimate(spec, entry.name, config.method_options, grid, made)
        when = f", {fmt_estimate(seconds)} on this machine" if seconds is not None else ""
        st.markdown(f":material/grid_view: **{len(chosen)} runs**{when}: "
                    + "; ".join(configuration_label({n: c[n] for n in varied}) for c in chosen[:6])
                    + ("; …" if len(chosen) > 6 else ""),
                    help="The planning estimate of each configuration, added up (rough: within a factor of about "
                         "2); the runs go one after another.")
    blocked = reason or problem or (sweep_live() and "This session's sweep is still running.")
    if st.button("Start sweep", icon=":material/play_arrow:", key="train_sweep_start", disabled=bool(blocked)):
        start_sweep(config, data, grid, test)
    if blocked and blocked != problem:
        st.caption(str(blocked))
