"""Interval estimates over replicates (seeds, data draws): what a verdict is judged on.

A measurement that is random is computed once per replicate and summarised as an ``Interval``:
the estimate, a 95% interval, the replicate count and labels, and the method that made it.
Which one to use (each covers its truth at its nominal level at 5 replicates, tested by
simulation in tests/test_coverage.py):

- ``mean_interval``: the mean of a per-replicate value, Student t (the t quantile from mpmath,
  no scipy). The default: compute the statistic on each replicate alone, then take this.
- ``jackknife_interval``: a smooth statistic of the replicates together (a fit to the mean
  curve over seeds, a function of several means): the estimate on every replicate, its
  jackknife standard error and the t_{r-1} quantile. On a mean it is ``mean_interval`` exactly.
  Never for a min, a max or a quantile (the jackknife is inconsistent there): judge each
  setting on its own interval and the row with ``simultaneous_mean_intervals``.
- ``ratio_interval``: the ratio of two means over paired replicates (a model's error over a
  baseline's on the same seeds): Fieller's interval, exact for normal pairs, unbounded where
  the denominator's mean is not clearly away from 0 (then it decides nothing).
- ``log_ratio_interval``: a ratio spread over orders of magnitude (10 to 1e11): the mean of the
  per-replicate log ratios with its t interval, back-transformed: the geometric-mean ratio.
- ``simultaneous_mean_intervals``: one t interval per setting for a row that must hold in k
  settings, at the Bonferroni level 1 - (1 - confidence) / k, so that the k intervals cover
  together with at least ``confidence`` and a row does not FAIL by chance because one of many
  settings' intervals missed. ``holm_rejects`` (with ``mean_p_value``) is the step-down
  version for decisions (a setting fails) when p-values, not intervals, are wanted.
- ``bootstrap_interval``: the percentile bootstrap. Deprecated: over 5 replicates it covers
  ~84%, not 95% (the test shows it); kept for old callers, use ``jackknife_interval``.

Under an intersection-union rule (a row PASSes only when each of its k settings passes) the
unadjusted intervals already keep a false PASS below 1 - confidence; the Bonferroni level
guards the other direction, a FAIL from any one of k settings.

``replicates_to_decide`` says how many replicates would put the interval wholly on one side of
a threshold, assuming its half-width shrinks like 1/sqrt(n) about the same estimate.

The ``*_bounds`` functions are the same computations on arrays (replicates on the last axis,
any leading axes: simulations, settings), which the Interval functions call with one row.

Pure numpy / mpmath (math layer): no pandas, no I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

CONFIDENCE = 0.95
T_METHOD, BOOTSTRAP_METHOD = "student-t", "percentile bootstrap"
JACKKNIFE_METHOD = "jackknife t"
RATIO_METHOD = "Fieller ratio of means"
LOG_RATIO_METHOD = "geometric-mean ratio (t on log ratios)"
BOOTSTRAP_RESAMPLES = 2000
# The least replicates a row judged on an interval over them may have: the one place (the
# config refuses fewer, config.replicate_problems). At 3 the t quantile is 4.30 and one
# replicate's accident moves the interval by half; at 5 it is 2.78.
MIN_REPLICATES = 5

Bounds = tuple[np.ndarray, np.ndarray, np.ndarray]  # estimate, low, high (the leading shape)


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval over ``replicates`` replicates (their ``labels``, e.g.
    seeds); ``method`` says how it was made (``T_METHOD``, ``JACKKNIFE_METHOD`` + statistic,
    ...). ``low`` / ``high`` are NaN where no interval can be made (fewer than two
    replicates), infinite where the data bound nothing (a Fieller ratio whose denominator may
    be 0)."""

    estimate: float
    low: float
    high: float
    replicates: int
    labels: tuple[str, ...] = ()
    method: str = T_METHOD
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN where it has no bounds)."""
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        """Both bounds finite (an interval was made)."""
        return math.isfinite(self.low) and math.isfinite(self.high)

    def words(self) -> str:
        """'0.21 [0.18, 0.24], 95% student-t over 5 replicates (seeds 0, 1, 2, 3, 4)'."""
        seeds = f" ({', '.join(self.labels)})" if self.labels else ""
        return (f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}], "
                f"{100 * self.confidence:.4g}% {self.method} over {self.replicates} "
                f"replicates{seeds}")


def _t_cdf(t: float, df: int) -> float:
    x = df / (df + t * t)
    tail = float(mpmath.betainc(df / 2, 0.5, 0, x, regularized=True)) / 2
    return 1 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=256)
def t_quantile(q: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (invert the CDF; no scipy)."""
    return float(mpmath.findroot(lambda t: _t_cdf(float(t), df) - q, 1.96 if q > 0.5 else -1.96))


