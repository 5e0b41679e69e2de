"""Log a finished run to an experiment tracker, so that teams who track their experiments there see TransferLab runs.

- MLflow (``log_to_mlflow``): the run's settings as params (config.json flattened: ``method_options.lr``,
  ``split.data_fingerprint``, ``versions.torch`` ...), every training step of events.jsonl as metrics with its step
  number (``train_loss``, ``val_accuracy``, ``learning_rate`` ...), the final metrics of metrics.json
  (``accuracy``, ``accuracy_ci_low`` ...), tags (``transferlab.run_id``, ``transferlab.status``,
  ``transferlab.version`` ...) and the run's export (what ``tlcore export`` writes) as the artifact folder
  ``export/``. One MLflow run per TransferLab run: a run already logged completely (found by its
  ``transferlab.run_id`` tag) is not logged again; an interrupted attempt is deleted and logged afresh.
- TensorBoard (``log_to_tensorboard``): event files in ``LOGDIR/<run id>/`` with the same scalars (``train/loss``,
  ``val/accuracy``, ``final/accuracy`` ...) and the settings as text and as HParams; logging again replaces them.

Both libraries are optional (``pip install 'tlcore[mlflow]'`` / ``'tlcore[tensorboard]'``) and imported inside the
functions that use them, so importing tlcore stays light.
"""
from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..errors import TLCoreError, TrackingError, quoted
from ..runs.store import FINAL_STATES, Run
from .export import export_run
from .predict import check_usable

TARGETS = ("mlflow", "tensorboard")
DEFAULT_EXPERIMENT = "TransferLab"
DEFAULT_LOGDIR = "tb-logs"  # not "runs": that is TransferLab's own runs folder (and torch's SummaryWriter default)
RUN_ID_TAG = "transferlab.run_id"
COMPLETE_TAG = "transferlab.logged"  # set last: an MLflow run without it is an attempt that was interrupted
ARTIFACT_DIR = "export"
INSTALL = {"mlflow": ("mlflow-skinny", "pip install 'tlcore[mlflow]'"),
           "tensorboard": ("tensorboardX", "pip install 'tlcore[tensorboard]'")}

# Fields of an events.jsonl line that place a step rather than measure it.
EVENT_BOOKKEEPING = ("type", "step", "total_steps", "elapsed")
# metrics.json names that events.jsonl also uses for per-step values: in MLflow the final value gets a name of its
# own, so a step chart never mixes in a number of another kind (the validation score of the kept weights, a mean
# rate); the validation macro-F1 follows its accuracy so that the two read alike.
FINAL_RENAMES = {"val_accuracy": "final_val_accuracy", "val_macro_f1": "final_val_macro_f1",
                 "examples_per_s": "mean_examples_per_s"}
# metrics.json entries that are params or identity (logged elsewhere) or a table, not one number.
NOT_FINAL = ("run_id", "model", "method", "labels", "confusion_matrix")
MLFLOW_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "cancelled": "KILLED"}
# MLflow's limits (mlflow.utils.validation): values longer than these are refused, batches larger are split.
PARAM_VALUE_MAX, TAG_VALUE_MAX, PARAMS_PER_BATCH, METRICS_PER_BATCH = 6000, 8000, 100, 1000


@dataclass
class Point:
    """One value of a training curve: ``name`` as events.jsonl writes it, ``group`` "train" or "val"."""

    name: str
    group: str
    value: float
    step: int
    wall_time: float  # seconds since the epoch


@dataclass
class RunRecord:
    """What a tracker gets from a run, flattened to names and plain values."""

    run_id: str
    status: str
    params: dict[str, str]
    points: list[Point]
    final: dict[str, float]
    final_step: int
    tags: dict[str, str]
    started: float | None
    finished: float | None
    note: str  # one paragraph of Markdown: what the run was and how it scored


