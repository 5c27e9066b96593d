"""Checks of Figure 1 (Sec. 2.3), from ``fig1_headline.csv`` (one row per seed).

Criteria (config ``training.criteria``):
- ``w_rel_tol``: | |w| / w* - 1 | at the last epoch (w and -w give the same model);
- ``alignment_epochs``: "aligned within ~1000 epochs", the slowest seed's first epoch with a
  relative distance to OLS below ``training.alignment_tol``;
- ``mse_rel_tol``: | final MSE / OLS residual MSE - 1 |, the noise floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from . import Check, at_most, require


def _worst_seed(head: pd.DataFrame, values: pd.Series) -> str:
    seed = head.loc[values.fillna(math.inf).idxmax(), "seed"]
    return f"worst seed {seed} of {len(head)}"


def checks(head: pd.DataFrame | None, criteria: Mapping[str, float]) -> list[Check]:
    head = require(head, "fig1_headline", ("seed", "rel_w_error", "alignment_epoch",
                                           "alignment_tol", "mse_excess_over_ols", "ols_mse"))
    w_error = head["rel_w_error"].abs()
    epochs = head["alignment_epoch"].astype(float)
    never = head.loc[epochs < 0, "seed"].tolist()  # -1: never below the tolerance
    tol = f"relative distance < {head['alignment_tol'].iloc[0]:g}"
    excess = head["mse_excess_over_ols"].abs()
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
    ]
