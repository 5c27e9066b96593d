"""The Snakemake report: every caption file filled in and valid RST, the landing text's lists
drawn from the registry, each table as an HTML page, and `snakemake --report` on the quick run
embedding every figure, table, the ledger and the notebooks, each with its caption, every
category rendering in a headless Chromium (Playwright) without a page error."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd
import pytest
from conftest import QUICK, REPO, run_snakemake
from docutils.core import publish_parts
from docutils.writers import get_writer_class

from ols_transformer import report, stages
from ols_transformer.checks import VERDICTS
from ols_transformer.io import read_table

CAPTION = re.compile(r"caption=\"\.\./report/([\w.]+\.rst)\"")


def report_data(html: str, script_id: str, name: str) -> object:
    """The JSON value of ``var <name> = ...`` in the report's <script id="<script_id>">."""
    start = html.index(f"var {name} = ", html.index(f'<script id="{script_id}">'))
    value, _ = json.JSONDecoder().raw_decode(html, start + len(f"var {name} = "))
    return value


def decode(data_uri: str) -> bytes:
    return base64.b64decode(data_uri.split("base64,", 1)[1])


def test_every_caption_is_written_and_renders() -> None:
    rules = sorted((REPO / "workflow" / "rules").glob("*.smk"))
    captions = {name for path in rules for name in CAPTION.findall(path.read_text())}
    # the stages' outputs name theirs in the registry
    captions |= {f"{output.caption}.rst" for stage in stages.STAGES.values()
                 for output in stage.outputs if output.caption}
    assert {"claims.rst", "notebook.rst", "fig1a.rst", "proof_figure.rst"} <= captions
    fake = SimpleNamespace(config={"run_name": "quick"}, wildcards={"stage": "proof"},
                           params={"kernel": "ols-transformer", "stage": "proof"})
    for name in sorted(captions | {"workflow.rst"}):
        text = (REPO / "workflow" / "report" / name).read_text()
        assert len(text.split()) >= 20 and "TODO" not in text, name
        rendered = jinja2.Template(text, undefined=jinja2.StrictUndefined).render(snakemake=fake)
        # report_level 2: warnings (e.g. an undefined |substitution|) raise here
        publish_parts(rendered, writer=get_writer_class("html")(),
                      settings_overrides={"report_level": 2, "halt_level": 2})


