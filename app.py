"""TransferLab: the Streamlit entry point (`streamlit run app.py`).

The one place that says which pages there are (scripts in app_pages/), their titles, icons and sidebar sections,
and that puts the password gate in front of all of them. Each page lays out parts from tlui/. The folder is not
called pages/: Streamlit runs a pages/ folder's scripts directly until a session calls st.navigation, so a deep
link on a fresh server would skip the gate (tests/ui/test_deep_link.py). Nothing heavy is imported here:
tlcore's facade is light, and models load only in the worker processes of runs.
"""
from __future__ import annotations

import streamlit as st

from tlui.auth import password_gate
from tlui.state import (
    COMPARE_PAGE,
    DATA_PAGE,
    HOME_PAGE,
    LABEL_PAGE,
    RUNS_PAGE,
    TRAIN_PAGE,
    USE_PAGE,
    init_state,
)
from tlui.warm import keep_workers_warm

SECTIONS = {  # sidebar section: its pages as (script, title, icon)
    "": [(HOME_PAGE, "Home", ":material/home:")],
    "Build a classifier": [(DATA_PAGE, "Data", ":material/table:"), (TRAIN_PAGE, "Train", ":material/model_training:"),
                           (COMPARE_PAGE, "Compare", ":material/leaderboard:")],
    "Your runs": [(RUNS_PAGE, "Runs", ":material/history:"), (USE_PAGE, "Use", ":material/play_circle:"),
                  (LABEL_PAGE, "Label", ":material/label:")],
}

pages = {section: [st.Page(script, title=title, icon=icon, default=script == HOME_PAGE)
                   for script, title, icon in entries] for section, entries in SECTIONS.items()}
# Hidden: the sidebar links below are drawn only after the password gate, so nothing of the app shows before it.
page = st.navigation(pages, position="hidden")
st.set_page_config(page_title="TransferLab" if page.title == "Home" else f"{page.title} · TransferLab",
                   page_icon=":material/science:", layout="wide")
password_gate()  # a no-op unless a password or single sign-on is configured (serving the app to a team)
init_state()
keep_workers_warm()  # runs then start without importing torch or loading the model (tlui/warm.py)
with st.sidebar:
    st.markdown("### :material/science: TransferLab")
    for section, entries in pages.items():
        if section:
            st.caption(section)
        for entry in entries:
            st.page_link(entry, label=entry.title, icon=entry.icon, width="stretch")
page.run()
