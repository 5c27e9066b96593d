"""Core-hours of config/large.yaml, estimated from a default run's cost table.

    python benchmarks/large_estimate.py results/<default version>
    python benchmarks/large_estimate.py results/<default version> --large config/large.yaml \
        --default-config results/<default version>/config.resolved.yaml

Reads the job seconds of a run of the default config (``results/<version>/cost/cost.csv``, rows
``level == job``) and that run's own config (``--default-config``; default: the run's
``config.resolved.yaml``, else config/config.yaml; a resolved config sorts its keys, which
the rates below do not depend on), and estimates every compute job of the large
config (``--large`` merged over config/config.yaml, as Snakemake merges a configfile): every
stage of the registry (``stages.STAGES``), each part job ``<stage>_<part>`` of a scattered stage
and its gather, and each notebook ``notebook_<stage>``: the jobs of ``snakemake -n`` less
run_record, version, cost and all. A part job's seconds are its compute, scaled, plus one
start-up (``--startup``: importing torch and the package), which is not scaled:
- Hopfield parts (``config.hopfield_jobs``): each default run's compute (its part jobs less their
  start-up; a job shared by runs split among them by their grids' work), times sum(N^k) over the
  large grid over the same sum over the default grid, times the ratio of seeds; k = 1 + the
  capacity exponent of the model (a retrieval costs ~ N x M multiply-adds, M ~ capacity ~
  N^exponent; linear memories k = 2, poly3 k = 3, poly4 k = 4, as measured between the default
  grid's two largest N); exponential and softmax runs keep their grids. Each large part job gets
  its share by its own N and seeds. A run the default config does not have is estimated from
  the default run of its model.
- icl parts (``config.icl_parts``, experiments/icl.py ``run_part``): a part's work is seeds x
  sum(N) over its (Lambda, N) settings x d^2 (the models' matmuls) x sum of depths (a depth-L
  stack costs ~ L x depth 1) x min(step cap, config.ICL_EXPECTED_STEPS) x restarts x batch size.
  ``lsa_<i>`` (the stacks, ``icl_lsa_groups``): the default lsa parts' compute per unit of work,
  times the large part's work. ``sensitivity_<i>`` (``icl_sensitivity_jobs``: an alternative on
  some settings, the sensitivity grid's seeds and depths, the alternative's cap): the default's
  compute per unit of work of the same alternative (e.g. ``lr=0.05``); a new alternative (e.g.
  ``lr=0.01``, ``clip=0.0``) that of the default's alternatives of its kind (under-trained
  controls, or not). ``designs`` (every design at (shift.lambda, shift.context_size), every
  seed): the default's, times the ratios of seeds, d^2, the context size and the number of
  designs. ``norm_<L>`` (the normalised stack of depth L, same setting): the default's part of
  the same L, else the default norm parts' compute per depth times L; times the ratios of seeds,
  d^2 and the context size. The steps a model takes to its plateau are taken not to change
  with d or N.
- attention_regression condition parts (``<design>_n<N>_snr<SNR>``,
  ``config.attention_regression_parts``, ``condition_of_part``): one Attention Regression fit
  costs ~ N^2 per LBFGS evaluation (the heads' N x N attention), so a part's compute is the
  default's of the same design per N^2 x replicates x variants (over the default's parts of that
  design, any N, SNR), times the large part's N^2 x replicates x variants; SNR costs nothing. At
  the default's N (500) and 3 replicates, a part at N = 1000 with 10 replicates costs
  (1000/500)^2 x 10/3 x (seconds - start-up) + start-up. Assumed: the baselines (OLS, RF, GBM,
  NW, the MLP) grow ~ linearly in N but are folded into the N^2 (~20% of a default part's
  compute at N = 200, the MLP ~9%: overcounted at large N), and large.yaml's 10-network MLP
  ensemble (the default: 1) is not scaled on its own. A design the default lacks: all default
  designs pooled. The ``identity`` part (the algebra: fixed n, p) as measured.
- training and training_sweep jobs: times the ratio of ``training.seeds``; shift: of
  ``shift.seeds``; the rest (data, proof, nist, the gathers, notebooks, claims): as measured.
Prints the estimated CPU core-hours (one core per job, as the rules ask), the longest job, the
top 8 jobs and the core-hours per stage. large.yaml sets ``device: cuda`` for the hopfield, icl
and attention_regression parts (each asks SLURM for a GPU): on GPUs those jobs take a fraction
of these CPU seconds; nothing here is measured on a GPU.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ols_transformer import stages
from ols_transformer.config import (
    ICL_EXPECTED_STEPS,
    HopfieldPart,
    attention_regression_jobs,
    attention_regression_part_work,
    attention_regression_parts,
    condition_of_part,
    hopfield_jobs,
    icl_jobs,
    icl_lsa_groups,
    icl_part_work,
    icl_sensitivity_jobs,
    icl_sensitivity_variants,
)
from ols_transformer.hopfield_theory import spec

REPO = Path(__file__).resolve().parents[1]
# What Snakemake runs beside the compute jobs: bookkeeping, not in a run's cost table.
BOOKKEEPING = ("run_record", "version", "cost", "all")


def merged(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base`` key by key, as Snakemake merges configfiles."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def compute_jobs(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(job, stage) of every compute job of ``config``, as the workflow and the cost table name
    them: each stage of the registry (its part jobs ``<stage>_<part>`` first, then the stage's
    own job), and each stage's notebook (stage ``notebook_<stage>``)."""
    jobs = []
    for stage in stages.STAGES.values():
        jobs += [(stages.part_stage(stage.name, part), stage.name)
                 for part in stages.parts(stage.name, config)]
        jobs.append((stage.name, stage.name))
    jobs += [(stages.notebook_stage(s.name), stages.notebook_stage(s.name))
             for s in stages.STAGES.values() if s.notebook is not None]
    return jobs


