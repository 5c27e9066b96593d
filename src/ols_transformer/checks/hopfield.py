"""Checks of the Hopfield capacity study (Sec. 4), from ``hopfield_capacity.csv``.

The growth law of each model is fitted on the mean capacity over seeds per N (``growth``); the
claims judge it (config ``hopfield.criteria``):
- ``linear_slope_min``/``max``: log-log slope of capacity on N for linear attention;
- ``poly_slope_tol``: F(x) = x^n, local log-log slope at the largest N within this of n - 1
  (the ln N factor of the theory lowers it by ~1/ln N at the N simulated);
- ``exp_loglog_slope_min``: exponential growth, local log-log slope at the largest N above that
  of the steepest power law of Section 4's table (x^4: N^3).
A local slope (between the two largest N) compares growth laws across different N ranges: a
power law N^k has the constant local slope k, exponential growth one that keeps rising.
A claim whose model was not simulated is MISSING, never judged on another model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import pandas as pd

from ..hopfield_theory import MODELS, TIERS, theory
from . import Check, Fit, at_least, at_most, fit_line, missing, require, within

COLUMNS = ("model", "N", "seed", "capacity", "rho", "censored")


def mean_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """Mean capacity over seeds per (model, N), as columns model, N, capacity."""
    return table.groupby(["model", "N"], as_index=False, sort=False)["capacity"].mean()


def growth(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_growth: per model, fits of the mean capacity on N next to the paper's law.

    loglog_slope: slope of ln C on ln N (a power law N^k gives k); semilog_rate: slope of ln C on
    N (exp(alpha N) gives alpha); local_loglog_slope: between the two largest N. A mean
    capacity of 0 has no logarithm: such points are left out of the fits and counted.
    """
    rows = []
    for model, at in table.groupby("model", sort=False):
        mean = at.groupby("N")["capacity"].mean().sort_index()
        N, C = mean.index.to_numpy(dtype=float), mean.to_numpy(dtype=float)
        power = fit_line(N, C, log_x=True, log_y=True)
        expo = fit_line(N, C, log_y=True)
        local = fit_line(N[-2:], C[-2:], log_x=True, log_y=True) if len(N) >= 2 else \
            Fit(math.nan, math.nan, math.nan, 0, len(N))
        rho = float(at["rho"].iloc[0])
        law = theory(str(model), rho)
        rows.append({
            "model": model, "N_min": int(N.min()), "N_max": int(N.max()), "n_N": len(N),
            "points_dropped": power.dropped,
            "capacity_at_N_min": C[0], "capacity_at_N_max": C[-1],
            "loglog_slope": power.slope, "loglog_r2": power.r2,
            "semilog_rate": expo.slope, "semilog_r2": expo.r2,
            "local_loglog_slope": local.slope,
            "better_fit": ("exponential" if expo.r2 > power.r2 else "power")
            if not math.isnan(expo.r2 + power.r2) else "",
            "theory_law": law.law, "theory": law.description,
            "theory_loglog_slope": law.loglog_slope, "theory_rate": law.rate,
            "theory_rate_upper": law.rate_upper, "rho": rho,
            "censored_runs": int(pd.Series(at["censored"]).astype(str).str.lower()
                                 .isin({"true", "1"}).sum()),
        })
    return pd.DataFrame(rows)


def _fits(table: pd.DataFrame) -> dict[str, pd.Series]:
    return {str(row["model"]): row for _, row in growth(table).iterrows()}


def _where(row: pd.Series) -> str:
    dropped = f", {int(row['points_dropped'])} zero-capacity N dropped" \
        if row["points_dropped"] else ""
    return (f"capacity {row['capacity_at_N_min']:.4g} at N={int(row['N_min'])} to "
            f"{row['capacity_at_N_max']:.4g} at N={int(row['N_max'])} ({int(row['n_N'])} N"
            f"{dropped})")


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    table = require(table, "hopfield_capacity", COLUMNS)
    fits = _fits(table)
    out = []

    low, high = criteria["linear_slope_min"], criteria["linear_slope_max"]
    criterion = f"log-log slope of capacity on N in [{low:g}, {high:g}]"
    if "linear_attention" in fits:
        row = fits["linear_attention"]
        out.append(within("linear_capacity_linear", row["loglog_slope"], low, high, 1.0,
                          criterion, "linear_attention: " + _where(row)))
    else:
        out.append(missing("linear_capacity_linear", criterion,
                           "linear_attention was not simulated in this run"))

    bound = criteria["exp_loglog_slope_min"]
    for model in ("exponential", "softmax"):
        criterion = f"local log-log slope at the largest N >= {bound:g} (steeper than N^3)"
        name = f"{model}_capacity_exponential"
        if model in fits:
            row = fits[model]
            out.append(at_least(name, row["local_loglog_slope"], bound, criterion,
                                f"{model}: " + _where(row)))
        else:
            out.append(missing(name, criterion, f"{model} was not simulated in this run"))

    tol = criteria["poly_slope_tol"]
    criterion = f"|local log-log slope at the largest N - (n - 1)| <= {tol:g} (x^n energies)"
    poly = {m: fits[m] for m, spec in MODELS.items() if spec.law == "power" and m in fits}
    if poly:
        gaps = {m: abs(row["local_loglog_slope"] - MODELS[m].exponent) for m, row in poly.items()}
        worst = max(gaps, key=lambda m: math.inf if math.isnan(gaps[m]) else gaps[m])
        out.append(at_most("polynomial_capacity_power", gaps[worst], tol, criterion, "; ".join(
            f"{m}: local slope {row['local_loglog_slope']:.3f} (theory "
            f"{MODELS[m].exponent:g}), {_where(row)}" for m, row in poly.items())))
    else:
        out.append(missing("polynomial_capacity_power", criterion,
                           "no x^n model was simulated in this run"))

    tiers = [(tier, [fits[m]["local_loglog_slope"] for m, s in MODELS.items()
                     if s.tier == tier and m in fits]) for tier in TIERS]
    tiers = [(tier, values) for tier, values in tiers if values]
    criterion = ("smallest step between consecutive tiers of local log-log slopes (linear, x^3, "
                 "x^4, exponential) > 0")
    if len(tiers) < 2:
        out.append(missing("growth_order", criterion,
                           "fewer than two growth tiers were simulated in this run"))
    else:
        # > 0 when every model of a tier grows faster than every model of the tier below.
        gap = min(min(upper) - max(lower) for (_, lower), (_, upper) in itertools.pairwise(tiers))
        out.append(Check("growth_order", gap, criterion, 0.0, "PASS" if gap > 0 else "FAIL",
                         " < ".join(f"{t} {'/'.join(f'{v:.3g}' for v in vs)}" for t, vs in tiers)))
    return out
