"""An optional password in front of every page, for an app served to a team.

Set it in `.streamlit/secrets.toml` (``[transferlab]`` ``password = "..."``) or in the environment
(``TRANSFERLAB_PASSWORD``). Without either, the app is open, as it should be on one's own laptop. For
single sign-on, configure Streamlit's built-in OIDC login (an ``[auth]`` section in secrets.toml): then
every page asks for ``st.login`` instead. See the README.
"""
from __future__ import annotations

import hmac
import os

import streamlit as st

AUTH_OK = "auth_ok"  # session flag: this browser session gave the right password


def configured_password() -> str | None:
    try:
        section = st.secrets.get("transferlab", {})
        password = section.get("password") if hasattr(section, "get") else None
    except Exception:  # noqa: BLE001  (no secrets.toml, or an unreadable one: fall back to the environment)
        password = None
    return password or os.environ.get("TRANSFERLAB_PASSWORD") or None


def uses_single_sign_on() -> bool:
    """True when secrets.toml has an ``[auth]`` section: Streamlit's own OIDC login (st.login) is set up."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001  (no secrets.toml)
        return False


def password_gate() -> None:
    """Stop the page here until this session has signed in, when the app is set up to ask for it."""
    if uses_single_sign_on():
        if not st.user.is_logged_in:
            st.title(":material/lock: TransferLab")
            st.button("Log in", type="primary", icon=":material/login:", on_click=st.login)
            st.stop()
        return
    expected = configured_password()
    if not expected or st.session_state.get(AUTH_OK):
        return
    st.title(":material/lock: TransferLab")
    with st.form("auth_form"):
        given = st.text_input("Password", type="password", key="auth_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        # compare_digest: the time taken does not reveal how much of the password was right
        if hmac.compare_digest(given.encode(), expected.encode()):
            st.session_state[AUTH_OK] = True
            st.session_state.pop("auth_password", None)
            st.rerun()
        st.error("That password is not right. Ask whoever runs this TransferLab for it.", icon=":material/error:")
    st.stop()
