"""Pass criteria, one module per stage: pure functions from a stage's tables to its checks.

The stage's own summary table, the claims ledger and the notebooks all call these functions, so
a criterion is written once. They import no torch: the ledger and the notebooks stay light.

A check is one row: ``check`` (name), ``scope`` ("all" for the row a claim is judged on, else
the part it breaks down), the measured ``value``, the ``criterion`` in words, the
``threshold`` (the bound, or for a range the value the paper predicts) and the ``verdict``:

- PASS / FAIL: the value meets / misses the criterion; NaN always fails (never skipped);
- CONDITIONAL: the readings of the paper's sentence disagree (the ledger, ``claims.Reading``), or
  the verdict flips across a scientific choice (``across``: a recall criterion, a learning rate
  and start, a column scaling, a training budget; the sweep names which); never a PASS. A
  tolerance never makes a row CONDITIONAL: a row is judged at its stated criterion and the
  tolerance that would flip it is a number in its detail (``across_tolerance``);
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
our choice (``ours``). The config states it per criterion (``<section>.criteria_origin``); a check
names the criterion its threshold is (``criterion_name``) and ``with_origins`` gives it the
config's origin and why. A check re-judged across a scientific choice carries the share of the
alternatives where it holds (``share_holds``) and, in words, where (``holds_where``); one judged
at a tolerance carries, in ``holds_where``, the tolerance range where it passes.
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
from ..stats import CONFIDENCE, Interval, replicates_to_decide

PASS, CONDITIONAL, FAIL, MISSING, REPORTED = "PASS", "CONDITIONAL", "FAIL", "MISSING", "REPORTED"
INCONCLUSIVE = "INCONCLUSIVE"
VERDICTS = (PASS, CONDITIONAL, INCONCLUSIVE, FAIL, MISSING, REPORTED)
JUDGED = (PASS, CONDITIONAL, INCONCLUSIVE, FAIL)  # verdicts of a judged check (PASS only passes)
THEORY, LITERATURE, PAPER, OURS = "theory", "literature", "paper", "ours"
CHOSEN = OURS  # the old name of "ours" (a threshold we chose)
ORIGINS = (THEORY, LITERATURE, PAPER, OURS)
# What a row's verdict rests on (``decided_by`` starts with one of these): the criterion stated
# before the run, the reading of the paper's sentence, or a scientific choice swept by ``across``.
BY_CRITERION, BY_READING, BY_CHOICE = "criterion", "reading of the sentence", "scientific choice"
# What each verdict says, in the words of this module's docstring (the report's landing text
# and the ledger's caption list them from here, every verdict named).
VERDICT_MEANINGS = {
    PASS: "the measured value meets the criterion",
    CONDITIONAL: "the readings of the paper's sentence disagree, or the verdict flips across a "
                 "scientific choice swept by the row (decided_by names which); never a "
                 "tolerance; never a PASS",
    INCONCLUSIVE: "judged on an interval over replicates that straddles the threshold; the "
                  "detail says how many replicates would decide it; never a PASS",
    FAIL: "the measured value misses the criterion, or is NaN; reported, never hidden",
    MISSING: "what the check needs is not in this run's tables (a stage or model not run); "
             "never judged on another model, never a PASS",
    REPORTED: "a number shown for context, judged by nothing",
}
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
    decided_by: str = ""  # what the verdict rests on: BY_CRITERION, BY_READING or BY_CHOICE ...
    criterion_name: str = ""  # the config criterion its threshold is (``with_origins``)

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
    """``main`` (the check at the stated value of a scientific choice) re-judged across
    ``family``: the same check at each alternative to that choice (a recall criterion, a
    learning rate and start, a column scaling, a training budget; never a tolerance: see
    ``across_tolerance``), by a label saying which (the stated value among them).

    PASS only when every judged alternative passes, FAIL when every one fails, CONDITIONAL
    when some pass and some fail (the verdict changes across the choice), and INCONCLUSIVE when
    the rest is undecided: some alternatives INCONCLUSIVE and the others all one way. A main
    INCONCLUSIVE stays INCONCLUSIVE (its family is still summarised). ``share_holds`` is the
    share of judged alternatives that pass (INCONCLUSIVE ones count as judged, not passing);
    ``holds_where`` says where in words (``holds_where`` if given, else the labels where it
    holds). ``decided_by`` names the choice ("scientific choice: <family_name>" by default; a
    ``main`` that names one keeps it). Alternatives that could not be judged (MISSING) are
    left out and counted in the detail; with none judged, or ``main`` MISSING, the result is
    MISSING with the reason, never PASS. REPORTED alternatives are not judged either.
    """
    if not family_name:
        raise ValueError("across: name the scientific choice the family sweeps (family_name)")
    decided = main.decided_by or (decided_by if decided_by is not None
                                  else f"{BY_CHOICE}: {family_name}")
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


def passing_bound(check: Check) -> float:
    """The bound at which ``check`` (judged against a bound it is compared with: ``sense`` "<="
    or ">=") would flip: for "<=" it passes for every bound >= this (the interval's upper end,
    or the value), for ">=" for every bound <= this (the lower end, or the value). NaN: a NaN
    measurement, which passes at no bound."""
    if check.sense == "<=":
        edge = check.ci_high if math.isfinite(check.ci_high) else check.value
    elif check.sense == ">=":
        edge = check.ci_low if math.isfinite(check.ci_low) else check.value
    else:
        raise ValueError(f"check {check.check!r} has sense {check.sense!r}: give its flipping "
                         "tolerance explicitly")
    return float(edge) if math.isfinite(check.value) else math.nan


def flip_words(name: str, flips_at: float, looser: str = ">=") -> str:
    """'passes for <name> >= 0.357' (``looser``: the direction in which ``name`` loosens)."""
    if math.isnan(flips_at):
        return f"passes for no {name} (the measurement is not finite)"
    if math.isinf(flips_at):
        return f"passes for no finite {name}"
    return f"passes for {name} {looser} {flips_at:.4g}"


def across_tolerance(main: Check, family: Mapping[float, Check] | None, name: str,
                     decided_by: str | None = None, flips_at: float | None = None,
                     looser: str = ">=") -> Check:
    """``main``, judged at the stated tolerance ``name`` (a criterion fixed before the run),
    keeps its verdict: a tolerance is not a verdict. What it adds is the tolerance that would
    flip it, as a number: ``flips_at`` where the caller computes it exactly (e.g.
    ``passing_bound``; the check passes for ``name`` ``looser`` ``flips_at``), else the
    nearest values of ``family`` (tolerance -> the check judged with it; larger is looser
    unless ``looser`` is "<=") that pass and fail, said to be grid values. ``holds_where``
    says where it passes; ``decided_by``: "criterion: <name>" unless given (a ``main`` that
    names one keeps it)."""
    decided = main.decided_by or decided_by or f"{BY_CRITERION}: {name}"
    if main.verdict == MISSING:
        return replace(main, decided_by=decided)
    if flips_at is not None:
        where = flip_words(name, flips_at, looser)
    else:
        family = family or {}
        holding = sorted(t for t, c in family.items() if c.verdict == PASS)
        failing = sorted(t for t, c in family.items() if c.verdict == FAIL)
        if not holding:
            where = (f"fails at every {name} tried ({', '.join(f'{t:g}' for t in failing)})"
                     if failing else f"no {name} of the grid decides it")
        else:
            edge = min(holding) if looser == ">=" else max(holding)
            beyond = [t for t in failing if (t < edge if looser == ">=" else t > edge)]
            where = (f"passes for {name} {looser} {edge:g} on the grid "
                     f"{', '.join(f'{t:g}' for t in sorted(family))}"
                     + (f" (fails at {(max if looser == '>=' else min)(beyond):g})"
                        if beyond else ""))
    note = f"judged at the stated {name}; {where}"
    return replace(main, decided_by=decided, holds_where=where, share_holds=math.nan,
                   detail=f"{main.detail}; {note}" if main.detail else note)


def with_origins(found: Iterable[Check], origins: Mapping[str, str]) -> list[Check]:
    """``found`` with each check's ``origin`` taken from the config (``origins``: criterion ->
    "<origin>: <why>", ``<section>.criteria_origin``) where it names its criterion
    (``criterion_name``), and the why appended to its detail."""
    out = []
    for c in found:
        stated = origins.get(c.criterion_name) if c.criterion_name else None
        if stated is None:
            out.append(c)
            continue
        origin, _, why = str(stated).partition(":")
        out.append(replace(c, origin=origin.strip(), detail=(
            f"{c.detail}; " if c.detail else "") + f"{c.criterion_name} ({origin.strip()}: "
            f"{why.strip()})"))
    return out


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


# ---- rows that must hold in k settings, and the bound that would flip a verdict -------------

def simultaneous(k: int) -> float:
    """The confidence of each of k intervals that must hold together (Bonferroni): their
    family-wise error is at most 1 - CONFIDENCE."""
    return 1 - (1 - CONFIDENCE) / max(k, 1)


def flips_at(interval: Interval, sense: str) -> str:
    """The bound at which a verdict on ``interval`` would change, in words (a tolerance is a
    number in the detail, never a change of verdict)."""
    if not interval.defined:
        return "no interval, no flipping bound"
    if sense == ">=":
        return (f"PASS for a bound <= {interval.low:.4g}, FAIL for a bound > "
                f"{interval.high:.4g}")
    return f"PASS for a bound >= {interval.high:.4g}, FAIL for a bound < {interval.low:.4g}"


def _margin(check: Check) -> float:
    """How far a check's interval is inside its passing side (smaller: nearer its bound)."""
    if check.sense == ">=":
        return check.ci_low - check.threshold
    if check.sense == "<=":
        return check.threshold - check.ci_high
    return -abs(check.value - check.threshold)


