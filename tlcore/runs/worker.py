"""Execute one run directory: ``python -m tlcore.runs.worker RUN_DIR``.

The same function serves the CLI (in-process) and the app (a detached worker process).
Every outcome ends in status.json: succeeded, cancelled, or failed with a readable reason.
"""
from __future__ import annotations

import errno
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from ..engine.memory import limit_kernel_caches, peak_rss_mb
from ..engine.models import choose_device, model_folder, parameters_on_disk, resolve_model
from ..engine.precision import Precision, choose_precision, compute_in
from ..engine.resources import estimate_memory
from ..errors import ResourceError, TLCoreError
from ..methods import Callback, check_supported, get_method
from .intervals import score_intervals
from .metrics import classification_metrics, predicted_labels
from .store import Run, run_slot, write_json_atomic


class RunCallback(Callback):
    """Writes training events to the run directory and turns a cancel file into a stop."""

    def __init__(self, run: Run, echo=None) -> None:
        self.run = run
        self.echo = echo  # optional printer for the CLI
        self._last_progress = 0.0

    def on_log(self, event: dict) -> None:
        self.run.append_event({"type": "train", **event})
        if self.echo and (event["step"] == 1 or event["step"] % 10 == 0 or event["step"] == event["total_steps"]):
            self.echo(f"step {event['step']}/{event['total_steps']} loss {event['train_loss']:.4f}")

    def on_evaluate(self, event: dict) -> None:
        self.run.append_event({"type": "eval", **event})
        if self.echo:
            self.echo(f"epoch {event['epoch']}: val_loss {event['val_loss']:.4f} val_accuracy "
                      f"{event['val_accuracy']:.3f}")

    def on_progress(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_progress > 0.5:  # keep status writes cheap
            self._last_progress = now
            self.run.update_status(stage=stage, progress={"done": done, "total": total})

    def should_stop(self) -> bool:
        return self.run.cancel_requested


def execute(run: Run, echo=None, scheduled: bool = False, device: str | None = None) -> dict:
    """Wait for a free slot in the runs folder (the queue), then run; return the metrics.

    ``scheduled``: a cluster's scheduler (a Ray task, tlcore.runs.ray_executor) already queued and placed the run,
    so it takes no slot of the runs folder, and status.json keeps the pid of the local driver that watches it
    (this process may be on another machine). ``device`` overrides the config's (a Ray task sees its GPU as cuda).
    """
    if scheduled:
        if run.cancel_requested:
            run.update_status(status="cancelled", finished=time.time(), error="cancelled while queued")
            raise InterruptedError("cancelled")
        return _execute(run, echo, pid=None, device=device)
    run.update_status(status="queued", pid=os.getpid(), stage="waiting for a free slot")

    def say_waiting() -> None:
        if echo:
            echo("waiting for another run in this folder to finish "
                 "(TLCORE_MAX_CONCURRENT_RUNS sets how many run at once)")

    with run_slot(run.path.parent, on_wait=say_waiting):
        if run.cancel_requested:
            run.update_status(status="cancelled", finished=time.time(), error="cancelled while queued")
            raise InterruptedError("cancelled")
        return _execute(run, echo, pid=os.getpid(), device=device)


def _execute(run: Run, echo=None, pid: int | None = None, device: str | None = None) -> dict:
    """Run the method on the stored split; write metrics, predictions and artifacts; return the metrics."""
    limit_kernel_caches()  # before the first bf16 product: oneDNN's caches grow with each batch shape (bench/memory.py)
    config = run.config()
    run.update_status(status="running", started=time.time(), stage="loading model", **({"pid": pid} if pid else {}))
    callback = RunCallback(run, echo)
    started = time.perf_counter()
    try:
        spec = resolve_model(config["model"], config.get("model_revision"))
        entry = get_method(config["method"])
        check_supported(entry, spec)
        method_config = entry.config_cls.from_dict(config.get("method_options", {}))
        split = run.split()
        device = choose_device(device or config.get("device", "auto"))
        folder = model_folder(spec, progress=echo)
        _check_memory(folder, config, len(split.labels), method_config, device)
        # "auto" on a CPU measures bf16 on this model (once per machine and model, then read from disk)
        precision = choose_precision(device, config.get("precision", "auto"), spec.params or parameters_on_disk(folder),
                                     folder=folder, kind=spec.kind, name=spec.name)
        method = entry.method_cls(method_config, spec, folder, split.labels, device)

        run.update_status(stage="training" if entry.method_cls.trains else "preparing")
        fit_started = time.perf_counter()
        fit_precision = precision  # predictions (and a reload's) use ``precision``, which metrics.json records
        if precision.mixed and not entry.method_cls.mixed_precision_fit:
            fit_precision = Precision("fp32", "fp32")
            precision = Precision(precision.name, f"{precision.reason}; {entry.name} trains in fp32 (through a "
                                                  "library that does not take TransferLab's mixed precision) and "
                                                  f"predicts in {precision.name}")
        with compute_in(fit_precision, device):  # weights stay fp32; matrix products in the run's precision
            method.fit(split.train, split.val, callback)
        train_seconds = time.perf_counter() - fit_started
        training = getattr(method, "training", None)
        if run.cancel_requested:
            raise InterruptedError("cancelled")

        run.update_status(stage="predicting")
        predict_started = time.perf_counter()
        with compute_in(precision, device):
            proba = method.predict_proba(split.test.texts, callback)
        predict_seconds = time.perf_counter() - predict_started
        # The validation rows, scored after the test rows (a zero-/few-shot method fixes its calibration on the
        # first texts it scores): what "Find the best method" picks by, so the test rows never choose.
        val_metrics = {}
        if len(split.val):
            with compute_in(precision, device):
                val_proba = method.predict_proba(split.val.texts, callback)
            val_predicted = predicted_labels(val_proba, split.labels)
            val_scores = classification_metrics(split.val.labels, val_predicted, split.labels)
            val_metrics = {"val_accuracy": val_scores["accuracy"], "val_macro_f1": val_scores["macro_f1"]}

        method.save(run.path / "artifacts")
        write_json_atomic(run.path / "artifacts" / "labels.json", split.labels)
        predicted = predicted_labels(proba, split.labels)
        _write_predictions(run.path / "predictions.csv", split.test.texts, split.test.labels, predicted, proba,
                           split.labels)
        metrics = {
            "run_id": run.id, "model": config["model"], "method": config["method"], "device": device,
            "precision": precision.name, "precision_reason": precision.reason,
            "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test), "labels": split.labels,
            **classification_metrics(split.test.labels, predicted, split.labels),
            # 95 % bootstrap intervals over the test rows (seeded: the Compare page recomputes the same).
            **score_intervals(split.test.labels, predicted, split.labels),
            "train_seconds": train_seconds, "predict_seconds": predict_seconds,
            "predict_seconds_per_1000": 1000 * predict_seconds / max(1, len(split.test)),
            "total_seconds": time.perf_counter() - started,
            "trainable_params": int(method.trainable_params), "total_params": int(method.total_params),
            # how sentence vectors were made (pooling, normalisation, prompt), for methods that embed texts
            "embedding": getattr(method, "embedding", None),
            "examples_per_s": training.examples_per_second if training else None,
            "tokens_per_s": training.tokens_per_second if training else None,
            "steps": training.steps if training else 0, "epochs": training.epochs if training else 0,
            "epochs_completed": training.epochs_completed if training else 0,
            "early_stopped": bool(training and training.early_stopped),
            "best_epoch": training.best_epoch if training else None,
            # which schedule ran and why (auto with early stopping, or the fixed passes when validation is too small)
            "schedule": getattr(training, "schedule", None), "schedule_note": getattr(training, "schedule_note", None),
            "peak_rss_mb": peak_rss_mb(), "test_fingerprint": split.info.get("test_fingerprint"), **val_metrics,
        }
        write_json_atomic(run.path / "metrics.json", metrics)
        run.update_status(status="succeeded", finished=time.time(), stage="done", error=None)
        return metrics
    except InterruptedError:
        run.update_status(status="cancelled", finished=time.time(), error="cancelled by the user")
        raise
    except TLCoreError as exc:
        run.update_status(status="failed", finished=time.time(), error=str(exc))
        raise
    except MemoryError:
        run.update_status(status="failed", finished=time.time(),
                          error="out of memory; try a smaller batch size, max length or model")
        raise
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            return _internal_failure(run, exc)
        # The disk filled up while saving: drop what was half-written (it would look usable and it holds
        # the space), then record the failure, which now fits.
        for partial in ("artifacts", "predictions.csv", ".predictions.csv.tmp", "metrics.json"):
            target = run.path / partial
            shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        run.update_status(status="failed", finished=time.time(),
                          error=f"the disk is full ({exc.strerror} while writing {exc.filename or 'the run'}); "
                                "free some space (or point TLCORE_RUNS_DIR at a bigger disk) and run again")
        raise ResourceError(f"the disk is full: {exc.strerror}") from exc
    except Exception as exc:
        return _internal_failure(run, exc)


def _internal_failure(run: Run, exc: Exception):
    """Keep the traceback in the run for the bug report, mark the run failed, re-raise."""
    (run.path / "traceback.txt").write_text(traceback.format_exc())
    run.update_status(status="failed", finished=time.time(),
                      error=f"internal error: {type(exc).__name__}: {exc} (details in traceback.txt)")
    raise exc


def _check_memory(folder: Path, config: dict, n_labels: int, method_config, device: str) -> None:
    """Refuse, before loading, a run whose weights and optimizer state cannot fit in the free memory."""
    if device != "cpu":  # GPU memory is another budget; torch reports its own out-of-memory clearly
        return
    from .planning import parameter_counts

    on_disk = parameters_on_disk(folder)
    if on_disk and not get_method(config["method"]).method_cls.trains:
        # Nothing trains: the weights are the floor. Read from the safetensors headers, not a model built on the
        # meta device, which costs a zero-shot run a second of imports before its first text.
        trainable, total = 0, on_disk
    else:
        trainable, total = parameter_counts(folder, config["method"], n_labels, method_config)
    estimate = estimate_memory(total, trainable, runtime_loaded=True)
    if not estimate.fits:
        raise ResourceError(estimate.message(f"{config['method']} on {config['model']}"))


def _write_predictions(path: Path, texts, gold, predicted, proba: np.ndarray, labels) -> None:
    frame = pd.DataFrame({"text": texts, "gold": gold, "predicted": predicted,
                          "correct": [g == p for g, p in zip(gold, predicted)],
                          "confidence": proba.max(axis=1),
                          **{f"p_{label}": proba[:, i] for i, label in enumerate(labels)}})
    tmp = path.with_name(".predictions.csv.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m tlcore.runs.worker RUN_DIR", file=sys.stderr)
        return 2
    run = Run(Path(argv[0]))
    try:
        execute(run, echo=lambda message: print(message, flush=True))
    except InterruptedError:
        return 0
    except TLCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001  (already recorded in status.json and traceback.txt)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