class Cells(HTMLParser):
    """The rows of an HTML page's tables, each a list of its cells' texts (header included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_rows(page: str) -> list[list[str]]:
    parser = Cells()
    parser.feed(page)
    return parser.rows


def test_table_page_shows_every_cell_escaped() -> None:
    table = pd.DataFrame({"claim": ["a <b> & c", math.nan], "value": [1 / 3, math.nan],
                          "count": [3, 12345678]})
    page = report.table_html(table, "t", "tables/t.csv")
    assert "<b>" not in page.split("<body>")[1]  # the text, not markup
    assert html_rows(page) == [["claim", "value", "count"], ["a <b> & c", "0.333333", "3"],
                               ["", "NaN", "12345678"]]  # a missing text is empty


def test_a_long_table_page_shows_its_first_rows_within_the_limit() -> None:
    table = pd.DataFrame({"x": range(5000), "y": [1 / (i + 1) for i in range(5000)]})
    whole = report.table_html(table, "t", "tables/t.csv")
    assert len(html_rows(whole)) == 5001
    cut = report.table_html(table, "t", "tables/t.csv", max_bytes=len(whole.encode()) // 3)
    assert len(cut.encode()) <= len(whole.encode()) // 3
    rows = html_rows(cut)
    assert 1000 < len(rows) - 1 < 5000 / 3 and f"the first {len(rows) - 1} of 5000 rows" in cut
    assert rows[1:] == html_rows(whole)[1:len(rows)]  # the first rows, as in the whole page


def generated_blocks_removed(text: str) -> str:
    return re.sub(r"^\.\. (\w+): start$.*?^\.\. \1: end$", "", text, flags=re.S | re.M)


def test_landing_text_lists_every_category_and_verdict_from_the_registry() -> None:
    assert report.main(["--check", "--root", str(REPO)]) == 0, "python -m ols_transformer.report"
    landing = (REPO / "workflow" / "report" / "workflow.rst").read_text()
    numbered = [stages.category(title) for title in stages.REPORT_CATEGORIES]
    assert numbered[0] == "0. Claims ledger" and len(set(numbered)) == len(numbered)
    assert all(f'"{name}"' in landing for name in numbered)
    assert stages.STAGES["attention_regression"].category in landing  # the second paper's
    assert all(f"``{verdict}``" in landing for verdict in VERDICTS)
    claims_caption = (REPO / "workflow" / "report" / "claims.rst").read_text()
    assert all(f"``{verdict}``" in claims_caption for verdict in VERDICTS)
    # no category number written by hand: not in the texts, nor in a rule
    assert not re.search(r'"\d+\. ', generated_blocks_removed(landing))
    rules = "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    assert not re.search(r'category="', rules)
    # every stage's category is the registry's
    assert {spec.category for spec in stages.STAGES.values()} <= set(numbered)


def test_landing_text_check_fails_where_a_list_is_stale(tmp_path: Path) -> None:
    folder = tmp_path / "workflow" / "report"
    folder.mkdir(parents=True)
    for name in report.FILES:
        shutil.copy(REPO / "workflow" / "report" / name, folder / name)
    landing = folder / "workflow.rst"
    landing.write_text(landing.read_text().replace("``INCONCLUSIVE``", "``UNDECIDED``"))
    assert report.main(["--check", "--root", str(tmp_path)]) == 1
    assert report.main(["--root", str(tmp_path)]) == 0  # rewrites it
    assert "``INCONCLUSIVE``" in landing.read_text()
    assert report.main(["--check", "--root", str(tmp_path)]) == 0


def toggle_labels(entries: list[dict]) -> list[str]:
    """Snakemake's report rule (abstract_results.js, getData): a label other than the first
    becomes a toggle where it takes exactly two values, each on half the entries."""
    labels = list(dict.fromkeys(key for entry in entries for key in entry["labels"]))
    toggles = []
    for label in labels[1:]:
        values = [e["labels"][label] for e in entries if label in e["labels"]]
        if len(set(values)) == 2 and all(values.count(v) * 2 == len(entries) for v in values):
            toggles.append(label)
    return toggles


@pytest.fixture(scope="module")
def report_file(quick_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`snakemake --report` of the quick run, made once for this module's tests."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = run_snakemake(quick_run.parents[1], "--report", str(path), "--configfile",
                           str(QUICK))
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.mark.workflow
def test_report_embeds_every_result_with_its_caption(quick_run: Path, report_file: Path) -> None:
    html = report_file.read_text()
    results = report_data(html, "results", "results")
    # Reported files live in their stage's directory, results/stages/<stage>/<key>/<path>; the
    # version directory holds a copy of each under <path>. Written for the version alone: the
    # run's cost table (timings of this run) and the tables' HTML pages (report/).
    version = f"results/{quick_run.name}"
    own = {path: results.pop(path) for path in list(results) if path.startswith(version)}
    cost = f"{version}/cost/cost.csv"
    assert decode(own[cost]["data_uri"]) == (quick_run / "cost" / "cost.csv").read_bytes()
    pages = {Path(path).stem: entry for path, entry in own.items()
             if Path(path).parent.name == "report"}
    assert set(own) == {cost, *(f"{version}/report/{name}.html" for name in pages)}
    reported = {str(Path(*Path(path).parts[4:])): entry for path, entry in results.items()}
    assert all(Path(path).parts[:2] == ("results", "stages") for path in results)

    figures = {f"figures/{p.name}" for p in (quick_run / "figures").glob("*.png")}
    notebooks = {f"notebooks/{p.name}" for p in (quick_run / "notebooks").glob("*.html")}
    assert figures and notebooks
    assert figures | notebooks | {"claims/claims.csv", "claims/claims.md"} <= set(reported)
    for path, entry in reported.items():
        assert len(entry["caption"]) > 100, f"{path} has no caption"
        # one label, the file's name: two entries never share it (claims.csv and claims.md did)
        assert entry["labels"] == {"file": Path(path).name}, path
        # what the report embeds is the version's file, byte for byte
        assert decode(entry["data_uri"]) == (quick_run / path).read_bytes(), path

    # every CSV it shows is also an HTML page of its cells, in the same category
    everything = {**results, **own}
    categories = report_data(html, "categories", "categories")
    category_of = {path: name for name, subs in categories.items() for paths in subs.values()
                   for path in paths}
    csvs = {Path(path).stem: (quick_run / Path(*Path(path).parts[4:]), path)
            for path in results if path.endswith(".csv")}
    csvs["cost"] = (quick_run / "cost" / "cost.csv", cost)
    assert set(pages) == set(csvs)
    for name, (csv, shown) in csvs.items():
        page_path = f"{version}/report/{name}.html"
        page = everything[page_path]
        assert page["mime_type"] == "text/html", name
        assert page["caption"] == everything[shown]["caption"], name
        assert category_of[page_path] == category_of[shown], name
        rows = html_rows(decode(page["data_uri"]).decode())
        table = read_table(csv)
        assert rows[0] == list(table.columns), name
        assert len(rows) == len(table) + 1 or "the first" in decode(page["data_uri"]).decode()
        numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
        for row, values in zip(rows[1:], table.itertuples(index=False), strict=False):
            for cell, value, number in zip(row, values, numeric, strict=True):
                if not number and pd.isna(value):
                    assert cell == "", (name, cell)
                elif isinstance(value, float):
                    assert (cell == "NaN") if math.isnan(value) else math.isclose(
                        float(cell), value, rel_tol=1e-5, abs_tol=1e-300), (name, cell, value)
                else:
                    assert cell == str(value), (name, cell, value)

    # Chromium opens no data URL over 2 MB: the report's iframe would stay blank
    for path, entry in everything.items():
        assert len(entry["data_uri"]) < 2 * 1024 * 1024 or entry["mime_type"] not in (
            "text/html", "application/pdf"), path

    # the ledger first; every category the registry's; none with a toggle
    assert sorted(categories)[0] == stages.category("Claims ledger")
    assert set(categories) <= {stages.category(title) for title in stages.REPORT_CATEGORIES}
    for name, subcategories in categories.items():
        for paths in subcategories.values():
            assert not toggle_labels([everything[p] for p in paths]), name

    ledger = pd.read_csv(quick_run / "claims" / "claims.csv")
    embedded = decode(reported["claims/claims.csv"]["data_uri"]).decode()
    assert all(claim in embedded for claim in ledger.claim_id)
    assert "training" in reported["notebooks/training.html"]["caption"]
    assert "quick" in report_data(html, "workflow-desc", "workflow_desc")


def test_toggle_rule_as_snakemake_applies_it() -> None:
    """The stand-in of Snakemake's rule: shift's 2 tables and 2 figures made `kind` a toggle."""
    def entry(kind: str, name: str) -> dict:
        return {"labels": {"stage": "shift", "kind": kind, "name": name}}
    shift = [entry("table", "a"), entry("table", "b"), entry("figure", "c"), entry("figure", "d")]
    assert toggle_labels(shift) == ["kind"]
    assert toggle_labels(shift[:3]) == []
    assert toggle_labels([{"labels": {"file": "a.csv"}}, {"labels": {"file": "b.csv"}}]) == []


def chromium() -> str | None:
    """The system's Chromium (Debian's package), which Playwright drives: no browser download."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


