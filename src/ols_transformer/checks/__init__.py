"""Pass criteria, one module per stage: pure functions from a stage's tables to its checks.

The stage's own summary table, the claims ledger and the notebooks all call these functions, so
a criterion is written once. They import no torch: the ledger and the notebooks stay light.

A check is one row: ``check`` (name), ``scope`` ("all" for the row a claim is judged on, else
the part it breaks down), the measured ``value``, the ``criterion`` in words, the
``threshold`` (the bound, or for a range the value the paper predicts) and the ``verdict``:

- PASS / FAIL: the value meets / misses the criterion; NaN always fails (never skipped);
- CONDITIONAL: the verdict rests on a value we chose (a setting, a grid, a tolerance, a fit
  form) and flips inside the stated family of alternatives to it (``across``); never a PASS;
- INCONCLUSIVE: judged on an interval over replicates (seeds) that straddles the threshold:
  neither side is shown; the detail says how many replicates would decide it; never PASS;
- REPORTED: a number shown for context, judged by nothing;
- MISSING: what the check needs is not in the tables (a stage or model not run); never PASS.

A random measurement is judged on its interval over replicates (``stats.Interval``; the judges
``interval_at_most``, ``interval_at_least``, ``interval_within``): PASS only when the whole
interval is on the passing side, FAIL when it is wholly on the failing side, else INCONCLUSIVE.
The check then carries ``ci_low`` / ``ci_high`` and ``replicates`` (``value`` is the
estimate). Every row names what decides it (``decided_by``: the choice of the experiment or
criterion its verdict rests on, varied by ``across``).

Each check also says where its threshold comes from (``origin``, one of ``ORIGINS``): a derived
bound (``theory``), a published number (``literature``), the paper's own words (``paper``), or
our choice (``chosen``). A check re-judged across alternatives carries the share of them where it
holds (``share_holds``) and, in words, where (``holds_where``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

# re-exported: the stages' checks fit lines (ols.py holds the fit, which experiments share)
from ..ols import Fit as Fit
from ..ols import fit_line as fit_line
from ..stats import Interval, replicates_to_decide

PASS, CONDITIONAL, FAIL, MISSING, REPORTED = "PASS", "CONDITIONAL", "FAIL", "MISSING", "REPORTED"
INCONCLUSIVE = "INCONCLUSIVE"
VERDICTS = (PASS, CONDITIONAL, INCONCLUSIVE, FAIL, MISSING, REPORTED)
JUDGED = (PASS, CONDITIONAL, INCONCLUSIVE, FAIL)  # verdicts of a judged check (PASS only passes)
# What each verdict says, in the words of this module's docstring (the report's landing text
# and the ledger's caption list them from here, every verdict named).
VERDICT_MEANINGS = {
    PASS: "the measured value meets the criterion",
    CONDITIONAL: "the verdict rests on a value we chose (a setting, a grid, a tolerance, a fit "
                 "form) and flips inside the stated family of alternatives to it; never a PASS",
    INCONCLUSIVE: "judged on an interval over replicates that straddles the threshold; the "
                  "detail says how many replicates would decide it; never a PASS",
    FAIL: "the measured value misses the criterion, or is NaN; reported, never hidden",
    MISSING: "what the check needs is not in this run's tables (a stage or model not run); "
             "never judged on another model, never a PASS",
    REPORTED: "a number shown for context, judged by nothing",
}
THEORY, LITERATURE, PAPER, CHOSEN = "theory", "literature", "paper", "chosen"
ORIGINS = (THEORY, LITERATURE, PAPER, CHOSEN)
COLUMNS = ["check", "scope", "value", "ci_low", "ci_high", "replicates", "criterion",
           "threshold", "origin", "verdict", "decided_by", "share_holds", "holds_where",
           "detail"]
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
    # the interval over replicates ``value`` is the estimate of (NaN: not judged on one)
    ci_low: float = math.nan
    ci_high: float = math.nan
    replicates: int = 0  # replicates (seeds, draws) behind ``value``; 0: deterministic
    decided_by: str = ""  # the choice the verdict rests on, varied by ``across``

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


# ---- judged on an interval over replicates -------------------------------------------------

def _on_interval(check: str, interval: Interval, threshold: float, verdict: str, decide: float,
                 criterion: str, detail: str, scope: str, origin: str, sense: str) -> Check:
    """The Check of a verdict judged on ``interval``; an INCONCLUSIVE one says how many
    replicates would decide it (``decide``, from ``stats.replicates_to_decide``)."""
    note = f"{interval.words()}"
    if verdict == INCONCLUSIVE:
        note += ("; straddles the threshold: " + (
            f"about {decide:.0f} replicates would decide it" if math.isfinite(decide)
            else "no number of replicates decides it (the estimate sits on the threshold)"
            if math.isinf(decide) else "needs at least 2 replicates for an interval"))
    return Check(check, float(interval.estimate), criterion, float(threshold), verdict,
                 f"{detail}; {note}" if detail else note, scope, origin, sense=sense,
                 ci_low=float(interval.low), ci_high=float(interval.high),
                 replicates=int(interval.replicates))


def _side(interval: Interval, passes: Any, fails: Any) -> str:
    """PASS when the whole interval passes, FAIL when it wholly fails, else INCONCLUSIVE; a NaN
    estimate fails (NaN is never skipped); no interval (one replicate) is INCONCLUSIVE."""
    if not math.isfinite(interval.estimate):
        return FAIL
    if not interval.defined:
        return INCONCLUSIVE
    if passes(interval.low) and passes(interval.high):
        return PASS
    if fails(interval.low) and fails(interval.high):
        return FAIL
    return INCONCLUSIVE


def interval_at_most(check: str, interval: Interval, bound: float, criterion: str,
                     detail: str = "", scope: str = ALL, origin: str = CHOSEN) -> Check:
    """The interval's estimate <= ``bound``: PASS when its upper end is <= bound, FAIL when its
    lower end is above it, else INCONCLUSIVE."""
    verdict = _side(interval, lambda v: v <= bound, lambda v: v > bound)
    return _on_interval(check, interval, bound, verdict, replicates_to_decide(interval, bound),
                        criterion, detail, scope, origin, "<=")


def interval_at_least(check: str, interval: Interval, bound: float, criterion: str,
                      detail: str = "", scope: str = ALL, origin: str = CHOSEN) -> Check:
    """The interval's estimate >= ``bound``: PASS when its lower end is >= bound, FAIL when its
    upper end is below it, else INCONCLUSIVE."""
    verdict = _side(interval, lambda v: v >= bound, lambda v: v < bound)
    return _on_interval(check, interval, bound, verdict, replicates_to_decide(interval, bound),
                        criterion, detail, scope, origin, ">=")


def interval_within(check: str, interval: Interval, low: float, high: float, target: float,
                    criterion: str, detail: str = "", scope: str = ALL,
                    origin: str = CHOSEN) -> Check:
    """The interval inside [low, high] (``threshold``: the predicted ``target``): PASS when it
    lies wholly inside, FAIL when wholly outside (on one side), else INCONCLUSIVE; the
    replicates to decide it are counted against the band's edge nearest the estimate."""
    def inside(v: float) -> bool:
        return low <= v <= high

    verdict = _side(interval, inside, lambda v: False)
    if verdict == INCONCLUSIVE and interval.defined and (interval.high < low
                                                         or interval.low > high):
        verdict = FAIL  # wholly outside the band, on one side
    edge = low if abs(interval.estimate - low) < abs(interval.estimate - high) else high
    return _on_interval(check, interval, target, verdict, replicates_to_decide(interval, edge),
                        criterion, detail, scope, origin, "range")


