"""Decoders of other families (issue 19): every decoder method runs on a tiny Llama-style and a tiny Qwen2-style model
through their own chat templates, and an architecture that cannot do a method, or that would need its own code, is
refused before anything loads."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import tlcore
from tlcore.engine.chat_prompts import ChatFormat
from tlcore.engine.decoder_scoring import Demonstration, LabelScorer
from tlcore.engine.models import load_tokenizer

FAMILIES = ("llama", "qwen2")
DECODER_METHODS = [entry.name for entry in tlcore.list_methods() if "decoder" in entry.kinds]
# What each family's template writes: a user turn opening, and what ends an answer.
USER_TURN = {"llama": "<|start_header_id|>user<|end_header_id|>\n\n", "qwen2": "<|im_start|>user\n"}
END_OF_TURN = {"llama": "<|eot_id|>", "qwen2": "<|im_end|>"}
# A few rows and one pass: each run takes a second or two on these models.
SMALL = {"epochs": 1, "batch_size": 4, "max_length": 32, "shots": 1, "virtual_tokens": 4, "trainable_layers": 1,
         "max_pairs": 8}


def small_options(method: str, **extra) -> dict:
    fields = {f["name"] for f in tlcore.methods.get_method(method).config_cls.describe_fields()}
    return {k: v for k, v in {**SMALL, **extra}.items() if k in fields}


def test_the_registry_has_decoder_methods_of_every_family():
    families = {tlcore.methods.get_method(name).family for name in DECODER_METHODS}
    assert families == {"zero-shot", "few-shot", "fine-tuned"}
    assert {"lora", "ia3", "prompt-tuning", "full"} <= set(DECODER_METHODS)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("method", DECODER_METHODS)
def test_every_decoder_method_runs_on_the_family_by_hub_id(family, method, hub_models, yelp):
    """By Hub id, from a temporary Hugging Face cache, with the Hub's address unreachable (the fixture)."""
    hub_id = hub_models[family]
    assert tlcore.engine.resolve_model(hub_id).kind == "decoder"
    config = tlcore.RunConfig(model=hub_id, method=method, method_options=small_options(method), per_class=4,
                              test_size=8, val_size=4, device="cpu", data_name="yelp")
    run = tlcore.create_run(config, yelp)
    tlcore.execute(run)
    assert run.status()["status"] == "succeeded", run.status().get("error")
    metrics = run.metrics()
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "macro_f1" in metrics
    predictions = run.predictions()
    assert len(predictions) == 8 and set(predictions["predicted"]) <= set(yelp.labels)
    state = run.path / "artifacts" / "method_state.json"
    if state.exists():  # zero- and few-shot: the channel prompts they scored with are the model's chat template
        prompts = json.loads(state.read_text())["channel_prompts"]
        for prompt in prompts.values():
            assert USER_TURN[family] in prompt and prompt.endswith(USER_TURN[family].replace("user", "assistant"))


@pytest.mark.parametrize("family", FAMILIES)
def test_direct_scoring_asks_in_the_chat_template_and_scores_labels_to_the_end_of_turn(family, tiny_decoder_folders,
                                                                                     yelp):
    folder = str(tiny_decoder_folders[family])
    tokenizer = load_tokenizer(folder)
    demos = [Demonstration(yelp.texts[0], yelp.labels[0]), Demonstration(yelp.texts[1], yelp.labels[1])]
    scorer = LabelScorer(folder, ["negative", "positive"], demonstrations=demos)
    prompt = scorer._render("The soup was cold.")
    assert prompt.count(USER_TURN[family]) == 3 and "Classify the text" in prompt
    assert prompt.startswith("<|begin_of_text|>" if family == "llama" else "<|im_start|>system")
    assert prompt.count("<|begin_of_text|>") == (family == "llama")  # one BOS, from the template, never two
    end = tokenizer.convert_tokens_to_ids(END_OF_TURN[family])
    assert all(ids[-1] == end for ids in scorer._label_ids)
    assert [tokenizer.decode(ids[:-1]) for ids in scorer._label_ids] == ["negative", "positive"]
    shared, alone = scorer.score(yelp.texts[2:8]), scorer.score(yelp.texts[2:8], reuse_prefix=False)
    assert abs(shared - alone).max() < 1e-4  # the shared prompt's cache gives the scores of the whole prompt


