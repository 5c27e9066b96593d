"""One part job of the attention_regression stage (the algebra, or one (design, N, SNR)
condition; experiments/attention_regression.py ``run_part``): its tables, which the gather
(attention_regression.py) puts together."""

from pathlib import Path

from ols_transformer.experiments import attention_regression
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, f"attention_regression_{smk.wildcards.part}") as run:
    for name, table in attention_regression.run_part(run.cfg, smk.params.part["part"]).items():
        write_table(table, Path(smk.output.parts) / f"{name}.csv")
