"""One part job of the Hopfield capacity study: one run, or its heavy N, or several light runs
that share the job (config.hopfield_jobs); the per-seed rows, which the gather
(workflow/scripts/hopfield.py) puts together."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer.experiments import hopfield
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, f"hopfield_{smk.wildcards.part}") as run:
    log = logging.getLogger("ols_transformer")
    tables = []
    for part in smk.params.part["parts"]:
        tables.append(hopfield.run_part(run.cfg, part["run"], part["N"], part["seeds"],
                                        progress=log.info))
        log.info("%s: mean capacity by N %s", part["run"],
                 tables[-1].groupby("N")["capacity"].mean().round(1).to_dict())
    write_table(pd.concat(tables, ignore_index=True), Path(smk.output.parts) / "hopfield.csv")
