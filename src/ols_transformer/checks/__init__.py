"""Pass criteria, one module per stage: pure functions from a stage's tables to its checks.

The stage's own summary table, the claims ledger and the notebooks all call these functions, so
a criterion is written once. They import no torch: the ledger and the notebooks stay light.

A check is one row: ``check`` (name), ``scope`` ("all" for the row a claim is judged on, else
the part it breaks down), the measured ``value``, the ``criterion`` in words, the
``threshold`` (the bound, or for a range the value the paper predicts) and the ``verdict``:

- PASS / FAIL: the value meets / misses the criterion; NaN always fails (never skipped);
- CONDITIONAL: the verdict rests on a value we chose (a setting, a grid, a tolerance, a fit
  form) and flips inside the stated family of alternatives to it (``across``); never a PASS;
- REPORTED: a number shown for context, judged by nothing;
- MISSING: what the check needs is not in the tables (a stage or model not run); never PASS.

Each check also says where its threshold comes from (``origin``, one of ``ORIGINS``): a derived
bound (``theory``), a published number (``literature``), the paper's own words (``paper``), or
our choice (``chosen``). A check re-judged across alternatives carries the share of them where it
holds (``share_holds``) and, in words, where (``holds_where``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import pandas as pd

# re-exported: the stages' checks fit lines (ols.py holds the fit, which experiments share)
from ..ols import Fit as Fit
from ..ols import fit_line as fit_line

PASS, CONDITIONAL, FAIL, MISSING, REPORTED = "PASS", "CONDITIONAL", "FAIL", "MISSING", "REPORTED"
VERDICTS = (PASS, CONDITIONAL, FAIL, MISSING, REPORTED)
THEORY, LITERATURE, PAPER, CHOSEN = "theory", "literature", "paper", "chosen"
ORIGINS = (THEORY, LITERATURE, PAPER, CHOSEN)
COLUMNS = ["check", "scope", "value", "criterion", "threshold", "origin", "verdict",
           "share_holds", "holds_where", "detail"]
ALL = "all"


class MissingInput(LookupError):
    """A table, column or row a check needs is absent: the verdict is MISSING."""


@dataclass(frozen=True)
class Check:
    check: str
    value: float
    criterion: str
    threshold: float
    verdict: str
    detail: str = ""
    scope: str = ALL
    origin: str = CHOSEN  # where the threshold comes from: one of ORIGINS
    share_holds: float = math.nan  # share of the alternatives where it holds (``across``)
    holds_where: str = ""  # in words, where it holds among them
    # which side of ``threshold`` passes: "<=" (at_most), ">=" (at_least), "range" (within: a
    # band around the predicted ``threshold``), "" (a check written out otherwise)
    sense: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")
        if self.origin not in ORIGINS:
            raise ValueError(f"origin {self.origin!r} is not one of {ORIGINS}")


def at_most(check: str, value: float, bound: float, criterion: str, detail: str = "",
            scope: str = ALL, origin: str = CHOSEN) -> Check:
    # NaN compares False: a non-finite measurement fails.
    return Check(check, float(value), criterion, float(bound),
                 PASS if value <= bound else FAIL, detail, scope, origin, sense="<=")


def at_least(check: str, value: float, bound: float, criterion: str, detail: str = "",
             scope: str = ALL, origin: str = CHOSEN) -> Check:
    return Check(check, float(value), criterion, float(bound),
                 PASS if value >= bound else FAIL, detail, scope, origin, sense=">=")


def within(check: str, value: float, low: float, high: float, target: float, criterion: str,
           detail: str = "", scope: str = ALL, origin: str = CHOSEN) -> Check:
    """low <= value <= high; ``threshold`` holds the value the theory predicts."""
    return Check(check, float(value), criterion, float(target),
                 PASS if low <= value <= high else FAIL, detail, scope, origin, sense="range")


def across(main: Check, family: Mapping[str, Check], family_name: str,
           holds_where: str | None = None) -> Check:
    """``main`` (the check at our chosen value) re-judged across ``family``: the same check at
    each alternative to that choice, by a label saying which (the chosen value among them).

    PASS only when every judged alternative passes, FAIL when none does, else CONDITIONAL: a
    verdict that flips inside its family is never a plain PASS. ``share_holds`` is the share of
    judged alternatives that pass; ``holds_where`` says where in words (``holds_where`` if
    given, else the labels where it holds). Alternatives that could not be judged (MISSING) are
    left out and counted in the detail; with none judged, or ``main`` MISSING, the result is
    MISSING with the reason, never PASS. REPORTED alternatives are not judged either.
    """
    if main.verdict == MISSING:
        return main
    judged = {label: c for label, c in family.items() if c.verdict in (PASS, FAIL)}
    unjudged = len(family) - len(judged)
    if not judged:
        return replace(main, verdict=MISSING, value=math.nan,
                       detail=f"no alternative of {family_name} could be judged "
                              f"({len(family)} tried); {main.detail}".rstrip("; "))
    holding = [label for label, c in judged.items() if c.verdict == PASS]
    share = len(holding) / len(judged)
    verdict = PASS if share == 1.0 else FAIL if share == 0.0 else CONDITIONAL
    where = holds_where if holds_where is not None else (
        "everywhere" if share == 1.0 else "nowhere" if share == 0.0
        else "; ".join(holding))
    note = (f"re-judged across {family_name}: holds in {len(holding)} of {len(judged)}"
            + (f" ({unjudged} could not be judged)" if unjudged else ""))
    return replace(main, verdict=verdict, share_holds=share, holds_where=where,
                   detail=f"{main.detail}; {note}" if main.detail else note)


def across_tolerance(main: Check, family: Mapping[float, Check], name: str) -> Check:
    """``across`` for a tolerance we chose, where a larger value is looser: ``family`` maps
    each alternative value (ours among them) to the check judged with it. Where the verdict
    flips, ``holds_where`` says "<name> >= <the tightest value that passes>"."""
    holding = [t for t, c in family.items() if c.verdict == PASS]
    judged = [t for t, c in family.items() if c.verdict in (PASS, FAIL)]
    where = (f"{name} >= {min(holding):g}" if holding and len(holding) < len(judged) else None)
    return across(main, {f"{name} {t:g}": c for t, c in family.items()},
                  f"{name} in {', '.join(f'{t:g}' for t in family)}", where)


def reported(check: str, value: float, criterion: str, detail: str = "",
             scope: str = ALL) -> Check:
    return Check(check, float(value), criterion, math.nan, REPORTED, detail, scope)


def missing(check: str, criterion: str, reason: str, scope: str = ALL) -> Check:
    return Check(check, math.nan, criterion, math.nan, MISSING, reason, scope)


def frame(checks: Iterable[Check]) -> pd.DataFrame:
    """Checks as a table with the columns ``COLUMNS``."""
    return pd.DataFrame([asdict(c) for c in checks], columns=COLUMNS)


def require(table: pd.DataFrame | None, name: str, columns: Sequence[str] = ()) -> pd.DataFrame:
    """``table`` if it exists, has ``columns`` and has rows; else MissingInput naming why."""
    if table is None:
        raise MissingInput(f"{name}.csv is absent (its stage is not part of this run)")
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise MissingInput(f"{name}.csv lacks column(s) {', '.join(absent)}")
    if table.empty:
        raise MissingInput(f"{name}.csv has no rows")
    return table


def truthy(column: pd.Series) -> pd.Series:
    """A boolean column as written to CSV and read back (True/False, 1/0)."""
    return column.astype(str).str.lower().isin({"true", "1", "1.0"})


def headline(summary: pd.DataFrame) -> str:
    """One line for logs, from a stage's summary (``frame`` of its checks): how many judged
    checks passed and which did not."""
    judged = summary[summary["verdict"].isin([PASS, CONDITIONAL, FAIL])]
    failed = judged[judged["verdict"] != PASS]
    names = ", ".join(f"{r.check}[{r.scope}]" for r in failed.itertuples())
    return f"{len(judged) - len(failed)}/{len(judged)} checks passed" + (
        f"; failed or conditional: {names}" if names else "")


def criteria_with_defaults(criteria: Mapping[str, float] | None,
                           defaults: Mapping[str, float]) -> dict[str, float]:
    """``defaults`` overridden by ``criteria``; an unknown name is an error, not ignored."""
    unknown = set(criteria or {}) - set(defaults)
    if unknown:
        raise KeyError(f"unknown criteria {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **(criteria or {})}
