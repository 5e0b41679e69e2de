"""The ``tlcore`` command (DESIGN.md section 4), and the command line that repeats a run."""
from .command import run_command
from .main import main

__all__ = ["main", "run_command"]
