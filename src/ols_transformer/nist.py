"""NIST's Statistical Reference Datasets (StRD) for linear regression: data, models, certified
values and the log relative error (LRE) that scores software against them.

The 11 datasets ship with the package (``datasets/nist_strd/``, its README gives the source and
the models): each file is ``y`` followed by NIST's raw predictors, as NIST gives them, in
decimal. A model is an intercept (or not) plus either powers of one ``x`` (Norris, Pontius,
NoInt1/2, Filip, Wampler1-5) or the listed columns (Longley).

The certified values are recomputed from the decimal data exactly: the normal equations are
solved in rational arithmetic (the decimals are exact rationals, so nothing is rounded), and the
residual standard deviation sqrt(RSS / (n - p)), R^2 (centred with an intercept, uncentred
without, NIST's convention) and cond(X) are taken to ``digits`` significant digits with mpmath.
``validate`` compares them with the published ``certified.csv`` to its 15 digits and stops with
the dataset named when a file does not match its model or its values.

LRE (McCullough 1998): -log10(|estimate - certified| / |certified|), -log10 |estimate - certified|
when the certified value is 0, capped at 15 digits, and 0 when not even the first digit is right
(or the estimate is not finite). A vector's LRE is the minimum over its components (the least
accurate coefficient); ``lre_norm`` scores a vector as a whole, relative to its largest entry.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

import mpmath
import numpy as np
import pandas as pd

from .ols import rounding_bound

LRE_CAP = 15.0


def law_digits(n: float, p: float, cond: float, eps: float, power: int) -> float:
    """The digits a route's rounding law leaves (0 to LRE_CAP): through Sigma (``power`` 2)
    the covariance route's law u (sqrt(n) p + 2 cond(X)^2) (``ols.rounding_bound``, a = 1,
    b = 2: eps cond^2 and the sums' rounding; u = eps / 2), from X itself (``power`` 1)
    eps cond(X)."""
    bound = (float(rounding_bound(n, p, cond, eps / 2, 1.0, 2.0)) if power == 2
             else eps * cond**power)
    return min(LRE_CAP, max(0.0, -math.log10(bound)))
PUBLISHED_DIGITS = 15  # significant digits of certified.csv
# certified.csv gives Wampler1's residual SD (exactly 0: y is the model's polynomial) as
# 5.3e-77, the residue of its 80-digit computation: a published value below this is zero.
PUBLISHED_ZERO = 1e-50
DIFFICULTIES = ("lower", "average", "higher")


class NistDataError(ValueError):
    """A StRD data file that does not match its model, or whose certified values (recomputed
    from it) disagree with the published ones."""


@dataclass(frozen=True)
class Model:
    """One StRD dataset's model, as NIST states it."""

    name: str
    difficulty: str  # lower / average / higher
    n: int
    intercept: bool
    degree: int | None = None  # powers x^1..x^degree of the one predictor ``x``
    predictors: tuple[str, ...] = ()  # else: these columns of the file, each a term

    @property
    def file_columns(self) -> tuple[str, ...]:
        """The data file's columns: y, then x (a polynomial model) or the predictors."""
        return ("y", "x") if self.degree is not None else ("y", *self.predictors)

    @property
    def terms(self) -> tuple[str, ...]:
        """Term names as in certified.csv: 'intercept', 'x^k' or the predictor's name."""
        body = (tuple(f"x^{k}" for k in range(1, self.degree + 1)) if self.degree is not None
                else self.predictors)
        return (("intercept",) if self.intercept else ()) + body

    @property
    def p(self) -> int:
        """The number of terms (columns of the design matrix X, which is (n, p))."""
        return len(self.terms)


# NIST's order: lower, average, then higher difficulty (the order of its listing).
MODELS: tuple[Model, ...] = (
    Model("norris", "lower", 36, True, degree=1),
    Model("pontius", "lower", 40, True, degree=2),
    Model("noint1", "average", 11, False, degree=1),
    Model("noint2", "average", 3, False, degree=1),
    Model("filip", "higher", 82, True, degree=10),
    Model("longley", "higher", 16, True, predictors=tuple(f"x{j}" for j in range(1, 7))),
    *(Model(f"wampler{k}", "higher", 21, True, degree=5) for k in range(1, 6)),
)
MODEL = {m.name: m for m in MODELS}


