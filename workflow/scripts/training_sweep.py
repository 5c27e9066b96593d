"""Sensitivity of Figure 1: the grid of parameterisations, learning rates, w0, input scales, n
and seeds; the heat maps, and the alignment region in (lr/w*, w0/w*)."""

import logging

from ols_transformer.checks import frame
from ols_transformer.checks.training import (
    FORMS,
    alignment_region,
    region_points,
    sweep_checks,
)
from ols_transformer.experiments import training
from ols_transformer.io import write_table
from ols_transformer.plots.common import save_figure
from ols_transformer.plots.training import plot_alignment_region, plot_sensitivity
from ols_transformer.stage import StageRun

smk = snakemake  # noqa: F821  (injected by Snakemake)
with StageRun(smk, "training_sweep") as run:
    cfg = run.cfg
    table = training.sweep(cfg)
    for row in frame(sweep_checks(table, cfg["criteria"])).itertuples():
        logging.getLogger("ols_transformer").info("%s: %.4g (%s; %s)", row.check, row.value,
                                                  row.holds_where, row.detail)
    write_table(table, smk.output.table)
    save_figure(plot_sensitivity(table, cfg), smk.output.figure_pdf, smk.output.figure_png)
    limit = float(cfg["criteria"]["alignment_epochs"])
    forms = set(table["parameterisation"])
    regions = {f: alignment_region(table, limit, f) for f in FORMS if f in forms}
    save_figure(plot_alignment_region(region_points(table, limit), regions,
                                      training.paper_points(cfg, table)),
                smk.output.region_pdf, smk.output.region_png)
