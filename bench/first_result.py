"""Target 3: time to first result, and the app's home page.

- ``tlcore run --method zero-shot --model minilm --json`` on 1,000 test rows (rt_polarity), timed from
  starting the command to its JSON (the console script, as a user runs it; MiniLM needs no conversion).
  It runs twice; the first run warms the disk cache and is reported separately.
- The same work broken down, in one fresh process: python start, imports, model load, encoding the
  1,000 texts, then the real CLI in-process for the rest (reading data, label embeddings, similarity,
  metrics, writing the run folder) with the encodings already cached.
- The home page: which heavy libraries a script run of app.py imports (AppTest, fresh process), and
  in headless Chromium the time from opening the page on a started server until it shows its content,
  plus the server's own start-up.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CHROMIUM = os.environ.get("TL_CHROMIUM", "/usr/bin/chromium")
HEAVY = ("torch", "transformers", "peft", "sklearn")


def write_data(folder: Path, n_test: int) -> tuple[Path, Path]:
    rows = common.rt_sample(n_test + 100)
    train, test = folder / "train.csv", folder / "test.csv"
    rows.iloc[:100].to_csv(train, index=False)
    rows.iloc[100:].to_csv(test, index=False)
    return train, test


def cli_args(train: Path, test: Path, runs: Path) -> list[str]:
    return ["run", "--train", str(train), "--test", str(test), "--model", "minilm", "--method", "zero-shot",
            "--runs-dir", str(runs), "--json", "--quiet"]


def tlcore_command() -> list[str]:
    script = Path(sys.executable).parent / "tlcore"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tlcore.cli"]


def fresh_embedding_store() -> str:
    """An empty folder for the vectors runs keep on disk (tlcore.engine.embedding_store): a first result must encode
    its texts, not find them from an earlier measurement."""
    return tempfile.mkdtemp(prefix="tl-bench-vectors-")


def run_tlcore(args: list[str], timeout: float = 600, what: str = "tlcore run") -> tuple[float, dict]:
    """``tlcore ARGS`` (ending in --json) as a user types it, with an empty embedding store: (wall seconds, its JSON).

    The store is empty so that a run encodes its texts, and loads its model, rather than finding the vectors an
    earlier measurement left on disk (tlcore.engine.embedding_store)."""
    started = time.perf_counter()
    proc = subprocess.run(tlcore_command() + args, capture_output=True, text=True, timeout=timeout, cwd=common.ROOT,
                          env={**os.environ, "TLCORE_EMBEDDING_CACHE_DIR": fresh_embedding_store()})
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise common.BenchError(f"{what} failed ({proc.returncode}): {proc.stderr.strip()[-300:]}")
    return seconds, json.loads(proc.stdout)


def timed_cli(train: Path, test: Path, runs: Path) -> tuple[float, dict]:
    return run_tlcore(cli_args(train, test, runs))


def cell(spec: dict) -> dict:
    """The breakdown (kind "stages") or the home page's imports (kind "home")."""
    if spec["kind"] == "home":
        before = {name: name in sys.modules for name in HEAVY}
        from streamlit.testing.v1 import AppTest

        started = time.perf_counter()
        app = AppTest.from_file(str(common.ROOT / "app.py"), default_timeout=120).run()
        return {"script_run_s": time.perf_counter() - started, "exceptions": [str(e.value) for e in app.exception],
                "imported_before": before, "imported_after": {name: name in sys.modules for name in HEAVY}}
    python_start = time.time() - spec["spawned_at"]
    os.environ["TLCORE_EMBEDDING_CACHE"] = "0"  # the encode stage encodes, whatever earlier runs kept on disk
    stages = {}
    started = time.perf_counter()
    import torch  # noqa: F401  what a zero-shot run imports, in the order it does
    import transformers  # noqa: F401
    from transformers import AutoModel  # noqa: F401

    import tlcore.cli

    stages["import"] = time.perf_counter() - started
    started = time.perf_counter()
    from tlcore.engine.encoders import embed, load_encoder
    from tlcore.engine.models import load_tokenizer, model_folder, resolve_model

    folder = str(model_folder(resolve_model("minilm")))
    load_tokenizer(folder)
    load_encoder(folder, "cpu")
    stages["load"] = time.perf_counter() - started
    started = time.perf_counter()
    import pandas as pd

    from tlcore.engine.precision import choose_precision, compute_in

    texts = list(pd.read_csv(spec["test"]).text)
    precision = choose_precision("cpu", "auto", folder=folder, kind="encoder", name="minilm")  # as a run chooses
    stages["precision"] = precision.name
    with compute_in(precision, "cpu"):
        embed(texts, folder, "cpu", max_length=tlcore.methods.get_method("zero-shot").config_cls().max_length)
    stages["encode"] = time.perf_counter() - started
    started = time.perf_counter()
    code = tlcore.cli.main(cli_args(Path(spec["train"]), Path(spec["test"]), Path(spec["runs"])))
    stages["predict"] = time.perf_counter() - started
    if code != 0:
        raise common.BenchError(f"tlcore run exited {code}")
    return {"python_start_s": python_start, "precision": stages.pop("precision"),
            **{f"{k}_s": v for k, v in stages.items()}, "texts": len(texts)}


