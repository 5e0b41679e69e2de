"""tlcore: transfer learning from pretrained language models, as a library and a CLI.

The main verbs and types are re-exported here, one line per step a user takes::

    import tlcore

    data = tlcore.to_labeled(tlcore.read_table("reviews.csv"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="lora"), data)
    tlcore.start_worker(run)            # or tlcore.execute(run) in this process
    method = tlcore.load_method(run)    # once it succeeded
    tlcore.predict_texts(method, ["great food"])

Everything else a step offers is in its package: ``tlcore.data``, ``tlcore.engine`` (the model catalog),
``tlcore.methods``, ``tlcore.runs`` (also learning curves), ``tlcore.use``, ``tlcore.compare`` (and
``tlcore.compare.checks``), ``tlcore.errors``. Nothing here imports torch: the app's pages and the CLI's light
commands stay fast; models load only when a method runs.
"""
from .compare import build_report, load_comparison
from .data import load_sample, make_split, read_table, to_labeled, validate
from .engine import list_models
from .errors import ConfigError, DatasetError, MethodError, ModelError, RunError, TLCoreError
from .methods import list_methods
from .runs import LIVE_STATES, Run, RunConfig, RunStore, create_run, execute, start_worker
from .use import export_run, import_export, load_method, predict_texts

__version__ = "0.1.0"

__all__ = [
    # errors: every message says what was expected, what was found and how to fix it
    "TLCoreError", "ConfigError", "DatasetError", "MethodError", "ModelError", "RunError",
    # 1 data: read a file, check it, choose its columns, split it
    "read_table", "validate", "to_labeled", "make_split", "load_sample",
    # 2 models and methods
    "list_models", "list_methods",
    # 3 runs: create one, start it in a worker process (or execute it here), find it again
    "RunConfig", "create_run", "start_worker", "execute", "RunStore", "Run", "LIVE_STATES",
    # 4 use a finished run: predict, export, import an export back
    "load_method", "predict_texts", "export_run", "import_export",
    # 5 compare finished runs
    "load_comparison", "build_report",
]
