"""Checks of the nist stage (the OLS-Transformer on NIST's StRD), from ``nist_lre.csv``.

Digits are the LRE of the fitted values as a whole (``lre_fitted``); a refused route keeps 0
digits (a user gets no fit). Criteria (config ``nist.criteria``):

- ``fitted_digits_min`` (ours): the OLS-Transformer (the paper's eigen route, unscaled) keeps
  at least this many digits on every lower- and average-difficulty dataset; a refusal is counted
  apart (not as 0 digits in the headline) and fails the row. The SVD route with column scaling,
  not the paper's, is a row of its own (``fitted_digits_svd_scaled``), never an alternative of
  the paper's;
- ``lstsq_gap_max`` (ours): the SVD route with column scaling (float64) is within this many
  digits of numpy's lstsq on every dataset;
- ``cond_law_band`` (ours): the covariance (eigen) routes keep at least the digits of their
  rounding law (``nist.law_digits``: u (sqrt(n) p + 2 cond(X)^2), ``ols.rounding_bound``, the
  law the proof stage fits; theory), less this band; refusing counts as 0 digits;
- no route calls a design rank deficient when its exact cond(X) is below 1 / (max(n, p) eps),
  the rank tolerance of its dtype (theory).

Each row is judged at its stated criterion and the value that would flip it is in its detail
(exact, from the measurement; the ``*_alternatives`` grid where a refusal decides it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..nist import law_digits as law_digits_of
from . import (
    BY_CRITERION,
    THEORY,
    Check,
    across_tolerance,
    at_least,
    at_most,
    missing,
    passing_bound,
    reported,
    require,
)

COLUMNS = ("dataset", "difficulty", "route", "method", "whitening", "scaled", "dtype", "n", "p",
           "cond_used", "digits_law", "status", "lre_fitted")
MAIN_ROUTE = "transformer_eigh"  # the OLS-Transformer as the paper writes it
F64_TRANSFORMERS = ("transformer_eigh", "transformer_eigh_scaled", "transformer_svd",
                    "transformer_svd_scaled")
EPS = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}


def digits(rows: pd.DataFrame) -> pd.Series:
    """Digits of the fitted values per row; a refused route keeps 0."""
    ok = rows["status"] == "ok"
    return rows["lre_fitted"].where(ok, 0.0).astype(float)


def _route(table: pd.DataFrame, route: str, dtype: str = "float64") -> pd.DataFrame:
    return table[(table["route"] == route) & (table["dtype"] == dtype)]


def _worst(rows: pd.DataFrame, values: pd.Series) -> str:
    at = values.idxmin()
    return f"{rows.loc[at, 'dataset']} ({values[at]:.3g})"


# ---- (i) digits of the OLS-Transformer on the lower and average datasets -----------------------

def _fitted_digits(table: pd.DataFrame, route: str, bound: float,
                   name: str = "fitted_digits_lower_average") -> Check:
    """Digits of ``route`` on the lower and average datasets: the headline is the fewest
    digits over the datasets it fitted; a refusal is counted apart ("refused k of n"), never
    scored as 0 digits in that number, and fails the row (a user gets no fit)."""
    rows = _route(table, route)
    rows = rows[rows["difficulty"].isin(["lower", "average"])]
    criterion = (f"digits of the fitted values >= {bound:g} on every lower and average dataset "
                 f"({route}, float64; a refusal counted apart, and failing)")
    if rows.empty:
        return missing(name, criterion, f"no float64 {route} rows")
    ok = rows["status"] == "ok"
    refused = rows[~ok]["dataset"].tolist()
    fitted = rows[ok]
    if fitted.empty:
        check = at_least(name, float("nan"), bound, criterion,
                         f"{route}: refused {len(refused)} of {len(rows)}")
    else:
        values = fitted["lre_fitted"].astype(float)
        check = at_least(name, float(values.min()), bound, criterion,
                         f"{route}: worst {_worst(fitted, values)} of {len(fitted)} fitted"
                         + (f"; refused {len(refused)} of {len(rows)} "
                            f"({', '.join(refused)})" if refused else ""))
    return replace(check, verdict="FAIL") if refused else check


def fitted_digits(table: pd.DataFrame, crit: Mapping[str, Any],
                  route: str = MAIN_ROUTE, name: str = "fitted_digits_lower_average") -> Check:
    """The digits row of one route (default the paper's: W from the eigenvalues of Sigma,
    unscaled), re-judged across the digit thresholds (the one choice of the criterion that
    decides it); another route is a row of its own, never an alternative of this one."""
    bounds = [float(crit["fitted_digits_min"]),
              *map(float, crit.get("fitted_digits_alternatives", []))]
    main = replace(_fitted_digits(table, route, bounds[0], name),
                   criterion_name="fitted_digits_min")
    refused = (_route(table, route)["status"] != "ok").any()
    return across_tolerance(main, {b: _fitted_digits(table, route, b, name) for b in bounds},
                            "fitted_digits_min", f"{BY_CRITERION}: fitted_digits_min and a "
                            "refusal counted as a failure", looser="<=",
                            flips_at=None if refused else passing_bound(main))


# ---- (ii) the SVD route with column scaling against lstsq -----------------------------------

def _lstsq_gap(table: pd.DataFrame, bound: float, route: str) -> Check:
    criterion = (f"lstsq's digits - {route}'s <= {bound:g} on every dataset (fitted values, "
                 "float64)")
    ours = _route(table, route).set_index("dataset")
    ref = _route(table, "lstsq").set_index("dataset")
    common = [d for d in ours.index if d in ref.index]
    if not common:
        return missing("svd_scaled_near_lstsq", criterion, f"no float64 {route} and lstsq rows")
    gap = digits(ref.loc[common]) - digits(ours.loc[common])
    worst = gap.idxmax()
    misses = gap[gap > bound]
    detail = (f"largest gap {gap[worst]:.2f} digits on {worst} ({route} "
              f"{digits(ours.loc[[worst]]).iloc[0]:.2f} vs lstsq "
              f"{digits(ref.loc[[worst]]).iloc[0]:.2f}); {route} ahead on "
              f"{int((gap < 0).sum())} of {len(gap)}")
    if len(misses):
        detail += "; misses the band by " + ", ".join(
            f"{v - bound:.2f} on {d}" for d, v in misses.sort_values(ascending=False).items())
    return at_most("svd_scaled_near_lstsq", float(gap.max()), bound, criterion, detail)


def lstsq_gap(table: pd.DataFrame, crit: Mapping[str, Any]) -> Check:
    bounds = [float(crit["lstsq_gap_max"]), *map(float, crit.get("lstsq_gap_alternatives", []))]
    route = "transformer_svd_scaled"
    main = replace(_lstsq_gap(table, bounds[0], route), criterion_name="lstsq_gap_max")
    return across_tolerance(main, None, "lstsq_gap_max", flips_at=passing_bound(main))


# ---- (iii) the covariance route against its rounding law ------------------------------------

def law_digits(rows: pd.DataFrame) -> pd.Series:
    """The digits the covariance route's rounding law leaves, per row (``nist.law_digits``:
    u (sqrt(n) p + 2 cond(X)^2), ``ols.rounding_bound``, the law the proof stage fits)."""
    return pd.Series([law_digits_of(float(r.n), float(r.p), float(r.cond_used), EPS[r.dtype], 2)
                      for r in rows.itertuples()], index=rows.index, dtype=float)


def _covariance_rows(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["method"] == "transformer") & (table["whitening"] == "eigh")]


def _cond_law(table: pd.DataFrame, band: float) -> Check:
    rows = _covariance_rows(table)
    criterion = (f"digits >= -log10(u (sqrt(n) p + 2 cond(X)^2)) - {band:g} (~16 - 2 log10 "
                 "cond(X) in float64) for every covariance-route row (scaled or not, every "
                 "dtype; refused = 0 digits)")
    if rows.empty:
        return missing("covariance_route_cond_law", criterion, "no covariance-route rows")
    law = law_digits(rows)
    deficit = law - digits(rows)
    worst = deficit.idxmax()
    excess = -deficit
    top = excess.idxmax()

    def label(i: Any) -> str:
        return f"{rows.loc[i, 'dataset']}/{rows.loc[i, 'route']}/{rows.loc[i, 'dtype']}"

    return at_most(
        "covariance_route_cond_law", float(deficit.max()), band, criterion,
        f"{len(rows)} rows; furthest below the law: {label(worst)} by {deficit[worst]:.2f} "
        f"digits (law {law[worst]:.2f}); the law is a bound, not an "
        f"estimate: {label(top)} beats it by {excess[top]:.2f} digits; "
        f"{int((rows['status'] != 'ok').sum())} refusals, at law <= "
        f"{law[rows['status'] != 'ok'].max():.2f} digits",
        origin=THEORY)


def cond_law(table: pd.DataFrame, crit: Mapping[str, Any]) -> Check:
    bands = [float(crit["cond_law_band"]), *map(float, crit.get("cond_law_band_alternatives", []))]
    main = replace(_cond_law(table, bands[0]), criterion_name="cond_law_band")
    return across_tolerance(main, None, "cond_law_band", f"{BY_CRITERION}: cond_law_band; "
                            "refusal = 0 digits", flips_at=passing_bound(main))


# ---- refusals: rank deficient only where the dtype cannot tell X's rank ---------------------

def rank_honest(table: pd.DataFrame) -> Check:
    """Rows refused as rank deficient although X (as the route uses it) has full numerical rank
    at its dtype's tolerance: exact cond(X) < 1 / (max(n, p) eps). Must be none."""
    criterion = ("rows refused as rank deficient with exact cond(X) < 1 / (max(n, p) eps) "
                 "(X of full numerical rank in that dtype) = 0")
    rank_refused = table[table["status"] == "refused: RankDeficientError"]
    limit = 1.0 / (np.maximum(rank_refused["n"], rank_refused["p"])
                   * rank_refused["dtype"].map(EPS))
    wrong = rank_refused[rank_refused["cond_used"].astype(float) < limit]
    refused = table[table["status"] != "ok"]
    detail = (f"{len(refused)} refusals, {len(rank_refused)} as rank deficient"
              + ("; wrongly: " + ", ".join(f"{r.dataset}/{r.route}/{r.dtype}"
                                           for r in wrong.itertuples()) if len(wrong) else ""))
    return replace(at_most("rank_refusals_honest", float(len(wrong)), 0.0, criterion, detail,
                           origin=THEORY),
                   decided_by=f"{BY_CRITERION}: the rank tolerance max(n, p) eps of the dtype "
                   "(theory)")


