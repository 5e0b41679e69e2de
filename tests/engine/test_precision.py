"""Mixed precision and device choice: what "auto" picks (by measuring bf16 on this CPU and model), what is refused,
that a bf16 run really learns and predicts like fp32, and that a reload predicts in the run's precision.

The GPU side (bf16 and fp16 on CUDA) is measured by bench/gpu.py on a GPU machine; here the CPU runs bf16
autocast, which goes through the same worker and training-loop code (compute_in, backward). The measurements are
replaced by given figures only where a branch must be reached whatever this CPU is (fast, slow or disagreeing bf16).
"""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from safetensors.torch import load_file

import tlcore
from tlcore.cli.command import run_command
from tlcore.engine import encoders, precision_probe
from tlcore.engine import precision as rules
from tlcore.engine.encoders import embed
from tlcore.engine.models import choose_device, model_folder, parameters_on_disk, resolve_model
from tlcore.engine.precision import AUTO_MIXED_MIN_PARAMS, Precision, choose_precision, compute_in
from tlcore.engine.precision_probe import MatmulCheck, ModelCheck, cpu_bf16_speedup, model_bf16_check
from tlcore.errors import ConfigError, ModelError
from tlcore.methods.linear_probe import FeatureCache

MINILM = model_folder(resolve_model("minilm"))


def _bf16_is_fast_here() -> bool:
    """Whether "auto" can pick bf16 on this CPU (measured once per machine, then read from disk): where it cannot,
    a bf16 model runs at ~1 GFLOP/s and the tests that run one at scale are skipped."""
    return cpu_bf16_speedup().ratio >= rules.AUTO_BF16_MIN_SPEEDUP


def test_auto_without_a_model_to_measure_is_fp32_on_a_cpu_and_bf16_when_asked():
    assert choose_precision("cpu").name == "fp32"
    assert "CPU" in choose_precision("cpu").reason
    assert choose_precision("cpu", "auto", params=10 * AUTO_MIXED_MIN_PARAMS).name == "fp32"
    assert choose_precision("cpu", "bf16").name == "bf16"
    assert choose_precision("mps", "auto").name == "fp32"


@pytest.fixture
def measured(monkeypatch):
    """``measured(ratio, speedup, cosine)``: the CPU's bf16/fp32 matmul ratio and the model's speed-up and agreement
    that "auto" reads; returns the folders whose model was measured (the model check ran)."""
    monkeypatch.delenv("TLCORE_PRECISION", raising=False)

    def given(ratio: float, speedup: float = 2.0, cosine: float = 0.99997, error: str = "",
              logprob_error: float | None = None) -> list:
        ran = []
        monkeypatch.setattr(precision_probe, "cpu_bf16_speedup",
                            lambda: MatmulCheck(100.0, 100.0 * ratio, "512x384 @ 384x1536"))

        def model_check(folder, kind, device="cpu"):
            ran.append(str(folder))
            return ModelCheck(1.0, 1.0 / speedup, cosine, 32, error, logprob_error)

        monkeypatch.setattr(precision_probe, "model_bf16_check", model_check)
        return ran
    return given


def auto(folder=MINILM, kind="encoder", name="minilm"):
    return choose_precision("cpu", "auto", folder=folder, kind=kind, name=name)


def test_auto_on_a_cpu_is_bf16_when_the_cpu_and_the_model_measure_fast_and_agree(measured):
    ran = measured(2.8, speedup=1.9, cosine=0.99996)
    chosen = auto()
    assert chosen.name == "bf16" and ran == [str(MINILM)]
    for figure in ("2.80x as fast as fp32", "280 against 100 GFLOP/s", "minilm runs 1.9x", "min cosine 0.99996",
                   "32 probe texts", "TLCORE_PRECISION=fp32"):
        assert figure in chosen.reason, chosen.reason


@pytest.mark.parametrize("ratio, speedup, cosine, error, says", [
    (0.02, 2.0, 1.0, "", "0.02x as fast as fp32"),  # AVX2-only: the model is never run in bf16
    (2.8, 1.1, 1.0, "", "minilm itself ran only 1.10x as fast"),
    (2.8, 2.0, 0.996, "", "min cosine 0.99600"),  # bf16 weights' agreement: too far from fp32
    (2.8, 2.0, 0.0, "RuntimeError: no bf16 kernel", "failed in bf16 (RuntimeError: no bf16 kernel)"),
])
def test_auto_on_a_cpu_stays_fp32_with_the_measured_reason(measured, ratio, speedup, cosine, error, says):
    ran = measured(ratio, speedup, cosine, error)
    chosen = auto()
    assert chosen.name == "fp32" and says in chosen.reason, chosen.reason
    assert ran == ([] if ratio < rules.AUTO_BF16_MIN_SPEEDUP else [str(MINILM)])


