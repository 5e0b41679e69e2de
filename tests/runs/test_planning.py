"""Planning a run: computed parameter counts must match what training really trains."""
from __future__ import annotations

import pytest

import tlcore
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import model_folder, resolve_model
from tlcore.methods.advice import recommend
from tlcore.runs.planning import plan_method


@pytest.mark.parametrize("method", ["lora", "ia3", "freeze", "linear-probe", "zero-shot"])
def test_planned_trainable_params_match_a_real_fit(method, tiny_split):
    plan = plan_method("minilm", method, n_labels=2, n_train=len(tiny_split.train), n_test=len(tiny_split.test))
    entry = tlcore.methods.get_method(method)
    options = {"epochs": 1, "max_length": 16} if entry.method_cls.trains and method != "linear-probe" else {}
    spec = resolve_model("minilm")
    instance = entry.method_cls(entry.config_cls.from_dict(options), spec, model_folder(spec), tiny_split.labels)
    instance.fit(tiny_split.train, tiny_split.val, Callback())
    assert plan.trainable_params == instance.trainable_params
    assert plan.estimated_seconds > 0 and plan.how_estimated


def test_estimates_grow_with_data_and_model():
    small = plan_method("minilm", "lora", 2, n_train=64, n_test=100)
    large = plan_method("minilm", "lora", 2, n_train=640, n_test=100)
    decoder = plan_method("smollm2-135m", "lora", 2, n_train=64, n_test=100)
    assert small.estimated_seconds < large.estimated_seconds
    assert small.estimated_seconds < decoder.estimated_seconds


def test_recommendation_follows_the_amount_of_data():
    assert recommend(n_train=2, n_labels=2).method == "zero-shot"
    assert recommend(n_train=10, n_labels=2).method == "few-shot"
    assert recommend(n_train=30, n_labels=2).method == "linear-probe"
    assert recommend(n_train=200, n_labels=2).method == "lora"
    assert recommend(n_train=200, n_labels=2, has_gpu=True).method == "full"