# ---- Hopfield --------------------------------------------------------------------------------

def grid_work(model: str, grid: list[int]) -> float:
    """sum over N of N^k, k = 1 + the capacity exponent (exponential growth: grids unchanged,
    so any k gives the ratio 1 when the grid is the same; 2 is used)."""
    exponent = spec(model).exponent
    k = 1.0 + (exponent if math.isfinite(exponent) else 1.0)
    return float(sum(float(N) ** k for N in grid))


def part_work(hopfield: Mapping[str, Any], part: HopfieldPart) -> float:
    """A part job's work in the unit of ``grid_work``: its N, times the seeds it computes."""
    seeds = len(part.seeds) if part.seeds is not None else len(hopfield["seeds"])
    return grid_work(hopfield["runs"][part.run]["model"], list(part.N)) * seeds


def hopfield_estimates(seconds: Mapping[str, float], default: Mapping[str, Any],
                       large: Mapping[str, Any], startup: float) -> dict[str, float]:
    """Large Hopfield part job -> estimated seconds (module docstring)."""
    # Each default run's compute (its part jobs less their start-up). A job holding several
    # runs (a shared `job`) is split among them by their grid's work.
    run_seconds = {name: 0.0 for name in default["hopfield"]["runs"]}
    for job, parts in hopfield_jobs(default["hopfield"]).items():
        work = [part_work(default["hopfield"], part) for part in parts]
        for part, share in zip(parts, work, strict=True):
            run_seconds[part.run] += max(seconds[job] - startup, 0.0) * share / sum(work)
    seeds = len(large["hopfield"]["seeds"]) / len(default["hopfield"]["seeds"])
    by_model = {run["model"]: name for name, run in default["hopfield"]["runs"].items()}
    out = {}
    for job, parts in hopfield_jobs(large["hopfield"]).items():
        estimate_seconds = startup
        for part in parts:
            run = large["hopfield"]["runs"][part.run]
            base = part.run if part.run in default["hopfield"]["runs"] else by_model[run["model"]]
            base_run = default["hopfield"]["runs"][base]
            total = run_seconds[base] * seeds * grid_work(run["model"], list(run["N"])) \
                / grid_work(base_run["model"], list(base_run["N"]))
            estimate_seconds += total * part_work(large["hopfield"], part) \
                / (grid_work(run["model"], list(run["N"])) * len(large["hopfield"]["seeds"]))
        out[job] = estimate_seconds
    return out