def every(name: str, found: Mapping[str, Check], detail: str = "") -> Check:
    """A row that must hold in every setting of ``found`` (label -> its check, each on its
    simultaneous interval): FAIL when one wholly fails, else INCONCLUSIVE when one is
    undecided, else PASS (MISSING when one is). The decisive setting gives the numbers: the
    failing, else the undecided, else the passing one nearest its bound."""
    if not found:
        return missing(name, "every setting", "no setting to judge")
    checks_ = list(found.items())
    for verdict in (MISSING, FAIL, INCONCLUSIVE):
        hit = [(label, c) for label, c in checks_ if c.verdict == verdict]
        if hit:
            label, decisive = hit[0]
            break
    else:
        label, decisive = min(checks_, key=lambda lc: _margin(lc[1])
                              if math.isfinite(_margin(lc[1])) else -math.inf)
        verdict = PASS
    words = "; ".join(f"{lab}: {c.verdict} {c.value:.4g} [{c.ci_low:.4g}, {c.ci_high:.4g}]"
                      for lab, c in checks_)
    k = len(found)
    note = (f"decided at {label}: {decisive.detail}; {k} settings, each at "
            f"{simultaneous(k):.2%} (Bonferroni, family-wise 95%): {words}")
    return replace(decisive, check=name, scope=ALL, verdict=verdict,
                   detail=f"{detail}; {note}" if detail else note)
