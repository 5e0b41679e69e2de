"""Fixtures shared by the test folders: small slices of real datasets, a fresh runs folder per test, the real
command line, finished runs that several folders use, and the helpers that drive the app's pages in AppTest.

Test modules never import each other (nor a helper module): what two folders share is a fixture here, what
two modules of one folder share is a fixture in that folder's conftest.py. A helper fixture returns a
function and is session-scoped, so that fixtures of any scope can use it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# The tests run where nothing outside can be reached, as CI does: no library may even try the Hugging Face Hub.
# (Importing tlcore sets nothing; its CLI and workers set this for themselves.)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The app's warm worker server (tlcore.runs.warm_server) would start a torch process per page test: off, except in
# the tests of the server itself (tests/runs/test_warm_server.py).
os.environ.setdefault("TLCORE_WARM_WORKER", "0")
# Vectors kept on disk between runs (tlcore.engine.embedding_store) would let one test's encoding answer another's:
# off, except in the store's own tests (tests/engine/test_embedding_store.py).
os.environ.setdefault("TLCORE_EMBEDDING_CACHE", "0")

import tlcore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
APP = str(ROOT / "app.py")
APP_TIMEOUT = 60  # seconds per script run of a page; the machine may be busy
CHROMIUM = os.environ.get("TL_CHROMIUM", "/usr/bin/chromium")


# -- data and runs folders ------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def yelp() -> tlcore.data.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("yelp"), "text", "label")


@pytest.fixture(scope="session")
def sms() -> tlcore.data.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")


@pytest.fixture(scope="session")
def tiny_split(yelp) -> tlcore.data.Split:
    """8 training rows (4 per class), 4 validation rows, 12 test rows of real Yelp review sentences."""
    return tlcore.make_split(yelp, test_size=12, val_size=4, per_class=4)


def _shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset {path} is not present")
    return path


@pytest.fixture(scope="session")
def shared_dataset():
    """``shared_dataset("trec", "trec_train.csv")``: a file of ../shared/datasets; skips the test when it is absent."""
    return _shared_dataset


@pytest.fixture(scope="session")
def trec_path() -> Path:
    return _shared_dataset("trec", "trec_train.csv")


@pytest.fixture(scope="session")
def sms_path() -> Path:
    return ROOT / "tlcore" / "data" / "bundled" / "sms_spam_sample.csv"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (TL_CHROMIUM overrides the path); tests skip when it is not there."""
    return CHROMIUM


# -- the real command line and waiting on workers ---------------------------------------------------------------
@pytest.fixture(scope="session")
def tlcore_cli():
    """``tlcore_cli("runs", "--json", timeout=600)``: `python -m tlcore.cli ...` as a user runs it."""
    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tlcore.cli", *args], capture_output=True, text=True,
                              timeout=timeout)
    return run


# Runs first in the fresh interpreter: importing tlcore there fails, so an export cannot lean on it.
_BLOCK_TLCORE = '''
import sys
class _NoTLCore:
    def find_spec(self, name, path=None, target=None):
        if name == "tlcore" or name.startswith("tlcore."):
            raise ImportError("the export must load without tlcore")
        return None
sys.meta_path.insert(0, _NoTLCore())
'''


@pytest.fixture(scope="session")
def fresh_python():
    """``fresh_python(program, cwd)``: run ``program`` in a new interpreter, offline and with tlcore blocked (what
    an export's user has); it prints one JSON line last, returned parsed."""
    def run(program: str, cwd: Path) -> dict | list:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        env.pop("PYTHONPATH", None)
        result = subprocess.run([sys.executable, "-c", _BLOCK_TLCORE + program], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])
    return run


