"""One part job of the attention_regression stage: its parts (config.attention_regression_jobs:
the algebra, a (design, N, SNR) condition, or several small ones), each computed by
experiments/attention_regression.py ``run_part``; their tables, rows in part order, which the
gather (attention_regression.py) puts together."""

import logging
from pathlib import Path

from ols_transformer.experiments import attention_regression, concat_tables
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, f"attention_regression_{smk.wildcards.part}") as run:
    log = logging.getLogger("ols_transformer")
    pieces = []
    for part in smk.params.part["parts"]:  # fit times go to this log, never into the tables
        pieces.append(attention_regression.run_part(run.cfg, part, progress=log.info))
        log.info("attention_regression part %s: done", part)
    for name, table in concat_tables(pieces).items():
        write_table(table, Path(smk.output.parts) / f"{name}.csv")
