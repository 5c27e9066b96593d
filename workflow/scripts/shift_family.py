"""One shift family of the covariance-shift sweep (Section 3): one row per magnitude, m, seed."""

from ols_transformer.experiments import shift
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "shift") as run:
    table = shift.run_family(run.cfg, smk.wildcards.family)
    write_table(table, smk.output.table)
