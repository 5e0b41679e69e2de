"""Importing tlcore changes no environment variable (a user's own Hugging Face code in the same notebook keeps
the Hub); the processes TransferLab starts itself, the CLI and the run workers, stay offline."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import psutil

from tlcore.engine.models import OFFLINE_ENV
from tlcore.runs.launcher import launch_detached


def _without_offline() -> dict:
    return {k: v for k, v in os.environ.items() if k not in OFFLINE_ENV}


def test_importing_tlcore_leaves_the_hub_setting_alone():
    code = ("import os, tlcore, tlcore.engine, tlcore.methods, tlcore.runs, tlcore.compare, tlcore.use, tlcore.cli\n"
            "tlcore.engine.resolve_model('minilm')\n"
            f"print(sorted(k for k in {sorted(OFFLINE_ENV)!r} if k in os.environ))")
    result = subprocess.run([sys.executable, "-c", code], env=_without_offline(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_cli_process_is_offline():
    code = ("import contextlib, io, os\nfrom tlcore.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['methods', '--json'])\n"
            "print(os.environ.get('HF_HUB_OFFLINE'))")
    result = subprocess.run([sys.executable, "-c", code], env=_without_offline(), capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_a_launched_worker_process_is_offline(tmp_path, monkeypatch):
    for key in OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    # Any module will do: `python -m timeit` sleeping long enough to read the child's environment.
    pid = launch_detached("timeit", ["-n", "1", "-r", "1", "import time; time.sleep(5)"], tmp_path / "log")
    try:
        environment = psutil.Process(pid).environ()
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).terminate()
    assert environment["HF_HUB_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ  # the caller's own environment is left as it was
