"""The "auto" training schedule (tlcore.engine.training.plan_schedule): enough steps for small data, early stopping
on a validation split that can judge, the fixed schedule (and why) when it cannot."""
from __future__ import annotations

import pytest

import tlcore
from tlcore.data.labeled import MIN_VAL_ROWS
from tlcore.engine import training
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import model_folder, resolve_model
from tlcore.engine.training import AUTO_PATIENCE, plan_schedule, resolve_epochs


def test_auto_plans_about_300_steps_within_3_to_100_passes():
    assert resolve_epochs(0, 16, 16) == 100  # 8 per class, 2 classes: one step per pass, capped
    assert resolve_epochs(0, 384, 16) == 13  # 64 per class, 6 classes: 24 steps per pass, 312 steps
    assert resolve_epochs(0, 128, 16) * 8 >= training.AUTO_TARGET_STEPS
    assert resolve_epochs(0, 20_000, 16) == 3  # large data: at least 3 passes
    assert resolve_epochs(7, 16, 16) == 7  # a configured number is kept


def test_early_stopping_only_where_the_validation_split_can_judge():
    auto = plan_schedule(0, -1, 384, 16, n_val=488)
    assert (auto.kind, auto.epochs, auto.patience) == ("auto-early-stopping", 13, AUTO_PATIENCE)
    assert "200 validation rows" in auto.note  # judged on a sample of a large split
    small = plan_schedule(0, -1, 16, 16, n_val=MIN_VAL_ROWS - 1)
    assert (small.kind, small.epochs, small.patience) == ("auto-fixed", 100, 0)
    assert f"only {MIN_VAL_ROWS - 1} validation rows" in small.note and "run to the end" in small.note
    assert small.eval_every == 10  # 100 passes are evaluated 10 times, not 100
    assert "no validation rows" in plan_schedule(0, -1, 16, 16, n_val=0).note
    assert plan_schedule(0, -1, 16, 16, n_val=MIN_VAL_ROWS).kind == "auto-early-stopping"
    off = plan_schedule(0, 0, 16, 16, n_val=500)
    assert (off.kind, off.patience) == ("auto-fixed", 0) and "early stopping is off" in off.note
    fixed = plan_schedule(6, -1, 16, 8, n_val=500)  # epochs as set: no early stopping unless asked for
    assert (fixed.kind, fixed.epochs, fixed.patience, fixed.eval_every) == ("fixed", 6, 0, 1)
    asked = plan_schedule(6, 2, 16, 8, n_val=8)  # asked for: judged on whatever validation rows there are
    assert (asked.kind, asked.patience) == ("fixed-early-stopping", 2)
    assert plan_schedule(0, 2, 16, 8, n_val=8).kind == "auto-early-stopping"


def test_defaults_are_auto():
    config = tlcore.methods.get_method("lora").config_cls()
    assert (config.epochs, config.early_stopping) == (0, -1)


class Evals(Callback):
    """Records every evaluation and the trainable weights at that moment."""

    def __init__(self) -> None:
        self.evals, self.weights = [], {}

    def on_train_begin(self, model) -> None:
        self.model = model

    def on_evaluate(self, event: dict) -> None:
        self.evals.append(event)
        self.weights[event["epoch"]] = {n: p.detach().clone() for n, p in self.model.named_parameters()
                                        if p.requires_grad}


def _fit(yelp, monkeypatch, n_val: int, passes: int = 4, **options):
    monkeypatch.setattr(training, "AUTO_TARGET_STEPS", 2 * passes)  # a short auto schedule: 2 steps per pass
    monkeypatch.setattr(training, "AUTO_MIN_EPOCHS", 1)
    split = tlcore.make_split(yelp, test_size=20, val_size=n_val, per_class=8)
    entry = tlcore.methods.get_method("lora")
    spec = resolve_model("minilm")
    method = entry.method_cls(entry.config_cls.from_dict({"batch_size": 8, "max_length": 32, **options}), spec,
                              model_folder(spec), split.labels)
    callback = Evals()
    method.fit(split.train, split.val, callback)
    return method, callback


def test_auto_schedule_stops_on_validation_accuracy_and_keeps_the_best_evaluation(yelp, monkeypatch):
    # Scripted evaluations: the loss is lowest after pass 1 and only rises (an over-confident model), while the
    # accuracy ties its best after pass 3 (a tie is progress) and then falls for 2 evaluations (patience 2).
    scripted = iter([(0.4, 0.6), (0.5, 0.7), (0.6, 0.7), (0.7, 0.65), (0.8, 0.6), (0.9, 0.9)])
    monkeypatch.setattr(training, "evaluate_loss", lambda *a: next(scripted))
    monkeypatch.setattr(training, "AUTO_PATIENCE", 2)
    method, seen = _fit(yelp, monkeypatch, MIN_VAL_ROWS, passes=6)
    result = method.training
    assert result.schedule == "auto-early-stopping"
    assert "stopped after 2 evaluations below the best validation accuracy" in result.schedule_note
    assert result.early_stopped and (result.epochs_completed, result.epochs, result.best_epoch) == (5, 6, 3)
    assert [e["epoch"] for e in seen.evals] == [1, 2, 3, 4, 5]
    kept = {n: p for n, p in method.model.named_parameters() if p.requires_grad}
    assert all(kept[n].equal(w) for n, w in seen.weights[3].items())  # the weights of the best evaluation
    assert not all(kept[n].equal(w) for n, w in seen.weights[5].items())


def test_a_patience_the_user_sets_judges_on_validation_loss(yelp, monkeypatch):
    scripted = iter([(0.6, 0.5), (0.5, 0.5), (0.55, 0.9), (0.58, 0.9), (0.4, 0.9)])
    monkeypatch.setattr(training, "evaluate_loss", lambda *a: next(scripted))
    method, _ = _fit(yelp, monkeypatch, MIN_VAL_ROWS, passes=5, early_stopping=2)
    result = method.training
    assert result.schedule == "auto-early-stopping" and "without a lower loss" in result.schedule_note
    assert (result.epochs_completed, result.best_epoch) == (4, 2)


def test_too_small_a_validation_split_runs_the_fixed_schedule_and_says_so(yelp, monkeypatch):
    method, seen = _fit(yelp, monkeypatch, 10)
    result, evals = method.training, seen.evals
    assert result.schedule == "auto-fixed" and "only 10 validation rows" in result.schedule_note
    assert result.epochs_completed == result.epochs == 4 and not result.early_stopped
    assert [e["epoch"] for e in evals] == [1, 2, 3, 4]  # still evaluated, for the chart


@pytest.mark.parametrize("n_val,judged", [(30, 30), (300, training.EVAL_MAX_ROWS)])
def test_early_stopping_judges_on_at_most_eval_max_rows(n_val, judged):
    val = tlcore.data.LabeledData([f"t{i}" for i in range(n_val)], ["a", "b"] * (n_val // 2))
    rows = training._judging_rows(val, seed=0)
    assert len(rows) == judged and set(rows.texts) <= set(val.texts)
    assert rows.texts == training._judging_rows(val, seed=0).texts  # seeded
