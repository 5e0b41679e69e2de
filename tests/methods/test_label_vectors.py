"""Zero-shot label vectors refined on unlabeled training texts (tlcore.methods.label_vectors), with the real MiniLM."""
import numpy as np
from sklearn.metrics import roc_auc_score

import tlcore
from tlcore.engine.encoders import embed
from tlcore.engine.models import model_folder, resolve_model
from tlcore.methods.label_vectors import refine_label_vectors

DESCRIPTIONS = {"ham": "a personal message from a friend or family member",
                "spam": "an advertisement, prize offer or scam message"}


def spam_auc(texts: np.ndarray, labels: list[str], vectors: np.ndarray) -> float:
    scores = texts @ vectors.T
    return roc_auc_score([y == "spam" for y in labels], scores[:, 1] - scores[:, 0])


def test_refining_on_unlabeled_texts_ranks_held_out_spam_better_than_the_descriptions_alone(sms):
    folder = str(model_folder(resolve_model("minilm")))
    split = tlcore.make_split(sms, test_size=150, val_size=0)  # 250 texts to refine on, 150 to judge on
    pool, held_out = embed(split.train.texts, folder), embed(split.test.texts, folder)
    described = embed([DESCRIPTIONS["ham"], DESCRIPTIONS["spam"]], folder)
    refined = refine_label_vectors(described, pool, [0.8, 0.2], temperature=0.05, rounds=3)

    before = spam_auc(held_out, split.test.labels, described)
    after = spam_auc(held_out, split.test.labels, refined)
    assert after > before + 0.05, (before, after)
    assert np.allclose(np.linalg.norm(refined, axis=1), 1.0)
    assert np.array_equal(refine_label_vectors(described, pool, [0.8, 0.2], 0.05, rounds=0), described)


def test_zero_shot_on_the_encoder_refines_on_training_texts_when_asked_and_when_there_are_enough(sms):
    spec = resolve_model("minilm")
    entry = tlcore.methods.get_method("zero-shot")

    def fitted(rounds: int, per_class: int):
        split = tlcore.make_split(sms, test_size=100, val_size=0, per_class=per_class)
        method = entry.method_cls(entry.config_cls(label_descriptions=DESCRIPTIONS, refine_rounds=rounds), spec,
                                  model_folder(spec), split.labels)
        method.fit(split.train, split.val, None)
        return method

    described = embed([DESCRIPTIONS[label] for label in ("ham", "spam")], str(model_folder(spec)))
    refined = fitted(3, per_class=40)
    assert not np.allclose(refined.label_vectors, described, atol=1e-3)
    assert refined._state()["label_vectors"] == np.asarray(refined.label_vectors).tolist()
    assert np.allclose(fitted(0, per_class=40).label_vectors, described, atol=1e-6)  # asked not to
    assert np.allclose(fitted(3, per_class=7).label_vectors, described, atol=1e-6)  # 7 texts a label: too few
