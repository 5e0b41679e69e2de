"""The ``transferlab`` command: ``transferlab app`` serves the TransferLab app installed with this package, and any
other subcommand is ``tlcore``'s (``transferlab run ...`` is ``tlcore run ...``).

The app's files stay at the repository root, where ``streamlit run app.py`` finds them; pyproject.toml installs them
as the package ``transferlab.app``: app.py, app_pages/ and .streamlit/config.toml, side by side as in a checkout.
"""
from .cli import app_dir, main

__all__ = ["app_dir", "main"]