@pytest.fixture(scope="session")
def wait_for():
    """``wait_for(predicate, timeout=240)``: the predicate's first true value, polled; fails after ``timeout`` s."""
    def wait(predicate, timeout: float = 240, interval: float = 0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError("timed out waiting")
    return wait


# -- finished runs that several folders share ---------------------------------------------------------------
MADE_RUNS_TEST_ROWS = 40  # the one test split of make_runs' comparable runs


@pytest.fixture(scope="session")
def make_runs(yelp):
    """``make_runs(root, other_test_set=True)``: finished runs in ``root``: zero-shot, few-shot and linear-probe on
    one 40-row test split of the bundled Yelp sample, and (made first, so older) a zero-shot run on another split
    of 30 rows. Returns {name: run id}. ``make_runs.test_rows`` is the size of that one test split."""
    def make(root: Path, other_test_set: bool = True) -> dict[str, str]:
        store = tlcore.RunStore(root)
        plans = [("other", "zero-shot", {}, 30)] if other_test_set else []
        plans += [("zero-shot", "zero-shot", {}, MADE_RUNS_TEST_ROWS),
                  ("few-shot", "few-shot", {"shots": 4}, MADE_RUNS_TEST_ROWS),
                  ("linear-probe", "linear-probe", {}, MADE_RUNS_TEST_ROWS)]
        ids = {}
        for name, method, options, test_size in plans:
            config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=8,
                                      test_size=test_size, data_name="yelp_reviews.csv")
            run = tlcore.create_run(config, yelp, store=store)
            tlcore.execute(run)
            ids[name] = run.id
            if name == "other":
                time.sleep(1.1)  # run ids start with a one-second timestamp: the other test set is the older one
        return ids
    make.test_rows = MADE_RUNS_TEST_ROWS
    return make


CHECKS_TEST_SIZE = 60


@pytest.fixture(scope="session")
def probe_texts(shared_dataset) -> list[str]:
    """30 IMDb sentences that contain a default counterfactual term and 10 that contain none."""
    from tlcore.compare import checks

    terms = {term.casefold() for pair in checks.DEFAULT_PAIRS for term in pair}
    texts = pd.read_csv(shared_dataset("uci_sentiment_labelled", "imdb_all.csv"), dtype=str)["text"].tolist()
    has = [t for t in texts if terms & {w.casefold() for w in re.findall(r"\w+", t)}]
    lacks = [t for t in texts if not terms & {w.casefold() for w in re.findall(r"\w+", t)}]
    return has[:30] + lacks[:10]


@pytest.fixture(scope="session")
def checks_runs(tmp_path_factory, shared_dataset, probe_texts) -> dict:
    """Once per session, for the checks' library, command-line and page tests: a review file (Yelp, plus some
    Amazon rows, with a `domain` column), three finished runs on it (linear probe, zero-shot and a 2-epoch LoRA on
    MiniLM, all on the same 60-row test split), an IMDb test file with differently spelled labels, and a probe
    file. {method: run id, "root": folder, "test_size": 60}."""
    def domain(name: str, per_class: int, seed: int = 0) -> pd.DataFrame:
        frame = pd.read_csv(shared_dataset("uci_sentiment_labelled", f"{name}_all.csv"), dtype=str,
                            keep_default_na=False)
        return pd.concat([rows.sample(n=per_class, random_state=seed) for _, rows in frame.groupby("label")])

    root = tmp_path_factory.mktemp("checks-runs")
    yelp, amazon = domain("yelp", 80).assign(domain="yelp"), domain("amazon", 20).assign(domain="amazon")
    mixed = pd.concat([yelp, amazon]).sample(frac=1.0, random_state=0)[["text", "label", "domain"]]
    mixed.to_csv(root / "reviews_mixed.csv", index=False)
    imdb = domain("imdb", 40, seed=1)
    imdb.assign(label=imdb["label"].str.capitalize()).to_csv(root / "imdb_small.csv", index=False)
    pd.DataFrame({"review": probe_texts}).to_csv(root / "probe.csv", index=False)
    store = tlcore.RunStore(root / "runs")
    data = tlcore.to_labeled(mixed, "text", "label")
    ids = {}
    for method, options, per_class in (("linear-probe", {}, 40), ("zero-shot", {}, 40),
                                       ("lora", {"epochs": 2, "max_length": 48}, 8)):
        config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=per_class,
                                  test_size=CHECKS_TEST_SIZE, data_name="reviews_mixed.csv")
        run = tlcore.create_run(config, data, store=store)
        tlcore.execute(run)
        ids[method] = run.id
    return {**ids, "root": root, "test_size": CHECKS_TEST_SIZE}


