"""Channel scoring (tlcore.engine.channel_scoring) on the bundled SmolLM2: exact, batched, and what it buys."""
from __future__ import annotations

import numpy as np

from tlcore.engine.channel_scoring import ChannelScorer
from tlcore.engine.decoder_scoring import Demonstration, LabelScorer
from tlcore.engine.models import model_folder, resolve_model

SPAM = "WINNER!! You have been selected to receive a £900 prize reward! To claim call 09061701461. Valid 12 hours."
HAM = "Sorry, I'll call you later. I'm in a meeting, home by 7"
DESCRIPTIONS = {"ham": "a personal message from a friend or family member",
                "spam": "an advertisement, prize offer or scam message"}


def _reference(scorer: ChannelScorer, label: str, text: str) -> float:
    """log p(text | label's prompt) from one plain forward pass over prompt + text, no cache, no batch."""
    torch = scorer.torch
    prompt = scorer.tokenizer(scorer.render_prompt(label), add_special_tokens=False)["input_ids"]
    text_ids = scorer._text_ids(text)
    with torch.inference_mode():
        logits = scorer.model(input_ids=torch.tensor([prompt + text_ids])).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    return float(sum(logp[len(prompt) - 1 + t, token] for t, token in enumerate(text_ids)))


def test_batched_scores_equal_one_plain_pass_per_prompt_and_text():
    folder = str(model_folder(resolve_model("smollm2-135m")))
    demonstration = Demonstration("Free entry in 2 a wkly comp to win FA Cup final tkts", "spam")
    scorer = ChannelScorer(folder, ["ham", "spam"], label_texts=DESCRIPTIONS, demonstrations=[demonstration])
    texts = [SPAM, "ok", HAM, ""]  # lengths differ, so the batch is padded; an empty text scores 0
    got = scorer.score(texts)
    for row, text in enumerate(texts[:3]):
        for column, label in enumerate(scorer.labels):
            assert abs(got[row, column] - _reference(scorer, label, text)) < 2e-3
    assert got[3].tolist() == [0.0, 0.0]
    assert np.allclose(scorer.score([HAM]), got[2:3], atol=1e-4), "a text scores the same alone or in a batch"


def test_channel_scoring_tells_spam_from_ham_where_direct_scoring_does_not(sms):
    folder = str(model_folder(resolve_model("smollm2-135m")))
    texts = [t for t, y in zip(sms.texts, sms.labels) if y == "spam"][:6]
    texts += [t for t, y in zip(sms.texts, sms.labels) if y == "ham"][:6]
    spam = np.array([1] * 6 + [0] * 6)

    def margin_auc(scores: np.ndarray) -> float:
        from sklearn.metrics import roc_auc_score

        return roc_auc_score(spam, scores[:, 1] - scores[:, 0])

    channel = margin_auc(ChannelScorer(folder, ["ham", "spam"], label_texts=DESCRIPTIONS).score(texts))
    direct = margin_auc(LabelScorer(folder, ["ham", "spam"], label_texts=DESCRIPTIONS).score(texts))
    assert channel > 0.8 and channel > direct + 0.2, (channel, direct)


def test_passes_stay_within_the_budget_of_cached_prompt_tokens(monkeypatch):
    """Each row of a pass gets its own copy of the prompt's keys and values: a long few-shot prompt and many short
    texts must not become one huge pass (SmolLM2 few-shot on SMS once peaked at 3 GB this way)."""
    from tlcore.engine import channel_scoring

    folder = str(model_folder(resolve_model("smollm2-135m")))
    scorer = ChannelScorer(folder, ["ham", "spam"],
                           demonstrations=[Demonstration(HAM, "ham"), Demonstration(SPAM, "spam")])
    monkeypatch.setattr(channel_scoring, "CACHED_TOKENS_PER_PASS", 400)
    cached_tokens = []
    score_batch = scorer._score_batch

    def counting(batch, cache, first_logp, prompt_len):
        cached_tokens.append(len(batch) * (prompt_len + max(len(ids) for ids in batch)))
        return score_batch(batch, cache, first_logp, prompt_len)

    monkeypatch.setattr(scorer, "_score_batch", counting)
    scores = scorer.score(["ok"] * 30 + [HAM])
    assert len(cached_tokens) > 4 and max(cached_tokens) <= 400
    assert np.allclose(scores[:30], scores[0], atol=1e-4)
