"""Checks of the proof stage (Sec. 2), from ``proof_check.csv``.

Criteria (config ``proof.criteria``):
- ``rounding_constant``: c of the rounding bound c cond(X)^2 u (u the unit roundoff of the
  dtype) that judges the theorem in floating point, on every cond(X) and dtype: a route through
  Sigma = X^T X / n (cond(Sigma) = cond(X)^2) loses at most that, and least squares itself is
  that sensitive (its cond^2 tan(theta) term), so every route is held to it. A case the
  construction refuses (Sigma singular in the dtype) is counted apart ("refused k of n"),
  never scored as an error in the headline number; it fails the row only where the bound
  promises digits (c cond(X)^2 u < 1). c is ours, not theory: the rows are re-judged at each
  of ``rounding_constant_alternatives`` (8, 16, 32, 64 by default), which decides them.
  The same bound judges Sec. 2.1's length invariance (every context pair duplicated);
- ``slope_cond_min``: error-growth slopes are fitted over cond(X) >= this (below it the error
  sits at the rounding floor and carries no slope);
- ``sigma_route_slope_min``/``max``: the Sigma route's log-log slope ("grows like cond^2");
- ``qr_slope_max``: QR's slope ("grows at most like cond^1").

The slopes are fitted per draw of the data (``data.replicates``) and judged on their Student-t
interval over the draws (PASS only when the whole interval is inside the band).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..stats import Interval, mean_interval
from . import (
    FAIL,
    THEORY,
    Check,
    MissingInput,
    across_tolerance,
    at_most,
    fit_line,
    interval_at_most,
    interval_within,
    missing,
    require,
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
    it). A refused case has no error: NaN here, counted apart (``refused_where_promised``); a
    finite status with a non-finite error counts as infinite: NaN never drops out."""
    refused = rows["status"].astype(str).str.startswith("refused")
    err = rows["max_rel_err"].fillna(math.inf).where(~refused, math.nan)
    return err / promised(rows, c)


def promised(rows: pd.DataFrame, c: float) -> pd.Series:
    """The bound c cond(X)^2 u of each row: below 1 it promises digits, from 1 on nothing (an
    unknown dtype: NaN, so it fails)."""
    cond = rows["cond_measured"] if "cond_measured" in rows.columns else rows["cond"]
    u = rows["dtype"].map(UNIT_ROUNDOFF).astype(float)
    return c * cond.astype(float) ** 2 * u


def refused_where_promised(rows: pd.DataFrame, c: float) -> pd.Series:
    """Refused rows whose bound c cond(X)^2 u < 1 promises digits: a refusal there is a
    failure of the theorem in floating point; where the bound promises nothing it is not."""
    refused = rows["status"].astype(str).str.startswith("refused")
    return refused & ~(promised(rows, c) >= 1)


def within_rounding(table: pd.DataFrame, quantity: str, method: str, name: str,
                    crit: Mapping[str, Any], what: str) -> list[Check]:
    """``what`` holds to rounding: every (case, dtype) of ``method``'s ``quantity`` rows within
    c cond(X)^2 u, no cut on cond(X). Value: the worst ratio error / bound over the cases it
    computed (<= 1 passes); refusals counted apart ("refused k of n"), never scored as an
    error: a refusal fails the row only where the bound promises digits (c cond(X)^2 u < 1).
    Re-judged across the rounding constant c (``rounding_constant_alternatives``: c is ours);
    one row per dtype (scope) besides the judged one."""
    c = float(crit["rounding_constant"])
    constants = sorted({c, *map(float, crit.get("rounding_constant_alternatives", [c]))})

    def criterion(k: float) -> str:
        return (f"{what}: max relative error / (c cond(X)^2 u) <= 1, c = {k:g}, u the unit "
                "roundoff of the dtype (every cond(X), dtype and draw; a refusal is counted "
                "apart and fails only where c cond(X)^2 u < 1)")
    rows = table[(table["quantity"] == quantity) & (table["method"] == method)]
    if rows.empty:
        return [missing(name, criterion(c), f"no {method} rows of quantity '{quantity}'")]

    def judged(part: pd.DataFrame, scope: str, k: float) -> Check:
        ratio = rounding_ratio(part, k)
        refused = part["status"].astype(str).str.startswith("refused")
        bad = refused_where_promised(part, k)
        computed = ratio[~refused]
        if computed.empty:
            value, note = math.nan, f"every one of {len(part)} cases refused"
        else:
            worst = part.loc[computed.fillna(math.inf).idxmax()]
            value = float(computed.max(skipna=False))
            note = (f"worst {worst['case']} {worst['dtype']} (cond {float(worst['cond']):.3g}, "
                    f"error {float(worst['max_rel_err']):.3g}) of {int((~refused).sum())} "
                    "computed cases")
        if refused.any():
            note += (f"; refused {int(refused.sum())} of {len(part)} (Sigma singular in the "
                     "dtype), counted apart: "
                     + (f"{int(bad.sum())} where c cond(X)^2 u < 1 promises digits "
                        f"({', '.join(f'{r.case} {r.dtype}' for r in part[bad].itertuples())})"
                        if bad.any() else "each where the bound promises none"))
        check = at_most(name, value, 1.0, criterion(k), note, scope=scope, origin=THEORY)
        return replace(check, verdict=FAIL) if bad.any() else check

    def family(part: pd.DataFrame, scope: str) -> Check:
        main = judged(part, scope, c)
        return across_tolerance(main, {k: judged(part, scope, k) for k in constants},
                                "c", decided_by="the rounding constant c (ours, not theory) "
                                "and whether a refusal counts as an error")

    out = [family(rows, "all")]
    out += [family(part, str(dtype)) for dtype, part in rows.groupby("dtype", sort=True)]
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
    return replace(at_most(
        "steps_hold", float(ratio.max(skipna=False)), 1.0, criterion,
        f"{len(steps)} steps (draw 0 of the data, deterministic rounding); worst "
        f"'{worst['quantity']}' at cond {worst['cond']:.3g}" + _refusals(steps), origin=THEORY),
        decided_by="the bound's worst-case constant n p eps (float64 only)")