@pytest.fixture(scope="session")
def checks_run(checks_runs):
    """``checks_run("linear-probe")``: that run of ``checks_runs``."""
    def get(method: str) -> tlcore.Run:
        return tlcore.RunStore(checks_runs["root"] / "runs").get(checks_runs[method])
    return get


# -- pages in AppTest (the page tests, and the runs tests that look at a run the way the app shows it) -----------
@pytest.fixture(scope="session")
def open_app():
    """``open_app(runs_dir, monkeypatch, page=None, timeout=60, **state)``: the app run once with ``state`` in its
    session, then switched to ``page`` (a path like tlui.DATA_PAGE); fails on any exception."""
    from streamlit.testing.v1 import AppTest

    def open_(runs_dir: Path, monkeypatch, page: str | None = None, timeout: float = APP_TIMEOUT,
              **state) -> AppTest:
        monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
        at = AppTest.from_file(APP, default_timeout=timeout)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        assert not at.exception, at.exception
        if page:
            at.switch_page(page).run()
            assert not at.exception, at.exception
        return at
    return open_


@pytest.fixture(scope="session")
def new_app():
    """``new_app(timeout=60)``: an AppTest of the app, not run yet (for tests that set secrets or switch first)."""
    from streamlit.testing.v1 import AppTest

    def new(timeout: float = APP_TIMEOUT) -> AppTest:
        return AppTest.from_file(APP, default_timeout=timeout)
    return new


@pytest.fixture(scope="session")
def texts():
    """``texts(at.info)``: the values of Streamlit elements (markdown, captions, alerts) as one string."""
    def join(elements) -> str:
        return "\n".join(str(element.value) for element in elements)
    return join


@pytest.fixture(scope="session")
def runs_page(open_app):
    """``runs_page(runs_dir, monkeypatch, **state)``: the Runs page, opened in a fresh session."""
    import tlui

    def open_(runs_dir: Path, monkeypatch, **state):
        return open_app(runs_dir, monkeypatch, tlui.RUNS_PAGE, **state)
    return open_


@pytest.fixture(scope="session")
def runs_table():
    """``runs_table(at)``: the Runs page's table of runs (a DataFrame)."""
    def table(at) -> pd.DataFrame:
        return at.dataframe[0].value
    return table


@pytest.fixture(scope="session")
def chart_specs():
    """``chart_specs(at)``: the plotly figures the page draws, as dicts."""
    def specs(at) -> list[dict]:
        return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return specs


@pytest.fixture(scope="session")
def train_points():
    """``train_points(loss_figure)``: the steps of the raw training-loss trace."""
    def points(spec: dict) -> list:
        return next(trace["x"] for trace in spec["data"] if trace.get("name") == "train loss")
    return points