def test_a_template_without_a_system_role_gets_the_instruction_in_the_first_user_turn(tiny_llama_folder, tmp_path,
                                                                                     yelp):
    folder = tmp_path / "no-system"
    shutil.copytree(tiny_llama_folder, folder)
    # Gemma's layout: a system message raises, the assistant is "model", an answer ends with <end_of_turn>.
    (folder / "chat_template.jinja").write_text(
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
        "{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")
    chat = ChatFormat(load_tokenizer(str(folder)))
    assert (chat.system_role, chat.answer_end, chat.answer_lead) == (False, "<end_of_turn>", "")
    for demos in ([], [Demonstration(yelp.texts[0], yelp.labels[0])]):
        scorer = LabelScorer(str(folder), ["negative", "positive"], demonstrations=demos)
        prompt = scorer._render("The soup was cold.")
        assert prompt.startswith("<|begin_of_text|><start_of_turn>user\nClassify the text")
        assert prompt.endswith("Text: The soup was cold.<end_of_turn>\n<start_of_turn>model\n")
        shared, alone = scorer.score(yelp.texts[2:6]), scorer.score(yelp.texts[2:6], reuse_prefix=False)
        assert abs(shared - alone).max() < 1e-4


# -- refused before loading ---------------------------------------------------------------------------------------
def fake_model(folder: Path, config: dict) -> Path:
    """A folder whose config.json says ``config`` and whose weights are not weights: anything that loads fails."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"not weights")
    return folder


def create(folder: Path, method: str, data) -> tlcore.Run:
    config = tlcore.RunConfig(model=str(folder), method=method, per_class=4, test_size=8, data_name="yelp")
    return tlcore.create_run(config, data)


def test_a_method_needing_a_head_the_architecture_lacks_is_refused_naming_it(tmp_path, yelp, runs_dir):
    granite = fake_model(tmp_path / "granite", {"model_type": "granite", "architectures": ["GraniteForCausalLM"]})
    for method in ("lora", "full", "prompt-tuning"):
        with pytest.raises(tlcore.MethodError, match=rf"method '{method}' needs a classification head.*no "
                                                     r"sequence-classification class for granite "
                                                     r"\(GraniteForCausalLM\).*Use zero-shot or few-shot"):
            create(granite, method, yelp)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # refused before a run folder was made
    assert create(granite, "zero-shot", yelp).config()["method"] == "zero-shot"  # it has a language-modelling head


def test_ia3_on_an_architecture_without_known_target_layers_is_refused_and_lora_is_not(tmp_path, yelp):
    moe = fake_model(tmp_path / "moe", {"model_type": "qwen2_moe", "architectures": ["Qwen2MoeForCausalLM"]})
    with pytest.raises(tlcore.MethodError, match=r"'ia3' needs to know which layers.*qwen2_moe.*Use 'lora'"):
        create(moe, "ia3", yelp)
    assert create(moe, "lora", yelp).config()["method"] == "lora"


def test_a_model_that_needs_its_own_code_is_refused_with_the_reason(tmp_path, yelp):
    custom = fake_model(tmp_path / "custom", {
        "model_type": "tiny_custom", "architectures": ["TinyCustomForCausalLM"],
        "auto_map": {"AutoModelForCausalLM": "modeling_tiny.TinyCustomForCausalLM"}})
    for method in ("zero-shot", "lora"):
        with pytest.raises(tlcore.ModelError, match=r"model type 'tiny_custom' is not one transformers .* knows; it "
                                                    r"would need the model's own Python code \(trust_remote_code\)"):
            create(custom, method, yelp)
    mapped = fake_model(tmp_path / "mapped", {
        "model_type": "llama", "architectures": ["MyLlamaForCausalLM"],
        "auto_map": {"AutoModelForCausalLM": "modeling_my.MyLlamaForCausalLM"}})
    with pytest.raises(tlcore.ModelError, match=r"maps MyLlamaForCausalLM to code in the model folder \(auto_map\)"):
        create(mapped, "zero-shot", yelp)
    # auto_map beside transformers' own classes (old Phi-3 checkpoints): transformers' code is used, nothing remote.
    native = fake_model(tmp_path / "native", {
        "model_type": "phi3", "architectures": ["Phi3ForCausalLM"],
        "auto_map": {"AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}})
    assert create(native, "ia3", yelp).config()["method"] == "ia3"


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_tuning_on_a_decoder_reads_each_text_s_last_token_whatever_the_padding(family, tiny_decoder_folders,
                                                                                      tiny_split):
    # peft feeds a prompt-tuned model embeddings, so a decoder's head reads the last column of each row: rows are
    # padded on the left, or a short text in a batch with a long one would be classified from a padding token.
    folder = tiny_decoder_folders[family]
    entry = tlcore.methods.get_method("prompt-tuning")
    method = entry.method_cls(entry.config_cls.from_dict(small_options("prompt-tuning")),
                              tlcore.engine.resolve_model(str(folder)), folder, tiny_split.labels)
    method.fit(tiny_split.train, tiny_split.val, tlcore.methods.Callback())
    short, long = "Great.", " ".join(tiny_split.train.texts[:3])
    alone, batched = method.predict_proba([short]), method.predict_proba([short, long])
    assert abs(alone[0] - batched[0]).max() < 1e-5
    assert load_tokenizer(str(folder)).padding_side == "right"  # the shared tokenizer is left as it was
