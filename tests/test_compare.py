"""`ols-transformer compare`: two real result versions that differ by one config value, checked
against pandas; and rows matched by their ids when the row counts differ."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SECOND_CHANGE, merged_config

from ols_transformer.claims import CLAIMS, ROUNDING_ESTIMATES
from ols_transformer.compare import claim_changes, compare_tables, compare_versions
from ols_transformer.io import read_table
from ols_transformer.reference import snapshot

QUICK_TRAINING = merged_config()["training"]


@pytest.fixture(scope="module")
def other_version(second_version: Path) -> Path:
    """The quick config with training.learning_rate doubled, up to the training stage."""
    assert SECOND_CHANGE["training"]["learning_rate"] == 2 * QUICK_TRAINING["learning_rate"]
    return second_version


def numeric_diff(a: pd.DataFrame, b: pd.DataFrame, column: str) -> tuple[float, float]:
    """max |A - B| and the largest relative difference of a row, |A - B| / |A|."""
    diff = (a[column] - b[column]).abs()
    both = a[column].notna() & b[column].notna()
    rel = (diff / a[column].abs())[both & (diff > 0)]
    return diff.max(), rel.max() if len(rel) else 0.0


@pytest.mark.workflow
def test_compare_two_real_versions(quick_run: Path, other_version: Path) -> None:
    summary, columns = compare_versions(quick_run, other_version)
    status = summary.set_index("table")["status"]
    assert status["tables/data_summary.csv"] == "identical"  # data does not use the rate
    assert status["tables/fig1_training.csv"] == "changed"
    assert status["tables/fig1_headline.csv"] == "changed"
    for only_a in ("tables/proof_check.csv", "claims/claims.csv"):
        assert status[only_a] == "only in A"  # B ran up to the training stage only

    a = read_table(quick_run / "tables" / "fig1_training.csv")
    b = read_table(other_version / "tables" / "fig1_training.csv")
    changed = columns[columns.table == "tables/fig1_training.csv"].set_index("column")
    for column in ("w", "mse", "rel_dist_to_ols"):
        max_abs, max_rel = numeric_diff(a, b, column)
        assert max_abs > 0
        assert changed.loc[column, "max_abs_diff"] == pytest.approx(max_abs, rel=1e-12)
        assert changed.loc[column, "max_rel_diff"] == pytest.approx(max_rel, rel=1e-12)
        assert changed.loc[column, "cells_differ"] == (a[column] != b[column]).sum()
    # same data, same epochs: w*, the OLS floor and the ids are unchanged
    assert not {"w_star", "ols_mse", "seed", "epoch"} & set(changed.index)

    head_a = read_table(quick_run / "tables" / "fig1_headline.csv")
    head_b = read_table(other_version / "tables" / "fig1_headline.csv")
    head = columns[columns.table == "tables/fig1_headline.csv"].set_index("column")
    assert head.loc["alignment_epoch", "max_abs_diff"] == \
        (head_a.alignment_epoch - head_b.alignment_epoch).abs().max()


@pytest.mark.workflow
def test_cli_prints_the_comparison(quick_run: Path, other_version: Path) -> None:
    command = [str(Path(sys.executable).with_name("ols-transformer")), "compare",
               str(quick_run), str(other_version)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line.split() for line in lines if line.split()[:2] == [
        "tables/fig1_training.csv", "changed"])
    rows = len(QUICK_TRAINING["seeds"]) * (QUICK_TRAINING["epochs"] + 1)
    assert row[2:4] == [str(rows), str(rows)]
    a = read_table(quick_run / "tables" / "fig1_training.csv")
    b = read_table(other_version / "tables" / "fig1_training.csv")
    w_line = next(line.split() for line in lines if line.split()[:2] == [
        "tables/fig1_training.csv", "w"])
    assert float(w_line[3]) == pytest.approx(numeric_diff(a, b, "w")[0], rel=1e-3)
    assert any(line.split()[:3] == ["tables/proof_check.csv", "only", "in"] for line in lines)
    # a version can also be named by its directory name under --results
    by_name = subprocess.run(
        [command[0], "--results", str(quick_run.parent), "compare", quick_run.name,
         quick_run.name], capture_output=True, text=True, timeout=60)
    assert by_name.returncode == 0
    statuses = [line.split()[1] for line in by_name.stdout.splitlines()
                if line.startswith(("tables/", "claims/"))]
    assert statuses and set(statuses) == {"identical"}


def test_rows_matched_by_ids_when_counts_differ() -> None:
    a = pd.DataFrame({"seed": [0, 0, 1, 1], "epoch": [0, 1, 0, 1], "w": [0.1, 0.5, 0.1, 0.7]})
    b = pd.DataFrame({"seed": [0, 1], "epoch": [1, 1], "w": [0.4, 0.7]})
    summary, columns = compare_tables("t.csv", a, b)
    assert summary["status"] == "changed" and (summary["rows_a"], summary["rows_b"]) == (4, 2)
    assert "2 rows matched on seed, epoch" in summary["note"]
    (w,) = columns
    assert w["column"] == "w" and w["cells_differ"] == 1
    # per row: (seed 0, epoch 1) moved 0.1 from 0.5
    assert w["max_abs_diff"] == pytest.approx(0.1) and w["max_rel_diff"] == pytest.approx(0.1 / 0.5)
    same, none = compare_tables("t.csv", a, a.copy())
    assert same["status"] == "identical" and none == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).with_name("ols-transformer")), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.workflow
def test_check_flags_exactly_the_claims_that_differ(quick_run: Path, tmp_path: Path) -> None:
    """compare --check: a changed verdict, a number beyond rtol and a claim missing on one
    side are flagged; a number within rtol is not; the exit status says so."""
    copy = tmp_path / quick_run.name
    shutil.copytree(quick_run, copy)
    ledger_path = copy / "claims" / "claims.csv"
    ledger_path.chmod(0o644)
    ledger = read_table(ledger_path)
    judged = ledger.index[np.isfinite(ledger["estimate"]) & (ledger["estimate"] != 0)
                          & ~ledger["claim_id"].isin(ROUNDING_ESTIMATES)]
    flipped, beyond, within, dropped = (ledger.loc[i, "claim_id"] for i in judged[:4])
    ledger.loc[ledger.claim_id == flipped, "verdict"] = "MISSING"
    ledger.loc[ledger.claim_id == beyond, "estimate"] *= 1 + 1e-3
    ledger.loc[ledger.claim_id == within, "estimate"] *= 1 + 1e-9
    ledger[ledger.claim_id != dropped].to_csv(ledger_path, index=False)

    assert claim_changes(quick_run, quick_run, 0.0).empty
    changes = claim_changes(quick_run, copy, 1e-6).set_index("claim_id")
    assert set(changes.index) == {flipped, beyond, dropped}
    assert changes.loc[beyond, "rel_diff"] == pytest.approx(1e-3, rel=1e-6)
    assert pd.isna(changes.loc[dropped, "verdict_b"])
    assert set(claim_changes(quick_run, copy, 0.0)["claim_id"]) == {flipped, beyond, within,
                                                                     dropped}
    assert _cli("compare", str(quick_run), str(quick_run), "--check").returncode == 0
    flagged = _cli("compare", str(quick_run), str(copy), "--check")
    assert flagged.returncode == 1 and "claims that differ" in flagged.stdout
    assert _cli("compare", str(quick_run), str(copy)).returncode == 0  # no --check: a report


@pytest.mark.workflow
def test_a_reference_snapshot_is_judged_like_its_version(quick_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "snapshot_of_quick"  # (a name no ledger text contains: it is cut below)
    written = snapshot(quick_run, out, "snakemake --configfile config/quick.yaml")
    assert {p.suffix for p in written} == {".csv", ".md", ".png", ".yaml", ".json"}
    assert not list(out.rglob("*.pdf")) and not list(out.rglob("*.npz"))
    # Re-judged from the snapshot's own tables, the ledger is the version's, digit for digit.
    rejudged = _cli("claims", str(out))
    assert rejudged.returncode == 0
    original = _cli("claims", str(quick_run))
    assert rejudged.stdout.replace(out.name, "") == original.stdout.replace(quick_run.name, "")
    assert _cli("compare", str(out), str(quick_run), "--check", "--rtol", "0").returncode == 0


def test_relative_differences_are_per_row_not_per_column() -> None:
    """A cell that moved 40% is not hidden by a large value elsewhere in its column (the
    column's maximum would give 4e-9)."""
    a = pd.DataFrame({"case": ["big", "small"], "x": [1e8, 1.0]})
    b = pd.DataFrame({"case": ["big", "small"], "x": [1e8, 1.4]})
    summary, (x,) = compare_tables("t.csv", a, b)
    assert x["max_rel_diff"] == pytest.approx(0.4)
    assert summary["max_rel_diff"] == pytest.approx(0.4)


def test_rounding_estimates_name_claims_of_the_ledger() -> None:
    assert ROUNDING_ESTIMATES <= {claim.claim_id for claim in CLAIMS}


LEDGER_HEADER = ["claim_id", "kind", "section", "claim", "estimate", "verdict", "detail"]


def ledger_version(root: Path, rows: dict[str, tuple[float, str]], commit: str) -> Path:
    """A version folder with a ledger (claim -> (estimate, verdict)) and a run record."""
    (root / "claims").mkdir(parents=True)
    pd.DataFrame([{"claim_id": c, "kind": "paper", "section": "s", "claim": "c",
                   "estimate": e, "verdict": v, "detail": ""} for c, (e, v) in rows.items()],
                 columns=LEDGER_HEADER).to_csv(root / "claims" / "claims.csv", index=False)
    (root / "provenance").mkdir()
    (root / "provenance" / "run.json").write_text(
        f'{{"created": "2026-01-01", "git": {{"commit": "{commit}", "dirty": false}}, '
        f'"code_sha256": "{commit[::-1]}0123456789"}}')
    return root


def test_check_compares_verdicts_magnitudes_and_tolerances(tmp_path: Path) -> None:
    """Verdicts must match; a rounding-level estimate moves freely within a factor 10 (0.126 ->
    0.176, as between two CPUs), not beyond; any other estimate within rtol (default 1e-4),
    per claim; a claim on one side only counts. Each side is named by its commit and code."""
    identity = "attention_regression.identity_out_of_sample"
    kernel = "attention_regression.kernel_identity"
    assert {identity, kernel} <= ROUNDING_ESTIMATES
    trained, sampled, flipped = "icl.risk_above_ridge", "hopfield.growth_order", "shift.x"
    assert not {trained, sampled, flipped} & ROUNDING_ESTIMATES
    a = ledger_version(tmp_path / "a", {identity: (0.1259, "PASS"), kernel: (1.5e-13, "PASS"),
                                        trained: (1.036, "PASS"), sampled: (0.885, "FAIL"),
                                        flipped: (2.0, "PASS"), "only.a": (1.0, "PASS")},
                       "aaaa1111")
    b = ledger_version(tmp_path / "b", {identity: (0.1762, "PASS"), kernel: (4.0e-12, "PASS"),
                                        trained: (1.036 * (1 + 1e-6), "PASS"),
                                        sampled: (0.885 * (1 + 1e-3), "FAIL"),
                                        flipped: (2.0, "FAIL")}, "bbbb2222")
    changes = claim_changes(a, b).set_index("claim_id")
    assert set(changes.index) == {kernel, sampled, flipped, "only.a"}
    assert changes.loc[kernel, "reason"] == "estimate"
    assert changes.loc[kernel, "factor"] == pytest.approx(4.0e-12 / 1.5e-13)
    assert changes.loc[sampled, "reason"] == "estimate"
    assert changes.loc[sampled, "rel_diff"] == pytest.approx(1e-3)
    assert changes.loc[flipped, "reason"] == "verdict"
    assert changes.loc["only.a", "reason"] == "only in A"
    # a stated tolerance decides the others: at rtol 1e-2 the sampled estimate matches
    assert sampled not in set(claim_changes(a, b, rtol=1e-2)["claim_id"])
    assert claim_changes(a, a).empty

    flagged = _cli("compare", str(a), str(b), "--check")
    assert flagged.returncode == 1
    assert "made by commit aaaa1111" in flagged.stdout
    assert "made by commit bbbb2222" in flagged.stdout
    assert "1111aaaa0123" in flagged.stdout  # the code hash, cut to 12
    assert "claims that differ: 4" in flagged.stdout
