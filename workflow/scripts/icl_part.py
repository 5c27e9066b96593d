"""One part job of the icl stage: its parts (config.icl_jobs: a group of Lambdas' stacks, the
designs, a normalised stack, a group of the sensitivity grid, or several small ones), each
computed by experiments/icl.py ``run_part``; their tables, rows in part order, which the gather
(icl.py) puts together."""

import logging
from pathlib import Path

from ols_transformer.experiments import concat_tables, icl
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, f"icl_{smk.wildcards.part}") as run:
    pieces = []
    for part in smk.params.part["parts"]:
        pieces.append(icl.run_part(run.cfg, part))
        logging.getLogger("ols_transformer").info("icl part %s: done", part)
    for name, table in concat_tables(pieces).items():
        write_table(table, Path(smk.output.parts) / f"{name}.csv")