def across(main: Check, family: Mapping[str, Check], family_name: str,
           holds_where: str | None = None, decided_by: str | None = None) -> Check:
    """``main`` (the check at our chosen value) re-judged across ``family``: the same check at
    each alternative to that choice, by a label saying which (the chosen value among them).

    PASS only when every judged alternative passes, FAIL when every one fails, CONDITIONAL
    when some pass and some fail (the verdict changes across the choice), and INCONCLUSIVE when
    the rest is undecided: some alternatives INCONCLUSIVE and the others all one way. A main
    INCONCLUSIVE stays INCONCLUSIVE (its family is still summarised). ``share_holds`` is the
    share of judged alternatives that pass (INCONCLUSIVE ones count as judged, not passing);
    ``holds_where`` says where in words (``holds_where`` if given, else the labels where it
    holds). ``decided_by`` names the choice (default ``family_name``; a ``main`` that names
    one keeps it). Alternatives that could not be judged (MISSING) are left out and counted
    in the detail; with none judged, or ``main`` MISSING, the result is MISSING with the
    reason, never PASS. REPORTED alternatives are not judged either.
    """
    decided = main.decided_by or (decided_by if decided_by is not None else family_name)
    if main.verdict == MISSING:
        return replace(main, decided_by=decided)
    judged = {label: c for label, c in family.items()
              if c.verdict in (PASS, FAIL, INCONCLUSIVE)}
    unjudged = len(family) - len(judged)
    if not judged:
        return replace(main, verdict=MISSING, value=math.nan, decided_by=decided,
                       detail=f"no alternative of {family_name} could be judged "
                              f"({len(family)} tried); {main.detail}".rstrip("; "))
    holding = [label for label, c in judged.items() if c.verdict == PASS]
    failing = [label for label, c in judged.items() if c.verdict == FAIL]
    open_ = [label for label, c in judged.items() if c.verdict == INCONCLUSIVE]
    share = len(holding) / len(judged)
    if main.verdict == INCONCLUSIVE:
        verdict = INCONCLUSIVE
    elif holding and failing:
        verdict = CONDITIONAL
    elif open_:
        verdict = INCONCLUSIVE
    else:
        verdict = PASS if holding else FAIL
    where = holds_where if holds_where is not None else (
        "everywhere" if len(holding) == len(judged) else "nowhere" if not holding
        else "; ".join(holding))
    note = (f"re-judged across {family_name}: holds in {len(holding)} of {len(judged)}"
            + (f", undecided (INCONCLUSIVE) in {len(open_)}: {'; '.join(open_)}" if open_
               else "")
            + (f" ({unjudged} could not be judged)" if unjudged else ""))
    return replace(main, verdict=verdict, share_holds=share, holds_where=where,
                   decided_by=decided, detail=f"{main.detail}; {note}" if main.detail else note)


