"""Figure 1's sensitivity sweep: every grid point against Adam written out in numpy, the main
run as one grid point, diverging settings as rows, and the ledger's share rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import merged_config

from ols_transformer import checks, claims
from ols_transformer.checks import training as training_checks
from ols_transformer.config import ConfigError, validate_config
from ols_transformer.data import training_sets
from ols_transformer.experiments import training

BASE = merged_config()["training"]
GRID = {"parameterisations": ["eq8", "eq5"], "learning_rates": [1e-3, 1e-2, 3e-2],
        "w0": [0.05, 0.5, 2.0], "n": [20, 100], "seeds": [0, 3], "epochs": 1500}


def numpy_adam(eq8: np.ndarray, n: np.ndarray, sxx: np.ndarray, sxy: np.ndarray,
               w0: np.ndarray, lr: np.ndarray, epochs: int,
               tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Adam (beta1 0.9, beta2 0.999, eps 1e-8), elementwise over settings, on the closed-form
    1-D loss L(w) = (1/n) sum (y - a(w) x)^2 with a = w^4 Sxx Sxy / n^2 (eq8) or w^2 Sxy / n
    (eq5). Returns the first epoch with |a / a_OLS - 1| < tol (-1: never) and the final |w|."""
    b = sxy / sxx
    w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    aligned = np.full(w0.shape, -1)
    for t in range(epochs + 1):
        a = np.where(eq8, w**4 * sxx * sxy / n**2, w**2 * sxy / n)
        da = np.where(eq8, 4 * w**3 * sxx * sxy / n**2, 2 * w * sxy / n)
        aligned = np.where((aligned < 0) & (np.abs(a / b - 1) < tol), t, aligned)
        if t == epochs:
            break
        g = 2 / n * (a * sxx - sxy) * da
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        step = t + 1
        w = w - lr / (1 - 0.9**step) * m / (np.sqrt(v) / np.sqrt(1 - 0.999**step) + 1e-8)
    return aligned, np.abs(w)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return training.sweep({**BASE, "sweep": GRID})


def test_every_grid_point_matches_adam_written_in_numpy(table: pd.DataFrame) -> None:
    grid_size = 2 * 3 * 3 * 2 * 2
    assert len(table) == grid_size and not table.duplicated(
        ["parameterisation", "learning_rate", "w0", "n", "seed"]).any()
    stats = {}
    for n in GRID["n"]:
        data = training_sets({**BASE, "n": n, "seeds": GRID["seeds"]})
        for seed, x, y in zip(data["seeds"], data["x"], data["y"], strict=True):
            stats[(n, seed)] = (x @ x, x @ y)
    sxx, sxy = (np.array([stats[(r.n, r.seed)][i] for r in table.itertuples()]) for i in (0, 1))
    n = table["n"].to_numpy(dtype=float)
    aligned, w_final = numpy_adam((table["parameterisation"] == "eq8").to_numpy(), n, sxx, sxy,
                                  table["w0"].to_numpy(), table["learning_rate"].to_numpy(),
                                  GRID["epochs"], BASE["alignment_tol"])
    np.testing.assert_array_equal(table["aligned_epoch"], aligned)
    w_star = np.sqrt(n / sxx)
    np.testing.assert_allclose(table["final_rel_w_error"], np.abs(w_final / w_star - 1),
                               rtol=0, atol=1e-9)
    assert (table["aligned_epoch"] >= 0).any() and (table["aligned_epoch"] < 0).any()


def test_the_main_run_is_a_grid_point(table: pd.DataFrame) -> None:
    cfg = {**BASE, "parameterisation": "eq5", "learning_rate": 1e-2, "w0": 0.5, "n": 100,
           "seeds": [0, 3], "epochs": GRID["epochs"]}
    data = training_sets(cfg)
    _, head = training.run(cfg, data["x"], data["y"])
    point = table[(table.parameterisation == "eq5") & (table.learning_rate == 1e-2)
                  & (table.w0 == 0.5) & (table.n == 100)].set_index("seed")
    for row in head.itertuples():
        assert point.loc[row.seed, "aligned_epoch"] == row.alignment_epoch
        assert point.loc[row.seed, "final_rel_w_error"] == row.rel_w_error
        assert point.loc[row.seed, "mse_rises"] == (row.mse_rises_before_alignment
                                                    + row.mse_rises_after_alignment)


def test_a_diverging_setting_is_a_row_not_a_crash() -> None:
    grid = {**GRID, "learning_rates": [1e-2], "w0": [0.5, 1e200], "n": [20], "epochs": 50}
    table = training.sweep({**BASE, "sweep": grid})
    bad = table[table.w0 == 1e200]
    assert bad["diverged"].all() and (bad["diverged_epoch"] == 0).all()
    assert bad["final_rel_w_error"].isna().all() and (bad["aligned_epoch"] == -1).all()
    good = table[table.w0 == 0.5]
    assert not good["diverged"].any() and good["final_rel_w_error"].notna().all()


def test_share_rows_are_reported_per_parameterisation(table: pd.DataFrame) -> None:
    criteria = BASE["criteria"]
    found = {c.check: c for c in training_checks.sweep_checks(table, criteria)}
    for form in ("eq8", "eq5"):
        rows = table[table.parameterisation == form]
        share = ((rows.aligned_epoch >= 0) & (rows.aligned_epoch <= 1000)).mean()
        assert found[f"aligned_share_{form}"].value == pytest.approx(share)
        assert found[f"aligned_share_{form}"].verdict == checks.REPORTED
    ledger = claims.build_ledger({"fig1_sensitivity": table},
                                 claims.criteria_from_config(merged_config())).set_index(
                                     "claim_id")
    shares = ledger.loc[["training_sweep.aligned_share_eq8", "training_sweep.aligned_share_eq5"]]
    assert set(shares["verdict"]) == {checks.REPORTED} and set(shares["kind"]) == {"extension"}
    # the default's own rows are MISSING here (no fig1_headline), never hidden by the shares
    assert ledger.loc["training.aligned_within_1000_epochs", "verdict"] == checks.MISSING


def test_monotone_decay_counts_every_rise() -> None:
    head = pd.DataFrame({"seed": [0, 1], "rel_w_error": [0.0, 0.0], "alignment_epoch": [10, 20],
                         "alignment_tol": 1e-3, "mse_excess_over_ols": [0.0, 0.0],
                         "ols_mse": [0.25, 0.25], "mse_rises_before_alignment": [0, 3],
                         "mse_rises_after_alignment": [2, 0]})
    (check,) = [c for c in training_checks.checks(head, BASE["criteria"])
                if c.check == "monotone_decay"]
    assert check.value == 5 and check.verdict == checks.FAIL
    assert "3 before the first aligned epoch, 2 from it on" in check.detail


@pytest.mark.parametrize(("override", "field"), [
    ({"learning_rates": [0.0]}, "training.sweep.learning_rates.0"),
    ({"w0": [0.1, 0]}, "training.sweep.w0.1"),
    ({"parameterisations": ["eq9"]}, "training.sweep.parameterisations.0"),
    ({"n": [1]}, "training.sweep.n.0"),
    ({"epochs": 0}, "training.sweep.epochs"),
])
def test_bad_grid_is_refused_before_any_job(override: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        validate_config(merged_config({"training": {"sweep": override}}))
