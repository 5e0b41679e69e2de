"""A warm worker server: the app's runs start in milliseconds instead of seconds.

Every run executes in its own process (a browser refresh or a crash must not touch it), and a fresh Python pays
~3-5 s importing torch, transformers and tlcore, then ~1 s loading the model, before its first text. The app
starts one server per runs folder when it opens; the server imports all of that once, loads the models the
analyst picks (``preload``) and, for each run, forks a child that is already warm. The child is detached (its own
session, its output in the run's log) and reports its pid in status.json like any worker, so cancel, the
dead-process check and the Runs page work unchanged.

- Fork safety: the server runs torch on ONE thread and never computes, so no OpenMP thread pool exists when it
  forks (GNU OpenMP deadlocks in a child forked after a parallel region); the child picks its own thread count.
- The child sees the caller's environment as it is when the run starts (sent with the request). A variable
  read only at import time (``IMPORT_TIME_ENV``) that differs from the server's makes the caller start a fresh
  process instead.
- The server ends when the process that started it (the app) is gone, or after ``IDLE_SECONDS`` with no request.
- POSIX only (fork, Unix sockets). Elsewhere, and whenever the server does not answer, runs start as fresh
  processes (tlcore.runs.launcher), so a run never depends on it. ``TLCORE_WARM_WORKER=0`` turns it off.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

IDLE_SECONDS = 30 * 60
# Enough for a preload in progress (the server handles one request at a time) to finish before a launch's reply.
REPLY_TIMEOUT_S = 120.0
ENTRY_MODULE = "tlcore.runs.serve_warm"  # how the server itself is started
# Modules a run may start in the server's children (tlcore.runs.launcher's callers).
ENTRY_MODULES = ("tlcore.runs.worker", "tlcore.runs.series", "tlcore.runs.adapt_job")
# Read once, when a library is imported: a child cannot take a new value of these from the caller.
IMPORT_TIME_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT",
                   "TLCORE_CACHE", "XDG_CACHE_HOME", "USE_HUB_KERNELS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                   "PYTHONPATH")


def enabled() -> bool:
    return os.name == "posix" and hasattr(os, "fork") and os.environ.get("TLCORE_WARM_WORKER", "1").strip() != "0"


def socket_path(runs_dir: Path) -> Path:
    """Where the server of ``runs_dir`` listens: a short path in the temp folder, because a Unix socket's path
    is limited to ~100 bytes and a runs folder may be deeper than that."""
    digest = hashlib.sha1(str(Path(runs_dir).resolve()).encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"tlcore-{uid}" / f"warm-{digest}.sock"


# ---------------------------------------------------------------------------------------------------- client side

def _request(runs_dir: Path, message: dict, timeout: float) -> dict | None:
    """Send one request; the server's reply, or None when no server answers (not started, gone, refused)."""
    path = socket_path(runs_dir)
    if not enabled() or not path.exists():
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.settimeout(timeout)
            sock.sendall(json.dumps(message).encode() + b"\n")
            reply = sock.makefile("rb").readline()
    except OSError:
        return None
    try:
        return json.loads(reply) if reply else None
    except ValueError:
        return None


def is_running(runs_dir: Path) -> bool:
    reply = _request(runs_dir, {"op": "ping"}, timeout=2.0)
    return bool(reply and reply.get("ok"))


