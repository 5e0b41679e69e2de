"""The Train page's "Find the best method": a small portfolio of runs on the current split, the winner picked
on validation rows and reported on the test rows with its interval (tlcore.compare.best_method)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import tlcore
from tlcore.compare import create_search, search_groups, search_result
from tlcore.data import LabeledData
from tlcore.runs import cancel_series, start_series

from .fmt import fmt_percent
from .state import COMPARE_PAGE, POLL_SECONDS

SEARCH = "train_search"  # the search this session follows (its id)


def start_search(config: tlcore.RunConfig, data: LabeledData, test: LabeledData | None) -> None:
    """Create the portfolio's runs on the split ``config`` describes and start them in one worker process."""
    store = tlcore.RunStore()
    try:
        runs = create_search(config, data, test, store=store)
    except tlcore.TLCoreError as exc:
        st.error(str(exc))
        return
    try:
        start_series(runs)
    except tlcore.TLCoreError:  # e.g. TLCORE_EXECUTOR=ray and no cluster: each run's status says why
        pass
    st.session_state[SEARCH] = runs[0].config()["search"]
    st.rerun()


def _search_runs(search: str) -> list[tlcore.Run]:
    return search_groups(tlcore.RunStore()).get(search, [])


def search_live() -> bool:
    """Whether the followed search still has runs queued or running (a session runs one search at a time)."""
    search = st.session_state.get(SEARCH)
    return bool(search) and any(run.status().get("status") in tlcore.LIVE_STATES for run in _search_runs(search))


def _draw(search: str, polling: bool) -> None:
    runs = _search_runs(search)
    if not runs:
        st.session_state.pop(SEARCH, None)
        return
    result = search_result(runs)
    if polling and not result.live:
        st.rerun()  # the whole page: it stops polling and shows the result
    picked = result.picked.run_id if result.picked else None
    rows = [{"Method": c.method + ("  ← picked" if c.run_id == picked else ""), "Status": c.status,
             "Validation accuracy": fmt_percent(c.val_accuracy), "Test accuracy": fmt_percent(c.accuracy),
             "Test 95 % interval": (f"{fmt_percent(c.accuracy_ci[0])} – {fmt_percent(c.accuracy_ci[1])}"
                                    if c.accuracy_ci else "–")}
            for c in result.candidates]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    lines = result.summary
    if result.picked is not None:
        st.success("\n\n".join(lines[:2]), icon=":material/emoji_events:")
        for line in lines[2:]:
            st.caption(line)
        if st.button("Compare these runs", icon=":material/leaderboard:", key=f"search_compare::{search}"):
            done = [c.run_id for c in result.candidates if c.finished]
            fingerprint = runs[0].config().get("split", {}).get("test_fingerprint")
            st.session_state[f"compare_w_runs::{fingerprint}"] = done
            st.switch_page(COMPARE_PAGE)
    else:
        st.info(lines[0], icon=":material/hourglass_top:" if result.live else ":material/error:")
        if result.live and st.button("Cancel the search", icon=":material/stop:", key=f"search_cancel::{search}"):
            cancel_series(runs)
            st.rerun()


def search_panel() -> None:
    """The followed search, redrawn every few seconds while any of its runs is queued or running."""
    search = st.session_state.get(SEARCH)
    if not search:
        return
    st.subheader("Find the best method")
    st.caption("Each method of a small portfolio runs at its defaults on the same split; the pick is the best "
               "*validation* accuracy, so the test rows only judge it (picking on the test rows would flatter the "
               "winner).")
    live = search_live()
    st.fragment(_draw, run_every=POLL_SECONDS if live else None)(search, live)
