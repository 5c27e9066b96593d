"""One part job of the icl stage (a group of Lambdas' stacks, the designs or the sensitivity
grid; experiments/icl.py ``run_part``): its tables, which the gather (icl.py) puts together."""

from pathlib import Path

from ols_transformer.experiments import icl
from ols_transformer.io import write_table
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, f"icl_{smk.wildcards.part}") as run:
    for name, table in icl.run_part(run.cfg, smk.params.part["part"]).items():
        write_table(table, Path(smk.output.parts) / f"{name}.csv")
