"""Training events, shaped like transformers' TrainerCallback."""
from __future__ import annotations


class Callback:
    """Receives training events, shaped like transformers' TrainerCallback; every hook does nothing by default."""

    def on_train_begin(self, model) -> None:
        """Training is about to start on this (prepared) model."""

    def on_log(self, event: dict) -> None:
        """A training step was logged (step, epoch, train_loss, learning_rate, ...)."""

    def on_evaluate(self, event: dict) -> None:
        """A validation pass finished (epoch, val_loss, val_accuracy, ...)."""

    def on_progress(self, stage: str, done: int, total: int) -> None:
        """Progress of a long non-training stage (encoding, scoring)."""

    def should_stop(self) -> bool:
        """Return True to stop cooperatively (cancel)."""
        return False
