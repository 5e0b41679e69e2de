"""One table over every registered (model, method) pair, peft-style.

Each pair fits on 8 real training rows (one optimisation step for the training methods), must
change only the parameters it means to train, and must give the same predictions after save -> load.
"""
from __future__ import annotations

import pytest

import tlcore
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import model_folder, resolve_model

MODELS = ("minilm", "smollm2-135m")
# What a trainable parameter's name must contain, per method (None: every parameter trains).
TRAINABLE_MARKERS = {
    "lora": ("lora_", "modules_to_save", "classifier", "score"),
    "dora": ("lora_", "modules_to_save", "classifier", "score"),
    "ia3": ("ia3_", "modules_to_save", "classifier", "score"),
    "prompt-tuning": ("prompt_encoder", "modules_to_save", "classifier", "score"),
}


def pairs():
    for entry in tlcore.list_methods():
        for model in MODELS:
            kind = tlcore.engine.resolve_model(model).kind
            # Full-weight and DoRA steps on the 135M decoder take minutes on 2 cores: opt-in (-m slow).
            slow = model != "minilm" and entry.name in ("full", "freeze", "dora", "prompt-tuning")
            marks = [pytest.mark.slow] if slow else []
            if kind in entry.kinds:
                yield pytest.param(model, entry.name, id=f"{model}-{entry.name}", marks=marks)


class Snapshot(Callback):
    """Remembers every parameter when training begins."""

    def on_train_begin(self, model) -> None:
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}


def small_config(entry, **extra):
    fields = {f["name"] for f in entry.config_cls.describe_fields()}
    # max_pairs (setfit): 2 steps of 8 pairs; the first one's learning rate is 0 (warm-up).
    wanted = {"epochs": 1, "batch_size": 8, "max_length": 32, "shots": 2, "max_pairs": 16, **extra}
    return entry.config_cls.from_dict({k: v for k, v in wanted.items() if k in fields})


@pytest.mark.parametrize("model_name,method_name", list(pairs()))
def test_method_trains_only_what_it_should_and_reloads(model_name, method_name, tiny_split, tmp_path):
    entry = tlcore.methods.get_method(method_name)
    spec = resolve_model(model_name)
    folder = model_folder(spec)
    method = entry.method_cls(small_config(entry), spec, folder, tiny_split.labels)
    snapshot = Snapshot()
    method.fit(tiny_split.train, tiny_split.val, snapshot)
    proba = method.predict_proba(tiny_split.test.texts)
    assert proba.shape == (len(tiny_split.test), 2)
    assert abs(proba.sum(axis=1) - 1).max() < 1e-5

    if hasattr(snapshot, "before"):  # a gradient method: check which weights moved
        after = dict(method.model.named_parameters())
        trainable = {n for n, p in after.items() if p.requires_grad}
        changed = {n for n, p in after.items() if not p.detach().equal(snapshot.before[n])}
        assert changed, "one optimisation step changed no parameter"
        assert changed <= trainable, f"frozen parameters changed: {sorted(changed - trainable)[:5]}"
        markers = TRAINABLE_MARKERS.get(method_name)
        if markers:
            stray = [n for n in trainable if not any(m in n for m in markers)]
            assert not stray, f"unexpected trainable parameters: {stray[:5]}"
        if method_name == "full":
            assert trainable == set(after)
        if method_name == "freeze":
            assert not any("embed" in n for n in trainable)
            assert 0 < method.trainable_params < method.total_params
        assert 0 < method.trainable_params <= method.total_params

    method.save(tmp_path)
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt")), "only safetensors/JSON"
    reloaded = entry.method_cls(method.config, spec, folder, tiny_split.labels)
    reloaded.load(tmp_path)
    assert abs(reloaded.predict_proba(tiny_split.test.texts) - proba).max() < 1e-4


def test_method_a_model_kind_cannot_do_is_refused():
    # Every built-in method works on both kinds today; the refusal path is the registry's.
    entry = tlcore.methods.get_method("lora")
    fake = tlcore.engine.ModelSpec(name="x", kind="audio", description="", params=None, license="")  # type: ignore[arg-type]
    with pytest.raises(tlcore.MethodError, match="does not work with audio models"):
        tlcore.methods.check_supported(entry, fake)