def test_a_language_model_is_judged_by_how_far_its_token_log_probabilities_move(measured):
    """Its hidden states' cosine says little: smollm2-135m's is 0.99998 in bf16, yet 2-4 % of its labels flipped."""
    measured(2.8, speedup=1.7, cosine=0.99998, logprob_error=0.0227)
    chosen = auto(MINILM, "decoder", "smollm2-135m")
    assert chosen.name == "fp32" and "move by 0.0227 nats" in chosen.reason and "at most 0.004" in chosen.reason
    measured(2.8, speedup=1.7, cosine=0.99, logprob_error=0.002)
    assert auto(MINILM, "decoder", "smollm2-135m").name == "bf16"


def test_tlcore_precision_fp32_is_the_one_switch_and_an_explicit_precision_still_wins(measured, monkeypatch):
    ran = measured(2.8)
    monkeypatch.setattr(precision_probe, "cpu_bf16_speedup", lambda: pytest.fail("measured despite the switch"))
    monkeypatch.setenv("TLCORE_PRECISION", "fp32")
    assert auto() == Precision("fp32", "fp32: TLCORE_PRECISION=fp32 is set") and ran == []
    assert choose_precision("cuda:0", "auto", params=10 * AUTO_MIXED_MIN_PARAMS).name == "fp32"  # GPUs too
    assert choose_precision("cpu", "bf16").name == "bf16"
    monkeypatch.setenv("TLCORE_PRECISION", "fast")
    with pytest.raises(ConfigError, match="TLCORE_PRECISION='fast' is not understood; set it to fp32"):
        auto()


def test_a_slow_bf16_cpu_is_found_out_on_a_tiny_product(monkeypatch):
    """An AVX2-only EPYC multiplies bf16 at ~1 GFLOP/s: the big product (and so the model) never runs in bf16."""
    import torch

    shapes = []

    def speed(shape, dtype, rounds):
        shapes.append((shape, dtype))
        return 1.0 if dtype == torch.bfloat16 else 100.0

    monkeypatch.setattr(precision_probe, "_best_gflops", speed)
    check = precision_probe._measure_matmul()
    assert check.ratio == pytest.approx(0.01) and "was not run" in check.note
    assert {shape for shape, _ in shapes} == {precision_probe.TINY_SHAPE}


def test_the_measurements_are_kept_on_disk_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path))
    first = cpu_bf16_speedup()  # measured here, for real
    assert first.fp32_gflops > 0 and first.bf16_gflops > 0
    [saved] = (tmp_path / "precision").glob("cpu-*.json")
    assert json.loads(saved.read_text())["key"]["torch"] == __import__("torch").__version__
    monkeypatch.setattr(precision_probe, "_measure_matmul", lambda: pytest.fail("measured again"))
    assert cpu_bf16_speedup() == first

    other = MatmulCheck(1.0, 2.0, "other")
    monkeypatch.setattr(precision_probe, "_measure_matmul", lambda: other)
    key = precision_probe.machine_key()
    monkeypatch.setattr(precision_probe, "machine_key", lambda: {**key, "torch": "another version"})
    assert cpu_bf16_speedup() == other  # another torch (or CPU) is another machine
    saved.write_text("{not json")
    monkeypatch.setattr(precision_probe, "machine_key", lambda: key)
    assert cpu_bf16_speedup() == other  # a damaged file is measured again


def test_the_model_check_is_kept_on_disk_per_model_and_weights(tiny_st_encoder, tmp_path, monkeypatch):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "model"
    shutil.copytree(tiny_st_encoder, folder)
    first = model_bf16_check(folder, "encoder")  # the real check on a tiny random BERT: fp32 and bf16 autocast
    assert first.texts == 32 and first.fp32_seconds > 0 and first.bf16_seconds > 0 and not first.error
    assert 0.99 < first.min_cosine <= 1.0 + 1e-6
    monkeypatch.setattr(precision_probe, "_measure_model", lambda *args: pytest.fail("measured again"))
    assert model_bf16_check(folder, "encoder") == first
    weights = folder / "model.safetensors"
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))  # weights changed
    again = ModelCheck(1.0, 0.5, 0.9999, 32)
    monkeypatch.setattr(precision_probe, "_measure_model", lambda *args: again)
    assert model_bf16_check(folder, "encoder") == again


