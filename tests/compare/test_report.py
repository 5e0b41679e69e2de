"""The HTML report (tlcore.compare.report, built by the Compare page's tlui.compare_view.report_html): self-contained,
escaped, the page's numbers, and it opens offline in a real browser."""
from __future__ import annotations

import dataclasses
from html.parser import HTMLParser
from pathlib import Path

import pytest

import tlcore
from tlcore.compare import comparison as cmp
from tlcore.runs import learning_curve as lc

pytest.importorskip("streamlit")
from tlui import compare_view as cv  # noqa: E402

URL_ATTRIBUTES = {"src", "href", "action", "data", "poster", "srcset", "xlink:href", "formaction", "background"}


class Tags(HTMLParser):
    """Every tag with its attributes, and the text of each table cell, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, make_runs, yelp) -> tuple[tlcore.RunStore, cmp.Comparison, str]:
    """Zero-shot, few-shot and linear-probe runs on one split, plus a 2-seed linear-probe curve on the same rows."""
    root = tmp_path_factory.mktemp("runs")
    store = tlcore.RunStore(root)
    ids = make_runs(root, other_test_set=False)
    curve = lc.curve_like(store.get(ids["linear-probe"]), yelp, "linear-probe", "minilm", [4], [0, 1], store)
    lc.execute_curve(curve, stop_on_error=True)
    comparison = tlcore.load_comparison(list(ids.values()), store)
    return store, comparison, curve[0].config()["group"]


@pytest.fixture(scope="module")
def report(setup) -> str:
    store, comparison, group = setup
    curve, curve_table = cv.curve_for_report(group, store, comparison.test_fingerprint)
    return cv.report_html(comparison, cv.reliabilities(comparison), curve, curve_table)


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def test_report_loads_nothing_from_outside(report):
    tags = parsed(report)
    urls = [(tag, name, value) for tag, attrs in tags.tags for name, value in attrs.items()
            if name in URL_ATTRIBUTES and value]
    assert not [u for u in urls if u[2].strip().lower().startswith(("http:", "https:", "//", "ftp:"))], urls
    assert not [tag for tag, attrs in tags.tags if tag in ("link", "iframe", "img", "object", "embed")]
    assert not [attrs for tag, attrs in tags.tags if tag == "script" and attrs.get("src")]
    assert "@import" not in report and "url(" not in report.split("<body>")[0]  # the stylesheet fetches nothing


def test_plotly_js_is_inlined_once_and_every_figure_drawn(report):
    scripts = report.count("plotly.js v")  # the bundle's banner comment
    assert scripts == 1
    # Two confusion grids, per-class F1, reliability, learning curve.
    assert report.count("Plotly.newPlot(") == 5
    assert len(report) < 8_000_000


def test_report_shows_the_tables_the_page_shows(setup, report):
    store, comparison, group = setup
    rel = cv.reliabilities(comparison)
    rows = parsed(report).rows
    shown = cmp.format_table(cmp.metrics_table(comparison, {k: r.ece for k, r in rel.items()}), cmp.METRIC_FORMATS)
    header = list(shown.columns)
    assert header in rows
    start = rows.index(header)
    assert rows[start + 1:start + 1 + len(shown)] == shown.values.tolist()  # the run rows and the majority row
    run = comparison.runs[0]
    assert [run.name, f"{run.metrics['accuracy']:.1%}", f"{run.metrics['macro_f1']:.3f}", f"{rel[run.id].ece:.3f}"] \
        == rows[start + 1][:4]
    per_class = cmp.format_table(cmp.per_class_table(comparison), default=cmp.PER_CLASS_FORMAT)
    start = rows.index(list(per_class.columns))
    assert rows[start + 1:start + 1 + len(per_class)] == per_class.values.tolist()
    facts = {row[0]: row[1] for row in rows if len(row) == 2}
    assert facts["test rows"] == str(comparison.n_test) and facts["data"] == "yelp_reviews.csv"
    counts = {label: comparison.gold.count(label) for label in comparison.labels}
    assert facts["test rows per class"] == ", ".join(f"{k}: {v}" for k, v in counts.items())
    summary = lc.curve_summary(lc.curve_points(lc.curve_groups(store)[group]))
    assert ["4", "8", "2", f"{summary[0]['mean']:.3f}", f"{summary[0]['std']:.3f}"] == [
        row for row in rows if row and row[0] == "4"][0][:5]


def test_report_holds_each_runs_settings(setup, report):
    _, comparison, _ = setup
    for run in comparison.runs:
        assert run.id in report and f"method: {run.method}" in report
    assert "tlcore run --config" in report


def test_report_carries_the_transfer_checks_and_compute_footprint(setup, report):
    _, comparison, _ = setup
    assert "Does it transfer, and is it fair?" in report and "How these are estimated" in report
    footprint = [row for row in parsed(report).rows if len(row) == 9 and row[-1].endswith(" g")]
    assert sorted(row[0] for row in footprint) == sorted(run.method for run in comparison.runs)
    for row in footprint:  # accuracy as on the page
        run = next(r for r in comparison.runs if r.method == row[0])
        assert row[2] == f"{100 * run.metrics['accuracy']:.1f} %"


def test_user_text_is_escaped(setup):
    _, comparison, _ = setup
    hostile = '<img src=x onerror=alert(1)>"quoted".csv'
    renamed = dataclasses.replace(comparison, info={**comparison.info, "data_name": hostile})
    import pandas as pd

    html = tlcore.build_report(renamed, title="<b>title</b>", notes=["<script>alert(2)</script>"],
                               sections=[("<i>table</i>", pd.DataFrame({"<th>": ["<td>&"]}))])
    assert "<img src=x" not in html and "<script>alert" not in html and "<b>title" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&quot;quoted&quot;.csv" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "&lt;td&gt;&amp;" in html
    assert "Plotly.newPlot(" not in html  # no figures given: no plotly at all


def test_report_opens_offline_in_a_browser(report, tmp_path, chromium):
    """Chromium with the network switched off: every chart is drawn and nothing is requested from outside."""
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium}")
    sync_api = pytest.importorskip("playwright.sync_api")
    path = tmp_path / "report.html"
    path.write_text(report, encoding="utf-8")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            requested, errors = [], []
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(path.as_uri())
            sync_api.expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible(timeout=60_000)
            assert page.locator(".js-plotly-plot").count() == 5
            assert page.locator(".js-plotly-plot .heatmaplayer").count() >= 2
            assert not errors
            assert [url for url in requested if not url.startswith("file:")] == []
        finally:
            browser.close()
