"""Any base model the analyst has (issue 19): Hub ids resolved from the local Hugging Face cache with the network
unreachable, the catalog that lists them, encoders by Hub id embedding as sentence-transformers does, and
downloading only when asked (a clear error offline)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tlcore
from tlcore.engine.catalog import list_models, remember_folder
from tlcore.engine.models import parameters_on_disk, resolve_model
from tlcore.errors import ModelError

ENCODER_METHODS = [entry.name for entry in tlcore.list_methods() if "encoder" in entry.kinds]
SMALL = {"epochs": 1, "batch_size": 4, "max_length": 32, "shots": 1, "virtual_tokens": 4, "trainable_layers": 1,
         "max_pairs": 8}


def small_options(method: str) -> dict:
    fields = {f["name"] for f in tlcore.methods.get_method(method).config_cls.describe_fields()}
    return {k: v for k, v in SMALL.items() if k in fields}


def test_a_hub_id_resolves_from_the_cache(hub_models, tiny_hub_cache):
    spec = resolve_model(hub_models["llama"])
    assert (spec.source, spec.kind, spec.hub_id) == ("hub-cache", "decoder", "tiny-org/llama-chat")
    assert spec.path.startswith(str(tiny_hub_cache)) and spec.revision and len(spec.revision) == 40
    assert spec.params == parameters_on_disk(spec.path) > 0
    assert spec.license == "mit"  # from the model card's front matter
    assert resolve_model(hub_models["encoder"]).kind == "encoder"


def test_a_hub_id_missing_from_the_cache_says_how_to_get_it(hub_models):
    with pytest.raises(ModelError, match=r"not in the local Hugging Face cache .*tlcore models --download"):
        resolve_model("tiny-org/not-there")


@pytest.mark.parametrize("method", ENCODER_METHODS)
def test_every_encoder_method_runs_by_hub_id(method, hub_models, yelp):
    config = tlcore.RunConfig(model=hub_models["encoder"], method=method, method_options=small_options(method),
                              per_class=4, test_size=8, val_size=4, device="cpu", data_name="yelp")
    run = tlcore.create_run(config, yelp)
    tlcore.execute(run)
    assert run.status()["status"] == "succeeded", run.status().get("error")
    assert len(run.predictions()) == 8


def test_embeddings_by_hub_id_equal_sentence_transformers(hub_models, yelp):
    from sentence_transformers import SentenceTransformer

    from tlcore.engine.encoders import embed

    spec = resolve_model(hub_models["encoder"])
    texts = yelp.texts[:6]
    ours = embed(texts, spec.path)
    theirs = SentenceTransformer(spec.path, device="cpu").encode(texts)  # its default prompt, CLS, normalised
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_the_catalog_lists_cached_and_recent_models(hub_models, tiny_st_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "tlcore-cache"))
    remember_folder(resolve_model(str(tiny_st_encoder)))
    specs = {spec.name: spec for spec in list_models()}
    assert {"minilm", "smollm2-135m", *hub_models.values(), str(tiny_st_encoder.resolve())} <= set(specs)
    assert specs[hub_models["qwen2"]].source == "hub-cache" and specs[hub_models["qwen2"]].kind == "decoder"
    assert specs[str(tiny_st_encoder.resolve())].source == "folder"
    names = [spec.name for spec in list_models()]
    assert names[:2] == ["minilm", "smollm2-135m"]  # bundled first


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlcore.cli", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def test_tlcore_models_json_lists_the_cache(hub_models):
    result = _cli("models", "--json", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for key, hub_id in hub_models.items():
        row = rows[hub_id]
        assert row["kind"] == ("encoder" if key == "encoder" else "decoder")
        assert row["source"] == "hub-cache" and row["available_offline"] and row["params"] > 0
        assert row["size_mb"] is not None
    assert rows[hub_models["llama"]]["license"] == "mit"


def test_downloading_is_asked_for_and_fails_clearly_offline(hub_models, sms_path):
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}  # online, but the Hub is unreachable
    result = _cli("run", "--train", str(sms_path), "--model", "tiny-org/not-there", "--method", "zero-shot",
                  env=env)
    assert result.returncode == 2 and "not in the local Hugging Face cache" in result.stderr
    assert "--allow-download" in result.stderr
    result = _cli("run", "--train", str(sms_path), "--model", "tiny-org/not-there", "--method", "zero-shot",
                  "--allow-download", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: could not reach the Hugging Face Hub")
    result = _cli("models", "--download", "not a hub id", env=env)
    assert result.returncode == 2 and "nor a Hugging Face Hub id (owner/name)" in result.stderr


@pytest.fixture
def fake_hub(tiny_st_encoder, tmp_path):
    """A local HTTP server that answers as the Hugging Face Hub does for one model (`tiny-org/served`): its file
    list with sizes (`/api/models/...`) and its files (`/.../resolve/main/...`), plus a pickle file and an ONNX copy
    that a download must leave alone. Yields (endpoint, the paths it served)."""
    import hashlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = {str(p.relative_to(tiny_st_encoder)): p.read_bytes() for p in tiny_st_encoder.rglob("*") if p.is_file()}
    files["pytorch_model.bin"] = b"pickle weights: never fetched"
    files["onnx/model.onnx"] = b"an ONNX copy: never fetched"
    commit = "c" * 40
    served: list[str] = []

    class Hub(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, body: bytes, headers: dict, head: bool = False) -> None:
            self.send_response(200)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _answer(self, head: bool) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/api/models/tiny-org/served"):
                info = {"id": "tiny-org/served", "sha": commit,
                        "siblings": [{"rfilename": name, "size": len(data)} for name, data in files.items()]}
                return self._send(json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
            prefix = "/tiny-org/served/resolve/"
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                if name in files:
                    served.append(name)
                    data = files[name]
                    return self._send(data, {"X-Repo-Commit": commit,
                                             "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}, head)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802 - http.server's name
            self._answer(head=False)

        def do_HEAD(self):  # noqa: N802
            self._answer(head=True)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()


def test_a_download_is_asked_for_shows_its_size_and_then_works_offline(fake_hub, tmp_path, sms_path):
    endpoint, served = fake_hub
    cache = tmp_path / "hf-cache"
    online = {**{k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}, "HF_ENDPOINT": endpoint,
              "HF_HUB_CACHE": str(cache)}
    result = _cli("models", "--download", "tiny-org/served", "--json", env=online)
    assert result.returncode == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("Downloading tiny-org/served (") and " MB) into the Hugging Face cache" in first
    assert served[0] == "config.json"  # checked before any weights arrive
    assert "pytorch_model.bin" not in served and not any(name.startswith("onnx/") for name in served)
    assert "model.safetensors" in served and "1_Pooling/config.json" in served
    assert json.loads(result.stdout)["source"] == "hub-cache"

    offline = {**online, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    listed = {row["name"]: row for row in json.loads(_cli("models", "--json", env=offline).stdout)}
    assert listed["tiny-org/served"]["kind"] == "encoder"
    run = _cli("run", "--train", str(sms_path), "--model", "tiny-org/served", "--method", "zero-shot",
               "--test-size", "20", "--runs-dir", str(tmp_path / "runs"), "--json", env=offline)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["model"] == "tiny-org/served"


def test_a_run_keeps_the_snapshot_it_was_created_with(hub_models, tiny_hub_cache, tmp_path, monkeypatch, yelp):
    """A newer download of the same id must not change what an existing run reloads and trains."""
    import shutil

    cache = tmp_path / "hf-cache"
    shutil.copytree(tiny_hub_cache, cache, symlinks=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    hub_id = hub_models["encoder"]
    config = tlcore.RunConfig(model=hub_id, method="zero-shot", per_class=4, test_size=8, val_size=0)
    run = tlcore.create_run(config, yelp)
    first = run.config()["model_revision"]
    assert first and resolve_model(hub_id).revision == first

    repo = cache / f"models--{hub_id.replace('/', '--')}"
    newer = "d" * 40
    shutil.copytree(repo / "snapshots" / first, repo / "snapshots" / newer, symlinks=True)
    (repo / "refs" / "main").write_text(newer)  # a later `hf download` moved main on
    assert resolve_model(hub_id).revision == newer  # new runs take the newer snapshot
    shutil.rmtree(repo / "snapshots" / first)  # ... and the one this run used is gone
    with pytest.raises(ModelError, match=rf"this run used snapshot {first[:12]} .* no longer in the local"):
        tlcore.execute(run)
