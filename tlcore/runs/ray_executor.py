"""Runs as Ray tasks on a cluster (``TLCORE_EXECUTOR=ray``; Ray's own ``RAY_ADDRESS`` says which cluster).

One task per run, ``max_retries=0``, asking Ray's scheduler for what the run needs: ``num_cpus`` (1, or what
``TLCORE_RAY_OPTIONS`` says), a GPU when the run's device is one (``auto`` takes one when the cluster has any), and
the memory the run's estimate says it holds (tlcore/engine/resources.py). The task trains the run with the same code
as a local worker (``tlcore.runs.worker.execute``) and writes the same run folder, which on a cluster lies on storage
every node sees at the same path; so the pages watch a Ray run like a local one.

The driver here (``execute_on_ray``: in the CLI's process, or the detached ``python -m tlcore.runs.ray_driver``
that the app starts) owns the runs: their status.json holds its pid, so if it dies the runs read as failed. It
watches the cancel flags (the task stops itself at its next step; ``ray.cancel`` takes a run out of Ray's queue
at once, and force-stops one that has not stopped within ``CANCEL_GRACE_SECONDS``), and when a task dies (its node
was lost, its worker killed) it marks the run failed with the reason, so a run never stays "running".

Ray is an optional extra (``pip install 'tlcore[ray]'``), imported only inside functions.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError, RunError, TLCoreError
from .store import FINAL_STATES, Run

CANCEL_GRACE_SECONDS = 15.0  # a cancelled run that has not stopped itself by then is force-stopped
POLL_SECONDS = 0.5
PLACEMENT_CHECK_SECONDS = 10.0  # how often queued runs are checked against the nodes the cluster still has
TASK_OPTIONS = ("num_cpus", "num_gpus", "memory", "resources", "accelerator_type")

_remote_task = None  # the Ray remote function, made once per process


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("TLCORE_EXECUTOR=ray needs Ray, which is not installed here: pip install 'tlcore[ray]' "
                          "(on every node of the cluster too), or unset TLCORE_EXECUTOR to run on this machine."
                          ) from exc
    return ray


def cluster_address() -> str:
    """``RAY_ADDRESS``, or "auto": the cluster ``ray start`` last started or joined on this machine."""
    return os.environ.get("RAY_ADDRESS", "").strip() or "auto"


def _unreachable(address: str, reason: object) -> str:
    return (f"cannot reach the Ray cluster at {address} ({reason}); start one with `ray start --head` (other "
            "machines join with `ray start --address=HEAD_IP:6379`) and set RAY_ADDRESS to its address, or unset "
            "TLCORE_EXECUTOR to run on this machine.")


def check_cluster(timeout: float = 3.0) -> str:
    """Check, cheaply and before any process starts, that Ray is installed, ``TLCORE_RAY_OPTIONS`` is valid and
    something answers at the cluster's address; return that host:port."""
    _ray()
    extra_options()
    from ray._private.services import canonicalize_bootstrap_address_or_die  # "auto" resolved as ray.init does

    address = cluster_address()
    try:
        target = (address.removeprefix("ray://") if address.startswith("ray://")
                  else canonicalize_bootstrap_address_or_die(address))
        host, _, port = target.rpartition(":")
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:  # ConnectionError is an OSError: nothing found, refused, timed out
        raise RunError(_unreachable(address, exc)) from exc
    return target


def connect(log_to_driver: bool = False):
    """The ``ray`` module, connected to the cluster (a connection already open in this process is reused)."""
    ray = _ray()
    if not ray.is_initialized():
        address = cluster_address()
        try:  # never address=None: that would start a private one-machine cluster instead of joining one
            ray.init(address=address, log_to_driver=log_to_driver, logging_level=logging.WARNING,
                     namespace="tlcore")
        except Exception as exc:  # noqa: BLE001  (Ray raises ConnectionError, RuntimeError, ValueError, ...)
            raise RunError(_unreachable(address, exc)) from exc
    return ray


def extra_options() -> dict:
    """``TLCORE_RAY_OPTIONS``: a JSON object of Ray task options for every run, over the defaults, e.g.
    ``{"num_cpus": 4}`` or ``{"resources": {"big_disk": 1}}`` to pin runs to nodes started with that resource."""
    text = os.environ.get("TLCORE_RAY_OPTIONS", "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"TLCORE_RAY_OPTIONS is not JSON ({exc}); give an object such as "
                          '{"num_cpus": 2, "resources": {"fast_disk": 1}}.') from exc
    if not isinstance(options, dict):
        raise ConfigError(f"TLCORE_RAY_OPTIONS must be a JSON object of task options, not {text!r}.")
    unknown = sorted(set(options) - set(TASK_OPTIONS))
    if unknown:
        raise ConfigError(f"TLCORE_RAY_OPTIONS has {', '.join(unknown)}, which TransferLab does not pass to Ray; "
                          f"use {', '.join(TASK_OPTIONS)}.")
    return options


