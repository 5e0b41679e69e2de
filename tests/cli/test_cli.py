"""The `tlcore` command-line contract (DESIGN.md section 4), run as a real subprocess."""
from __future__ import annotations

import json

import pytest

from tlcore.cli.main import RESULT_KEYS


def test_models_lists_both_bundled_models_offline(tlcore_cli):
    result = tlcore_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    models = {m["name"]: m for m in json.loads(result.stdout)}
    assert models["minilm"]["kind"] == "encoder" and models["minilm"]["available_offline"]
    assert models["smollm2-135m"]["kind"] == "decoder" and models["smollm2-135m"]["available_offline"]


def test_methods_lists_the_registry_with_options(tlcore_cli):
    result = tlcore_cli("methods", "--json")
    methods = {m["name"]: m for m in json.loads(result.stdout)}
    assert {"zero-shot", "few-shot", "lora"} <= set(methods)
    assert methods["lora"]["trains"] and not methods["zero-shot"]["trains"]
    options = {o["name"]: o for o in methods["few-shot"]["options"]}
    assert options["shots"]["default"] == 0 and options["shots"]["help"]  # 0: auto (every row on an encoder)


@pytest.mark.parametrize("args, message", [
    (("run", "--train", "missing.csv", "--model", "minilm", "--method", "lora"), "does not exist"),
    (("run", "--train", "{sms}", "--model", "bert-huge", "--method", "lora"), "unknown model 'bert-huge'"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "lorax"), "unknown method 'lorax'"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "zero-shot", "--epochs", "3"),
     "--epochs does not apply to method 'zero-shot'"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "lora", "--epochs", "-1"),
     "expected a whole number from 1 to"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "lora", "--lr", "fast"), "expected a number"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "lora", "--label-column", "category"),
     "no label column 'category'"),
    (("run", "--train", "{sms}", "--model", "https://example.com/model", "--method", "lora"), "looks like a URL"),
    (("run", "--train", "{sms}", "--model", "minilm", "--method", "few-shot", "--shots", "500"),
     "shots must be at most 64"),
    (("run", "--model", "minilm"), "required"),
    (("frobnicate",), "invalid choice"),
])
def test_bad_input_exits_2_with_one_error_line(args, message, sms_path, runs_dir, tlcore_cli):
    result = tlcore_cli(*[a.replace("{sms}", str(sms_path)) for a in args], "--runs-dir", str(runs_dir)) \
        if args[0] == "run" else tlcore_cli(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir()), "a refused run must not leave a folder"


def test_run_json_has_the_contract_keys(sms_path, runs_dir, tlcore_cli):
    result = tlcore_cli("run", "--train", str(sms_path), "--model", "minilm", "--method", "few-shot", "--shots", "4",
                    "--test-size", "40", "--runs-dir", str(runs_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(RESULT_KEYS) <= set(payload)
    assert payload["n_test"] == 40 and payload["labels"] == ["ham", "spam"]
    assert payload["accuracy"] > 0.5
    run = runs_dir / payload["run_id"]
    for name in ("config.json", "status.json", "metrics.json", "predictions.csv", "artifacts/method_state.json"):
        assert (run / name).exists(), name
    assert json.loads((run / "status.json").read_text())["status"] == "succeeded"


def test_compare_runs_every_method_on_one_split(sms_path, runs_dir, tlcore_cli):
    result = tlcore_cli("compare", "--train", str(sms_path), "--model", "minilm", "--methods",
                        "zero-shot,few-shot,lora", "--per-class", "8", "--epochs", "1", "--test-size", "40",
                        "--runs-dir", str(runs_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [r["method"] for r in payload] == ["zero-shot", "few-shot", "lora"]
    assert len({r["test_fingerprint"] for r in payload}) == 1
    assert payload[2]["trainable_params"] < payload[2]["total_params"] / 10
    listed = json.loads(tlcore_cli("runs", "--runs-dir", str(runs_dir), "--json").stdout)
    assert sorted(r["method"] for r in listed) == ["few-shot", "lora", "zero-shot"]
    assert all(r["status"] == "succeeded" for r in listed)


def test_compare_refuses_a_bad_method_before_running_anything(sms_path, runs_dir, tlcore_cli):
    result = tlcore_cli("compare", "--train", str(sms_path), "--model", "minilm", "--methods", "zero-shot,nope",
                    "--runs-dir", str(runs_dir))
    assert result.returncode == 2 and "unknown method 'nope'" in result.stderr
    assert not runs_dir.exists()


def test_a_downloaded_run_config_reruns_from_the_cli(sms_path, runs_dir, tmp_path, tlcore_cli):
    first = json.loads(tlcore_cli("run", "--train", str(sms_path), "--model", "minilm", "--method", "few-shot",
                              "--shots", "3", "--test-size", "30", "--split-seed", "5", "--runs-dir", str(runs_dir),
                              "--json").stdout)
    import tlcore as lib

    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(lib.RunStore(runs_dir).get(first["run_id"]).config_yaml())
    again = tlcore_cli("run", "--config", str(yaml_file), "--train", str(sms_path), "--runs-dir", str(runs_dir),
                       "--json")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["method"] == "few-shot" and second["n_test"] == 30
    assert second["test_fingerprint"] == first["test_fingerprint"]  # same split seed and size
    assert second["accuracy"] == first["accuracy"]  # same shots (seeded): the same result


def test_missing_required_flags_without_config_is_one_error_line(tlcore_cli):
    result = tlcore_cli("run", "--train", "x.csv")
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: the following arguments are required: --model, --method "
                                      "(or give them in --config FILE)")


def test_own_test_and_validation_files_are_used_as_given(runs_dir, tmp_path, tlcore_cli):
    import tlcore as lib

    frame = lib.load_sample("yelp")
    frame.iloc[:600].rename(columns={"text": "review", "label": "stars"}).to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[600:640].rename(columns={"text": "review", "label": "stars"}).to_csv(tmp_path / "val.csv", index=False)
    frame.iloc[640:700].rename(columns={"text": "review", "label": "stars"}).to_csv(tmp_path / "test.csv", index=False)
    result = tlcore_cli("run", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
                    "--val", str(tmp_path / "val.csv"), "--model", "minilm", "--method", "few-shot", "--per-class", "8",
                    "--runs-dir", str(runs_dir), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["n_test"] == 60 and payload["n_val"] == 40 and payload["n_train"] == 16
    config = lib.RunStore(runs_dir).get(payload["run_id"]).config()
    assert (config["text_column"], config["label_column"]) == ("review", "stars")  # guessed, then recorded
    assert config["split"]["separate_val_file"] and config["split"]["separate_test_file"]
    assert (config["test_name"], config["val_name"]) == ("test.csv", "val.csv")
    assert "test: test.csv" in lib.RunStore(runs_dir).get(payload["run_id"]).config_yaml()