def test_a_decoder_check_measures_its_token_log_probabilities(tiny_llama_folder, tmp_path, monkeypatch):
    """The real check on a tiny random Llama: the language-model path (head in fp32), not only hidden states."""
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path))
    check = model_bf16_check(tiny_llama_folder, "decoder")
    assert not check.error and check.texts == 32 and check.logprob_error is not None
    assert 0 < check.logprob_error < 0.5  # bf16 moves them a little: measured, not zero, not garbage
    assert model_bf16_check(tiny_llama_folder, "decoder") == check  # and kept


def test_auto_on_this_cpu_states_what_it_measured():
    chosen = auto()
    assert chosen.name in ("fp32", "bf16")
    assert "GFLOP/s" in chosen.reason, chosen.reason  # the machine's figures, whichever way they went
    assert (chosen.name == "bf16") <= _bf16_is_fast_here()


def test_the_embedding_caches_keep_precisions_apart(sms, tmp_path, monkeypatch):
    """A bf16 run never gets fp32 vectors from the in-process cache or the probe's disk cache, nor the other way."""
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path))
    texts, folder = list(sms.texts[:2]), str(MINILM)
    fp32 = embed(texts, folder, max_length=16)
    with compute_in(Precision("bf16", "test"), "cpu"):
        bf16 = embed(texts, folder, max_length=16)
        cache = FeatureCache(MINILM, 16)
        assert np.array_equal(cache.get(texts, "cpu", None), bf16)
    assert not np.array_equal(fp32, bf16)  # computed again in bf16, not served from the fp32 entries
    assert (fp32 * bf16).sum(1).min() > 0.999  # unit vectors: their dot product is the cosine
    assert np.array_equal(embed(texts, folder, max_length=16), fp32)
    assert {key[4] for key in encoders._cache if key[0] == folder and key[-1] in texts} >= {"", "bf16"}
    assert len(list(cache.folder_for("cpu").glob("*.npy"))) == 0  # the fp32 folder got nothing
    assert len(list(cache.root.with_name(cache.root.name + "-bf16").glob("*.npy"))) == 2


def test_a_reload_computes_in_the_precision_its_run_recorded():
    from tlcore.engine.precision import recorded_precision

    assert recorded_precision({"precision": "bf16"}, "cpu").name == "bf16"
    assert recorded_precision({"accuracy": 0.9}, "cpu").name == "fp32"  # recorded before precisions existed
    assert recorded_precision(None, "cpu").name == "fp32"
    fp16 = recorded_precision({"precision": "fp16"}, "cpu")  # a GPU run reloaded on a CPU
    assert fp16.name == "fp32" and "fp16 on a GPU" in fp16.reason


@pytest.mark.skipif(not _bf16_is_fast_here(), reason="bf16 is slow on this CPU: auto never picks it here")
def test_a_bf16_zero_shot_run_predicts_like_fp32_and_reloads_in_bf16(yelp, runs_dir):
    runs, predicted = {}, {}
    for precision in ("fp32", "bf16"):
        config = tlcore.RunConfig(model="minilm", method="zero-shot", precision=precision, per_class=8,
                                  test_size=200, val_size=0, method_options={"max_length": 64})
        run = tlcore.create_run(config, yelp)
        assert tlcore.runs.worker.execute(run)["precision"] == precision
        runs[precision], predicted[precision] = run, run.predictions()
    assert len(predicted["bf16"]) == 200
    same = (predicted["bf16"]["predicted"] == predicted["fp32"]["predicted"]).mean()
    assert same >= 0.99, same

    encoders.clear_cache()  # a reload in another process: nothing in memory
    stored = predicted["bf16"][["p_negative", "p_positive"]].to_numpy(dtype=float)
    method = tlcore.load_method(runs["bf16"])
    assert method.inference_precision.name == "bf16"
    again = tlcore.predict_texts(method, predicted["bf16"]["text"].tolist())
    np.testing.assert_allclose(again, stored, atol=1e-6)
    method.inference_precision = Precision("fp32", "test")  # what a reload in fp32 would have said instead
    assert np.abs(tlcore.predict_texts(method, predicted["bf16"]["text"].tolist()) - stored).max() > 1e-5


