"""The executor seam, measured: the same 8-run sweep on the local executor and on a 2-node local Ray cluster.

The sweep: LoRA on minilm, learning rate 1e-4, 3e-4, 1e-3, 3e-3 x epochs 2, 4, on 16 rows per class of the bundled
SMS spam sample (100 test rows), each run made with ``create_run``. Both executors start the 8 runs as the app does
(``start_series``: detached, the clock runs until every run has ended):

- **local**: one series process, the runs one after another (``TLCORE_MAX_CONCURRENT_RUNS`` 1, the default).
- **ray**: a head and a worker node started here as separate processes, 1 CPU each
  (``ray.cluster_utils.Cluster``); a driver process submits one task per run, two run at once.

Printed: both wall clocks and their ratio (on a 2-core machine about even is expected: the point is the seam, not
a speed-up), and the time Ray adds per run: the driver's start (import, connect, memory estimate; once per series),
each task's start latency (from a free CPU, or its submission, to the run's code starting), and the round trip of
an empty task on the warm cluster. Accuracy per run on both, which must agree (same seeds, same code).

    .venv/bin/python bench/ray_executor.py            # ~3-5 min on 2 cores

Results: bench/results/ray_executor.json (with the machine).
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.RESULTS / "ray_executor.json"
LRS = (1e-4, 3e-4, 1e-3, 3e-3)
EPOCHS = (2, 4)
PER_CLASS, TEST_ROWS = 16, 100


def make_runs(root: Path) -> list:
    import tlcore

    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    store = tlcore.RunStore(root)
    return [tlcore.create_run(tlcore.RunConfig(
        model="minilm", method="lora", per_class=PER_CLASS, test_size=TEST_ROWS, data_name="sms_spam_sample.csv",
        method_options={"lr": lr, "epochs": epochs, "batch_size": 8, "max_length": 64, "seed": 0}), data, store=store)
        for lr in LRS for epochs in EPOCHS]


def sweep(executor: str, root: Path) -> dict:
    """Start the 8 runs on ``executor`` and wait for them all; the wall clock and each run's timings."""
    from tlcore.runs import FINAL_STATES, start_series

    os.environ["TLCORE_EXECUTOR"] = executor
    runs = make_runs(root)
    started = time.time()
    start_series(runs)
    while not all(run.status()["status"] in FINAL_STATES for run in runs):
        time.sleep(0.2)
    wall = time.time() - started
    rows = []
    for run in runs:
        status, metrics, options = run.status(), run.metrics() or {}, run.config()["method_options"]
        rows.append({"run_id": run.id, "lr": options["lr"], "epochs": options["epochs"], "status": status["status"],
                     "error": status.get("error"), "accuracy": metrics.get("accuracy"),
                     "run_seconds": metrics.get("total_seconds"), "submitted": status.get("submitted"),
                     "started": status.get("started"), "finished": status.get("finished"),
                     "node": status.get("ray_node_id")})
    common.say(f"{executor}: {wall:.1f} s for {len(runs)} runs")
    return {"wall_seconds": wall, "t0": started, "runs": rows}


def start_latencies(result: dict) -> list[float]:
    """Per run on Ray: seconds from when it could start (its submission, or the end of the run before it on the
    same 1-CPU node) to its code starting (status 'started'): scheduling, a worker process, imports."""
    latencies, free_at = [], {}
    for row in sorted(result["runs"], key=lambda r: r["started"]):
        ready = max(row["submitted"], free_at.get(row["node"], 0.0))
        latencies.append(row["started"] - ready)
        free_at[row["node"]] = row["finished"]
    return latencies


def empty_task_round_trip(tries: int = 20) -> float:
    """Median seconds of submit-and-get of a task that does nothing, on the warm cluster."""
    import ray

    @ray.remote(num_cpus=1, max_retries=0)
    def nothing() -> None:
        return None

    ray.get(nothing.remote())  # a worker process started and warm
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        ray.get(nothing.remote())
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = common.machine()
    work = Path(tempfile.mkdtemp(prefix="tl-bench-ray-"))
    local = sweep("local", work / "local")

    short = tempfile.mkdtemp(prefix="tlray", dir="/tmp")  # Ray's unix sockets need a short path
    os.environ["RAY_TMPDIR"] = short
    import ray
    from ray.cluster_utils import Cluster

    began = time.time()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster_seconds = time.time() - began
        os.environ["RAY_ADDRESS"] = cluster.address
        on_ray = sweep("ray", work / "ray")
        ray.init(address=cluster.address, log_to_driver=False)
        round_trip = empty_task_round_trip()
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(short, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    latencies = start_latencies(on_ray)
    first_submitted = min(row["submitted"] for row in on_ray["runs"])
    result = {
        "machine": info, "sweep": {"model": "minilm", "method": "lora", "lr": LRS, "epochs": EPOCHS,
                                   "per_class": PER_CLASS, "test_rows": TEST_ROWS, "data": "sms_spam_sample.csv"},
        "local": local, "ray": on_ray, "cluster_start_seconds": cluster_seconds,
        "ratio_ray_over_local": on_ray["wall_seconds"] / local["wall_seconds"],
        "ray_driver_start_seconds": first_submitted - on_ray["t0"],
        "ray_task_start_latency_seconds": {"median": statistics.median(latencies), "max": max(latencies),
                                           "each": latencies},
        "ray_empty_task_round_trip_seconds": round_trip,
        "accuracy_agrees": [r["accuracy"] for r in local["runs"]] == [r["accuracy"] for r in on_ray["runs"]],
    }
    OUT.write_text(json.dumps(result, indent=2))
    print(common.markdown_table(
        [{"lr": a["lr"], "epochs": a["epochs"], "local_acc": a["accuracy"], "ray_acc": b["accuracy"],
          "local_s": a["run_seconds"], "ray_s": b["run_seconds"]} for a, b in zip(local["runs"], on_ray["runs"])],
        [("lr", "lr"), ("epochs", "epochs"), ("local_acc", "accuracy local"), ("ray_acc", "accuracy Ray"),
         ("local_s", "run s local"), ("ray_s", "run s Ray")]))
    print(f"\nCPU: {info.get('cpu')} ({info.get('logical_cpus')} logical CPUs, load average "
          f"{info.get('load_average_at_start')} at the start)")
    print(f"local executor: {local['wall_seconds']:.1f} s   Ray (2 nodes x 1 CPU): {on_ray['wall_seconds']:.1f} s   "
          f"ratio Ray/local {result['ratio_ray_over_local']:.2f}")
    print(f"Ray adds: driver start {result['ray_driver_start_seconds']:.1f} s once per series; task start latency "
          f"median {statistics.median(latencies):.2f} s (max {max(latencies):.2f} s) per run; empty task round trip "
          f"{round_trip * 1000:.1f} ms; cluster start {cluster_seconds:.1f} s (once)")
    print(f"accuracy identical on both executors: {result['accuracy_agrees']}")
    print(f"results: {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
