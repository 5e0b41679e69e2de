"""Domain-adaptive pre-training (tlcore.engine.adapt, tlcore.runs.adapt_job) on real texts with the bundled models:
the masked-LM loss falls, the saved folder loads, embeds as its base's recipe says and serves a linear probe, LoRA is
merged, cancel stops (in process and through the job's own process), and bad input is refused before any load."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open

import tlcore
from tlcore.engine.adapt import ADAPTED_FILE, AdaptConfig, adapt_model, check_texts, clean_texts, mode_named
from tlcore.engine.callbacks import Callback
from tlcore.engine.encoders import embed
from tlcore.engine.models import model_folder, resolve_model
from tlcore.engine.sentence_config import read_sentence_config
from tlcore.errors import ConfigError, DatasetError, ModelError
from tlcore.runs import adapt_jobs, cancel_adapt_job, create_adapt_job, start_adapt_job

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "tlcore" / "data" / "bundled" / "sms_spam_sample.csv"
# Small but real: 400 text messages, 8 head warm-up steps, then 16 steps of 16 texts (~2/3 of a pass).
FAST = dict(head_warmup=8, steps=16, batch_size=16, max_length=64, lr=2e-4)


class Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.logs, self.evals, self.stop_after = [], [], stop_after

    def on_log(self, event: dict) -> None:
        self.logs.append(event)

    def on_evaluate(self, event: dict) -> None:
        self.evals.append(event)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.logs) >= self.stop_after


@pytest.fixture(scope="module")
def sms_texts() -> list[str]:
    return pd.read_csv(SMS)["text"].tolist()


@pytest.fixture(scope="module")
def adapted(tmp_path_factory, sms_texts):
    """minilm adapted (full weights) to the SMS texts, in a cache of its own where the catalog lists it."""
    cache = tmp_path_factory.mktemp("cache")
    recorder = Recorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLCORE_CACHE", str(cache))
        result = adapt_model("minilm", sms_texts, AdaptConfig(**FAST), name="minilm + text messages",
                             source="sms_spam_sample.csv", callback=recorder)
    return result, recorder, cache


def test_masked_lm_loss_falls_and_the_record_says_how_the_model_was_made(adapted, sms_texts):
    result, recorder, cache = adapted
    folder = Path(result.folder)
    assert folder == cache / "adapted" / "minilm-text-messages"
    record = json.loads((folder / ADAPTED_FILE).read_text())
    losses = record["held_out_loss"]
    # The random head starts at chance (ln 30522 = 10.3); the head warm-up brings it far down, and the body's own
    # adaptation lowers it further on texts it never trained on (same masks each time).
    assert losses["before"] > 9.5
    assert losses["after_head_warmup"] < losses["before"] - 2
    assert losses["after"] < losses["after_head_warmup"]
    distinct = len(clean_texts(sms_texts))
    assert {k: record[k] for k in ("name", "base", "objective", "mode", "steps", "source")} == {
        "name": "minilm + text messages", "base": "minilm", "objective": "masked-lm", "mode": "full-weights",
        "steps": 16, "source": "sms_spam_sample.csv"}
    assert record["texts"] + record["held_out_texts"] == distinct
    assert record["base_path"] == str(model_folder(resolve_model("minilm")))
    assert np.isfinite(record["final_loss"]) and record["created"] <= time.time()
    assert [e["step"] for e in recorder.logs] == list(range(1, 25))
    assert {e["phase"] for e in recorder.logs[:8]} == {"head"} and recorder.logs[8]["phase"] == "adapt"
    assert recorder.logs[-1]["total_steps"] == 24
    assert [e["step"] for e in recorder.evals] == [0, 8, 24]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_the_adapted_folder_keeps_the_base_recipe_and_untrained_tensors_and_embeds(adapted, sms_texts):
    folder = Path(adapted[0].folder)
    base = model_folder(resolve_model("minilm"))
    for name in ("config.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json",
                 "config_sentence_transformers.json", "tokenizer.json", "vocab.txt", "model.safetensors"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "config.json").read_text()) == json.loads((base / "config.json").read_text())
    assert read_sentence_config(folder).to_dict() | {"transformer_path": ""} == \
        read_sentence_config(base).to_dict() | {"transformer_path": ""}
    with safe_open(str(folder / "model.safetensors"), "pt") as new, \
            safe_open(str(base / "model.safetensors"), "pt") as old:
        assert set(new.keys()) == set(old.keys())
        # The pooler is not part of the masked-LM objective: kept exactly; the encoder itself moved.
        assert (new.get_tensor("pooler.dense.weight") == old.get_tensor("pooler.dense.weight")).all()
        changed = new.get_tensor("encoder.layer.5.output.dense.weight") - old.get_tensor(
            "encoder.layer.5.output.dense.weight")
        assert changed.abs().max() > 0
    texts = sms_texts[:5]
    vectors = embed(texts, str(folder))
    assert vectors.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert not np.allclose(vectors, embed(texts, str(base)), atol=1e-3)


def test_the_catalog_lists_it_and_a_linear_probe_runs_on_it(adapted, monkeypatch, yelp):
    folder = adapted[0].folder
    monkeypatch.setenv("TLCORE_CACHE", str(adapted[2]))
    assert resolve_model("minilm + text messages").path == str(Path(folder).resolve())
    config = tlcore.RunConfig(model=folder, method="linear-probe", per_class=8, test_size=20,
                              data_name="yelp_reviews.csv")
    run = tlcore.create_run(config, yelp)
    tlcore.execute(run)
    assert run.status()["status"] == "succeeded"
    assert 0.5 <= run.metrics()["accuracy"] <= 1.0


def test_lora_mode_merges_the_adapters_into_a_plain_folder(tmp_path, sms_texts):
    result = adapt_model("minilm", sms_texts, AdaptConfig(**{**FAST, "steps": 3, "head_warmup": 2}, mode="lora"),
                         name="lora merged", root=tmp_path)
    folder = Path(result.folder)
    assert result.record["mode"] == "lora-merged"
    assert not list(folder.glob("adapter*"))  # no PEFT adapter: the weights themselves changed
    base = model_folder(resolve_model("minilm"))
    with safe_open(str(folder / "model.safetensors"), "pt") as new, \
            safe_open(str(base / "model.safetensors"), "pt") as old:
        assert not any("lora" in key for key in new.keys())
        query = "encoder.layer.0.attention.self.query.weight"
        assert (new.get_tensor(query) - old.get_tensor(query)).abs().max() > 0  # LoRA's update, merged
        embeddings = "embeddings.word_embeddings.weight"  # frozen under LoRA
        assert (new.get_tensor(embeddings) == old.get_tensor(embeddings)).all()
    assert embed(sms_texts[:2], str(folder)).shape == (2, 384)


def test_cancel_stops_at_the_next_step_and_saves_nothing(tmp_path, sms_texts):
    recorder = Recorder(stop_after=2)
    with pytest.raises(InterruptedError):
        adapt_model("minilm", sms_texts, AdaptConfig(**FAST), name="cancelled", callback=recorder, root=tmp_path)
    assert len(recorder.logs) == 2
    assert not list(tmp_path.iterdir())


def test_too_few_texts_are_refused_saying_how_many_are_needed(tmp_path):
    texts = [f"message number {i} about the delivery" for i in range(99)] + ["", "  ", None, "ok"]
    texts += [" message  number 7 about the delivery"] * 50  # the same text once whitespace is tidied
    with pytest.raises(DatasetError, match=r"at least 100 distinct texts.*found 99"):
        adapt_model("minilm", texts, name="too few", root=tmp_path)
    assert len(check_texts(texts + ["one more message about the delivery"])) == 100


def test_a_model_without_the_objective_is_refused_before_loading(tmp_path, sms_texts):
    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "t5-like"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "t5", "architectures": ["T5EncoderModel"]}))
    save_file({"shared.weight": torch.zeros(2, 2)}, str(folder / "model.safetensors"))  # not a usable model
    with pytest.raises(ModelError, match="no masked-lm head for 't5'"):
        adapt_model(str(folder), sms_texts, name="t5 adapted", root=tmp_path / "out")


def test_names_and_modes_are_checked(tmp_path, adapted, sms_texts):
    with pytest.raises(ConfigError, match="already exists"):
        adapt_model("minilm", sms_texts, name="minilm + text messages", root=Path(adapted[0].folder).parent)
    with pytest.raises(ConfigError, match="bundled model"):
        adapt_model("minilm", sms_texts, name="minilm", root=tmp_path)
    with pytest.raises(ConfigError, match="no letters or digits"):
        adapt_model("minilm", sms_texts, name="+++", root=tmp_path)
    assert mode_named("lora") == "lora-merged" and mode_named("full") == "full-weights"
    with pytest.raises(ConfigError, match="not one of"):
        AdaptConfig(mode="half")
    with pytest.raises(ConfigError, match="mask_probability"):
        AdaptConfig(mask_probability=0.9)


def test_a_job_runs_in_its_own_process_and_cancel_stops_it(tmp_path, sms_texts, wait_for):
    job = create_adapt_job("minilm", sms_texts, AdaptConfig(**{**FAST, "head_warmup": 0, "steps": 500}),
                           name="job to cancel", source="sms_spam_sample.csv", root=tmp_path)
    assert job.status()["status"] == "queued" and adapt_jobs(tmp_path)[0].id == job.id
    start_adapt_job(job)
    wait_for(lambda: any(e.get("type") == "train" for e in job.events()), timeout=120)
    assert job.status()["status"] == "running"
    cancel_adapt_job(job)
    assert wait_for(lambda: job.status()["status"] == "cancelled", timeout=60)
    steps = [e["step"] for e in job.events() if e.get("type") == "train"]
    assert steps[0] == 1 and len(steps) < 500
    assert [e["val_loss"] > 0 for e in job.events() if e.get("type") == "held_out"] == [True]  # the one before
    assert not (tmp_path / "job-to-cancel").exists()


@pytest.mark.slow
def test_a_decoder_continues_next_token_prediction(tmp_path, sms_texts):
    recorder = Recorder()
    result = adapt_model("smollm2-135m", sms_texts, AdaptConfig(steps=2, batch_size=4, max_length=32),
                         name="smollm2 + sms", root=tmp_path, callback=recorder)
    assert result.record["objective"] == "causal-lm" and result.record["head_warmup_steps"] == 0
    assert [e["phase"] for e in recorder.logs] == ["adapt", "adapt"]
    config = json.loads((Path(result.folder) / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert resolve_model(result.folder).kind == "decoder"