@pytest.mark.workflow
def test_every_category_renders_in_a_browser(report_file: Path) -> None:
    """Headless Chromium opens the report, clicks every category and views every figure, table
    page and notebook in it: no page error, no empty category, no empty view."""
    browser_path = chromium()
    if browser_path is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium): the report is "
                    "not opened in a browser")
    from playwright.sync_api import sync_playwright

    html = report_file.read_text()
    results = report_data(html, "results", "results")
    categories = report_data(html, "categories", "categories")
    errors: list[str] = []
    with sync_playwright() as playwright:
        # no sandbox: CI runs as root, where Chromium's sandbox refuses to start
        browser = playwright.chromium.launch(executable_path=browser_path,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.on("console", lambda message: errors.append(f"console: {message.text}")
                if message.type == "error" else None)
        page.goto(report_file.as_uri())
        page.get_by_text("Workflow", exact=True).first.wait_for()
        assert "quick" in page.inner_text("body")  # the landing text
        for name in sorted(categories):
            paths = [p for paths in categories[name].values() for p in paths]
            # back to the list of categories (the breadcrumb link "Results"), then this one
            back = page.get_by_role("link", name="Results", exact=True)
            if back.count():
                back.first.click()
            page.get_by_text(name, exact=True).click()
            rows = page.locator("tbody tr")
            rows.first.wait_for(timeout=10_000)
            assert rows.count() == len(paths), name
            assert not errors, f"{name}: {errors}"
            for index in range(rows.count()):
                row = rows.nth(index)
                file = row.locator("td").first.inner_text().strip()
                (path,) = [p for p in paths if results[p]["labels"]["file"] == file]
                mime = results[path]["mime_type"]
                if mime == "image/png":
                    row.locator("a").first.click()
                    image = page.locator("img[src^='data:image/png']")
                    image.wait_for(timeout=10_000)
                    assert image.evaluate("i => i.complete && i.naturalWidth > 0"), path
                elif mime == "text/html":
                    row.locator("a").first.click()
                    # the view's frame shows this entry (not the one viewed before it)
                    frame = page.locator(f"iframe[src='{results[path]['data_uri']}']")
                    frame.wait_for(timeout=10_000)
                    body = frame.content_frame.locator("body")
                    body.wait_for(timeout=10_000)
                    text = body.inner_text(timeout=30_000).strip()
                    assert len(text) > 20, (path, text)
                assert not errors, f"{name}, {file}: {errors}"
        browser.close()
