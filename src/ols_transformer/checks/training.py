"""Checks of Figure 1 (Sec. 2.3), from ``fig1_headline.csv`` (one row per seed).

Criteria (config ``training.criteria``):
- ``w_rel_tol``: | |w| / w* - 1 | at the last epoch (w and -w give the same model);
- ``alignment_epochs``: "aligned within ~1000 epochs", the slowest seed's first epoch with a
  relative distance to OLS below ``training.alignment_tol``;
- ``mse_rel_tol``: | final MSE / OLS residual MSE - 1 |, the noise floor.
The paper's "synchronized monotonic decay" is judged by the epochs whose MSE rose (beyond
float64 rounding): none, before or after the first aligned epoch.

The sensitivity grid (``fig1_sensitivity.csv``, ``sweep_checks``) reports, per
parameterisation, the share of its (learning rate, w0, n, seed) points where "aligned within
``alignment_epochs``" holds: numbers for context, REPORTED, judged by nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from . import Check, at_most, missing, reported, require


def _worst_seed(head: pd.DataFrame, values: pd.Series) -> str:
    seed = head.loc[values.fillna(math.inf).idxmax(), "seed"]
    return f"worst seed {seed} of {len(head)}"


def checks(head: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    head = require(head, "fig1_headline", ("seed", "rel_w_error", "alignment_epoch",
                                           "alignment_tol", "mse_excess_over_ols", "ols_mse",
                                           "mse_rises_before_alignment",
                                           "mse_rises_after_alignment"))
    w_error = head["rel_w_error"].abs()
    epochs = head["alignment_epoch"].astype(float)
    never = head.loc[epochs < 0, "seed"].tolist()  # -1: never below the tolerance
    tol = f"relative distance < {head['alignment_tol'].iloc[0]:g}"
    excess = head["mse_excess_over_ols"].abs()
    before = head["mse_rises_before_alignment"].sum()
    after = head["mse_rises_after_alignment"].sum()
    return [
        at_most("w_converges_to_w_star", float(w_error.max(skipna=False)), criteria["w_rel_tol"],
                f"max over seeds of | |w|/w* - 1 | <= {criteria['w_rel_tol']:g}",
                _worst_seed(head, w_error)),
        at_most("aligned_within_1000_epochs", math.inf if never else float(epochs.max()),
                criteria["alignment_epochs"],
                f"slowest seed's first aligned epoch ({tol}) <= "
                f"{criteria['alignment_epochs']:g}",
                f"seeds {never} never aligned" if never else f"slowest of {len(head)} seeds"),
        at_most("mse_at_noise_floor", float(excess.max(skipna=False)), criteria["mse_rel_tol"],
                f"max over seeds of |final MSE / OLS MSE - 1| <= {criteria['mse_rel_tol']:g}",
                f"OLS residual MSE {head['ols_mse'].min():.4g} to {head['ols_mse'].max():.4g}; "
                + _worst_seed(head, excess)),
        at_most("monotone_decay", float(before + after), 0.0,
                "epochs whose training MSE rose (by more than float64 rounding), every seed: 0",
                f"{int(before)} before the first aligned epoch, {int(after)} from it on, "
                f"over {len(head)} seeds"),
    ]


def sweep_checks(table: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    """Per parameterisation: the share of the sensitivity grid aligned within
    ``alignment_epochs`` (REPORTED)."""
    table = require(table, "fig1_sensitivity", ("parameterisation", "learning_rate", "w0", "n",
                                                "seed", "aligned_epoch", "diverged",
                                                "mse_rises"))
    limit = criteria["alignment_epochs"]
    out = []
    for form in ("eq8", "eq5"):
        rows = table[table["parameterisation"] == form]
        criterion = (f"share of (learning rate, w0, n, seed) points aligned within {limit:g} "
                     "epochs")
        if rows.empty:
            out.append(missing(f"aligned_share_{form}", criterion,
                               f"the sweep has no {form} points"))
            continue
        epochs = rows["aligned_epoch"]
        holds = (epochs >= 0) & (epochs <= limit)
        monotone = holds & (rows["mse_rises"] == 0)
        out.append(reported(
            f"aligned_share_{form}", float(holds.mean()), criterion,
            f"{int(holds.sum())} of {len(rows)} points; with no MSE rise as well (the paper's "
            f"whole description): {monotone.mean():.3g}; never aligned: "
            f"{int((epochs < 0).sum())}; diverged: {int(rows['diverged'].astype(bool).sum())}; "
            "learning rates "
            f"{rows['learning_rate'].min():g} to {rows['learning_rate'].max():g}, w0 "
            f"{rows['w0'].min():g} to {rows['w0'].max():g}, n {sorted(set(rows['n']))}"))
    return out