def test_unknown_method_and_bad_option_values():
    with pytest.raises(tlcore.MethodError, match="unknown method 'lorax'; choose one of: zero-shot"):
        tlcore.methods.get_method("lorax")
    with pytest.raises(tlcore.ConfigError, match="lr must be at least"):
        tlcore.methods.get_method("lora").config_cls(lr=-1)
    with pytest.raises(tlcore.ConfigError,
                       match="calibration must be one of auto, match, prior, batch, contextual, none"):
        tlcore.methods.get_method("zero-shot").config_cls(calibration="magic")
    with pytest.raises(tlcore.MethodError, match="already registered"):
        entry = tlcore.methods.get_method("lora")
        tlcore.methods.register_method(name="lora", config_cls=entry.config_cls, method_cls=entry.method_cls)


def test_config_round_trips_through_dict():
    entry = tlcore.methods.get_method("few-shot")
    config = entry.config_cls(shots=3, label_descriptions={"spam": "unwanted advertising"})
    assert entry.config_cls.from_dict(config.to_dict()) == config


class FixedScores:
    """Stands in for the decoder's label scorer: the calibration arithmetic is what is under test."""

    def __init__(self, scores):
        self.scores = scores

    def score(self, texts, progress=None, should_stop=None):
        import numpy as np

        return np.asarray(self.scores[: len(texts)], dtype=float)


def test_auto_calibration_adds_the_class_prior_which_matters_only_when_classes_are_imbalanced():
    import numpy as np

    entry = tlcore.methods.get_method("zero-shot")
    spec = resolve_model("smollm2-135m")
    # 20 texts whose raw scores slightly favour "spam" for the last 4 only.
    scores = [[0.0, -0.2]] * 16 + [[0.0, 0.4]] * 4
    texts = ["t"] * 20

    def predictions(train_labels):
        method = entry.method_cls(entry.config_cls(), spec, model_folder(spec), ["ham", "spam"])
        method._record_prior(tlcore.data.LabeledData(["x"] * len(train_labels), train_labels))
        method.scorer, method.calibration_offsets = FixedScores(scores), None
        return np.asarray(method.predict_proba(texts)).argmax(1)

    balanced = predictions(["ham"] * 10 + ["spam"] * 10)
    imbalanced = predictions(["ham"] * 18 + ["spam"] * 2)
    assert balanced.sum() == 4  # a uniform prior is batch calibration: the 4 spam-leaning texts go to spam
    assert imbalanced.sum() < balanced.sum()  # with a 90/10 prior, fewer texts are called spam


def test_auto_calibration_corrects_for_one_rare_class_among_common_ones():
    """TREC's shape: no class dominates, but one is rare (ABBR, 2 %); auto must still use the prior."""
    import numpy as np

    entry = tlcore.methods.get_method("zero-shot")
    spec = resolve_model("smollm2-135m")
    labels = ["abbr", "desc", "loc"]
    scores = [[0.3, 0.0, 0.0]] * 10 + [[0.0, 0.5, 0.0]] * 10 + [[0.0, 0.0, 0.5]] * 10
    method = entry.method_cls(entry.config_cls(), spec, model_folder(spec), labels)
    method._record_prior(tlcore.data.LabeledData(["x"] * 42, ["abbr"] * 2 + ["desc"] * 20 + ["loc"] * 20))
    method.scorer, method.calibration_offsets = FixedScores(scores), None
    predicted = np.asarray(method.predict_proba(["t"] * 30)).argmax(1)
    assert (predicted == 0).sum() < 10  # batch calibration alone would call all 10 leaning texts "abbr"


def test_calibration_is_fixed_by_the_first_batch_so_rows_are_labelled_independently():
    import numpy as np

    entry = tlcore.methods.get_method("zero-shot")
    spec = resolve_model("smollm2-135m")
    method = entry.method_cls(entry.config_cls(calibration="batch"), spec, model_folder(spec), ["ham", "spam"])
    method._record_prior(tlcore.data.LabeledData(["x", "y"], ["ham", "spam"]))
    method.scorer, method.calibration_offsets = FixedScores([[0.0, -0.2]] * 16 + [[0.0, 0.4]] * 4), None
    method.predict_proba(["t"] * 20)  # the run's test split sets the offsets once
    offsets = list(method.calibration_offsets)

    method.scorer = FixedScores([[0.0, 0.1]] * 30)  # a later file whose rows all lean the same way
    alone = np.asarray(method.predict_proba(["t"]))[0]
    in_a_batch = np.asarray(method.predict_proba(["t"] * 30))[0]
    assert method.calibration_offsets == offsets
    assert np.allclose(alone, in_a_batch) and alone.argmax() == 1