@pytest.mark.skipif(not _bf16_is_fast_here(), reason="bf16 is slow on this CPU: auto never picks it here")
def test_setfit_trains_in_fp32_and_predicts_in_the_runs_precision(sms, monkeypatch):
    import torch

    from tlcore.methods.setfit import SetFit

    seen = {}
    train_body, embed_texts = SetFit._train_body, SetFit._embed

    def spy_train(self, *args):
        seen["train"] = torch.is_autocast_enabled("cpu")
        return train_body(self, *args)

    def spy_embed(self, texts, callback=None):
        seen.setdefault("embed", []).append(torch.is_autocast_enabled("cpu"))
        return embed_texts(self, texts, callback)

    monkeypatch.setattr(SetFit, "_train_body", spy_train)
    monkeypatch.setattr(SetFit, "_embed", spy_embed)
    config = tlcore.RunConfig(model="minilm", method="setfit", precision="bf16", per_class=8, test_size=20,
                              val_size=0, method_options={"max_pairs": 16, "max_length": 32})
    metrics = tlcore.runs.worker.execute(tlcore.create_run(config, sms))
    assert seen == {"train": False, "embed": [False, True]}  # training rows in fp32, test rows in bf16
    assert metrics["precision"] == "bf16" and "setfit trains in fp32" in metrics["precision_reason"]


@pytest.mark.parametrize("device, requested, message", [
    ("cpu", "fp16", "for GPUs"), ("cpu", "fp8", "not one of"), ("cuda", "int4", "not one of")])
def test_a_precision_that_cannot_run_is_refused(device, requested, message):
    with pytest.raises(ConfigError, match=message):
        choose_precision(device, requested)


@pytest.mark.parametrize("device, message", [("cuda:1", "torch sees no cuda GPU"), ("tpu", "unknown device"),
                                             ("cuda", "torch sees no cuda GPU")])
def test_a_device_this_machine_lacks_is_refused(device, message):
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match=message):
        choose_device(device)


def test_parameters_are_read_from_the_safetensors_headers():
    folder = model_folder(resolve_model("minilm"))
    weights = load_file(str(folder / "model.safetensors"))
    assert parameters_on_disk(folder) == sum(tensor.numel() for tensor in weights.values())
    assert parameters_on_disk(folder.parent) is None  # no safetensors there


def _losses(run: tlcore.Run) -> list[float]:
    return [event["train_loss"] for event in run.events() if "train_loss" in event]


def _cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX); without, a bf16 matmul crawls."""
    try:
        flags = set(open("/proc/cpuinfo", encoding="utf-8").read().split())
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & flags)


@pytest.mark.skipif(not _cpu_has_bf16(), reason="this CPU has no bf16 instructions: bf16 training would take minutes")
def test_a_bf16_run_learns_like_fp32(sms, runs_dir):
    """Regression: autocast around a whole training run reused its first bf16 weight copies at every step, so
    LoRA never saw its own updates (loss stuck at 0.69 where fp32 reached 0.52). Same rows, same seed."""
    runs = {}
    for precision in ("fp32", "bf16"):
        config = tlcore.RunConfig(model="minilm", method="lora", precision=precision, per_class=8, test_size=40,
                                  val_size=0, method_options={"epochs": 12, "seed": 0, "max_length": 16})
        run = tlcore.create_run(config, sms)
        metrics = tlcore.runs.worker.execute(run)
        assert metrics["precision"] == precision
        runs[precision] = run
    fp32, bf16 = (_losses(runs[p]) for p in ("fp32", "bf16"))
    assert len(bf16) == len(fp32) == 12
    late = lambda losses: sum(losses[-3:]) / 3  # noqa: E731
    assert late(fp32) < fp32[0] - 0.1  # the check can fail: fp32 itself learns on these rows
    assert abs(late(bf16) - late(fp32)) < 0.05, (fp32, bf16)
    assert "--precision bf16" in run_command(runs["bf16"].config())


def test_the_command_line_refuses_a_bad_device_or_precision(tlcore_cli, sms_path):
    for flag, value, message in (("--device", "gpu0", "expected auto, cpu, cuda, cuda:N or mps"),
                                 ("--precision", "fp8", "invalid choice")):
        result = tlcore_cli("run", "--train", str(sms_path), "--model", "minilm", "--method", "zero-shot",
                            flag, value)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines()[-1].startswith("error:")
        assert message in result.stderr