# -- what one run asks the scheduler for -----------------------------------------------------------------------
def memory_estimate(config: dict) -> int | None:
    """Bytes the run holds at once (torch runtime, weights, gradients and optimizer state), from the same
    estimate the worker checks before loading; None when it cannot be worked out (then Ray is not asked)."""
    try:
        from ..engine.models import model_folder, resolve_model
        from ..engine.resources import estimate_memory
        from ..methods import get_method
        from .planning import parameter_counts

        entry = get_method(config["method"])
        method_config = entry.config_cls.from_dict(config.get("method_options", {}))
        trainable, total = parameter_counts(model_folder(resolve_model(config["model"])), config["method"],
                                            len(config["labels"]), method_config)
        return estimate_memory(total, trainable, available=0).needed_bytes
    except Exception:  # noqa: BLE001  (a hint for the scheduler; the worker still checks memory itself)
        return None


def task_options(config: dict, cluster_gpus: float, memory: int | None, extra: dict) -> dict:
    """The Ray task options of one run: CPUs, a GPU when its device is one, its memory; ``extra`` on top."""
    kind = str(config.get("device") or "auto").partition(":")[0]
    gpu = kind == "cuda" or (kind == "auto" and cluster_gpus > 0)
    options = {"num_cpus": 1, "num_gpus": 1 if gpu else 0}
    if memory:
        options["memory"] = int(memory)
    return {**options, **extra}


def _needs(options: dict) -> dict[str, float]:
    need = {"CPU": options.get("num_cpus", 1), "GPU": options.get("num_gpus", 0), "memory": options.get("memory", 0),
            **(options.get("resources") or {})}
    return {name: amount for name, amount in need.items() if amount}


def describe(options: dict) -> str:
    """"1 CPU, 1 GPU, 0.6 GB memory": what a run asks for, in words."""
    parts = []
    for name, amount in _needs(options).items():
        parts.append(f"{amount / 2**30:.1f} GB memory" if name == "memory"
                     else f"{amount:g} {name}" if name in ("CPU", "GPU") else f"{amount:g} of {name}")
    return ", ".join(parts)


def unplaceable(options: dict, nodes: list[dict]) -> str | None:
    """Why no live node of the cluster can ever run a task with these options (None when one can)."""
    need = _needs(options)
    alive = [node for node in nodes if node.get("Alive")]
    if any(all(node.get("Resources", {}).get(name, 0) >= amount for name, amount in need.items()) for node in alive):
        return None
    offers = "; ".join(describe({"num_cpus": n["Resources"].get("CPU", 0), "num_gpus": n["Resources"].get("GPU", 0),
                                 "memory": n["Resources"].get("memory", 0)}) for n in alive) or "no live node"
    return (f"no node of the Ray cluster has what this run asks for ({describe(options)}); its nodes offer: "
            f"{offers}. Add such a node, choose another device, or change TLCORE_RAY_OPTIONS.")


# -- the task (runs in a Ray worker process, on any node) ---------------------------------------------------------
def _run_task(run_path: str, threads: int) -> tuple[str, object]:
    """Train one run, as a local worker does; return ("succeeded", metrics), ("cancelled", None) or
    ("failed", exception). The run's status.json says the same; the driver reads this to decide what to raise."""
    import ray

    from ..engine.models import stay_offline
    from .worker import execute

    stay_offline()
    os.environ["TLCORE_THREADS"] = str(threads)  # torch uses the CPUs Ray gave this task, not the whole node
    run = Run(Path(run_path))
    run.update_status(executor="ray", node=f"{socket.gethostname()} ({ray.util.get_node_ip_address()})",
                      ray_node_id=ray.get_runtime_context().get_node_id())
    device = str(run.config().get("device") or "auto")
    # Ray shows the task only the GPU it was given (CUDA_VISIBLE_DEVICES), and as cuda:0.
    device = "cuda" if device.startswith("cuda") else None
    try:
        # What it prints reaches the driver's log (Ray prefixes each line with the task's name: the run id).
        return "succeeded", execute(run, echo=lambda message: print(message, flush=True), scheduled=True,
                                    device=device)
    except InterruptedError:
        return "cancelled", None
    except TLCoreError as exc:
        return "failed", exc
    except Exception as exc:  # noqa: BLE001  (recorded in status.json and traceback.txt by the worker)
        return "failed", RuntimeError(f"run {run.id} failed: {type(exc).__name__}: {exc}")


