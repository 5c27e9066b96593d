"""The claims ledger: its numbers recomputed independently, FAIL when a table breaks a claim,
MISSING when a stage's table is absent, and the workflow's ledger turning FAIL on an edit."""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import QUICK, run_snakemake

from ols_transformer import claims

Tables = dict[str, pd.DataFrame]


def load_tables(version: Path) -> Tables:
    """Every table of the version (the ledger reads those in claims.LEDGER_TABLES)."""
    return {path.stem: pd.read_csv(path) for path in sorted((version / "tables").glob("*.csv"))}


def ledger_of(tables: Tables, version: Path) -> pd.DataFrame:
    config = yaml.safe_load((version / "config.resolved.yaml").read_text())
    return claims.build_ledger(tables, claims.criteria_from_config(config)).set_index("claim_id")


@pytest.fixture(scope="module")
def tables(quick_run: Path) -> Tables:
    return load_tables(quick_run)


@pytest.fixture(scope="module")
def written(quick_run: Path) -> pd.DataFrame:
    return pd.read_csv(quick_run / "claims" / "claims.csv").set_index("claim_id")


def loglog_slope_lstsq(cond: pd.Series, err: pd.Series) -> float:
    """Slope of log10(err) on log10(cond) with numpy lstsq (independent of claims.py)."""
    design = np.column_stack([np.log10(cond.to_numpy()), np.ones(len(cond))])
    return float(np.linalg.lstsq(design, np.log10(err.to_numpy()), rcond=None)[0][0])


@pytest.mark.workflow
def test_written_ledger_is_the_recomputed_one(quick_run: Path, tables: Tables,
                                              written: pd.DataFrame) -> None:
    again = ledger_of(tables, quick_run)
    assert list(written.index) == [c.claim_id for c in claims.CLAIMS]
    np.testing.assert_allclose(written["measured"], again["measured"], rtol=1e-9)
    assert (written["verdict"] == again["verdict"]).all()
    # every stage in the workflow has its tables, so none of its claims is MISSING
    present = {c.claim_id for c in claims.CLAIMS if all(s in tables for s in c.sources)}
    assert present >= {c.claim_id for c in claims.CLAIMS if c.claim_id.split(".")[0]
                       in {"proof", "training", "shift"}}
    assert (written.loc[sorted(present), "verdict"] != claims.MISSING).all()
    markdown = (quick_run / "claims" / "claims.md").read_text()
    for claim_id, row in written.iterrows():
        assert f"`{claim_id}` ({row['verdict']})" in markdown


@pytest.mark.workflow
def test_measured_numbers_match_independent_computations(tables: Tables,
                                                         written: pd.DataFrame) -> None:
    measured = written["measured"]
    head = tables["fig1_headline"]
    w_err = max(abs(abs(w) - s) / s for w, s in zip(head.w_final, head.w_star, strict=True))
    assert measured["training.w_converges_to_w_star"] == pytest.approx(w_err, abs=1e-15)
    assert measured["training.aligned_within_1000_epochs"] == head.alignment_epoch.max()
    excess = max(abs(m / o - 1) for m, o in zip(head.final_mse, head.ols_mse, strict=True))
    assert measured["training.mse_at_noise_floor"] == pytest.approx(excess, abs=1e-15)

    summary = tables["proof_summary"].set_index("method")
    assert measured["proof.transformer_equals_ols"] == \
        summary.loc["transformer", "worst_rel_err_float64"]
    check = tables["proof_check"]
    pred = check[(check.quantity == "prediction") & (check.dtype == "float64")
                 & (check.cond >= 10) & (check.status == "ok")]
    for method, claim_id in (("transformer", "proof.sigma_route_cond_squared"),
                             ("qr_lstsq", "proof.qr_cond_linear")):
        worst = pred[pred.method == method].groupby("cond").max_rel_err.max()
        assert measured[claim_id] == pytest.approx(
            loglog_slope_lstsq(pd.Series(worst.index), worst), rel=1e-9)
    steps = check[(check.quantity != "prediction") & (check.dtype == "float64")]
    assert measured["proof.steps_hold"] == pytest.approx(
        (steps.max_rel_err / steps.expected_bound).max(), rel=1e-9)  # CSV: 10 digits
    # the transformer's error grows like cond^2 (slope near 2), QR's much slower
    assert measured["proof.sigma_route_cond_squared"] > measured["proof.qr_cond_linear"] + 0.5

    # covariance shift: the ledger's numbers agree with the shift stage's own summary
    shift = tables["covariance_shift"]
    stage = tables["covariance_shift_summary"]
    assert measured["shift.eq10_holds"] == shift.eq10_residual.max()
    largest = stage[(stage.check == "distortion_agreement")
                    & (stage.m.astype(str) == str(shift.m.max()))]
    assert measured["shift.distortion_is_sigma_tr_inv_sigma_te"] == pytest.approx(
        (largest.value - 1).abs().max(), rel=1e-6)
    for claim_id, check_name in (("shift.no_shift_recovers_ols", "no_shift_matches_ols"),
                                 ("shift.static_ols_undistorted", "static_ols_undistorted")):
        assert measured[claim_id] == pytest.approx(
            stage.loc[stage.check == check_name, "value"].max(), rel=1e-6)


