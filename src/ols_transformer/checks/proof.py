"""Checks of the proof stage (Sec. 2), from ``proof_check.csv``.

Criteria (config ``proof.criteria``):
- ``rounding_constant``: c of the rounding bound c cond(X)^2 u (u the unit roundoff of the
  dtype) that judges the theorem in floating point, on every cond(X) and dtype: a route through
  Sigma = X^T X / n (cond(Sigma) = cond(X)^2) loses at most that, and least squares itself is
  that sensitive (its cond^2 tan(theta) term), so every route is held to it. A case the
  construction refuses (Sigma singular in the dtype) counts as relative error 1 (no correct
  digit): within the bound exactly where c cond(X)^2 u >= 1, where the bound promises nothing.
  The same bound judges Sec. 2.1's length invariance (every context pair duplicated);
- ``slope_cond_min``: error-growth slopes are fitted over cond(X) >= this (below it the error
  sits at the rounding floor and carries no slope);
- ``sigma_route_slope_min``/``max``: the Sigma route's log-log slope ("grows like cond^2");
- ``qr_slope_max``: QR's slope ("grows at most like cond^1").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from . import (
    THEORY,
    Check,
    MissingInput,
    across_tolerance,
    at_most,
    fit_line,
    missing,
    require,
    within,
)

COLUMNS = ("case", "dtype", "method", "quantity", "cond", "max_rel_err", "expected_bound",
           "status")
# Unit roundoff u = eps / 2 of each dtype (round to nearest).
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24}
PREDICTION, DUPLICATED = "prediction", "duplicated context"
STEPS = ("W W^T = Sigma^-1", "beta_hat = W c", "scores = hat matrix")


def _refusals(rows: pd.DataFrame) -> str:
    refused = rows[rows["status"] != "ok"]
    if refused.empty:
        return ""
    return "; refused or non-finite: " + ", ".join(
        f"{r.case}/{r.dtype}/{r.method}/{r.quantity} ({r.status})" for r in refused.itertuples())


def rounding_ratio(rows: pd.DataFrame, c: float) -> pd.Series:
    """Each row's relative error over the bound c cond(X)^2 u of its dtype (<= 1: within it).

    cond(X) is the measured one (``cond_measured``; the target ``cond`` where a table lacks
    it). A refused case counts as relative error 1 (no correct digit), a finite status with a
    non-finite error as infinite: NaN never drops out."""
    cond = rows["cond_measured"] if "cond_measured" in rows.columns else rows["cond"]
    u = rows["dtype"].map(UNIT_ROUNDOFF).astype(float)  # an unknown dtype: NaN, so it fails
    refused = rows["status"].astype(str).str.startswith("refused")
    err = rows["max_rel_err"].where(~refused, 1.0).fillna(math.inf)
    return err / (c * cond.astype(float) ** 2 * u)


def within_rounding(table: pd.DataFrame, quantity: str, method: str, name: str,
                    crit: Mapping[str, float], what: str) -> list[Check]:
    """``what`` holds to rounding: every (case, dtype) of ``method``'s ``quantity`` rows within
    c cond(X)^2 u, no cut on cond(X). Value: the worst ratio error / bound (<= 1 passes); one
    row per dtype (scope) besides the judged one."""
    c = crit["rounding_constant"]
    criterion = (f"{what}: max relative error / (c cond(X)^2 u) <= 1, c = {c:g}, u the unit "
                 "roundoff of the dtype (every cond(X) and dtype; a refusal counts as error 1)")
    rows = table[(table["quantity"] == quantity) & (table["method"] == method)]
    if rows.empty:
        return [missing(name, criterion, f"no {method} rows of quantity '{quantity}'")]
    ratio = rounding_ratio(rows, c)

    def judged(part: pd.DataFrame, scope: str) -> Check:
        r = ratio.loc[part.index]
        worst = part.loc[r.fillna(math.inf).idxmax()]
        refused = part["status"].astype(str).str.startswith("refused")
        note = (f"worst {worst['case']} {worst['dtype']} (cond {float(worst['cond']):.3g}, "
                f"error {float(worst['max_rel_err']):.3g}) of {len(part)} cases"
                + (f"; {int(refused.sum())} refused (Sigma singular), counted as error 1"
                   if refused.any() else ""))
        return at_most(name, float(r.max(skipna=False)), 1.0, criterion, note, scope=scope,
                       origin=THEORY)

    out = [judged(rows, "all")]
    out += [judged(part, str(dtype)) for dtype, part in rows.groupby("dtype", sort=True)]
    return out


def _steps(table: pd.DataFrame) -> Check:
    # Each step goes through Sigma, so in float64 it holds to rounding amplified by cond(X)^2:
    # judged against the stage's bound n p eps cond(X)^2, over every condition number.
    steps = table[table["quantity"].isin(STEPS) & (table["method"] == "transformer")
                  & (table["dtype"] == "float64")]
    criterion = "max relative error / rounding bound n p eps cond(X)^2 <= 1 (float64, every cond)"
    if steps.empty:
        return missing("steps_hold", criterion, "no float64 proof-step rows")
    ratio = steps["max_rel_err"] / steps["expected_bound"]
    worst = steps.loc[ratio.fillna(np.inf).idxmax()]
    return at_most("steps_hold", float(ratio.max(skipna=False)), 1.0, criterion,
                   f"{len(steps)} steps; worst '{worst['quantity']}' at cond {worst['cond']:.3g}"
                   + _refusals(steps), origin=THEORY)


def error_slope(table: pd.DataFrame, method: str, cond_min: float) -> tuple[float, str]:
    """Log-log slope of the worst float64 prediction error per cond(X) against cond(X), over
    cond >= cond_min; refused or non-finite cases are dropped and counted."""
    rows = table[(table["quantity"] == PREDICTION) & (table["method"] == method)
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
                   f"{len(ok)} finite cases, every dtype" + _refusals(table), origin=THEORY)


def length_invariance(table: pd.DataFrame, crit: Mapping[str, float]) -> list[Check]:
    """Sec. 2.1: with every context pair duplicated (n -> 2n), the 1/n factor leaves the
    prediction unchanged up to rounding, judged for both forms at once (eq. 8 and in context):
    the worst ratio over the bound c cond(X)^2 u. Without the factor it would double (relative
    change 1)."""
    rows = table[table["quantity"] == DUPLICATED]
    name = "invariant_to_sequence_length"
    if rows.empty:
        c = crit["rounding_constant"]
        return [missing(name, f"relative change with the context duplicated / (c cond(X)^2 u) "
                              f"<= 1, c = {c:g}", f"no '{DUPLICATED}' rows in proof_check.csv "
                              "(a table from before this check)")]
    worst: list[Check] = []
    for method in sorted(rows["method"].unique()):
        worst += within_rounding(rows, DUPLICATED, method, name, crit,
                                 "prediction with every context pair duplicated vs as given")
    judged = [c for c in worst if c.scope == "all"]
    top = max(judged, key=lambda c: math.inf if math.isnan(c.value) else c.value)
    methods = ", ".join(f"{m} {c.value:.3g}" for m, c in zip(sorted(rows["method"].unique()),
                                                            judged, strict=True))
    return [replace(top, detail=f"both forms ({methods}); {top.detail}")]


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
    # The slopes' bands are ours (the theory gives 2 and at most 1, not a width): each is
    # re-judged with the band halved and doubled.
    try:
        slope, detail = error_slope(table, "transformer", cond_min)
        sigma = within("sigma_route_cond_squared", slope, low, high, 2.0, sigma_criterion, detail)
        # the band's half-widths scaled by k: holds_where names the tightest k that passes
        sigma = across_tolerance(sigma, {k: within(
            "sigma_route_cond_squared", slope, 2 - k * (2 - low), 2 + k * (high - 2), 2.0,
            sigma_criterion) for k in (0.5, 1.0, 2.0)}, "band scale")
    except MissingInput as why:
        sigma = missing("sigma_route_cond_squared", sigma_criterion, str(why))
    try:
        slope, detail = error_slope(table, "qr_lstsq", cond_min)
        top = crit["qr_slope_max"]
        qr = at_most("qr_cond_linear", slope, top, qr_criterion, detail)
        qr = across_tolerance(qr, {1 + k * (top - 1): at_most(
            "qr_cond_linear", slope, 1 + k * (top - 1), qr_criterion) for k in (0.5, 1.0, 2.0)},
            "qr_slope_max")
    except MissingInput as why:
        qr = missing("qr_cond_linear", qr_criterion, str(why))
    theorem = "prediction vs high-precision OLS"
    return [
        *within_rounding(table, PREDICTION, "transformer", "transformer_equals_ols", crit,
                         theorem),
        *within_rounding(table, PREDICTION, "transformer_in_context", "in_context_equals_ols",
                         crit, theorem),
        *within_rounding(table, PREDICTION, "normal_equations", "normal_equations_equal_ols",
                         crit, theorem),
        *within_rounding(table, PREDICTION, "qr_lstsq", "qr_equals_ols", crit, theorem),
        *length_invariance(table, crit),
        _steps(table),
        sigma,
        qr,
        _within_bound(table),
    ]
