"""Checks of the proof stage (Sec. 2), from ``proof_check.csv``.

Criteria (config ``proof.criteria``):
- ``rtol_float64``, ``well_conditioned_max``: the theorem, transformer == OLS in float64 for
  cond(X) <= well_conditioned_max;
- ``slope_cond_min``: error-growth slopes are fitted over cond(X) >= this (below it the error
  sits at the rounding floor and carries no slope);
- ``sigma_route_slope_min``/``max``: the Sigma route's log-log slope ("grows like cond^2");
- ``qr_slope_max``: QR's slope ("grows at most like cond^1").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import Check, MissingInput, at_most, fit_line, missing, require, within

COLUMNS = ("case", "dtype", "method", "quantity", "cond", "max_rel_err", "expected_bound",
           "status")


def _refusals(rows: pd.DataFrame) -> str:
    refused = rows[rows["status"] != "ok"]
    if refused.empty:
        return ""
    return "; refused or non-finite: " + ", ".join(
        f"{r.case}/{r.dtype}/{r.method}/{r.quantity} ({r.status})" for r in refused.itertuples())


def _prediction_error(table: pd.DataFrame, method: str, name: str,
                      crit: Mapping[str, float]) -> Check:
    rows = table[(table["quantity"] == "prediction") & (table["method"] == method)
                 & (table["dtype"] == "float64") & (table["cond"] <= crit["well_conditioned_max"])]
    criterion = (f"max relative error <= {crit['rtol_float64']:g} (float64, cond(X) <= "
                 f"{crit['well_conditioned_max']:g})")
    if rows.empty:
        return missing(name, criterion,
                       f"no float64 {method} rows with cond <= {crit['well_conditioned_max']:g}")
    # A refused case has NaN error: max(skipna=False) makes it fail, never drop out.
    worst = float(rows["max_rel_err"].max(skipna=False))
    return at_most(name, worst, crit["rtol_float64"], criterion,
                   f"worst of {len(rows)} well-conditioned float64 cases" + _refusals(rows))


def _steps(table: pd.DataFrame) -> Check:
    # Each step goes through Sigma, so in float64 it holds to rounding amplified by cond(X)^2:
    # judged against the stage's bound n p eps cond(X)^2, over every condition number.
    steps = table[(table["quantity"] != "prediction") & (table["method"] == "transformer")
                  & (table["dtype"] == "float64")]
    criterion = "max relative error / rounding bound n p eps cond(X)^2 <= 1 (float64, every cond)"
    if steps.empty:
        return missing("steps_hold", criterion, "no float64 proof-step rows")
    ratio = steps["max_rel_err"] / steps["expected_bound"]
    worst = steps.loc[ratio.fillna(np.inf).idxmax()]
    return at_most("steps_hold", float(ratio.max(skipna=False)), 1.0, criterion,
                   f"{len(steps)} steps; worst '{worst['quantity']}' at cond {worst['cond']:.3g}"
                   + _refusals(steps))


def error_slope(table: pd.DataFrame, method: str, cond_min: float) -> tuple[float, str]:
    """Log-log slope of the worst float64 prediction error per cond(X) against cond(X), over
    cond >= cond_min; refused or non-finite cases are dropped and counted."""
    rows = table[(table["quantity"] == "prediction") & (table["method"] == method)
                 & (table["dtype"] == "float64") & (table["cond"] >= cond_min)]
    # A cond whose every case was refused has a NaN worst error: fit_line drops and counts it.
    worst = rows.groupby("cond")["max_rel_err"].max()
    if len(worst) < 2:
        raise MissingInput(f"fewer than two float64 condition numbers >= {cond_min:g} for "
                           f"{method}: the config measures no slope")
    fit = fit_line(worst.index, worst.to_numpy(), log_x=True, log_y=True)
    return fit.slope, (f"worst case per cond, {fit.note} (cond {worst.index.min():.3g} to "
                       f"{worst.index.max():.3g})" + _refusals(rows))


def _within_bound(table: pd.DataFrame) -> Check:
    ok = table[table["status"] == "ok"]
    outside = ok[~(ok["max_rel_err"] <= ok["expected_bound"])]
    return at_most("within_rounding_bound", float(len(outside)), 0.0,
                   "cases outside the rounding bound n p eps cond(X)^k (k = 2 via Sigma, 1 QR)",
                   f"{len(ok)} finite cases, every dtype" + _refusals(table))


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    """Every check of the proof stage, from ``proof_check.csv``."""
    table = require(table, "proof_check", COLUMNS)
    crit = criteria
    low, high = crit["sigma_route_slope_min"], crit["sigma_route_slope_max"]
    cond_min = crit["slope_cond_min"]
    sigma_criterion = (f"log-log slope of the worst error on cond(X) in [{low:g}, {high:g}] "
                       f"(float64, cond >= {cond_min:g})")
    qr_criterion = (f"log-log slope of the worst error on cond(X) <= {crit['qr_slope_max']:g} "
                    f"(float64, cond >= {cond_min:g})")
    try:
        slope, detail = error_slope(table, "transformer", cond_min)
        sigma = within("sigma_route_cond_squared", slope, low, high, 2.0, sigma_criterion, detail)
    except MissingInput as why:
        sigma = missing("sigma_route_cond_squared", sigma_criterion, str(why))
    try:
        slope, detail = error_slope(table, "qr_lstsq", cond_min)
        qr = at_most("qr_cond_linear", slope, crit["qr_slope_max"], qr_criterion, detail)
    except MissingInput as why:
        qr = missing("qr_cond_linear", qr_criterion, str(why))
    return [
        _prediction_error(table, "transformer", "transformer_equals_ols", crit),
        _prediction_error(table, "transformer_in_context", "in_context_equals_ols", crit),
        _prediction_error(table, "normal_equations", "normal_equations_equal_ols", crit),
        _prediction_error(table, "qr_lstsq", "qr_equals_ols", crit),
        _steps(table),
        sigma,
        qr,
        _within_bound(table),
    ]
