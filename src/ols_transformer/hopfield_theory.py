"""The associative memories of Section 4: one registry (name, energy, growth law) and the
theory of their capacities, and the fits of a measured capacity against them (``growth``,
``amit_fits``: the checks judge these, the experiment tables them). Pure Python, numpy and
pandas (no torch), so checks and plots can use it.

Capacity laws (M patterns of N +-1 neurons retrieved from cues with a fraction rho flipped):
- F(x) = x^2 (classical Hopfield; Hebbian linear attention): linear, ~0.138 N with ~1.6% bits
  wrong (Amit et al. 1985), N / (2 ln N) exact fixed points (McEliece et al. 1987);
- the OLS-Transformer as a memory (keys = values = the patterns, slow memory W W^T = Sigma^+):
  s <- sign(P s), P the projector onto the patterns' span, the projection rule (Personnaz et
  al. 1985; Kanter & Sompolinsky 1987): every pattern is a fixed point up to M = N, capacity
  linear in N with no ln N factor (alpha_c -> 1 with the diagonal of P removed, small noise);
- F(x) = x^n: N^(n-1) / (2 (2n-3)!! ln N) (Krotov & Hopfield 2016);
- F(x) = exp(x) and softmax attention: exponential, exp(alpha N) with Demircigil et al.'s
  alpha = I(1 - 2 rho) / 2, below the nearest-neighbour limit I(1 - 2 rho).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .ols import Fit, fit_line

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
    ModelSpec("ols_attention", "OLS-Transformer attention, s <- sign(Xi^T Xi Sigma^+ s / M) = "
              "sign(P s), the projection rule", 2, "linear", "linear"),
    ModelSpec("ols_attention_zero_diag", "OLS-Transformer attention with the diagonal of P "
              "removed (Kanter & Sompolinsky)", 2, "linear", "linear"),
)}
# The models whose retrieval runs the OLS-Transformer (construction.py) as the memory.
PROJECTION_MODELS = ("ols_attention", "ols_attention_zero_diag")
MODEL_NAMES = tuple(MODELS)
TIERS = ("linear", "x^3", "x^4", "exponential")


def spec(name: str) -> ModelSpec:
    """The registry's entry for model ``name``; ValueError naming the known models."""
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
    """n!! = n (n - 2) (n - 4) ... down to 1 or 2; 1 for n <= 0."""
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
    if name in PROJECTION_MODELS:
        return Theory("linear", "linear in N, no ln N factor (projection rule; every pattern "
                      "a fixed point up to M = N)", 1.0, math.nan, math.nan)
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
    if name in PROJECTION_MODELS:
        return {"N: every pattern a fixed point (Personnaz et al. 1985)": N}
    if law.law == "exponential":
        return {"exp(I(1-2rho) N / 2), Demircigil et al.": np.exp(law.rate * N),
                "exp(I(1-2rho) N), nearest-neighbour limit": np.exp(law.rate_upper * N)}
    n = spec(name).degree
    assert n is not None
    stable = N ** (n - 1) / (2 * double_factorial(2 * n - 3) * np.log(N))
    if law.law == "linear":
        return {"0.138 N, Amit et al. (~1.6% errors)": 0.138 * N, "N / (2 ln N), exact": stable}
    return {f"N^{n - 1} / (2 ({2 * n - 3})!! ln N), Krotov & Hopfield": stable}


# ---- exact integer arithmetic ----------------------------------------------------------------

