"""The throughput bench's references and its standalone training step.

- bench/peaks.py finds MiniLM's six weight products per layer and mixes their speeds as a step mixes them;
- bench/train_step.py's kept embedding gradient (the change it measures for the training loop) trains exactly as
  the loop does today: the same losses, only without a fresh 47 MB gradient every step.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.fixture(scope="module")
def minilm_step_inputs():
    from train_step import texts_and_labels

    try:
        return texts_and_labels(48)
    except Exception as error:  # noqa: BLE001 - the shared datasets are not part of every checkout
        pytest.skip(f"rt_polarity is not available: {error}")


def test_layer_linears_are_minilms_six_products():
    import peaks
    from transformers import AutoModelForSequenceClassification

    from tlcore.engine.models import model_folder, resolve_model

    model = AutoModelForSequenceClassification.from_pretrained(str(model_folder(resolve_model("minilm"))),
                                                               num_labels=2)
    assert sorted(peaks.layer_linears(model)) == sorted([(384, 384)] * 4 + [(384, 1536), (1536, 384)])


def test_shape_matched_peak_mixes_the_kinds_it_times():
    import peaks

    result = peaks.shape_matched_peak([(64, 64), (64, 256)], 32, "fp32", path_share=1.0, train_share=0.0,
                                      seconds=0.01)
    kinds = [result[f"{k}_gflops"] for k in ("forward", "input_grad", "weight_grad")]
    assert all(k > 0 for k in kinds)
    # forward and input gradient in equal shares: the harmonic mean of their two speeds
    assert result["gflops"] == pytest.approx(2 / (1 / kinds[0] + 1 / kinds[1]))


def test_a_kept_embedding_gradient_trains_exactly_like_a_fresh_one(minilm_step_inputs):
    from train_step import Step

    texts, labels = minilm_step_inputs
    losses = {}
    for variant in ("fp32", "fp32,keep_emb_grad"):
        step = Step(variant, texts, labels)
        losses[variant] = [step.run(batch)["loss"] for batch in step.batches(3)]
    assert losses["fp32,keep_emb_grad"] == pytest.approx(losses["fp32"], abs=1e-5)
    weight = step.model.get_input_embeddings().weight
    assert weight.grad is not None and not weight.grad.is_sparse and float(weight.grad.abs().sum()) == 0.0
