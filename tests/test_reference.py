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
    columns = ["claim_id", "kind", "verdict", "estimate", "ci_low", "ci_high", "threshold"]
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


# ---- the twin: the reference's config with other seeds ----------------------------------------

TWIN = REPO / reference.TWIN


def _ledger(verdicts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"claim_id": c, "kind": "paper", "estimate": 1.0, "ci_low": 0.5,
                          "ci_high": 1.5, "verdict": v} for c, v in verdicts.items()])


def test_seed_differences_name_each_row_and_judge_whether_it_may_differ() -> None:
    a = _ledger({"x.same": "PASS", "x.open": "PASS", "x.flip": "PASS", "x.cond": "PASS",
                 "x.only_a": "FAIL", "x.own_draws": "PASS"})
    b = _ledger({"x.same": "PASS", "x.open": "INCONCLUSIVE", "x.flip": "FAIL",
                 "x.cond": "CONDITIONAL", "x.only_b": "INCONCLUSIVE", "x.own_draws": "REPORTED"})
    found = reference.seed_differences(a, b).set_index("claim_id")
    assert list(found.index) == ["x.open", "x.flip", "x.cond", "x.only_a", "x.own_draws",
                                 "x.only_b"]
    assert found.loc["x.own_draws", "problem"] == ""  # judged under one seed set only
    assert found.loc["x.open", "problem"] == ""  # INCONCLUSIVE on one side: allowed
    assert found.loc["x.only_b", "problem"] == ""
    assert found.loc["x.flip", "problem"] == "PASS <-> FAIL"
    assert found.loc["x.cond", "problem"] == "neither side INCONCLUSIVE"
    assert found.loc["x.only_a", ["verdict_a", "verdict_b"]].tolist() == ["FAIL", "MISSING"]
    text = reference.seeds_section(a, b, ("ref", "twin"))
    assert "1 of 7 verdicts are the same; 6 differ, 3 of them not as allowed" in text
    assert "| `x.flip` | paper | PASS (1 [0.5, 1.5]) | FAIL (1 [0.5, 1.5]) | no: PASS <-> FAIL |" \
        in text


def test_the_seeds_section_is_rewritten_between_its_markers(tmp_path) -> None:
    page = tmp_path / "results.md"
    start, end = reference.SEEDS_SECTION
    page.write_text(f"# r\n\nbefore\n{start}\nold text\n{end}\nafter\n")
    a, b = _ledger({"x.a": "PASS"}), _ledger({"x.a": "INCONCLUSIVE"})
    reference.update_seeds_section(page, a, b, ("ref", "twin"))
    text = page.read_text()
    assert "old text" not in text and text.startswith("# r\n\nbefore\n") and \
        text.endswith(f"{end}\nafter\n")
    assert "0 of 1 verdicts are the same; 1 differ, each INCONCLUSIVE" in text


def _seed_paths(config: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key of a config whose name says it is a seed (seed, seeds, *_seed)."""
    if not isinstance(config, dict):
        return []
    found = []
    for key, value in config.items():
        if key == "seed" or key == "seeds" or key.endswith("_seed"):
            found.append((*path, key))
        found += _seed_paths(value, (*path, key))
    return found


def test_other_seeds_changes_every_seed_of_the_default_config() -> None:
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    other = yaml.safe_load((REPO / "config" / "other_seeds.yaml").read_text())

    seeds = _seed_paths(default)
    assert ("attention_regression", "base_seed") in seeds and ("icl", "seeds") in seeds
    unchanged = [".".join(p) for p in seeds
                 if at_path(other, p) in (None, at_path(default, p))]
    assert not unchanged, f"config/other_seeds.yaml leaves these seeds as they are: {unchanged}"
    # ... and changes nothing else: every key it sets is a seed (or the run's name)
    extra = [".".join(p) for p in _leaf_paths(other)
             if p != ("run_name",) and p not in seeds]
    assert not extra, f"config/other_seeds.yaml changes more than seeds: {extra}"


def _leaf_paths(config: dict, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for key, value in config.items():
        out += _leaf_paths(value, (*path, key)) if isinstance(value, dict) else [(*path, key)]
    return out


def test_the_committed_ledgers_agree_across_seeds_where_they_must() -> None:
    """The reference and its twin (docs/reference-seeds, the same config with other seeds):
    each row whose verdict differs is named; none moves between PASS and FAIL, and each is
    INCONCLUSIVE under one of the two seed sets."""
    if not (TWIN / "claims" / "claims.csv").is_file():
        import pytest
        pytest.skip("docs/reference-seeds is not made yet: ols-transformer reference "
                    "<the other_seeds version> --twin")
    a = read_table(REFERENCE / "claims" / "claims.csv")
    b = read_table(TWIN / "claims" / "claims.csv")
    differ = reference.seed_differences(a, b)
    named = "; ".join(f"{r.claim_id}: {r.verdict_a} -> {r.verdict_b}"
                      + (f" ({r.problem})" if r.problem else "") for r in differ.itertuples())
    print(f"rows whose verdict differs across seeds: {named or 'none'}")
    bad = differ[differ["problem"] != ""]
    assert bad.empty, f"verdicts that differ across seeds as they must not: {named}"
    twin = yaml.safe_load((TWIN / "config.resolved.yaml").read_text())
    ref = yaml.safe_load((REFERENCE / "config.resolved.yaml").read_text())
    assert [p for p in _leaf_paths(twin) if p[-1] not in ("run_name",)
            and at_path(twin, p) != at_path(ref, p)
            and p not in _seed_paths(ref)] == [], "the twin differs from the reference beyond seeds"
    section = reference.seeds_section(a, b, ("docs/reference", reference.TWIN))
    assert section in (REPO / "docs" / "results.md").read_text(), \
        "docs/results.md's verdicts across seeds is not written from these two ledgers"


def at_path(config: dict, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config
