"""Few-shot's default K ("auto"): every training row for an encoder, DECODER_SHOTS for a decoder; --shots K as
given; runs saved before "auto" reload and repeat with what they ran."""
from __future__ import annotations

import json

import numpy as np

import tlcore
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import model_folder, resolve_model
from tlcore.methods.base import Workload
from tlcore.methods.few_shot import DECODER_SHOTS, FewShot, FewShotConfig, resolve_shots


def test_auto_is_every_row_for_an_encoder_and_a_small_k_for_a_decoder():
    assert FewShotConfig().shots == 0
    assert resolve_shots(0, "encoder") is None and resolve_shots(0, "decoder") == DECODER_SHOTS == 4
    assert resolve_shots(8, "encoder") == resolve_shots(8, "decoder") == 8
    FewShot.check_data({"a": 1, "b": 3}, {"shots": 0})  # auto never refuses a short class


def test_the_encoder_prototype_averages_every_training_row_and_reloads_without_embedding(yelp, tmp_path, monkeypatch):
    split = tlcore.make_split(yelp, test_size=20, per_class=24)
    spec = resolve_model("minilm")
    method = FewShot(FewShotConfig(), spec, model_folder(spec), split.labels)
    method.fit(split.train, split.val, Callback())
    assert len(method.shots) == len(split.train) == 48
    proba = method.predict_proba(split.test.texts)
    method.save(tmp_path)
    again = FewShot(FewShotConfig(), spec, model_folder(spec), split.labels)
    monkeypatch.setattr(FewShot, "_embed", lambda *a, **k: (_ for _ in ()).throw(AssertionError("re-embedded")))
    again.load(tmp_path)  # the stored prototypes, not 48 texts embedded again
    monkeypatch.undo()
    assert np.array_equal(again.predict_proba(split.test.texts), proba)

    k = FewShot(FewShotConfig(shots=3), spec, model_folder(spec), split.labels)
    k.fit(split.train, split.val, Callback())
    assert len(k.shots) == 6  # --shots K still takes K per class


def test_a_run_saved_before_auto_keeps_its_k(tmp_path):
    (tmp_path / "method_state.json").write_text(json.dumps({"shots": [], "calibration_offsets": None}))
    assert FewShot.options_ran_with(tmp_path)["shots"] == 4  # no saved config: the default of its day
    (tmp_path / "method_state.json").write_text(json.dumps({"shots": [], "config": {"shots": 2}}))
    assert FewShot.options_ran_with(tmp_path)["shots"] == 2
    assert FewShot.options_ran_with(tmp_path / "missing") == {}


def test_flops_count_what_auto_resolves_to():
    work = Workload(model_kind="encoder", compute_params=1000, trainable=0, total=1000, tokens=10, n_train=48,
                    n_test=20, passes=0)
    every_row = FewShot.estimate_flops(work, {"shots": 0})
    assert every_row.training == 2 * 1000 * 10 * 48  # each training row embedded once
    assert FewShot.estimate_flops(work, {"shots": 3}).training == 2 * 1000 * 10 * 6
    decoder = Workload(**{**work.__dict__, "model_kind": "decoder"})
    assert FewShot.estimate_flops(decoder, {"shots": 0}).training == FewShot.estimate_flops(decoder,
                                                                                           {"shots": 4}).training > 0
