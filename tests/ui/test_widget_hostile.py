"""Hostile values in every free-text and number widget of every page (AppTest, no browser).

The widget half of "bad input everywhere" (the CLI half is tests/test_hostile_input.py): empty, blank, a
200,000-character string, injection-looking text (a script tag, a template, a path, a spreadsheet formula),
emoji with right-to-left and zero-width characters, a NUL byte; negative, huge and non-finite numbers. Each
page must stay up (no exception, no traceback) and name what is wrong where the value cannot be used.

Numbers: Streamlit itself refuses a number outside the widget's bounds (or a non-finite float) and puts the
widget back to its default; the tests check that, and that every page's bounds are the ones its runs need.
User text shown in messages is markdown without HTML (Streamlit escapes it): the tests check that no element
that shows a script tag allows HTML, so it is shown as text and never run.
"""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402
from tlcore.runs import learning_curve as lc  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::tlcore.data.reading.DataWarning")

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 60
SCRIPT = "<script>alert(1)</script>"
FORMULA = "=cmd|' /C calc'!A0"
UNICODE = "😀 مرحبا بالعالم \u200b\u200f\u202e end"
HOSTILE = {"empty": "", "blank": "  \t\n ", "huge": "x" * 200_000, "script": SCRIPT, "template": "{{7*7}}",
           "traversal": "../../etc/passwd", "formula": FORMULA, "unicode": UNICODE, "nul": "a\x00b"}
TEXTS = list(HOSTILE.values())
IDS = list(HOSTILE)
INSTRUCTION = "train_opt::zero-shot::instruction"
CHANNEL_PROMPT = "train_opt::zero-shot::channel_prompt"
DESCRIPTIONS = "train_opt::zero-shot::label_descriptions"


def assert_page_stays_up(at: AppTest) -> None:
    assert not at.exception, [e.value[:300] for e in at.exception]
    kinds = ("error", "warning", "info", "markdown", "caption")
    shown = "\n".join(str(element.value) for kind in kinds for element in at.get(kind))
    assert "Traceback" not in shown


def assert_shown_as_text(at: AppTest, needle: str = SCRIPT) -> list[str]:
    """The markdown elements (markdown, captions) that show ``needle``: all without HTML. Returns their texts."""
    showing = [m for m in [*at.markdown, *at.caption] if needle in m.value]
    assert all(not m.proto.allow_html for m in showing), "user text must never be rendered as HTML"
    return [m.value for m in showing]