def _two_sided(confidence: float, df: int) -> float:
    return t_quantile(0.5 + confidence / 2, df)


def _labels(labels: Sequence[object] | None, n: int) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(i) for i in range(n))
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} replicates")
    return tuple(str(label) for label in labels)


def _interval(bounds: Bounds, n: int, labels: tuple[str, ...], method: str,
              confidence: float) -> Interval:
    estimate, low, high = (float(np.asarray(b).reshape(-1)[0]) for b in bounds)
    return Interval(estimate, low, high, n, labels, method, confidence)


# ---- the mean of a per-replicate value: Student t ---------------------------------------------

def t_bounds(values: np.ndarray, confidence: float = CONFIDENCE) -> Bounds:
    """Mean over the last axis (r replicates) and its Student-t bounds, mean +- t_{r-1} s /
    sqrt(r); NaN bounds where r < 2 or a value is not finite, NaN estimate where a value is
    NaN. Shape (..., r) -> three (...)."""
    x = np.asarray(values, dtype=float)
    r = x.shape[-1]
    mean = x.mean(-1) if r else np.full(x.shape[:-1], np.nan)
    if r < 2:
        nan = np.full(mean.shape, np.nan)
        return mean, nan, nan.copy()
    half = _two_sided(confidence, r - 1) * x.std(-1, ddof=1) / math.sqrt(r)
    half = np.where(np.isfinite(x).all(-1), half, np.nan)
    return mean, mean - half, mean + half