def app_session(train: Path, test: Path, runs: Path) -> dict:
    """Runs as the app starts them (tlcore.start_worker), with the warm worker server the app starts when it opens
    (tlcore.runs.warm_server, minilm preloaded): the server's start-up, then the time from the click (create the
    run, start it) until its metrics are written, for a first zero-shot run, a second one, and a few-shot run on
    the same rows (what an analyst runs next)."""
    import pandas as pd

    import tlcore
    from tlcore.runs import warm_server

    if not warm_server.enabled():
        return {"skipped": "the warm worker server is off here (TLCORE_WARM_WORKER=0, or not POSIX)"}
    runs.mkdir(parents=True)
    os.environ["TLCORE_EMBEDDING_CACHE_DIR"] = fresh_embedding_store()  # the server's children inherit it
    started = time.perf_counter()
    warm_server.keep_warm(runs, preload=["minilm"])
    while "minilm" not in ((warm_server._request(runs, {"op": "ping"}, 2.0) or {}).get("preloaded") or []):
        if time.perf_counter() - started > 180:
            raise common.BenchError("the warm worker server did not start")
        time.sleep(0.05)
    server_ready = time.perf_counter() - started
    data = tlcore.to_labeled(pd.read_csv(train), "text", "label")
    test_data = tlcore.to_labeled(pd.read_csv(test), "text", "label")
    store = tlcore.RunStore(runs)
    timings = {}
    try:
        for name, method in (("first", "zero-shot"), ("second", "zero-shot"), ("few_shot", "few-shot")):
            started = time.perf_counter()
            run = tlcore.create_run(tlcore.RunConfig(model="minilm", method=method), data, test_data, store=store)
            tlcore.start_worker(run)
            while run.status().get("status") not in tlcore.runs.FINAL_STATES:
                time.sleep(0.02)
            seconds = time.perf_counter() - started
            if run.status()["status"] != "succeeded":
                raise common.BenchError(f"{method} run {run.status()['status']}: {run.status().get('error')}")
            metrics = run.metrics()
            warm = "started warm" in (run.path / "worker.log").read_text()
            timings[name] = {"s": seconds, "method": method, "warm": warm, "accuracy": metrics["accuracy"],
                             "precision": metrics.get("precision"), "predict_s": metrics["predict_seconds"]}
    finally:
        warm_server.stop(runs)
        os.environ.pop("TLCORE_EMBEDDING_CACHE_DIR", None)
    return {"server_ready_s": server_ready, **timings}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def home_page_in_browser(runs: Path) -> dict:
    """Server start to healthy, then goto -> home page content visible (twice) in headless Chromium."""
    if not Path(CHROMIUM).exists():
        return {"skipped": f"no Chromium at {CHROMIUM}"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "the playwright package is not installed"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=common.ROOT, env={**os.environ, "TLCORE_RUNS_DIR": str(runs)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise common.BenchError("streamlit did not start") from None
                time.sleep(0.1)
        server_start = time.perf_counter() - started
        loads = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(2):
                page = browser.new_page()
                started = time.perf_counter()
                page.goto(url)
                # Content drawn and the script run finished: the page link to step 1 works from here on.
                page.get_by_role("link", name="1 · Data").wait_for(timeout=120_000)
                page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                       timeout=120_000)
                loads.append(time.perf_counter() - started)
                shots = common.ROOT / "test-artifacts"
                shots.mkdir(exist_ok=True)
                page.screenshot(path=str(shots / "bench-home.png"))
                page.close()
            browser.close()
        return {"server_start_s": server_start, "first_load_s": loads[0], "second_load_s": loads[1]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def run(quick: bool = False) -> dict:
    n_test = 1000
    with tempfile.TemporaryDirectory(prefix="tl-bench-") as tmp:
        folder = Path(tmp)
        train, test = write_data(folder, n_test)
        common.say("first result: tlcore run zero-shot minilm on 1,000 rows (twice)")
        cold_s, _ = timed_cli(train, test, folder / "runs-cold")
        warm_s, metrics = timed_cli(train, test, folder / "runs")
        common.say("first result: the same, broken down in one process")
        stages = common.run_cell("first_result", {"kind": "stages", "train": str(train), "test": str(test),
                                                  "runs": str(folder / "runs-stages"), "spawned_at": time.time()})
        common.say("first result: runs started as the app starts them, with its warm worker server")
        session = app_session(train, test, folder / "runs-session")
        common.say("first result: the home page")
        home = common.run_cell("first_result", {"kind": "home"})
        browser = home_page_in_browser(folder / "runs-app")
    row = {"rows": n_test, "first_run_s": cold_s, "cli_s": warm_s, "accuracy": metrics["accuracy"],
           "cli_predict_seconds": metrics["predict_seconds"], "cli_peak_rss_mb": metrics.get("peak_rss_mb"),
           "stages": stages, "home": home, "browser": browser, "app_session": session}
    stage_sum = sum(stages[k] for k in ("python_start_s", "import_s", "load_s", "encode_s", "predict_s"))
    torch_on_home = home["imported_after"]["torch"]
    targets = [common.target("tlcore run zero-shot minilm, 1,000 rows, start to JSON: < 8 s", warm_s < 8,
                             f"{warm_s:.1f} s (first run {cold_s:.1f} s)")]
    if "skipped" in session:
        targets.append(common.target("app: first zero-shot result on 1,000 rows < 5 s, second < 3 s", None,
                                     "not measured: " + session["skipped"]))
    else:
        first, second, few = session["first"], session["second"], session["few_shot"]
        targets.append(common.target(
            "app: first zero-shot result on 1,000 rows < 5 s (click to metrics, models cached)", first["s"] < 5,
            f"{first['s']:.2f} s ({first['precision']}; warm worker: {'yes' if first['warm'] else 'no'})",
            f"the app's worker server was ready {session['server_ready_s']:.1f} s after the app opened",
            headline=True))
        targets.append(common.target(
            "app: the second run in the same session < 3 s", second["s"] < 3,
            f"zero-shot again {second['s']:.2f} s; few-shot on the same rows {few['s']:.2f} s", headline=True))
    load = browser.get("first_load_s")
    met = None if load is None else (load < 3 and not torch_on_home)
    targets.append(common.target(
        "app home page interactive in < 3 s, no torch import", met,
        ("not measured: " + browser["skipped"]) if load is None else
        f"{load:.1f} s on a started server (again: {browser['second_load_s']:.1f} s; server start "
        f"{browser['server_start_s']:.1f} s); torch imported: {'yes' if torch_on_home else 'no'}"))
    table = common.markdown_table([
        {"what": "python start", "s": stages["python_start_s"]},
        {"what": "import (torch, transformers, tlcore)", "s": stages["import_s"]},
        {"what": "load minilm (tokenizer + weights)", "s": stages["load_s"]},
        {"what": f"encode {n_test} texts ({stages['precision']})", "s": stages["encode_s"]},
        {"what": "predict (CLI in-process: read, split, label vectors, similarity, metrics, write)",
         "s": stages["predict_s"]},
        {"what": "sum of the stages (one process)", "s": stage_sum},
        {"what": "`tlcore run ... --json`, start to JSON", "s": warm_s},
        {"what": "the same, first time (cold disk cache)", "s": cold_s},
        *([] if "skipped" in session else [
            {"what": "app: warm worker server ready (imports + minilm loaded), from the app opening",
             "s": session["server_ready_s"]},
            {"what": "app: first zero-shot run, click to metrics", "s": session["first"]["s"]},
            {"what": "app: second zero-shot run (new run, same rows)", "s": session["second"]["s"]},
            {"what": "app: then few-shot on the same rows", "s": session["few_shot"]["s"]}])],
        [("what", "zero-shot minilm, 1,000 rows"), ("s", "seconds")])
    table += "\n\n" + common.markdown_table([
        {"what": "home page script run (AppTest)", "s": home["script_run_s"],
         "note": "imports: " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in home["imported_after"].items())},
        {"what": "server start to healthy", "s": browser.get("server_start_s"), "note": browser.get("skipped", "")},
        {"what": "open home page until content shown (first visit)", "s": browser.get("first_load_s"), "note": ""},
        {"what": "again (second visit)", "s": browser.get("second_load_s"), "note": ""}],
        [("what", "app"), ("s", "seconds"), ("note", "note")])
    return {"name": "first_result", "title": "3. Time to first result", "rows": [row], "table": table,
            "targets": targets}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
