"""Synthetic regression data with a prescribed condition number of X."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def case_id(n: int, p: int, cond: float, replicate: int = 0) -> str:
    """'n100_p10_cond1000' (draw 0), 'n100_p10_cond1000_r2' (another draw of the case)."""
    return f"n{n}_p{p}_cond{cond:g}" + (f"_r{replicate}" if replicate else "")


def design_matrix(n: int, p: int, cond: float, rng: np.random.Generator) -> np.ndarray:
    """X = U diag(s) V^T with random orthonormal U, V and singular values from sqrt(n) down to
    sqrt(n)/cond, geometrically spaced: cond(X) = cond and Sigma = X^T X / n has eigenvalues
    in [1/cond^2, 1]."""
    if p > n:
        raise ValueError(f"p={p} > n={n}: a design with full column rank needs p <= n")
    U, _ = np.linalg.qr(rng.standard_normal((n, p)))
    V, _ = np.linalg.qr(rng.standard_normal((p, p)))
    singular_values = np.sqrt(n) * np.geomspace(1.0, 1.0 / cond, p)
    return (U * singular_values) @ V.T


def regression_case(
    n: int, p: int, cond: float, noise_sigma: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One data set: X with cond(X) = cond, beta ~ N(0, I), y = X beta + sigma eps; ``cond`` is
    kept too (the target, which cases are grouped by; cond(X) differs from it by rounding)."""
    X = design_matrix(n, p, cond, rng)
    beta = rng.standard_normal(p)
    y = X @ beta + noise_sigma * rng.standard_normal(n)
    return {"X": X, "y": y, "beta": beta, "cond": np.array(float(cond))}


def regression_cases(cfg: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Every (n, p, cond) case of the data config, ``replicates`` independent draws of each
    (default 1), each draw from its own seeded stream, so adding a case or a draw does not
    change the others (draw 0's stream is the one cases had before draws existed). Each case
    keeps its draw number (``replicate``)."""
    cases = {}
    for replicate in range(int(cfg.get("replicates", 1))):
        for n in cfg["n"]:
            for p in cfg["p"]:
                for cond in cfg["condition_numbers"]:
                    seed = [cfg["seed"], n, p, int(round(np.log10(cond) * 1000))]
                    rng = np.random.default_rng(seed + ([replicate] if replicate else []))
                    case = regression_case(n, p, cond, cfg["noise_sigma"], rng)
                    cases[case_id(n, p, cond, replicate)] = {
                        **case, "replicate": np.array(replicate)}
    return cases


def training_data(
    n: int, beta: float, noise_sigma: float, x_scale: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The 1-D task of Figure 1: x ~ N(0, x_scale^2), y = beta x + sigma eps."""
    rng = np.random.default_rng(seed)
    x = x_scale * rng.standard_normal(n)
    return x, beta * x + noise_sigma * rng.standard_normal(n)


def training_sets(cfg: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The Figure 1 data sets, one row per seed of the training config."""
    pairs = [training_data(cfg["n"], cfg["beta"], cfg["noise_sigma"], cfg["x_scale"], seed)
             for seed in cfg["seeds"]]
    return {"seeds": np.asarray(cfg["seeds"]), "x": np.stack([x for x, _ in pairs]),
            "y": np.stack([y for _, y in pairs])}


def summary(cases: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """data_summary: one row per case {X (n, p), y (n,), beta (p,)}: n, p, cond(X),
    cond(X^T X), ||beta|| and std(y)."""
    rows = []
    for name, case in cases.items():
        X, y = case["X"], case["y"]
        s = np.linalg.svd(X, compute_uv=False)
        rows.append({
            "case": name, "replicate": int(case.get("replicate", 0)),
            "n": X.shape[0], "p": X.shape[1],
            "cond_X": s[0] / s[-1], "cond_Sigma": (s[0] / s[-1]) ** 2,
            "beta_norm": float(np.linalg.norm(case["beta"])),
            "y_std": float(np.std(y)),
        })
    return pd.DataFrame(rows)


def flatten(cases: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{case: {X, y, beta}} -> {'case/X': ...} for one .npz file."""
    return {f"{name}/{key}": arr for name, case in cases.items() for key, arr in case.items()}


def unflatten(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The inverse of ``flatten``: {'case/X': ...} -> {case: {X, y, beta}} (shapes kept)."""
    cases: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in arrays.items():
        name, field = key.split("/")
        cases.setdefault(name, {})[field] = arr
    return cases
