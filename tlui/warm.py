"""Keep the app's runs quick to start: a warm worker server per runs folder (tlcore.runs.warm_server) that has
imported torch and the methods and loaded the models the analyst picks, so a run starts computing at once."""
from __future__ import annotations

import streamlit as st

import tlcore

DEFAULT_MODEL = "minilm"  # the Train page's first choice: loaded before anyone asks
_PRELOADED = "_warm_preloaded"


def keep_workers_warm() -> None:
    """Every page view: a ping to the server, starting it (in the background) when none answers."""
    tlcore.runs.keep_warm(tlcore.RunStore().root, preload=[DEFAULT_MODEL])


def preload(model: str) -> None:
    """Load the chosen model in the server while the analyst sets up the run (once per choice)."""
    if st.session_state.get(_PRELOADED) != model:
        st.session_state[_PRELOADED] = model
        tlcore.runs.preload_model(tlcore.RunStore().root, model)
