"""Errors that tlcore raises for bad input.

Every message says what was expected, what was found and how to fix it, so the
CLI can print it as one `error:` line and the UI can show it verbatim.
"""
from __future__ import annotations


def quoted(text, width: int = 50) -> str:
    """A user's value for a message: whitespace collapsed, cut to ``width`` characters, in quotes."""
    text = " ".join(str(text).split())
    return repr(text if len(text) <= width else text[:width - 3] + "...")


class TLCoreError(Exception):
    """Base class for every error caused by bad input or an unusable setup."""


class DatasetError(TLCoreError, ValueError):
    """The data file or the chosen columns cannot be used."""


class ModelError(TLCoreError):
    """A model name or folder cannot be resolved or loaded."""


class MethodError(TLCoreError, ValueError):
    """An unknown method, or a method that the chosen model kind cannot do."""


class ConfigError(TLCoreError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class RunError(TLCoreError):
    """A run id or run directory is missing, damaged or in the wrong state."""


class ExportError(TLCoreError):
    """The export destination cannot be used, or the run cannot be exported."""


class ResourceError(TLCoreError):
    """The machine lacks what a run needs (memory, disk space) — refused before work would be lost."""


class TrackingError(TLCoreError):
    """A run cannot be logged to an experiment tracker (MLflow, TensorBoard): its optional library is missing,
    the tracker cannot be reached, or the run is not finished."""