def _remote(ray):
    global _remote_task
    if _remote_task is None:
        # Never retried: a rerun would append a second training history to the same events.jsonl.
        _remote_task = ray.remote(max_retries=0)(_run_task)
    return _remote_task


# -- the driver --------------------------------------------------------------------------------------------------
@dataclass
class _Task:
    run: Run
    ref: object
    options: dict
    cancel_seen: float | None = None  # when the driver saw the run's cancel flag
    forced: bool = False
    reason: str | None = None  # why the driver itself cancels it (the series stopped), else the user did
    failure: str | None = None  # why the driver took it out of Ray's queue as failed (no node can run it)


def _live(run: Run) -> bool:
    try:
        return run.status().get("status") not in FINAL_STATES
    except TLCoreError:
        return False


def _settle(run: Run, state: str, error: str | None) -> None:
    """Record the end of a run whose task ended without recording it (cancelled or killed by Ray, node lost)."""
    if _live(run):
        run.update_status(status=state, finished=time.time(), error=error)


def lost_reason(ray, exc: Exception) -> str:
    """Why a task died, in words."""
    errors = ray.exceptions
    if isinstance(exc, errors.NodeDiedError):
        return "its node left the Ray cluster (shut down, lost or preempted)"
    if isinstance(exc, getattr(errors, "OutOfMemoryError", ())):
        return "Ray's memory monitor killed it: its node ran out of memory"
    if isinstance(exc, errors.WorkerCrashedError):
        return "its Ray worker process died (killed, crashed or out of memory, or its node was lost)"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:300]}"


def execute_on_ray(runs: Sequence[Run], echo: Callable[[str], None] | None = None, stop_on_error: bool = False,
                   log_to_driver: bool = False, cancel_grace: float = CANCEL_GRACE_SECONDS) -> list[dict]:
    """Submit every run as a Ray task and wait for them all; return the metrics of those that succeeded, in order.

    As ``execute_series``: a cancelled run is skipped; a failed one is recorded in its status.json, and with
    ``stop_on_error`` the others are cancelled and its error is raised once every task has ended.
    """
    say = echo or (lambda message: None)
    try:
        extra = extra_options()
        ray = connect(log_to_driver)
    except TLCoreError as exc:  # nothing was submitted: say so in every run, not a run queued for ever
        for run in runs:
            _settle(run, "failed", str(exc))
        raise
    tasks: dict[object, _Task] = {}
    results: dict[str, dict] = {}
    errors: list[Exception] = []
    try:
        _submit(ray, runs, extra, tasks, errors, say, stop_on_error)
        _wait(ray, tasks, results, errors, say, stop_on_error, cancel_grace)
    except BaseException as exc:  # Ctrl+C in the CLI, a damaged run folder: stop every task, not leave it to no one
        stopped = isinstance(exc, (KeyboardInterrupt, SystemExit))
        for task in tasks.values():
            ray.cancel(task.ref, force=True)
            if stopped:
                _settle(task.run, "cancelled", "interrupted: the process that submitted it to Ray was stopped")
            else:
                _settle(task.run, "failed", f"the process watching it on Ray failed: {type(exc).__name__}: {exc}")
        raise
    if stop_on_error and errors:
        raise errors[0]
    return [results[run.id] for run in runs if run.id in results]


