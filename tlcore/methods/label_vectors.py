"""Refine an encoder's zero-shot label vectors on unlabeled texts of the task (their labels are never read).

A label's name or description, embedded alone, sits far from the texts it should match: on SMS spam the
MiniLM vector of "an advertisement, prize offer or scam message" ranks spam with ROC AUC 0.76 on the
validation rows. A few rounds of soft k-means, started at the label vectors, move each one towards the
texts that look most like it: each round gives every text a probability per label (cosine / temperature,
prior-matched to the class frequencies), then each label's vector becomes the normalised sum of its
label-text vector (weight ``anchor``) and the probability-weighted mean of the texts. This is the
"dataless" classification idea of using in-domain text without labels. Measured on the validation rows
at 64 training texts per class: SMS spam 87.1 % → 91.0 % accuracy (ROC AUC 0.76 → 0.86), TREC 56.3 % →
63.2 %. The anchor keeps a label from drifting to an unrelated cluster; 0.5 did better than 1 and 2 on
both sets' validation rows. With few texts per label the means are noise: on TREC, 16 texts for 6 labels
took validation accuracy from 55 % to 48 %, 32 texts left it level and 64 raised it to 58 %, so refinement
waits for MIN_TEXTS_PER_LABEL.
"""
from __future__ import annotations

import numpy as np

from .score_offsets import matching_offsets, softmax

DEFAULT_ANCHOR = 0.5
MAX_POOL = 1000  # texts to refine on: about as long to encode as a 1,000-row test split; more moves the means little
MIN_TEXTS_PER_LABEL = 8


def worth_refining(n_texts: int, n_labels: int) -> bool:
    """Enough unlabeled texts for their means to say more than the label texts (see the module's note)."""
    return n_texts >= MIN_TEXTS_PER_LABEL * n_labels


def refine_label_vectors(label_vectors: np.ndarray, texts: np.ndarray, text_prior: list[float],
                         temperature: float, rounds: int, anchor: float = DEFAULT_ANCHOR) -> np.ndarray:
    """``rounds`` of soft k-means from ``label_vectors`` (labels x dim, unit rows) over ``texts`` (n x dim).

    ``text_prior``: how often each label occurs among ``texts`` (from label counts, not from the texts).
    """
    vectors = np.asarray(label_vectors, dtype=float)
    texts = np.asarray(texts, dtype=float)
    for _ in range(rounds):
        scores = texts @ vectors.T / temperature
        weights = softmax(scores + matching_offsets(scores, text_prior))
        means = weights.T @ texts / np.maximum(weights.sum(axis=0)[:, None], 1e-9)
        vectors = anchor * np.asarray(label_vectors, dtype=float) + means
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors
