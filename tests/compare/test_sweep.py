"""A sweep: one method over a grid of option values on real review sentences, picked on validation rows."""
from __future__ import annotations

import pytest

from tlcore.compare.sweep import (
    MAX_SWEEP_RUNS,
    Configuration,
    SweepResult,
    check_grid,
    create_sweep,
    main_options,
    parse_grid,
    planned_cost,
    rank,
    suggested_values,
    sweep_groups,
    sweep_result,
    sweepable_options,
)
from tlcore.errors import ConfigError, DatasetError
from tlcore.runs import RunConfig, RunStore
from tlcore.runs.series import execute_series

GRID = {"C": [0.01, 100.0], "class_weights": ["none", "balanced"]}  # a 2 x 2 grid of the probe: seconds on a CPU


def _base(**changes) -> RunConfig:
    settings = {"test_size": 40, "val_size": 40, "per_class": 8, **changes}
    return RunConfig(model="minilm", method="linear-probe", data_name="yelp", **settings)


@pytest.fixture(scope="module")
def finished_sweep(yelp, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("sweep"))
    runs = create_sweep(_base(), yelp, GRID, store=store)
    execute_series(runs, stop_on_error=True)
    return store, runs


# -- the grid ------------------------------------------------------------------------------------------------------
def test_a_grid_is_typed_by_the_method_options_and_deduplicated():
    grid = parse_grid(["lr=1e-4,3e-4,0.0001,1e-3", "epochs=3,10", "class_weights=none,balanced"], "lora", "encoder")
    assert grid == {"lr": [1e-4, 3e-4, 1e-3], "epochs": [3, 10], "class_weights": ["none", "balanced"]}
    assert all(isinstance(v, int) for v in grid["epochs"])
    assert parse_grid(["r=4,1e1"], "lora", "encoder", base_options={"lr": 1e-3}) == {"r": [4, 10]}
    # a grid given in code is typed the same way: text and whole numbers become the option's type
    assert check_grid({"C": [1, "2.5e-1"], "class_weights": ["none"]}, "linear-probe") == {
        "C": [1.0, 0.25], "class_weights": ["none"]}
    with pytest.raises(ConfigError, match="grid option epochs takes a whole number; got 'True'"):
        check_grid({"epochs": [True, 3]}, "lora")


@pytest.mark.parametrize("items, message", [
    ([], "the grid is empty; .*Options this method can vary: seed, epochs, lr"),
    (["rank=4,8"], "lora has no option 'rank'; options this method can vary: .*\\br\\b"),
    (["lr"], "a grid item is NAME=VALUE,VALUE"),
    (["lr=1e-3,2"], "grid value lr=2 is refused: lr must be at most 1.0, got 2.0"),
    (["epochs=3,2.5"], "grid option epochs takes a whole number; got '2.5'"),
    (["epochs=3,"], "grid option epochs has an empty value"),
    (["lr=1e-4,3e-4", "lr=1e-3"], "grid option lr is given twice"),
    (["lr=1e-3"], "only 1 configuration"),
    (["lr=" + ",".join(f"{i}e-4" for i in range(1, 9)), "epochs=1,2,3,4,5,6,7"],
     f"this grid makes 56 runs \\(8 x 7\\), more than the {MAX_SWEEP_RUNS} a sweep allows"),
])
def test_a_bad_grid_is_refused_naming_what_to_fix(items, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(items, "lora", "encoder")


def test_options_a_grid_cannot_list_or_this_model_does_not_use_are_refused():
    with pytest.raises(ConfigError, match="label_descriptions takes a dict, which a grid cannot list"):
        parse_grid(["label_descriptions=a,b"], "zero-shot", "encoder")
    decoder_only = next(f["name"] for f in sweepable_options("zero-shot") if f.get("model_kinds") == ["decoder"])
    with pytest.raises(ConfigError, match=f"{decoder_only} does not apply to encoder models"):
        parse_grid([f"{decoder_only}=a,b"], "zero-shot", "encoder")


def test_the_main_options_are_learning_rate_epochs_and_the_methods_own_knob():
    assert main_options("lora", "encoder") == ["lr", "epochs", "r"]
    assert main_options("linear-probe", "encoder") == ["C"]
    rank_field = next(f for f in sweepable_options("lora") if f["name"] == "r")
    assert suggested_values(rank_field) == [4, 8, 16]
    lr_field = next(f for f in sweepable_options("lora") if f["name"] == "lr")
    assert suggested_values(lr_field, 1e-3) == [3e-4, 1e-3, 3e-3]


# -- the pick ------------------------------------------------------------------------------------------------------
def _config(run_id: str, val: float, test: float, **options) -> Configuration:
    return Configuration(run_id=run_id, options=options, status="succeeded", val_accuracy=val, accuracy=test)


def test_the_pick_is_the_best_validation_score_not_the_best_test_score():
    flattering = _config("a", val=0.70, test=0.90, lr=1e-3)  # best on the test rows
    chosen = _config("b", val=0.80, test=0.75, lr=3e-4)  # best on the validation rows
    failed = Configuration(run_id="c", options={"lr": 1e-2}, status="failed", error="diverged")
    ranked = rank([flattering, chosen, failed], cost=lambda c: pytest.fail("no tie, so no cost is asked"))
    assert [c.run_id for c in ranked] == ["b", "a"]


def test_a_tie_on_validation_goes_to_the_cheaper_configuration():
    long = _config("a", val=0.8, test=0.8, epochs=10)
    short = _config("b", val=0.8, test=0.7, epochs=3)
    costs = {"a": 100.0, "b": 30.0}
    assert [c.run_id for c in rank([long, short], cost=lambda c: costs[c.run_id])] == ["b", "a"]
    # the cost is the planning estimate of the configuration: more epochs plan more seconds
    data = {"labels": ["negative", "positive"], "n_train": 16, "n_test": 40}
    config = {"model": "minilm", "method": "lora"}
    assert (planned_cost({**config, "method_options": {"epochs": 3}}, data)
            < planned_cost({**config, "method_options": {"epochs": 10}}, data))


def test_few_validation_rows_are_said():
    pick = _config("a", val=0.9, test=0.8)
    result = SweepResult(sweep="s", method="m", model="minilm", configurations=[pick], n_val=12, n_test=40,
                         picked=pick)
    assert result.caution.startswith("Picked on only 12 validation rows")
    assert result.summary[-1] == result.caution


# -- a real sweep ----------------------------------------------------------------------------------------------------
def test_a_real_sweep_picks_on_validation_rows_and_judges_on_the_test_rows(finished_sweep):
    store, runs = finished_sweep
    configs = [run.config() for run in runs]
    assert len(runs) == 4 and len({c["sweep"] for c in configs}) == 1 and configs[0]["sweep"].startswith("sweep-")
    assert {c["split"]["test_fingerprint"] for c in configs} == {configs[0]["split"]["test_fingerprint"]}
    assert len({tuple(run.split().val.texts) for run in runs}) == 1  # the same validation rows for every run
    assert len({tuple(run.split().train.texts) for run in runs}) == 1  # and the same training rows
    assert [(c["method_options"]["C"], c["method_options"]["class_weights"]) for c in configs] == [
        (0.01, "none"), (0.01, "balanced"), (100.0, "none"), (100.0, "balanced")]

    result = sweep_result(runs)
    assert not result.live and result.varied == ["C", "class_weights"]
    assert result.n_val == 40 and result.n_test == 40 and result.caution is None
    best_val = max(c.val_accuracy for c in result.configurations)
    assert result.picked.val_accuracy == best_val
    assert result.best_on_test.accuracy == max(c.accuracy for c in result.configurations)
    low, high = result.picked.accuracy_ci
    assert low <= result.picked.accuracy <= high
    # the runner-up is second on the validation rows; the verdict compares the two on the same test rows
    others = [c for c in result.configurations if c is not result.picked]
    assert result.runner_up.val_accuracy == max(c.val_accuracy for c in others)
    assert result.paired.against == result.picked.label and result.paired.n == 40
    assert result.summary[0].startswith(f"Picked {result.picked.label}: the best validation accuracy")
    assert result.summary[2] == f"Against the runner-up on the test rows: {result.paired.verdict}"
    payload = result.to_dict()
    assert payload["picked"]["run_id"] == result.picked.run_id and len(payload["configurations"]) == 4
    assert list(sweep_groups(store)) == [result.sweep]


def test_a_sweep_still_running_picks_nothing(yelp, tmp_path):
    runs = create_sweep(_base(), yelp, GRID, store=RunStore(tmp_path))
    result = sweep_result(runs)
    assert result.live and result.picked is None and result.paired is None
    assert result.summary == ["0 of 4 configurations finished; the pick comes when every configuration has finished."]


def test_a_sweep_is_checked_before_any_run_is_created(yelp, tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(DatasetError, match="a sweep picks on the validation rows"):
        create_sweep(_base(val_size=0.0), yelp, GRID, store=store)
    with pytest.raises(ConfigError, match="grid value C=0 is refused"):
        create_sweep(_base(), yelp, {"C": [1.0, 0.0]}, store=store)
    assert list(store.runs()) == []