@dataclass
class TrackingResult:
    """Where a run was logged, and what happened there."""

    target: str  # "mlflow" or "tensorboard"
    run_id: str
    location: str  # the MLflow tracking URI, or the TensorBoard log folder
    action: str  # "logged", "already logged" (MLflow: nothing written) or "replaced" (an earlier log of this run)
    path: str | None = None  # TensorBoard: this run's folder of event files
    experiment: str | None = None
    tracking_run_id: str | None = None  # MLflow's id of the run
    url: str | None = None  # the run in MLflow's web UI, when the tracking URI is a server
    params: int = 0
    metrics: int = 0  # metric values written (every step of every curve, and the final ones)
    artifact: str | None = None  # MLflow: the artifact folder holding the export

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def message(self) -> str:
        """One sentence for a person: what was logged, where."""
        if self.target == "tensorboard":
            verb = "Replaced the TensorBoard logs of" if self.action == "replaced" else "Logged"
            return (f"{verb} run {self.run_id} in {self.path} ({self.metrics} scalar values); view it with "
                    f"`tensorboard --logdir {self.location}`.")
        where = f"MLflow experiment {self.experiment!r} at {self.location}"
        if self.action == "already logged":
            return (f"Run {self.run_id} was already logged to {where} as MLflow run {self.tracking_run_id}; nothing "
                    "new was written (delete that MLflow run to log it again).")
        artifact = f", the export under {self.artifact}/" if self.artifact else ""
        return (f"Logged run {self.run_id} to {where} as MLflow run {self.tracking_run_id} ({self.params} params, "
                f"{self.metrics} metric values{artifact})" + (f": {self.url}" if self.url else "."))


def export_tracking(run: Run, to: str, uri: str | None = None, experiment: str | None = None,
                    logdir: str | Path | None = None) -> TrackingResult:
    """Log ``run`` to ``to`` ("mlflow" or "tensorboard"); what the CLI and the Runs page call."""
    if to == "mlflow":
        return log_to_mlflow(run, uri=uri, experiment=experiment or DEFAULT_EXPERIMENT)
    if to == "tensorboard":
        return log_to_tensorboard(run, logdir=logdir or DEFAULT_LOGDIR)
    raise TrackingError(f"unknown tracker {to!r}; expected one of {', '.join(TARGETS)}.")


# -- what a run holds, flat (both trackers) -----------------------------------------------------------------------

def read_run(run: Run) -> RunRecord:
    """The run's settings, curves, final metrics and tags; a TrackingError for a run that has not finished."""
    status = run.status()
    state = status.get("status", "damaged")
    if state not in FINAL_STATES:
        hint = "log it once it has finished" if state in ("queued", "running") else "only finished runs can be logged"
        raise TrackingError(f"run {run.id} is {state}; {hint}.")
    config = run.config()
    metrics = run.metrics() or {}
    started = status.get("started") or config.get("created")
    points = curve_points(run.events(), started or 0.0)
    steps = [point.step for point in points]
    tags = {RUN_ID_TAG: run.id, "transferlab.status": state, "transferlab.version": _tlcore_version()}
    if status.get("error"):
        tags["transferlab.error"] = str(status["error"])[:TAG_VALUE_MAX]
    # Words and flags among the results (device, schedule, early_stopped ...) describe the run: tags, not metrics.
    tags.update({f"transferlab.{_safe(key)}": str(value)[:TAG_VALUE_MAX] for key, value in metrics.items()
                 if isinstance(value, (str, bool)) and key not in NOT_FINAL})
    return RunRecord(run_id=run.id, status=state, params=run_params(run, config), points=points,
                     final=final_metrics(metrics), final_step=int(metrics.get("steps") or max(steps, default=0)),
                     tags=tags, started=started, finished=status.get("finished"),
                     note=_note(run.id, state, config, metrics))


def run_params(run: Run, config: dict) -> dict[str, str]:
    """config.json flattened with dots (``method_options.lr``, ``split.n_train``, ``versions.peft``), the method's
    options complete with the defaults it ran with, lists as JSON; unset (None) settings are left out."""
    settings = {key: value for key, value in config.items() if key not in ("run_id", "created")}
    settings["method_options"] = _options_ran_with(run, config)
    flat = flatten(settings, ".")
    return {key: _text(value, PARAM_VALUE_MAX) for key, value in flat.items() if value is not None}


def _options_ran_with(run: Run, config: dict) -> dict:
    """Every option, defaults included, so that runs compare option by option in the tracker."""
    from ..methods import get_method

    given = dict(config.get("method_options") or {})
    try:
        entry = get_method(config.get("method", ""))
        return {**entry.config_cls.from_dict(given).to_dict(),
                **entry.method_cls.options_ran_with(run.path / "artifacts")}
    except (TLCoreError, OSError, ValueError, TypeError):  # a method or option of another version: as recorded
        return given