def start(runs_dir: Path, preload: Sequence[str] = ()) -> bool:
    """Start the server of ``runs_dir`` in the background unless one answers; True when one is (being) started.
    It stays up while the calling process lives. ``preload`` names models to load as soon as it is up."""
    if not enabled():
        return False
    if is_running(runs_dir):
        for model in preload:
            preload_model(runs_dir, model)
        return True
    from .launcher import launch_detached

    path = socket_path(runs_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = Path(runs_dir) / ".warm-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [str(runs_dir), "--owner", str(os.getpid()), *[a for model in preload for a in ("--preload", model)]]
    launch_detached(ENTRY_MODULE, args, log)
    return True


_launched_at: dict[str, float] = {}
STARTING_GRACE_S = 90.0  # a server importing torch does not answer yet: do not start a second one meanwhile


def keep_warm(runs_dir: Path, preload: Sequence[str] = ()) -> bool:
    """What the app calls on every page view (a ping, ~1 ms): start the server of ``runs_dir`` unless one answers
    or one was started in the last ``STARTING_GRACE_S`` seconds; True when one is up or coming."""
    if not enabled():
        return False
    key = str(Path(runs_dir).resolve())
    if time.monotonic() - _launched_at.get(key, -1e9) < STARTING_GRACE_S or is_running(runs_dir):
        return True
    _launched_at[key] = time.monotonic()
    return start(runs_dir, preload)


def stop(runs_dir: Path) -> bool:
    """Ask the server to end (its running children go on); False when none answered."""
    return _request(runs_dir, {"op": "stop"}, timeout=5.0) is not None


def preload_model(runs_dir: Path, model: str) -> bool:
    """Ask the server to load ``model`` now, so the next run on it skips loading; returns at once (the server
    loads while the analyst sets up the run). False when no server answers."""
    return _request(runs_dir, {"op": "preload", "model": model}, timeout=2.0) is not None


def launch(runs_dir: Path, module: str, args: Sequence[str], log: Path, env: dict[str, str]) -> int | None:
    """Start ``module``'s main(args) in a warm child; its pid, or None when the caller must start a fresh process
    (no server, another environment, a refusal). Once the server accepted the request it is never sent twice: a
    run started twice would execute twice."""
    reply = _request(runs_dir, {"op": "launch", "module": module, "args": list(args), "log": str(log),
                                "env": env}, timeout=REPLY_TIMEOUT_S)
    if not reply or not reply.get("pid"):
        return None
    return int(reply["pid"])


# ---------------------------------------------------------------------------------------------------- server side

class _Server:
    def __init__(self, runs_dir: Path, owner: int | None):
        self.runs_dir = runs_dir
        self.owner = owner
        self.env = dict(os.environ)
        self.last_request = time.monotonic()
        self.preloaded: dict[str, str] = {}
        self.threads = 1
        self.stopping = False

    def warm_up(self) -> None:
        """Import what every run imports, on one thread (see the module's docstring)."""
        import torch

        self.threads = torch.get_num_threads()  # torch's own choice (cores or OMP_NUM_THREADS): the children's
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        import transformers  # noqa: F401
        from transformers import AutoModel, AutoModelForSequenceClassification  # noqa: F401

        import tlcore.methods  # noqa: F401  every method registers itself
        from tlcore.engine.models import quiet_transformers

        for module in ENTRY_MODULES:
            importlib.import_module(module)
        quiet_transformers()

    def preload(self, model: str) -> dict:
        """Load the tokenizer and weights the inference methods share (lru-cached per process, so a child
        inherits them); a model that still needs converting is left to its first run."""
        from tlcore.engine.models import load_tokenizer, model_folder, resolve_model

        spec = resolve_model(model)
        if spec.name in self.preloaded:
            return {"ok": True, "model": spec.name}
        folder = model_folder(spec) if _ready(spec) else None
        if folder is None:
            return {"ok": False, "error": f"{model} is converted on its first run, not here"}
        load_tokenizer(str(folder))
        if spec.kind == "decoder":
            from tlcore.engine.decoder_scoring import load_causal_lm

            load_causal_lm(str(folder), "cpu")
        else:
            from tlcore.engine.encoders import load_encoder
            from tlcore.engine.sentence_config import read_sentence_config

            recipe = read_sentence_config(str(folder))
            if not recipe.delegate:
                load_encoder(str(Path(folder) / recipe.transformer_path) if recipe.transformer_path
                             else str(folder), "cpu")
        self.preloaded[spec.name] = str(folder)
        return {"ok": True, "model": spec.name}

    def launch(self, message: dict) -> dict:
        module, env = message.get("module"), message.get("env") or {}
        if module not in ENTRY_MODULES:
            return {"error": f"{module!r} is not a run's entry module"}
        changed = [k for k in IMPORT_TIME_ENV if env.get(k) != self.env.get(k)]
        if changed:
            return {"error": f"the environment changed ({', '.join(changed)}); start a fresh process"}
        pid = os.fork()
        if pid:
            return {"pid": pid}
        _child(module, list(message.get("args") or []), Path(message["log"]), env, self.threads)  # never returns

    def handle(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rb") as reader:
            try:
                message = json.loads(reader.readline() or b"{}")
                op = message.get("op")
                if op == "ping":
                    reply = {"ok": True, "pid": os.getpid(), "preloaded": sorted(self.preloaded)}
                elif op == "preload":
                    connection.sendall(b'{"ok": true}\n')  # the caller does not wait for the load
                    reply = None
                    self.preload(str(message.get("model")))
                elif op == "launch":
                    reply = self.launch(message)
                elif op == "stop":
                    self.stopping = True
                    reply = {"ok": True}
                else:
                    reply = {"error": f"unknown request {op!r}"}
            except Exception as exc:  # noqa: BLE001  a bad request must not end the server
                reply = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"warm server: {reply['error']}", flush=True)
            if reply is not None:
                try:
                    connection.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass

    def should_stop(self) -> bool:
        if self.stopping or (self.owner and not _alive(self.owner)):
            return True
        return time.monotonic() - self.last_request > IDLE_SECONDS

    def serve(self, listener: socket.socket) -> None:
        listener.settimeout(5.0)
        while not self.should_stop():
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            self.last_request = time.monotonic()
            connection.settimeout(10.0)
            self.handle(connection)


def _ready(spec) -> bool:
    """Whether the model's folder exists without converting anything first."""
    from tlcore.engine.models import model_folder

    try:
        model_folder(spec, progress=_refuse_conversion)
    except _NeedsConversion:
        return False
    return True


class _NeedsConversion(Exception):
    pass


def _refuse_conversion(message: str) -> None:
    raise _NeedsConversion(message)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _child(module: str, args: list[str], log: Path, env: dict[str, str], threads: int) -> None:
    """In the forked child: become a detached worker (own session, output to the log, torch's usual thread
    count), run, exit."""
    code = 1
    try:
        import torch

        torch.set_num_threads(threads)
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the server ignores it; a run's own subprocesses need it
        for name in ("SIGTERM", "SIGINT", "SIGHUP"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(env)
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        sys.argv = [module, *args]
        print(f"started warm: forked from the worker server {os.getppid()} (imports and preloaded models reused)",
              flush=True)
        code = importlib.import_module(module).main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001  the child must never fall back into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code or 0)


def main(argv: list[str] | None = None) -> int:
    """``python -m tlcore.runs.serve_warm RUNS_DIR [--owner PID] [--preload MODEL ...]``."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {ENTRY_MODULE}")
    parser.add_argument("runs_dir")
    parser.add_argument("--owner", type=int, help="stop when this process is gone (the app)")
    parser.add_argument("--preload", action="append", default=[], help="a model to load at once")
    args = parser.parse_args(argv)
    runs_dir = Path(args.runs_dir)
    path = socket_path(runs_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    server = _Server(runs_dir, args.owner)
    server.warm_up()
    for model in args.preload:
        try:
            server.preload(model)
        except Exception as exc:  # noqa: BLE001  a model that cannot load is the run's error to report
            print(f"warm server: could not preload {model}: {exc}", flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system, never left as zombies
    if is_running(runs_dir):
        return 0  # another server of this folder won the race
    path.unlink(missing_ok=True)  # a dead server's socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        try:
            listener.bind(str(path))
        except OSError:  # another server bound it a moment ago
            return 0
        os.chmod(path, 0o600)
        listener.listen(16)
        print(f"warm server {os.getpid()} listening for {runs_dir}", flush=True)
        try:
            server.serve(listener)
        finally:
            path.unlink(missing_ok=True)
    return 0

