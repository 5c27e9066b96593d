"""The icl stage's jobs. With ``params.part`` set: one part (a group of Lambdas' stacks, the
designs or the sensitivity grid; experiments/icl.py ``run_part``) and its tables. Without: the
gather job, which concatenates the parts' tables (in part order, as ``icl.gather``) and writes the
stage's tables, checks and figures; it imports no torch."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer import checks
from ols_transformer.io import write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.shift import error_growth
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "icl") as run:
    if smk.params.part:
        from ols_transformer.experiments import icl

        for name, table in icl.run_part(run.cfg, smk.params.part).items():
            write_table(table, smk.output[name])
    else:
        from ols_transformer.checks import icl as icl_checks
        from ols_transformer.plots import icl as plots

        names = ("preconditioner", "risk", "shift", "training")
        tables = {f"icl_{name}": pd.concat([pd.read_csv(p) for p in smk.input.parts
                                            if Path(p).stem == f"icl_{name}"], ignore_index=True)
                  for name in names}
        tables["icl_sensitivity"] = pd.read_csv(smk.input.sensitivity)
        # what experiments.icl.gather adds (that module imports torch; this job does not)
        tables["icl_growth"] = error_growth(tables["icl_shift"])
        summary = checks.frame(icl_checks.checks(tables, run.cfg.get("criteria")))
        logging.getLogger("ols_transformer").info("icl: %s", checks.headline(summary))
        for name in names:
            write_table(tables[f"icl_{name}"], smk.output[name])
        write_table(summary, smk.output.summary)
        for name, figure in plots.figures(tables).items():
            save_figure(figure, smk.output[f"{name}_pdf"], smk.output[f"{name}_png"])