def page(path: str, runs_dir: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(path).run()
    assert_page_stays_up(at)
    return at


@pytest.fixture(scope="module")
def shared() -> dict[str, tuple[AppTest, dict]]:
    """Pages shared by the tests of one page, with the starting values of the widgets the tests type in."""
    return {}


def shared_page(shared: dict, path: str, runs_dir: Path, monkeypatch, widgets: tuple[str, ...], name: str = "",
                **state) -> AppTest:
    """One AppTest of ``path`` (and ``name``, for a second one in another state) for all the tests of that page (a
    fresh one per test would double the module's time), with ``widgets`` (text and number inputs, by key) put back
    to their starting values for each test."""
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
    if path + name not in shared:
        at = page(path, runs_dir, monkeypatch, **state)
        shared[path + name] = at, {key: at.session_state[key] for key in widgets}
        return at
    at, start = shared[path + name]
    for key, value in start.items():
        at.session_state[key] = value  # applied by the test's own next run
    return at


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """One zero-shot MiniLM run on 8 test rows of the Yelp sample (no training), and its id."""
    root = tmp_path_factory.mktemp("hostile-runs")
    data = tlcore.to_labeled(tlcore.load_sample("yelp"), "text", "label")
    config = tlcore.RunConfig(model="minilm", method="zero-shot", method_options={"max_length": 32}, per_class=4,
                              test_size=8, data_name="yelp_reviews.csv")
    run = tlcore.create_run(config, data, store=tlcore.RunStore(root))
    tlcore.execute(run)
    return root, run.id


# -- Data page ---------------------------------------------------------------------------------------------
def upload(at: AppTest, name: str, raw: bytes) -> AppTest:
    at.radio(key="data_w_source").set_value("Upload a file").run()
    at.file_uploader[0].upload(name, raw, "text/csv").run()
    assert_page_stays_up(at)
    return at


def test_data_page_cells_with_hostile_text_are_read_and_shown_as_text(tmp_path, monkeypatch, texts):
    labels = [SCRIPT, "{{7*7}}", FORMULA]
    cells = [v for v in TEXTS if "\x00" not in v]  # a NUL byte makes the file binary: next test
    rows = [{"text": f"{cells[i % len(cells)]} review {i}", "label": labels[i % 3]} for i in range(24)]
    raw = pd.DataFrame(rows).to_csv(index=False).encode()
    at = upload(page(tlui.DATA_PAGE, tmp_path, monkeypatch), "reviews.csv", raw)
    assert any(str(e.label).startswith("Preview of") for e in at.expander)
    assert "were longer than 20,000 characters and were cut" in texts(at.warning)  # the 200,000-character cell
    assert {metric.label: metric.value for metric in at.metric}["Classes"] == "3"
    shown = assert_shown_as_text(at)
    assert any(f"majority class {SCRIPT!r}" in text for text in shown), "the label is shown as it is, as text"
    frame = at.session_state[tlui.DATA_FRAME]
    assert set(frame["label"]) == set(labels) and frame["text"].str.contains("{{7*7}}", regex=False).any()

    at.switch_page(tlui.TRAIN_PAGE).run()  # the labels reach the Train page's split line, as text
    assert_page_stays_up(at)
    assert any("training rows (" in text for text in assert_shown_as_text(at))


def test_data_page_nul_byte_in_a_cell_is_a_binary_file_error(tmp_path, monkeypatch, texts):
    at = upload(page(tlui.DATA_PAGE, tmp_path, monkeypatch), "nul.csv", b"text,label\na\x00b,pos\nok,neg\n")
    assert "looks like a binary file" in texts(at.error)
    assert at.session_state[tlui.DATA_FRAME] is None


def test_data_page_hostile_column_names_and_file_name(tmp_path, monkeypatch, texts):
    frame = pd.DataFrame({SCRIPT: ["good food here", "bad food there", "great place", "awful place"] * 3,
                          "{{7*7}}": ["pos", "neg", "pos", "neg"] * 3, FORMULA: range(12)})
    at = upload(page(tlui.DATA_PAGE, tmp_path, monkeypatch), "../../etc/passwd.csv", frame.to_csv(index=False).encode())
    name = "../../etc/passwd.csv"
    text_box = at.selectbox(key=f"data_w_text::{name}")
    assert text_box.options == [SCRIPT, "{{7*7}}", FORMULA] and text_box.value == SCRIPT
    assert at.selectbox(key=f"data_w_label::{name}").value == "{{7*7}}"
    assert any(f"text in `{SCRIPT}`" in text for text in assert_shown_as_text(at))
    assert at.session_state[tlui.DATA_NAME] == name  # a name only: nothing is read or written at that path

    at.selectbox(key=f"data_w_label::{name}").set_value(FORMULA).run()  # every row its own class
    assert_page_stays_up(at)
    assert "12 classes have a single row" in texts(at.error)
    assert any("cannot be used" in str(link.value) for link in at.main.get("page_link"))


# -- Train page --------------------------------------------------------------------------------------------
SEED = "train_opt::zero-shot::seed"
NUMBERS = [  # (widget key, what is typed, the value the widget holds after it)
    (tlui.TRAIN_W_TEST_SIZE, -5.0, 0.01), (tlui.TRAIN_W_TEST_SIZE, 1e300, 0.01),
    (tlui.TRAIN_W_TEST_SIZE, float("nan"), 0.01), (tlui.TRAIN_W_TEST_SIZE, float("inf"), 0.01),
    (tlui.TRAIN_W_VAL_SIZE, -0.5, 0.0), (tlui.TRAIN_W_VAL_SIZE, 0.95, 0.0), (tlui.TRAIN_W_VAL_SIZE, float("nan"), 0.0),
    (tlui.TRAIN_W_SPLIT_SEED, -5, 0), (tlui.TRAIN_W_PER_CLASS, -5, 1), (tlui.TRAIN_W_PER_CLASS, 0, 1),
    (SEED, -5, 0), (SEED, 2**40, 0),  # numpy refuses a negative seed; the CLI's range is 0 to 2**32 - 1
    ("train_opt::zero-shot::temperature", 0.0, 0.0001), ("train_opt::zero-shot::temperature", float("-inf"), 0.0001),
    ("train_opt::zero-shot::max_length", -5, 8), ("train_opt::zero-shot::max_length", 10**9, 8),
]


@pytest.fixture
def train(shared, tmp_path, monkeypatch, finished, yelp_state) -> AppTest:  # after ``finished``: it imports torch
    """The Train page with MiniLM (the default model)."""
    widgets = (DESCRIPTIONS, *dict.fromkeys(key for key, _, _ in NUMBERS))
    return shared_page(shared, tlui.TRAIN_PAGE, tmp_path / "runs", monkeypatch, widgets, **yelp_state())


@pytest.fixture
def train_decoder(shared, tmp_path, monkeypatch, finished, yelp_state) -> AppTest:
    """The Train page with SmolLM2, whose zero-shot has the prompt options (an encoder's has not)."""
    return shared_page(shared, tlui.TRAIN_PAGE, tmp_path / "runs", monkeypatch, (INSTRUCTION, CHANNEL_PROMPT),
                       name="decoder", **yelp_state(), **{tlui.TRAIN_W_MODEL: "smollm2-135m"})


@pytest.mark.parametrize("value", [*TEXTS, "[" * 100_000, "[1, 2]", "9" * 5000],
                         ids=[*IDS, "deep-nesting", "a-list", "5000-digit-number"])
def test_train_label_descriptions_json(value, train, texts, start_button):
    train.text_area(key=DESCRIPTIONS).set_value(value).run()
    assert_page_stays_up(train)
    errors = texts(train.error)
    if not value.strip():
        assert not errors and not start_button(train).disabled  # empty: no descriptions
        return
    wanted = "expected a JSON object" if value == "[1, 2]" else "not valid JSON"
    assert f"Label descriptions (JSON): {wanted}" in errors
    assert start_button(train).disabled and "Fix the settings above first." in texts(train.caption)


@pytest.mark.parametrize("value", TEXTS, ids=IDS)
def test_train_instruction_must_name_the_labels(value, train_decoder, texts, start_button):
    train = train_decoder
    train.text_area(key=INSTRUCTION).set_value(value).run()
    assert_page_stays_up(train)
    assert "zero-shot: the instruction must contain {labels}" in texts(train.error)
    assert start_button(train).disabled  # (AppTest, like a browser, cannot click a disabled button)

    train.text_area(key=INSTRUCTION).set_value(value + " {labels}").run()  # with the placeholder it is fine
    assert_page_stays_up(train)
    assert not train.error and not start_button(train).disabled


@pytest.mark.parametrize("key, typed, held", NUMBERS, ids=[f"{k.split(':')[-1]}={t}" for k, t, _ in NUMBERS])
def test_train_numbers_outside_their_range_are_put_back(key, typed, held, train, texts):
    if train.number_input(key=key).disabled:  # rows per class: off while "Use all training rows" (the default) is on
        train.checkbox(key=tlui.TRAIN_W_USE_ALL).uncheck().run()
    train.number_input(key=key).set_value(typed).run()
    assert_page_stays_up(train)
    assert train.number_input(key=key).value == held  # Streamlit resets an out-of-range value
    assert not train.error and "Split:" in texts(train.caption)  # the split can be made: the page works on


# -- Use page ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", TEXTS, ids=IDS)
def test_use_playground_text(value, finished, monkeypatch, texts):
    root, run_id = finished
    at = page(tlui.USE_PAGE, root, monkeypatch)
    assert at.multiselect(key=tlui.USE_W_RUNS).value == [run_id]
    at.text_area(key=tlui.USE_W_TEXT).set_value(value).run()
    assert_page_stays_up(at)
    assert not at.error
    predicted = [m.value for m in at.markdown if m.value.startswith("#### ")]
    if not value.strip():
        assert not predicted and "Type a text to see what each run predicts" in texts(at.caption)
    else:
        assert predicted in (["#### negative"], ["#### positive"]) and len(at.get("plotly_chart")) == 1


IMPORT_PATHS = {**HOSTILE, "url": "https://example.com/export.zip", "device": "/dev/zero", "folder": "/proc/self"}


@pytest.mark.parametrize("value", IMPORT_PATHS.values(), ids=IMPORT_PATHS.keys())
def test_use_import_path(value, finished, tmp_path, monkeypatch, texts):
    root = tmp_path / "runs"
    shutil.copytree(finished[0], root)
    at = page(tlui.USE_PAGE, root, monkeypatch, **{tlui.USE_W_TAB: "Export & import"})
    at.text_input(key=tlui.USE_W_IMPORT_PATH).set_value(value).run()
    at.button(key="use_import_path").click().run()
    assert_page_stays_up(at)
    error = texts(at.error)
    if not value.strip():
        assert error == "Type the path of an export folder or .zip file first."
    else:
        expected = {"huge": "File name too long", "traversal": "passwd", "device": "not a regular file or folder",
                    "folder": "symbolic link"}
        key = next(k for k, v in IMPORT_PATHS.items() if v == value)
        assert error.startswith("Not imported: ") and expected.get(key, "does not exist") in error
    assert [s.id for s in tlcore.RunStore(root).summaries()] == [finished[1]], "nothing was imported"


def test_use_batch_file_with_hostile_cells(finished, monkeypatch, texts):
    root, _ = finished
    at = page(tlui.USE_PAGE, root, monkeypatch, **{tlui.USE_W_TAB: "Batch prediction"})
    cells = [v for v in TEXTS if "\x00" not in v]
    raw = pd.DataFrame({"id": range(len(cells)), "text": cells}).to_csv(index=False).encode()
    at.file_uploader(key=tlui.USE_W_UPLOAD).set_value(("hostile.csv", raw, "text/csv"))
    at.run()
    at.button(key="use_predict").click().run()
    assert_page_stays_up(at)
    result = at.session_state[tlui.USE_BATCH]
    assert result["frame"]["id"].astype(int).tolist() == list(range(len(cells))), "every row comes back, in order"
    assert f"{len(cells) - 2} of {len(cells)} rows scored" in texts(at.warning)  # empty and blank: no text
    written = pd.read_csv(io.BytesIO(result["csv"]), dtype=str, keep_default_na=False)
    assert written.loc[cells.index(FORMULA), "text"] == "'" + FORMULA, "formula cells are neutralised"


# -- Runs page: stored values a user typed elsewhere (file name, labels) ----------------------------------------
def test_runs_page_shows_a_hostile_data_name_as_text(finished, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    shutil.copytree(finished[0], root)
    config_path = root / finished[1] / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "data_name": SCRIPT + UNICODE}))
    at = page(tlui.RUNS_PAGE, root, monkeypatch, runs_w_open=finished[1])
    assert any(text.startswith("#### zero-shot · minilm on <script>") for text in assert_shown_as_text(at))
    assert at.dataframe[0].value["Data"].tolist() == [SCRIPT + UNICODE]


