"""The quick workflow end to end: numbers in its tables, provenance, versions, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import QUICK, REPO, merged_config, run_snakemake

from ols_transformer.data import unflatten
from ols_transformer.io import load_arrays, read_table
from ols_transformer.provenance import sha256_file

pytestmark = pytest.mark.workflow


def test_proof_table_matches_independent_ols(quick_run: Path) -> None:
    table = read_table(quick_run / "tables" / "proof_check.csv")
    cases = unflatten(load_arrays(quick_run / "data" / "regression.npz"))
    for name, case in cases.items():
        rows = table[(table.case == name) & (table.dtype == "float64")]
        assert rows["cond_measured"].iloc[0] == pytest.approx(np.linalg.cond(case["X"]), rel=1e-9)
        assert (rows["cond"] == float(case["cond"])).all()  # the target, cases grouped by it
        pred = rows[rows.quantity == "prediction"].set_index("method")
        # the transformer route loses about eps * cond^2, never more than the stated bound
        assert pred.loc["transformer", "max_rel_err"] <= pred.loc["transformer", "expected_bound"]
    well = table[(table.dtype == "float64") & (table.cond < 10) & (table.method == "transformer")]
    assert (well["max_rel_err"] < 1e-12).all()
    summary = read_table(quick_run / "tables" / "proof_summary.csv")
    summary = summary[summary.scope == "all"].set_index("check")
    # judged (the rounding constant c decides it: at c = 8 a quick case may miss), never FAIL:
    # every float64 case is within its bound, checked above
    assert summary.loc["transformer_equals_ols", "verdict"] in ("PASS", "CONDITIONAL")


def test_figure1_tables_reach_w_star_and_noise_floor(quick_run: Path) -> None:
    data = load_arrays(quick_run / "data" / "training.npz")
    head = read_table(quick_run / "tables" / "fig1_headline.csv").set_index("seed")
    for seed, x, y in zip(data["seeds"], data["x"], data["y"], strict=True):
        w_star = np.sqrt(len(x) / np.sum(x * x))
        ols_mse = np.mean((y - x * np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]) ** 2)
        assert abs(head.loc[seed, "w_final"]) == pytest.approx(w_star, rel=1e-8)
        assert head.loc[seed, "final_mse"] == pytest.approx(ols_mse, rel=1e-9)
    curve = read_table(quick_run / "tables" / "fig1_training.csv")
    assert {"epoch", "mse", "rel_dist_to_ols", "w", "w_star"} <= set(curve.columns)


def test_provenance_records_config_code_and_checksums(quick_run: Path) -> None:
    run = json.loads((quick_run / "provenance" / "run.json").read_text())
    assert run["config"]["run_name"] == "quick" and quick_run.name.startswith("quick-")
    assert len(run["code_sha256"]) == 64 and run["packages"]["torch"] != "not installed"
    records = sorted((quick_run / "provenance").glob("*.json"))
    assert len(records) >= 4
    for path in records:
        record = json.loads(path.read_text())
        assert record["version"] == quick_run.name
        assert record["code_sha256"] == run["code_sha256"]
        for output in record["outputs"]:
            assert sha256_file(quick_run.parents[1] / output["path"]) == output["sha256"]
    seeds = merged_config()["training"]["seeds"]
    assert json.loads((quick_run / "provenance" / "training.json").read_text())["seed"] == seeds


def test_second_run_has_nothing_to_do_and_index_lists_version(quick_run: Path) -> None:
    workdir = quick_run.parents[1]
    result = run_snakemake(workdir, "--configfile", str(QUICK), "--dry-run")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr
    index = pd.read_csv(workdir / "results" / "versions.csv")
    assert quick_run.name in set(index["version"])



def test_the_quick_run_ran_from_a_non_editable_install(quick_run: Path) -> None:
    """`pip install .` alone runs the whole pipeline, notebooks included: every job of the
    session's quick run imported the package from the fresh venv's site-packages, never from the
    checkout's src/, on that venv's Python (conftest.install_non_editable)."""
    records = {p.stem: json.loads(p.read_text()) for p in (quick_run / "provenance").glob("*.json")
               if p.stem != "run"}
    assert {"data", "training", "hopfield", "claims", "notebook_training"} <= set(records)
    for stage, record in records.items():
        package, python = Path(record["package_dir"]), Path(record["platform"]["executable"])
        assert "site-packages" in package.parts and not package.is_relative_to(REPO), stage
        assert python.parent.parent in package.parents, (stage, python, package)
