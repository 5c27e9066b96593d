"""Interval estimates over replicates (seeds, data draws): what a verdict is judged on.

A measurement that is random is computed once per replicate and summarised as an ``Interval``:
the estimate, a 95% interval, the replicate count and labels, and the method that made it:

- ``mean_interval``: the mean over replicates with its Student-t interval (few seeds; the
  t quantile from mpmath, no scipy);
- ``bootstrap_interval``: a percentile bootstrap over replicates for a statistic that is not a
  mean (a worst case, a fit over pooled replicates), resampled with a seeded numpy generator,
  so the same replicates give the same interval.

``replicates_to_decide`` says how many replicates would put the interval wholly on one side of
a threshold, assuming its half-width shrinks like 1/sqrt(n) about the same estimate.

Pure numpy / mpmath (math layer): no pandas, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np

CONFIDENCE = 0.95
T_METHOD, BOOTSTRAP_METHOD = "student-t", "percentile bootstrap"
BOOTSTRAP_RESAMPLES = 2000
MIN_REPLICATES = 3  # fewer: no interval worth the name (the config refuses it)


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval over ``replicates`` replicates (their ``labels``, e.g.
    seeds); ``method`` says how it was made (``T_METHOD``, ``BOOTSTRAP_METHOD`` + statistic).
    ``low`` / ``high`` are NaN where no interval can be made (fewer than two replicates)."""

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
                f"{self.confidence:.0%} {self.method} over {self.replicates} replicates{seeds}")


def t_quantile(q: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (invert the CDF; no scipy)."""
    def cdf(t: float) -> object:
        x = df / (df + t * t)
        tail = mpmath.betainc(df / 2, 0.5, 0, x, regularized=True) / 2
        return 1 - tail if t >= 0 else tail

    return float(mpmath.findroot(lambda t: cdf(t) - q, 1.96 if q > 0.5 else -1.96))


def _labels(labels: Sequence[object] | None, n: int) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(i) for i in range(n))
    if len(labels) != n:
        raise ValueError(f"{len(labels)} labels for {n} replicates")
    return tuple(str(label) for label in labels)


def mean_interval(values: Sequence[float] | np.ndarray, labels: Sequence[object] | None = None,
                  confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` (one per replicate, shape (r,)) and its Student-t interval,
    mean +- t_{r-1} s / sqrt(r); NaN bounds for a single replicate, and a NaN estimate where a
    value is NaN (never dropped: NaN fails)."""
    x = np.asarray(values, dtype=float).reshape(-1)
    labels_ = _labels(labels, len(x))
    if len(x) == 0:
        return Interval(math.nan, math.nan, math.nan, 0, (), T_METHOD, confidence)
    mean = float(x.mean())
    if len(x) < 2 or not np.isfinite(x).all():
        return Interval(mean, math.nan, math.nan, len(x), labels_, T_METHOD, confidence)
    half = t_quantile(0.5 + confidence / 2, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return Interval(mean, mean - half, mean + half, len(x), labels_, T_METHOD, confidence)


def finite_mean_interval(values: Sequence[float] | np.ndarray,
                         labels: Sequence[object] | None = None,
                         confidence: float = CONFIDENCE) -> tuple[Interval, int]:
    """``mean_interval`` over the finite values only (a replicate whose fit turned NaN is
    reported, not averaged), and how many were left out. values (r,), labels one per value."""
    v = np.asarray(values, dtype=float).reshape(-1)
    keep = np.isfinite(v)
    kept = None if labels is None else [lab for lab, k in zip(labels, keep, strict=True) if k]
    return mean_interval(v[keep], kept, confidence), int((~keep).sum())


def bootstrap_interval(replicates: np.ndarray | Sequence[object],
                       statistic: Callable[[np.ndarray], float], what: str,
                       labels: Sequence[object] | None = None, confidence: float = CONFIDENCE,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> Interval:
    """Percentile bootstrap of ``statistic`` over replicates: ``statistic(idx)`` computes the
    statistic from the replicates at indices ``idx`` (shape (r,), repeats allowed), so it can
    be a worst case or a fit over pooled rows, not only a mean. The estimate is the statistic
    on every replicate once; the interval the (1 -+ confidence) / 2 quantiles of ``resamples``
    resamples drawn with ``numpy.random.default_rng(seed)`` (deterministic). ``what`` names the
    statistic in ``method``. NaN bounds for a single replicate, or when a resample is NaN."""
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