# -- Compare page ------------------------------------------------------------------------------------------
@pytest.fixture
def compare(shared, finished, monkeypatch, yelp_state) -> AppTest:
    widgets = ("compare_w_search", "compare_w_lc_sizes", "compare_w_lc_seeds", "compare_checks_tab")
    return shared_page(shared, tlui.COMPARE_PAGE, finished[0], monkeypatch, widgets, **yelp_state())


@pytest.mark.parametrize("value", TEXTS, ids=IDS)
def test_compare_text_search(value, compare, texts):
    compare.text_input(key="compare_w_search").set_value(value).run()
    assert_page_stays_up(compare)
    assert not compare.error
    shown = "**8** of 8" if value == "" else "**0** of 8"  # nothing else matches: no regex, no template
    assert f"{shown} test examples" in texts(compare.caption)


@pytest.mark.parametrize("value", [*TEXTS, "-3"], ids=[*IDS, "negative"])
def test_compare_learning_curve_sizes(value, compare, texts):
    compare.text_input(key="compare_w_lc_sizes").set_value(value).run()
    assert_page_stays_up(compare)
    wanted = ("no sizes given" if not value.strip() else "a size must be at least 1" if value == "-3"
              else "sizes must be whole numbers of examples per class or 'all'")
    assert wanted in texts(compare.error)
    assert not any(b.label.startswith("Start learning curve") for b in compare.button)