def _set(table: str, column: str, value: Callable[[pd.DataFrame], object]
         ) -> Callable[[Tables], None]:
    """An edit of the first row's ``column`` in a copy of ``table``."""
    def edit(tables: Tables) -> None:
        frame = tables[table]
        frame.loc[frame.index[0], column] = value(frame)
    return edit


def _cond_linear_transformer(tables: Tables) -> None:
    """Make the transformer's float64 error grow like eps * cond (slope 1, not 2)."""
    frame = tables["proof_check"]
    rows = (frame.method == "transformer") & (frame.quantity == "prediction")
    frame.loc[rows, "max_rel_err"] = 1e-16 * frame.loc[rows, "cond"]


def _theorem_off(tables: Tables) -> None:
    frame = tables["proof_summary"]
    frame.loc[frame.method == "transformer", "worst_rel_err_float64"] = 1e-6


def _step_off(tables: Tables) -> None:
    """One proof step twice its float64 rounding bound."""
    frame = tables["proof_check"]
    row = frame.index[(frame.quantity == "beta_hat = W c") & (frame.dtype == "float64")][0]
    frame.loc[row, "max_rel_err"] = 2 * frame.loc[row, "expected_bound"]


def _distort(tables: Tables) -> None:
    frame = tables["covariance_shift"]
    frame["distortion_measured"] = 1.5 * frame["distortion_measured"]


# (edit, claim, expected measured number or None to compute it below)
BREAKS = {
    "w far from w*": (_set("fig1_headline", "w_final", lambda f: 2 * f.w_star.iloc[0]),
                      "training.w_converges_to_w_star", 1.0),
    "aligned late": (_set("fig1_headline", "alignment_epoch", lambda f: 1500),
                     "training.aligned_within_1000_epochs", 1500.0),
    "never aligned": (_set("fig1_headline", "alignment_epoch", lambda f: -1),
                      "training.aligned_within_1000_epochs", math.inf),
    "MSE above the floor": (_set("fig1_headline", "final_mse", lambda f: 1.1 * f.ols_mse.iloc[0]),
                            "training.mse_at_noise_floor", 0.1),
    "non-finite w": (_set("fig1_headline", "w_final", lambda f: np.nan),
                     "training.w_converges_to_w_star", math.nan),
    "theorem off": (_theorem_off, "proof.transformer_equals_ols", 1e-6),
    "proof step off": (_step_off, "proof.steps_hold", 2.0),
    "error grows like cond": (_cond_linear_transformer, "proof.sigma_route_cond_squared", 1.0),
    "eq. 10 off": (_set("covariance_shift", "eq10_residual", lambda f: 1e-3),
                   "shift.eq10_holds", 1e-3),
    "distortion 1.5 times the prediction": (_distort, "shift.distortion_is_sigma_tr_inv_sigma_te",
                                            None),
}


@pytest.mark.workflow
@pytest.mark.parametrize("name", list(BREAKS))
def test_breaking_a_table_turns_its_claim_to_fail(name: str, quick_run: Path,
                                                  tables: Tables) -> None:
    edit, claim_id, expected = BREAKS[name]
    copies = {key: frame.copy() for key, frame in tables.items()}
    edit(copies)
    ledger = ledger_of(copies, quick_run)
    before = ledger_of(tables, quick_run)
    assert before.loc[claim_id, "verdict"] == claims.PASS
    assert ledger.loc[claim_id, "verdict"] == claims.FAIL
    if expected is None:  # slope of 1.5 x measured on predicted, at the largest m
        shift = copies["covariance_shift"]
        at_m = shift[(shift.m == shift.m.max()) & ~shift.no_shift.astype(bool)]
        slopes = [np.dot(g.distortion_predicted, g.distortion_measured)
                  / np.dot(g.distortion_predicted, g.distortion_predicted)
                  for _, g in at_m.groupby("family")]
        expected = max(abs(s - 1) for s in slopes)
    assert ledger.loc[claim_id, "measured"] == pytest.approx(expected, rel=1e-6, nan_ok=True)
    # the other claims keep their verdicts
    others = ledger.index != claim_id
    assert (ledger.loc[others, "verdict"] == before.loc[others, "verdict"]).all()


