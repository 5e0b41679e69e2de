"""SetFit: contrastive fine-tuning of the MiniLM body on real rows, then a logistic-regression head.

It must learn (above chance on held-out Yelp rows), report its loss live, stop when cancelled, repeat itself
from a seed, reload and export (transformers / sentence-transformers + numpy, no tlcore) with the run's very
probabilities, and refuse bad options and decoder models with a reason.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import model_folder, resolve_model
from tlcore.errors import ConfigError, MethodError
from tlcore.methods import check_supported, get_method
from tlcore.methods.setfit import HEAD_FILE, contrastive_pairs, planned_pairs
from tlcore.runs.planning import estimate_flops, parameter_counts
from tlcore.use.predict import predict_frame

ENTRY = get_method("setfit")
MINILM = resolve_model("minilm")
FAST = {"max_pairs": 32, "max_length": 32}  # two steps: for tests about plumbing, not accuracy
# setfit 1.x's pairs: every unique pair once, 9 steps at 8 rows per class (the default, 40 steps, is slow here).
UNIQUE = {"iterations": 0}


class Recorder(Callback):
    def __init__(self, stop_after: int | None = None) -> None:
        self.logs, self.evaluations, self.stop_after = [], [], stop_after

    def on_log(self, event: dict) -> None:
        self.logs.append(event)

    def on_evaluate(self, event: dict) -> None:
        self.evaluations.append(event)

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.logs) >= self.stop_after


def fitted(split, **options):
    method = ENTRY.method_cls(ENTRY.config_cls(**options), MINILM, model_folder(MINILM), split.labels)
    recorder = Recorder()
    method.fit(split.train, split.val, recorder)
    return method, recorder


@pytest.fixture(scope="module")
def yelp_split(yelp) -> tlcore.Split:
    """8 training rows per class (the SetFit paper's smallest setting), 60 held-out test rows."""
    return tlcore.make_split(yelp, test_size=60, val_size=4, per_class=8)


@pytest.fixture(scope="module")
def trained(yelp_split):
    """SetFit with setfit 1.x's pairs on the Yelp split (144 pairs, 9 steps), with what its callback heard."""
    return fitted(yelp_split, **UNIQUE)


def accuracy(proba: np.ndarray, split) -> float:
    gold = np.asarray([split.labels.index(label) for label in split.test.labels])
    return float((proba.argmax(1) == gold).mean())


def test_it_learns_real_sentiment_well_above_chance(trained, yelp_split):
    method, _ = trained
    proba = method.predict_proba(yelp_split.test.texts)
    assert proba.shape == (60, 2) and np.allclose(proba.sum(1), 1)
    assert accuracy(proba, yelp_split) >= 0.65  # balanced classes: chance is 0.5 (measured 0.73 here)


def test_every_step_reports_its_loss_and_the_validation_rows_are_scored(trained):
    method, recorder = trained
    steps = [event["step"] for event in recorder.logs]
    assert steps == list(range(1, 10)), "8 rows per class, 2 classes: 144 pairs, 9 steps of 16"
    for event in recorder.logs:
        assert event["train_loss"] >= 0 and event["learning_rate"] >= 0 and event["total_steps"] == 9
        assert 0 < event["epoch"] <= 1
    assert max(event["learning_rate"] for event in recorder.logs) == pytest.approx(2e-5)
    assert recorder.logs[-1]["epoch"] == 1.0
    (evaluation,) = recorder.evaluations
    assert 0 <= evaluation["val_accuracy"] <= 1 and evaluation["val_loss"] > 0
    assert method.training.steps == 9 and method.pairs_trained == 144


def test_parameter_counts_and_flops_match_what_it_trains(trained, yelp_split):
    method, _ = trained
    # The whole body trains (BERT's pooler is saved but never read by mean pooling), plus 385 head weights.
    pooler = sum(p.numel() for n, p in method.model.named_parameters() if "pooler" in n)
    assert method.total_params == sum(p.numel() for p in method.model.parameters()) + 385
    assert method.trainable_params == method.total_params - pooler
    planned = parameter_counts(model_folder(MINILM), "setfit", 2, method.config)
    assert planned == (method.trainable_params, method.total_params)

    assert planned_pairs(16, 2, 0, 640) == method.pairs_trained == 144
    assert planned_pairs(16, 2, 20, 640) == 640 and planned_pairs(8, 2, 20, 640) == 320  # the paper's 2 x 20 x rows
    flops = estimate_flops("encoder", "setfit", compute_params=10**7, trainable=1, total=1, tokens=20, n_train=16,
                           n_test=60, passes=1, n_labels=2, options=method.config.to_dict())
    per_text = 2 * 10**7 * 20
    assert flops.training == per_text * (144 * 2 * 3 + 16)  # pairs x 2 texts x (forward + backward) + the head's rows
    assert flops.prediction == per_text * 60
    # A finished run counts the pairs it really trained on (options_ran_with adds them from its artifacts).
    assert estimate_flops("encoder", "setfit", 10**7, 1, 1, 20, 16, 60, 1, 2,
                          options={**method.config.to_dict(), "pairs_trained": 10}).training == per_text * (60 + 16)


def test_save_then_load_predicts_the_same_with_safetensors_and_json_only(trained, yelp_split, tmp_path):
    method, _ = trained
    proba = method.predict_proba(yelp_split.test.texts)
    method.save(tmp_path)
    for name in ENTRY.method_cls.required_artifacts:
        assert (tmp_path / name).is_file(), name
    suffixes = {p.suffix for p in tmp_path.rglob("*") if p.is_file()}
    assert suffixes <= {".json", ".safetensors"}, suffixes
    head = json.loads((tmp_path / "model" / HEAD_FILE).read_text())
    assert head["pairs_trained"] == 144 and head["config"]["iterations"] == 0
    assert ENTRY.method_cls.options_ran_with(tmp_path)["pairs_trained"] == 144

    reloaded = ENTRY.method_cls(method.config, MINILM, model_folder(MINILM), yelp_split.labels)
    reloaded.load(tmp_path)
    np.testing.assert_allclose(reloaded.predict_proba(yelp_split.test.texts), proba, atol=1e-5)
    assert (reloaded.trainable_params, reloaded.total_params) == (method.trainable_params, method.total_params)


def test_the_same_seed_trains_the_same_model(tiny_split):
    first, _ = fitted(tiny_split, **FAST)
    second, _ = fitted(tiny_split, **FAST)
    np.testing.assert_allclose(first.predict_proba(tiny_split.test.texts),
                               second.predict_proba(tiny_split.test.texts), atol=1e-6)


def test_cancel_stops_training_before_the_next_step(tiny_split):
    method = ENTRY.method_cls(ENTRY.config_cls(iterations=0, max_pairs=64, max_length=32), MINILM,
                              model_folder(MINILM), tiny_split.labels)
    recorder = Recorder(stop_after=1)
    with pytest.raises(InterruptedError):
        method.fit(tiny_split.train, tiny_split.val, recorder)
    assert len(recorder.logs) == 1 and recorder.logs[0]["total_steps"] == 3  # 40 pairs in steps of 16


def test_pairs_are_balanced_correct_capped_and_seeded():
    classes = [0] * 5 + [1] * 3 + [2] * 2
    y = np.asarray(classes)
    # setfit 1.x: every unique pair once: 15 + 6 + 3 same-class pairs (self-pairs included) vs 31 others, the
    # same-class ones repeated to match.
    pairs, similar = contrastive_pairs(classes, iterations=0, max_pairs=10**6, seed=3)
    assert (similar == (y[pairs[:, 0]] == y[pairs[:, 1]])).all()
    assert similar.tolist() == [1.0, 0.0] * 31
    assert len({tuple(p) for p in pairs[similar == 0]}) == 31 and len({tuple(p) for p in pairs[similar == 1]}) == 24
    again, _ = contrastive_pairs(classes, iterations=0, max_pairs=10**6, seed=3)
    assert (again == pairs).all()
    # The paper's: iterations x rows of each kind (here 2 x 10 = 20 each), cycling through the unique pairs.
    pairs, similar = contrastive_pairs(classes, iterations=2, max_pairs=10**6, seed=3)
    assert len(pairs) == 40 and (similar == (y[pairs[:, 0]] == y[pairs[:, 1]])).all()
    assert len({tuple(p) for p in pairs[similar == 0]}) == 20  # 20 of the 31 different-class pairs, no repeat
    capped, capped_similar = contrastive_pairs(classes, iterations=20, max_pairs=9, seed=3)
    assert len(capped) == 8 and capped_similar.tolist() == [1.0, 0.0] * 4
    many = contrastive_pairs([0, 1] * 1500, iterations=20, max_pairs=640, seed=0)[0]  # 3,000 rows: sampled
    assert many.shape == (640, 2)
    default = ENTRY.config_cls()
    assert (default.iterations, default.max_pairs, default.epochs, default.batch_size, default.lr) == \
        (20, 640, 1, 16, 2e-5)


@pytest.mark.parametrize("options, message", [
    ({"max_pairs": 1}, "max_pairs must be at least 2, got 1"),
    ({"iterations": -1}, "iterations must be at least 0, got -1"),
    ({"lr": 0.5}, "lr must be at most 0.01, got 0.5"),
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
    ({"C": -1.0}, "C must be at least 1e-06, got -1.0"),
    ({"shots": 4}, "unknown option(s) shots for this method"),
])
def test_bad_options_are_refused_naming_the_value(options, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        ENTRY.config_cls.from_dict(options)


def test_a_decoder_is_refused_with_the_reason(tiny_split):
    decoder = resolve_model("smollm2-135m")
    with pytest.raises(MethodError, match="does not work with decoder models.*sentence-embedding"):
        check_supported(ENTRY, decoder)
    method = ENTRY.method_cls(ENTRY.config_cls(), decoder, Path("unused"), tiny_split.labels)
    with pytest.raises(MethodError, match="setfit needs an encoder model; 'smollm2-135m' is a decoder"):
        method.fit(tiny_split.train, tiny_split.val, Callback())  # refused before any model loads


# -- the export -------------------------------------------------------------------------------------------

def test_export_loads_with_sentence_transformers_or_transformers_alone_and_imports_back(sms, tmp_path, fresh_python):
    store = tlcore.RunStore(tmp_path / "runs")
    # fp32, as the export's snippets compute: the point is that they reproduce the run's probabilities exactly
    config = tlcore.RunConfig(model="minilm", method="setfit", per_class=8, test_size=20, method_options=FAST,
                              precision="fp32")
    run = tlcore.create_run(config, sms, store=store)
    tlcore.execute(run)
    folder = tlcore.export_run(run, tmp_path / "setfit-export")
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", HEAD_FILE, "tokenizer.json", "labels.json", "README.md"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib"))], files
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 32

    frame = run.predictions()
    labels = run.config()["labels"]
    texts, want = frame["text"].tolist(), frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)
    blocks = re.findall(r"```python\n(.*?)```", (folder / "README.md").read_text(), flags=re.S)
    assert len(blocks) == 2, "a sentence-transformers snippet and a transformers-only one"
    program = []
    for name, block in zip(("sentence_transformers", "transformers"), blocks):
        code, count = re.subn(r'^FOLDER = ".*"', f"FOLDER = {str(folder)!r}", block, flags=re.M)
        assert count == 1
        program += [code, f"result_{name} = predict_proba({texts!r}).tolist()"]
    program += ["import json", "assert 'tlcore' not in sys.modules",
                "print(json.dumps({'st': result_sentence_transformers, 'hf': result_transformers}))"]
    got = fresh_python("\n".join(program), tmp_path)
    np.testing.assert_allclose(np.asarray(got["hf"]), want, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got["st"]), want, atol=1e-5)

    imported = tlcore.import_export(folder, tlcore.RunStore(tmp_path / "imported"))
    assert imported.status()["status"] == "succeeded"
    again, _ = predict_frame(imported, pd.DataFrame({"text": texts}))
    np.testing.assert_allclose(again[[f"p_{label}" for label in labels]].to_numpy(dtype=float), want, atol=1e-5)
