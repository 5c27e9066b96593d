"""One part job of the Hopfield capacity study: one run, or its heavy N (config.hopfield_jobs);
the per-seed rows, which the gather (workflow/scripts/hopfield.py) puts together."""

import logging

from ols_transformer.experiments import capacity
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, smk.rule) as run:
    log = logging.getLogger("ols_transformer")
    table = capacity.run_part(run.cfg, smk.params.run, smk.params.N, smk.params.seeds,
                              progress=log.info)
    log.info("%s: mean capacity by N %s", smk.params.run,
             table.groupby("N")["capacity"].mean().round(1).to_dict())
    write_table(table, smk.output.table)
