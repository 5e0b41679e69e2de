"""The machinery under every method: the model catalog and loading, CPU threads, batching, the training
loop, and the encoder's and decoder's scoring. Importing this package imports no torch; its modules do,
inside their functions, so the CLI's light commands and the app's pages stay fast.

Re-exported here what the app's pages use: the model catalog (names, kinds, whether a model is installed), the
Hugging Face cache and downloads, how an encoder embeds, the memory floor, the GPUs and precisions.
"""
from .catalog import list_models
from .hub import cached_snapshot, download, hub_cache, is_hub_id, plan_download
from .models import ModelSpec, cache_dir, gpu_devices, has_gpu, is_available, resolve_model
from .precision import PRECISION_CHOICES
from .resources import estimate_memory
from .sentence_config import read_sentence_config

__all__ = ["ModelSpec", "PRECISION_CHOICES", "cache_dir", "cached_snapshot", "download", "estimate_memory",
           "gpu_devices", "has_gpu", "hub_cache", "is_available", "is_hub_id", "list_models", "plan_download",
           "read_sentence_config", "resolve_model"]
