"""Checks of the proof stage (Sec. 2), from ``proof_check.csv``.

The theorem's identities (eq. 8 and the in-context form equal OLS; the 1/n factor makes the
prediction invariant to the context's length) are judged where they are exact: the construction
run in mpmath at ``reference_digits`` digits (dtype ``mpmath<digits>``), against the rounding of
that arithmetic, u_d (sqrt(n) p + cond(X)^2) with u_d = 10^(1-d) / 2 (``ols.rounding_bound``, a
theory bound: no tolerance of ours). A false identity would differ at O(1), or at ~1e-16 were it
exact only in float64. Floating point is judged apart, by its error law (``rounding_error_law``):
error <= u (a sqrt(n) p + b cond(X)^2) with a, b fitted over every float case and dtype, of order
1 (at most ``error_law_constant_max``); ``steps_hold`` holds the proof's steps to the same law.

Criteria (config ``proof.criteria``, each with its origin in ``proof.criteria_origin``):
- ``error_law_constant_max``: the largest a, b of the error law that is still "order 1";
- ``rounding_constant``: c of the rounding bound c cond(X)^2 u (u the unit roundoff of the
  dtype) that judges the theorem in floating point, on every cond(X) and dtype: a route through
  Sigma = X^T X / n (cond(Sigma) = cond(X)^2) loses at most that, and least squares itself is
  that sensitive (its cond^2 tan(theta) term), so every route is held to it. A case the
  construction refuses (Sigma singular in the dtype) is counted apart ("refused k of n"),
  never scored as an error in the headline number; it fails the row only where the bound
  promises digits (c cond(X)^2 u < 1). Judges the normal equations and QR (stage summary); the c
  that would flip a row is in its detail (``rounding_constant_alternatives``: the grid shown);
- ``slope_cond_min``: error-growth slopes are fitted over cond(X) >= this (below it the error
  sits at the rounding floor and carries no slope);
- ``sigma_route_slope_min``/``max``: the Sigma route's log-log slope ("grows like cond^2");
- ``qr_slope_max``: QR's slope ("grows at most like cond^1").

The slopes are fitted per draw of the data (``data.replicates``) and judged on their Student-t
interval over the draws (PASS only when the whole interval is inside the band).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..ols import fit_rounding_law, rounding_bound
from ..stats import Interval, mean_interval
from . import (
    BY_CRITERION,
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
    passing_bound,
    require,
)

COLUMNS = ("case", "dtype", "method", "quantity", "cond", "max_rel_err", "expected_bound",
           "status")
# Unit roundoff u = eps / 2 of each dtype (round to nearest).
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24}
PREDICTION, DUPLICATED = "prediction", "duplicated context"
STEPS = ("W W^T = Sigma^-1", "beta_hat = W c", "scores = hat matrix")
EXACT = "mpmath"  # dtype prefix of the construction run in mpmath (experiments.proof.EXACT)
THEOREM_FORMS = {"transformer": "transformer_equals_ols",
                 "transformer_in_context": "in_context_equals_ols"}


def _is_exact(table: pd.DataFrame) -> pd.Series:
    return table["dtype"].astype(str).str.startswith(EXACT)


def exact_identity(table: pd.DataFrame, quantity: str, methods: Sequence[str], name: str,
                   what: str) -> Check:
    """``what`` as an identity in mpmath: every small case's relative difference (the
    ``methods``' ``quantity`` rows of dtype mpmath<d>) within the d-digit rounding bound
    u_d (sqrt(n) p + cond(X)^2) (``ols.rounding_bound``, theory). Value: the worst ratio."""
    criterion = (f"{what}, the construction in mpmath: max relative difference / (u_d (sqrt(n) "
                 "p + cond(X)^2)) <= 1, u_d = 10^(1-d)/2 at d digits (every small case; theory: "
                 "the rounding of d-digit arithmetic, no tolerance of ours)")
    rows = table[_is_exact(table) & (table["quantity"] == quantity)
                 & table["method"].isin(list(methods))]
    if rows.empty:
        return missing(name, criterion, "no mpmath rows in proof_check.csv (a table from before "
                       "the exact check, or proof.exact_max_n below every case's n)")
    digits = rows["dtype"].astype(str).str[len(EXACT):].astype(int)
    u = 0.5 * 10.0 ** (1 - digits)
    bound = rounding_bound(rows["n"], rows["p"], rows["cond_measured"].astype(float), u)
    ratio = rows["max_rel_err"].fillna(math.inf) / bound
    worst = rows.loc[ratio.idxmax()]
    check = at_most(name, float(ratio.max()), 1.0, criterion,
                    f"{len(rows)} cases ({', '.join(sorted(rows['method'].unique()))}), "
                    f"{int(digits.iloc[0])} digits; worst {worst['case']} {worst['method']} "
                    f"(cond {float(worst['cond']):.3g}): relative difference "
                    f"{float(worst['max_rel_err']):.3g}, {float(ratio.max()):.3g} of the bound "
                    f"(largest difference over the cases {float(rows['max_rel_err'].max()):.3g}; "
                    "a float64-exact identity would leave ~1e-16)", origin=THEORY)
    return replace(check, decided_by=f"{BY_CRITERION}: the d-digit rounding bound (theory)")


def error_law(table: pd.DataFrame, crit: Mapping[str, Any]) -> Check:
    """The floating-point error law of the covariance route: every float prediction of the
    OLS-Transformer (both forms, every dtype, case and draw) within u (a sqrt(n) p + b
    cond(X)^2), with (a, b) the smallest constants covering them (``ols.fit_rounding_law``).
    Value: max(a, b), at most ``error_law_constant_max`` (order 1). The rival laws (errors
    growing like n p or like cond^3) would need constants growing with n or cond."""
    top = float(crit["error_law_constant_max"])
    name = "rounding_error_law"
    criterion = (f"max(a, b) <= {top:g} (order 1), (a, b) the smallest constants with relative "
                 "error <= u (a sqrt(n) p + b cond(X)^2) for every float prediction (both forms, "
                 "every dtype, case and draw)")
    rows = table[(table["quantity"] == PREDICTION) & table["method"].isin(list(THEOREM_FORMS))
                 & ~_is_exact(table) & (table["status"] == "ok")]
    if rows.empty:
        return missing(name, criterion, "no float prediction rows of the transformer")
    u = rows["dtype"].map(UNIT_ROUNDOFF).astype(float)
    cond = (rows["cond_measured"] if "cond_measured" in rows.columns else rows["cond"])
    # a computed case with a non-finite error is no refusal: no finite constant covers it
    err = rows["max_rel_err"].astype(float).fillna(math.inf)
    a, b = fit_rounding_law(rows["n"], rows["p"], cond.astype(float), u, err)
    refused = table[(table["quantity"] == PREDICTION) & table["method"].isin(list(THEOREM_FORMS))
                    & ~_is_exact(table) & (table["status"] != "ok")]
    check = at_most(name, max(a, b), top, criterion,
                    f"a = {a:.3g}, b = {b:.3g} over {len(rows)} predictions"
                    + (f"; {len(refused)} refused (Sigma singular in the dtype), left out"
                       if len(refused) else ""), origin=THEORY)
    check = replace(check, criterion_name="error_law_constant_max")
    return across_tolerance(check, None, "error_law_constant_max",
                            flips_at=passing_bound(check))


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
        # the ratio scales as 1/c: the row passes for c >= c x (its ratio at c); with refusals
        # (which fail it where c cond^2 u < 1 promises digits) the grid says where
        main = replace(judged(part, scope, c), criterion_name="rounding_constant")
        refusals = part["status"].astype(str).str.startswith("refused").any()
        return across_tolerance(main, {k: judged(part, scope, k) for k in constants}, "c",
                                flips_at=None if refusals else c * passing_bound(main))

    out = [family(rows, "all")]
    out += [family(part, str(dtype)) for dtype, part in rows.groupby("dtype", sort=True)]
    return out


def _steps(table: pd.DataFrame, crit: Mapping[str, Any]) -> Check:
    # Each step goes through Sigma, so in float64 it holds to the covariance route's error law
    # u (a sqrt(n) p + b cond(X)^2) with order-1 constants: a = b = error_law_constant_max.
    k = float(crit["error_law_constant_max"])
    steps = table[table["quantity"].isin(STEPS) & (table["method"] == "transformer")
                  & (table["dtype"] == "float64")]
    criterion = (f"max relative error / (u (k sqrt(n) p + k cond(X)^2)) <= 1, k = {k:g} "
                 "(error_law_constant_max; float64, every cond)")
    if steps.empty:
        return missing("steps_hold", criterion, "no float64 proof-step rows")
    cond = steps["cond_measured"] if "cond_measured" in steps.columns else steps["cond"]
    bound = rounding_bound(steps["n"], steps["p"], cond.astype(float), UNIT_ROUNDOFF["float64"],
                           k, k)
    ratio = steps["max_rel_err"] / bound
    worst = steps.loc[ratio.fillna(np.inf).idxmax()]
    check = replace(at_most(
        "steps_hold", float(ratio.max(skipna=False)), 1.0, criterion,
        f"{len(steps)} steps (draw 0 of the data, deterministic rounding); worst "
        f"'{worst['quantity']}' at cond {worst['cond']:.3g}" + _refusals(steps), origin=THEORY),
        criterion_name="error_law_constant_max")
    # the ratio scales as 1/k: it passes for k >= k x ratio
    return across_tolerance(check, None, "error_law_constant_max",
                            flips_at=k * passing_bound(check))


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


def length_invariance(table: pd.DataFrame) -> Check:
    """Sec. 2.1: with every context pair duplicated (n -> 2n), the 1/n factor leaves the
    prediction unchanged: an identity, judged for both forms at once (eq. 8 and in context) in
    mpmath (``exact_identity``). Without the factor it would double (relative change 1)."""
    return exact_identity(table, DUPLICATED, list(THEOREM_FORMS),
                          "invariant_to_sequence_length",
                          "prediction with every context pair duplicated vs as given (both "
                          "forms; without the 1/n factor the change would be 1)")


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
    band = f"{BY_CRITERION}: the band's width and the data's draws"
    try:
        slope, detail = error_slope(table, "transformer", cond_min)
        sigma = interval_within("sigma_route_cond_squared", slope, low, high, 2.0,
                                sigma_criterion, detail)
        # the band's half-widths scaled by k: the interval lies inside for k >= this
        scale = (max((2 - slope.low) / (2 - low), (slope.high - 2) / (high - 2))
                 if math.isfinite(slope.low) and math.isfinite(slope.high) else math.nan)
        sigma = across_tolerance(replace(sigma, criterion_name="sigma_route_slope_min"), None,
                                 "the band's scale (1: as stated)", decided_by=band,
                                 flips_at=scale)
    except MissingInput as why:
        sigma = missing("sigma_route_cond_squared", sigma_criterion, str(why))
    try:
        slope, detail = error_slope(table, "qr_lstsq", cond_min)
        top = crit["qr_slope_max"]
        qr = replace(interval_at_most("qr_cond_linear", slope, top, qr_criterion, detail),
                     criterion_name="qr_slope_max")
        qr = across_tolerance(qr, None, "qr_slope_max", decided_by=band,
                              flips_at=passing_bound(qr))
    except MissingInput as why:
        qr = missing("qr_cond_linear", qr_criterion, str(why))
    theorem = "prediction vs high-precision OLS"
    floats = table[~_is_exact(table)]
    return [
        exact_identity(table, PREDICTION, ["transformer"], "transformer_equals_ols",
                       "eq.-8 forward pass vs OLS"),
        exact_identity(table, PREDICTION, ["transformer_in_context"], "in_context_equals_ols",
                       "x W W^T (1/n) X^T y vs OLS"),
        length_invariance(table),
        error_law(floats, crit),
        *within_rounding(floats, PREDICTION, "normal_equations", "normal_equations_equal_ols",
                         crit, theorem),
        *within_rounding(floats, PREDICTION, "qr_lstsq", "qr_equals_ols", crit, theorem),
        _steps(floats, crit),
        sigma,
        qr,
        _within_bound(floats),
    ]
