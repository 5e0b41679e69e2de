"""Hostile and malformed values for every CLI flag: each is refused with one `error:` line and exit 2.

In-process (tlcore.cli.main) so that dozens of cases take about a second: none of them may get as far as
loading a model, and none may print a traceback or create a run folder.
"""
from __future__ import annotations

import pytest

from tlcore import cli

HOSTILE = ["", "   ", "-5", "abc", "nan", "inf", "-inf", "1e309", "9" * 400, "<script>alert(1)</script>",
           "{{7*7}}", "../../etc/passwd", "=cmd|' /C calc'!A0", "ünïcødé 🚀", "0x10", "1,5"]
NUMERIC_FLAGS = ["--per-class", "--test-size", "--shots", "--epochs", "--lr", "--batch-size", "--max-length",
                 "--seed", "--split-seed"]


@pytest.fixture
def sample_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    rows = [f"great product number {i},positive" if i % 2 else f"broken item number {i},negative" for i in range(40)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    return path


def assert_refused(argv: list[str], capsys, runs_dir) -> str:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (argv, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
    assert "Traceback" not in err + out
    assert not runs_dir.exists() or not any(runs_dir.iterdir()), "a refused command must not create a run"
    return lines[0]


@pytest.mark.parametrize("flag", NUMERIC_FLAGS)
@pytest.mark.parametrize("value", HOSTILE)
def test_numeric_flags_refuse_hostile_values(flag, value, sample_csv, capsys, runs_dir):
    argv = ["run", "--train", str(sample_csv), "--model", "minilm", "--method", "lora", flag, value]
    message = assert_refused(argv, capsys, runs_dir)
    assert flag in message or "argument" in message or value.strip() in message, message


@pytest.mark.parametrize("flag,value,expected", [
    ("--model", "<script>alert(1)</script>", "model"),
    ("--model", "https://huggingface.co/evil/model", "URL"),
    ("--model", "../../etc/passwd", "passwd"),
    ("--model", "/dev/zero", "folder"),
    ("--model", "", "model"),
    ("--method", "{{7*7}}", "method"),
    ("--method", "", "method"),
    ("--train", "../../etc/passwd", "passwd"),
    ("--train", "", "train"),
    ("--train", "=cmd|' /C calc'!A0", "cmd"),
    ("--text-column", "<script>", "column"),
    ("--label-column", "../../etc/passwd", "column"),
    ("--label-description", "{{7*7}}", "LABEL=TEXT"),
    ("--device", "rm -rf /", "device"),
])
def test_other_flags_refuse_hostile_values(flag, value, expected, sample_csv, capsys, runs_dir):
    argv = ["run", "--train", str(sample_csv), "--model", "minilm", "--method", "zero-shot"]
    argv = [a for a in argv]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    message = assert_refused(argv, capsys, runs_dir)
    assert expected.lower() in message.lower(), message


@pytest.mark.parametrize("argv", [
    ["predict", "--run", "../../etc", "--input", "x.csv", "--output", "y.csv"],
    ["predict", "--run", "<script>", "--input", "x.csv", "--output", "y.csv"],
    ["export", "--run", "{{7*7}}", "--to", "out"],
    ["export", "--run", "/dev/null", "--to", "out"],
    ["runs", "--runs-dir", "/dev/null"],
    ["validate", "/dev/zero"],
    ["validate", "ünïcødé-missing.csv"],
    ["compare", "--train", "x.csv", "--model", "minilm", "--methods", ",,,"],
])
def test_run_and_file_arguments_refuse_hostile_values(argv, capsys, runs_dir):
    assert_refused(argv, capsys, runs_dir)


def test_local_model_folder_with_only_pickle_weights_is_refused(sample_csv, tmp_path, capsys, runs_dir):
    folder = tmp_path / "downloaded-model"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "bert", "architectures": ["BertModel"]}')
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")  # a pickle: loading it could run code
    argv = ["run", "--train", str(sample_csv), "--model", str(folder), "--method", "zero-shot"]
    message = assert_refused(argv, capsys, runs_dir)
    assert "safetensors" in message and "pickle" in message and "pytorch_model.bin" in message


def test_remote_code_is_never_trusted():
    """No model or tokenizer load may opt into running code shipped with a model folder."""
    from pathlib import Path

    import tlcore

    sources = Path(tlcore.__file__).parent.rglob("*.py")
    offenders = [str(p) for p in sources if "trust_remote_code=True" in p.read_text(encoding="utf-8")]
    assert not offenders, offenders
