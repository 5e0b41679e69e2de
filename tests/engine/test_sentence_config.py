"""Encoders follow a folder's sentence-transformers configuration (issue 19, item 2).

The vectors must equal ``SentenceTransformer(folder).encode(...)`` within 1e-5: for a tiny random BERT built at test
time (CLS pooling, Normalize, a default "query: " prompt), for each pooling mode sentence-transformers knows, for a
folder with a Dense module (encoded by sentence-transformers itself), and for the bundled all-MiniLM-L6-v2 (whose
vectors must not change). A plain transformers folder keeps mean pooling.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import tlcore
from tlcore.engine import encoders
from tlcore.engine.models import model_folder, resolve_model
from tlcore.engine.sentence_config import PLAIN, ST_CONFIG, read_sentence_config
from tlcore.errors import ModelError

# Short and long (cut at the folder's 64 tokens: one token per letter here), so rows pad and truncate.
TEXTS = ["The food was great.", "bad service", "Not good, not bad: fine!",
         "A long review that goes on and on about the food, the service and the prices. " * 3, "ok"]
ST_FILES = ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json", "1_Pooling",
            "2_Normalize", "README.md")


def st_encode(folder: Path, texts, **kwargs) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True).encode(list(texts), **kwargs)


def copy_folder(source: Path, target: Path, skip=()) -> Path:
    shutil.copytree(source, target, ignore=lambda _, names: [n for n in names if n in skip])
    return target


def test_cls_pooling_and_query_prompt_match_sentence_transformers(tiny_st_encoder):
    recipe = read_sentence_config(tiny_st_encoder)
    assert (recipe.pooling, recipe.normalize, recipe.prompt, recipe.prompt_name, recipe.max_length, recipe.source) \
        == ("cls", True, "query: ", "query", 64, ST_CONFIG)
    assert recipe.describe() == "CLS token pooling, L2-normalised, prompt 'query: ' (sentence-transformers config)"
    ours = encoders.embed(TEXTS, str(tiny_st_encoder), max_length=256)
    expected = st_encode(tiny_st_encoder, TEXTS)  # its default prompt and Normalize module apply
    assert ours.shape == expected.shape == (len(TEXTS), 32)
    assert np.abs(ours - expected).max() < 1e-5
    # The prompt and the pooling matter: without them the vectors differ (so the check above can fail).
    assert np.abs(ours - st_encode(tiny_st_encoder, TEXTS, prompt="")).max() > 1e-3
    # A caller's shorter cut wins over the folder's 64 tokens (and is cached apart).
    short = encoders.embed(TEXTS, str(tiny_st_encoder), max_length=8)
    assert np.abs(short[3] - ours[3]).max() > 1e-3 and np.abs(short[4] - ours[4]).max() < 1e-6


@pytest.mark.parametrize("pooling,include_prompt", [
    ("mean", False), ("max", True), ("lasttoken", True), ("weightedmean", True), ("mean_sqrt_len_tokens", True),
    (["cls", "mean"], True)])
def test_every_pooling_mode_matches_sentence_transformers(tiny_st_encoder, tmp_path, pooling, include_prompt):
    folder = copy_folder(tiny_st_encoder, tmp_path / "model")
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"embedding_dimension": 32, "pooling_mode": pooling, "include_prompt": include_prompt}))
    ours = encoders.embed(TEXTS, str(folder))
    expected = st_encode(folder, TEXTS)
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() < 1e-5


def test_legacy_config_without_normalize_module(tiny_st_encoder, tmp_path):
    """A sentence-transformers 2.x folder: boolean pooling keys, max_seq_length and do_lower_case, no Normalize
    module and no similarity function named (cosine: unit vectors), and no default prompt (so "query")."""
    folder = copy_folder(tiny_st_encoder, tmp_path / "model", skip=("2_Normalize",))
    modules = json.loads((folder / "modules.json").read_text())[:2]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16, "do_lower_case": True}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "Query: "}}))
    recipe = read_sentence_config(folder)
    assert (recipe.pooling, recipe.normalize, recipe.prompt, recipe.max_length, recipe.lower_case) \
        == ("mean", True, "Query: ", 16, True)
    ours = encoders.embed(TEXTS, str(folder))
    expected = st_encode(folder, TEXTS, prompt_name="query", normalize_embeddings=True)
    assert np.abs(ours - expected).max() < 1e-5


def test_plain_transformers_folder_keeps_mean_pooling(tiny_st_encoder, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = copy_folder(tiny_st_encoder, tmp_path / "plain", skip=ST_FILES)
    recipe = read_sentence_config(folder)
    assert (recipe.pooling, recipe.normalize, recipe.prompt, recipe.source, recipe.key) == ("mean", True, "", PLAIN, "")
    ours = encoders.embed(TEXTS, str(folder), max_length=32)
    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    assert np.abs(ours - expected).max() < 1e-5


def test_bundled_minilm_vectors_are_unchanged():
    folder = model_folder(resolve_model("minilm"))
    recipe = read_sentence_config(folder)
    assert (recipe.pooling, recipe.normalize, recipe.prompt, recipe.max_length) == ("mean", True, "", 256)
    assert recipe.key == ""  # the probe's feature cache of earlier versions stays valid
    ours = encoders.embed(TEXTS, str(folder), max_length=256)
    assert np.abs(ours - st_encode(folder, TEXTS)).max() < 1e-5


def test_modules_we_do_not_reproduce_are_encoded_by_sentence_transformers(tiny_st_encoder, tmp_path):
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense

    model = SentenceTransformer(str(tiny_st_encoder), device="cpu", local_files_only=True)
    torch.manual_seed(1)
    dense = Dense(32, 16, activation_function=torch.nn.Tanh())
    with_dense = SentenceTransformer(modules=[model[0], model[1], dense, model[2]], device="cpu",
                                     prompts={"query": "query: "}, default_prompt_name="query")
    folder = tmp_path / "dense"
    with_dense.save(str(folder))
    recipe = read_sentence_config(folder)
    assert recipe.delegate and recipe.modules == ("Transformer", "Pooling", "Dense", "Normalize")
    assert recipe.describe().startswith("sentence-transformers modules Transformer -> Pooling -> Dense")
    ours = encoders.embed(TEXTS, str(folder))
    assert ours.shape == (len(TEXTS), 16)
    assert np.abs(ours - st_encode(folder, TEXTS)).max() < 1e-5
    assert encoders.embed([], str(folder)).shape == (0, 16)

    pickled = copy_folder(folder, tmp_path / "pickled")
    for weights in (pickled / "2_Dense").glob("*.safetensors"):
        weights.rename(weights.with_name("pytorch_model.bin"))
    with pytest.raises(ModelError, match="module '2_Dense'.*pickle weights"):
        encoders.embed(TEXTS, str(pickled))


def test_foreign_modules_and_other_model_types_are_refused(tiny_st_encoder, tmp_path):
    folder = copy_folder(tiny_st_encoder, tmp_path / "custom")
    modules = json.loads((folder / "modules.json").read_text())
    modules[1]["type"] = "my_package.pooling.SecretPooling"
    (folder / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelError, match="not part of sentence-transformers.*never does"):
        encoders.embed(TEXTS, str(folder))

    sparse = copy_folder(tiny_st_encoder, tmp_path / "sparse")
    (sparse / "config_sentence_transformers.json").write_text(json.dumps({"model_type": "SparseEncoder"}))
    with pytest.raises(ModelError, match="SparseEncoder, not a sentence embedding model"):
        read_sentence_config(sparse)


@pytest.mark.parametrize("method", ["zero-shot", "linear-probe"])
def test_methods_run_on_a_sentence_transformers_folder_and_record_the_recipe(tiny_st_encoder, yelp, method):
    run = tlcore.create_run(tlcore.RunConfig(model=str(tiny_st_encoder), method=method, per_class=4,
                                             test_size=12, val_size=4, device="cpu",
                                             method_options={"max_length": 32}), yelp)
    metrics = tlcore.execute(run)
    assert metrics["n_test"] == 12 and 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["embedding"]["pooling"] == "cls" and metrics["embedding"]["prompt"] == "query: "
    card = tlcore.export_run(run, run.path.parent / "export").joinpath("README.md").read_text()
    assert "| Sentence embeddings | CLS token pooling, L2-normalised, prompt 'query: ' (sentence-transformers " \
           "config). The snippet below mean-pools; for these vectors embed with `SentenceTransformer(BASE).encode(" \
           "texts, prompt='query: ', normalize_embeddings=True)` |" in card


def test_setfit_trains_with_the_folders_pooling_and_saves_it(tiny_st_encoder, tiny_split, tmp_path):
    """The fine-tuned body is saved as a sentence-transformers folder with the same recipe: its own encode gives
    the vectors the head was fitted on, and a reloaded run predicts the same."""
    from tlcore.engine.callbacks import Callback

    entry = tlcore.methods.get_method("setfit")
    spec = resolve_model(str(tiny_st_encoder))
    config = entry.config_cls.from_dict({"max_pairs": 16, "batch_size": 8, "max_length": 32})
    method = entry.method_cls(config, spec, tiny_st_encoder, tiny_split.labels)
    method.fit(tiny_split.train, tiny_split.val, Callback())
    assert method.embedding["pooling"] == "cls" and method.embedding["prompt"] == "query: "
    proba = method.predict_proba(tiny_split.test.texts)
    method.save(tmp_path)
    saved = read_sentence_config(tmp_path / "model")
    assert (saved.pooling, saved.normalize, saved.prompt, saved.max_length) == ("cls", True, "query: ", 32)
    vectors = method._embed(tiny_split.test.texts)
    assert np.abs(vectors - st_encode(tmp_path / "model", tiny_split.test.texts)).max() < 1e-5
    reloaded = entry.method_cls(config, spec, tiny_st_encoder, tiny_split.labels)
    reloaded.load(tmp_path)
    assert np.abs(reloaded.predict_proba(tiny_split.test.texts) - proba).max() < 1e-6


@pytest.mark.parametrize("normalize", [True, False])
def test_a_written_recipe_reads_back_the_same(normalize, tmp_path):
    """What a fine-tuned SetFit body saves is what reloading it (and `tlcore predict`) embeds with."""
    from dataclasses import replace

    from tlcore.engine.sentence_config import write_sentence_config

    recipe = replace(read_sentence_config(model_folder(resolve_model("minilm"))), normalize=normalize)
    write_sentence_config(recipe, tmp_path, dimension=384, max_length=128)
    again = read_sentence_config(tmp_path)
    assert (again.normalize, again.modes, again.prompt) == (normalize, recipe.modes, recipe.prompt)
