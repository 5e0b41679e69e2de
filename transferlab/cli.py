"""``transferlab app [--port N] [STREAMLIT OPTIONS]`` serves the app; ``transferlab COMMAND ...`` is ``tlcore``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

USAGE = """usage: transferlab app [--port N] [STREAMLIT OPTIONS]   serve the app (http://localhost:8501 by default)
       transferlab COMMAND ...                         a tlcore command: models, validate, run, compare, runs, ...
"""


def app_dir() -> Path:
    """The folder of the app's app.py, with app_pages/ and .streamlit/config.toml beside it."""
    here = Path(__file__).resolve().parent
    for place in (here / "app", here.parent):  # installed from a wheel; an editable install or a checkout
        if (place / "app.py").is_file():
            return place
    raise FileNotFoundError(f"the TransferLab app is missing: no app.py in {here / 'app'} or {here.parent}; "
                            "reinstall the package (pip install --force-reinstall transferlab's wheel or -e .).")


def streamlit_args(argv: Sequence[str]) -> list[str]:
    """``streamlit`` arguments that serve the app: ``run APP.py``, the port, then the other options as given."""
    parser = argparse.ArgumentParser(
        prog="transferlab app", allow_abbrev=False,
        description="Serve the TransferLab app with Streamlit. Other options go to `streamlit run`, e.g. "
                    "--server.address 0.0.0.0 (set a password first: see the README).")
    parser.add_argument("--port", type=int, help="port to serve on (default 8501)")
    known, rest = parser.parse_known_args(argv)
    port = ["--server.port", str(known.port)] if known.port else []
    return ["run", str(app_dir() / "app.py"), *port, *rest]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["app"]:
        # streamlit's own command line, in this process: the same as `streamlit run` (settings from the
        # .streamlit/config.toml beside app.py, then the usual places; the password gate inside the app).
        from streamlit.web import cli as streamlit_cli

        return streamlit_cli.main(args=streamlit_args(argv[1:]), prog_name="streamlit")
    if not argv:
        print(USAGE, file=sys.stderr, end="")
        return 2
    if argv[0] in ("-h", "--help"):
        print(USAGE)
    from tlcore.cli import main as tlcore_main

    return tlcore_main(argv)