def mean_interval(values: Sequence[float] | np.ndarray, labels: Sequence[object] | None = None,
                  confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` (one per replicate, shape (r,)) and its Student-t interval,
    mean +- t_{r-1} s / sqrt(r); NaN bounds for a single replicate, and a NaN estimate where a
    value is NaN (never dropped: NaN fails)."""
    x = np.asarray(values, dtype=float).reshape(-1)
    labels_ = _labels(labels, len(x))
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0, (), T_METHOD, confidence)
    return _interval(t_bounds(x[None, :], confidence), len(x), labels_, T_METHOD, confidence)


def finite_mean_interval(values: Sequence[float] | np.ndarray,
                         labels: Sequence[object] | None = None,
                         confidence: float = CONFIDENCE) -> tuple[Interval, int]:
    """``mean_interval`` over the finite values only (a replicate whose fit turned NaN is
    reported, not averaged), and how many were left out. values (r,), labels one per value."""
    v = np.asarray(values, dtype=float).reshape(-1)
    keep = np.isfinite(v)
    kept = None if labels is None else [lab for lab, k in zip(labels, keep, strict=True) if k]
    return mean_interval(v[keep], kept, confidence), int((~keep).sum())


# ---- a smooth statistic of the replicates together: jackknife t -------------------------------

def jackknife_bounds(full: np.ndarray, leave_one_out: np.ndarray,
                     confidence: float = CONFIDENCE) -> Bounds:
    """The statistic on every replicate (``full``, shape (...)) +- t_{r-1} times its jackknife
    standard error sqrt((r - 1) / r sum (theta_(i) - mean theta_(.))^2), from the statistic
    without replicate i (``leave_one_out``, shape (..., r)). NaN bounds where r < 2 or a value
    is not finite."""
    full = np.asarray(full, dtype=float)
    loo = np.asarray(leave_one_out, dtype=float)
    r = loo.shape[-1]
    if r < 2:
        nan = np.full(full.shape, np.nan)
        return full, nan, nan.copy()
    spread = ((loo - loo.mean(-1, keepdims=True)) ** 2).sum(-1)
    half = _two_sided(confidence, r - 1) * np.sqrt((r - 1) / r * spread)
    half = np.where(np.isfinite(loo).all(-1) & np.isfinite(full), half, np.nan)
    return full, full - half, full + half


def jackknife_interval(replicates: np.ndarray | Sequence[object],
                       statistic: Callable[[np.ndarray], float], what: str,
                       labels: Sequence[object] | None = None,
                       confidence: float = CONFIDENCE) -> Interval:
    """A smooth statistic of the replicates together with its jackknife-t interval:
    ``statistic(idx)`` computes it from the replicates at indices ``idx`` (a fit to their mean
    curve, say); the estimate is ``statistic`` of every replicate, the interval that +- t_{r-1}
    jackknife standard errors (``jackknife_bounds``). Deterministic (no resampling). ``what``
    names the statistic in ``method``. Not for a min or max over settings (inconsistent there:
    use ``simultaneous_mean_intervals``)."""
    n = len(replicates)
    labels_ = _labels(labels, n)
    method = f"{JACKKNIFE_METHOD} of {what}"
    full = float(statistic(np.arange(n))) if n else math.nan
    loo = np.array([statistic(np.delete(np.arange(n), i)) for i in range(n)] if n > 1 else [],
                   dtype=float)
    return _interval(jackknife_bounds(np.array([full]), loo[None, :], confidence), n, labels_,
                     method, confidence)


# ---- ratios over paired replicates ------------------------------------------------------------

def ratio_bounds(numerators: np.ndarray, denominators: np.ndarray,
                 confidence: float = CONFIDENCE) -> Bounds:
    """Mean(x) / mean(y) over paired replicates (last axis) and Fieller's bounds: every rho
    with (xbar - rho ybar)^2 <= q (s_xx - 2 rho s_xy + rho^2 s_yy), q = t_{r-1}^2 / r (the t
    test of x_i - rho y_i having mean 0: exact for normal pairs). Where ybar is not clear of 0
    at this level (ybar^2 <= q s_yy) the set is unbounded: bounds -inf, inf."""
    x = np.asarray(numerators, dtype=float)
    y = np.asarray(denominators, dtype=float)
    r = x.shape[-1]
    xbar, ybar = x.mean(-1), y.mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = xbar / ybar
    if r < 2:
        nan = np.full(estimate.shape, np.nan)
        return estimate, nan, nan.copy()
    dx, dy = x - xbar[..., None], y - ybar[..., None]
    sxx, syy, sxy = ((dx * dx).sum(-1) / (r - 1), (dy * dy).sum(-1) / (r - 1),
                     (dx * dy).sum(-1) / (r - 1))
    q = _two_sided(confidence, r - 1) ** 2 / r
    a = ybar**2 - q * syy
    b = xbar * ybar - q * sxy  # the quadratic a rho^2 - 2 b rho + c <= 0
    c = xbar**2 - q * sxx
    # Where a > 0 the quadratic is <= 0 at the estimate xbar / ybar, so it has real roots
    # (a negative discriminant there is rounding: 0)
    bounded = a > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.where(bounded, np.maximum(b * b - a * c, 0.0), 0.0))
        low = np.where(bounded, (b - root) / a, -np.inf)
        high = np.where(bounded, (b + root) / a, np.inf)
    finite = np.isfinite(x).all(-1) & np.isfinite(y).all(-1)
    return (np.where(finite, estimate, np.nan), np.where(finite, low, np.nan),
            np.where(finite, high, np.nan))


def ratio_interval(numerators: Sequence[float] | np.ndarray,
                   denominators: Sequence[float] | np.ndarray,
                   labels: Sequence[object] | None = None,
                   confidence: float = CONFIDENCE) -> Interval:
    """The ratio of the means of paired replicates (shape (r,) each: a model's error and its
    baseline's on the same seeds) with Fieller's interval (``ratio_bounds``). Use it where the
    ratio of the mean errors is the claim and the ratios stay within an order of magnitude;
    else ``log_ratio_interval``."""
    x = np.asarray(numerators, dtype=float).reshape(-1)
    y = np.asarray(denominators, dtype=float).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"{len(x)} numerators for {len(y)} denominators: pair them by replicate")
    return _interval(ratio_bounds(x[None, :], y[None, :], confidence), len(x),
                     _labels(labels, len(x)), RATIO_METHOD, confidence)


def log_ratio_bounds(ratios: np.ndarray, confidence: float = CONFIDENCE) -> Bounds:
    """exp of the mean log ratio over the last axis and exp of its t bounds (the geometric
    mean ratio; exact for log-normal ratios). A ratio <= 0 has no log: NaN."""
    r = np.asarray(ratios, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(r > 0, np.log(np.where(r > 0, r, 1.0)), np.nan)
    return tuple(np.exp(b) for b in t_bounds(logs, confidence))  # type: ignore[return-value]


def log_ratio_interval(numerators: Sequence[float] | np.ndarray,
                       denominators: Sequence[float] | np.ndarray | None = None,
                       labels: Sequence[object] | None = None,
                       confidence: float = CONFIDENCE) -> Interval:
    """The geometric mean of per-replicate ratios (numerators / denominators paired by
    replicate, or the ratios themselves when ``denominators`` is None) with the back-transformed
    t interval of their mean log (``log_ratio_bounds``): for ratios spread over orders of
    magnitude, where a t interval on raw ratios would reach below 0."""
    x = np.asarray(numerators, dtype=float).reshape(-1)
    if denominators is not None:
        y = np.asarray(denominators, dtype=float).reshape(-1)
        if x.shape != y.shape:
            raise ValueError(f"{len(x)} numerators for {len(y)} denominators: pair them by "
                             "replicate")
        with np.errstate(divide="ignore", invalid="ignore"):
            x = x / y
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0, (), LOG_RATIO_METHOD, confidence)
    return _interval(log_ratio_bounds(x[None, :], confidence), len(x), _labels(labels, len(x)),
                     LOG_RATIO_METHOD, confidence)


# ---- rows that must hold in k settings ---------------------------------------------------------

def bonferroni_confidence(confidence: float, k: int) -> float:
    """The level of each of k intervals that cover together with at least ``confidence``."""
    if k < 1:
        raise ValueError(f"k = {k} settings: need at least one")
    return 1 - (1 - confidence) / k


def simultaneous_mean_intervals(settings: Mapping[str, Sequence[float] | np.ndarray],
                                labels: Mapping[str, Sequence[object]] | None = None,
                                confidence: float = CONFIDENCE) -> dict[str, Interval]:
    """A Student-t interval per setting (setting -> its per-replicate values) at the Bonferroni
    level ``bonferroni_confidence(confidence, k)``, k the settings: all k cover their means
    together with at least ``confidence``. For a row judged in every one of k settings (a
    worst case over Lambda and N, over shift families, over N): judge each setting on its
    interval, never a bootstrap of the min or max."""
    level = bonferroni_confidence(confidence, len(settings))
    method = f"{T_METHOD}, Bonferroni over {len(settings)} settings"
    out = {}
    for name, values in settings.items():
        found = mean_interval(values, None if labels is None else labels[name], level)
        out[name] = Interval(found.estimate, found.low, found.high, found.replicates,
                             found.labels, method, level)
    return out


def mean_p_value(values: Sequence[float] | np.ndarray, bound: float, sense: str) -> float:
    """One-sided t-test p-value against the mean holding its bound: ``sense`` "<=" tests
    H0: mean <= bound (small p: the mean is above it), ">=" tests H0: mean >= bound. NaN for
    fewer than two replicates or a non-finite value; 0 or 1 for replicates without spread."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if sense not in ("<=", ">="):
        raise ValueError(f"sense {sense!r}: '<=' or '>='")
    if len(x) < 2 or not np.isfinite(x).all():
        return math.nan
    gap = (x.mean() - bound) if sense == "<=" else (bound - x.mean())
    se = float(x.std(ddof=1)) / math.sqrt(len(x))
    if se == 0:
        return 0.0 if gap > 0 else 1.0
    return 1 - _t_cdf(gap / se, len(x) - 1)


def holm_rejects(p_values: Sequence[float], alpha: float = 1 - CONFIDENCE) -> list[bool]:
    """Holm's step-down: which of k hypotheses to reject with family-wise error <= ``alpha``
    (the i-th smallest p-value against alpha / (k - i), stopping at the first that is not
    below). NaN p-values are never rejected."""
    p = np.asarray(p_values, dtype=float)
    out = [False] * len(p)
    order = sorted(range(len(p)), key=lambda i: np.inf if np.isnan(p[i]) else p[i])
    for rank, i in enumerate(order):
        if not p[i] <= alpha / (len(p) - rank):
            break
        out[i] = True
    return out


# ---- deprecated ----------------------------------------------------------------------------------

def bootstrap_interval(replicates: np.ndarray | Sequence[object],
                       statistic: Callable[[np.ndarray], float], what: str,
                       labels: Sequence[object] | None = None, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Interval:
    """Deprecated (over 5 replicates it covers ~84%, not 95%: tests/test_coverage.py; use
    ``jackknife_interval``, same arguments less ``resamples`` and ``seed``). Percentile
    bootstrap of ``statistic`` over replicates: ``statistic(idx)`` computes the statistic from
    the replicates at indices ``idx`` (shape (r,), repeats allowed). The estimate is the
    statistic on every replicate once; the interval the (1 -+ confidence) / 2 quantiles of
    ``resamples`` resamples drawn with ``numpy.random.default_rng(seed)`` (deterministic).
    ``what`` names the statistic in ``method``. NaN bounds for a single replicate, or when a
    resample is NaN."""
    n = len(replicates)
    labels_ = _labels(labels, n)
    method = f"{BOOTSTRAP_METHOD} of {what}"
    estimate = float(statistic(np.arange(n))) if n else math.nan
    if n < 2:
        return Interval(estimate, math.nan, math.nan, n, labels_, method, confidence)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    values = np.array([statistic(idx) for idx in draws], dtype=float)
    if not np.isfinite(values).all():
        return Interval(estimate, math.nan, math.nan, n, labels_, method, confidence)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n, labels_, method, confidence)


def replicates_to_decide(interval: Interval, threshold: float) -> float:
    """Replicates that would put the interval wholly on one side of ``threshold``: its
    half-width h shrinks like 1/sqrt(n) about the same estimate, so n' = ceil(n (h / d)^2)
    with d = |estimate - threshold| (at least n + 1: more than we have). Infinite where the
    estimate sits on the threshold, NaN where there is no interval to scale."""
    d = abs(interval.estimate - threshold)
    if not (interval.defined and math.isfinite(d)):
        return math.nan
    if d == 0:
        return math.inf
    n = interval.replicates
    # (a relative 1e-9 off the ceiling: 0.9 - 1.0 is not exactly -0.1 in binary)
    return float(max(n + 1, math.ceil(n * (interval.half_width / d) ** 2 * (1 - 1e-9))))
