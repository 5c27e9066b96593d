"""Sensitivity of Figure 1: the grid of parameterisations, learning rates, w0, n and seeds."""

import logging

from ols_transformer.checks import frame
from ols_transformer.checks.training import sweep_checks
from ols_transformer.experiments import training
from ols_transformer.io import save_figure, write_table
from ols_transformer.plots.training import plot_sensitivity
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "training") as run:
    table = training.sweep(run.cfg)
    for row in frame(sweep_checks(table, run.cfg["criteria"])).itertuples():
        logging.getLogger("ols_transformer").info("%s: %.4g (%s)", row.check, row.value,
                                                  row.detail)
    write_table(table, smk.output.table)
    save_figure(plot_sensitivity(table, run.cfg), smk.output.figure_pdf, smk.output.figure_png)
