"""The committed reference run (docs/reference, shown by the README) is what this code and the
default config give: its ledger is re-judged from its own tables with the current checks, its
config is the current default, and every figure the README shows is in it.

A run of the default config takes minutes; compare one with the reference by hand:
``ols-transformer compare docs/reference results/<version> --check``."""

from __future__ import annotations

import re

import pandas as pd
import yaml
from conftest import REPO

from ols_transformer import claims, reference
from ols_transformer.io import read_table

REFERENCE = REPO / "docs" / "reference"


def test_the_reference_ledger_is_what_the_current_checks_say_of_its_tables() -> None:
    tables = {name: read_table(path) for name in claims.LEDGER_TABLES
              if (path := REFERENCE / "tables" / f"{name}.csv").is_file()}
    assert set(tables) == set(claims.LEDGER_TABLES), "the reference lacks a ledger table"
    config = yaml.safe_load((REFERENCE / "config.resolved.yaml").read_text())
    ledger = claims.build_ledger(tables, claims.criteria_from_config(config))
    committed = read_table(REFERENCE / "claims" / "claims.csv")
    # Round-tripped through CSV like the committed one, so both sides read the same digits.
    columns = ["claim_id", "kind", "verdict", "measured", "threshold"]
    pd.testing.assert_frame_equal(ledger[columns].reset_index(drop=True),
                                  committed[columns].reset_index(drop=True), check_dtype=False)
    assert (committed["verdict"] != "MISSING").all(), "the reference is a run of every stage"


def test_the_reference_config_is_the_current_default() -> None:
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    reference = yaml.safe_load((REFERENCE / "config.resolved.yaml").read_text())
    assert reference == default, "config/config.yaml changed: regenerate docs/reference (README)"


def test_the_readme_shows_figures_of_the_reference() -> None:
    shown = re.findall(r"\]\((docs/reference/[^)]+\.png)\)", (REPO / "README.md").read_text())
    assert len(shown) >= 6
    for path in shown:
        assert (REPO / path).is_file(), path


def test_the_readme_links_the_ledger_page_the_current_code_writes_of_the_tables() -> None:
    """claims.md, the page the README links, is the ledger the current checks make of the
    reference's own tables and config, rendered as the claims stage renders it: every claim,
    verdict, number, criterion and detail (a page left from an older run or code differs)."""
    assert "](docs/reference/claims/claims.md)" in (REPO / "README.md").read_text()
    tables = {name: read_table(REFERENCE / "tables" / f"{name}.csv")
              for name in claims.LEDGER_TABLES}
    config = yaml.safe_load((REFERENCE / "config.resolved.yaml").read_text())
    ledger = claims.build_ledger(tables, claims.criteria_from_config(config))
    page = (REFERENCE / "claims" / "claims.md").read_text()
    assert page == claims.to_markdown(ledger)


def test_the_readme_ledger_table_is_the_reference_ledger() -> None:
    ledger = read_table(REFERENCE / "claims" / "claims.csv")
    assert reference.ledger_table(ledger) in (REPO / "README.md").read_text()
