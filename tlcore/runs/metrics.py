"""Metrics for a run's test predictions (scikit-learn does the arithmetic)."""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


def classification_metrics(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix (rows = gold)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=labels, zero_division=0)
    majority_label, majority_count = Counter(gold).most_common(1)[0]
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "per_class": {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for label, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "confusion_matrix": confusion_matrix(gold, predicted, labels=labels).tolist(),
        "labels": labels,
        "majority_baseline": {
            "label": majority_label, "accuracy": majority_count / len(gold),
            "macro_f1": float(f1_score(gold, [majority_label] * len(gold), labels=labels, average="macro",
                                       zero_division=0))},
    }


def predicted_labels(proba: np.ndarray, labels: Sequence[str]) -> list[str]:
    return [labels[i] for i in proba.argmax(axis=1)]


def majority_label(gold: Sequence[str]) -> str:
    """The most common gold label (ties: the one seen first), what the majority baseline always predicts."""
    return Counter(gold).most_common(1)[0][0]


def row_normalized(matrix: Sequence[Sequence[int]]) -> list[list[float]]:
    """Each row of a confusion matrix as shares of its gold class (the diagonal is per-class recall).

    A class with no test rows gets a row of zeros rather than a division by zero.
    """
    array = np.asarray(matrix, dtype=float)
    totals = array.sum(axis=1, keepdims=True)
    return np.divide(array, totals, out=np.zeros_like(array), where=totals > 0).tolist()