def _replicates(table: pd.DataFrame) -> pd.Series:
    """Each row's draw of its case (0 for a table from before draws existed)."""
    if "replicate" in table.columns:
        return table["replicate"].astype(int)
    return pd.Series(0, index=table.index)


def error_slopes(table: pd.DataFrame, method: str, cond_min: float
                 ) -> tuple[list[float], list[int], str]:
    """Per draw of the data (``replicate``), the log-log slope of the worst float64 prediction
    error per cond(X) against cond(X), over cond >= cond_min; refused or non-finite cases are
    dropped and counted. Returns (slopes, their draws, a note)."""
    rows = table[(table["quantity"] == PREDICTION) & (table["method"] == method)
                 & (table["dtype"] == "float64") & (table["cond"] >= cond_min)]
    if rows["cond"].nunique() < 2:
        raise MissingInput(f"fewer than two float64 condition numbers >= {cond_min:g} for "
                           f"{method}: the config measures no slope")
    slopes, draws, notes = [], [], []
    for draw, part in rows.groupby(_replicates(rows), sort=True):
        # A cond whose every case was refused has a NaN worst error: fit_line drops and counts it.
        worst = part.groupby("cond")["max_rel_err"].max()
        fit = fit_line(worst.index, worst.to_numpy(), log_x=True, log_y=True)
        slopes.append(fit.slope)
        draws.append(int(draw))
        notes.append(f"draw {draw}: {fit.slope:.3f} ({fit.note})")
    return slopes, draws, (f"worst case per cond, cond {rows['cond'].min():.3g} to "
                           f"{rows['cond'].max():.3g}; " + "; ".join(notes)
                           + _refusals(rows))


def error_slope(table: pd.DataFrame, method: str, cond_min: float) -> tuple[Interval, str]:
    """The slopes of ``error_slopes`` as an interval over the draws (Student-t of the mean)."""
    slopes, draws, note = error_slopes(table, method, cond_min)
    return mean_interval(slopes, [f"draw {d}" for d in draws]), note


def _within_bound(table: pd.DataFrame) -> Check:
    ok = table[table["status"] == "ok"]
    outside = ok[~(ok["max_rel_err"] <= ok["expected_bound"])]
    return replace(at_most(
        "within_rounding_bound", float(len(outside)), 0.0,
        "cases outside the rounding bound n p eps cond(X)^k (k = 2 via Sigma, 1 QR)",
        f"{len(ok)} finite cases, every dtype" + _refusals(table), origin=THEORY),
        decided_by="the bound's worst-case constant n p eps; refusals left out")


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
    # judged on the slope's interval over the data's draws and re-judged with the band halved
    # and doubled.
    band = "the band's width (ours) and the data's draws"
    try:
        slope, detail = error_slope(table, "transformer", cond_min)
        sigma = interval_within("sigma_route_cond_squared", slope, low, high, 2.0,
                                sigma_criterion, detail)
        # the band's half-widths scaled by k: holds_where names the tightest k that passes
        sigma = across_tolerance(sigma, {k: interval_within(
            "sigma_route_cond_squared", slope, 2 - k * (2 - low), 2 + k * (high - 2), 2.0,
            sigma_criterion) for k in (0.5, 1.0, 2.0)}, "band scale", decided_by=band)
    except MissingInput as why:
        sigma = missing("sigma_route_cond_squared", sigma_criterion, str(why))
    try:
        slope, detail = error_slope(table, "qr_lstsq", cond_min)
        top = crit["qr_slope_max"]
        qr = interval_at_most("qr_cond_linear", slope, top, qr_criterion, detail)
        qr = across_tolerance(qr, {1 + k * (top - 1): interval_at_most(
            "qr_cond_linear", slope, 1 + k * (top - 1), qr_criterion) for k in (0.5, 1.0, 2.0)},
            "qr_slope_max", decided_by=band)
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