@pytest.mark.parametrize("value", TEXTS, ids=IDS)
def test_compare_probe_term_pairs(value, compare, texts):
    compare.session_state["compare_checks_tab"] = "Counterfactual probe"
    compare.run()
    compare.text_area(key="compare_checks_probe_pairs").set_value(value).run()
    assert_page_stays_up(compare)
    wanted = "no term pairs given" if not value.strip() else "term"
    assert wanted in texts(compare.error)
    assert not any(b.key == "compare_checks_probe_go" for b in compare.button), "nothing to run"

    compare.text_area(key="compare_checks_probe_pairs").set_value(f"he:she\nman:{value}").run()
    assert_page_stays_up(compare)
    if value.strip() == "x" * 200_000:  # one long word is a word: the probe may run
        assert not compare.error
    else:
        assert "man:" in texts(compare.error)


@pytest.mark.parametrize("key, typed, held", [("compare_w_lc_seeds", 0, 3), ("compare_w_lc_seeds", 10**6, 3)],
                         ids=["seeds=0", "seeds=1e6"])
def test_compare_numbers_outside_their_range_are_put_back(key, typed, held, compare):
    compare.number_input(key=key).set_value(typed).run()
    assert_page_stays_up(compare)
    assert compare.number_input(key=key).value == held
    sizes = lc.parse_sizes(compare.text_input(key="compare_w_lc_sizes").value)
    assert f"Start learning curve ({len(sizes) * 3} runs)" in [b.label for b in compare.button]  # 3 seeds each


