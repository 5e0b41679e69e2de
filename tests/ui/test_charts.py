"""The training charts in tlui/charts.py: TensorBoard-style smoothing, steps or epochs on the x axis, whole runs."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("plotly")

import tlui  # noqa: E402


def run_events(steps_per_epoch: int = 4, epochs: int = 3, done: int | None = None) -> list[dict]:
    """Events shaped as tlcore.engine.training writes them: a train event per step, an eval event per epoch end."""
    total = steps_per_epoch * epochs
    events = []
    for step in range(1, (total if done is None else done) + 1):
        events.append({"type": "train", "step": step, "epoch": round(step / steps_per_epoch, 4), "total_steps": total,
                       "train_loss": 1.0 / step + (0.05 if step % 2 else -0.05),
                       "learning_rate": 1e-3 * (1 - step / total), "examples_per_s": 10.0 + step,
                       "elapsed": 0.5 * step})
        if step % steps_per_epoch == 0:
            events.append({"type": "eval", "step": step, "epoch": step // steps_per_epoch, "total_steps": total,
                           "val_loss": 0.9 - 0.1 * step / steps_per_epoch,
                           "val_accuracy": 0.5 + 0.1 * step / steps_per_epoch, "elapsed": 0.5 * step})
    return events


def traces(figure) -> dict:
    return {trace.name: trace for trace in figure.data}


# -- smoothing -------------------------------------------------------------------------------------------------
def test_smooth_is_a_bias_corrected_moving_average():
    # By hand: averages 0.5 and 0.25 over weights 0.5 and 0.75 -> 1 and 1/3.
    assert tlui.smooth([1.0, 0.0], 0.5) == pytest.approx([1.0, 1 / 3])
    assert tlui.smooth([3.0, 1.0, 2.0], 0.0) == [3.0, 1.0, 2.0]  # weight 0: the values themselves
    assert tlui.smooth([0.7] * 20, 0.9) == pytest.approx([0.7] * 20)  # no pull towards 0 at the start
    noisy = [1.0 if i % 2 else 0.0 for i in range(200)]
    tail = tlui.smooth(noisy, 0.9)[100:]
    assert max(tail) - min(tail) < 0.2 and abs(sum(tail) / len(tail) - 0.5) < 0.05  # noise averaged out


def test_smooth_passes_non_finite_values_through_without_using_them():
    smoothed = tlui.smooth([1.0, math.nan, None, 3.0], 0.5)
    assert smoothed[0] == 1.0 and math.isnan(smoothed[1]) and smoothed[2] is None
    assert smoothed[3] == pytest.approx(tlui.smooth([1.0, 3.0], 0.5)[1])
    with pytest.raises(ValueError, match="smoothing weight must be in"):
        tlui.smooth([1.0], 1.0)


def test_smoothing_weight_grows_with_the_planned_run():
    assert tlui.smoothing_weight(8) == 0.6  # TensorBoard's default for short runs
    assert tlui.smoothing_weight(50) < tlui.smoothing_weight(100) < tlui.smoothing_weight(10_000) == 0.95


# -- loss chart ------------------------------------------------------------------------------------------------
def test_loss_chart_against_steps_shows_raw_and_smoothed_loss_and_validation_at_epoch_ends():
    events = run_events()
    figure = tlui.loss_figure(events)
    shown = traces(figure)
    assert list(shown) == ["train loss", "train loss (smoothed)", "validation loss", "validation accuracy (right axis)"]
    raw, smoothed = shown["train loss"], shown["train loss (smoothed)"]
    assert list(raw.x) == list(range(1, 13)) and list(smoothed.x) == list(raw.x)
    assert list(smoothed.y) == pytest.approx(tlui.smooth(list(raw.y), tlui.smoothing_weight(12)))
    assert raw.line.color == tlui.RAW_COLOR and raw.line.width < smoothed.line.width  # raw kept, lighter
    assert list(shown["validation loss"].x) == [4, 8, 12]
    assert list(shown["validation accuracy (right axis)"].y) == pytest.approx([0.6, 0.7, 0.8])
    assert figure.layout.xaxis.title.text == "training step"


def test_loss_chart_against_epochs_puts_steps_at_fractional_epochs():
    figure = tlui.loss_figure(run_events(), x_axis="epochs")
    shown = traces(figure)
    assert list(shown["train loss"].x) == pytest.approx([step / 4 for step in range(1, 13)])
    assert list(shown["train loss (smoothed)"].x) == list(shown["train loss"].x)
    assert list(shown["validation loss"].x) == [1, 2, 3]  # each epoch's end, where its last step is
    assert list(shown["train loss"].customdata) == list(range(1, 13))  # the step, in the hover text
    assert figure.layout.xaxis.title.text == "epoch"
    assert figure.layout.xaxis.range[1] == pytest.approx(3, abs=0.1)


def test_live_chart_spans_the_whole_planned_run_and_keeps_every_point():
    early = tlui.loss_figure(run_events(steps_per_epoch=100, epochs=5, done=30))
    assert early.layout.xaxis.range[1] == pytest.approx(500.5)  # room for the steps still to come
    late = tlui.loss_figure(run_events(steps_per_epoch=100, epochs=5))
    assert len(traces(late)["train loss"].x) == 500  # the whole run, not the last N points
    by_epoch = tlui.loss_figure(run_events(steps_per_epoch=100, epochs=5, done=30), x_axis="epochs")
    assert by_epoch.layout.xaxis.range[1] == pytest.approx(5, abs=0.2)


def test_early_stopped_chart_ends_at_the_last_step_and_marks_the_kept_epoch():
    events = run_events(steps_per_epoch=4, epochs=3)  # planned for more epochs than it ran
    for event in events:
        event["total_steps"] = 40
    for x_axis, kept_x, end in (("steps", 8, 12.5), ("epochs", 2, 3 * 1.02)):
        figure = tlui.loss_figure(events, kept_epoch=2, x_axis=x_axis)
        line = next(shape for shape in figure.layout.shapes if shape.line.dash == "dash")
        assert line.x0 == pytest.approx(kept_x)
        assert figure.layout.xaxis.range[1] == pytest.approx(end, abs=0.01)
        assert "kept epoch 2" in {annotation.text for annotation in figure.layout.annotations}


def test_a_finished_runs_chart_ends_at_its_last_step():
    cancelled = run_events(steps_per_epoch=4, epochs=10, done=6)  # cancelled after 6 of 40 planned steps
    assert tlui.loss_figure(cancelled).layout.xaxis.range[1] == pytest.approx(40.5)  # live: the plan
    assert tlui.loss_figure(cancelled, planned=False).layout.xaxis.range[1] == pytest.approx(6.5)
    rates = tlui.rates_figure(cancelled, "epochs", planned=False)
    assert rates.layout.xaxis.range[1] == pytest.approx(1.5 * 1.02) == rates.layout.xaxis2.range[1]


def test_charts_refuse_an_unknown_axis_and_draw_nothing_without_events():
    with pytest.raises(ValueError, match="x_axis must be one of steps, epochs"):
        tlui.loss_figure(run_events(), x_axis="seconds")
    assert tlui.loss_figure([]) is None and tlui.rates_figure([]) is None
    only_eval = [e for e in run_events() if e["type"] == "eval"]
    assert tlui.rates_figure(only_eval) is None


# -- learning rate and throughput ------------------------------------------------------------------------------
def test_rates_chart_shows_learning_rate_and_throughput_per_step():
    events = run_events()
    for x_axis, xs in (("steps", list(range(1, 13))), ("epochs", [step / 4 for step in range(1, 13)])):
        figure = tlui.rates_figure(events, x_axis)
        lr, speed = traces(figure)["learning rate"], traces(figure)["examples/s"]
        assert list(lr.x) == pytest.approx(xs) and list(speed.x) == pytest.approx(xs)
        assert list(lr.y) == pytest.approx([1e-3 * (1 - step / 12) for step in range(1, 13)])
        assert list(speed.y) == [10.0 + step for step in range(1, 13)]
        assert figure.layout.xaxis.range == figure.layout.xaxis2.range  # both span the whole run
