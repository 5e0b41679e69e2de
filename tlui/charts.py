"""Plotly figures: loss curves, learning rate and throughput, class counts, confusion matrices, text lengths."""
from __future__ import annotations

import math

import plotly.graph_objects as go

TOKEN_LIMIT = 128  # the training methods' default max_length (tlcore.data.validation.DEFAULT_TOKEN_LIMIT)
CHARS_PER_TOKEN = 4  # rough estimate without a tokenizer

# -- charts -----------------------------------------------------------------------------------------
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02,
                                                                 xanchor="left", x=0))
X_AXES = ("steps", "epochs")  # what training curves are plotted against
RAW_COLOR, SMOOTH_COLOR = "#93c5fd", "#2563eb"  # raw train loss lighter, its smoothed line darker

# Every chart: plotly's mode bar (on hover) with one button, "Download plot as a PNG" at twice the screen's
# resolution, for slides and reports; zoom and pan stay on the mouse (drag, double-click to reset).
CHART_CONFIG = {"displaylogo": False, "modeBarButtons": [["toImage"]],
                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "transferlab-chart"}}


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with bias correction, as TensorBoard's scalar smoothing does.

    ``weight`` in [0, 1): 0 returns the values, larger smooths more. Dividing by ``1 - weight ** n`` removes
    the pull towards 0 of the average's zero start, so the first point is the first value. Values that are
    not finite numbers pass through and do not enter the average.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    smoothed, last, n = [], 0.0, 0
    for value in values:
        if value is None or not math.isfinite(float(value)):
            smoothed.append(value)
            continue
        last = last * weight + (1 - weight) * float(value)
        n += 1
        smoothed.append(last / (1 - weight ** n))
    return smoothed


def smoothing_weight(total_steps: int) -> float:
    """A weight that averages over about a tenth of the run (0.6, TensorBoard's default, for short runs).

    It depends on the run's planned steps, not the steps so far, so a live curve keeps its shape as it grows.
    """
    return min(0.95, max(0.6, 1 - 10 / max(1, total_steps)))


def _axis(events: list[dict], x_axis: str, planned: bool) -> tuple[str, float]:
    """(x key of an event, end of the x range) for a whole run.

    ``planned``: the range covers the planned steps, so a live chart does not rescale as it grows; otherwise it
    ends at the last step taken (a cancelled or early-stopped run would show an empty stretch it never took).
    """
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}, got {x_axis!r}")
    total = max([int(e.get("total_steps") or 0) for e in events] + [1])
    if not planned:
        total = max([int(e["step"]) for e in events if e.get("step") is not None] + [1])
    # Train events carry a fractional epoch: epoch / step is 1 / steps-per-epoch (evals: whole epochs).
    per_epoch = next((e["step"] / e["epoch"] for e in reversed(events)
                      if e.get("step") and e.get("epoch")), None)
    if x_axis == "steps" or not per_epoch:
        return "step", float(total)
    return "epoch", total / per_epoch


def _x_layout(key: str, end: float) -> dict:
    if key == "step":
        return dict(title=dict(text="training step"), range=[0, end + 0.5], rangemode="tozero",
                    dtick=1 if end <= 12 else None, tickformat="d")
    return dict(title=dict(text="epoch"), range=[0, end * 1.02 if end > 0 else 1], rangemode="tozero",
                dtick=1 if end <= 12 else None)


def loss_figure(events: list[dict], kept_epoch: int | None = None, x_axis: str = "steps",
                planned: bool = True) -> go.Figure | None:
    """Train loss per step (raw, and smoothed) and validation loss/accuracy per epoch, on one x axis.

    ``x_axis``: "steps" or "epochs"; validation points sit at their epoch's end either way.
    ``kept_epoch``: the epoch whose weights early stopping kept, marked with a dashed line (the axis then ends at
    the last step). ``planned``: span the run's planned steps (a live run) or only those it took (False).
    """
    train = [e for e in events if e.get("type") == "train"]
    evals = [e for e in events if e.get("type") == "eval"]
    if not train and not evals:
        return None
    key, end = _axis(train + evals, x_axis, planned and kept_epoch is None)
    other = "epoch" if key == "step" else "step"  # shown in the hover text beside the x value
    x_fmt, other_fmt = ("%{x}", "%{customdata:.2f}") if key == "step" else ("%{x:.2f}", "%{customdata}")
    hover_x = f"{key} {x_fmt} · {other} {other_fmt}"
    losses = [e["train_loss"] for e in train]
    fig = go.Figure()
    few = len(train) <= 40
    fig.add_trace(go.Scatter(x=[e[key] for e in train], y=losses, customdata=[e.get(other) for e in train],
                             name="train loss", mode="lines+markers" if few else "lines",
                             line=dict(color=RAW_COLOR, width=1), marker=dict(size=4),
                             hovertemplate=hover_x + "<br>train loss %{y:.4f}<extra></extra>"))
    if len(train) > 1:
        weight = smoothing_weight(max(int(e.get("total_steps") or 0) for e in train))
        fig.add_trace(go.Scatter(x=[e[key] for e in train], y=smooth(losses, weight),
                                 customdata=[e.get(other) for e in train], name="train loss (smoothed)",
                                 mode="lines", line=dict(color=SMOOTH_COLOR, width=2.5),
                                 hovertemplate=hover_x + f"<br>smoothed train loss %{{y:.4f}} (EMA {weight:.2f})"
                                               "<extra></extra>"))
    if evals:
        # Epoch-end points: their x is the step or the whole epoch the evaluation followed.
        eval_x = [e["step"] if key == "step" else e["epoch"] for e in evals]
        eval_hover = "epoch %{customdata} (step %{x})" if key == "step" else "epoch %{x}"
        fig.add_trace(go.Scatter(x=eval_x, y=[e["val_loss"] for e in evals],
                                 name="validation loss", mode="lines+markers",
                                 line=dict(color="#f97316", width=2), marker=dict(size=8),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate=eval_hover + "<br>validation loss %{y:.4f}<extra></extra>"))
        fig.add_trace(go.Scatter(x=eval_x, y=[e["val_accuracy"] for e in evals],
                                 name="validation accuracy (right axis)", mode="lines+markers", yaxis="y2",
                                 line=dict(color="#16a34a", width=2, dash="dot"), marker=dict(size=8,
                                                                                           symbol="diamond"),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate=eval_hover + "<br>validation accuracy %{y:.1%}<extra></extra>"))
    kept = next((e for e in evals if e.get("epoch") == kept_epoch), None) if kept_epoch is not None else None
    if kept is not None:
        fig.add_vline(x=kept["step"] if key == "step" else kept["epoch"],
                      line=dict(color="#6b7280", width=1.5, dash="dash"),
                      annotation=dict(text=f"kept epoch {kept_epoch}", font=dict(size=11, color="#374151")),
                      annotation_position="top left")
    fig.update_layout(
        height=340, showlegend=True, **_LAYOUT, xaxis=_x_layout(key, end),
        yaxis=dict(title=dict(text="loss"), range=_loss_range(train, evals)),
        yaxis2=dict(title=dict(text="validation accuracy"), overlaying="y", side="right", range=[0, 1.02],
                    tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1.0], tickformat=".0%", showgrid=False,
                    visible=bool(evals)))
    return fig


def rates_figure(events: list[dict], x_axis: str = "steps", planned: bool = True) -> go.Figure | None:
    """Learning rate and training throughput per step, side by side, on the loss chart's x axis."""
    from plotly.subplots import make_subplots

    train = [e for e in events if e.get("type") == "train"]
    if not train:
        return None
    key, end = _axis(train, x_axis, planned)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Learning rate", "Examples per second (average since the start)"))
    x = [e[key] for e in train]
    mode = "lines+markers" if len(train) <= 40 else "lines"
    hover_x = "step %{x}" if key == "step" else "epoch %{x:.2f}"
    fig.add_trace(go.Scatter(x=x, y=[e.get("learning_rate") for e in train], mode=mode, name="learning rate",
                             line=dict(color="#7c3aed", width=1.5), marker=dict(size=3),
                             hovertemplate=hover_x + "<br>learning rate %{y:.3g}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=x, y=[e.get("examples_per_s") for e in train], mode=mode, name="examples/s",
                             line=dict(color="#0d9488", width=1.5), marker=dict(size=3),
                             hovertemplate=hover_x + "<br>%{y:.1f} examples/s<extra></extra>"), row=1, col=2)
    fig.update_layout(height=230, showlegend=False, margin=dict(l=10, r=10, t=30, b=10))
    fig.update_annotations(font=dict(size=13))
    for col in (1, 2):
        fig.update_xaxes(**_x_layout(key, end), row=1, col=col)
    fig.update_yaxes(rangemode="tozero", exponentformat="e", row=1, col=1)  # 5e-5, not plotly's 50µ
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    return fig


def _loss_range(train: list[dict], evals: list[dict]) -> list[float] | None:
    """Autoscale, but never zoom so far that a wiggle of 0.001 fills the chart: span at least 20 % of the top."""
    losses = [e["train_loss"] for e in train] + [e["val_loss"] for e in evals]
    losses = [float(v) for v in losses if v is not None and math.isfinite(float(v))]
    if not losses:
        return None
    low, high = min(losses), max(losses)
    span = max(high - low, 0.2 * abs(high), 1e-3)
    middle = (low + high) / 2
    pad = 0.08 * span
    return [max(0.0, middle - span / 2 - pad) if low >= 0 else middle - span / 2 - pad, middle + span / 2 + pad]


def class_counts_figure(counts: dict[str, int], limit: int = 40) -> go.Figure:
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    fig = go.Figure(go.Bar(x=[str(k) for k, _ in items], y=[v for _, v in items], text=[v for _, v in items],
                           textposition="outside", marker_color="#2563eb", cliponaxis=False,
                           hovertemplate="%{x}: %{y} rows<extra></extra>"))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10),
                      xaxis=dict(title=dict(text="label"), type="category"),
                      yaxis=dict(title=dict(text="rows"), rangemode="tozero"))
    return fig


def confusion_figure(metrics: dict, title: str, subtitle: str = "") -> go.Figure:
    labels = [str(label) for label in metrics["labels"]]
    matrix = metrics["confusion_matrix"]
    fig = go.Figure(go.Heatmap(
        z=matrix, x=labels, y=labels, text=matrix, texttemplate="%{text}", textfont=dict(size=14),
        colorscale="Blues", showscale=False, xgap=2, ygap=2,
        hovertemplate="gold %{y}, predicted %{x}: %{z} examples<extra></extra>"))
    side = 220 + 28 * len(labels)
    fig.update_layout(
        title=dict(text=title, font=dict(size=15), subtitle=dict(text=subtitle, font=dict(size=12))),
        height=min(side, 700), margin=dict(l=10, r=10, t=70, b=10),
        xaxis=dict(title=dict(text="predicted"), type="category", side="bottom", constrain="domain"),
        yaxis=dict(title=dict(text="gold"), type="category", autorange="reversed", scaleanchor="x"))
    return fig




def text_length_figure(texts: list[str], limit: int = TOKEN_LIMIT) -> go.Figure:
    """Histogram of text lengths in estimated tokens (characters / 4) with a line at the training max length."""
    tokens = [len(text) / CHARS_PER_TOKEN for text in texts]
    fig = go.Figure(go.Histogram(x=tokens, nbinsx=40, marker_color="#2563eb",
                                 hovertemplate="≈%{x} tokens: %{y} texts<extra></extra>"))
    fig.add_vline(x=limit, line=dict(color="#dc2626", width=1.5, dash="dash"),
                  annotation=dict(text=f"{limit} tokens (default max length)", font=dict(size=11, color="#991b1b")),
                  annotation_position="top right")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), bargap=0.05,
                      xaxis=dict(title=dict(text="estimated tokens (characters / 4)"), rangemode="tozero"),
                      yaxis=dict(title=dict(text="texts"), rangemode="tozero"))
    return fig


def data_overview_figure(counts: dict[str, int], texts: list[str], limit: int = 40,
                         token_limit: int = TOKEN_LIMIT) -> go.Figure:
    """One figure for the Data page: rows per class on top, the text length histogram below."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                        subplot_titles=("Rows per class",
                                        f"Text length in estimated tokens (characters / {CHARS_PER_TOKEN})"))
    for trace in class_counts_figure(counts, limit).data:
        fig.add_trace(trace, row=1, col=1)
    for trace in text_length_figure(texts, token_limit).data:
        fig.add_trace(trace, row=2, col=1)
    fig.add_vline(x=token_limit, row=2, col=1, line=dict(color="#dc2626", width=1.5, dash="dash"),
                  annotation=dict(text=f"{token_limit} tokens (default max length)",
                                  font=dict(size=11, color="#991b1b")), annotation_position="top right")
    fig.update_layout(height=600, margin=dict(l=10, r=10, t=40, b=10), showlegend=False, bargap=0.05)
    fig.update_xaxes(type="category", title=dict(text="label"), row=1, col=1)
    fig.update_yaxes(title=dict(text="rows"), rangemode="tozero", row=1, col=1)
    fig.update_xaxes(title=dict(text="estimated tokens"), rangemode="tozero", row=2, col=1)
    fig.update_yaxes(title=dict(text="texts"), rangemode="tozero", row=2, col=1)
    return fig
