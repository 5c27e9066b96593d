"""The associative memories of Section 4: one registry (name, energy, growth law) and the
theory of their capacities. Pure Python and numpy (no torch), so checks and plots can use it.

Capacity laws (M patterns of N +-1 neurons retrieved from cues with a fraction rho flipped):
- F(x) = x^2 (classical Hopfield; Hebbian linear attention): linear, ~0.138 N with ~1.6% bits
  wrong (Amit et al. 1985), N / (2 ln N) exact fixed points (McEliece et al. 1987);
- F(x) = x^n: N^(n-1) / (2 (2n-3)!! ln N) (Krotov & Hopfield 2016);
- F(x) = exp(x) and softmax attention: exponential, exp(alpha N) with Demircigil et al.'s
  alpha = I(1 - 2 rho) / 2, below the nearest-neighbour limit I(1 - 2 rho).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Law = Literal["linear", "power", "exponential"]


@dataclass(frozen=True)
class ModelSpec:
    """One associative memory: its update, its energy and the growth law of its capacity."""

    name: str
    description: str
    degree: int | None  # energy F(x) = x^degree (None: exponential energy or softmax)
    law: Law
    tier: str  # Section 4's ladder: "linear" < "x^3" < "x^4" < "exponential"
    continuous: bool = False  # a real-valued state, read out by sign

    @property
    def exponent(self) -> float:
        """Power laws: the capacity exponent n - 1 of F(x) = x^n; NaN for exponential growth."""
        return float(self.degree - 1) if self.degree is not None else math.nan


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("classical", "Hopfield, F(x) = x^2, zero self-coupling", 2, "linear", "linear"),
    ModelSpec("poly3", "dense associative memory, F(x) = x^3", 3, "power", "x^3"),
    ModelSpec("poly4", "dense associative memory, F(x) = x^4", 4, "power", "x^4"),
    ModelSpec("exponential", "F(x) = exp(x) (Demircigil et al.)", None, "exponential",
              "exponential"),
    ModelSpec("softmax", "softmax attention, x <- Xi^T softmax(beta Xi x) (Ramsauer et al.)",
              None, "exponential", "exponential", continuous=True),
    ModelSpec("linear_attention", "Hebbian linear attention, s <- sign(Xi^T Xi s)", 2, "linear",
              "linear"),
)}
MODEL_NAMES = tuple(MODELS)
TIERS = ("linear", "x^3", "x^4", "exponential")


def spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown Hopfield model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def cramer_rate(x: float) -> float:
    """I(x) = ((1+x) ln(1+x) + (1-x) ln(1-x)) / 2: P(sum of N fair +-1 >= xN) ~ e^(-N I(x))."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"cramer_rate needs 0 <= x <= 1, got {x}")
    terms = [(1 + s * x) * math.log1p(s * x) for s in (1, -1) if 1 + s * x > 0]
    return 0.5 * sum(terms)


def double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


@dataclass(frozen=True)
class Theory:
    """Growth law of a model's capacity (Section 4's table) and the curves drawn with it."""

    law: Law
    description: str
    loglog_slope: float  # power laws: the exponent; NaN for exponential growth
    rate: float  # exponential: alpha in exp(alpha N); NaN for power laws
    rate_upper: float  # exponential: nearest-neighbour limit of any decoder; NaN otherwise


def theory(name: str, rho: float) -> Theory:
    """Theory values of model ``name`` at cue noise ``rho`` (flipped fraction)."""
    model = spec(name)
    if model.law == "linear":
        return Theory("linear", "0.138 N (retrieval with ~1.6% errors); N / (2 ln N) exact",
                      1.0, math.nan, math.nan)
    if model.law == "power":
        n = model.degree
        assert n is not None
        return Theory("power", f"N^{n - 1} / (2 ({2 * n - 3})!! ln N)", model.exponent,
                      math.nan, math.nan)
    info = cramer_rate(1 - 2 * rho)  # = ln 2 - H(rho): nearest-neighbour decoding limit
    return Theory("exponential", "exp(alpha N), alpha = I(1 - 2 rho) / 2 (2^(N/2) at rho = 0)",
                  math.nan, info / 2, info)


def theory_capacity(name: str, N: np.ndarray, rho: float) -> dict[str, np.ndarray]:
    """Theory curves (label -> capacity at each N) for the figure; asymptotic, no fitted constant.

    Power models: a typical stored pattern is a fixed point while its crosstalk, of variance
    M (2n-3)!! N^(n-1) against a signal n N^(n-1), leaves all N bits stable: N^(n-1) /
    (2 (2n-3)!! ln N) (Krotov & Hopfield 2016; n = 2: McEliece et al.'s N / (2 ln N)). With
    iterated updates that stability, not the cue noise, limits exact recovery.
    """
    N = np.asarray(N, dtype=float)
    law = theory(name, rho)
    if law.law == "exponential":
        return {"exp(I(1-2rho) N / 2), Demircigil et al.": np.exp(law.rate * N),
                "exp(I(1-2rho) N), nearest-neighbour limit": np.exp(law.rate_upper * N)}
    n = spec(name).degree
    assert n is not None
    stable = N ** (n - 1) / (2 * double_factorial(2 * n - 3) * np.log(N))
    if law.law == "linear":
        return {"0.138 N, Amit et al. (~1.6% errors)": 0.138 * N, "N / (2 ln N), exact": stable}
    return {f"N^{n - 1} / (2 ({2 * n - 3})!! ln N), Krotov & Hopfield": stable}
