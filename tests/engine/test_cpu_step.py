"""The CPU training step's two changes (tlcore.engine.cpu_step): the same update as the plain step, and the model
handed back as it came."""
from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForSequenceClassification, LlamaConfig, LlamaForCausalLM

import tlcore
from tlcore.engine import cpu_step, training
from tlcore.engine.callbacks import Callback
from tlcore.engine.models import load_tokenizer, model_folder, resolve_model
from tlcore.engine.precision import Precision, compute_in


def _minilm(dropout: float = 0.1):
    torch.manual_seed(0)
    return AutoModelForSequenceClassification.from_pretrained(
        str(model_folder(resolve_model("minilm"))), num_labels=2, hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout)


def _train(model, split, epochs: int = 1) -> None:
    config = tlcore.methods.get_method("full").config_cls(epochs=epochs, batch_size=8, max_length=32)
    training.train_classifier(model, load_tokenizer(str(model_folder(resolve_model("minilm")))), split.train,
                              tlcore.data.LabeledData([], []), split.labels, config, Callback(), "cpu")


def test_a_kept_embedding_gradient_gives_the_same_weights_as_a_fresh_one(tiny_split, monkeypatch):
    kept_model = _minilm()
    _train(kept_model, tiny_split, epochs=2)  # several steps: the kept buffer must be zeroed between them
    monkeypatch.setattr(training, "keep_embedding_gradient", lambda model, device: None)
    plain_model = _minilm()
    _train(plain_model, tiny_split, epochs=2)
    kept, plain = dict(kept_model.named_parameters()), dict(plain_model.named_parameters())
    embeddings = "bert.embeddings.word_embeddings.weight"
    assert not torch.equal(kept[embeddings], _minilm().get_input_embeddings().weight)  # they did train
    for name in plain:
        assert torch.allclose(kept[name], plain[name], atol=1e-6), name


def test_training_hands_the_model_back_as_it_came(tiny_split):
    model = _minilm()
    assert model.config._attn_implementation == "sdpa"
    seen = []
    original = training._train

    def spying(model, *args, **kwargs):  # what the loop trained with
        seen.append((model.config._attn_implementation, model.get_input_embeddings().sparse))
        return original(model, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "_train", spying)
        with compute_in(Precision("bf16", "test"), "cpu"):
            _train(model, tiny_split)
        _train(model, tiny_split)  # fp32: fused attention stays
    assert seen == [("eager", True), ("sdpa", True)]
    embedding = model.get_input_embeddings()
    assert model.config._attn_implementation == "sdpa" and not embedding.sparse and embedding.weight.grad is None


def test_frozen_or_tied_embeddings_and_gpus_keep_the_plain_backward():
    frozen = _minilm()
    frozen.get_input_embeddings().weight.requires_grad = False
    assert cpu_step.keep_embedding_gradient(frozen, "cpu") is None
    assert cpu_step.keep_embedding_gradient(_minilm(), "cuda:0") is None
    tied = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True))
    assert tied.get_output_embeddings().weight is tied.get_input_embeddings().weight
    assert cpu_step.keep_embedding_gradient(tied, "cpu") is None
    assert not tied.get_input_embeddings().sparse
    model = _minilm()
    assert cpu_step.keep_embedding_gradient(model, "cpu") is model.get_input_embeddings().weight
