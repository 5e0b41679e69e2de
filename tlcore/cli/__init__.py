"""The ``tlcore`` command (DESIGN.md section 4)."""
from .main import main

__all__ = ["main"]
