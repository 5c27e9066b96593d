"""Checks of the covariance-shift study (Sec. 3), from ``covariance_shift.csv``.

Criteria (config ``shift.criteria``):
- ``identity_rtol``: eq. 10, the probed distortion and the oracle are identities in float64;
- ``noise_band``: sampling checks, measured / predicted noise within [1/band, band] (or <=);
- ``slope_tol``: measured vs predicted distortion, |slope - 1| at the largest context size.

One row per check with scope "all" (what a claim is judged on: the worst family or m), and
REPORTED rows with the per-(family, m) distortion slopes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import Check, at_most, missing, reported, require, truthy, within

COLUMNS = ("family", "magnitude", "m", "seed", "no_shift", "eq10_residual", "probe_residual",
           "oracle_vs_context_ols", "eq10_noise_ratio", "relerr_ols", "relerr_ols_theory",
           "transformer_vs_ols", "no_shift_band", "distortion_predicted", "distortion_measured")


def rms(values: pd.Series) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(values, dtype=float)))))


def slope_through_origin(x: pd.Series, y: pd.Series) -> float:
    """Least-squares slope of y = s x (no intercept)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float((x * y).sum() / (x * x).sum())


def _worst(values: dict[str, float], key=lambda v: v) -> str:
    """The entry of ``values`` with the largest key(value); NaN counts as the largest."""
    return max(values, key=lambda k: np.inf if np.isnan(values[k]) else key(values[k]))


def _identity(table: pd.DataFrame, name: str, column: str, rtol: float, what: str) -> Check:
    per_family = table.groupby("family", sort=True)[column].max().to_dict()
    worst = _worst(per_family)
    return at_most(name, float(table[column].max(skipna=False)), rtol, f"{what} <= {rtol:g}",
                   f"max over {len(table)} settings (worst family {worst})")


def distortion_slopes(table: pd.DataFrame) -> dict[tuple[str, int], float]:
    """(family, m) -> slope of measured ||D - I||_F on the population prediction, through the
    origin, over the shifted settings."""
    shifted = table[~truthy(table["no_shift"])]
    return {(str(f), int(m)): slope_through_origin(rows["distortion_predicted"],
                                                   rows["distortion_measured"])
            for (f, m), rows in shifted.groupby(["family", "m"], sort=True)}


def checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    table = require(table, "covariance_shift", COLUMNS)
    rtol, band, slope_tol = (criteria["identity_rtol"], criteria["noise_band"],
                             criteria["slope_tol"])
    families = table.groupby("family", sort=True)
    out = [
        _identity(table, "eq10_identity", "eq10_residual", rtol,
                  "max |y_tf - (X' S_tr^-1 S_te b + X' S_tr^-1 X'^T e'/m)| / max |y_tf|"),
        _identity(table, "probe_identity", "probe_residual", rtol,
                  "distortion probed from the model's predictions vs S_tr^-1 S_te, relative"),
        _identity(table, "oracle_is_context_ols", "oracle_vs_context_ols", rtol,
                  "W W^T = S_te^-1 from the context vs in-context OLS (lstsq), relative"),
    ]
    # Noise term: RMS of ||y_tf - eq. 10 first term|| / its expected norm, per family; the
    # family farthest from 1 (on a log scale) is judged.
    noise = {f: rms(rows["eq10_noise_ratio"]) for f, rows in families}
    worst = _worst(noise, key=lambda v: abs(np.log(v)))
    out.append(within("eq10_noise_term", noise[worst], 1 / band, band, 1.0,
                      f"RMS ||y_tf - eq.10 first term|| / expected noise-term norm in "
                      f"[{1 / band:.3g}, {band:g}] (every family)",
                      "; ".join(f"{f} {v:.3g}" for f, v in noise.items())))
    ols = {f: rms(rows["relerr_ols"]) / rms(rows["relerr_ols_theory"]) for f, rows in families}
    worst = _worst(ols)
    out.append(at_most("static_ols_undistorted", ols[worst], band,
                       f"RMS error of static OLS / its O(1/n) theory <= {band:g} (every family)",
                       f"worst family {worst}; " + "; ".join(f"{f} {v:.3g}"
                                                             for f, v in ols.items())))
    still = table[truthy(table["no_shift"])]
    if still.empty:
        out.append(missing("no_shift_matches_ols", f"RMS ||y_tf - y_ols|| / sampling band <= "
                           f"{band:g}", "no no-shift settings in covariance_shift.csv"))
    else:
        ratios = {int(m): rms(rows["transformer_vs_ols"]) / rms(rows["no_shift_band"])
                  for m, rows in still.groupby("m")}
        worst_m = _worst(ratios)
        out.append(at_most("no_shift_matches_ols", ratios[worst_m], band,
                           f"RMS ||y_tf - y_ols|| / predicted sampling band <= {band:g} "
                           "(no shift, every m)",
                           f"worst at m={worst_m}; " + "; ".join(f"m={m} {v:.3g}"
                                                                for m, v in ratios.items())))
    slopes = distortion_slopes(table)
    criterion = (f"|slope - 1| <= {slope_tol:g}, slope of measured on predicted ||D - I||_F "
                 "through the origin (worst family, largest m)")
    if not slopes:
        out.append(missing("distortion_agreement", criterion,
                           "no shifted settings in covariance_shift.csv"))
        return out
    largest = max(m for _, m in slopes)
    at_largest = {f: s for (f, m), s in slopes.items() if m == largest}
    worst = _worst(at_largest, key=lambda s: abs(s - 1))
    out.append(at_most("distortion_agreement", abs(at_largest[worst] - 1), slope_tol, criterion,
                       f"m={largest}; slopes " + ", ".join(f"{f} {s:.3f}"
                                                         for f, s in at_largest.items())))
    out.extend(reported("distortion_slope", s, "slope of measured on predicted ||D - I||_F",
                        scope=f"{f}, m={m}") for (f, m), s in slopes.items())
    return out
