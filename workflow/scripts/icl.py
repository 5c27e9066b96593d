"""The icl stage's gather: the parts' tables (icl_part.py) concatenated in part order, as
``experiments.icl.gather``; the stage's tables, checks and figures. It imports no torch."""

import logging
from pathlib import Path

import pandas as pd

from ols_transformer import checks
from ols_transformer.checks import icl as icl_checks
from ols_transformer.io import write_table
from ols_transformer.plots import icl as plots
from ols_transformer.plots.common import save_figure
from ols_transformer.shift import error_growth
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "icl") as run:
    names = ("preconditioner", "risk", "shift", "training", "sensitivity", "convergence")
    tables = {f"icl_{name}": pd.concat([pd.read_csv(path) for part in smk.input.parts
                                        if (path := Path(part) / f"icl_{name}.csv").is_file()],
                                       ignore_index=True)
              for name in names}
    # what experiments.icl.gather adds (that module imports torch; this job does not)
    tables["icl_growth"] = error_growth(tables["icl_shift"])
    summary = checks.frame(icl_checks.checks(tables, run.cfg.get("criteria")))
    logging.getLogger("ols_transformer").info("icl: %s", checks.headline(summary))
    for name in (*names, "growth"):
        write_table(tables[f"icl_{name}"], smk.output[name])
    write_table(summary, smk.output.summary)
    for name, figure in plots.figures(tables).items():
        save_figure(figure, smk.output[f"{name}_pdf"], smk.output[f"{name}_png"])
