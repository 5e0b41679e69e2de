"""The Train page's model picker (issue 19): models of the Hugging Face cache and recent folders are offered with
their kind, size and source; another Hub id or folder can be typed; a Hub model missing from the cache is downloaded
only when asked, and fails with a clear message when the Hub cannot be reached."""
from __future__ import annotations

import tlcore
import tlui


def _picker(at):
    return at.selectbox(key=tlui.TRAIN_W_MODEL)


def test_the_picker_lists_cached_hub_models_and_uses_them(tmp_path, monkeypatch, open_app, with_data, hub_models,
                                                        texts, start_button):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    options = _picker(at).options
    assert options[:2] == [o for o in options if o.startswith(("minilm", "smollm2-135m"))]
    for hub_id in hub_models.values():
        label = next(o for o in options if o.startswith(hub_id))
        assert "Hugging Face cache" in label and "params" in label
    _picker(at).set_value(hub_models["encoder"]).run()
    captions = texts(at.caption)
    assert "Hub id `tiny-org/st-cls-encoder`" in captions and "cls token pooling" in captions.lower()
    assert "query: " in captions  # the prompt its sentence-transformers configuration sets
    at.selectbox(key="train_w_method").set_value("linear-probe").run()
    assert not at.exception and not start_button(at).disabled
    _picker(at).set_value(hub_models["qwen2"]).run()
    assert "decoder" in texts(at.caption) or "Decoders" in texts(at.caption)
    assert not at.exception


def test_another_model_by_folder_or_hub_id(tmp_path, monkeypatch, open_app, with_data, hub_models, tiny_st_encoder,
                                           texts):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    _picker(at).set_value("Another model (Hub id or folder)…").run()
    at.text_input(key=tlui.TRAIN_W_MODEL_OTHER).set_value(str(tiny_st_encoder)).run()
    assert not at.error and "Embeds with" in texts(at.caption)
    at.text_input(key=tlui.TRAIN_W_MODEL_OTHER).set_value("/no/such/folder").run()
    assert "unknown model" in texts(at.error)
    at.text_input(key=tlui.TRAIN_W_MODEL_OTHER).set_value("tiny-org/not-cached").run()
    assert "is not in this machine's Hugging Face cache" in texts(at.info)
    assert not at.button or all("Download" not in b.label for b in at.button)  # nothing fetched unasked
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # online, but the Hub's address is a closed port
    at.checkbox(key="train_w_allow_download").check().run()
    assert "could not reach the Hugging Face Hub" in texts(at.error)
    assert not at.exception


def test_a_folder_used_for_a_run_is_offered_next_time(tmp_path, monkeypatch, open_app, with_data, tiny_st_encoder):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "cache"))
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    tlcore.create_run(tlcore.RunConfig(model=str(tiny_st_encoder), method="zero-shot", test_size=20), data)
    at = open_app(tmp_path / "runs", monkeypatch, tlui.TRAIN_PAGE, **with_data())
    label = next(o for o in _picker(at).options if o.startswith(str(tiny_st_encoder.resolve())))
    assert "folder used before" in label


def test_device_and_precision_are_chosen_under_advanced(tmp_path, monkeypatch, open_app, with_data, start_button):
    runs = tmp_path / "runs"
    at = open_app(runs, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    device, precision = at.selectbox(key=tlui.TRAIN_W_DEVICE), at.selectbox(key=tlui.TRAIN_W_PRECISION)
    assert precision.options == ["auto", "fp32", "bf16", "fp16"] and precision.value == "auto"
    assert device.value == "auto" and device.disabled  # this machine has no GPU: nothing else to pick
    precision.set_value("bf16").run()
    at.selectbox(key="train_w_method").set_value("zero-shot").run()
    start_button(at).click().run()
    [run] = tlcore.RunStore(runs).runs()
    run.request_cancel()  # only its settings matter here
    assert (run.config()["precision"], run.config()["device"]) == ("bf16", "auto")