# --- tiny sentence-transformers encoder (issue 19) ---
@pytest.fixture(scope="session")
def tiny_st_encoder(tmp_path_factory) -> Path:
    """A random 2-layer BERT (hidden 32) saved as a sentence-transformers folder that pools the CLS token,
    L2-normalises, and has "query: " as its default prompt; built at test time (~1 s after the imports), nothing
    downloaded. Its WordPiece vocabulary holds letters, digits and punctuation, so any English text tokenizes."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Normalize, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    root = tmp_path_factory.mktemp("tiny-st-encoder")
    body, folder = root / "body", root / "model"
    body.mkdir()
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789") + list(".,!?'\":;-()&/$%")
    words = ["query", "good", "bad", "the", "food", "service", "great", "not"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *(f"##{c}" for c in chars), *words]
    (body / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(body / "vocab.txt"), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(body)  # safetensors
    tokenizer.save_pretrained(body)
    transformer = Transformer(str(body), max_seq_length=64)
    model = SentenceTransformer(modules=[transformer, Pooling(32, pooling_mode="cls"), Normalize()],
                                prompts={"query": "query: "}, default_prompt_name="query", device="cpu")
    model.save(str(folder))
    return folder


# --- tiny decoders with chat templates (issue 19) ---
# Random 2-layer decoders of two families, each with a small byte-level BPE tokenizer trained on real review
# sentences and the family's own chat-template layout, saved as safetensors folders (seconds to build). The
# Llama-style tokenizer adds a BOS token by itself and its template writes one too, as Llama 3's do; the
# Qwen2-style one has no BOS and a default system turn, as Qwen2.5's do.
LLAMA3_TEMPLATE = (
    "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}")
QWEN2_TEMPLATE = (
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


def _tiny_tokenizer(texts: list[str], specials: list[str], bos: str | None, eos: str, pad: str, template: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if bos:  # the tokenizer puts BOS before every text it encodes with special tokens
        backend.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                               special_tokens=[(bos, backend.token_to_id(bos))])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=bos, eos_token=eos, pad_token=pad)
    tokenizer.chat_template = template
    return tokenizer


def _tiny_decoder(folder: Path, config_cls, tokenizer) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    config = config_cls(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        pad_token_id=None, tie_word_embeddings=True)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)  # safetensors
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama_folder(tmp_path_factory, yelp) -> Path:
    """A random Llama-style decoder folder with a Llama-3-style chat template (BOS written by the template)."""
    from transformers import LlamaConfig

    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tokenizer = _tiny_tokenizer(yelp.texts, specials, bos="<|begin_of_text|>", eos="<|eot_id|>",
                                pad="<|end_of_text|>", template=LLAMA3_TEMPLATE)
    return _tiny_decoder(tmp_path_factory.mktemp("tiny-llama"), LlamaConfig, tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen2_folder(tmp_path_factory, yelp) -> Path:
    """A random Qwen2-style decoder folder with a ChatML template (<|im_start|> ... <|im_end|>) and no BOS token."""
    from transformers import Qwen2Config

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokenizer = _tiny_tokenizer(yelp.texts, specials, bos=None, eos="<|im_end|>", pad="<|endoftext|>",
                                template=QWEN2_TEMPLATE)
    return _tiny_decoder(tmp_path_factory.mktemp("tiny-qwen2"), Qwen2Config, tokenizer)


@pytest.fixture(scope="session")
def tiny_decoder_folders(tiny_llama_folder, tiny_qwen2_folder) -> dict[str, Path]:
    """{"llama": folder, "qwen2": folder}: both tiny decoders."""
    return {"llama": tiny_llama_folder, "qwen2": tiny_qwen2_folder}


# --- the tiny models in a temporary Hugging Face cache, by Hub id (issue 19) ---
def _place_in_hub_cache(folder: Path, hub_id: str, cache: Path) -> Path:
    """Lay ``folder`` out as huggingface_hub's cache does (blobs by hash, a snapshot of links, refs/main), as if
    `hf download hub_id` had put it there; return the snapshot folder."""
    import hashlib
    import os

    repo = cache / f"models--{hub_id.replace('/', '--')}"
    commit = hashlib.sha1(hub_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / file.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


TINY_HUB_IDS = {"encoder": "tiny-org/st-cls-encoder", "llama": "tiny-org/llama-chat", "qwen2": "tiny-org/qwen2-chat"}


@pytest.fixture(scope="session")
def tiny_hub_cache(tmp_path_factory, tiny_st_encoder, tiny_llama_folder, tiny_qwen2_folder) -> Path:
    """A Hugging Face cache folder holding the three tiny models under the ids of TINY_HUB_IDS; the Llama-style
    one's model card names a license (MIT)."""
    cache = tmp_path_factory.mktemp("hf-cache")
    folders = {"encoder": tiny_st_encoder, "llama": tiny_llama_folder, "qwen2": tiny_qwen2_folder}
    for key, hub_id in TINY_HUB_IDS.items():
        _place_in_hub_cache(folders[key], hub_id, cache)
    card = cache / f"models--{TINY_HUB_IDS['llama'].replace('/', '--')}"
    snapshot = next((card / "snapshots").iterdir())
    (snapshot / "README.md").write_text("---\nlicense: mit\nlanguage: en\n---\n# tiny llama\n")
    return cache


@pytest.fixture
def hub_models(tiny_hub_cache, monkeypatch) -> dict[str, str]:
    """TINY_HUB_IDS, resolvable in this test: HF_HUB_CACHE points at the tiny cache, and the Hub's address at a
    closed local port, so any attempt to reach the network fails at once."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tiny_hub_cache))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # child processes
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # this one: huggingface_hub read it at import
    return dict(TINY_HUB_IDS)
