"""Core-hours of config/large.yaml, estimated from a default run's cost table.

    python benchmarks/large_estimate.py results/<default version>
    python benchmarks/large_estimate.py results/<default version> --large config/large.yaml

Reads the job seconds of a run of the default config (``results/<version>/cost/cost.csv``) and
scales each job to the large config's sizes:
- a Hopfield part job (config.hopfield_jobs): its run's seconds, less a job's start-up
  (``--startup``, importing torch and the package), times sum(N^k) over the large grid over the
  same sum over the default grid, times the ratio of seeds; k = 1 + the capacity exponent of
  the model (a retrieval costs ~ N x M multiply-adds, M ~ capacity ~ N^exponent; linear
  memories k = 2, poly3 k = 3, poly4 k = 4, as measured between the default grid's two largest
  N); exponential and softmax runs keep their grids; then one start-up per large part job;
- icl jobs: times the ratio of seeds, of sum(N) and of d^2 (the models' matmuls);
- training, training_sweep and shift jobs: times the ratio of their seeds;
- the rest (notebooks, gathers, claims): as measured.
A run name the default config does not have is estimated from the default run of its model.
Prints the estimated CPU core-hours (one core per job, as the rules ask) and the longest job;
on GPUs (``device: cuda``) the Hopfield and icl parts take a fraction of that.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ols_transformer.config import HopfieldPart, hopfield_jobs
from ols_transformer.hopfield_theory import spec

REPO = Path(__file__).resolve().parents[1]


def merged(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``update`` merged into a copy of ``base`` key by key, as Snakemake merges configfiles."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def grid_work(model: str, grid: list[int]) -> float:
    """sum over N of N^k, k = 1 + the capacity exponent (exponential growth: grids unchanged,
    so any k gives the ratio 1 when the grid is the same; 2 is used)."""
    exponent = spec(model).exponent
    k = 1.0 + (exponent if math.isfinite(exponent) else 1.0)
    return float(sum(float(N) ** k for N in grid))


def part_work(hopfield: dict[str, Any], part: HopfieldPart) -> float:
    """A part job's work in the unit of ``grid_work``: its N, times the seeds it computes."""
    seeds = len(part.seeds) if part.seeds is not None else len(hopfield["seeds"])
    return grid_work(hopfield["runs"][part.run]["model"], list(part.N)) * seeds


def estimate(jobs: pd.DataFrame, default: dict[str, Any], large: dict[str, Any],
             startup: float) -> pd.DataFrame:
    """Per job of the large config: estimated seconds (columns job, stage, seconds)."""
    seconds = dict(zip(jobs["name"], jobs["seconds"].astype(float), strict=True))
    rows = []
    # Hopfield: each default run's compute (its part jobs less their start-up), scaled per run.
    # A job holding several runs (a shared `job`) is split among them by their grid's work.
    run_seconds = {name: 0.0 for name in default["hopfield"]["runs"]}
    default_jobs = set()
    for job, parts in hopfield_jobs(default["hopfield"]).items():
        if job not in seconds:
            continue
        default_jobs.add(job)
        work = [part_work(default["hopfield"], part) for part in parts]
        for part, share in zip(parts, work, strict=True):
            run_seconds[part.run] += max(seconds[job] - startup, 0.0) * share / sum(work)
    seeds = len(large["hopfield"]["seeds"]) / len(default["hopfield"]["seeds"])
    by_model = {run["model"]: name for name, run in default["hopfield"]["runs"].items()}
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
        rows.append((job, job, estimate_seconds))
    icl = (len(large["icl"]["seeds"]) / len(default["icl"]["seeds"])
           * sum(large["icl"]["context_sizes"]) / sum(default["icl"]["context_sizes"])
           * (large["icl"]["d"] / default["icl"]["d"]) ** 2)
    for name, stage in zip(jobs["name"], jobs["stage"], strict=True):
        if name in default_jobs:
            continue
        factor = 1.0
        if name.startswith("icl_"):
            factor = icl
        elif stage in ("training", "training_sweep"):
            factor = len(large["training"]["seeds"]) / len(default["training"]["seeds"])
        elif stage == "shift":
            factor = len(large["shift"]["seeds"]) / len(default["shift"]["seeds"])
        rows.append((name, stage, seconds[name] * factor))
    return pd.DataFrame(rows, columns=["job", "stage", "seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", type=Path, help="results/<version> of a default-config run")
    parser.add_argument("--large", type=Path, default=REPO / "config" / "large.yaml")
    parser.add_argument("--startup", type=float, default=3.0,
                        help="seconds of a job's start-up (imports), not scaled")
    args = parser.parse_args(argv)
    table = pd.read_csv(args.version / "cost" / "cost.csv")
    jobs = table[table["level"] == "job"]
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    large = merged(default, yaml.safe_load(args.large.read_text()))
    result = estimate(jobs, default, large, args.startup)
    longest = result.loc[result["seconds"].idxmax()]
    print(f"default run {args.version.name}: {len(jobs)} jobs, "
          f"{jobs['seconds'].sum() / 3600:.3f} core-hours")
    print(f"{args.large.name}: {len(result)} jobs, estimated "
          f"{result['seconds'].sum() / 3600:.2f} CPU core-hours; longest job {longest['job']} "
          f"~{longest['seconds'] / 60:.0f} min")
    top = result.sort_values("seconds", ascending=False).head(8)
    print(top.to_string(index=False, float_format=lambda x: f"{x:.0f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