# ---- icl -------------------------------------------------------------------------------------

def icl_work(icl: Mapping[str, Any], settings: Sequence[tuple[str, int]], seeds: Sequence[Any],
             depths: Sequence[int], cap: int) -> float:
    """Work of training stacks on ``settings`` ((Lambda, N) pairs): seeds x sum(N) x d^2 x
    sum(depths) x min(cap, ICL_EXPECTED_STEPS) x restarts x batch size."""
    return (len(seeds) * sum(int(N) for _, N in settings) * int(icl["d"]) ** 2
            * sum(int(L) for L in depths) * min(int(cap), ICL_EXPECTED_STEPS)
            * int(icl.get("restarts", 2)) * int(icl["batch_size"]))


def _sensitivity_jobs(icl: Mapping[str, Any]) -> list[tuple[str, str, bool, float]]:
    """(part, alternative, under-trained control?, work) of each sensitivity part job."""
    s, variants = icl["sensitivity"], icl_sensitivity_variants(icl)
    return [(f"sensitivity_{i}", label, bool(variants[label]["control"]),
             icl_work(icl, pairs, s["seeds"], s["depths"], variants[label]["cap"]))
            for i, (label, pairs) in enumerate(icl_sensitivity_jobs(icl), start=1)]


def _design_work(icl: Mapping[str, Any], count: int) -> float:
    """Work of ``count`` token-path models (a design, or a normalised stack's depth) at the
    shift setting, over the seeds: seeds x d^2 x context size x count."""
    return len(icl["seeds"]) * int(icl["d"]) ** 2 * int(icl["shift"]["context_size"]) * count


def _rate(pairs: Sequence[tuple[float, float]]) -> float:
    """Compute seconds per unit of work over (seconds, work) pairs."""
    return sum(s for s, _ in pairs) / sum(w for _, w in pairs)


def icl_estimates(seconds: Mapping[str, float], default: Mapping[str, Any],
                  large: Mapping[str, Any], startup: float) -> dict[str, float]:
    """Large icl part job -> estimated seconds (module docstring)."""
    d_icl, l_icl = default["icl"], large["icl"]

    def compute(part: str) -> float:
        return max(seconds[f"icl_{part}"] - startup, 0.0)

    out = {}
    # the stacks
    lsa = _rate([(compute(f"lsa_{i}"),
                  icl_work(d_icl, group, d_icl["seeds"], d_icl["depths"], d_icl["steps"]))
                 for i, group in enumerate(icl_lsa_groups(d_icl), start=1)])
    for i, group in enumerate(icl_lsa_groups(l_icl), start=1):
        out[f"icl_lsa_{i}"] = startup + lsa * icl_work(l_icl, group, l_icl["seeds"],
                                                       l_icl["depths"], l_icl["steps"])
    # the designs: every design, depth 1
    if l_icl["designs"]:
        out["icl_designs"] = startup + compute("designs") \
            * _design_work(l_icl, len(l_icl["designs"])) \
            / _design_work(d_icl, len(d_icl["designs"]))
    # the normalised stacks: the same depth's default part, else the default's per depth
    norm = [int(L) for L in d_icl.get("norm_depths", [])]
    per_depth = _rate([(compute(f"norm_{L}"), _design_work(d_icl, L)) for L in norm]) \
        if norm else math.nan
    for L in (int(L) for L in l_icl.get("norm_depths", [])):
        rate = compute(f"norm_{L}") / _design_work(d_icl, L) if L in norm else per_depth
        out[f"icl_norm_{L}"] = startup + rate * _design_work(l_icl, L)
    # the sensitivity grid: the same alternative's, else the default's of its kind
    measured = [(label, control, compute(part), work)
                for part, label, control, work in _sensitivity_jobs(d_icl)]
    for part, label, control, work in _sensitivity_jobs(l_icl):
        same = [(s, w) for lab, _, s, w in measured if lab == label] \
            or [(s, w) for _, c, s, w in measured if c == control] \
            or [(s, w) for _, _, s, w in measured]
        out[f"icl_{part}"] = startup + _rate(same) * work
    return out


