"""Start a module of tlcore in its own detached process: closing or refreshing the browser does not stop it,
and a crash or an out-of-memory kill of that process does not take the app down."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

from ..engine.models import OFFLINE_ENV


def detached_options(windows: bool = os.name == "nt") -> dict:
    """Popen options that cut a child loose from the caller's terminal: Ctrl+C in it, or closing it, does not
    reach the child. POSIX: a new session. Windows (which ignores sessions): a new process group, and no
    console window of its own (output goes to the log)."""
    if not windows:
        return {"start_new_session": True}
    # The constants exist only in Windows builds of Python; their values are fixed by the Win32 API.
    flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) | getattr(subprocess, "CREATE_NO_WINDOW",
                                                                            0x08000000)
    return {"creationflags": flags}


def launch_environment() -> dict[str, str]:
    """What a run's process sees: the caller's environment, offline unless the caller says otherwise."""
    return {**OFFLINE_ENV, **os.environ}


def launch_detached(module: str, args: Sequence[str], log: Path) -> int:
    """``python -m module args...`` detached from the caller, its output appended to ``log``; returns its pid."""
    env = launch_environment()
    with open(log, "ab") as handle:
        process = subprocess.Popen([sys.executable, "-m", module, *args], stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, **detached_options())
    # Reap the child when it exits so it never lingers as a zombie of the app process.
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid
