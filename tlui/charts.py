"""Plotly figures: loss curves, class counts, confusion matrices, text lengths."""
from __future__ import annotations

import math

import plotly.graph_objects as go

TOKEN_LIMIT = 128  # the training methods' default max_length (tlcore.validation.DEFAULT_TOKEN_LIMIT)
CHARS_PER_TOKEN = 4  # rough estimate without a tokenizer

# -- charts -----------------------------------------------------------------------------------------
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02,
                                                                 xanchor="left", x=0))


def loss_figure(events: list[dict], kept_epoch: int | None = None) -> go.Figure | None:
    """Train loss per step and validation loss/accuracy per epoch, on one axis of steps.

    ``kept_epoch``: the epoch whose weights early stopping kept, marked with a dashed line.
    """
    train = [e for e in events if e.get("type") == "train"]
    evals = [e for e in events if e.get("type") == "eval"]
    if not train and not evals:
        return None
    total = max([int(e.get("total_steps") or 0) for e in train + evals] + [1])
    if kept_epoch is not None:  # stopped early: the steps it never took would be an empty half of the chart
        total = max([int(e["step"]) for e in train + evals] + [1])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[e["step"] for e in train], y=[e["train_loss"] for e in train],
                             name="train loss", mode="lines+markers" if len(train) <= 40 else "lines",
                             line=dict(color="#2563eb", width=1.5), marker=dict(size=4),
                             hovertemplate="step %{x}<br>train loss %{y:.4f}<extra></extra>"))
    if evals:
        fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e["val_loss"] for e in evals],
                                 name="validation loss", mode="lines+markers",
                                 line=dict(color="#f97316", width=2), marker=dict(size=8),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate="epoch %{customdata} (step %{x})<br>validation loss %{y:.4f}"
                                               "<extra></extra>"))
        fig.add_trace(go.Scatter(x=[e["step"] for e in evals], y=[e["val_accuracy"] for e in evals],
                                 name="validation accuracy (right axis)", mode="lines+markers", yaxis="y2",
                                 line=dict(color="#16a34a", width=2, dash="dot"), marker=dict(size=8,
                                                                                           symbol="diamond"),
                                 customdata=[e.get("epoch") for e in evals],
                                 hovertemplate="epoch %{customdata} (step %{x})<br>validation accuracy "
                                               "%{y:.1%}<extra></extra>"))
    kept = next((e for e in evals if e.get("epoch") == kept_epoch), None) if kept_epoch is not None else None
    if kept is not None:
        fig.add_vline(x=kept["step"], line=dict(color="#6b7280", width=1.5, dash="dash"),
                      annotation=dict(text=f"kept epoch {kept_epoch}", font=dict(size=11, color="#374151")),
                      annotation_position="top left")
    fig.update_layout(
        height=340, showlegend=True, **_LAYOUT,
        xaxis=dict(title=dict(text="training step"), range=[0, total + 0.5], rangemode="tozero",
                   dtick=1 if total <= 12 else None, tickformat="d"),
        yaxis=dict(title=dict(text="loss"), range=_loss_range(train, evals)),
        yaxis2=dict(title=dict(text="validation accuracy"), overlaying="y", side="right", range=[0, 1.02],
                    tickmode="array", tickvals=[0, 0.25, 0.5, 0.75, 1.0], tickformat=".0%", showgrid=False,
                    visible=bool(evals)))
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