def _submit(ray, runs: Sequence[Run], extra: dict, tasks: dict, errors: list, say, stop_on_error: bool) -> None:
    """One task per run, each asking for what its run needs; a run no node could hold fails here, at once."""
    remote = _remote(ray)
    gpus = ray.cluster_resources().get("GPU", 0)
    nodes = ray.nodes()
    memory: dict[str, int | None] = {}
    for index, run in enumerate(runs):
        run = Run(run.path.resolve())  # the task opens the folder on another machine: the same absolute path
        if run.cancel_requested:
            _settle(run, "cancelled", "cancelled while queued")
            continue
        config = run.config()
        key = json.dumps([config.get("model"), config.get("method"), config.get("method_options"),
                          len(config.get("labels", []))], sort_keys=True, default=str)
        if key not in memory:  # (the estimate loads torch: skipped when TLCORE_RAY_OPTIONS sets the memory)
            memory[key] = None if "memory" in extra else memory_estimate(config)
        options = task_options(config, gpus, memory[key], extra)
        problem = unplaceable(options, nodes)
        if problem:
            run.update_status(status="failed", finished=time.time(), error=problem)
            errors.append(RunError(f"run {run.id}: {problem}"))
            say(f"run {index + 1}/{len(runs)}: {run.id} not submitted: {problem}")
            if stop_on_error:
                _stop_the_rest(run, runs[index + 1:], tasks)
                return
            continue
        # Before the task exists: afterwards only the task writes status.json, until it has ended.
        run.update_status(status="queued", pid=os.getpid(), executor="ray", requested=describe(options),
                          stage="waiting for the Ray cluster", submitted=time.time())
        ref = remote.options(name=f"tlcore {run.id}", **options).remote(str(run.path),
                                                                         max(1, int(options["num_cpus"])))
        tasks[ref] = _Task(run, ref, options)
        say(f"run {index + 1}/{len(runs)}: {run.id} submitted to Ray ({describe(options)})")


def _stop_the_rest(failed: Run, unsubmitted: Sequence[Run], tasks: dict) -> None:
    """After ``failed`` failed in a series that stops on an error: the others are cancelled, and say why."""
    reason = f"not run: run {failed.id} of this series failed first"
    for run in unsubmitted:
        _settle(run, "cancelled", reason)
    for task in tasks.values():
        task.reason = task.reason or reason
        task.run.request_cancel()


def _wait(ray, tasks: dict, results: dict, errors: list, say, stop_on_error: bool, cancel_grace: float) -> None:
    """Until every task has ended: collect outcomes, pass cancel requests on to Ray, fail what cannot be placed."""
    placement_checked = time.monotonic()
    while tasks:
        ready, _ = ray.wait(list(tasks), num_returns=len(tasks), timeout=POLL_SECONDS)
        for ref in ready:
            task = tasks.pop(ref)
            state, value = _outcome(ray, task)
            say(f"{task.run.id}: {state}" + (f" ({value})" if state == "failed" else ""))
            if state == "succeeded":
                results[task.run.id] = value
            elif state == "failed":
                errors.append(value)
                if stop_on_error:
                    _stop_the_rest(task.run, [], tasks)
        now = time.monotonic()
        for task in tasks.values():
            _pass_cancel(ray, task, now, cancel_grace)
        if now - placement_checked > PLACEMENT_CHECK_SECONDS:  # e.g. the only node with a GPU left the cluster
            placement_checked = now
            nodes = ray.nodes()
            for task in tasks.values():
                problem = unplaceable(task.options, nodes)
                if problem and not task.failure and task.run.status().get("status") == "queued":
                    task.failure = problem
                    ray.cancel(task.ref)


def _pass_cancel(ray, task: _Task, now: float, grace: float) -> None:
    if task.cancel_seen is None:
        if not task.run.cancel_requested:
            return
        task.cancel_seen = now
        if task.run.status().get("status") == "queued":  # not started: out of Ray's queue at once
            ray.cancel(task.ref)
    elif not task.forced and now - task.cancel_seen > grace:  # it did not stop itself at a step: stop it
        task.forced = True
        ray.cancel(task.ref, force=True)


def _outcome(ray, task: _Task) -> tuple[str, object]:
    """("succeeded", metrics), ("cancelled", None) or ("failed", an exception to raise); the run's status.json
    records the same."""
    run = task.run
    try:
        state, value = ray.get(task.ref)
    except ray.exceptions.TaskCancelledError:
        if task.failure:
            _settle(run, "failed", task.failure)
            return "failed", RunError(f"run {run.id}: {task.failure}")
        _settle(run, "cancelled", task.reason or "cancelled by the user")
        return "cancelled", None
    except ray.exceptions.RayError as exc:
        if run.cancel_requested:
            _settle(run, "cancelled", task.reason or "cancelled by the user")
            return "cancelled", None
        node = run.status().get("node")
        message = (f"the Ray task running it ended unexpectedly{f' on node {node}' if node else ''}: "
                   f"{lost_reason(ray, exc)}; start the run again.")
        _settle(run, "failed", message)
        return "failed", RunError(f"run {run.id}: {message}")
    if state == "cancelled" and task.reason:  # stopped because another run of the series failed
        run.update_status(error=task.reason)
    return state, value
