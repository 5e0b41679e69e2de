"""Start a module of tlcore in its own detached process: closing or refreshing the browser does not stop it,
and a crash or an out-of-memory kill of that process does not take the app down."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence


def launch_detached(module: str, args: Sequence[str], log: Path) -> int:
    """``python -m module args...`` in a new session, its output appended to ``log``; returns its pid."""
    with open(log, "ab") as handle:
        process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    # Reap the child when it exits so it never lingers as a zombie of the app process.
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid
