"""Find the best method: a portfolio of real runs on real review sentences, picked on validation rows."""
from __future__ import annotations

import json

import pytest

from tlcore.cli import main
from tlcore.compare.best_method import create_search, search_groups, search_result
from tlcore.errors import DatasetError, MethodError
from tlcore.methods import portfolio
from tlcore.runs import RunConfig, RunStore
from tlcore.runs.learning_curve import curve_groups
from tlcore.runs.series import execute_series

METHODS = ["zero-shot", "few-shot", "linear-probe"]  # the portfolio's cheap part: seconds on a CPU


def _base(**changes) -> RunConfig:
    settings = {"test_size": 40, "val_size": 40, "per_class": 8, **changes}
    return RunConfig(model="minilm", method="", data_name="yelp", **settings)


@pytest.fixture(scope="module")
def finished_search(yelp, tmp_path_factory):
    store = RunStore(tmp_path_factory.mktemp("search"))
    runs = create_search(_base(), yelp, store=store, methods=METHODS)
    execute_series(runs, stop_on_error=True)
    return store, runs


def test_the_portfolio_covers_every_family_for_both_model_kinds():
    for kind in ("encoder", "decoder"):
        assert {"zero-shot", "few-shot", "linear-probe", "lora"} <= set(portfolio(kind))
    assert "dora" not in portfolio("encoder")  # LoRA stands for both


def test_the_pick_is_the_best_validation_accuracy_reported_on_the_test_rows(finished_search):
    store, runs = finished_search
    result = search_result(runs)
    assert [c.method for c in result.candidates] == METHODS and not result.live
    assert all(c.val_accuracy is not None for c in result.candidates)
    best_val = max(c.val_accuracy for c in result.candidates)
    assert result.picked.val_accuracy == best_val
    assert result.n_val == 40 and result.n_test == 40
    low, high = result.picked.accuracy_ci
    assert low <= result.picked.accuracy <= high
    assert result.best_on_test.accuracy == max(c.accuracy for c in result.candidates)
    # one paired verdict of the pick against each other method, on the same test rows
    assert sorted(p.name for p in result.paired) == sorted(m for m in METHODS if m != result.picked.method)
    assert all(p.against == result.picked.method and p.n == 40 for p in result.paired)
    assert result.summary[0].startswith(f"Picked {result.picked.method}: the best validation accuracy")
    assert result.summary[2:2 + len(result.paired)] == [p.verdict for p in result.paired]  # each in plain words
    assert list(search_groups(store)) == [result.search]
    assert curve_groups(store) == {}  # a search is not a learning curve


def test_a_search_still_running_picks_nothing(yelp, tmp_path):
    runs = create_search(_base(), yelp, store=RunStore(tmp_path), methods=METHODS)
    result = search_result(runs)
    assert result.live and result.picked is None and result.paired == []
    assert result.summary == ["0 of 3 methods finished; the pick comes when every method has finished."]


def test_a_search_without_validation_rows_is_refused_before_any_run(yelp, tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(DatasetError, match="picks on the validation rows"):
        create_search(_base(val_size=0.0), yelp, store=store, methods=METHODS)
    with pytest.raises(MethodError, match="unknown method .no-such-method."):
        create_search(_base(), yelp, store=store, methods=["zero-shot", "no-such-method"])
    assert list(store.runs()) == []


def test_cli_best_prints_one_json_document(yelp, tmp_path, capsys):
    data = tmp_path / "yelp.csv"
    yelp.to_frame().to_csv(data, index=False)
    code = main(["best", "--train", str(data), "--model", "minilm", "--methods", "zero-shot,linear-probe",
                 "--per-class", "8", "--test-size", "40", "--runs-dir", str(tmp_path / "runs"), "--json", "--quiet"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [c["method"] for c in payload["candidates"]] == ["zero-shot", "linear-probe"]
    assert payload["picked"]["method"] in ("zero-shot", "linear-probe") and len(payload["paired"]) == 1
    assert payload["summary"][0].startswith("Picked ")


def test_small_data_still_gets_rows_to_pick_on(yelp, tmp_path):
    """Small data trains on every row by default (no validation split); a search holds out the minimum it needs."""
    from tlcore.data import LabeledData

    small = LabeledData(yelp.texts[:60] + yelp.texts[-60:], yelp.labels[:60] + yelp.labels[-60:])
    base = RunConfig(model="minilm", method="", data_name="yelp")  # default 20 % test, 10 % validation
    assert len(tlcore_split(small, base).val) == 0
    runs = create_search(base, small, store=RunStore(tmp_path), methods=["zero-shot"])
    assert len(runs[0].split().val) == 30 and runs[0].config()["val_size"] == 30


def tlcore_split(data, base):
    from tlcore.data import make_split

    return make_split(data, test_size=base.test_size, val_size=base.val_size, split_seed=base.split_seed)