def test_missing_table_or_column_is_missing_not_pass() -> None:
    ledger = claims.build_ledger({}).set_index("claim_id")
    assert (ledger["verdict"] == claims.MISSING).all()
    assert ledger["measured"].isna().all()
    head = pd.DataFrame({"seed": [0], "w_final": [1.0]})  # no w_star column
    row = claims.build_ledger({"fig1_headline": head}).set_index("claim_id").loc[
        "training.w_converges_to_w_star"]
    assert row["verdict"] == claims.MISSING and "w_star" in row["detail"]


def test_hopfield_growth_claims_on_known_laws() -> None:
    """Linear capacity (0.14 N) passes the linear claim; N^2 and N^3 pass the polynomial one;
    2^(N/2) passes the exponential ones and the ordering; swapping the laws fails them."""
    N = np.array([16, 24, 32, 40, 48])
    rows = [(model, n, seed, cap) for seed in (0, 1)
            for model, law in (("linear_attention", 0.14 * N), ("exponential", 2.0 ** (N / 2)),
                               ("softmax", 2.0 ** (N / 2)), ("poly3", 0.5 * N**2),
                               ("poly4", 0.1 * N**3.4))
            for n, cap in zip(N, law, strict=True)]
    table = pd.DataFrame(rows, columns=["model", "N", "seed", "capacity"])
    ledger = claims.build_ledger({"hopfield_capacity": table}).set_index("claim_id")
    linear = ledger.loc["hopfield.linear_capacity_linear"]
    assert linear["verdict"] == claims.PASS and linear["measured"] == pytest.approx(1.0)
    expo = ledger.loc["hopfield.exponential_capacity_exponential"]
    # local log-log slope of 2^(N/2) between N=40 and 48: (4 log10 2) / log10(48/40)
    assert expo["measured"] == pytest.approx(4 * np.log10(2) / np.log10(48 / 40))
    assert expo["verdict"] == claims.PASS
    poly = ledger.loc["hopfield.polynomial_capacity_power"]
    assert poly["measured"] == pytest.approx(0.4) and poly["verdict"] == claims.PASS  # 3.4 vs 3
    order = ledger.loc["hopfield.growth_order"]
    # local slopes: linear 1, x^3 2, x^4 3.4, exponential 6.6: the smallest step is 1
    assert order["measured"] == pytest.approx(1.0) and order["verdict"] == claims.PASS

    steep = table.assign(capacity=np.where(table.model == "poly4", 0.1 * table.N**3.6,
                                           table.capacity))
    ledger = claims.build_ledger({"hopfield_capacity": steep}).set_index("claim_id")
    assert ledger.loc["hopfield.polynomial_capacity_power", "verdict"] == claims.FAIL

    swapped = table.assign(model=table.model.map({"linear_attention": "exponential",
                                                  "exponential": "linear_attention",
                                                  "softmax": "softmax"}))
    ledger = claims.build_ledger({"hopfield_capacity": swapped}).set_index("claim_id")
    assert ledger.loc["hopfield.linear_capacity_linear", "verdict"] == claims.FAIL
    assert ledger.loc["hopfield.exponential_capacity_exponential", "verdict"] == claims.FAIL
    assert ledger.loc["hopfield.growth_order", "verdict"] == claims.FAIL
    assert ledger.loc["hopfield.growth_order", "measured"] < 0


@pytest.mark.workflow
def test_workflow_ledger_turns_fail_when_a_stage_table_is_edited(quick_run: Path,
                                                                  tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    shutil.copytree(quick_run.parents[1], workdir, symlinks=True)
    version = workdir / "results" / quick_run.name
    headline = version / "tables" / "fig1_headline.csv"
    table = pd.read_csv(headline)
    table["w_final"] = 3 * table["w_star"]  # |w| - w* = 2 w*
    headline.chmod(0o644)  # outputs are write-protected
    table.to_csv(headline, index=False)
    for path in (version / "claims").iterdir():
        path.unlink()
    target = str(version.relative_to(workdir) / "claims" / "claims.csv")
    result = run_snakemake(workdir, target, "--configfile", str(QUICK))
    assert result.returncode == 0, result.stderr[-3000:]
    ledger = pd.read_csv(version / "claims" / "claims.csv").set_index("claim_id")
    row = ledger.loc["training.w_converges_to_w_star"]
    assert row["verdict"] == "FAIL" and row["measured"] == pytest.approx(2.0)
    assert "**FAIL**" in (version / "claims" / "claims.md").read_text()
    assert (ledger.drop(index=row.name)["verdict"] != "FAIL").all()
