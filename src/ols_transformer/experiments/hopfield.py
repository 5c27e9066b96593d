"""The Hopfield stage (paper Section 4): the largest number of stored patterns still retrieved.

The study is a set of runs (config ``hopfield.runs``): each a model, its N grid and, where it
differs from the stage's defaults, its retrieval criterion (rho, threshold, min_overlap) and,
for softmax, its inverse temperature beta (a number, or ``inv_sqrt_N``: a transformer's
1/sqrt(N)).

Protocol, for one run, N and seed:
- patterns: M random +-1 vectors, the first M rows of a pool drawn block by block from
  ``[seed, N, 0, block]``, so the patterns at M are a prefix of those at any larger M;
- cues: ``n_cues`` cues; cue j corrupts pattern j mod M by flipping exactly round(rho N) bits
  at positions drawn once from ``[seed, N, 1]`` (the same flips at every M: common random
  numbers, so the success rate is a smooth function of M);
- retrieval: the model's synchronous update (``hopfield.retrieve``) until a fixed point (for
  softmax, a step below ``softmax_tol``), a 2-cycle, or ``max_iter`` steps; a run with
  ``one_update`` makes exactly one update, as one transformer layer does;
- success: a fixed point whose read-out equals the stored pattern in every bit (exact
  recovery); with ``one_update``, the read-out after that one update equals the pattern (no
  fixed point asked for); with ``min_overlap`` < 1, a final overlap xi . s / N >= min_overlap
  instead;
- capacity: the largest M whose success rate (fraction of cues) is >= ``threshold``, found by
  doubling M from 1 until the rate drops below the threshold (``search_patience`` times in a
  row), then bisecting on integers.

The recall criterion decides a capacity (exact recall has the law N / (2 ln N), McEliece et
al. 1987; an overlap criterion ~0.14 N), so a run may list ``recall_criteria`` (overlaps; 1 =
exact, its own ``min_overlap`` among them): every retrieval is then scored under each, and the
searches share every M they both measure (one retrieval per M, whatever the criteria). The
capacity under an alternative criterion is tabled as a run of its own, ``<run>@exact`` or
``<run>@overlap<v>`` (column ``recall_of``: the run it belongs to; a run's own rows have
``recall_of`` = ``run``); each criterion's search is the one a run with that criterion alone
would make (a rate at M does not depend on what else was measured).

The search assumes the success rate does not increase with M (more patterns, more
crosstalk). With finite cues that holds in expectation only, so the bisection returns one
crossing point of a noisy curve; the spread over seeds, not the search, carries that noise,
and the confidence interval is a Student-t interval for the mean over seeds.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import hopfield as hp
from ..config import hopfield_jobs
from ..hopfield_theory import (
    ASSOCIATION_RULES,
    FIT_FORMS,
    INV_SQRT_N,
    amit_fits,
    amit_runs,
    association_scores,
    growth,
    primary,
    recall_of,
    successors_found,
)
from ..io import read_table
from ..progress import tracked
from ..stats import t_quantile

PATTERN_STREAM, CUE_STREAM = 0, 1
POOL_BLOCK = 1024  # rows per pattern block; any M is a prefix of the pool


@dataclass(frozen=True)
class Settings:
    """The estimator's knobs for one run and N."""

    rho: float
    threshold: float
    n_cues: int
    max_iter: int
    max_patterns: int
    search_rtol: float = 0.0
    search_patience: int = 1
    softmax_beta: float = 1.0
    softmax_tol: float = 1e-9
    block_elements: int = 4_000_000
    min_overlap: float = 1.0  # 1: exact recovery; below 1: overlap xi . s / N >= this
    one_update: bool = False  # one update and its read-out (a transformer layer), no fixed point
    # the other recall criteria scored on the same retrievals (overlaps; 1: exact)
    alternatives: tuple[float, ...] = ()

    @property
    def criteria(self) -> tuple[float, ...]:
        """Every recall criterion scored: the run's own first, then its alternatives."""
        return (self.min_overlap, *self.alternatives)


