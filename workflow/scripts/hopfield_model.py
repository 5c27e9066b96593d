"""Capacity of one Hopfield model (Section 4): one row per (N, seed)."""

from ols_transformer.experiments import capacity
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "hopfield") as run:
    table = capacity.run_model(run.cfg, smk.wildcards.model)
    write_table(table, smk.output.table)
