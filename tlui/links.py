"""Deep links: ``?run=ID`` in the address opens that run on the Runs page and selects it on the Compare page.

A link is followed once: after that the page's own widgets rule until another link arrives (the address changes),
so choosing another run is not undone by the old address on the next rerun.
"""
from __future__ import annotations

import streamlit as st

_SEEN = "link_seen_run::"


def new_linked_run(page: str) -> str | None:
    """The run id of ``?run=ID`` when this page has not followed that link yet in this session, else None."""
    wanted = st.query_params.get("run") or None
    if wanted == st.session_state.get(_SEEN + page):
        return None
    st.session_state[_SEEN + page] = wanted
    return wanted


def show_run_in_address(page: str, run_id: str | None) -> None:
    """Keep ``?run=`` equal to the opened run, so the address bar is a link to it that can be shared."""
    if run_id:
        st.query_params["run"] = run_id
    elif "run" in st.query_params:
        del st.query_params["run"]
    st.session_state[_SEEN + page] = run_id