@dataclass(frozen=True)
class Run:
    """One line of the capacity study (an entry of config ``hopfield.runs``)."""

    name: str
    model: str
    N: tuple[int, ...]
    rho: float
    threshold: float
    min_overlap: float
    beta: float | str | None = None  # softmax only: a number, or "inv_sqrt_N"
    one_update: bool = False  # retrieval by one update (a transformer layer), not a fixed point
    recall_criteria: tuple[float, ...] = ()  # every criterion scored (min_overlap among them)
    max_iter: int | None = None  # the run's own cap on updates (default: the stage's)

    @property
    def alternatives(self) -> tuple[float, ...]:
        """The recall criteria scored besides the run's own ``min_overlap``."""
        return tuple(v for v in self.recall_criteria if v != self.min_overlap)

    def beta_at(self, N: int) -> float:
        """The softmax inverse temperature at N neurons (NaN for other models)."""
        if self.beta is None:
            return math.nan
        return 1.0 / math.sqrt(N) if self.beta == INV_SQRT_N else float(self.beta)

    def settings(self, cfg: Mapping[str, Any], N: int) -> Settings:
        max_iter = self.max_iter if self.max_iter is not None else int(cfg["max_iter"])
        return Settings(rho=self.rho, threshold=self.threshold, n_cues=int(cfg["n_cues"]),
                        max_iter=max_iter, max_patterns=int(cfg["max_patterns"]),
                        search_rtol=float(cfg["search_rtol"]),
                        search_patience=int(cfg["search_patience"]),
                        softmax_beta=self.beta_at(N) if self.beta is not None else 1.0,
                        softmax_tol=float(cfg["softmax_tol"]),
                        block_elements=int(cfg["block_elements"]),
                        min_overlap=self.min_overlap, one_update=self.one_update,
                        alternatives=self.alternatives)


def recall_run(run: str, overlap: float) -> str:
    """The name of run ``run``'s rows under the alternative recall criterion ``overlap``."""
    return f"{run}@exact" if overlap >= 1.0 else f"{run}@overlap{overlap:g}"


def runs(cfg: Mapping[str, Any]) -> list[Run]:
    """The runs of config ``hopfield``, each with the stage's defaults where it sets none."""
    out = []
    for name, entry in cfg["runs"].items():
        min_overlap = float(entry.get("min_overlap", cfg["min_overlap"]))
        out.append(Run(
            name=str(name), model=str(entry["model"]), N=tuple(int(n) for n in entry["N"]),
            rho=float(entry.get("rho", cfg["rho"])),
            threshold=float(entry.get("threshold", cfg["threshold"])),
            min_overlap=min_overlap,
            beta=entry.get("beta", 1.0 if entry["model"] == "softmax" else None),
            one_update=bool(entry.get("one_update", False)),
            recall_criteria=tuple(float(v) for v in entry.get("recall_criteria", [min_overlap])),
            max_iter=int(entry["max_iter"]) if "max_iter" in entry else None))
    return out


def flip_count(N: int, rho: float) -> int:
    """Bits flipped per cue: rho N rounded half up."""
    return int(math.floor(rho * N + 0.5))


# ---- patterns and cues -----------------------------------------------------------------------

