"""The Train page's "Sweep" (AppTest): the grid's size and time before starting, one series of runs on the page's
split, then the configurations with the pick marked and the verdict in plain words."""
from __future__ import annotations

import tlui
import tlui.sweep_view
from tlcore.runs import execute_series


def sweep_button(at):
    return next(button for button in at.button if button.label == "Start sweep")


def test_a_sweep_shows_its_size_starts_one_series_and_marks_the_pick(tmp_path, monkeypatch, open_app, with_data,
                                                                     texts):
    started = []
    monkeypatch.setattr(tlui.sweep_view, "start_series", lambda runs: started.append(list(runs)) or 0)
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.selectbox(key=tlui.state.TRAIN_W_METHOD).set_value("linear-probe").run()
    at.checkbox(key="train_w_use_all").uncheck().run()
    at.number_input(key="train_w_per_class").set_value(8).run()
    at.session_state[tlui.sweep_view.OPEN] = True  # the user opens the Sweep expander
    at.run()
    box = at.text_input(key=tlui.sweep_view.values_key("linear-probe", "C"))
    assert box.value == "0.3, 1, 3"  # values around the current C

    box.set_value("0.1, 0").run()  # a value the method refuses: said before anything starts
    assert "grid value C=0 is refused: C must be at least" in texts(at.error)
    assert sweep_button(at).disabled

    box.set_value("0.01, 100").run()
    assert not at.exception and not at.error
    assert "**2 runs**" in texts(at.markdown) and "on this machine" in texts(at.markdown)
    sweep_button(at).click().run()
    assert not at.exception and not at.error
    (runs,) = started  # one series, started once
    configs = [run.config() for run in runs]
    assert [c["method_options"]["C"] for c in configs] == [0.01, 100.0]
    assert {c["sweep"] for c in configs} == {at.session_state[tlui.sweep_view.SWEEP]}
    assert all(c["per_class"] == 8 and c["method"] == "linear-probe" for c in configs)  # the page's settings
    assert "the pick comes when every configuration has finished" in texts(at.info)
    assert sweep_button(at).disabled  # one sweep at a time

    execute_series(runs, stop_on_error=True)  # what the detached worker would do
    at.run()
    assert not at.exception
    success = texts(at.success)
    assert success.startswith("Picked C=") and "validation accuracy" in success and "95 % interval" in success
    assert "Against the runner-up on the test rows:" in texts(at.caption)
    table = at.dataframe[-1].value
    assert list(table["Configuration"].str.replace("  ← picked", "")) == ["C=0.01", "C=100"]
    assert table["Configuration"].str.endswith("← picked").sum() == 1
    assert not sweep_button(at).disabled
