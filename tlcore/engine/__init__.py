"""The machinery under every method: the model catalog and loading, CPU threads, batching, the training
loop, and the encoder's and decoder's scoring. Importing this package imports no torch; its modules do,
inside their functions, so the CLI's light commands and the app's pages stay fast.

Re-exported here: the model catalog (names, kinds, whether a model is installed, whether a GPU is there).
"""
from .models import ModelSpec, has_gpu, is_available, list_models, resolve_model

__all__ = ["ModelSpec", "has_gpu", "is_available", "list_models", "resolve_model"]