def field_polynomials(n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Integer coefficients (highest power first) of P and Q with, for F(x) = x^n and
    g(a) = (F(a+1) - F(a-1)) / 2 (the energy difference of one bit, ``hopfield.py``):

        g(h-1) + g(h+1) = ((h+2)^n - (h-2)^n) / 2 = P(h)  = sum_{j odd}  C(n,j) 2^j h^(n-j),
        g(h-1) - g(h+1) = -Q(h),  Q(h) = ((h+2)^n + (h-2)^n) / 2 - h^n
                                        = sum_{j even >= 2} C(n,j) 2^j h^(n-j).

    n = 2: P = 4h, Q = 4; n = 3: P = 6h^2 + 8, Q = 12h; n = 4: P = 8h^3 + 32h, Q = 24h^2 + 16.
    """
    # Entry k of P holds the power h^(n-1-k) (from j = k + 1); of Q, h^(n-2-k) (j = k + 2).
    P = [math.comb(n, k + 1) * 2 ** (k + 1) if (k + 1) % 2 == 1 else 0 for k in range(n)]
    Q = [math.comb(n, k + 2) * 2 ** (k + 2) if (k + 2) % 2 == 0 else 0 for k in range(n - 1)]
    return tuple(P), tuple(Q)


def integer_field_bound(name: str, N: int) -> int | None:
    """A bound on one pattern's contribution to a bit's field, |P(h)| + |Q(h)| at |h| <= N, for
    the models whose field is an integer (a sum over the M patterns of integers); None for the
    others (exponential, softmax, the projection rule)."""
    model = spec(name)
    if name == "linear_attention":
        return N
    if model.degree is None or name in PROJECTION_MODELS:
        return None
    P, Q = field_polynomials(model.degree)
    return sum(abs(c) * N ** (len(P) - 1 - k) for k, c in enumerate(P)) + sum(
        abs(c) * N ** (len(Q) - 1 - k) for k, c in enumerate(Q))


# Largest integer every smaller one of which a float represents exactly.
EXACT_INTEGERS = {"float32": 2**24, "float64": 2**53}


def exact_dtype(name: str, N: int, M: int) -> str | None:
    """The cheapest float dtype in which the model's update at N neurons and M patterns is
    exact: float32 when every field (and the +-1 overlaps) stays below 2^24, else float64 below
    2^53; float64 for the models whose field is not an integer; None where not even float64
    is exact (the config refuses such grids)."""
    bound = integer_field_bound(name, N)
    if bound is None:
        return "float64"
    for dtype, limit in EXACT_INTEGERS.items():
        if M * bound < limit and N < limit:
            return dtype
    return None


# Softmax's inverse temperature at a transformer's scaled dot product: beta = 1 / sqrt(N).
INV_SQRT_N = "inv_sqrt_N"
# Amit's finite-size fits: alpha(N) = alpha_inf + a N^-p, by form name.
FIT_FORMS: dict[str, float] = {"sqrt": 0.5, "n23": 2.0 / 3.0, "n1": 1.0}
FORM_LABELS: dict[str, str] = {"sqrt": "alpha_inf + a/sqrt(N)", "n23": "alpha_inf + a/N^(2/3)",
                               "n1": "alpha_inf + a/N"}


# ---- fits of a measured capacity (hopfield_capacity) against these laws ------------------------
# Here, below the stage: the checks judge these fits and the experiment tables them.

RAW = "raw"  # amit_fits' row of the measured alpha at the largest N, no fit
RECALL_OF = "recall_of"  # hopfield_capacity's column: the run a row's recall criterion is of


def recall_of(table: pd.DataFrame) -> pd.Series:
    """Per row of hopfield_capacity, the run it belongs to: ``recall_of`` where the table has
    it (a run's rows under an alternative recall criterion carry their own run name), else the
    row's ``run`` (tables from before the alternatives)."""
    if RECALL_OF not in table.columns:
        return table["run"].astype(str)
    return table[RECALL_OF].fillna(table["run"]).astype(str)


def primary(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of hopfield_capacity under each run's own recall criterion (no alternatives)."""
    return table[recall_of(table) == table["run"].astype(str)]


def recall_family(table: pd.DataFrame, run: str) -> dict[float, pd.DataFrame]:
    """Run ``run``'s rows per recall criterion (min_overlap; 1 = exact), its own among them,
    sorted from the strictest criterion down."""
    rows = table[recall_of(table) == run]
    return {float(v): at for v, at in sorted(rows.groupby("min_overlap"), key=lambda kv:
                                              -float(kv[0]))}


def criterion_words(overlap: float) -> str:
    """'exact' or 'overlap 0.95'."""
    return "exact" if overlap >= 1.0 else f"overlap {overlap:g}"


def nearest_neighbour_capacity(N: int, rho: float, threshold: float) -> float:
    """The finite-N capacity of a nearest-neighbour decoder (the best any memory can do for
    random patterns): the cue sits rho N flips (rounded half up) from its pattern, and another
    random pattern lies as close or closer with probability q = sum_{k <= f} C(N, k) / 2^N;
    the largest M with (1 - q)^(M - 1) >= threshold. Its rate tends to I(1 - 2 rho) =
    ln 2 - H(rho) from above (the prefactor of q is polynomial in N)."""
    flips = int(math.floor(rho * N + 0.5))
    q = sum(math.comb(N, k) for k in range(flips + 1)) / 2 ** N
    if q >= 1.0:
        return 1.0
    return 1.0 + math.log(threshold) / math.log1p(-q)


def exact_recall(at: pd.DataFrame) -> bool:
    """Whether the rows ``at`` of hopfield_capacity count only exact recall (min_overlap 1)."""
    return bool((at["min_overlap"] >= 1.0).all())


def one_update(at: pd.DataFrame) -> bool:
    """Whether the rows ``at`` of hopfield_capacity were retrieved by one update (column
    ``one_update``; tables without it: none)."""
    return "one_update" in at.columns and bool(
        at["one_update"].astype(str).str.lower().isin({"true", "1", "1.0"}).all())


def law_residuals(N: np.ndarray, C: np.ndarray) -> tuple[float, float]:
    """RMS residual of ln C against ln(c N) and against ln(c N / ln N), each with its best c
    (one parameter each, so the two are comparable); points with C <= 0 are left out.
    Shapes: N, C (n,) -> two floats (NaN with no usable point)."""
    keep = np.isfinite(C) & (C > 0) & (N > 1)
    if not keep.any():
        return math.nan, math.nan
    lnC, n = np.log(C[keep]), N[keep]

    def rms(law: np.ndarray) -> float:
        r = lnC - np.log(law)
        return float(np.sqrt(np.mean((r - r.mean()) ** 2)))

    return rms(n), rms(n / np.log(n))


def growth(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_growth: per run, fits of the mean capacity on N next to the paper's law.

    loglog_slope: slope of ln C on ln N (a power law N^k gives k); semilog_rate: slope of ln C on
    N (exp(alpha N) gives alpha); sqrt_rate: slope of ln C on sqrt(N) (exp(b sqrt N) gives b);
    local_loglog_slope: between the two largest N; rms_linear / rms_n_over_ln_n: RMS residual
    of ln C against c N and c N / ln N, ``better_law`` the smaller. A mean capacity of 0 has no
    logarithm: such points are left out of the fits and counted.
    """
    rows = []
    for run, at in table.groupby("run", sort=False):
        mean = at.groupby("N")["capacity"].mean().sort_index()
        N, C = mean.index.to_numpy(dtype=float), mean.to_numpy(dtype=float)
        power = fit_line(N, C, log_x=True, log_y=True)
        expo = fit_line(N, C, log_y=True)
        root = fit_line(np.sqrt(N), C, log_y=True)
        local = fit_line(N[-2:], C[-2:], log_x=True, log_y=True) if len(N) >= 2 else \
            Fit(math.nan, math.nan, math.nan, 0, len(N))
        linear, n_ln_n = law_residuals(N, C)
        model, rho = str(at["model"].iloc[0]), float(at["rho"].iloc[0])
        law = theory(model, rho)
        rows.append({
            "run": run, "model": model, "rho": rho,
            "min_overlap": float(at["min_overlap"].iloc[0]), "beta": str(at["beta"].iloc[0]),
            "one_update": one_update(at),
            "N_min": int(N.min()), "N_max": int(N.max()), "n_N": len(N),
            "points_dropped": power.dropped,
            "capacity_at_N_min": C[0], "capacity_at_N_max": C[-1],
            "loglog_slope": power.slope, "loglog_r2": power.r2,
            "semilog_rate": expo.slope, "semilog_r2": expo.r2,
            "sqrt_rate": root.slope, "sqrt_r2": root.r2,
            "local_loglog_slope": local.slope,
            "rms_linear": linear, "rms_n_over_ln_n": n_ln_n,
            "better_law": "" if math.isnan(linear) or math.isnan(n_ln_n) else
            "c N" if linear < n_ln_n else "c N / ln N",
            "theory_law": law.law, "theory": law.description,
            "theory_loglog_slope": law.loglog_slope, "theory_rate": law.rate,
            "theory_rate_upper": law.rate_upper,
            "censored_runs": int(pd.Series(at["censored"]).astype(str).str.lower()
                                 .isin({"true", "1"}).sum()),
        })
    return pd.DataFrame(rows)


def _alpha(at: pd.DataFrame) -> pd.Series:
    """alpha(N) = mean capacity over seeds / N, indexed by N (sorted)."""
    mean = at.groupby("N")["capacity"].mean().sort_index()
    return mean / mean.index.to_numpy(dtype=float)


def finite_size_fit(N: np.ndarray, alpha: np.ndarray, exponent: float) -> Fit:
    """alpha = alpha_inf + a N^-exponent by least squares: a line in N^-exponent whose
    intercept is alpha_inf and slope a. Shapes: N, alpha (n,)."""
    return fit_line(np.asarray(N, dtype=float) ** -exponent, alpha)


def amit_fit(table: pd.DataFrame, run: str, form: str = "sqrt") -> tuple[Fit, pd.Series]:
    """alpha(N) = C / N (mean over seeds) of ``run`` fitted as alpha_inf + a N^-p (p of
    ``FIT_FORMS[form]``): (the fit, whose intercept is alpha_inf; alpha per N)."""
    alpha = _alpha(table[table["run"] == run])
    return finite_size_fit(alpha.index.to_numpy(dtype=float), alpha.to_numpy(),
                           FIT_FORMS[form]), alpha


def amit_runs(table: pd.DataFrame) -> list[str]:
    """The runs of hopfield_capacity at Amit's criterion: the classical network, inexact recall
    (each run's own criterion; its alternatives are in ``recall_family``)."""
    return [str(name) for name, at in primary(table).groupby("run", sort=False)
            if at["model"].iloc[0] == "classical" and not exact_recall(at)]


def amit_fits(table: pd.DataFrame) -> pd.DataFrame:
    """Per Amit run, one row per fit form of ``FIT_FORMS`` and one for the raw alpha at the
    largest N (form ``raw``): run, form, label, exponent, alpha_inf, a, r2, rms_residual,
    n_points, N_max, alpha_at_N_max. A form with fewer N than its two parameters has NaN."""
    rows = []
    for run in amit_runs(table):
        alpha = _alpha(table[table["run"] == run])
        N, a = alpha.index.to_numpy(dtype=float), alpha.to_numpy()
        base = {"run": run, "n_points": len(N), "N_max": int(N.max()),
                "alpha_at_N_max": float(a[-1])}
        for form, p in FIT_FORMS.items():
            fit = finite_size_fit(N, a, p) if len(N) >= 3 else \
                Fit(math.nan, math.nan, math.nan, len(N), 0)
            resid = a - (fit.intercept + fit.slope * N ** -p)
            rows.append({**base, "form": form, "label": FORM_LABELS[form], "exponent": p,
                         "alpha_inf": fit.intercept, "a": fit.slope, "r2": fit.r2,
                         "rms_residual": float(np.sqrt(np.mean(resid ** 2)))})
        rows.append({**base, "form": RAW, "label": f"C/N at N = {int(N.max())}",
                     "exponent": math.nan, "alpha_inf": float(a[-1]), "a": math.nan,
                     "r2": math.nan, "rms_residual": math.nan})
    return pd.DataFrame(rows)


def binomial_tail(successes: int, n: int, p: float) -> float:
    """P(X >= successes) for X ~ Binomial(n, p)."""
    return float(sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k)
                     for k in range(successes, n + 1)))


def success_rate_floor(threshold: float, n_cues: int, alpha: float) -> float:
    """The smallest population success rate p at which n_cues cues still reach an empirical
    rate >= ``threshold`` with probability >= ``alpha`` (the one-sided Clopper-Pearson bound,
    by bisection): a memory whose true rate is below it passes the capacity search's test at
    that M with probability < alpha. The capacity search's resolution in the rate."""
    need = math.ceil(threshold * n_cues - 1e-9)
    low, high = 0.0, threshold
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if binomial_tail(need, n_cues, mid) < alpha else (low, mid)
    return low


# ---- asymmetric associations: QKV scores against a single symmetric W W^T -------------------

ASSOCIATION_RULES = ("qkv", "symmetric_part", "ols_projection")


def association_scores(patterns: np.ndarray, rule: str) -> np.ndarray:
    """Scores s(i, j) = x_i^T A x_j of M tokens (rows of ``patterns``, shape (M, N)) meant to
    store the directed cycle x_mu -> x_(mu + 1 mod M), shape (M, M). ``qkv``: distinct query and
    key matrices, A = W_Q W_K^T = sum_mu x_mu x_(mu+1)^T (the hetero-association, not
    symmetric); ``symmetric_part``: (A + A^T) / 2, the nearest symmetric matrix; ``ols_projection``:
    the OLS-Transformer's single slow memory W W^T = Sigma^+ of the tokens (symmetric)."""
    X = np.asarray(patterns, dtype=float)
    succ = np.roll(X, -1, axis=0)
    if rule == "ols_projection":
        A = np.linalg.pinv(X.T @ X / len(X))
    else:
        A = X.T @ succ
        if rule == "symmetric_part":
            A = (A + A.T) / 2
        elif rule != "qkv":
            raise ValueError(f"unknown association rule {rule!r}; one of {ASSOCIATION_RULES}")
    return X @ A @ X.T


def successors_found(scores: np.ndarray) -> int:
    """How many tokens i score their successor i + 1 (mod M) strictly above every other token
    j != i (ties fail). With a symmetric score no more than M - 1 of M >= 3 can: s(i, i+1) >
    s(i, i-1) = s(i-1, i) for every i would make s(i, i+1) increase around the cycle. Scores
    within 1e-9 of the largest |score| count as tied (the pseudo-inverse's rounding: its
    off-diagonal zeros come out as +-1e-16; the other rules' scores are integers, exact)."""
    M = len(scores)
    tie = 1e-9 * float(np.max(np.abs(scores)))
    found = 0
    for i in range(M):
        others = np.delete(scores[i], [i, (i + 1) % M])
        found += int(scores[i, (i + 1) % M] > np.max(others, initial=-np.inf) + tie)
    return found
