"""The Train page's "Find the best method" (AppTest): one click queues the portfolio on the page's split, and the
page shows the pick once the runs are done, with a way to compare them."""
from __future__ import annotations

import time

import tlcore
import tlui
import tlui.best_view
from tlcore.methods import portfolio
from tlcore.runs import execute_series


def find_button(at):
    return next(button for button in at.button if button.label == "Find the best method")


def test_find_the_best_method_queues_the_portfolio_and_shows_the_pick(tmp_path, monkeypatch, open_app, with_data,
                                                                      texts):
    started = []
    monkeypatch.setattr(tlui.best_view, "start_series", lambda runs: started.append(list(runs)) or 0)
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.checkbox(key="train_w_use_all").uncheck().run()
    at.number_input(key="train_w_per_class").set_value(8).run()
    find_button(at).click().run()
    assert not at.exception and not at.error
    (runs,) = started  # one series, started once
    assert [run.config()["method"] for run in runs] == list(portfolio("encoder"))
    assert {run.config()["search"] for run in runs} == {at.session_state[tlui.best_view.SEARCH]}
    assert all(run.config()["per_class"] == 8 for run in runs)  # the page's split settings
    assert "the pick comes when every method has finished" in texts(at.info)
    assert find_button(at).disabled  # one search at a time

    # The cheap half runs for real; the methods that train long are cancelled, as a user may do.
    cheap = [run for run in runs if run.config()["method"] in ("zero-shot", "few-shot", "linear-probe")]
    execute_series(cheap, stop_on_error=True)
    for run in runs:
        if run not in cheap:
            run.update_status(status="cancelled", finished=time.time(), error="cancelled by the user")
    at.run()
    assert not at.exception
    success = texts(at.success)
    assert success.startswith("Picked ") and "validation accuracy" in success and "95 % interval" in success
    table = at.dataframe[-1].value
    assert list(table["Method"].str.replace("  ← picked", "")) == list(portfolio("encoder"))
    assert (table["Method"].str.endswith("← picked")).sum() == 1
    assert not find_button(at).disabled

    next(button for button in at.button if button.label == "Compare these runs").click().run()
    assert not at.exception
    fingerprint = runs[0].config()["split"]["test_fingerprint"]
    assert sorted(at.session_state[f"compare_w_runs::{fingerprint}"]) == sorted(run.id for run in cheap)
    assert tlcore.RunStore(tmp_path).get(cheap[0].id)  # the runs are ordinary runs of the store