# ---- reported: the best transformer route per dataset --------------------------------------

def best_transformer(table: pd.DataFrame) -> list[Check]:
    """Per dataset, the float64 transformer route keeping the most digits (and lstsq's)."""
    out = []
    rows = table[(table["method"] == "transformer") & (table["dtype"] == "float64")]
    lstsq = _route(table, "lstsq").set_index("dataset")
    for dataset, group in rows.groupby("dataset", sort=False):
        values = digits(group)
        best = values.idxmax()
        ref = (f"; lstsq {digits(lstsq.loc[[dataset]]).iloc[0]:.2f}"
               if dataset in lstsq.index else "")
        out.append(reported("best_transformer_digits", float(values[best]),
                            "most digits of the fitted values over the float64 transformer "
                            "routes", f"{group.loc[best, 'route']}{ref}", scope=str(dataset)))
    return out


def checks(table: pd.DataFrame | None, criteria: Mapping[str, Any]) -> list[Check]:
    """Every check of the nist stage, from ``nist_lre.csv``."""
    table = require(table, "nist_lre", COLUMNS)
    return [fitted_digits(table, criteria),
            fitted_digits(table, criteria, "transformer_svd_scaled", "fitted_digits_svd_scaled"),
            lstsq_gap(table, criteria), cond_law(table, criteria),
            rank_honest(table), *best_transformer(table)]