def across_tolerance(main: Check, family: Mapping[float, Check], name: str,
                     decided_by: str | None = None) -> Check:
    """``across`` for a tolerance we chose, where a larger value is looser: ``family`` maps
    each alternative value (ours among them) to the check judged with it. Where the verdict
    flips, ``holds_where`` says "<name> >= <the tightest value that passes>"."""
    holding = [t for t, c in family.items() if c.verdict == PASS]
    judged = [t for t, c in family.items() if c.verdict in (PASS, FAIL, INCONCLUSIVE)]
    where = (f"{name} >= {min(holding):g}" if holding and len(holding) < len(judged) else None)
    return across(main, {f"{name} {t:g}": c for t, c in family.items()},
                  f"{name} in {', '.join(f'{t:g}' for t in family)}", where,
                  decided_by if decided_by is not None else name)


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
    judged = summary[summary["verdict"].isin(JUDGED)]
    failed = judged[judged["verdict"] != PASS]
    names = ", ".join(f"{r.check}[{r.scope}]" for r in failed.itertuples())
    return f"{len(judged) - len(failed)}/{len(judged)} checks passed" + (
        f"; failed, conditional or inconclusive: {names}" if names else "")


def criteria_with_defaults(criteria: Mapping[str, float] | None,
                           defaults: Mapping[str, float]) -> dict[str, float]:
    """``defaults`` overridden by ``criteria``; an unknown name is an error, not ignored."""
    unknown = set(criteria or {}) - set(defaults)
    if unknown:
        raise KeyError(f"unknown criteria {sorted(unknown)}; known: {sorted(defaults)}")
    return {**defaults, **(criteria or {})}