def curve_points(events: list[dict], started: float) -> list[Point]:
    """Every number of every events.jsonl line, with its step. A training line's ``epoch`` is kept (a curve of its
    own); an evaluation line repeats it at the same step, so there it is left out."""
    points = []
    for event in events:
        kind = event.get("type", "train")
        group = "val" if kind == "eval" else kind
        for name, value in event.items():
            if name in EVENT_BOOKKEEPING or (name == "epoch" and kind != "train") or not _is_number(value):
                continue
            # events time themselves from the start of training; anchored at the run's start they are minutes
            # early at most, which keeps MLflow's and TensorBoard's wall-time axes in the right order
            points.append(Point(name=name, group=group, value=float(value), step=int(event.get("step", 0)),
                                wall_time=started + float(event.get("elapsed") or 0.0)))
    return points


def final_metrics(metrics: dict) -> dict[str, float]:
    """metrics.json's numbers: scores, their 95 % intervals as ``*_low``/``*_high``, seconds, counts, and nested
    scores with slashes (``per_class/spam/f1``, ``majority_baseline/accuracy``)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key in NOT_FINAL:
            continue
        if key.endswith("_ci") and isinstance(value, (list, tuple)) and len(value) == 2:
            if all(_is_number(v) for v in value):
                out[f"{key}_low"], out[f"{key}_high"] = float(value[0]), float(value[1])
        elif isinstance(value, dict):
            out.update({name: float(v) for name, v in flatten({key: value}, "/").items() if _is_number(v)})
        elif _is_number(value):
            out[key] = float(value)
    return out


def flatten(values: dict, sep: str, prefix: str = "") -> dict:
    """Nested dicts to one level, keys joined by ``sep`` and made safe for trackers (labels can hold anything)."""
    out: dict = {}
    for key, value in values.items():
        name = f"{prefix}{sep}{_safe(key)}" if prefix else _safe(key)
        if isinstance(value, dict):
            nested = flatten(value, sep, name)
        else:
            nested = {name: value}
        for name, item in nested.items():
            unique, n = name, 2
            while unique in out:  # two labels that differ only in characters a tracker refuses
                unique, n = f"{name}_{n}", n + 1
            out[unique] = item
    return out


def _safe(key) -> str:
    """A name part MLflow accepts: word characters, '.', '-', ' '; never '.' or '..' alone (a path would resolve)."""
    text = re.sub(r"[^\w.\- ]", "_", str(key)).strip()
    return text if text.strip(".") else "_" * max(1, len(text))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value, limit: int) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _tlcore_version() -> str:
    try:
        return version("tlcore")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _note(run_id: str, state: str, config: dict, metrics: dict) -> str:
    lines = [f"TransferLab run `{run_id}`: {config.get('method')} on `{config.get('model')}`, data "
             f"`{config.get('data_name', 'data')}` ({state})."]
    if _is_number(metrics.get("accuracy")):
        interval = metrics.get("accuracy_ci")
        ci = f" (95 % interval {interval[0]:.3f}–{interval[1]:.3f})" if isinstance(interval, list) else ""
        lines.append(f"Test accuracy {metrics['accuracy']:.3f}{ci}, macro-F1 {metrics.get('macro_f1', 0.0):.3f} on "
                     f"{metrics.get('n_test', '?')} test rows.")
    return " ".join(lines)


def _check_typed(what: str, value: str | None) -> None:
    """Refuse control characters (a NUL byte makes the OS and SQLite raise, and MLflow retries that for minutes)."""
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise TrackingError(f"{what} {quoted(value)} holds a control character (a NUL byte, a line break, ...); "
                            "type it again.")


def _missing(target: str, exc: ImportError) -> TrackingError:
    package, command = INSTALL[target]
    return TrackingError(f"logging to {'MLflow' if target == 'mlflow' else 'TensorBoard'} needs {package} (and what "
                         f"it uses), which is not installed here ({exc}); install it with: {command}")


# -- MLflow -------------------------------------------------------------------------------------------------------

def log_to_mlflow(run: Run, uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT) -> TrackingResult:
    """Log ``run`` to MLflow: ``uri`` is a tracking server or store; without one, MLflow's own default
    (MLFLOW_TRACKING_URI, else ``sqlite:///mlflow.db`` in the current folder)."""
    _check_typed("the tracking URI", uri)
    _check_typed("the experiment name", experiment)
    record = read_run(run)
    if record.status == "succeeded":
        check_usable(run)  # its export is the artifact: refuse a run that cannot be exported before writing anything
    try:
        import mlflow
        from mlflow.exceptions import MlflowException
    except ImportError as exc:
        raise _missing("mlflow", exc) from None
    uri = uri or mlflow.get_tracking_uri()
    _check_reachable(uri)
    try:
        client = mlflow.MlflowClient(tracking_uri=uri)
        experiment_id = _experiment(client, experiment)
        earlier = client.search_runs([experiment_id], f"tags.`{RUN_ID_TAG}` = '{run.id}'")
        complete = [r for r in earlier if r.data.tags.get(COMPLETE_TAG) == "true"]
        result = TrackingResult(target="mlflow", run_id=run.id, location=uri, action="logged",
                                experiment=experiment)
        if complete:  # the run is final: what was logged then is what would be logged now
            result.action, result.tracking_run_id = "already logged", complete[0].info.run_id
        else:
            for attempt in earlier:  # interrupted before the end: partial metrics would confuse
                client.delete_run(attempt.info.run_id)
            result.action = "replaced" if earlier else "logged"
            _log_mlflow_run(client, experiment_id, run, record, result)
        result.url = _mlflow_url(uri, experiment_id, result.tracking_run_id)
        return result
    except ImportError as exc:  # a store that needs more than mlflow-skinny (sqlite: sqlalchemy, alembic)
        raise _missing("mlflow", exc) from None
    except (MlflowException, OSError) as exc:
        first = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        message = (f"could not log run {run.id} to MLflow at {quoted(uri, 200)}: {first}. Check the tracking URI "
                   "(--uri), the experiment name and that the server is running.")
        raise TrackingError(message) from None


def _check_reachable(uri: str, timeout: float = 10.0) -> None:
    """Fail fast on a server that does not answer: MLflow retries a refused connection for minutes."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        urllib.request.urlopen(urllib.request.Request(uri, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # it answered (a login page, a 404 at the root): MLflow's own calls say more
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(f"no MLflow server answers at {quoted(uri, 200)} ({reason}); check the tracking URI "
                            "(--uri) and that the server is running.") from None


def _experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name)
    if found.lifecycle_stage == "deleted":
        raise TrackingError(f"MLflow experiment {name!r} is deleted; restore it (`mlflow experiments restore "
                            f"--experiment-id {found.experiment_id}`) or log to another experiment name.")
    return found.experiment_id


def _log_mlflow_run(client, experiment_id: str, run: Run, record: RunRecord, result: TrackingResult) -> None:
    tags = {**record.tags, "mlflow.note.content": record.note, "mlflow.source.name": "tlcore export-tracking"}
    created = client.create_run(experiment_id, start_time=_ms(record.started), tags=tags, run_name=run.id)
    run_id = created.info.run_id
    result.tracking_run_id = run_id
    try:
        _log_mlflow_values(client, run_id, run, record, result)
    except BaseException:
        # Marked failed and without the complete tag: the next attempt deletes it and logs the run afresh.
        with contextlib.suppress(Exception):  # the server may be what failed; the first error is the one to show
            client.set_terminated(run_id, status="FAILED")
        raise


def _log_mlflow_values(client, run_id: str, run: Run, record: RunRecord, result: TrackingResult) -> None:
    from mlflow.entities import Metric, Param, RunTag

    params = [Param(key, value) for key, value in record.params.items()]
    metrics = [Metric(point.name, point.value, _ms(point.wall_time), point.step) for point in record.points]
    end = _ms(record.finished or record.started)
    metrics += [Metric(FINAL_RENAMES.get(key, key), value, end, record.final_step)
                for key, value in record.final.items()]
    for start in range(0, len(params), PARAMS_PER_BATCH):
        client.log_batch(run_id, params=params[start:start + PARAMS_PER_BATCH])
    for start in range(0, len(metrics), METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[start:start + METRICS_PER_BATCH])
    if record.status == "succeeded":
        with tempfile.TemporaryDirectory(prefix="tlcore-tracking-") as tmp:
            folder = export_run(run, Path(tmp) / run.id)
            client.log_artifacts(run_id, str(folder), artifact_path=ARTIFACT_DIR)
        result.artifact = ARTIFACT_DIR
    client.log_batch(run_id, tags=[RunTag(COMPLETE_TAG, "true")])
    client.set_terminated(run_id, status=MLFLOW_STATUS[record.status], end_time=end)
    result.params, result.metrics = len(params), len(metrics)


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds else None


def _mlflow_url(uri: str, experiment_id: str, run_id: str | None) -> str | None:
    """The run's page in MLflow's web UI, when the URI is a tracking server (a local store has no address)."""
    if not run_id or not uri.startswith(("http://", "https://")):
        return None
    return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


# -- TensorBoard --------------------------------------------------------------------------------------------------

def log_to_tensorboard(run: Run, logdir: str | Path = DEFAULT_LOGDIR) -> TrackingResult:
    """Write ``run`` as TensorBoard event files in ``logdir/<run id>/`` (replacing an earlier log of it)."""
    _check_typed("the log folder", str(logdir))
    record = read_run(run)
    try:
        from tensorboardX import SummaryWriter
        from tensorboardX.summary import hparams
    except ImportError as exc:
        raise _missing("tensorboard", exc) from None
    logdir = Path(logdir).resolve()  # the message says where, wherever the app or the command was started
    target = logdir / run.id
    try:
        logdir.mkdir(parents=True, exist_ok=True)
        # Written beside the target, then swapped in: TensorBoard, if it watches the folder, never reads half a log.
        staging = Path(tempfile.mkdtemp(prefix=f".{run.id}.", suffix=".writing", dir=logdir))
        staging.chmod(0o755)  # mkdtemp makes it private; a log folder is an ordinary folder
        try:
            written = _write_events(SummaryWriter, hparams, staging, record)
            replaced = target.exists()
            if replaced:
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise TrackingError(f"could not write TensorBoard logs to {quoted(target, 200)}: {exc.strerror or exc}; give a "
                            "folder you can write to (--logdir).") from None
    return TrackingResult(target="tensorboard", run_id=run.id, location=str(logdir), path=str(target),
                          action="replaced" if replaced else "logged", params=len(record.params), metrics=written)


def tensorboard_tag(point: Point) -> str:
    """``train_loss`` of a training line is ``train/loss``; ``val_accuracy`` of an evaluation is ``val/accuracy``:
    TensorBoard groups charts by the part before the slash."""
    return f"{point.group}/{point.name.removeprefix(point.group + '_')}"


def _write_events(SummaryWriter, hparams, folder: Path, record: RunRecord) -> int:  # noqa: N803 (a class)
    writer = SummaryWriter(logdir=str(folder), flush_secs=3600)  # one flush, at close
    try:
        for point in record.points:
            writer.add_scalar(tensorboard_tag(point), point.value, point.step, walltime=point.wall_time)
        end = record.finished or record.started
        for key, value in record.final.items():
            writer.add_scalar(f"final/{key}", value, record.final_step, walltime=end)
        table = "\n".join(f"| {key} | {value} |" for key, value in sorted({**record.params, **record.tags}.items()))
        writer.add_text("transferlab", f"{record.note}\n\n| setting | value |\n| --- | --- |\n{table}",
                        record.final_step, walltime=end)
        # HParams: runs side by side by their settings; values must be numbers or words, and a NaN is neither.
        scores = {f"final/{key}": value for key, value in record.final.items()
                  if key in ("accuracy", "macro_f1") and math.isfinite(value)}
        if scores:
            for summary in hparams(_hparam_values(record.params), scores):
                writer.file_writer.add_summary(summary, walltime=end)
    finally:
        writer.close()
    return len(record.points) + len(record.final)


def _hparam_values(params: dict[str, str]) -> dict[str, float | str]:
    """Params as TensorBoard's HParams wants them: numbers as numbers (it sorts and plots them), the rest as text."""
    out: dict[str, float | str] = {}
    for key, text in params.items():
        try:
            number = float(text)
        except ValueError:
            out[key] = text
        else:
            out[key] = number if math.isfinite(number) else text
    return out