def data_dir() -> Path:
    """The shipped StRD files (package data)."""
    return Path(str(resources.files("ols_transformer") / "datasets" / "nist_strd"))


# ---- data ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """One dataset's exact data: y (n) and the design's columns (p lists of n rationals)."""

    model: Model
    y: tuple[Fraction, ...]
    columns: tuple[tuple[Fraction, ...], ...]

    def design(self, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
        """(X (n, p), y (n)) rounded once to ``dtype`` (x^k is the exact power, then rounded:
        the data a user would type in, not a power of the rounded x)."""
        X = np.array([[float(v) for v in col] for col in self.columns]).T.astype(dtype)
        return X, np.array([float(v) for v in self.y]).astype(dtype)


def _number(text: str, name: str, row: int, column: str) -> Fraction:
    try:
        value = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise NistDataError(f"dataset {name}: row {row}, column {column!r} is {text!r}, not a "
                            "decimal number") from None
    return value


def load(name: str, directory: Path | None = None) -> Dataset:
    """The exact data of dataset ``name`` from ``<directory>/<name>.csv`` (the shipped copy by
    default), checked against its model: the columns and the number of rows NIST gives."""
    model = MODEL[name]
    path = (directory or data_dir()) / f"{name}.csv"
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows or tuple(c.strip() for c in rows[0]) != model.file_columns:
        raise NistDataError(f"dataset {name} ({path}): columns {rows[0] if rows else []} do not "
                            f"match its model, which needs {list(model.file_columns)}")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if len(body) != model.n:
        raise NistDataError(f"dataset {name} ({path}): {len(body)} rows, but NIST's {name} has "
                            f"n = {model.n}")
    values = []
    for i, row in enumerate(body, start=2):
        if len(row) != len(model.file_columns):
            raise NistDataError(f"dataset {name} ({path}): row {i} has {len(row)} fields, "
                                f"expected {len(model.file_columns)}")
        values.append([_number(t, name, i, c) for t, c in zip(row, model.file_columns,
                                                              strict=True)])
    y = tuple(v[0] for v in values)
    if model.degree is not None:
        x = [v[1] for v in values]
        body_columns = [tuple(xi**k for xi in x) for k in range(1, model.degree + 1)]
    else:
        body_columns = [tuple(v[j] for v in values) for j in range(1, len(model.file_columns))]
    ones = [tuple(Fraction(1) for _ in y)] if model.intercept else []
    return Dataset(model, y, tuple(ones + body_columns))


# ---- certified values ------------------------------------------------------------------------

@dataclass(frozen=True)
class Certified:
    """Certified values of one dataset, to ``digits`` significant digits (mpmath numbers)."""

    coefficients: tuple[mpmath.mpf, ...]
    fitted: tuple[mpmath.mpf, ...]
    residual_sd: mpmath.mpf
    r_squared: mpmath.mpf
    cond: mpmath.mpf  # cond(X) = s_max / s_min
    cond_scaled: mpmath.mpf  # cond(X D^-1), D the column norms (the scaled routes' design)
    digits: int


def _solve(gram: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction]:
    """Gaussian elimination in rationals: exact (gram is positive definite, no pivoting)."""
    p = len(rhs)
    M = [row[:] + [b] for row, b in zip(gram, rhs, strict=True)]
    for k in range(p):
        for i in range(k + 1, p):
            f = M[i][k] / M[k][k]
            M[i] = [a - f * b for a, b in zip(M[i], M[k], strict=True)]
    x: list[Fraction] = [Fraction(0)] * p
    for i in reversed(range(p)):
        x[i] = (M[i][p] - sum(M[i][j] * x[j] for j in range(i + 1, p))) / M[i][i]
    return x


def _mp(value: Fraction) -> mpmath.mpf:
    return mpmath.mpf(value.numerator) / value.denominator


def _cond(gram: list[list[Fraction]], scale: Sequence[mpmath.mpf] | None = None) -> mpmath.mpf:
    """sqrt(lambda_max / lambda_min) of the exact Gram matrix (optionally D^-1 G D^-1)."""
    p = len(gram)
    G = mpmath.matrix(p, p)
    for i in range(p):
        for j in range(p):
            G[i, j] = _mp(gram[i][j]) / ((scale[i] * scale[j]) if scale else 1)
    eigenvalues = mpmath.eigsy(G, eigvals_only=True)
    return mpmath.sqrt(max(eigenvalues) / min(eigenvalues))


def certify(data: Dataset, digits: int = 60) -> Certified:
    """The certified values of ``data``, recomputed: the normal equations solved exactly in
    rationals, then RSD, R^2 and cond(X) with mpmath at ``digits`` digits (>= 50 asked)."""
    cols, y, n, p = data.columns, data.y, len(data.y), len(data.columns)
    gram = [[sum((a * b for a, b in zip(ci, cj, strict=True)), Fraction(0)) for cj in cols]
            for ci in cols]
    xty = [sum((a * b for a, b in zip(c, y, strict=True)), Fraction(0)) for c in cols]
    beta = _solve(gram, xty)
    fitted = [sum((cols[j][i] * beta[j] for j in range(p)), Fraction(0)) for i in range(n)]
    rss = sum(((yi - fi) ** 2 for yi, fi in zip(y, fitted, strict=True)), Fraction(0))
    if data.model.intercept:
        mean = sum(y, Fraction(0)) / n
        tss = sum(((yi - mean) ** 2 for yi in y), Fraction(0))
    else:  # NIST's convention without an intercept: the uncentred total sum of squares
        tss = sum((yi**2 for yi in y), Fraction(0))
    with mpmath.workdps(digits):
        norms = [mpmath.sqrt(_mp(gram[j][j])) for j in range(p)]
        return Certified(
            coefficients=tuple(_mp(b) for b in beta),
            fitted=tuple(_mp(f) for f in fitted),
            residual_sd=mpmath.sqrt(_mp(rss / (n - p))),
            r_squared=_mp(1 - rss / tss),
            cond=_cond(gram), cond_scaled=_cond(gram, norms), digits=digits)


def published(directory: Path | None = None) -> dict[str, dict[str, object]]:
    """certified.csv by dataset: {'terms': [...], 'coefficient': [str], 'residual_sd': str,
    'r_squared': str} (the published digits kept as text)."""
    path = (directory or data_dir()) / "certified.csv"
    out: dict[str, dict[str, object]] = {}
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            entry = out.setdefault(row["dataset"], {"terms": [], "coefficient": [],
                                                    "residual_sd": row["residual_sd"],
                                                    "r_squared": row["r_squared"]})
            entry["terms"].append(row["term"])  # type: ignore[union-attr]
            entry["coefficient"].append(row["coefficient"])  # type: ignore[union-attr]
    return out


def agrees(value: mpmath.mpf, text: str, digits: int = PUBLISHED_DIGITS) -> bool:
    """``value`` rounded to ``digits`` significant digits equals the published ``text``
    (a published magnitude below PUBLISHED_ZERO is zero, and then ``value`` must be 0)."""
    with mpmath.workdps(max(mpmath.mp.dps, 3 * digits)):
        target = mpmath.mpf(text)
        if abs(target) < PUBLISHED_ZERO:
            return value == 0
        return mpmath.mpf(mpmath.nstr(value, digits, strip_zeros=False)) == target


def disagreements(name: str, certified: Certified,
                  table: Mapping[str, Mapping[str, object]]) -> list[str]:
    """What of ``certified`` disagrees with the published values of ``name`` (empty: all
    agree to every published digit)."""
    if name not in table:
        return [f"no published values for {name}"]
    entry = table[name]
    terms = list(entry["terms"])  # type: ignore[call-overload]
    if terms != list(MODEL[name].terms):
        return [f"published terms {terms} != the model's {list(MODEL[name].terms)}"]
    bad = [f"{term}: recomputed {mpmath.nstr(value, 17)} vs published {text}"
           for term, value, text in zip(terms, certified.coefficients,
                                        entry["coefficient"], strict=True)  # type: ignore[arg-type]
           if not agrees(value, str(text))]
    for label, value in (("residual_sd", certified.residual_sd),
                         ("r_squared", certified.r_squared)):
        if not agrees(value, str(entry[label])):
            bad.append(f"{label}: recomputed {mpmath.nstr(value, 17)} vs published "
                       f"{entry[label]}")
    return bad


def load_validated(digits: int = 60, directory: Path | None = None,
                   names: Sequence[str] | None = None) -> dict[str, tuple[Dataset, Certified]]:
    """Every dataset (or ``names``), loaded, certified and checked against the published
    values; the first mismatch stops with the dataset named (NistDataError)."""
    table = published(directory)
    out = {}
    for name in names or [m.name for m in MODELS]:
        data = load(name, directory)
        certified = certify(data, digits)
        bad = disagreements(name, certified, table)
        if bad:
            raise NistDataError(f"dataset {name}: recomputed certified values disagree with "
                                f"certified.csv ({'; '.join(bad[:3])}"
                                f"{'; ...' if len(bad) > 3 else ''})")
        out[name] = (data, certified)
    return out


# ---- scoring ---------------------------------------------------------------------------------

def lre(estimate: float, certified: float | mpmath.mpf, cap: float = LRE_CAP) -> float:
    """Log relative error: digits of ``certified`` that ``estimate`` gets right.

    -log10(|e - c| / |c|), or -log10|e - c| when c = 0; ``cap`` when exact or better than cap,
    0 when below 0 or the estimate is not finite (McCullough 1998's rules).
    """
    if not math.isfinite(float(estimate)):
        return 0.0
    with mpmath.workdps(50):
        error = abs(mpmath.mpf(float(estimate)) - mpmath.mpf(certified))
        if error == 0:
            return cap
        relative = error if certified == 0 else error / abs(mpmath.mpf(certified))
        return float(min(cap, max(0.0, -mpmath.log10(relative))))


def lre_vector(estimate: Sequence[float] | np.ndarray,
               certified: Sequence[float | mpmath.mpf], cap: float = LRE_CAP) -> float:
    """The least accurate component's LRE (how StRD results are reported for coefficients)."""
    if len(estimate) != len(certified):
        raise ValueError(f"{len(estimate)} estimates for {len(certified)} certified values")
    return min(lre(float(e), c, cap) for e, c in zip(estimate, certified, strict=True))


def lre_norm(estimate: Sequence[float] | np.ndarray,
             certified: Sequence[float | mpmath.mpf], cap: float = LRE_CAP) -> float:
    """A vector scored as a whole: -log10(max_i |e_i - c_i| / max_i |c_i|), capped at ``cap``,
    0 when a component is not finite. For fitted values, where a value near 0 amid large ones
    (Norris) would make the componentwise minimum measure that value's cancellation alone."""
    if len(estimate) != len(certified):
        raise ValueError(f"{len(estimate)} estimates for {len(certified)} certified values")
    if not all(math.isfinite(float(e)) for e in estimate):
        return 0.0
    with mpmath.workdps(50):
        error = max(abs(mpmath.mpf(float(e)) - mpmath.mpf(c))
                    for e, c in zip(estimate, certified, strict=True))
        scale = max(abs(mpmath.mpf(c)) for c in certified)
        if error == 0:
            return cap
        relative = error if scale == 0 else error / scale
        return float(min(cap, max(0.0, -mpmath.log10(relative))))


def residual_statistics(y: np.ndarray, fitted: np.ndarray, p: int,
                        intercept: bool) -> tuple[float, float]:
    """(residual SD sqrt(RSS / (n - p)), R^2) of fitted values, in float64 (NIST's R^2: centred
    with an intercept, uncentred without). Shape: y, fitted (n)."""
    y, fitted = np.asarray(y, dtype=np.float64), np.asarray(fitted, dtype=np.float64)
    rss = float(np.sum((y - fitted) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2)) if intercept else float(np.sum(y**2))
    return math.sqrt(rss / (len(y) - p)), 1.0 - rss / tss


def digits_by_route(table: pd.DataFrame, routes: Sequence[str] | None = None) -> pd.DataFrame:
    """Datasets x routes of the fitted values' digits (refused: NaN), datasets in table order:
    the figure's and the notebook's view."""
    view = table.assign(label=table["route"] + np.where(table["dtype"] == "float32", " (f32)", ""))
    wide = view.pivot_table(index="dataset", columns="label", values="lre_fitted",
                            aggfunc="first", sort=False)
    wide = wide.reindex(list(dict.fromkeys(table["dataset"])))
    return wide if routes is None else wide[[r for r in routes if r in wide.columns]]

