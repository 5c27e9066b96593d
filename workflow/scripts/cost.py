"""The run's cost table from every job's benchmark file (src/ols_transformer/cost.py)."""

from ols_transformer.cost import Job, format_cost, run_cost
from ols_transformer.io import write_table, write_text

smk = snakemake  # noqa: F821  (injected by Snakemake)
table = run_cost([Job(**{**job, "after": tuple(job["after"])}) for job in smk.params.jobs],
                 smk.params.version)
write_table(table, smk.output.table)
write_text(format_cost(table), smk.log[0])
