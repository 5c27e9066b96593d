"""What a run cost: per job seconds and peak memory (from Snakemake's ``benchmark:`` files), per
stage totals, the critical path through the job DAG and the sum over it.

The sum of every job's seconds over the critical path (the longest chain of jobs, each waiting
for the one before) bounds what any number of cores or nodes can gain: with unlimited workers a
run still takes the critical path's seconds.

A reused stage (computed for another version) has no benchmark of this run; the benchmark kept
in its stage directory, of the job that computed it, counts as that job's cost, and the table
says so (``reused``). Light: pandas only, no torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["level", "name", "stage", "reused", "seconds", "max_rss_mb", "critical",
           "detail"]


@dataclass(frozen=True)
class Job:
    """One job of the DAG: its stage, its benchmark TSV, its stage's provenance record and the
    jobs it waits for."""

    name: str
    stage: str
    benchmark: str
    provenance: str
    after: tuple[str, ...] = ()


def read_benchmark(path: str | Path) -> tuple[float, float]:
    """(seconds, max RSS in MB) of a Snakemake benchmark TSV (the mean seconds and the largest
    RSS over its repeats; RSS NaN when Snakemake could not measure it, e.g. a job under 1 s)."""
    table = pd.read_csv(path, sep="\t", na_values=["-", "NA"])
    if table.empty or "s" not in table:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no 's' column or no rows)")
    rss = pd.to_numeric(table["max_rss"], errors="coerce") if "max_rss" in table else None
    max_rss = float(rss.max()) if rss is not None and rss.notna().any() else float("nan")
    return float(pd.to_numeric(table["s"]).mean()), max_rss


def critical_path(seconds: Mapping[str, float],
                  after: Mapping[str, Iterable[str]]) -> tuple[float, list[str]]:
    """The longest chain of jobs through the DAG: (its seconds, its jobs, first to last).

    ``after[job]``: the jobs ``job`` waits for (all must be in ``seconds``). Longest path by
    dynamic programming in topological order; a cycle or an unknown job is an error."""
    waits = {job: list(after.get(job, ())) for job in seconds}
    unknown = sorted({d for deps in waits.values() for d in deps} - set(seconds))
    if unknown:
        raise ValueError(f"jobs wait for unknown jobs: {unknown}")
    finish: dict[str, float] = {}
    previous: dict[str, str | None] = {}
    pending = dict(waits)
    while pending:
        ready = [job for job, deps in pending.items() if all(d in finish for d in deps)]
        if not ready:
            raise ValueError(f"the job dependencies have a cycle among {sorted(pending)}")
        for job in sorted(ready):
            deps = pending.pop(job)
            before = max(deps, key=lambda d: finish[d], default=None)
            finish[job] = seconds[job] + (finish[before] if before is not None else 0.0)
            previous[job] = before
    if not finish:
        return 0.0, []
    last: str | None = max(sorted(finish), key=lambda j: finish[j])
    chain = []
    while last is not None:
        chain.append(last)
        last = previous[last]
    return finish[chain[0]], chain[::-1]


def cost_table(jobs: pd.DataFrame, after: Mapping[str, Iterable[str]]) -> pd.DataFrame:
    """The cost table from one row per job (columns name, stage, reused, seconds, max_rss_mb).

    Rows (``level``): every job; every stage (seconds summed, peak RSS the largest, reused when
    all its jobs are); then ``total`` rows: ``sum`` (every job's seconds), ``critical path``
    (its seconds, its jobs in ``detail``) and ``sum / critical path`` (the ratio, in
    ``seconds``' column: the most any number of workers could gain). ``critical``: on the
    critical path."""
    _, chain = critical_path(dict(zip(jobs["name"], jobs["seconds"], strict=True)), after)
    on_path = set(chain)
    job_rows = jobs.assign(level="job", critical=jobs["name"].isin(on_path), detail="")
    stages = (job_rows.groupby("stage", sort=False)
              .agg(reused=("reused", "all"), seconds=("seconds", "sum"),
                   max_rss_mb=("max_rss_mb", "max"), critical=("critical", "any"))
              .reset_index())
    stage_rows = stages.assign(level="stage", name=stages["stage"], detail="")
    total = float(jobs["seconds"].sum())
    path_seconds = float(jobs.set_index("name").loc[chain, "seconds"].sum()) if chain else 0.0
    totals = pd.DataFrame([
        dict(level="total", name="sum", stage="", reused=bool(jobs["reused"].all()),
             seconds=total, max_rss_mb=float(jobs["max_rss_mb"].max()), critical=False,
             detail=f"{len(jobs)} jobs"),
        dict(level="total", name="critical path", stage="", reused=False,
             seconds=path_seconds, max_rss_mb=np.nan, critical=True, detail=" > ".join(chain)),
        dict(level="total", name="sum / critical path", stage="", reused=False,
             seconds=total / path_seconds if path_seconds > 0 else np.nan, max_rss_mb=np.nan,
             critical=False, detail="ratio: the most any number of workers could gain"),
    ])
    return pd.concat([job_rows[COLUMNS], stage_rows[COLUMNS], totals[COLUMNS]],
                     ignore_index=True)


def measured(jobs: Iterable[Job], version: str) -> pd.DataFrame:
    """One row per job: its benchmark's seconds and peak RSS, and whether its stage was reused
    (its provenance record names another version than ``version``)."""
    rows = []
    for job in jobs:
        seconds, rss = read_benchmark(job.benchmark)
        computed_for = json.loads(Path(job.provenance).read_text()).get("version", "")
        rows.append(dict(name=job.name, stage=job.stage, reused=computed_for != version,
                         seconds=seconds, max_rss_mb=rss))
    return pd.DataFrame(rows, columns=["name", "stage", "reused", "seconds", "max_rss_mb"])


def run_cost(jobs: Iterable[Job], version: str) -> pd.DataFrame:
    """The cost table of a run's jobs (see ``cost_table``)."""
    jobs = list(jobs)
    return cost_table(measured(jobs, version), {job.name: job.after for job in jobs})


def format_cost(table: pd.DataFrame) -> str:
    """The cost table as plain text: jobs, stages, totals."""
    lines = []
    listed = table[table["level"].isin(["job", "stage"])]
    name_width = max([28, *(len(str(name)) for name in listed["name"])])  # the longest name
    for level, title in (("job", "jobs"), ("stage", "stages")):
        part = table[table["level"] == level]
        lines.append(f"{title}:")
        for row in part.itertuples(index=False):
            rss = "" if pd.isna(row.max_rss_mb) else f"{row.max_rss_mb:9.0f} MB"
            lines.append(f"  {row.name:<{name_width}} {row.seconds:9.2f} s {rss:>12}"
                         f"{'  reused' if row.reused else ''}{'  *' if row.critical else ''}")
    totals = table[table["level"] == "total"].set_index("name")
    lines.append(f"sum of job seconds: {totals.loc['sum', 'seconds']:.1f} s "
                 f"({totals.loc['sum', 'detail']})")
    lines.append(f"critical path (*): {totals.loc['critical path', 'seconds']:.1f} s: "
                 f"{totals.loc['critical path', 'detail']}")
    lines.append(f"sum / critical path: {totals.loc['sum / critical path', 'seconds']:.2f} "
                 "(the most any number of cores or nodes could gain)")
    return "\n".join(lines) + "\n"


def print_cost(version: Path) -> int:
    """``ols-transformer cost VERSION``: print ``<version>/cost/cost.csv``."""
    from .io import read_table

    table_file = Path(version) / "cost" / "cost.csv"
    if not table_file.is_file():
        raise SystemExit(f"error: {table_file} is missing: the workflow's `cost` rule writes it "
                         "at the end of a run (`snakemake` with the default target)")
    print(format_cost(read_table(table_file)), end="")
    return 0