@dataclass
class PatternPool:
    """Random +-1 patterns of one (seed, N), drawn block by block so any M is a prefix."""

    seed: int
    N: int
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _rows: torch.Tensor | None = None

    def _block(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.N, PATTERN_STREAM, index])
        return 2.0 * rng.integers(0, 2, size=(POOL_BLOCK, self.N)) - 1.0

    def first(self, M: int) -> torch.Tensor:
        """The first M patterns (M x N, float64 on the pool's device)."""
        have = 0 if self._rows is None else len(self._rows)
        if M > have:
            blocks = [self._block(b) for b in range(have // POOL_BLOCK, -(-M // POOL_BLOCK))]
            new = torch.as_tensor(np.concatenate(blocks), dtype=hp.DTYPE, device=self.device)
            self._rows = new if self._rows is None else torch.cat([self._rows, new])
        assert self._rows is not None
        return self._rows[:M]


def flip_signs(seed: int, N: int, n_cues: int, flips: int) -> np.ndarray:
    """n_cues x N matrix of +-1: -1 at exactly ``flips`` uniformly chosen positions per row."""
    rng = np.random.default_rng([seed, N, CUE_STREAM])
    order = np.argsort(rng.random((n_cues, N)), axis=1)
    signs = np.ones((n_cues, N))
    np.put_along_axis(signs, order[:, :flips], -1.0, axis=1)
    return signs


def retrieved(found: hp.Retrieval, goal: torch.Tensor, min_overlap: float,
              one_update: bool = False) -> torch.Tensor:
    """Per cue: a fixed point equal to the pattern in every bit (min_overlap = 1), the read-out
    of a single update equal to it (``one_update``: a transformer layer asks for no fixed
    point), or a final state with overlap xi . s / N >= min_overlap (fixed point or not)."""
    if min_overlap >= 1.0:
        exact = (found.states == goal).all(dim=1)
        return exact if one_update else found.fixed & exact
    return (found.states * goal).mean(dim=1) >= min_overlap


def success_rates(model: hp.Memory, patterns: torch.Tensor, signs: torch.Tensor,
                  settings: Settings) -> np.ndarray:
    """Fraction of cues (cue j: pattern j mod M, corrupted by row j of ``signs``) retrieved
    under each recall criterion of ``settings.criteria`` (shape (criteria,)), all from the
    same retrievals. The model prepares the patterns once; cues go in batches of at most
    ``block_elements`` / M, which bounds the B x M overlap matrices in memory."""
    M = len(patterns)
    prepared = model.prepare(patterns)
    targets = torch.arange(len(signs), device=patterns.device) % M
    batch = max(1, settings.block_elements // M)
    hits = np.zeros(len(settings.criteria))
    for start in range(0, len(signs), batch):
        goal = patterns[targets[start:start + batch]]
        found = hp.retrieve(model, prepared, goal * signs[start:start + batch],
                            1 if settings.one_update else settings.max_iter,
                            settings.softmax_tol)
        hits += [int(retrieved(found, goal, v, settings.one_update).sum())
                 for v in settings.criteria]
    return hits / len(signs)


def success_rate(model: hp.Memory, patterns: torch.Tensor, signs: torch.Tensor,
                 settings: Settings) -> float:
    """The success rate under the run's own criterion alone (``success_rates``' first)."""
    return float(success_rates(model, patterns, signs, replace(settings, alternatives=()))[0])


# ---- the search over M -----------------------------------------------------------------------

@dataclass(frozen=True)
class SearchResult:
    capacity: int  # largest M found with rate >= threshold (0: even M = 1 fails)
    censored: bool  # the rate never dropped below the threshold up to max_patterns
    evaluations: int  # distinct M at which the rate was measured
    rate_at_capacity: float
    rate_above: float  # rate at the smallest failing M the search saw (NaN if censored)


def search_capacity(rate: Callable[[int], float], threshold: float, max_patterns: int,
                    rtol: float = 0.0, patience: int = 1) -> SearchResult:
    """Largest M in [1, max_patterns] with rate(M) >= threshold, for a non-increasing rate.

    Doubling from M = 1 brackets the crossing: it goes on until ``patience`` doublings in a row
    fail, so an isolated dip of a noisy rate at small M (one unlucky pattern weighs 1/M) does
    not end the search; lo is the last passing M, hi = 2 lo fails. Bisection then halves
    [lo, hi] until hi - lo <= max(1, rtol * lo) and returns lo (exact with rtol = 0). Inside
    that last bracket the rate is assumed monotone.
    """
    seen: dict[int, float] = {}

    def passes(M: int) -> bool:
        if M not in seen:
            seen[M] = float(rate(M))
        return seen[M] >= threshold

    if not passes(1):
        return SearchResult(0, False, len(seen), math.nan, seen[1])
    lo, M, misses = 1, 2, 0
    while misses < patience and M <= max_patterns:
        lo, misses = (M, 0) if passes(M) else (lo, misses + 1)
        M *= 2
    hi = 2 * lo  # measured, and failed, unless beyond the cap
    if hi > max_patterns:
        if lo == max_patterns or passes(max_patterns):
            return SearchResult(max_patterns, True, len(seen), seen[max_patterns], math.nan)
        hi = max_patterns
    while hi - lo > max(1, int(rtol * lo)):
        mid = (lo + hi) // 2
        if passes(mid):
            lo = mid
        else:
            hi = mid
    return SearchResult(lo, False, len(seen), seen[lo], seen[hi])


def estimates(model: hp.Memory, N: int, seed: int, settings: Settings,
              device: torch.device | None = None) -> list[SearchResult]:
    """Capacity of ``model`` at N for one seed (patterns and cue flips from that seed), one
    per recall criterion of ``settings.criteria``: the searches run one after the other on a
    shared record of the rates measured, so an M one search measured costs the next nothing
    (every criterion is scored on each retrieval)."""
    device = device or torch.device("cpu")
    pool = PatternPool(seed, N, device)
    signs = torch.as_tensor(flip_signs(seed, N, settings.n_cues, flip_count(N, settings.rho)),
                            dtype=hp.DTYPE, device=device)
    # No more distinct +-1 patterns than 2^N would make sense; the cap also bounds run time.
    cap = min(settings.max_patterns, 2 ** min(N, 62))
    measured: dict[int, np.ndarray] = {}

    def rates(M: int) -> np.ndarray:
        if M not in measured:
            measured[M] = success_rates(model, pool.first(M), signs, settings)
        return measured[M]

    return [search_capacity(lambda M, k=k: float(rates(M)[k]), settings.threshold, cap,
                            settings.search_rtol, settings.search_patience)
            for k in range(len(settings.criteria))]


def estimate(model: hp.Memory, N: int, seed: int, settings: Settings,
             device: torch.device | None = None) -> SearchResult:
    """Capacity of ``model`` at N for one seed under the run's own criterion alone."""
    return estimates(model, N, seed, replace(settings, alternatives=()), device)[0]


# ---- the stage -------------------------------------------------------------------------------

def run_one(cfg: Mapping[str, Any], run: Run,
            progress: Callable[[str], object] | None = None) -> pd.DataFrame:
    """One row per (N, seed) of ``run`` and per recall criterion (the run's own under its
    name, each alternative as ``recall_run``): capacity and how the search found it
    (``evaluations``: the M that criterion's search asked for). Every (N, seed) draws from its
    own generators (``[seed, N, ...]``), so a row does not depend on the other N of the run or
    on the other runs: a run split into jobs gives the same rows."""
    device = hp.resolve_device(str(cfg["device"]))
    if progress is not None:  # the device is the machine's, not a result: the log, not the table
        progress(f"run {run.name} on {device.type}")
    rows = []
    for N in tracked(run.N, f"N of run {run.name}", progress, label=lambda N: f"N = {N}"):
        settings = run.settings(cfg, N)
        memory = hp.make_model(run.model, settings.softmax_beta)
        for seed in cfg["seeds"]:
            found = estimates(memory, N, int(seed), settings, device)
            for overlap, one in zip(settings.criteria, found, strict=True):
                name = run.name if overlap == run.min_overlap else recall_run(run.name, overlap)
                rows.append({"run": name, "model": run.model, "N": N, "seed": int(seed),
                             "capacity": one.capacity, "censored": one.censored,
                             "rate_at_capacity": one.rate_at_capacity,
                             "rate_above": one.rate_above, "evaluations": one.evaluations,
                             "flips": flip_count(N, settings.rho), "rho": settings.rho,
                             "threshold": settings.threshold, "min_overlap": overlap,
                             "beta": "" if run.beta is None else str(run.beta),
                             "beta_value": run.beta_at(N), "one_update": run.one_update,
                             "n_cues": settings.n_cues,
                             "max_iter": 1 if run.one_update else settings.max_iter,
                             "recall_of": run.name})
    return pd.DataFrame(rows)


def run(cfg: Mapping[str, Any],
        progress: Callable[[str], object] = lambda _: None) -> pd.DataFrame:
    """hopfield_capacity: every run of ``cfg['runs']``, one row per (run, N, seed), with the
    mean and t-interval over seeds (``combine``). ``progress`` gets one line per run."""
    tables = []
    for entry in runs(cfg):
        start = time.perf_counter()
        tables.append(run_one(cfg, entry, progress))
        mean = tables[-1].groupby("N")["capacity"].mean().round(1).to_dict()
        progress(f"{entry.name}: mean capacity by N {mean} "
                 f"({time.perf_counter() - start:.1f} s)")
    return combine(tables, float(cfg["confidence"]))


def run_part(cfg: Mapping[str, Any], name: str, grid: Sequence[int] | None = None,
             seeds: Sequence[int] | None = None,
             progress: Callable[[str], object] | None = None) -> pd.DataFrame:
    """The per-seed rows (no mean or interval yet) of run ``name`` of ``cfg['runs']`` at the N
    of ``grid`` and the ``seeds`` (default: its whole grid, every seed): what one part job of
    the stage computes (config.hopfield_jobs); ``gather`` puts the parts together."""
    (entry,) = [each for each in runs(cfg) if each.name == name]
    if grid is not None:
        unknown = sorted(set(int(N) for N in grid) - set(entry.N))
        if unknown:
            raise ValueError(f"run {name} has no N {unknown} in its grid {list(entry.N)}")
        entry = replace(entry, N=tuple(int(N) for N in grid))
    if seeds is not None:
        cfg = {**cfg, "seeds": [int(seed) for seed in seeds]}
    return run_one(cfg, entry, progress)


def read_part(path: str | os.PathLike[str]) -> pd.DataFrame:
    """A part table as ``run_part`` gave it (``beta`` is text: ``1.0`` stays ``1.0``)."""
    table = read_table(path, dtype={"beta": str})
    return table.assign(beta=table["beta"].fillna(""))


def gather(parts: Sequence[pd.DataFrame], cfg: Mapping[str, Any]) -> pd.DataFrame:
    """hopfield_capacity from the part tables (``run_part``, any split into jobs): the same
    table as ``run(cfg)``. Refuses parts that miss a (run, N, seed) of the config, naming the
    job that should have computed it, or that hold one twice."""
    table = pd.concat(list(parts), ignore_index=True)
    have = set(zip(table["run"], table["N"].astype(int), table["seed"].astype(int),
                   strict=True))
    missing = {job: f"run {part.run} at N = {N}" for job, parts in hopfield_jobs(cfg).items()
               for part in parts for N in part.N for seed in (part.seeds or cfg["seeds"])
               if (part.run, N, int(seed)) not in have}
    if missing:
        raise ValueError("the Hopfield parts miss " + ", ".join(
            f"{what} (job {job})" for job, what in missing.items()))
    twice = table.duplicated(["run", "N", "seed"])
    if twice.any():
        raise ValueError(f"the Hopfield parts hold (run, N, seed) twice: "
                         f"{table.loc[twice, ['run', 'N', 'seed']].values.tolist()[:5]}")
    order = {name: i for i, name in enumerate(cfg["runs"])}
    table = table.iloc[np.argsort(recall_of(table).map(order).to_numpy(), kind="stable")]
    return combine([table], float(cfg["confidence"]))


def mean_interval(values: Sequence[float], confidence: float) -> tuple[float, float, float]:
    """Mean and the Student-t interval of the mean over seeds (NaN bounds for one seed)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = t_quantile(0.5 + confidence / 2, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def combine(tables: list[pd.DataFrame], confidence: float = 0.95) -> pd.DataFrame:
    """hopfield_capacity: per-seed rows of every run (in the order given), with the mean and
    t-interval over seeds repeated on each row of a (run, N)."""
    table = pd.concat(tables, ignore_index=True)
    # a run's own rows first, then its alternative criteria (in the order they came)
    order = {name: i for i, name in enumerate(dict.fromkeys(
        list(recall_of(table)) + list(table["run"])))}
    table = (table.assign(_order=recall_of(table).map(order), _alt=table["run"].map(order))
             .sort_values(["_order", "_alt", "N", "seed"]).drop(columns=["_order", "_alt"])
             .reset_index(drop=True))
    stats = {key: mean_interval(rows["capacity"], confidence)
             for key, rows in table.groupby(["run", "N"], sort=False)}
    keys = list(zip(table["run"], table["N"], strict=True))
    table["capacity_mean"] = [stats[k][0] for k in keys]
    table["ci_low"] = [stats[k][1] for k in keys]
    table["ci_high"] = [stats[k][2] for k in keys]
    table["n_seeds"] = table.groupby(["run", "N"])["seed"].transform("size")
    table["confidence"] = confidence
    return table


def headline(growth_table: pd.DataFrame) -> str:
    """One line for logs: each run's fitted law."""
    parts = []
    for row in growth_table.itertuples():
        fit = (f"rate {row.semilog_rate:.3f}/N" if row.theory_law == "exponential"
               else f"slope {row.loglog_slope:.2f}")
        parts.append(f"{row.run}: {fit} (C {row.capacity_at_N_min:.3g} -> "
                     f"{row.capacity_at_N_max:.3g})")
    return "; ".join(parts)


# ---- the derived tables: growth fits, Amit's criterion, softmax's temperatures ----------------

def _per_N(at: pd.DataFrame) -> pd.DataFrame:
    """One row per N of a run: mean capacity over seeds and its interval (from ``combine``)."""
    return at.drop_duplicates("N").sort_values("N").reset_index(drop=True)


def amit_table(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_amit: the classical network at Amit's criterion, per run and N: alpha = C / N
    (mean and t-interval over seeds) and, per fit form f of ``FIT_FORMS``, the fitted
    alpha_inf_f and a_f (the same on every row of a run) and alpha_fitted_f at this N. The
    figure draws from these columns; it fits nothing."""
    fits = amit_fits(table)
    frames = []
    for run in amit_runs(table):
        rows = _per_N(table[table["run"] == run])
        N = rows["N"].to_numpy(dtype=float)
        frame = pd.DataFrame({
            "run": run, "N": rows["N"], "rho": rows["rho"], "threshold": rows["threshold"],
            "min_overlap": rows["min_overlap"], "capacity_mean": rows["capacity_mean"],
            "alpha": rows["capacity_mean"] / N, "alpha_ci_low": rows["ci_low"] / N,
            "alpha_ci_high": rows["ci_high"] / N, "alpha_amit": 0.138})
        for form, p in FIT_FORMS.items():
            fit = fits[(fits["run"] == run) & (fits["form"] == form)].iloc[0]
            frame[f"alpha_inf_{form}"] = fit["alpha_inf"]
            frame[f"a_{form}"] = fit["a"]
            frame[f"alpha_fitted_{form}"] = fit["alpha_inf"] + fit["a"] * N ** -p
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def softmax_table(table: pd.DataFrame) -> pd.DataFrame:
    """hopfield_softmax: softmax capacity per run (inverse temperature; retrieval by a fixed
    point or by one update) and N, with the fits of ln C on N and on sqrt(N) and the law that
    fits better."""
    fits = growth(table).set_index("run")
    frames = []
    for run, at in primary(table).groupby("run", sort=False):
        if at["model"].iloc[0] != "softmax":
            continue
        rows, fit = _per_N(at), fits.loc[run]
        frames.append(pd.DataFrame({
            "run": run, "beta": rows["beta"], "beta_value": rows["beta_value"],
            "retrieval": "one update" if fit["one_update"] else "fixed point", "N": rows["N"],
            "capacity_mean": rows["capacity_mean"], "ci_low": rows["ci_low"],
            "ci_high": rows["ci_high"], "ln_capacity": np.log(rows["capacity_mean"]),
            "rate_per_N": fit["semilog_rate"], "r2_per_N": fit["semilog_r2"],
            "rate_per_sqrt_N": fit["sqrt_rate"], "r2_per_sqrt_N": fit["sqrt_r2"],
            "law_found": "exp(c N)" if fit["semilog_r2"] > fit["sqrt_r2"] else "exp(c sqrt(N))"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# The asymmetric-association table (the paper's Sec. 5, "QKV parameterization"): exact scores,
# milliseconds; tokens of N = 64 bits, directed cycles of M tokens.
ASSOCIATION_N = 64
ASSOCIATION_M = (3, 8, 16)


def association_table(cfg: Mapping[str, Any]) -> pd.DataFrame:
    """hopfield_asymmetric: per seed of ``hopfield.seeds``, M of ``ASSOCIATION_M`` random +-1
    tokens of ``ASSOCIATION_N`` bits (drawn from ``[seed, N, M, 2]``) stored as the directed
    cycle x_mu -> x_(mu+1); per association rule (``hopfield_theory.ASSOCIATION_RULES``) how
    many tokens score their successor strictly highest. Columns seed, N, M, rule, found,
    symmetric_bound (M - 1: the most any symmetric score can reach)."""
    rows = []
    for seed in cfg["seeds"]:
        for M in ASSOCIATION_M:
            rng = np.random.default_rng([int(seed), ASSOCIATION_N, M, 2])
            tokens = rng.choice([-1.0, 1.0], size=(M, ASSOCIATION_N))
            for rule in ASSOCIATION_RULES:
                rows.append({"seed": int(seed), "N": ASSOCIATION_N, "M": M, "rule": rule,
                             "found": successors_found(association_scores(tokens, rule)),
                             "symmetric_bound": M - 1})
    return pd.DataFrame(rows)


def derived(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The stage's tables built from hopfield_capacity (``gather``'s or ``run``'s):
    hopfield_growth (``hopfield_theory.growth``), hopfield_amit, hopfield_softmax."""
    return {"hopfield_growth": growth(table), "hopfield_amit": amit_table(table),
            "hopfield_softmax": softmax_table(table)}