# ---- attention_regression --------------------------------------------------------------------

def _fits(ar: Mapping[str, Any], n: int) -> float:
    """Work of one condition part at N = n: N^2 x runs x replicates x variants."""
    return (float(n) ** 2 * len(ar.get("seeds", [0])) * int(ar["replicates"])
            * len(ar.get("variants", ["paper"])))


def attention_regression_estimates(seconds: Mapping[str, float], default: Mapping[str, Any],
                                   large: Mapping[str, Any], startup: float
                                   ) -> dict[str, float]:
    """Large attention_regression part job -> estimated seconds (module docstring)."""
    d_ar, l_ar = default["attention_regression"], large["attention_regression"]
    by_design: dict[str, list[tuple[float, float]]] = {}
    for part in attention_regression_parts(d_ar)[1:]:
        design, n, _ = condition_of_part(part)
        by_design.setdefault(design, []).append(
            (max(seconds[f"attention_regression_{part}"] - startup, 0.0), _fits(d_ar, n)))
    pooled = [pair for pairs in by_design.values() for pair in pairs]
    out = {"attention_regression_identity": seconds["attention_regression_identity"]}
    for part in attention_regression_parts(l_ar)[1:]:
        design, n, _ = condition_of_part(part)
        out[f"attention_regression_{part}"] = startup \
            + _rate(by_design.get(design, pooled)) * _fits(l_ar, n)
    return out


# ---- packed part jobs (config.packed_jobs: small consecutive parts share one job) --------------

def _packing(config: Mapping[str, Any]) -> list[tuple[str, dict[str, list[str]], dict[str, float]]]:
    """(stage, job -> parts, part -> work) of the stages whose small parts share jobs."""
    return [("icl", icl_jobs(config["icl"]), icl_part_work(config["icl"])),
            ("attention_regression", attention_regression_jobs(config["attention_regression"]),
             attention_regression_part_work(config["attention_regression"]))]


def unpacked(seconds: Mapping[str, float], config: Mapping[str, Any], startup: float
             ) -> dict[str, float]:
    """Each part of a packed job of ``config`` (a run that packed parts) -> its share of the
    job's compute by work, plus a start-up, as if it had run alone."""
    out = {}
    for stage, jobs, work in _packing(config):
        for job, parts in jobs.items():
            name = f"{stage}_{job}"
            if len(parts) > 1 and name in seconds:
                compute = max(seconds[name] - startup, 0.0)
                total = sum(work[p] for p in parts)
                out.update({f"{stage}_{p}": startup + compute * work[p] / total for p in parts})
    return out


def packed(estimates: Mapping[str, float], config: Mapping[str, Any], startup: float
           ) -> dict[str, float]:
    """Each packed job of ``config`` -> the compute of its parts' estimates plus one start-up."""
    return {f"{stage}_{job}": startup + sum(max(estimates[f"{stage}_{p}"] - startup, 0.0)
                                            for p in parts)
            for stage, jobs, _ in _packing(config) for job, parts in jobs.items()
            if len(parts) > 1}


# ---- every job -------------------------------------------------------------------------------

