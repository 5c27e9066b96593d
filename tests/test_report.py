"""The Snakemake report: every caption file filled in and valid RST, and `snakemake --report`
on the quick run embedding every figure, the ledger and the notebooks, each with its caption."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd
import pytest
from conftest import QUICK, REPO, run_snakemake
from docutils.core import publish_parts
from docutils.writers import get_writer_class

from ols_transformer import stages

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
                           params={"kernel": "ols-transformer"})
    for name in sorted(captions | {"workflow.rst"}):
        text = (REPO / "workflow" / "report" / name).read_text()
        assert len(text.split()) >= 20 and "TODO" not in text, name
        rendered = jinja2.Template(text, undefined=jinja2.StrictUndefined).render(snakemake=fake)
        # report_level 2: warnings (e.g. an undefined |substitution|) raise here
        publish_parts(rendered, writer=get_writer_class("html")(),
                      settings_overrides={"report_level": 2, "halt_level": 2})


@pytest.mark.workflow
def test_report_embeds_every_result_with_its_caption(quick_run: Path, tmp_path: Path) -> None:
    workdir = quick_run.parents[1]
    report = tmp_path / "report.html"
    result = run_snakemake(workdir, "--report", str(report), "--configfile", str(QUICK))
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text()
    results = report_data(html, "results", "results")
    # Reported files live in their stage's directory, results/stages/<stage>/<key>/<path>; the
    # version directory holds a copy of each under <path>.
    # The one exception: the run's cost table (timings of this run), in the version directory.
    cost = f"results/{quick_run.name}/cost/cost.csv"
    assert cost in results and len(results[cost]["caption"]) > 100
    assert decode(results.pop(cost)["data_uri"]) == (quick_run / "cost" / "cost.csv").read_bytes()
    reported = {str(Path(*Path(path).parts[4:])): entry for path, entry in results.items()}
    assert all(Path(path).parts[:2] == ("results", "stages") for path in results)

    figures = {f"figures/{p.name}" for p in (quick_run / "figures").glob("*.png")}
    notebooks = {f"notebooks/{p.name}" for p in (quick_run / "notebooks").glob("*.html")}
    assert figures and notebooks
    assert figures | notebooks | {"claims/claims.csv", "claims/claims.md"} <= set(reported)
    for path, entry in reported.items():
        assert len(entry["caption"]) > 100, f"{path} has no caption"
        # what the report embeds is the version's file, byte for byte
        assert entry["labels"] and set(entry["labels"]) == {"stage", "kind", "name"}, path
        assert decode(entry["data_uri"]) == (quick_run / path).read_bytes(), path

    ledger = pd.read_csv(quick_run / "claims" / "claims.csv")
    embedded = decode(reported["claims/claims.csv"]["data_uri"]).decode()
    assert all(claim in embedded for claim in ledger.claim_id)
    assert "training" in reported["notebooks/training.html"]["caption"]
    assert "quick" in report_data(html, "workflow-desc", "workflow_desc")