# -- the password box --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", TEXTS, ids=IDS)
def test_password_box(value, tmp_path, monkeypatch, texts):
    monkeypatch.setenv("TRANSFERLAB_PASSWORD", "s3cret ünïcode")
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.text_input(key="auth_password").set_value(value)
    at.button[0].click().run()
    assert_page_stays_up(at)
    assert texts(at.error) == "That password is not right. Ask whoever runs this TransferLab for it."
    assert not at.sidebar.get("page_link"), "nothing of the app is shown"


def test_a_hostile_password_itself_works(tmp_path, monkeypatch, texts):
    password = "a\x00b " + SCRIPT + " {{7*7}} " + UNICODE  # a NUL byte cannot be in the environment: secrets
    monkeypatch.delenv("TRANSFERLAB_PASSWORD", raising=False)
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["transferlab"] = {"password": password}
    at.run()
    at.text_input(key="auth_password").set_value(password[:-1])
    at.button[0].click().run()
    assert "not right" in texts(at.error)
    at.text_input(key="auth_password").set_value(password)
    at.button[0].click().run()
    assert_page_stays_up(at)
    assert not at.error and at.title[0].value == "TransferLab"


@pytest.mark.parametrize("value", ["{labels} {0}", "{labels} {name}", "{labels} {"], ids=["index", "name", "open"])
def test_train_instruction_with_other_braces_is_refused_before_start(value, train_decoder, texts, start_button):
    train = train_decoder
    train.text_area(key=INSTRUCTION).set_value(value).run()
    assert_page_stays_up(train)
    assert "may use only {labels} in braces" in texts(train.error)
    assert start_button(train).disabled


@pytest.mark.parametrize("value, message", [
    ("<script>alert(1)</script>", "the channel prompt must contain {label}"),
    ("Write {label} {0}", "the channel prompt may use only {label} in braces"),
    ("Write {label} {", "the channel prompt may use only {label} in braces")],
    ids=["script", "index", "open"])
def test_train_channel_prompt_is_checked_before_start(value, message, train_decoder, texts, start_button):
    train = train_decoder
    train.text_input(key=CHANNEL_PROMPT).set_value(value).run()
    assert_page_stays_up(train)
    assert f"zero-shot: {message}" in texts(train.error) and start_button(train).disabled
    train.text_input(key=CHANNEL_PROMPT).set_value("This message is {label}:").run()
    assert not train.error and not start_button(train).disabled
