"""Step 3, the runs: a run folder per run (store), creating one from data and a config (create), the worker
process that trains and evaluates it (worker), what a run will cost before it starts (planning), its metrics,
and learning curves (a group of runs over training-set sizes and seeds on one test split)."""
from .adapt_job import (
    MIN_TEXTS,
    AdaptConfig,
    adapt_jobs,
    cancel_adapt_job,
    clean_texts,
    create_adapt_job,
    get_adapt_job,
    start_adapt_job,
    texts_from_frame,
)
from .create import create_run, method_options
from .executor import start_worker
from .learning_curve import (
    ALL,
    cancel_curve,
    create_curve,
    curve_groups,
    curve_like,
    curve_points,
    curve_status,
    curve_summary,
    default_sizes,
    examples_needed,
    execute_curve,
    parse_sizes,
    references,
    references_like,
    run_learning_curve,
    start_curve,
)
from .metrics import classification_metrics, row_normalized
from .planning import MethodPlan, plan_method
from .series import cancel_series, execute_series, start_series
from .store import FINAL_STATES, LIVE_STATES, Run, RunConfig, RunStore, RunSummary, model_tag, run_clock
from .warm_server import keep_warm, preload_model
from .worker import execute

__all__ = [
    # domain-adaptive pre-training as a job in its own process (tlcore.runs.adapt_job)
    "AdaptConfig", "MIN_TEXTS", "adapt_jobs", "cancel_adapt_job", "clean_texts", "create_adapt_job",
    "get_adapt_job", "start_adapt_job", "texts_from_frame",
    # a run: create it, start it in a worker process (or execute it here), find it again
    "FINAL_STATES", "LIVE_STATES", "Run", "RunConfig", "RunStore", "RunSummary", "create_run", "execute",
    "method_options", "model_tag", "run_clock", "start_worker",
    # the app's warm worker server: runs start without importing torch or loading the model again
    "keep_warm", "preload_model",
    # before a run: its planned parameters, FLOPs, memory and time; after it: its metrics
    "MethodPlan", "classification_metrics", "plan_method", "row_normalized",
    # a series of runs in one worker process (learning curves, "find the best method")
    "cancel_series", "execute_series", "start_series",
    # learning curves (tlcore.runs.learning_curve; ALL is the "all rows per class" size)
    "ALL", "cancel_curve", "create_curve", "curve_groups", "curve_like", "curve_points", "curve_status",
    "curve_summary", "default_sizes", "examples_needed", "execute_curve", "parse_sizes", "references",
    "references_like", "run_learning_curve", "start_curve",
]