def estimate(jobs: pd.DataFrame, default: dict[str, Any], large: dict[str, Any],
             startup: float) -> pd.DataFrame:
    """Per compute job of the large config (``compute_jobs``): estimated seconds (columns job,
    stage, seconds), from the cost table's jobs (columns name, seconds) of a run of ``default``.
    Every compute job of ``default`` must be in the table."""
    seconds = dict(zip(jobs["name"], jobs["seconds"].astype(float), strict=True))
    missing = [job for job, _ in compute_jobs(default) if job not in seconds]
    if missing:
        raise ValueError(f"the cost table lacks {len(missing)} job(s) of the default config "
                         f"(a partial run, or another config?): {', '.join(missing)}")
    seconds = {**seconds, **unpacked(seconds, default, startup)}
    scaled = {**hopfield_estimates(seconds, default, large, startup),
              **icl_estimates(seconds, default, large, startup),
              **attention_regression_estimates(seconds, default, large, startup)}
    scaled = {**scaled, **packed(scaled, large, startup)}

    def ratio(section: str) -> float:
        return len(large[section]["seeds"]) / len(default[section]["seeds"])

    factor = {"training": ratio("training"), "training_sweep": ratio("training"),
              "shift": ratio("shift")}
    rows = []
    for job, stage in compute_jobs(large):
        if job in scaled:
            rows.append((job, stage, scaled[job]))
        else:  # a stage's own job or a notebook: the default's, times its seeds' ratio
            rows.append((job, stage, seconds[job] * factor.get(job, 1.0)))
    return pd.DataFrame(rows, columns=["job", "stage", "seconds"])


def read_config(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", type=Path, help="results/<version> of a default-config run")
    parser.add_argument("--large", type=Path, default=REPO / "config" / "large.yaml",
                        help="the large configfile, merged over config/config.yaml")
    parser.add_argument("--default-config", type=Path, default=None,
                        help="the whole config the default run ran (default: its "
                             "config.resolved.yaml, else config/config.yaml)")
    parser.add_argument("--startup", type=float, default=3.0,
                        help="seconds of a job's start-up (imports), not scaled")
    args = parser.parse_args(argv)
    table = pd.read_csv(args.version / "cost" / "cost.csv")
    jobs = table[table["level"] == "job"]
    resolved = args.version / "config.resolved.yaml"
    default_file = args.default_config or (
        resolved if resolved.exists() else REPO / "config" / "config.yaml")
    default = read_config(default_file)
    large = merged(read_config(REPO / "config" / "config.yaml"), read_config(args.large))
    result = estimate(jobs, default, large, args.startup)

    hours = result["seconds"].sum() / 3600
    print(f"default run {args.version.name} (its config: {default_file}): {len(jobs)} jobs, "
          f"{jobs['seconds'].sum() / 3600:.3f} core-hours")
    parts = result[result["job"] != result["stage"]].groupby("stage").size()
    print(f"{args.large.name}: {len(result)} compute jobs ("
          + ", ".join(f"{stage} {n} parts" for stage, n in parts.items())
          + f"; {len(result) - parts.sum()} others), estimated {hours:.1f} CPU core-hours "
          "(one core per job)")
    longest = result.loc[result["seconds"].idxmax()]
    print(f"longest job: {longest['job']} ~{longest['seconds'] / 60:.0f} min "
          f"({longest['seconds'] / 3600:.1f} h)")
    print("top 8 jobs (seconds):")
    top = result.sort_values("seconds", ascending=False).head(8)
    print(top.to_string(index=False, float_format=lambda x: f"{x:.0f}"))
    print("per stage (CPU core-hours):")
    measured = jobs.groupby("stage")["seconds"].agg(["size", "sum"])
    stage_hours = result.groupby("stage", sort=False)["seconds"].agg(["size", "sum"])
    per_stage = pd.DataFrame({
        "jobs": stage_hours["size"],
        "default_h": measured["sum"].reindex(stage_hours.index) / 3600,
        "large_h": stage_hours["sum"] / 3600,
    }).sort_values("large_h", ascending=False)
    print(per_stage.to_string(float_format=lambda x: f"{x:.3f}"))
    gpu = [s for s in ("hopfield", "icl", "attention_regression")
           if large[s].get("device") == "cuda"]
    if gpu:
        print(f"device: cuda in {', '.join(gpu)}: their part jobs ask for a GPU and take a "
              "fraction of these CPU seconds there (not measured here: CPU only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
